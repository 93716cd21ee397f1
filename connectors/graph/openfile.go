package graph

import (
	"context"
	"errors"
	"fmt"

	"github.com/microsoftgraph/msgraph-sdk-go/drives"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/labelgate/labelgate/connectors"
)

var _ connectors.FactOpener = (*Conn)(nil)

// openSelect is the one item read a scan with known facts needs: the download URL, the size
// it serves and the cTag that says whether the facts still hold (graph-v1.0.csdl, driveItem:
// cTag, size, file; the download URL is the instance annotation
// @microsoft.graph.downloadUrl, selectable by name).
var openSelect = []string{"id", "size", "file", "cTag", "eTag", downloadURLKey}

// OpenFile implements connectors.FactOpener. A download URL the walk that read f got for the
// same cTag, and got recently (urlcache.go), opens it with no call at all; otherwise one item
// read brings the download URL and the cTag, and a cTag other than f's means the file changed
// since f was read (KindChanged).
func (c *Conn) OpenFile(ctx context.Context, f connectors.File) (connectors.Object, error) {
	key := urlKey(f.Ref.Drive, f.Ref.ItemID, f.ETag)
	if f.ETag != "" {
		if e, ok := c.urls.get(key, c.cfg.Now()); ok {
			// A file rewritten since the walk still has the walk's cTag in f: the read is of
			// what the URL serves, and a changed size makes the scanner read the facts again.
			return &object{c: c, ctx: ctx, ref: f.Ref, size: e.size, url: e.url, etag: f.ETag, cached: key}, nil
		}
	}
	var it models.DriveItemable
	err := c.call(ctx, "graph open", func(ctx context.Context) (err error) {
		it, err = c.item(f.Ref.Drive, f.Ref.ItemID).Get(ctx, &drives.ItemItemsDriveItemItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &drives.ItemItemsDriveItemItemRequestBuilderGetQueryParameters{Select: openSelect},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	tag := str(it.GetCTag())
	if tag == "" {
		tag = str(it.GetETag())
	}
	if tag != f.ETag {
		return nil, connectors.Errorf(connectors.KindChanged, "graph open", 0, 0, fmt.Errorf("cTag %s, facts had %s", tag, f.ETag))
	}
	u := anyString(it.GetAdditionalData()[downloadURLKey])
	if u == "" || it.GetFile() == nil {
		return nil, connectors.Errorf(connectors.KindInvalid, "graph open", 0, 0, errors.New("item has no download URL (not a file?)"))
	}
	o := &object{c: c, ctx: ctx, ref: f.Ref, url: u, etag: f.ETag}
	if s := it.GetSize(); s != nil {
		o.size = *s
	}
	return o, nil
}
