package box

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/labelgate/labelgate/connectors"
)

// EventStream selects which Box event stream a connector reads (GET /events stream_type).
type EventStream string

// Event streams. "changes" is the authenticated user's own stream: with Client Credentials
// that is the service account, so it covers exactly what the service account can see (its
// All Files, i.e. the roots). "admin_logs_streaming" is the whole enterprise's stream; it needs
// the service account to be an admin (or a co-admin allowed to run reports) and the app the
// "Manage enterprise properties" scope (box-openapi.json, GET /events description).
const (
	StreamChanges            EventStream = "changes"
	StreamAdminLogsStreaming EventStream = "admin_logs_streaming"
)

// Event retention per stream, from Box's stream-type table
// (https://developer.box.com/guides/events/parameters/stream-types): changes 21 days,
// admin_logs_streaming 14 days. Box documents no error for a stream_position older than that
// (it just has no events to give), so the connector decides from the cursor's age: a cursor
// within a day of the retention is treated as expired and the drive is resynced.
var streamRetention = map[EventStream]time.Duration{
	StreamChanges:            21 * 24 * time.Hour,
	StreamAdminLogsStreaming: 14 * 24 * time.Hour,
}

// cursorMargin is how long before Box's retention ends a cursor is given up.
const cursorMargin = 24 * time.Hour

// The change cursor is "s1.<stream>.<unix seconds>.<stream_position>": the event stream it
// belongs to, when the position was read, and Box's position as Box returned it. A bare
// position (the format before the stream and age were recorded) is taken as a fresh
// "changes" position.
type cursor struct {
	stream   EventStream
	at       time.Time
	position string
}

func (k cursor) String() string {
	return fmt.Sprintf("s1.%s.%d.%s", k.stream, k.at.Unix(), k.position)
}

func parseCursor(s string, now time.Time) (cursor, error) {
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return cursor{stream: StreamChanges, at: now, position: s}, nil
	}
	parts := strings.SplitN(s, ".", 4)
	if len(parts) != 4 || parts[0] != "s1" || parts[3] == "" {
		return cursor{}, fmt.Errorf("box: not a change cursor: %q", s)
	}
	secs, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return cursor{}, fmt.Errorf("box: change cursor time: %w", err)
	}
	return cursor{stream: EventStream(parts[1]), at: time.Unix(secs, 0), position: parts[3]}, nil
}

// eventsPageSize is the events page size; Box allows up to 500.
const eventsPageSize = 500

// fileEvents are the event types that change what labelgate knows about a file; the rest
// (previews, downloads, comments, locks…) are ignored. User-stream names (changes) and
// enterprise-stream names (admin_logs_streaming) are both listed; the Event schema's
// event_type enum in box-openapi.json has both sets.
var fileEvents = map[string]bool{
	// changes
	"ITEM_UPLOAD": true, "ITEM_CREATE": true, "ITEM_MOVE": true, "ITEM_COPY": true, "ITEM_RENAME": true,
	"ITEM_UNDELETE_VIA_TRASH": true, "ITEM_TRASH": true, "ITEM_MAKE_CURRENT_VERSION": true, "ITEM_MODIFY": true,
	"ITEM_SHARED": true, "ITEM_SHARED_CREATE": true, "ITEM_SHARED_UPDATE": true, "ITEM_SHARED_UNSHARE": true, "ITEM_UNSHARED": true,
	"COLLAB_ADD_COLLABORATOR": true, "COLLAB_INVITE_COLLABORATOR": true, "COLLAB_REMOVE_COLLABORATOR": true, "COLLAB_ROLE_CHANGE": true,
	"METADATA_INSTANCE_CREATE": true, "METADATA_INSTANCE_UPDATE": true, "METADATA_INSTANCE_DELETE": true,
	// admin_logs_streaming
	"UPLOAD": true, "EDIT": true, "MOVE": true, "COPY": true, "RENAME": true, "DELETE": true, "UNDELETE": true,
	"FILE_VERSION_RESTORE": true, "SHARE": true, "UNSHARE": true, "SHARE_EXPIRATION": true, "UPDATE_SHARE_EXPIRATION": true,
	"COLLABORATION_INVITE": true, "COLLABORATION_ACCEPT": true, "COLLABORATION_REMOVE": true, "COLLABORATION_ROLE_CHANGE": true,
	"COLLABORATION_EXPIRATION": true, "CHANGE_FOLDER_PERMISSION": true,
}

// trashEvents move an item to the trash.
var trashEvents = map[string]bool{"ITEM_TRASH": true, "DELETE": true}

// sharingEvents change who can reach an item. On a folder they change every file below it.
var sharingEvents = map[string]bool{
	"ITEM_SHARED": true, "ITEM_SHARED_CREATE": true, "ITEM_SHARED_UPDATE": true, "ITEM_SHARED_UNSHARE": true, "ITEM_UNSHARED": true,
	"COLLAB_ADD_COLLABORATOR": true, "COLLAB_INVITE_COLLABORATOR": true, "COLLAB_REMOVE_COLLABORATOR": true, "COLLAB_ROLE_CHANGE": true,
	"SHARE": true, "UNSHARE": true, "SHARE_EXPIRATION": true, "UPDATE_SHARE_EXPIRATION": true,
	"COLLABORATION_INVITE": true, "COLLABORATION_ACCEPT": true, "COLLABORATION_REMOVE": true, "COLLABORATION_ROLE_CHANGE": true,
	"COLLABORATION_EXPIRATION": true, "CHANGE_FOLDER_PERMISSION": true,
}

// arrivalEvents bring a folder into a place (a new top-level folder needs its webhook).
var arrivalEvents = map[string]bool{
	"ITEM_CREATE": true, "ITEM_UPLOAD": true, "ITEM_MOVE": true, "ITEM_COPY": true, "ITEM_UNDELETE_VIA_TRASH": true,
	"UPLOAD": true, "MOVE": true, "COPY": true, "UNDELETE": true,
}

// FeedPollInterval tells the gateway to read the event stream on a timer as well as after
// notices: root-level files of "0" and top-level folders past the webhook limit have no
// webhook, and reading keeps the cursor younger than Box's retention.
func (c *Conn) FeedPollInterval() time.Duration { return c.cfg.EventPoll }

// Changes implements connectors.Connector. Each changed file is reported once per call with
// its current facts (a fresh GET, since event sources are snapshots that omit sharing),
// except trashed files, which are reported from the event as deleted. A sharing change on a
// folder reports every file below it. On "0", a folder arriving at the top level gets its
// webhook.
func (c *Conn) Changes(ctx context.Context, drive string, cur string, fn func(connectors.File) error) (string, error) {
	stream := c.cfg.EventStream
	started := c.now()
	if cur == "" {
		// "now" answers with the current end of the stream and no events.
		page, err := c.api.events(ctx, stream, "now", 1)
		if err != nil {
			return "", c.streamErr(stream, err)
		}
		return cursor{stream: stream, at: started, position: string(page.NextStreamPosition)}.String(), nil
	}
	k, err := parseCursor(cur, started)
	if err != nil {
		return "", fmt.Errorf("%w: %w", connectors.ErrCursorExpired, err)
	}
	if k.stream != stream {
		return "", fmt.Errorf("box: cursor of the %s stream, reading %s: %w", k.stream, stream, connectors.ErrCursorExpired)
	}
	if age := started.Sub(k.at); age > streamRetention[stream]-cursorMargin {
		return "", fmt.Errorf("box: stream position %s is %s old, past Box's %s retention: %w",
			k.position, age.Round(time.Hour), streamRetention[stream], connectors.ErrCursorExpired)
	}
	seen := map[string]bool{} // event ids: Box delivers some events more than once
	type change struct {
		item    wireItem
		trashed bool
	}
	var order, folders, newTop []string
	changed := map[string]change{}
	sharedFolders := map[string]bool{}
	pos := k.position
	for {
		page, err := c.api.events(ctx, stream, pos, eventsPageSize)
		if err != nil {
			return "", c.streamErr(stream, err)
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
			var src wireEventSource
			if err := json.Unmarshal(ev.Source, &src); err != nil {
				continue
			}
			it := src.item()
			if it.ID == "" {
				continue
			}
			trashed := trashEvents[ev.EventType]
			if it.Type == "folder" {
				if drive == RootFolder && !trashed && arrivalEvents[ev.EventType] && it.topLevel() {
					newTop = append(newTop, it.ID)
				}
				if sharingEvents[ev.EventType] && !trashed && !sharedFolders[it.ID] && (it.PathCollection == nil || inDrive(drive, it)) {
					sharedFolders[it.ID] = true
					folders = append(folders, it.ID)
				}
				continue // other folder events show up again as events of the files they touch
			}
			if it.Type != "file" {
				continue
			}
			// A trashed item's path_collection is the Trash, not where it was: its drive
			// cannot be told from the event, so it is reported as deleted in this drive (a
			// file the drive never had is ignored by the inventory). Enterprise events carry
			// only the parent, so their files are placed by the fresh GET below.
			if !trashed && it.PathCollection != nil && !inDrive(drive, it) {
				continue
			}
			if _, ok := changed[it.ID]; !ok {
				order = append(order, it.ID)
			}
			changed[it.ID] = change{item: it, trashed: trashed}
		}
		if page.NextStreamPosition != "" {
			pos = string(page.NextStreamPosition)
		}
		if page.ChunkSize == 0 || len(page.Entries) == 0 {
			break
		}
	}
	for _, id := range newTop {
		c.hookNewTopFolder(ctx, id)
	}
	ac := newAccessCache()
	reported := map[string]bool{}
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
			case !inDrive(drive, it):
				continue // moved out of the drive, or an enterprise event elsewhere
			default:
				if it.ItemStatus == "trashed" || it.ItemStatus == "deleted" {
					it.PathCollection = nil // the Trash is not a path in the drive
				}
				if f, err = c.toFile(ctx, drive, it, ac); err != nil {
					return "", err
				}
			}
		}
		reported[id] = true
		if err := fn(f); err != nil {
			return "", err
		}
	}
	for _, folder := range folders {
		// Enterprise events name only the parent: place the folder by its path first.
		fi, err := c.api.folder(ctx, folder, "type,id,name,path_collection")
		if connectors.KindOf(err) == connectors.KindNotFound {
			continue
		}
		if err != nil {
			return "", err
		}
		if !inDrive(drive, fi) {
			continue
		}
		err = c.walkFrom(ctx, drive, folder, "", func(f connectors.File, _ string) error {
			if reported[f.Ref.ItemID] {
				return nil
			}
			reported[f.Ref.ItemID] = true
			return fn(f)
		})
		if err != nil && connectors.KindOf(err) != connectors.KindNotFound {
			return "", err
		}
	}
	return cursor{stream: stream, at: started, position: pos}.String(), nil
}

// streamErr explains a refused enterprise stream: only an administrator can fix it.
func (c *Conn) streamErr(stream EventStream, err error) error {
	if stream == StreamAdminLogsStreaming && connectors.KindOf(err) == connectors.KindPermission {
		return connectors.Errorf(connectors.KindNotConfigured, "box events", 403, 0,
			fmt.Errorf("admin_logs_streaming needs the service account to be a Box admin (or co-admin with reports) and the app the Manage enterprise properties scope: %w", err))
	}
	return err
}

// errNoStream is returned for an unknown event stream in the configuration.
var errNoStream = errors.New("box: eventStream must be changes or admin_logs_streaming")
