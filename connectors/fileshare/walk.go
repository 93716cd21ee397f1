package fileshare

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/labelgate/labelgate/connectors"
)

// Walk implements connectors.Connector. Files come in filepath.WalkDir's lexical order, so
// the cursor handed with each file — its path relative to the root — resumes the walk right
// after it: a resumed walk skips every file at or before the cursor in that order, and whole
// folders that lie before it. Symbolic links are followed to files inside the root only;
// links to folders are not followed (they would loop or report files twice).
func (c *Conn) Walk(ctx context.Context, drive string, cursor string, fn func(f connectors.File, cursor string) error) error {
	r, err := c.root("fileshare walk", drive)
	if err != nil {
		return err
	}
	return c.walk(ctx, r, "", cursor, true, func(rel, p string, info fs.FileInfo) error {
		return fn(c.facts(r, rel, p, info), rel)
	})
}

// walk calls fn for every served regular file under the folder (or file) sub of r, after
// cursor, with its relative path, its link-resolved path and its information. cleanTemp
// removes temporary files that crashed uploads left behind.
func (c *Conn) walk(ctx context.Context, r *root, sub, cursor string, cleanTemp bool,
	fn func(rel, p string, info fs.FileInfo) error) error {
	start := r.real
	if sub != "" {
		if !c.folderInScope(sub) {
			return nil
		}
		start = filepath.Join(r.real, filepath.FromSlash(sub))
	}
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		rel, rerr := filepath.Rel(r.real, p)
		if rerr != nil {
			return rerr
		}
		rel = filepath.ToSlash(rel)
		if err != nil {
			if p == start {
				if sub != "" && errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return classify("fileshare walk", err)
			}
			c.skip(rel, err)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if rel == "." {
			return nil
		}
		name := d.Name()
		if d.IsDir() {
			if match(c.cfg.Exclude, rel) || cursor != "" && walkCmp(rel, cursor) < 0 && !strings.HasPrefix(cursor, rel+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if isTemp(name) {
			if cleanTemp {
				c.removeStaleTemp(p)
			}
			return nil
		}
		if cursor != "" && walkCmp(rel, cursor) <= 0 || !c.wantFile(rel) {
			return nil
		}
		real := p
		var info fs.FileInfo
		if d.Type()&fs.ModeSymlink != 0 {
			t, err := filepath.EvalSymlinks(p)
			if err != nil {
				c.skip(rel, err)
				return nil
			}
			if !within(r.real, t) {
				c.log.Debug("fileshare: skipped a link leaving the share", "path", rel, "target", t)
				return nil
			}
			real = t
			info, err = os.Stat(t)
			if err != nil {
				c.skip(rel, err)
				return nil
			}
		} else {
			if !d.Type().IsRegular() {
				return nil
			}
			info, err = d.Info()
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					c.skip(rel, err)
				}
				return nil
			}
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		return fn(rel, real, info)
	})
	return err
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

// removeStaleTemp deletes a temporary file left by an upload that never reached its rename,
// unless an upload of this process is still writing it or it is young enough to belong to
// another process's upload in flight.
func (c *Conn) removeStaleTemp(p string) {
	c.mu.Lock()
	_, busy := c.flight[p]
	c.mu.Unlock()
	if busy {
		return
	}
	info, err := os.Lstat(p)
	if err != nil || c.now().Sub(info.ModTime()) < c.cfg.TempGrace {
		return
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log.Warn("fileshare: cannot remove a leftover temporary file", "path", p, "err", err)
		return
	}
	c.log.Info("fileshare: removed a temporary file left by an interrupted label write", "path", p)
}
