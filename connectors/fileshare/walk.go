package fileshare

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/labelgate/labelgate/connectors"
)

// Walk implements connectors.Connector. Files come in lexical order, name by name (as
// filepath.WalkDir visits them), so the cursor handed with each file — its path relative to
// the root — resumes the walk right after it: a resumed walk skips every file at or before
// the cursor in that order, and whole folders that lie before it. Symbolic links to files are
// followed while they stay inside the root (relative links only; an absolute link or one
// leading out is refused and logged); links to folders are not followed (they would loop or
// report files twice). Every folder is listed through the root's descriptor, so a folder
// swapped for a link mid-walk is never listed.
func (c *Conn) Walk(ctx context.Context, drive string, cursor string, fn func(f connectors.File, cursor string) error) error {
	r, err := c.root("fileshare walk", drive)
	if err != nil {
		return err
	}
	return c.walk(ctx, r, "", cursor, true, func(rel string, info fs.FileInfo, born time.Time) error {
		return fn(c.facts(r, rel, info, born), rel)
	})
}

// walkFunc receives a served regular file: its path relative to the root, its information
// and its birth time (zero when unknown).
type walkFunc func(rel string, info fs.FileInfo, born time.Time) error

// walk calls fn for every served regular file under the folder (or file) sub of r, after
// cursor. cleanTemp removes temporary files that crashed uploads left behind.
func (c *Conn) walk(ctx context.Context, r *root, sub, cursor string, cleanTemp bool, fn walkFunc) error {
	const op = "fileshare walk"
	w := &treeWalk{c: c, r: r, ctx: ctx, cursor: cursor, cleanTemp: cleanTemp, fn: fn}
	if sub == "" {
		return w.dir(".", true)
	}
	if !c.folderInScope(sub) {
		return nil
	}
	info, err := r.fs.Lstat(sub)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	if err != nil {
		return c.classifyIn(r, op, sub, err)
	}
	if info.IsDir() {
		return w.dir(sub, true)
	}
	parent, err := r.fs.Open(path.Dir(sub))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return c.classifyIn(r, op, sub, err)
	}
	born, _ := birthTimeAt(parent, path.Base(sub))
	parent.Close()
	return w.file(sub, fs.FileInfoToDirEntry(info), born)
}

// treeWalk is one walk through a root.
type treeWalk struct {
	c         *Conn
	r         *root
	ctx       context.Context
	cursor    string
	cleanTemp bool
	fn        walkFunc
}

// dir lists the folder rel ("." for the root) through the root and visits its entries in
// name order; the folder is closed before descending so open descriptors stay few.
func (w *treeWalk) dir(rel string, top bool) error {
	const op = "fileshare walk"
	if err := w.ctx.Err(); err != nil {
		return err
	}
	d, err := w.r.fs.Open(rel)
	if err != nil {
		if top {
			return w.c.classifyIn(w.r, op, rel, err)
		}
		w.unreadable(rel, err)
		return nil
	}
	ents, err := d.ReadDir(-1)
	if err != nil {
		d.Close()
		if top {
			return w.c.classifyIn(w.r, op, rel, err)
		}
		w.unreadable(rel, err)
		return nil
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	born := make([]time.Time, len(ents))
	for i, e := range ents {
		if e.Type().IsRegular() {
			born[i], _ = birthTimeAt(d, e.Name())
		}
	}
	d.Close()
	for i, e := range ents {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		child := e.Name()
		if rel != "." {
			child = rel + "/" + child
		}
		if e.IsDir() {
			if match(w.c.cfg.Exclude, child) || w.cursor != "" && walkCmp(child, w.cursor) < 0 && !strings.HasPrefix(w.cursor, child+"/") {
				continue
			}
			if err := w.dir(child, false); err != nil {
				return err
			}
			continue
		}
		if err := w.file(child, e, born[i]); err != nil {
			return err
		}
	}
	return nil
}

// unreadable reports an entry the walk cannot read; one that leads outside the share is a
// refusal (logged by classifyIn), the rest go to SkipError.
func (w *treeWalk) unreadable(rel string, err error) {
	if escapes(err) {
		_ = w.c.classifyIn(w.r, "fileshare walk", rel, err)
		return
	}
	if errors.Is(err, fs.ErrNotExist) {
		return // gone since it was listed
	}
	w.c.skip(rel, err)
}

// file visits one non-folder entry.
func (w *treeWalk) file(rel string, d fs.DirEntry, born time.Time) error {
	if isTemp(d.Name()) {
		if w.cleanTemp {
			w.c.removeStaleTemp(w.r, rel)
		}
		return nil
	}
	if w.cursor != "" && walkCmp(rel, w.cursor) <= 0 || !w.c.wantFile(rel) {
		return nil
	}
	var info fs.FileInfo
	var err error
	if d.Type()&fs.ModeSymlink != 0 {
		// Followed through the root: a link that is absolute or leads out fails here.
		info, err = w.r.fs.Stat(rel)
		if err != nil {
			if escapes(err) {
				_ = w.c.classifyIn(w.r, "fileshare walk", rel, err)
			} else {
				w.c.skip(rel, err)
			}
			return nil
		}
		born = time.Time{}
	} else {
		if !d.Type().IsRegular() {
			return nil
		}
		info, err = d.Info()
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				w.c.skip(rel, err)
			}
			return nil
		}
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	return w.fn(rel, info, born)
}

// folderInScope reports whether no folder from the root down to sub (included) is excluded.
func (c *Conn) folderInScope(sub string) bool {
	for d := sub; d != "." && d != "/" && d != ""; d = path.Dir(d) {
		if match(c.cfg.Exclude, d) {
			return false
		}
	}
	return true
}

// walkCmp orders slash-separated relative paths as filepath.WalkDir visits them: name by name,
// a folder before what it holds. (Plain string order differs: "a.txt" < "a/b" since '.' < '/',
// while the walk visits folder "a" first.)
func walkCmp(a, b string) int {
	for {
		ac, ar, amore := strings.Cut(a, "/")
		bc, br, bmore := strings.Cut(b, "/")
		if c := strings.Compare(ac, bc); c != 0 {
			return c
		}
		switch {
		case !amore && !bmore:
			return 0
		case !amore:
			return -1
		case !bmore:
			return 1
		}
		a, b = ar, br
	}
}

// removeStaleTemp deletes the temporary file rel left by an upload that never reached its
// rename, unless an upload of this process is still writing it or it is young enough to belong
// to another process's upload in flight.
func (c *Conn) removeStaleTemp(r *root, rel string) {
	key := r.id + ":" + rel
	c.mu.Lock()
	_, busy := c.flight[key]
	c.mu.Unlock()
	if busy {
		return
	}
	info, err := r.fs.Lstat(rel)
	if err != nil || c.now().Sub(info.ModTime()) < c.cfg.TempGrace {
		return
	}
	if err := r.fs.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log.Warn("fileshare: cannot remove a leftover temporary file", "drive", r.path, "path", rel, "err", err)
		return
	}
	c.log.Info("fileshare: removed a temporary file left by an interrupted label write", "drive", r.path, "path", rel)
}
