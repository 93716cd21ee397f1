package provmetrics

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type hookRec struct {
	mu    sync.Mutex
	seen  []int
	thr   int
	after time.Duration
}

func (h *hookRec) Observe(_ string, status int, throttled bool, ra time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seen = append(h.seen, status)
	if throttled {
		h.thr++
		h.after = ra
	}
}

func setup(t *testing.T) (*Recorder, *prometheus.Registry, *http.Client, string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/429":
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(429)
		case "/503":
			w.WriteHeader(503)
		case "/503ra":
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(503)
		case "/403rate":
			w.WriteHeader(403)
			_, _ = io.WriteString(w, `{"error":{"errors":[{"reason":"userRateLimitExceeded"}],"code":403}}`)
		case "/403":
			w.WriteHeader(403)
			_, _ = io.WriteString(w, `{"error":{"errors":[{"reason":"insufficientFilePermissions"}],"code":403}}`)
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(srv.Close)
	reg := prometheus.NewRegistry()
	r := New(reg)
	return r, reg, r.Client("gdrive", nil, nil), srv.URL
}

func get(t *testing.T, c *http.Client, ctx context.Context, u string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestTransportCountsByOpCodeAndKind(t *testing.T) {
	t.Parallel()
	r, _, c, base := setup(t)
	h := &hookRec{}
	r.AddHook(h)
	ctx := context.Background()
	scanCtx, scan := Track(ctx)
	readCtx, read := Track(scanCtx) // nested: the inner tally's requests count in the outer too
	get(t, c, WithOp(scanCtx, "gdrive files.get", Metadata), base+"/ok")
	get(t, c, WithOp(readCtx, "gdrive download", Content), base+"/ok")
	get(t, c, WithOp(readCtx, "gdrive download", Content), base+"/ok")
	get(t, c, WithOp(ctx, "gdrive files.list", Metadata), base+"/429")
	get(t, c, ctx, base+"/oauth2/token")
	if got := testutil.ToFloat64(r.requests.WithLabelValues("gdrive", "gdrive download", "200")); got != 2 {
		t.Errorf("download requests = %v, want 2", got)
	}
	if got := testutil.ToFloat64(r.requests.WithLabelValues("gdrive", "gdrive files.list", "429")); got != 1 {
		t.Errorf("429 requests = %v, want 1", got)
	}
	if got := testutil.ToFloat64(r.requests.WithLabelValues("gdrive", "token", "200")); got != 1 {
		t.Errorf("token requests = %v, want 1", got)
	}
	if scan.Metadata() != 1 || scan.Content() != 2 || read.Content() != 2 || read.Metadata() != 0 {
		t.Errorf("tallies: scan %d/%d read %d/%d", scan.Metadata(), scan.Content(), read.Metadata(), read.Content())
	}
	tot := r.Totals("gdrive")
	if tot.Metadata != 2 || tot.Content != 2 || tot.Throttled != 1 {
		t.Errorf("totals = %+v", tot)
	}
	if got := testutil.ToFloat64(r.throttled.WithLabelValues("gdrive")); got != 1 {
		t.Errorf("throttled = %v", got)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.seen) != 4 || h.thr != 1 || h.after != 3*time.Second {
		t.Errorf("hook saw %v throttled %d after %s (token requests are not paced)", h.seen, h.thr, h.after)
	}
}

func TestThrottleRecognition(t *testing.T) {
	t.Parallel()
	r, reg, c, base := setup(t)
	ctx := WithOp(context.Background(), "op", Metadata)
	for _, p := range []string{"/503", "/503ra", "/403", "/403rate"} {
		body := get(t, c, ctx, base+p)
		if strings.HasPrefix(p, "/403") && !strings.Contains(body, `"code":403`) {
			t.Errorf("%s: body not put back: %q", p, body)
		}
	}
	// 503 with Retry-After and Drive's rate-limit 403 throttle; a bare 503 and a permission
	// 403 do not.
	if got := testutil.ToFloat64(r.throttled.WithLabelValues("gdrive")); got != 2 {
		t.Errorf("throttled = %v, want 2", got)
	}
	n, err := testutil.GatherAndCount(reg, "labelgate_provider_request_seconds")
	if err != nil || n != 1 {
		t.Errorf("histogram series = %d, %v", n, err)
	}
}

func TestPathTemplate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ path, want string }{
		{"/2.0/files/123/metadata/enterprise/tpl", "/files/{id}/metadata/enterprise/tpl"},
		{"/2.0/folders/0/items", "/folders/{id}/items"},
		{"/api/2.0/files/9/content", "/files/{id}/content"},
		{"/dl/9/1", ""},
	} {
		if got := PathTemplate(c.path, "/2.0", "files", "folders"); got != c.want {
			t.Errorf("%s: %q, want %q", c.path, got, c.want)
		}
	}
}
