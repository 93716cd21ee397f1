package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/console"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
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
	_, err := st.SyncLabels(ctx, connectors.AppBox, "acme", []connectors.Label{{ID: "L1", Name: "Confidential", Priority: 2}})
	require.NoError(t, err)
	_, err = st.RecordScan(ctx, store.ScanOutcome{File: connectors.File{Ref: ref, Name: "plan.docx", Path: "/Finance", ETag: "e",
		Access: connectors.AccessExternal, Owner: "ann@acme.com"}, Type: "word", LabelID: "L1"})
	require.NoError(t, err)
	_, err = st.RecordScan(ctx, store.ScanOutcome{File: connectors.File{Ref: connectors.FileRef{App: connectors.AppBox, Tenant: "acme", Drive: "0", ItemID: "f2"},
		Name: "notes.pdf", Path: "/Team", ETag: "e", Access: connectors.AccessInternal}, Type: "pdf"})
	require.NoError(t, err)
	c, err := console.New(console.Config{Store: st, Tokens: []admin.Token{admin.NewToken("ops", admin.RoleAdmin, "admin-token-0123456789"),
		admin.NewToken("audit", admin.RoleViewer, "viewer-token-0123456789")}})
	require.NoError(t, err)
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return &bundle{srv: srv, st: st, ref: ref}
}

func client(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar}
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func login(t *testing.T, b *bundle, token string) *http.Client {
	t.Helper()
	c := client(t)
	resp, err := c.PostForm(b.srv.URL+"/console/login", url.Values{"token": {token}})
	require.NoError(t, err)
	resp.Body.Close()
	return c
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

func TestLoginRequired(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := client(t)
	_, body := get(t, c, b.srv.URL+"/console/files")
	require.Contains(t, body, "Sign in", "redirected to the login page")
	resp, err := c.PostForm(b.srv.URL+"/console/login", url.Values{"token": {"not-a-token-0000000000"}})
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(page), "That token is not valid")
	require.Contains(t, resp.Request.URL.RawQuery, "error=invalid", "a code, not text, in the URL")
	_, body = get(t, c, b.srv.URL+"/console/")
	require.Contains(t, body, "Sign in", "no session after a failed login")
}

func TestPagesRender(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := login(t, b, "viewer-token-0123456789")
	code, body := get(t, c, b.srv.URL+"/console/")
	require.Equal(t, 200, code)
	require.Contains(t, body, `<b id="total-files">2</b>`)
	require.Regexp(t, `(?s)<tr class="sensitive"><th scope="row">.*Confidential.*data-access="external">1</td>`, body, "exposure of a sensitive, externally shared file")
	code, body = get(t, c, b.srv.URL+"/console/files?label=L1")
	require.Equal(t, 200, code)
	require.Contains(t, body, "plan.docx")
	require.NotContains(t, body, "notes.pdf")
	_, body = get(t, c, b.srv.URL+"/console/files?show=nolabel")
	require.Contains(t, body, "notes.pdf")
	require.NotContains(t, body, "plan.docx")
	code, body = get(t, c, b.srv.URL+"/console/file?partial=1&id="+admin.FileID(b.ref))
	require.Equal(t, 200, code)
	require.Contains(t, body, "File discovered")
	require.NotContains(t, body, "Apply label", "viewers get no buttons")
	for _, p := range []string{"/console/policies", "/console/quotas", "/console/queue", "/console/static/console.css", "/console/static/console.js",
		"/console/alerts", "/console/alerts?state=all", "/console/activity", "/console/activity?kind=file_discovered&app=box", "/console/actions",
		"/console/actions?state=pending", "/console/rescans", "/console/labels"} {
		code, _ = get(t, c, b.srv.URL+p)
		require.Equal(t, 200, code, p)
	}
	code, _ = get(t, c, b.srv.URL+"/console/file?id=%3Cscript%3E")
	require.Equal(t, 400, code)
}

func TestPolicyToggleSuspendsAndNeedsCSRFAndAdmin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	require.NoError(t, b.st.PutPolicy(ctx, store.Policy{ID: "p1", Name: "Box external", Enabled: true, Doc: []byte("{}")}))
	id, _, err := b.st.AddAction(ctx, store.Action{Key: "k", PolicyID: "p1", Kind: store.ActionApplyLabel, Ref: b.ref, LabelID: "L1"})
	require.NoError(t, err)

	viewer := login(t, b, "viewer-token-0123456789")
	resp, err := viewer.PostForm(b.srv.URL+"/console/policies/toggle", url.Values{"id": {"p1"}, "enable": {"false"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 403, resp.StatusCode)

	adm := login(t, b, "admin-token-0123456789")
	resp, err = adm.PostForm(b.srv.URL+"/console/policies/toggle", url.Values{"id": {"p1"}, "enable": {"false"}, "csrf": {"forged"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 403, resp.StatusCode, "a form without the session's CSRF token is refused")

	_, page := get(t, adm, b.srv.URL+"/console/policies")
	m := csrfRe.FindStringSubmatch(page)
	require.NotNil(t, m)
	resp, err = adm.PostForm(b.srv.URL+"/console/policies/toggle", url.Values{"id": {"p1"}, "enable": {"false"}, "csrf": {m[1]}})
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, string(body), "its pending actions are suspended")
	a, err := b.st.GetAction(ctx, id)
	require.NoError(t, err)
	require.Equal(t, store.ActionSuspended, a.State)
	require.True(t, strings.Contains(string(body), `<td class="suspended">1</td>`))
}
