package fileshare

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/labelgate/labelgate/connectors"
)

// Watch reports the changes of a drive to fn as they happen, until ctx ends (it then returns
// nil); this is how `labelgate serve` follows a file share without webhooks. It keeps a
// snapshot of the drive in memory and combines two sources:
//
//   - an fsnotify watch on every folder (folders created later are added as they appear), whose
//     notifications are gathered for Config.Coalesce and then checked against the snapshot, so
//     a save that raises several notifications is reported once and a notification that
//     changed nothing (a touch of an unchanged file, our own temporary files) not at all;
//   - a reconciliation every Config.ReconcileInterval, comparing a fresh snapshot with the one
//     kept, for what notifications miss: changes made through SMB or NFS by other machines,
//     queue overflows, folders beyond the inotify watch limit. With Config.PollOnly it is the
//     only source.
//
// fn receives created and modified files with their facts and deleted files with Deleted set;
// a rename is a delete and a create. Changes made before Watch starts are not reported: read
// them with Changes from a stored cursor.
func (c *Conn) Watch(ctx context.Context, drive string, fn func(connectors.File)) error {
	r, err := c.root("fileshare watch", drive)
	if err != nil {
		return err
	}
	w := &watcher{c: c, r: r, fn: fn}
	var events <-chan fsnotify.Event
	var errs <-chan error
	if !c.cfg.PollOnly {
		fw, err := fsnotify.NewWatcher()
		if err != nil {
			return classify("fileshare watch", err)
		}
		defer fw.Close()
		w.fw = fw
		// Watches go on before the snapshot is taken, so nothing changes unseen in between.
		w.addTree(ctx, ".")
		events, errs = fw.Events, fw.Errors
	}
	if w.snap, err = c.snapshot(ctx, r, ""); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	pending := map[string]struct{}{}
	settle := time.NewTimer(time.Hour)
	settle.Stop()
	defer settle.Stop()
	tick := time.NewTicker(c.cfg.ReconcileInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			rel, ok := w.rel(ev.Name)
			if !ok || isTemp(path.Base(rel)) {
				continue
			}
			if len(pending) == 0 {
				settle.Reset(c.cfg.Coalesce)
			}
			pending[rel] = struct{}{}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				c.log.Warn("fileshare: notifications overflowed, reconciling the drive", "drive", r.path)
				w.addTree(ctx, ".")
				w.reconcile(ctx)
				continue
			}
			c.log.Warn("fileshare: watcher error", "drive", r.path, "err", err)
		case <-settle.C:
			w.settle(ctx, pending)
			clear(pending)
		case <-tick.C:
			w.reconcile(ctx)
		}
	}
}

// watcher is the state of one Watch call; only its goroutine touches it.
type watcher struct {
	c       *Conn
	r       *root
	fn      func(connectors.File)
	fw      *fsnotify.Watcher
	snap    map[string]entry
	limited bool // the watch limit was hit once: said so in the log already
}

func (w *watcher) rel(p string) (string, bool) {
	rel, err := filepath.Rel(w.r.real, p)
	if err != nil || rel != "." && !filepath.IsLocal(rel) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// addTree watches the folder rel ("." = the root) and every served folder below it. The
// folders are listed through the root, so only real folders inside the share are found.
// fsnotify can only add a watch by path; a folder swapped for a link between the listing and
// the watch would watch the link's target, which yields names only: every name an event
// carries is looked at again through the root, never opened by its path. The check after
// adding drops such a watch at once.
func (w *watcher) addTree(ctx context.Context, rel string) {
	if w.fw == nil || ctx.Err() != nil {
		return
	}
	if rel != "." && !w.c.folderInScope(rel) {
		return
	}
	d, err := w.r.fs.Open(rel)
	if err != nil {
		return
	}
	info, err := d.Stat()
	if err != nil || !info.IsDir() {
		d.Close()
		return
	}
	ents, _ := d.ReadDir(-1)
	d.Close()
	abs := w.abs(rel)
	if err := w.fw.Add(abs); err != nil {
		if !w.limited {
			w.c.log.Warn("fileshare: cannot watch a folder; its changes wait for reconciliation", "dir", abs, "err", err)
			w.limited = true
		}
	} else if li, err := w.r.fs.Lstat(rel); rel != "." && (err != nil || !li.IsDir()) {
		_ = w.fw.Remove(abs)
		return
	}
	for _, e := range ents {
		if e.IsDir() {
			w.addTree(ctx, path.Join(rel, e.Name()))
		}
	}
}

// abs is the path fsnotify knows the folder rel by.
func (w *watcher) abs(rel string) string {
	if rel == "." {
		return w.r.real
	}
	return filepath.Join(w.r.real, filepath.FromSlash(rel))
}

// unwatch drops the watches of a folder that is gone (or renamed: inotify would go on naming
// its events by the old path).
func (w *watcher) unwatch(dir string) {
	if w.fw == nil {
		return
	}
	for _, p := range w.fw.WatchList() {
		if p == dir || strings.HasPrefix(p, dir+string(filepath.Separator)) {
			_ = w.fw.Remove(p)
		}
	}
}

// settle checks the paths notifications named against the snapshot and reports what changed.
func (w *watcher) settle(ctx context.Context, pending map[string]struct{}) {
	if _, all := pending["."]; all {
		w.reconcile(ctx)
		return
	}
	paths := slices.SortedFunc(func(yield func(string) bool) {
		for p := range pending {
			if !yield(p) {
				return
			}
		}
	}, walkCmp)
	fresh := map[string]entry{}
	dirs := map[string]bool{} // named paths that are not files now: whatever the snapshot had below them is re-checked
	for _, p := range paths {
		info, err := w.r.fs.Lstat(p)
		switch {
		case err != nil:
			dirs[p] = true
			w.unwatch(w.abs(p))
		case info.IsDir():
			dirs[p] = true
			w.addTree(ctx, p)
		case info.Mode()&fs.ModeSymlink != 0:
			// A folder may have been swapped for a link: its watches go.
			w.unwatch(w.abs(p))
		}
		sub, err := w.c.snapshot(ctx, w.r, p)
		if err != nil {
			if ctx.Err() == nil {
				w.c.skip(p, err)
			}
			continue
		}
		for k, e := range sub {
			fresh[k] = e
		}
	}
	old := map[string]entry{}
	for p := range pending {
		if e, ok := w.snap[p]; ok {
			old[p] = e
		}
	}
	if len(dirs) > 0 {
		for k, e := range w.snap {
			for d := path.Dir(k); d != "." && d != "/"; d = path.Dir(d) {
				if dirs[d] {
					old[k] = e
					break
				}
			}
		}
	}
	w.apply(ctx, old, fresh)
}

// reconcile compares a fresh snapshot of the whole drive with the one kept.
func (w *watcher) reconcile(ctx context.Context) {
	fresh, err := w.c.snapshot(ctx, w.r, "")
	if err != nil {
		if ctx.Err() == nil {
			w.c.log.Warn("fileshare: reconciliation failed", "drive", w.r.path, "err", err)
		}
		return
	}
	w.apply(ctx, w.snap, fresh)
}

// apply reports the differences between part of the kept snapshot and a fresh view of the same
// part, and folds them into the snapshot.
func (w *watcher) apply(ctx context.Context, old, fresh map[string]entry) {
	deleted, changed := diff(old, fresh)
	for _, p := range deleted {
		delete(w.snap, p)
	}
	for _, p := range changed {
		w.snap[p] = fresh[p]
	}
	_ = w.c.report(ctx, w.r, deleted, changed, func(f connectors.File) error {
		w.fn(f)
		return nil
	})
}
