package box

import (
	"context"
	"errors"
	"io"
	"sync"

	"github.com/labelgate/labelgate/connectors"
)

// Open implements connectors.Connector: the file's size from its metadata and a pre-signed
// download location; each ReadAt is then one ranged GET on that location.
func (c *Conn) Open(ctx context.Context, ref connectors.FileRef) (connectors.Object, error) {
	it, err := c.api.file(ctx, ref.ItemID, "size")
	if err != nil {
		return nil, err
	}
	loc, err := c.api.downloadURL(ctx, ref.ItemID)
	if err != nil {
		return nil, err
	}
	return &object{ctx: ctx, api: c.api, id: ref.ItemID, size: it.Size, loc: loc}, nil
}

// object reads a file with HTTP Range requests. Download URLs expire, so a refused one is
// fetched again once.
type object struct {
	ctx  context.Context
	api  *api
	id   string
	size int64

	mu  sync.Mutex
	loc string
}

func (o *object) Size() int64  { return o.size }
func (o *object) Close() error { return nil }

func (o *object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("box: negative offset")
	}
	if off >= o.size {
		return 0, io.EOF
	}
	want := p
	if rest := o.size - off; int64(len(want)) > rest {
		want = want[:rest]
	}
	if len(want) == 0 {
		return 0, nil
	}
	o.mu.Lock()
	loc := o.loc
	o.mu.Unlock()
	n, err := o.api.readRange(o.ctx, loc, want, off)
	if k := connectors.KindOf(err); err != nil && err != io.EOF && (k == connectors.KindPermission || k == connectors.KindNotFound) {
		fresh, lerr := o.api.downloadURL(o.ctx, o.id)
		if lerr != nil {
			return 0, lerr
		}
		o.mu.Lock()
		o.loc = fresh
		o.mu.Unlock()
		n, err = o.api.readRange(o.ctx, fresh, want, off)
	}
	if err == nil && len(want) < len(p) {
		err = io.EOF
	}
	return n, err
}
