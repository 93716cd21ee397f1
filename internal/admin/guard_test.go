package admin_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/internal/admin"
)

// Every limit is refused with 400 outside 1..1000 before it reaches the store or River
// (GET /queue/dead?limit=10001 used to panic inside River's JobList).
func TestLimitsRefusedBeforeTheStore(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, path := range []string{"/api/v1/queue/dead?limit=10001", "/api/v1/queue/dead?limit=0", "/api/v1/files?limit=1001",
		"/api/v1/files?limit=-1", "/api/v1/actions?limit=99999999999999999999", "/api/v1/events?limit=5000", "/api/v1/events?limit=x"} {
		code, body := b.do(t, "GET", path, viewerTok, "")
		require.Equal(t, http.StatusBadRequest, code, "%s: %s", path, body)
		require.Contains(t, string(body), "limit", path)
	}
	code, _ := b.do(t, "GET", "/api/v1/files?limit=1000", viewerTok, "")
	require.Equal(t, 200, code)
}

// A panicking handler answers 500 with a JSON error and logs one line; the connection stays
// usable (net/http alone would drop it and log a stack trace).
func TestRecoverAnswers500AndLogsOneLine(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	mux := http.NewServeMux()
	mux.HandleFunc("/boom", func(http.ResponseWriter, *http.Request) { panic("index out of range [10001]") })
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "fine") })
	srv := httptest.NewServer(admin.Recover(log, mux))
	t.Cleanup(srv.Close)
	c := srv.Client()
	resp, err := c.Get(srv.URL + "/boom")
	require.NoError(t, err, "the connection is not dropped")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 500, resp.StatusCode)
	require.Contains(t, string(body), "internal error")
	require.NotContains(t, string(body), "10001", "no panic text to the client")
	resp, err = c.Get(srv.URL + "/ok")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 1, strings.Count(logs.String(), "\n"), logs.String())
	require.Contains(t, logs.String(), "handler panic")
	require.Contains(t, logs.String(), "path=/boom")
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// Wrong tokens lock a client out after the burst, even for a right token, until the
// bucket refills; other clients are not affected; success costs nothing.
func TestAuthLimiterLocksOutGuessers(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	l := &admin.AuthLimiter{Burst: 3, Every: 10 * time.Second, Now: func() time.Time { return now }, MaxClients: 4}
	for i := 0; i < 3; i++ {
		ok, _ := l.Allow("10.0.0.1")
		require.True(t, ok, "try %d", i)
		l.Fail("10.0.0.1")
	}
	ok, wait := l.Allow("10.0.0.1")
	require.False(t, ok)
	require.Equal(t, 10*time.Second, wait)
	ok, _ = l.Allow("10.0.0.2")
	require.True(t, ok, "another client is not locked out")
	now = now.Add(10 * time.Second)
	ok, _ = l.Allow("10.0.0.1")
	require.True(t, ok, "one try back after Every")
	l.Fail("10.0.0.1")
	ok, _ = l.Allow("10.0.0.1")
	require.False(t, ok)
	// Memory stays bounded under a flood of addresses.
	for i := 0; i < 100; i++ {
		l.Fail(strings.Repeat("x", i))
	}
}

// Through the API: the 11th wrong token in a row from one address gets 429 with
// Retry-After, and so does a right token from that address while it is locked out.
func TestAPIRateLimitsFailedAuth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := 0; i < 10; i++ {
		code, _ := b.do(t, "GET", "/api/v1/files", "guess-"+strings.Repeat("0", i), "")
		require.Equal(t, 401, code, "guess %d", i)
	}
	req, _ := http.NewRequest("GET", b.srv.URL+"/api/v1/files", nil)
	req.Header.Set("Authorization", "Bearer guess-again")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	code, _ := b.do(t, "GET", "/api/v1/files", viewerTok, "")
	require.Equal(t, http.StatusTooManyRequests, code, "locked out even with a right token")
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]string{
		"192.0.2.7:5555":             "192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ff::1]:80":    "2001:db8:1:2::/64",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = addr
		r.Header.Set("X-Forwarded-For", "203.0.113.9")
		require.Equal(t, want, admin.ClientKey(r), addr)
	}
}

// Every answer of the API carries nosniff, errors included.
func TestAPINoSniff(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, tc := range []struct{ path, tok string }{{"/api/v1/files", viewerTok}, {"/api/v1/files", ""}, {"/api/v1/nope", viewerTok}, {"/api/v1/openapi.json", ""}} {
		req, _ := http.NewRequest("GET", b.srv.URL+tc.path, nil)
		if tc.tok != "" {
			req.Header.Set("Authorization", "Bearer "+tc.tok)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), tc.path)
	}
}

// A short handle works wherever a file id does; an unknown one is 404.
func TestFileHandles(t *testing.T) {
	t.Parallel()
	b := setup(t)
	h := admin.FileHandle(b.ref)
	require.Len(t, h, 10)
	require.Equal(t, h, admin.FileHandle(b.ref), "stable")
	code, body := b.do(t, "GET", "/api/v1/files/"+h, viewerTok, "")
	require.Equal(t, 200, code, string(body))
	require.Contains(t, string(body), `"handle": "`+h+`"`)
	require.Contains(t, string(body), "plan.docx")
	code, _ = b.do(t, "GET", "/api/v1/files/aaaaaaaaaa", viewerTok, "")
	require.Equal(t, 404, code)
	code, body = b.do(t, "GET", "/api/v1/files", viewerTok, "")
	require.Equal(t, 200, code)
	require.Contains(t, string(body), `"handle": "`+h+`"`)
}
