package console_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/store"
)

// Activity shows kinds as words, label names and zoned times, filters by kind, app and
// user, and exports the same rows as CSV and JSON lines; a file name made to look like a
// formula is defused in the CSV.
func TestActivityPageAndExports(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	f := connectors.File{Ref: connectors.FileRef{App: connectors.AppBox, Tenant: "acme", Drive: "0", ItemID: "f3"}, Name: "=HYPERLINK(x).docx",
		Path: "/Team", ETag: "e", Access: connectors.AccessInternal}
	_, err := b.st.RecordScan(ctx, store.ScanOutcome{File: f, Type: "word", LabelID: "L1"})
	require.NoError(t, err)
	f.Access = connectors.AccessPublic
	_, _, err = b.st.UpsertFile(ctx, f)
	require.NoError(t, err)
	c := login(t, b, "viewer-token-0123456789")

	_, body := get(t, c, b.srv.URL+"/console/activity")
	require.Contains(t, body, "File discovered")
	require.Contains(t, body, "Sharing changed")
	require.Contains(t, body, "internal -&gt; public")
	require.Contains(t, body, "Confidential", "label names, not ids")
	require.Regexp(t, `\d{4}-\d\d-\d\d \d\d:\d\d [A-Z+\-0-9]+`, body, "times carry their zone")
	_, body = get(t, c, b.srv.URL+"/console/activity?kind=access_changed")
	require.Contains(t, body, "Sharing changed")
	require.NotContains(t, body, "<td class=\"kind-file_discovered\">")
	_, body = get(t, c, b.srv.URL+"/console/activity?user=nobody-like-this")
	require.Contains(t, body, "No event matches")

	code, raw := get(t, c, b.srv.URL+"/console/activity/export/csv?kind=file_discovered")
	require.Equal(t, 200, code)
	rows, err := csv.NewReader(strings.NewReader(raw)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 4, "header and three discoveries")
	require.Equal(t, "kind", rows[0][2])
	var names []string
	for _, r := range rows[1:] {
		require.Equal(t, "file_discovered", r[2])
		names = append(names, r[6])
	}
	require.Contains(t, names, "'=HYPERLINK(x).docx", "CSV injection defused")
	code, raw = get(t, c, b.srv.URL+"/console/activity/export/jsonl?app=box")
	require.Equal(t, 200, code)
	lines := strings.Split(strings.TrimSpace(raw), "\n")
	require.Len(t, lines, 5)
	var e store.Event
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &e))
	require.Equal(t, store.EventAccessChanged, e.Kind, "oldest first: the sharing change is last")
	code, _ = get(t, c, b.srv.URL+"/console/activity?since=yesterday")
	require.Equal(t, 400, code)
}

// Alerts: the inbox by state, with ack and resolve for admins (CSRF-checked).
func TestAlertsPageAckResolve(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	a, _, err := b.st.RaiseAlert(ctx, store.Alert{GroupKey: "g1", Rule: "access_widened", Severity: "high", Title: "Labelled file shared publicly",
		Ref: b.ref, Path: "/Finance", Name: "plan.docx", LabelID: "L1", FirstAt: time.Now(), LastAt: time.Now()}, time.Hour, nil, nil)
	require.NoError(t, err)
	viewer := login(t, b, "viewer-token-0123456789")
	_, body := get(t, viewer, b.srv.URL+"/console/alerts")
	require.Contains(t, body, "Labelled file shared publicly")
	require.Contains(t, body, "Confidential")
	require.NotContains(t, body, `class="ack"`, "viewers get no buttons")

	adm := login(t, b, "admin-token-0123456789")
	_, page := get(t, adm, b.srv.URL+"/console/alerts")
	m := csrfRe.FindStringSubmatch(page)
	require.NotNil(t, m)
	resp, err := adm.PostForm(b.srv.URL+"/console/alerts/change", url.Values{"id": {itoa64(a.ID)}, "op": {"ack"}, "csrf": {m[1]}})
	require.NoError(t, err)
	resp.Body.Close()
	got, err := b.st.GetAlert(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, "acknowledged", got.State)
	resp, err = adm.PostForm(b.srv.URL+"/console/alerts/change", url.Values{"id": {itoa64(a.ID)}, "op": {"resolve"}, "csrf": {"forged"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 403, resp.StatusCode)
	resp, err = adm.PostForm(b.srv.URL+"/console/alerts/change", url.Values{"id": {itoa64(a.ID)}, "op": {"resolve"}, "csrf": {m[1]}})
	require.NoError(t, err)
	resp.Body.Close()
	got, err = b.st.GetAlert(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, "resolved", got.State)
	_, body = get(t, adm, b.srv.URL+"/console/alerts?state=resolved")
	require.Contains(t, body, "Labelled file shared publicly")
}

// Actions: newest first with state filter, cancel for admins; files: count and CSV.
func TestActionsPageAndFilesExport(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var ids []int64
	for i := 0; i < 3; i++ {
		id, _, err := b.st.AddAction(ctx, store.Action{Key: "k" + itoa64(int64(i)), Kind: store.ActionApplyLabel, Ref: b.ref, LabelID: "L1", RequestedBy: "admin:ops"})
		require.NoError(t, err)
		ids = append(ids, id)
	}
	adm := login(t, b, "admin-token-0123456789")
	_, body := get(t, adm, b.srv.URL+"/console/actions")
	require.Less(t, strings.Index(body, `id="action-`+itoa64(ids[2])+`"`), strings.Index(body, `id="action-`+itoa64(ids[0])+`"`), "newest first")
	require.Contains(t, body, "apply_label Confidential")
	m := csrfRe.FindStringSubmatch(body)
	require.NotNil(t, m)
	resp, err := adm.PostForm(b.srv.URL+"/console/actions/cancel", url.Values{"id": {itoa64(ids[1])}, "csrf": {m[1]}})
	require.NoError(t, err)
	resp.Body.Close()
	a, err := b.st.GetAction(ctx, ids[1])
	require.NoError(t, err)
	require.Equal(t, store.ActionCanceled, a.State)
	_, body = get(t, adm, b.srv.URL+"/console/actions?state=canceled")
	require.Contains(t, body, `id="action-`+itoa64(ids[1])+`"`)
	require.NotContains(t, body, `id="action-`+itoa64(ids[0])+`"`)
	code, _ := get(t, adm, b.srv.URL+"/console/actions?state=bogus")
	require.Equal(t, 400, code)

	_, body = get(t, adm, b.srv.URL+"/console/files")
	require.Contains(t, body, `<b id="files-count">2</b>`)
	_, body = get(t, adm, b.srv.URL+"/console/files?label=L1&error=x")
	require.Contains(t, body, `href="/console/files.csv?label=L1"`, "the export link carries the filters, and only them")
	code, raw := get(t, adm, b.srv.URL+"/console/files.csv?label=L1")
	require.Equal(t, 200, code)
	rows, err := csv.NewReader(strings.NewReader(raw)).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Equal(t, "plan.docx", rows[1][3])
	require.Equal(t, "Confidential", rows[1][5])
	_, body = get(t, adm, b.srv.URL+"/console/file?id="+admin.FileID(b.ref))
	require.Contains(t, body, `<th scope="col">When</th>`, "the drawer's tables have headers")
	require.Contains(t, body, "people outside the organisation", "sharing details")
}

func itoa64(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// The drawer lists every label the file carries, a partner's beside the organisation's
// (issue 20), naming the external one by its tenant.
func TestDrawerListsEveryLabelTheFileCarries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ref := connectors.FileRef{App: connectors.AppBox, Tenant: "acme", Drive: "0", ItemID: "two-tenants"}
	_, err := b.st.RecordScan(ctx, store.ScanOutcome{File: connectors.File{Ref: ref, Name: "shared.pptx", Path: "/Partners", ETag: "e"},
		Type: "powerpoint", LabelID: "L1", Labels: []store.CarriedLabel{
			{LabelID: "L1", Tenant: "acme-tenant", Method: "standard", Source: "labelinfo"},
			{LabelID: "9c215d82-5bf5-4d07-af41-65de05a9c87a", Tenant: "f66b6bd3-ebc2-4f54-8769-d22858de97c5", Source: "custom", External: true},
		}})
	require.NoError(t, err)
	c := login(t, b, "viewer-token-0123456789")
	code, body := get(t, c, b.srv.URL+"/console/file?partial=1&id="+admin.FileID(ref))
	require.Equal(t, 200, code)
	require.Contains(t, body, `id="drawer-labels"`)
	require.Contains(t, body, "Confidential")
	require.Contains(t, body, "External label · tenant f66b6bd3-ebc2-4f54-8769-d22858de97c5")
	require.Contains(t, body, "labelinfo")
	require.Contains(t, body, "custom")
}
