package box

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/labelgate/labelgate/connectors"
)

// The change cursor is Box's stream position of the "changes" event stream, stored as Box
// returned it. The stream covers everything the service account sees; Changes keeps the
// events whose source lies under the drive's root folder.

// eventsPageSize is the events page size; Box allows up to 500.
const eventsPageSize = 500

// fileEvents are the event types that change what labelgate knows about a file; the rest
// (previews, downloads, comments, locks…) are ignored. ITEM_TRASH marks the file deleted.
var fileEvents = map[string]bool{
	"ITEM_UPLOAD": true, "ITEM_CREATE": true, "ITEM_MOVE": true, "ITEM_COPY": true, "ITEM_RENAME": true,
	"ITEM_UNDELETE_VIA_TRASH": true, "ITEM_TRASH": true, "ITEM_MAKE_CURRENT_VERSION": true, "ITEM_MODIFY": true,
	"ITEM_SHARED": true, "ITEM_SHARED_CREATE": true, "ITEM_SHARED_UPDATE": true, "ITEM_SHARED_UNSHARE": true, "ITEM_UNSHARED": true,
	"COLLAB_ADD_COLLABORATOR": true, "COLLAB_INVITE_COLLABORATOR": true, "COLLAB_REMOVE_COLLABORATOR": true, "COLLAB_ROLE_CHANGE": true,
	"METADATA_INSTANCE_CREATE": true, "METADATA_INSTANCE_UPDATE": true, "METADATA_INSTANCE_DELETE": true,
}

// Changes implements connectors.Connector. Each changed file is reported once per call with
// its current facts (a fresh GET, since event sources are snapshots that omit sharing),
// except trashed files, which are reported from the event as deleted.
func (c *Conn) Changes(ctx context.Context, drive string, cursor string, fn func(connectors.File) error) (string, error) {
	if cursor == "" {
		// "now" answers with the current end of the stream and no events.
		page, err := c.api.events(ctx, "now", 1)
		if err != nil {
			return "", err
		}
		return string(page.NextStreamPosition), nil
	}
	seen := map[string]bool{} // event ids: Box delivers some events more than once
	type change struct {
		item    wireItem
		trashed bool
	}
	var order []string
	changed := map[string]change{}
	pos := cursor
	for {
		page, err := c.api.events(ctx, pos, eventsPageSize)
		if err != nil {
			if ae, ok := apiErr(err); ok && staleStream(ae) {
				return "", fmt.Errorf("box: stream position %s: %w: %w", pos, connectors.ErrCursorExpired, err)
			}
			return "", err
		}
		for _, ev := range page.Entries {
			if ev.EventID != "" {
				if seen[ev.EventID] {
					continue
				}
				seen[ev.EventID] = true
			}
			if !fileEvents[ev.EventType] || len(ev.Source) == 0 {
				continue
			}
			var it wireItem
			if err := json.Unmarshal(ev.Source, &it); err != nil || it.Type != "file" || it.ID == "" {
				continue // folder events show up again as events of the files they touch
			}
			if !inDrive(drive, it) {
				continue
			}
			if _, ok := changed[it.ID]; !ok {
				order = append(order, it.ID)
			}
			changed[it.ID] = change{item: it, trashed: ev.EventType == "ITEM_TRASH"}
		}
		if page.NextStreamPosition != "" {
			pos = string(page.NextStreamPosition)
		}
		if page.ChunkSize == 0 || len(page.Entries) == 0 {
			break
		}
	}
	ac := newAccessCache()
	for _, id := range order {
		ch := changed[id]
		var f connectors.File
		if ch.trashed {
			ch.item.ItemStatus = "trashed"
			f, _ = c.toFile(ctx, drive, ch.item, ac) // deleted files need no lookups
		} else {
			it, err := c.api.file(ctx, id, itemFields)
			switch {
			case connectors.KindOf(err) == connectors.KindNotFound:
				ch.item.ItemStatus = "deleted"
				f, _ = c.toFile(ctx, drive, ch.item, ac)
			case err != nil:
				return "", err
			default:
				if f, err = c.toFile(ctx, drive, it, ac); err != nil {
					return "", err
				}
			}
		}
		if err := fn(f); err != nil {
			return "", err
		}
	}
	return pos, nil
}

// staleStream reports whether Box refused a stream position as too old. Box documents no
// dedicated code; it answers 400 naming the stream position (the emulator's code is
// "invalid_stream_position"), so any 400 mentioning it counts.
func staleStream(ae *APIError) bool {
	if ae.Status != 400 {
		return false
	}
	s := strings.ToLower(ae.Code + " " + ae.Message)
	return strings.Contains(s, "stream_position") || strings.Contains(s, "stream position")
}
