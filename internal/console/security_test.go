package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/console"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
)

// The console's answers carry the full CSP (no framing, forms only to itself, no <base>)
// and nosniff, on pages, static files, redirects and errors alike.
func TestConsoleSecurityHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := login(t, b, "viewer-token-0123456789")
	for _, p := range []string{"/console/login", "/console/", "/console/files", "/console/static/console.js", "/console/file?id=%3C"} {
		resp, err := c.Get(b.srv.URL + p)
		require.NoError(t, err)
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'", "object-src 'none'"} {
			require.Contains(t, csp, d, p)
		}
		require.NotContains(t, csp, "unsafe-inline", p)
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), p)
		require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"), p)
	}
}

// ?error= and ?flash= text from a link never shows: the login page knows a few codes, and
// the other pages show only notes the server stored in the session.
func TestNoAttackerChosenTextOnPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const lure = "Your account is locked - call 555-0100"
	anon := client(t)
	for _, q := range []string{"error=" + url.QueryEscape(lure), "flash=" + url.QueryEscape(lure), "error=invalid%20" + url.QueryEscape(lure)} {
		_, body := get(t, anon, b.srv.URL+"/console/login?"+q)
		require.NotContains(t, body, "555-0100", q)
	}
	_, body := get(t, anon, b.srv.URL+"/console/login?error=locked")
	require.Contains(t, body, "Too many failed sign-ins")

	c := login(t, b, "admin-token-0123456789")
	for _, p := range []string{"/console/?flash=", "/console/files?error=", "/console/policies?note=", "/console/file?id=" + admin.FileID(b.ref) + "&error="} {
		_, body := get(t, c, b.srv.URL+p+url.QueryEscape(lure))
		require.NotContains(t, body, "555-0100", p)
	}
	// A real note: the toggle's message, shown once.
	require.NoError(t, b.st.PutPolicy(context.Background(), storePolicy("p1")))
	_, page := get(t, c, b.srv.URL+"/console/policies")
	m := csrfRe.FindStringSubmatch(page)
	require.NotNil(t, m)
	resp, err := c.PostForm(b.srv.URL+"/console/policies/toggle", url.Values{"id": {"p1"}, "enable": {"false"}, "csrf": {m[1]}})
	require.NoError(t, err)
	shown, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(shown), "policy p1 disabled")
	_, again := get(t, c, resp.Request.URL.String())
	require.NotContains(t, again, "policy p1 disabled", "a note shows once")
	// Another session cannot read it by key either.
	other := login(t, b, "admin-token-0123456789")
	_, body = get(t, other, resp.Request.URL.String())
	require.NotContains(t, body, "policy p1 disabled")
}

// Secure cookies by configuration, whatever the request's own scheme (a TLS proxy in
// front makes every request plain HTTP).
func TestSessionCookieSecureByConfig(t *testing.T) {
	t.Parallel()
	for _, secure := range []bool{true, false} {
		st := storetest.OpenSQLite(t)
		c, err := console.New(console.Config{Store: st, SecureCookies: secure, Tokens: []admin.Token{admin.NewToken("ops", admin.RoleAdmin, "admin-token-0123456789")}})
		require.NoError(t, err)
		srv := httptest.NewServer(c)
		t.Cleanup(srv.Close)
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := noRedirect.PostForm(srv.URL+"/console/login", url.Values{"token": {"admin-token-0123456789"}})
		require.NoError(t, err)
		resp.Body.Close()
		cookies := resp.Cookies()
		require.Len(t, cookies, 1)
		require.Equal(t, secure, cookies[0].Secure)
		require.True(t, cookies[0].HttpOnly)
		require.Equal(t, http.SameSiteStrictMode, cookies[0].SameSite)
	}
}

// Login guessing is throttled per client: after the burst, even the right token is turned
// away for a while, and the page says why with a fixed message.
func TestLoginRateLimited(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := client(t)
	for i := 0; i < 10; i++ {
		resp, err := c.PostForm(b.srv.URL+"/console/login", url.Values{"token": {"guess-" + strings.Repeat("1", i)}})
		require.NoError(t, err)
		resp.Body.Close()
		require.Contains(t, resp.Request.URL.RawQuery, "error=invalid")
	}
	resp, err := c.PostForm(b.srv.URL+"/console/login", url.Values{"token": {"admin-token-0123456789"}})
	require.NoError(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, resp.Request.URL.RawQuery, "error=locked")
	require.Contains(t, string(page), "Too many failed sign-ins")
	_, body := get(t, c, b.srv.URL+"/console/")
	require.Contains(t, body, "Sign in", "no session while locked out")
}

func storePolicy(id string) store.Policy {
	return store.Policy{ID: id, Name: "Box external", Enabled: true, Doc: []byte("{}")}
}
