package box

import (
	"context"

	"github.com/labelgate/labelgate/connectors"
)

var _ connectors.FactOpener = (*Conn)(nil)

// OpenFile implements connectors.FactOpener: the size comes from f, so opening costs only
// the download-location call (GET /files/{id}/content, 302).
func (c *Conn) OpenFile(ctx context.Context, f connectors.File) (connectors.Object, error) {
	loc, err := c.api.downloadURL(ctx, f.Ref.ItemID)
	if err != nil {
		return nil, err
	}
	return &object{ctx: ctx, api: c.api, id: f.Ref.ItemID, size: f.Size, loc: loc}, nil
}
