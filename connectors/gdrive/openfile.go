package gdrive

import (
	"context"
	"fmt"

	"github.com/labelgate/labelgate/connectors"
)

var _ connectors.FactOpener = (*Conn)(nil)

// OpenFile implements connectors.FactOpener with no metadata call at all: the walk's or the
// change feed's facts give the size, and Walk and Changes never hand out Google-native
// documents. Every ReadAt is then one ranged download (files.get alt=media), whose answer
// follows the file's current head revision.
func (c *Conn) OpenFile(ctx context.Context, f connectors.File) (connectors.Object, error) {
	s, _, _, err := c.svcFor(f.Ref.Drive)
	if err != nil {
		return nil, err
	}
	if f.Folder {
		return nil, connectors.Errorf(connectors.KindInvalid, "gdrive open", 0, 0, fmt.Errorf("%s is a folder", f.Ref.ItemID))
	}
	return &object{ctx: ctx, c: c, s: s, id: f.Ref.ItemID, size: f.Size}, nil
}
