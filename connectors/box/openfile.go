package box

import (
	"context"

	"github.com/labelgate/labelgate/connectors"
)

var _ connectors.FactOpener = (*Conn)(nil)

// OpenFile implements connectors.FactOpener: the size comes from f, so opening costs no
// call; the first ReadAt is the download (see object).
func (c *Conn) OpenFile(ctx context.Context, f connectors.File) (connectors.Object, error) {
	return &object{ctx: ctx, api: c.api, id: f.Ref.ItemID, size: f.Size}, nil
}
