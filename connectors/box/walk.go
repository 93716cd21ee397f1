package box

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/labelgate/labelgate/connectors"
)

// A walk is a depth-first traversal driven by a stack of frames. A frame means "list folder
// F from page marker M, skipping the first S entries of that page, and remember the
// subfolders P already seen among those S". Processing the top frame reads one page and
// emits its files; then the frame is replaced by the folder's next page (if any) with the
// page's subfolders pushed on top, so they are walked before the rest of their parent.
//
// Walk cursor format: "w1." + base64url(JSON array of frames, bottom first), each frame a
// JSON array [folderID, marker, skip, [pending subfolder ids]]. The cursor handed out with
// a file is the stack as it stands right after that file: the current page's frame with
// skip = index+1 and the subfolders seen so far on that page. Resuming re-reads that one
// page, so a resumed walk yields exactly the files an uninterrupted one would have.

type frame struct {
	Folder  string
	Marker  string
	Skip    int
	Pending []string
}

const walkCursorPrefix = "w1."

func encodeWalkCursor(stack []frame) string {
	raw := make([][4]any, len(stack))
	for i, f := range stack {
		p := f.Pending
		if p == nil {
			p = []string{}
		}
		raw[i] = [4]any{f.Folder, f.Marker, f.Skip, p}
	}
	b, _ := json.Marshal(raw) // strings and ints cannot fail to marshal
	return walkCursorPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func decodeWalkCursor(s string) ([]frame, error) {
	rest, ok := strings.CutPrefix(s, walkCursorPrefix)
	if !ok {
		return nil, fmt.Errorf("box: not a walk cursor: %q", s)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("box: walk cursor: %w", err)
	}
	var arr [][]json.RawMessage
	if err := json.Unmarshal(b, &arr); err != nil {
		return nil, fmt.Errorf("box: walk cursor: %w", err)
	}
	out := make([]frame, len(arr))
	for i, a := range arr {
		f := &out[i]
		if len(a) != 4 || json.Unmarshal(a[0], &f.Folder) != nil || json.Unmarshal(a[1], &f.Marker) != nil ||
			json.Unmarshal(a[2], &f.Skip) != nil || json.Unmarshal(a[3], &f.Pending) != nil || f.Skip < 0 || f.Folder == "" {
			return nil, errors.New("box: walk cursor: bad frame")
		}
	}
	return out, nil
}

// Walk implements connectors.Connector.
func (c *Conn) Walk(ctx context.Context, drive string, cursor string, fn func(connectors.File, string) error) error {
	return c.walkFrom(ctx, drive, drive, cursor, fn)
}

// walkFrom walks the folder tree below folder, reporting its files as files of drive.
func (c *Conn) walkFrom(ctx context.Context, drive, folder string, cursor string, fn func(connectors.File, string) error) error {
	stack := []frame{{Folder: folder}}
	if cursor != "" {
		var err error
		if stack, err = decodeWalkCursor(cursor); err != nil {
			return err
		}
	}
	ac := newAccessCache()
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		top := stack[len(stack)-1]
		below := stack[:len(stack)-1]
		page, err := c.api.folderItems(ctx, top.Folder, top.Marker, c.cfg.PageSize, itemFields)
		if err != nil {
			if connectors.KindOf(err) == connectors.KindNotFound && top.Folder != folder {
				// The folder went away since we saw it; the change feed reports its files.
				c.log.DebugContext(ctx, "box: folder vanished during walk", "folder", top.Folder)
				stack = below
				continue
			}
			return err
		}
		subs := slices.Clone(top.Pending)
		c.prefetchCollaborations(ctx, page.Entries, top.Skip, ac)
		for i := top.Skip; i < len(page.Entries); i++ {
			it := page.Entries[i]
			if it.Type == "folder" {
				subs = append(subs, it.ID)
				continue
			}
			if it.Type != "file" {
				continue // web links
			}
			f, err := c.toFile(ctx, drive, it, ac)
			if err != nil {
				return err
			}
			after := append(slices.Clone(below), frame{top.Folder, top.Marker, i + 1, subs})
			if err := fn(f, encodeWalkCursor(after)); err != nil {
				return err
			}
		}
		stack = slices.Clone(below)
		if page.NextMarker != "" && len(page.Entries) > 0 {
			stack = append(stack, frame{Folder: top.Folder, Marker: page.NextMarker})
		}
		// Pushed last-seen first, so the first subfolder seen is walked first.
		for _, id := range slices.Backward(subs) {
			stack = append(stack, frame{Folder: id})
		}
	}
	return nil
}
