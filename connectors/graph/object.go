package graph

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/microsoftgraph/msgraph-sdk-go/drives"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/provmetrics"
)

const downloadURLKey = "@microsoft.graph.downloadUrl"

// object reads a file with one ranged GET per ReadAt on its pre-authenticated download
// URL, fetching a new URL when the old one is refused.
type object struct {
	c    *Conn
	ctx  context.Context
	ref  connectors.FileRef
	size int64

	// etag is the cTag (or eTag) the object was opened for ("" = any): a renewed URL for
	// another version is refused as KindChanged.
	etag string
	// cached is the urlCache key when url came from a walk rather than a call just made.
	cached string

	mu  sync.Mutex
	url string
}

// Open implements connectors.Connector. Reads use ctx.
func (c *Conn) Open(ctx context.Context, ref connectors.FileRef) (connectors.Object, error) {
	o := &object{c: c, ctx: ctx, ref: ref}
	if err := o.refresh(); err != nil {
		return nil, err
	}
	return o, nil
}

func (o *object) refresh() error {
	var it models.DriveItemable
	err := o.c.call(o.ctx, "graph download url", func(ctx context.Context) (err error) {
		it, err = o.c.item(o.ref.Drive, o.ref.ItemID).Get(ctx, &drives.ItemItemsDriveItemItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &drives.ItemItemsDriveItemItemRequestBuilderGetQueryParameters{Select: openSelect},
		})
		return err
	})
	if err != nil {
		return err
	}
	if tag := cmp.Or(str(it.GetCTag()), str(it.GetETag())); o.etag != "" && tag != o.etag {
		return connectors.Errorf(connectors.KindChanged, "graph open", 0, 0, fmt.Errorf("cTag %s, facts had %s", tag, o.etag))
	}
	u := anyString(it.GetAdditionalData()[downloadURLKey])
	if u == "" || it.GetFile() == nil {
		return connectors.Errorf(connectors.KindInvalid, "graph open", 0, 0, errors.New("item has no download URL (not a file?)"))
	}
	o.mu.Lock()
	o.url = u
	if s := it.GetSize(); s != nil {
		o.size = *s
	}
	o.mu.Unlock()
	return nil
}

func (o *object) Size() int64 { return o.size }

func (o *object) Close() error { return nil }

// ReadAt implements io.ReaderAt with one round trip (two when the URL must be renewed).
func (o *object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("graph: negative offset")
	}
	if off >= o.size || len(p) == 0 {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), o.size)
	for attempt := 0; ; attempt++ {
		n, status, err := o.get(p[:end-off], off, end-1)
		if expiredURL(status) && attempt == 0 {
			// An expired or revoked download URL: fetch a fresh one once. A URL from the
			// walk's cache is dropped from it first, so no other scan tries it again.
			if o.cached != "" {
				o.c.urls.drop(o.cached)
			}
			if err := o.refresh(); err != nil {
				return 0, err
			}
			continue
		}
		if err != nil {
			return n, err
		}
		if int64(n) < int64(len(p)) {
			return n, io.EOF
		}
		return n, nil
	}
}

// expiredURL says whether a download URL's answer means the URL is no longer good: 401 or
// 403 once its short life is over, 404 or 410 for one the service has forgotten.
func expiredURL(status int) bool {
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusGone:
		return true
	}
	return false
}

func (o *object) get(p []byte, lo, hi int64) (int, int, error) {
	o.mu.Lock()
	u := o.url
	o.mu.Unlock()
	req, err := http.NewRequestWithContext(provmetrics.WithOp(o.ctx, "graph download", provmetrics.Content), http.MethodGet, u, nil)
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", lo, hi))
	resp, err := o.c.hc.Do(req)
	if err != nil {
		// A *url.Error names the URL, which is a bearer credential: keep it out of errors
		// (and so out of logs and job records).
		var ue *url.Error
		if errors.As(err, &ue) {
			err = fmt.Errorf("%s download URL: %w", ue.Op, ue.Err)
		}
		return 0, 0, classify("graph download", err, o.c.cfg.Now())
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
	case http.StatusOK:
		// The range was ignored: skip to the offset.
		if _, err := io.CopyN(io.Discard, resp.Body, lo); err != nil {
			return 0, resp.StatusCode, connectors.Errorf(connectors.KindTransient, "graph download", 200, 0, err)
		}
	default:
		ra := connectors.ParseRetryAfter(resp.Header.Get("Retry-After"), o.c.cfg.Now())
		return 0, resp.StatusCode, classifyStatus("graph download", resp.StatusCode, "", ra, errors.New("HTTP "+strconv.Itoa(resp.StatusCode)))
	}
	n, err := io.ReadFull(resp.Body, p)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil // a short body at the end of the file; ReadAt reports EOF by length
	}
	if err != nil {
		return n, resp.StatusCode, connectors.Errorf(connectors.KindTransient, "graph download", resp.StatusCode, 0, err)
	}
	return n, resp.StatusCode, nil
}
