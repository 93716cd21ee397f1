package fileshare

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"

	"github.com/labelgate/labelgate/connectors"
)

// Upload implements connectors.Uploader by replacing the file atomically: the new content
// goes to a temporary file (named with the ".labelgate-tmp-" prefix) in the same folder, is
// synced, takes the original's permissions (and owner, where allowed), then is renamed over
// the original and the folder is synced. A crash at any point leaves either the old or the
// new file in place, never a mix; a temporary file left behind is ignored by Walk and removed
// once older than Config.TempGrace. The modification time follows Config.PreserveModTime.
//
// The replacement is a new inode, so extended attributes and ACLs beyond the mode bits (SMB
// security descriptors seen through a mount) are not carried over.
func (c *Conn) Upload(ctx context.Context, ref connectors.FileRef, content io.Reader, size int64) error {
	const op = "fileshare upload"
	if err := ctx.Err(); err != nil {
		return err
	}
	r, rel, err := c.locate(op, ref)
	if err != nil {
		return err
	}
	// Everything below happens relative to the file's folder, opened once through the share's
	// root: the temporary file, the original's information, the rename and the sync all name
	// entries of that one descriptor, so swapping the folder (or any folder above it) for a
	// link after this point changes nothing we touch.
	dirRel, base := path.Dir(rel), path.Base(rel)
	dir, err := r.fs.OpenRoot(dirRel)
	if err != nil {
		return c.classifyIn(r, op, rel, err)
	}
	defer dir.Close()
	info, err := dir.Lstat(base)
	if err != nil {
		return classify(op, err)
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		// Renaming over the link would replace the link, and writing through it would label the
		// file it points to, which the share serves (and labels) under its own path anyway.
		c.log.Warn("fileshare: refused to write a label through a symbolic link", "drive", r.path, "path", rel)
		return connectors.Errorf(connectors.KindInvalid, op, 0, 0, fmt.Errorf("%q is a symbolic link; its target is labelled under its own path", ref.ItemID))
	}
	if !info.Mode().IsRegular() {
		return connectors.Errorf(connectors.KindInvalid, op, 0, 0, fmt.Errorf("%q is not a regular file", ref.ItemID))
	}
	tmpName, tmp, err := createTemp(dir)
	if err != nil {
		return classify(op, err)
	}
	key := r.id + ":" + path.Join(dirRel, tmpName)
	c.mu.Lock()
	c.flight[key] = struct{}{}
	c.mu.Unlock()
	renamed := false
	defer func() {
		c.mu.Lock()
		delete(c.flight, key)
		c.mu.Unlock()
		if !renamed {
			tmp.Close()
			if err := dir.Remove(tmpName); err != nil && !errors.Is(err, fs.ErrNotExist) {
				c.log.Warn("fileshare: cannot remove a temporary file", "drive", r.path, "path", path.Join(dirRel, tmpName), "err", err)
			}
		}
	}()
	if err := tmp.Chmod(info.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
		return classify(op, err)
	}
	if err := keepOwner(tmp, info); err != nil {
		c.log.Debug("fileshare: new version keeps the writer's owner", "path", ref.ItemID, "err", err)
	}
	n, err := io.Copy(tmp, ctxReader{ctx: ctx, r: content})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return classify(op, err)
	}
	if size >= 0 && n != size {
		return connectors.Errorf(connectors.KindInvalid, op, 0, 0, fmt.Errorf("content was %d bytes, %d announced", n, size))
	}
	if err := tmp.Sync(); err != nil {
		return classify(op, err)
	}
	if c.cfg.PreserveModTime {
		if err := setModTime(tmp, info.ModTime()); err != nil {
			return classify(op, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return classify(op, err)
	}
	if c.beforeRename != nil {
		if err := c.beforeRename(filepath.Join(r.real, filepath.FromSlash(dirRel), tmpName)); err != nil {
			return err
		}
	}
	if err := dir.Rename(tmpName, base); err != nil {
		return classify(op, err)
	}
	renamed = true
	// The rename is durable only once the folder's entry is on disk.
	if err := syncDir(dir); err != nil {
		c.log.Warn("fileshare: cannot sync the folder after a label write", "drive", r.path, "dir", dirRel, "err", err)
	}
	return nil
}

// createTemp creates a new temporary file in dir, never following a link already there
// (O_CREATE|O_EXCL), readable by its writer only until Upload gives it the original's mode.
func createTemp(dir *os.Root) (string, *os.File, error) {
	var b [8]byte
	for range 10 {
		_, _ = rand.Read(b[:])
		name := tempPrefix + hex.EncodeToString(b[:])
		f, err := dir.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return name, f, err
	}
	return "", nil, fmt.Errorf("cannot create a temporary file: %w", fs.ErrExist)
}

func syncDir(dir *os.Root) error {
	d, err := dir.Open(".")
	if err != nil {
		return err
	}
	defer d.Close()
	// Some network file systems cannot sync a folder; the rename is then as durable as they make it.
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}

// ctxReader stops a copy when the context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
