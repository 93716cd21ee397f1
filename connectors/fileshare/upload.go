package fileshare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

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
	_, target, err := c.locate(op, ref)
	if err != nil {
		return err
	}
	info, err := os.Stat(target)
	if err != nil {
		return classify(op, err)
	}
	if !info.Mode().IsRegular() {
		return connectors.Errorf(connectors.KindInvalid, op, 0, 0, fmt.Errorf("%q is not a regular file", ref.ItemID))
	}
	dir := filepath.Dir(target)
	tmp, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return classify(op, err)
	}
	name := tmp.Name()
	c.mu.Lock()
	c.flight[name] = struct{}{}
	c.mu.Unlock()
	renamed := false
	defer func() {
		c.mu.Lock()
		delete(c.flight, name)
		c.mu.Unlock()
		if !renamed {
			tmp.Close()
			if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
				c.log.Warn("fileshare: cannot remove a temporary file", "path", name, "err", err)
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
	if err := tmp.Close(); err != nil {
		return classify(op, err)
	}
	if c.cfg.PreserveModTime {
		if err := os.Chtimes(name, time.Time{}, info.ModTime()); err != nil {
			return classify(op, err)
		}
	}
	if c.beforeRename != nil {
		if err := c.beforeRename(name); err != nil {
			return err
		}
	}
	if err := os.Rename(name, target); err != nil {
		return classify(op, err)
	}
	renamed = true
	// The rename is durable only once the folder's entry is on disk.
	if err := syncDir(dir); err != nil {
		c.log.Warn("fileshare: cannot sync the folder after a label write", "dir", dir, "err", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
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
