package labeling_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

// Tests of the executor's handling of connectors.KindNotConfigured (a set-up step only an
// administrator can take) and connectors.KindChanged (a conditional upload refused because the
// file changed since it was read). Issue 19.

func notConfiguredErr() error {
	return connectors.Errorf(connectors.KindNotConfigured, "graph assign label", 402, 0, errors.New("paymentRequired: Payment Required"))
}

// TestNotConfiguredPausesAndAlerts: a "not configured" answer pauses the action (no retries,
// quota unit back), logs the event the alerts engine raises, pauses the other actions of the
// app and tenant without calling the provider, and resumes once the wait is over.
func TestNotConfiguredPausesAndAlerts(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			e := setupOn(t, b, func(c *labeling.ExecutorConfig) { c.NotConfiguredWait = 2 * time.Hour })
			e.conn.fail("apply", step{err: notConfiguredErr()})
			first := e.action(e.file("a", "a.docx", 10, connectors.LabelState{}), store.ActionApplyLabel, lGeneral)
			second := e.action(e.file("b", "b.docx", 10, connectors.LabelState{}), store.ActionApplyLabel, lGeneral)

			out := e.exec(first)
			require.Equal(t, store.ActionPaused, out.State, out.Reason)
			require.Equal(t, start.Add(2*time.Hour), out.NotBefore)
			require.Contains(t, out.Reason, "paymentRequired")
			require.Equal(t, 1, e.conn.Calls("apply"), "one call, no retries")
			require.Zero(t, e.conn.Writes())
			require.Zero(t, e.used(e.conn.app, false), "the quota unit went back")
			evs := e.events(labeling.EventNotConfigured)
			require.Len(t, evs, 1)
			require.Equal(t, e.conn.app, evs[0].App)
			require.Contains(t, evs[0].Detail, "paymentRequired")
			paused, err := e.st.PausedActions(context.Background())
			require.NoError(t, err)
			require.Zero(t, paused[string(e.conn.app)+"/t1/"+store.AllowanceAuto], "not counted as waiting for a quota reset")

			stats := e.conn.Calls("stat")
			out = e.exec(second)
			require.Equal(t, store.ActionPaused, out.State, out.Reason)
			require.Equal(t, start.Add(2*time.Hour), out.NotBefore)
			require.Equal(t, stats, e.conn.Calls("stat"), "paused without asking the provider")
			require.Equal(t, 1, e.conn.Calls("apply"))

			// Not due yet: nothing runs.
			e.clk.Set(start.Add(time.Hour))
			out = e.exec(first)
			require.False(t, out.Claimed)

			// The administrator linked billing; at the next check both go through.
			e.clk.Set(start.Add(2 * time.Hour))
			for _, id := range []int64{first, second} {
				out = e.exec(id)
				require.Equal(t, store.ActionDone, out.State, out.Reason)
			}
			require.Equal(t, 2, e.conn.Writes())
			require.Len(t, e.events(labeling.EventNotConfigured), 1)
		})
	}
}

// condConn is an embedded-mode connector (no native label API) with conditional uploads:
// UploadIfMatch writes only while the file's ETag is the one given. edit, when set, runs as
// the upload arrives — a user saving the file between labelgate's read and its write.
type condConn struct {
	*memConn
	mu      sync.Mutex
	version int
	edit    func(n int) // n: how many conditional uploads came before
	tries   int
}

var _ connectors.ConditionalUploader = (*condConn)(nil)

// userEdit stores content as a user's new version: new bytes, new ETag.
func (c *condConn) userEdit(item string, content []byte) {
	c.mu.Lock()
	c.version++
	v := c.version
	c.mu.Unlock()
	c.memConn.mu.Lock()
	defer c.memConn.mu.Unlock()
	f := c.files[item]
	f.content = append([]byte(nil), content...)
	f.file.Size = int64(len(content))
	f.file.ETag = "user-" + string(rune('0'+v))
}

func (c *condConn) UploadIfMatch(_ context.Context, ref connectors.FileRef, etag string, content io.Reader, size int64) error {
	b, err := io.ReadAll(content)
	if err != nil {
		return err
	}
	c.mu.Lock()
	n := c.tries
	c.tries++
	edit := c.edit
	c.mu.Unlock()
	if edit != nil {
		edit(n)
	}
	c.memConn.mu.Lock()
	defer c.memConn.mu.Unlock()
	c.calls["upload-if-match"]++
	f, ok := c.files[ref.ItemID]
	if !ok {
		return notFound("upload")
	}
	if f.file.ETag != etag {
		return connectors.Errorf(connectors.KindChanged, "upload", 412, 0, errors.New("resourceModified: ETag does not match"))
	}
	f.content, f.file.Size, f.file.ETag = b, int64(len(b)), f.file.ETag+"+lg"
	c.writes++
	return nil
}

func setupEmbedded(t *testing.T, b storetest.Backend) (*env, *condConn) {
	t.Helper()
	var cc *condConn
	e := setupOn(t, b, func(c *labeling.ExecutorConfig) {
		cc = &condConn{memConn: newMemConn(connectors.AppBox, labeltest.TenantContoso)}
		c.Connectors = labeling.Connectors(cc)
	})
	e.conn = cc.memConn
	_, err := e.st.SyncLabels(context.Background(), cc.app, cc.tenant, []connectors.Label{
		{ID: labeltest.LabelGeneral, Name: "General", Priority: 1}, {ID: labeltest.LabelConfidential, Name: "Confidential", Priority: 2}})
	require.NoError(t, err)
	return e, cc
}

func readLabel(t *testing.T, content []byte) string {
	t.Helper()
	res, err := labeling.Read(context.Background(), bytes.NewReader(content), int64(len(content)), "report.docx")
	require.NoError(t, err)
	if res.Label == nil {
		return ""
	}
	return res.Label.ID
}

// TestChangedFileIsDecidedAgain: a user saves the file between labelgate's read and its
// upload. The conditional upload is refused, the executor reads the file again and decides
// again: the label goes into the user's version, never over it.
func TestChangedFileIsDecidedAgain(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			e, cc := setupEmbedded(t, b)
			ctx := context.Background()
			orig := labeltest.Docx(labeltest.Options{Text: []string{"draft one"}})
			f := cc.addContent("doc", "report.docx", orig)
			_, _, err := e.st.UpsertFile(ctx, f)
			require.NoError(t, err)
			user := labeltest.Docx(labeltest.Options{Text: []string{"second draft by the user"}})
			cc.edit = func(n int) {
				if n == 0 {
					cc.userEdit("doc", user)
				}
			}
			out := e.exec(e.action(f.Ref, store.ActionApplyLabel, labeltest.LabelGeneral))
			require.Equal(t, store.ActionDone, out.State, out.Reason)
			require.Equal(t, 2, cc.Calls("upload-if-match"), "refused once, then written over the new version")
			require.Zero(t, cc.Calls("upload"), "never an unconditional upload")
			got := cc.Content("doc")
			require.Equal(t, labeltest.LabelGeneral, readLabel(t, got))
			require.Contains(t, string(unzipText(t, got)), "second draft by the user", "the user's edit is kept")
		})
	}
}

// TestChangedFileRuleSeenAgain: the user's edit labelled the file; deciding again, a policy
// meant for unlabelled files now refuses, and the user's version stays as it is.
func TestChangedFileRuleSeenAgain(t *testing.T) {
	t.Parallel()
	e, cc := setupEmbedded(t, storetest.Backends()[0])
	ctx := context.Background()
	f := cc.addContent("doc", "report.docx", labeltest.Docx(labeltest.Options{Text: []string{"draft"}}))
	_, _, err := e.st.UpsertFile(ctx, f)
	require.NoError(t, err)
	user := labeltest.Docx(labeltest.Options{LabelInfo: []labeltest.Label{{ID: labeltest.LabelConfidential, Tenant: labeltest.TenantContoso, Method: "Privileged"}}})
	cc.edit = func(n int) {
		if n == 0 {
			cc.userEdit("doc", user)
		}
	}
	id := e.action(f.Ref, store.ActionApplyLabel, labeltest.LabelGeneral, func(a *store.Action) {
		a.Params = []byte(`{"onlyIfUnlabelled":true}`)
	})
	out := e.exec(id)
	require.Equal(t, store.ActionRefused, out.State, out.Reason)
	require.Contains(t, out.Reason, "unlabelled")
	require.Equal(t, user, cc.Content("doc"), "the user's labelled version is untouched")
	require.Zero(t, cc.Writes())
}

// TestChangedFileBounded: a file that changes before every upload is tried a bounded number
// of times, then waits for a later run; it is never overwritten.
func TestChangedFileBounded(t *testing.T) {
	t.Parallel()
	e, cc := setupEmbedded(t, storetest.Backends()[0])
	ctx := context.Background()
	f := cc.addContent("doc", "report.docx", labeltest.Docx(labeltest.Options{Text: []string{"v0"}}))
	_, _, err := e.st.UpsertFile(ctx, f)
	require.NoError(t, err)
	var last []byte
	cc.edit = func(n int) {
		last = labeltest.Docx(labeltest.Options{Text: []string{"busy user, save " + string(rune('a'+n))}})
		cc.userEdit("doc", last)
	}
	out := e.exec(e.action(f.Ref, store.ActionApplyLabel, labeltest.LabelGeneral))
	require.Equal(t, store.ActionPending, out.State, out.Reason)
	require.Contains(t, out.Reason, "kept changing")
	require.Equal(t, 3, cc.Calls("upload-if-match"))
	require.Equal(t, last, cc.Content("doc"))
	require.Zero(t, cc.Writes())
	n, err := e.st.QuotaUsed(ctx, cc.app, cc.tenant, store.AllowanceAuto, store.QuotaWindow(e.clk.Now()))
	require.NoError(t, err)
	require.Zero(t, n, "nothing written, nothing counted")
}

// unzipText returns the main part of a docx, where its text is.
func unzipText(t *testing.T, docx []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(docx), int64(len(docx)))
	require.NoError(t, err)
	rc, err := zr.Open("word/document.xml")
	require.NoError(t, err)
	defer rc.Close()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return b
}
