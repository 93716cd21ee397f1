package fileshare

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labelgate/labelgate/connectors"
)

// entry is what a snapshot remembers of a file: enough to tell that it changed.
// Mode and owner are in it because they decide the access level and owner policies see.
type entry struct {
	Size     int64
	ModTime  int64 // Unix nanoseconds
	Ino      uint64
	Mode     uint32
	UID, GID uint32
}

func entryOf(info fs.FileInfo) entry {
	s, _ := sysFacts(info)
	return entry{Size: info.Size(), ModTime: info.ModTime().UnixNano(), Ino: s.ino, Mode: uint32(info.Mode()),
		UID: s.uid, GID: s.gid}
}

// snapshot maps the relative path of every served file of a drive to its entry.
type snapshot struct {
	Drive   string
	Entries map[string]entry
}

// keepSnapshots is how many snapshots per drive outlive a Changes call: the newest cursor,
// the one before it (in case storing the newest failed) and one spare.
const keepSnapshots = 3

// snapshotStore keeps the snapshots Changes cursors point at.
type snapshotStore interface {
	save(drive, token string, s *snapshot) error
	// load returns ok=false when the token is unknown.
	load(drive, token string) (*snapshot, bool, error)
	// prune drops all but the newest keep snapshots of a drive.
	prune(drive string, keep int) error
}

type memSnapshots struct {
	mu sync.Mutex
	m  map[string]map[string]*snapshot // drive → token → snapshot
}

func (m *memSnapshots) save(drive, token string, s *snapshot) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m[drive] == nil {
		m.m[drive] = map[string]*snapshot{}
	}
	m.m[drive][token] = s
	return nil
}

func (m *memSnapshots) load(drive, token string) (*snapshot, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.m[drive][token]
	return s, ok, nil
}

func (m *memSnapshots) prune(drive string, keep int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	tokens := slices.Sorted(func(yield func(string) bool) {
		for t := range m.m[drive] {
			if !yield(t) {
				return
			}
		}
	})
	for _, t := range tokens[:max(0, len(tokens)-keep)] {
		delete(m.m[drive], t)
	}
	return nil
}

// diskSnapshots keeps snapshots as gob files under dir/<drive>/<token>.snap, so cursors
// survive restarts.
type diskSnapshots struct{ dir string }

func (d *diskSnapshots) file(drive, token string) string {
	return filepath.Join(d.dir, drive, token+".snap")
}

func (d *diskSnapshots) save(drive, token string, s *snapshot) error {
	if err := os.MkdirAll(filepath.Join(d.dir, drive), 0o700); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(s); err != nil {
		return err
	}
	name := d.file(drive, token)
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}

func (d *diskSnapshots) load(drive, token string) (*snapshot, bool, error) {
	b, err := os.ReadFile(d.file(drive, token))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var s snapshot
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&s); err != nil {
		// A damaged snapshot is as good as none: the caller resyncs.
		return nil, false, nil
	}
	return &s, true, nil
}

func (d *diskSnapshots) prune(drive string, keep int) error {
	names, err := filepath.Glob(filepath.Join(d.dir, drive, "*.snap"))
	if err != nil {
		return err
	}
	slices.Sort(names)
	for _, n := range names[:max(0, len(names)-keep)] {
		if err := os.Remove(n); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// Changes implements connectors.Connector. A file share has no change log, so the feed is a
// comparison of snapshots: the cursor is an opaque token naming the snapshot (path → size,
// modification time, inode) taken when it was issued, kept in memory or under
// Config.StateDir. Changes takes a fresh snapshot, reports every file created or modified
// since (with its facts) and every file deleted (Deleted set; a rename is a delete and a
// create), stores the fresh snapshot and returns its token. With cursor "" it only takes the
// baseline. A token this connector no longer knows (memory state after a restart, pruned,
// another drive's) is ErrCursorExpired: walk the drive again. When fn fails, the old cursor
// is returned with the error, so the same changes are reported again next time.
func (c *Conn) Changes(ctx context.Context, drive string, cursor string, fn func(connectors.File) error) (string, error) {
	const op = "fileshare changes"
	r, err := c.root(op, drive)
	if err != nil {
		return cursor, err
	}
	var old *snapshot
	if cursor != "" {
		d, _, ok := parseToken(cursor)
		if !ok || d != drive {
			return cursor, fmt.Errorf("%s: cursor %q is not this drive's: %w", op, cursor, connectors.ErrCursorExpired)
		}
		s, found, err := c.snaps.load(drive, cursor)
		if err != nil {
			return cursor, classify(op, err)
		}
		if !found {
			return cursor, fmt.Errorf("%s: snapshot of cursor %q is gone: %w", op, cursor, connectors.ErrCursorExpired)
		}
		old = s
	}
	fresh, err := c.snapshot(ctx, r, "")
	if err != nil {
		return cursor, err
	}
	if old != nil {
		deleted, changed := diff(old.Entries, fresh)
		if err := c.report(ctx, r, deleted, changed, fn); err != nil {
			return cursor, err
		}
	}
	token := c.newToken(drive)
	if err := c.snaps.save(drive, token, &snapshot{Drive: drive, Entries: fresh}); err != nil {
		return cursor, classify(op, err)
	}
	if err := c.snaps.prune(drive, keepSnapshots); err != nil {
		c.log.Warn("fileshare: cannot prune old snapshots", "drive", drive, "err", err)
	}
	return token, nil
}

// snapshot records every served file under sub ("" = the whole drive).
func (c *Conn) snapshot(ctx context.Context, r *root, sub string) (map[string]entry, error) {
	m := map[string]entry{}
	err := c.walk(ctx, r, sub, "", false, func(rel string, info fs.FileInfo, _ time.Time) error {
		m[rel] = entryOf(info)
		return nil
	})
	return m, err
}

// diff returns the paths present in old only, and those new or different in fresh, in walk order.
func diff(old, fresh map[string]entry) (deleted, changed []string) {
	for p := range old {
		if _, ok := fresh[p]; !ok {
			deleted = append(deleted, p)
		}
	}
	for p, e := range fresh {
		if o, ok := old[p]; !ok || o != e {
			changed = append(changed, p)
		}
	}
	slices.SortFunc(deleted, walkCmp)
	slices.SortFunc(changed, walkCmp)
	return deleted, changed
}

// report hands deletions, then creations and modifications, to fn; a changed file that has
// vanished since the snapshot is left for the next comparison.
func (c *Conn) report(ctx context.Context, r *root, deleted, changed []string, fn func(connectors.File) error) error {
	for _, p := range deleted {
		if err := fn(c.deletedFile(r, p)); err != nil {
			return err
		}
	}
	for _, p := range changed {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := c.Stat(ctx, c.Ref(r.id, p))
		if connectors.KindOf(err) == connectors.KindNotFound {
			continue
		}
		if err != nil {
			c.skip(p, err)
			continue
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

func (c *Conn) deletedFile(r *root, rel string) connectors.File {
	dir, name := path.Split(rel)
	return connectors.File{Ref: c.Ref(r.id, rel), Path: "/" + strings.TrimSuffix(dir, "/"), Name: name, Deleted: true}
}

// newToken issues a cursor token; tokens of a drive sort in issue order.
func (c *Conn) newToken(drive string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := max(c.now().UnixNano(), c.lastToken+1)
	c.lastToken = n
	return fmt.Sprintf("fs1.%s.%016x", drive, n)
}

func parseToken(t string) (drive string, seq int64, ok bool) {
	rest, ok := strings.CutPrefix(t, "fs1.")
	if !ok {
		return "", 0, false
	}
	drive, hex, ok := strings.Cut(rest, ".")
	if !ok || len(hex) != 16 {
		return "", 0, false
	}
	n, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		return "", 0, false
	}
	return drive, int64(n), true
}
