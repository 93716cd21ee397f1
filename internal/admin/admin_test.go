package admin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
)

const (
	adminTok  = "admin-token-0123456789"
	viewerTok = "viewer-token-0123456789"
)

type bundle struct {
	srv *httptest.Server
	st  *store.Store
	ref connectors.FileRef
}

func setup(t *testing.T) *bundle {
	t.Helper()
	st := storetest.OpenSQLite(t)
	ctx := context.Background()
	ref := connectors.FileRef{App: connectors.AppBox, Tenant: "acme", Drive: "0", ItemID: "f1"}
	_, err := st.RecordScan(ctx, store.ScanOutcome{File: connectors.File{Ref: ref, Name: "plan.docx", Path: "/Finance", ETag: "e", Access: connectors.AccessExternal}, Type: "word", LabelID: "L1"})
	require.NoError(t, err)
	_, err = st.SyncLabels(ctx, connectors.AppBox, "acme", []connectors.Label{{ID: "L1", Name: "Confidential"}})
	require.NoError(t, err)
	hashed := admin.NewToken("ops", admin.RoleAdmin, adminTok)
	api := admin.New(admin.Config{Store: st, Tokens: []admin.Token{hashed, admin.NewToken("audit", admin.RoleViewer, viewerTok)}, MaxBodyBytes: 4096})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &bundle{srv: srv, st: st, ref: ref}
}

func (b *bundle) do(t *testing.T, method, path, token, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.srv.URL+path, rd)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	b := setup(t)
	code, _ := b.do(t, "GET", "/api/v1/files", "", "")
	require.Equal(t, 401, code, "no token")
	code, _ = b.do(t, "GET", "/api/v1/files", "wrong-token-000000000", "")
	require.Equal(t, 401, code, "wrong token")
	code, _ = b.do(t, "GET", "/api/v1/files", viewerTok, "")
	require.Equal(t, 200, code, "viewer reads")
	code, _ = b.do(t, "POST", "/api/v1/policies/p/disable", viewerTok, "")
	require.Equal(t, 403, code, "viewer may not change")
	code, _ = b.do(t, "DELETE", "/api/v1/files/"+admin.FileID(b.ref)+"/label", viewerTok, "")
	require.Equal(t, 403, code)
	code, _ = b.do(t, "GET", "/api/v1/openapi.json", "", "")
	require.Equal(t, 200, code, "the API description is public")
}

func TestHashedToken(t *testing.T) {
	t.Parallel()
	st := storetest.OpenSQLite(t)
	tok, ok := admin.NewHashedToken("ci", admin.RoleViewer, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08") // sha256("test")
	require.True(t, ok)
	srv := httptest.NewServer(admin.New(admin.Config{Store: st, Tokens: []admin.Token{tok}}))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/labels", nil)
	req.Header.Set("Authorization", "Bearer test")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	_, ok = admin.NewHashedToken("x", admin.RoleViewer, "nothex")
	require.False(t, ok)
}

func TestFilesEndpoints(t *testing.T) {
	t.Parallel()
	b := setup(t)
	code, body := b.do(t, "GET", "/api/v1/files?app=box&label=L1&access=external", viewerTok, "")
	require.Equal(t, 200, code)
	var list struct {
		Items []struct {
			ID      string `json:"id"`
			Name    string `json:"name"`
			LabelID string `json:"labelId"`
		} `json:"items"`
		Next string `json:"nextPageToken"`
	}
	require.NoError(t, json.Unmarshal(body, &list))
	require.Len(t, list.Items, 1)
	require.Equal(t, "plan.docx", list.Items[0].Name)
	code, body = b.do(t, "GET", "/api/v1/files?noLabel=true", viewerTok, "")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(body, &list))
	require.Empty(t, list.Items)

	code, body = b.do(t, "GET", "/api/v1/files/"+list0(t, b), viewerTok, "")
	require.Equal(t, 200, code)
	require.Contains(t, string(body), `"history"`)
	require.Contains(t, string(body), store.EventDiscovered)

	code, _ = b.do(t, "GET", "/api/v1/files/!!", viewerTok, "")
	require.Equal(t, 400, code)
	code, _ = b.do(t, "GET", "/api/v1/files/"+admin.FileID(connectors.FileRef{App: "box", ItemID: "nope"}), viewerTok, "")
	require.Equal(t, 404, code)
	code, _ = b.do(t, "GET", "/api/v1/files?modifiedSince=yesterday", viewerTok, "")
	require.Equal(t, 400, code)
	code, _ = b.do(t, "GET", "/api/v1/files?pageToken=zz", viewerTok, "")
	require.Equal(t, 400, code)
	// Without an executor the label routes say so rather than pretending.
	code, _ = b.do(t, "POST", "/api/v1/files/"+list0(t, b)+"/label", adminTok, `{"labelId":"L1"}`)
	require.Equal(t, 501, code)
}

func list0(t *testing.T, b *bundle) string { return admin.FileID(b.ref) }

func TestPoliciesEventsLabelsActions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	require.NoError(t, b.st.PutPolicy(ctx, store.Policy{ID: "p1", Name: "P1", Enabled: true, Doc: []byte(`{"id":"p1"}`)}))
	id, _, err := b.st.AddAction(ctx, store.Action{Key: "k", PolicyID: "p1", Kind: store.ActionApplyLabel, Ref: b.ref, LabelID: "L1"})
	require.NoError(t, err)

	code, body := b.do(t, "GET", "/api/v1/policies", viewerTok, "")
	require.Equal(t, 200, code)
	require.Contains(t, string(body), `"p1"`)
	code, _ = b.do(t, "POST", "/api/v1/policies/p1/disable", adminTok, "")
	require.Equal(t, 200, code)
	a, err := b.st.GetAction(ctx, id)
	require.NoError(t, err)
	require.Equal(t, store.ActionSuspended, a.State, "disabling through the API suspends pending actions")
	code, _ = b.do(t, "POST", "/api/v1/policies/p1/enable", adminTok, "")
	require.Equal(t, 200, code)
	code, body = b.do(t, "GET", "/api/v1/actions?state=pending", viewerTok, "")
	require.Equal(t, 200, code)
	require.Contains(t, string(body), `"apply_label"`)
	code, _ = b.do(t, "GET", "/api/v1/actions/999", viewerTok, "")
	require.Equal(t, 404, code)
	code, body = b.do(t, "POST", "/api/v1/actions/"+itoa(id)+"/cancel", adminTok, "")
	require.Equal(t, 200, code, string(body))
	require.Contains(t, string(body), `"canceled"`)
	code, _ = b.do(t, "POST", "/api/v1/actions/"+itoa(id)+"/cancel", adminTok, "")
	require.Equal(t, 409, code, "a finished action cannot be canceled")
	code, _ = b.do(t, "DELETE", "/api/v1/policies/p1", adminTok, "")
	require.Equal(t, 204, code)
	code, _ = b.do(t, "GET", "/api/v1/policies/p1", viewerTok, "")
	require.Equal(t, 404, code)

	code, body = b.do(t, "GET", "/api/v1/labels", viewerTok, "")
	require.Equal(t, 200, code)
	require.Contains(t, string(body), "Confidential")

	code, body = b.do(t, "GET", "/api/v1/events?kind="+store.EventDiscovered+"&since="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), viewerTok, "")
	require.Equal(t, 200, code)
	require.Contains(t, string(body), "plan.docx")
	code, body = b.do(t, "GET", "/api/v1/events?format=jsonl", viewerTok, "")
	require.Equal(t, 200, code)
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		var e store.Event
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e))
		lines++
	}
	require.GreaterOrEqual(t, lines, 2, "discovery + catalog event")
	code, _ = b.do(t, "GET", "/api/v1/events?since=never", viewerTok, "")
	require.Equal(t, 400, code)

	for _, p := range []string{"/api/v1/quotas", "/api/v1/queue/stats", "/api/v1/queue/dead", "/api/v1/rescans"} {
		code, _ = b.do(t, "GET", p, viewerTok, "")
		require.Equal(t, 501, code, p)
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	big := `{"labelId":"` + strings.Repeat("x", 10000) + `"}`
	code, _ := b.do(t, "POST", "/api/v1/rescans", adminTok, big)
	require.Contains(t, []int{413, 501}, code)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestOpenAPIDocumentValidAndInSync(t *testing.T) {
	t.Parallel()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(admin.OpenAPI())
	require.NoError(t, err)
	require.NoError(t, doc.Validate(context.Background()))
	api := admin.New(admin.Config{})
	want := map[string]bool{}
	for _, r := range api.Routes() {
		want[r.Method+" "+r.Path] = true
		item := doc.Paths.Find(r.Path)
		require.NotNil(t, item, "route %s %s is not documented", r.Method, r.Path)
		require.NotNil(t, item.GetOperation(r.Method), "route %s %s is not documented", r.Method, r.Path)
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			require.True(t, want[method+" "+path], "documented %s %s is not served", method, path)
		}
	}
}
