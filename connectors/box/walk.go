package box

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/labelgate/labelgate/connectors"
)

// A walk is a depth-first traversal driven by a stack of frames. A frame means "list
// folder F from page marker M, skipping the first S entries of that page". Processing the
// top frame reads one page, emits its files, then replaces the frame by the next page (or
// drops it) and pushes the page's subfolders on top, so they are walked before the rest
// of their parent.
//
// Walk cursor format: "w1." + base64url(JSON array of frames, bottom first), each frame a
// JSON array [folderID, marker, skip]. The cursor handed out with a file is the stack as it
// stands right after that file: the current page's frame with skip = index+1, and above it
// the subfolders seen earlier on the same page. Resuming re-reads that one page and skips.

type frame struct {
	Folder string
	Marker string
	Skip   int
}

const walkCursorPrefix = "w1."

func encodeWalkCursor(stack []frame) string {
	raw := make([][3]any, len(stack))
	for i, f := range stack {
		raw[i] = [3]any{f.Folder, f.Marker, f.Skip}
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
		if len(a) != 3 || json.Unmarshal(a[0], &f.Folder) != nil || json.Unmarshal(a[1], &f.Marker) != nil ||
			json.Unmarshal(a[2], &f.Skip) != nil || f.Skip < 0 || f.Folder == "" {
			return nil, errors.New("box: walk cursor: bad frame")
		}
	}
	return out, nil
}

// Walk implements connectors.Connector.
func (c *Conn) Walk(ctx context.Context, drive string, cursor string, fn func(connectors.File, string) error) error {
	stack := []frame{{Folder: drive}}
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
			if connectors.KindOf(err) == connectors.KindNotFound && top.Folder != drive {
				// The folder went away since we saw it; the change feed reports its files.
				c.log.DebugContext(ctx, "box: folder vanished during walk", "folder", top.Folder)
				stack = below
				continue
			}
			return err
		}
		var subs []frame
		for i := top.Skip; i < len(page.Entries); i++ {
			it := page.Entries[i]
			if it.Type == "folder" {
				subs = append(subs, frame{Folder: it.ID})
				continue
			}
			if it.Type != "file" {
				continue // web links
			}
			f, err := c.toFile(ctx, drive, it, ac)
			if err != nil {
				return err
			}
			after := append(append(append([]frame{}, below...), frame{top.Folder, top.Marker, i + 1}), reversed(subs)...)
			if err := fn(f, encodeWalkCursor(after)); err != nil {
				return err
			}
		}
		stack = append([]frame{}, below...)
		if page.NextMarker != "" && len(page.Entries) > 0 {
			stack = append(stack, frame{Folder: top.Folder, Marker: page.NextMarker})
		}
		stack = append(stack, reversed(subs)...)
	}
	return nil
}

// reversed returns subfolders in stack order, so the first one seen is walked first.
func reversed(fs []frame) []frame {
	out := make([]frame, len(fs))
	for i, f := range fs {
		out[len(fs)-1-i] = f
	}
	return out
}
