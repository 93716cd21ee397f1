package graph_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/graph"
	"github.com/labelgate/labelgate/connectors/graph/emulator"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

// embedded is the Graph connector without its native label API, so the executor writes
// labels into the files and uploads them (embedded mode) with If-Match. beforeUpload runs as
// each conditional upload leaves.
type embedded struct {
	*graph.Conn
	beforeUpload func(n int)
	mu           sync.Mutex
	uploads      int
}

// Only the capabilities an embedded-mode connector has: no Labeler.
type embeddedConn interface {
	connectors.Connector
	connectors.Uploader
	connectors.ConditionalUploader
}

func (e *embedded) UploadIfMatch(ctx context.Context, ref connectors.FileRef, etag string, content io.Reader, size int64) error {
	e.mu.Lock()
	n := e.uploads
	e.uploads++
	e.mu.Unlock()
	if e.beforeUpload != nil {
		e.beforeUpload(n)
	}
	return e.Conn.UploadIfMatch(ctx, ref, etag, content, size)
}

// TestEmbeddedWriteKeepsUserEdit: the executor reads a file, a user saves a new version, and
// the executor's upload arrives with the old ETag. Graph refuses it (412); the executor reads
// the file again, decides again and labels the user's version — the edit is kept. On SQLite
// and PostgreSQL.
func TestEmbeddedWriteKeepsUserEdit(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := setup(t, emulator.Options{Manifest: &emulator.Manifest{
				Tenant: emulator.Tenant{ID: labeltest.TenantContoso, Domains: []string{"contoso.com"}},
				Sites: []emulator.Site{{ID: "s", Name: "s", WebURL: "https://contoso.sharepoint.com/sites/s",
					Libraries: []emulator.Library{{ID: "b!docs", Name: "Documents"}}}},
			}})
			st := storetest.Open(t, b)
			_, err := st.SyncLabels(ctx, connectors.AppSharePoint, labeltest.TenantContoso, []connectors.Label{
				{ID: labeltest.LabelGeneral, Name: "General", Priority: 1}})
			require.NoError(t, err)
			id, err := e.emu.AddFile("b!docs", "/", "plan.docx", "", labeltest.Docx(labeltest.Options{Text: []string{"first draft"}}))
			require.NoError(t, err)
			ref := connectors.FileRef{App: connectors.AppSharePoint, Tenant: labeltest.TenantContoso, Drive: "b!docs", ItemID: id}
			f, err := e.sp.Stat(ctx, ref)
			require.NoError(t, err)
			_, _, err = st.UpsertFile(ctx, f)
			require.NoError(t, err)

			userVersion := labeltest.Docx(labeltest.Options{Text: []string{"second draft saved by Adele"}})
			conn := &embedded{Conn: e.sp, beforeUpload: func(n int) {
				if n == 0 {
					require.NoError(t, e.emu.ModifyFile(id, userVersion))
				}
			}}
			// The struct's method set is the interface's: the executor finds no Labeler.
			c := struct{ embeddedConn }{conn}
			ex, err := labeling.NewExecutor(labeling.ExecutorConfig{Store: st, Connectors: labeling.Connectors(c)})
			require.NoError(t, err)
			t.Cleanup(func() { _ = ex.Close() })
			aid, _, err := st.AddAction(ctx, store.Action{Key: "k", Kind: store.ActionApplyLabel, Ref: ref, LabelID: labeltest.LabelGeneral, PolicyID: "p"})
			require.NoError(t, err)
			out, err := ex.Execute(ctx, aid)
			require.NoError(t, err)
			require.Equal(t, store.ActionDone, out.State, out.Reason)
			require.Equal(t, 2, conn.uploads, "the first upload was refused, the second went over the user's version")
			require.Equal(t, 2, e.emu.Requests("PUT /v1.0/drives/b!docs/items/"+id+"/content"))

			got := e.emu.Content(id)
			res, err := labeling.Read(ctx, bytesReader(got), int64(len(got)), "plan.docx")
			require.NoError(t, err)
			require.NotNil(t, res.Label)
			require.Equal(t, labeltest.LabelGeneral, res.Label.ID)
			require.Contains(t, docText(t, got), "second draft saved by Adele", "the user's edit is kept")
		})
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// docText returns the main part of a docx.
func docText(t *testing.T, docx []byte) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(docx), int64(len(docx)))
	require.NoError(t, err)
	rc, err := zr.Open("word/document.xml")
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return string(b)
}
