package console_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/console"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/policies"
)

// managerAdmin is the admin API's view of a real policies manager (as the gateway wires it).
type managerAdmin struct{ m *policies.Manager }

func (p managerAdmin) Apply(ctx context.Context, doc []byte) ([]string, error) {
	return p.m.Apply(ctx, doc)
}
func (p managerAdmin) Export(ctx context.Context, id string) ([]byte, error) {
	return p.m.Export(ctx, id)
}
func (p managerAdmin) WhatIf(ctx context.Context, id string) (any, error) { return p.m.WhatIf(ctx, id) }

const goodPolicy = `policies:
  - id: box-confidential-external
    name: Confidential shared outside
    severity: high
    filter: {label: {is: [Confidential]}}
    actions: [{alert: {message: confidential file shared}}]
`

// setupPolicies is setup with a real policies manager behind the console.
func setupPolicies(t *testing.T) *bundle {
	t.Helper()
	b := setup(t)
	b.srv.Close()
	c, err := console.New(console.Config{Store: b.st, Policies: managerAdmin{policies.NewManager(policies.ManagerConfig{Store: b.st})},
		Tokens: []admin.Token{admin.NewToken("ops", admin.RoleAdmin, "admin-token-0123456789"),
			admin.NewToken("audit", admin.RoleViewer, "viewer-token-0123456789")}})
	require.NoError(t, err)
	b.srv = httptest.NewServer(c)
	t.Cleanup(b.srv.Close)
	return b
}

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(body)
	require.NotNil(t, m, "page carries a CSRF token")
	return m[1]
}

// A valid document is applied and then shown as the stored YAML; the viewer sees the YAML
// but no form and is refused on a direct post.
func TestPolicySetApplyAndShow(t *testing.T) {
	t.Parallel()
	b := setupPolicies(t)
	c := login(t, b, "admin-token-0123456789")
	_, body := get(t, c, b.srv.URL+"/console/policies")
	require.Contains(t, body, `id="policy-doc"`)
	require.Contains(t, body, "No policy is stored.")

	code, body := postForm(t, c, b.srv.URL+"/console/policies/apply", url.Values{"csrf": {csrfOf(t, body)}, "yaml": {goodPolicy}})
	require.Equal(t, http.StatusOK, code, "redirected back to the page")
	require.Contains(t, body, "applied 1 policies: box-confidential-external")
	require.Contains(t, body, `id="policy-box-confidential-external"`)
	require.Regexp(t, `(?s)<pre class="yaml" id="policy-yaml">.*id: box-confidential-external.*Confidential shared outside`, body)
	p, err := b.st.GetPolicy(context.Background(), "box-confidential-external")
	require.NoError(t, err)
	require.Equal(t, "Confidential shared outside", p.Name)

	v := login(t, b, "viewer-token-0123456789")
	_, body = get(t, v, b.srv.URL+"/console/policies")
	require.Contains(t, body, `id="policy-yaml"`, "viewers read the YAML")
	require.NotContains(t, body, `id="policy-doc"`, "viewers get no form")
	resp, err := v.PostForm(b.srv.URL+"/console/policies/apply", url.Values{"csrf": {"00"}, "yaml": {goodPolicy}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}

// A post without the session's CSRF token changes nothing.
func TestPolicySetNeedsCSRF(t *testing.T) {
	t.Parallel()
	b := setupPolicies(t)
	c := login(t, b, "admin-token-0123456789")
	resp, err := c.PostForm(b.srv.URL+"/console/policies/apply", url.Values{"csrf": {"0123abcd"}, "yaml": {goodPolicy}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	ps, err := b.st.ListPolicies(context.Background())
	require.NoError(t, err)
	require.Empty(t, ps)
}

// An invalid document is refused whole: every problem is listed with its policy and field,
// the draft stays in the text area, and no policy (not even the valid one) is stored.
func TestPolicySetInvalidShowsErrorsAndChangesNothing(t *testing.T) {
	t.Parallel()
	b := setupPolicies(t)
	ctx := context.Background()
	c := login(t, b, "admin-token-0123456789")
	_, body := get(t, c, b.srv.URL+"/console/policies")
	csrf := csrfOf(t, body)
	resp, err := c.PostForm(b.srv.URL+"/console/policies/apply", url.Values{"csrf": {csrf}, "yaml": {goodPolicy}})
	require.NoError(t, err)
	resp.Body.Close()

	bad := `policies:
  - {id: new-one, name: N, severity: low, matchAll: true, actions: [{alert: {message: m}}]}
  - {id: box-confidential-external, name: changed, severity: low, filter: {label: {is: [Nope]}}, actions: [{alert: {message: m}}]}
`
	code, body := postForm(t, c, b.srv.URL+"/console/policies/apply", url.Values{"csrf": {csrf}, "yaml": {bad}})
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, body, `id="policy-errors"`)
	require.Regexp(t, `<td>box-confidential-external</td><td><code>filter.label.is\[0\]</code></td><td>unknown label &#34;Nope&#34;[^<]*</td>`, body)
	require.Contains(t, body, "name: changed, severity: low", "the draft comes back for correction")
	_, err = b.st.GetPolicy(ctx, "new-one")
	require.ErrorIs(t, err, store.ErrNotFound)
	p, err := b.st.GetPolicy(ctx, "box-confidential-external")
	require.NoError(t, err)
	require.Equal(t, "Confidential shared outside", p.Name)

	resp, err = c.PostForm(b.srv.URL+"/console/policies/apply", url.Values{"csrf": {csrf}, "yaml": {bad}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	code, body = postForm(t, c, b.srv.URL+"/console/policies/apply", url.Values{"csrf": {csrf}, "yaml": {"policies: [unclosed"}})
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, body, "not YAML")
	code, body = postForm(t, c, b.srv.URL+"/console/policies/apply", url.Values{"csrf": {csrf}, "yaml": {"  "}})
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Contains(t, body, "paste a policy document")
}

// An uploaded file is applied like pasted text (multipart form, same CSRF token).
func TestPolicySetUpload(t *testing.T) {
	t.Parallel()
	b := setupPolicies(t)
	c := login(t, b, "admin-token-0123456789")
	_, body := get(t, c, b.srv.URL+"/console/policies")
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	require.NoError(t, mw.WriteField("csrf", csrfOf(t, body)))
	require.NoError(t, mw.WriteField("yaml", ""))
	fw, err := mw.CreateFormFile("file", "policies.yaml")
	require.NoError(t, err)
	_, _ = fw.Write([]byte(goodPolicy))
	require.NoError(t, mw.Close())
	resp, err := c.Post(b.srv.URL+"/console/policies/apply", mw.FormDataContentType(), &buf)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	_, err = b.st.GetPolicy(context.Background(), "box-confidential-external")
	require.NoError(t, err)
}

func postForm(t *testing.T, c *http.Client, u string, v url.Values) (int, string) {
	t.Helper()
	resp, err := c.PostForm(u, v)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A preview validates and counts without storing anything: the matched and touched files
// and planned actions per policy over the inventory, a disabled policy included.
func TestPolicySetPreview(t *testing.T) {
	t.Parallel()
	b := setupPolicies(t)
	c := login(t, b, "admin-token-0123456789")
	_, body := get(t, c, b.srv.URL+"/console/policies")
	csrf := csrfOf(t, body)
	doc := goodPolicy + "  - {id: every-file, name: Every file, severity: low, enabled: false, matchAll: true, actions: [{alert: {message: m}}]}\n"
	code, body := postForm(t, c, b.srv.URL+"/console/policies/apply", url.Values{"csrf": {csrf}, "yaml": {doc}, "op": {"preview"}})
	require.Equal(t, http.StatusOK, code)
	require.Regexp(t, `(?s)<tr id="preview-box-confidential-external">.*?<td>new</td>\s*<td class="n matched">1 of 2</td><td class="n touched">1</td>\s*<td><ul class="plain"><li>alert: 1</li></ul>`, body)
	require.Regexp(t, `(?s)<tr id="preview-every-file">.*?<td>new, disabled</td>\s*<td class="n matched">2 of 2</td><td class="n touched">2</td>\s*<td><ul class="plain"><li>alert: 2</li></ul>`, body)
	require.Contains(t, body, "enabled: false, matchAll: true", "the draft stays for applying")
	ps, err := b.st.ListPolicies(context.Background())
	require.NoError(t, err)
	require.Empty(t, ps, "a preview stores nothing")

	// After applying, a preview says which policies it would replace; a bad label is
	// reported as an apply would report it.
	_, _ = postForm(t, c, b.srv.URL+"/console/policies/apply", url.Values{"csrf": {csrf}, "yaml": {goodPolicy}})
	_, body = postForm(t, c, b.srv.URL+"/console/policies/apply", url.Values{"csrf": {csrf}, "yaml": {goodPolicy}, "op": {"preview"}})
	require.Regexp(t, `<tr id="preview-box-confidential-external">.*?\n<td>replaces the stored policy</td>`, body)
	code, body = postForm(t, c, b.srv.URL+"/console/policies/apply", url.Values{"csrf": {csrf}, "op": {"preview"},
		"yaml": {"policies:\n  - {id: x, name: X, severity: low, filter: {label: {is: [Nope]}}, actions: [{alert: {message: m}}]}\n"}})
	require.Equal(t, http.StatusUnprocessableEntity, code)
	require.Regexp(t, `<td>x</td><td><code>filter.label.is\[0\]</code></td><td>unknown label &#34;Nope&#34;`, body)
	require.NotContains(t, body, `id="policy-preview"`)
}
