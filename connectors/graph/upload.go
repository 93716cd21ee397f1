package graph

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/drives"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/labelgate/labelgate/connectors"
)

// smallUploadMax is Graph's limit for a single PUT …/content.
const smallUploadMax = 4 << 20

// Upload stores content as a new version of the file: one PUT up to 4 MiB, an upload
// session above.
func (c *Conn) Upload(ctx context.Context, ref connectors.FileRef, content io.Reader, size int64) error {
	return c.upload(ctx, ref, "", content, size)
}

// UploadIfMatch stores content only while the file's eTag or cTag is still etag: Graph
// answers 412 Precondition Failed otherwise (If-Match on PUT …/content and on
// createUploadSession, learn.microsoft.com/graph/api/driveitem-put-content and
// driveitem-createuploadsession), which comes back as KindChanged. A user's edit made after
// labelgate read the file is so never overwritten.
func (c *Conn) UploadIfMatch(ctx context.Context, ref connectors.FileRef, etag string, content io.Reader, size int64) error {
	if etag == "" {
		return connectors.Errorf(connectors.KindInvalid, "graph upload", 0, 0, errors.New("conditional upload without an etag"))
	}
	return c.upload(ctx, ref, etag, content, size)
}

func (c *Conn) upload(ctx context.Context, ref connectors.FileRef, etag string, content io.Reader, size int64) error {
	var hdrs *abs.RequestHeaders
	if etag != "" {
		hdrs = abs.NewRequestHeaders()
		hdrs.Add("If-Match", etag)
	}
	if size <= smallUploadMax {
		b, err := io.ReadAll(io.LimitReader(content, size+1))
		if err != nil {
			return connectors.Errorf(connectors.KindTransient, "graph upload", 0, 0, err)
		}
		if int64(len(b)) != size {
			return connectors.Errorf(connectors.KindInvalid, "graph upload", 0, 0, fmt.Errorf("content is %d bytes, expected %d", len(b), size))
		}
		return c.call(ctx, "graph upload", func(ctx context.Context) error {
			_, err := c.item(ref.Drive, ref.ItemID).Content().Put(ctx, b, &drives.ItemItemsItemContentRequestBuilderPutRequestConfiguration{Headers: hdrs})
			return err
		})
	}
	var sess models.UploadSessionable
	err := c.call(ctx, "graph upload session", func(ctx context.Context) (err error) {
		sess, err = c.item(ref.Drive, ref.ItemID).CreateUploadSession().Post(ctx, drives.NewItemItemsItemCreateUploadSessionPostRequestBody(),
			&drives.ItemItemsItemCreateUploadSessionRequestBuilderPostRequestConfiguration{Headers: hdrs})
		return err
	})
	if err != nil {
		return err
	}
	u := str(sess.GetUploadUrl())
	if u == "" {
		return connectors.Errorf(connectors.KindTransient, "graph upload session", 0, 0, errors.New("no uploadUrl"))
	}
	buf := make([]byte, c.cfg.UploadChunk)
	for off := int64(0); off < size; {
		n, err := io.ReadFull(content, buf[:min(int64(len(buf)), size-off)])
		if err != nil {
			return connectors.Errorf(connectors.KindInvalid, "graph upload", 0, 0, fmt.Errorf("content shorter than %d bytes: %w", size, err))
		}
		// Fragments go to the pre-authenticated upload URL without the bearer token.
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(buf[:n]))
		if err != nil {
			return connectors.Errorf(connectors.KindInvalid, "graph upload", 0, 0, err)
		}
		req.ContentLength = int64(n)
		req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, off+int64(n)-1, size))
		resp, err := c.hc.Do(req)
		if err != nil {
			return classify("graph upload fragment", err, c.cfg.Now())
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			ra := connectors.ParseRetryAfter(resp.Header.Get("Retry-After"), c.cfg.Now())
			return classifyStatus("graph upload fragment", resp.StatusCode, "", ra, errors.New("HTTP "+strconv.Itoa(resp.StatusCode)))
		}
		off += int64(n)
	}
	return nil
}
