// Package provmetrics counts and times every request a connector sends to its provider. It is
// one http.RoundTripper that every connector's HTTP client goes through (the gateway builds the
// clients), so Graph, Drive and Box calls are measured the same way whatever SDK sends them.
//
// A connector names each request in its context with WithOp (its one call path does this);
// the transport reads the name back, so operation names are the connector's own, fixed strings
// and the metrics' cardinality stays bounded. Requests without a name are counted as "other"
// (token requests as "token").
//
// Each request is counted three ways: in Prometheus (labelgate_provider_requests_total,
// labelgate_provider_throttled_total, labelgate_provider_request_seconds), in running totals
// per app that the admin API reads, and in every Tally found in the request's context, which is
// how one scan (or one walk) learns how many metadata calls and content reads it cost.
package provmetrics

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Kind says what a request was for. Only metadata calls and content reads count towards the
// cost of a scanned file; token requests are the auth library's.
type Kind string

// Request kinds.
const (
	Metadata Kind = "metadata" // API calls: listings, item reads, permissions, download-URL lookups, labels
	Content  Kind = "content"  // ranged reads of a file's bytes, and download endpoints that serve them
	// Redirected is the second hop of a content read the provider answered with a redirect
	// (Box's download endpoint to its pre-signed location): counted under its operation and
	// status, not as another read.
	Redirected Kind = "redirected"
	Auth       Kind = "auth"  // token requests
	Other      Kind = "other" // requests no connector named
)

type opKey struct{}

type opName struct {
	name string
	kind Kind
}

// WithOp names the requests sent with ctx: op is a fixed string such as "graph stat", kind
// what the request is for.
func WithOp(ctx context.Context, op string, kind Kind) context.Context {
	return context.WithValue(ctx, opKey{}, opName{op, kind})
}

// OpOf returns the operation ctx names, if any.
func OpOf(ctx context.Context) (string, Kind, bool) {
	o, ok := ctx.Value(opKey{}).(opName)
	return o.name, o.kind, ok
}

// Tally counts the provider requests made under one context: a scan, a walk.
type Tally struct {
	parent    *Tally
	metadata  atomic.Int64
	content   atomic.Int64
	throttled atomic.Int64
}

type tallyKey struct{}

// Track returns a context whose provider requests are counted in the returned tally (and in
// any tally ctx already carries).
func Track(ctx context.Context) (context.Context, *Tally) {
	t := &Tally{}
	if p, ok := ctx.Value(tallyKey{}).(*Tally); ok {
		t.parent = p
	}
	return context.WithValue(ctx, tallyKey{}, t), t
}

// Metadata is the number of metadata calls counted.
func (t *Tally) Metadata() int64 { return t.metadata.Load() }

// Content is the number of content reads counted.
func (t *Tally) Content() int64 { return t.content.Load() }

// Throttled is the number of requests the provider throttled.
func (t *Tally) Throttled() int64 { return t.throttled.Load() }

func (t *Tally) add(k Kind, throttled bool) {
	for ; t != nil; t = t.parent {
		switch k {
		case Metadata:
			t.metadata.Add(1)
		case Content:
			t.content.Add(1)
		}
		if throttled {
			t.throttled.Add(1)
		}
	}
}

// Totals are one app's provider requests since the process started.
type Totals struct {
	Metadata  int64 `json:"metadataCalls"`
	Content   int64 `json:"contentReads"`
	Throttled int64 `json:"throttled"`
}

type appTotals struct {
	metadata, content, throttled atomic.Int64
}

// Recorder holds the provider request metrics. The zero value is not usable; see New.
type Recorder struct {
	requests  *prometheus.CounterVec
	throttled *prometheus.CounterVec
	seconds   *prometheus.HistogramVec
	calls     *prometheus.CounterVec

	mu     sync.Mutex
	totals map[string]*appTotals
	hooks  []Hook
}

// Hook sees every finished request: a pacer adjusts its rate from it.
type Hook interface {
	Observe(app string, status int, throttled bool, retryAfter time.Duration)
}

// New returns a recorder whose metrics are registered with reg (nil: not registered).
func New(reg prometheus.Registerer) *Recorder {
	r := &Recorder{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "labelgate_provider_requests_total",
			Help: "Requests sent to a provider, by app, operation and HTTP status (\"error\" when no answer came)."},
			[]string{"app", "op", "code"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "labelgate_provider_throttled_total",
			Help: "Provider answers that throttled: 429, 503 with Retry-After, Drive's 403 rate-limit reasons."},
			[]string{"app"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "labelgate_provider_request_seconds",
			Help:    "Time from sending a provider request to its response headers.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12)}, []string{"app", "op"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "labelgate_provider_calls_total",
			Help: "Provider requests by app and kind: metadata (API calls), content (reads of file bytes), redirected (the second hop of a redirected read), auth, other."},
			[]string{"app", "kind"}),
		totals: map[string]*appTotals{},
	}
	if reg != nil {
		reg.MustRegister(r.requests, r.throttled, r.seconds, r.calls)
	}
	return r
}

// AddHook makes h see every request this recorder's transports send.
func (r *Recorder) AddHook(h Hook) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hooks = append(r.hooks, h)
}

func (r *Recorder) app(app string) *appTotals {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.totals[app]
	if !ok {
		t = &appTotals{}
		r.totals[app] = t
	}
	return t
}

// Totals returns an app's requests since the process started.
func (r *Recorder) Totals(app string) Totals {
	t := r.app(app)
	return Totals{Metadata: t.metadata.Load(), Content: t.content.Load(), Throttled: t.throttled.Load()}
}

// Transport returns a RoundTripper that sends through base and records each request as app's;
// namer (may be nil) names requests whose context names no operation.
func (r *Recorder) Transport(app string, base http.RoundTripper, namer Namer) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{r: r, app: app, totals: r.app(app), base: base, namer: namer}
}

// Client returns an HTTP client for app's connector: base's settings, transport measured.
func (r *Recorder) Client(app string, base *http.Client, namer Namer) *http.Client {
	c := &http.Client{}
	if base != nil {
		*c = *base
	}
	c.Transport = r.Transport(app, c.Transport, namer)
	return c
}

type transport struct {
	r      *Recorder
	app    string
	totals *appTotals
	base   http.RoundTripper
	namer  Namer
}

func (t *transport) name(req *http.Request) (string, Kind) {
	if op, kind, ok := OpOf(req.Context()); ok {
		return op, kind
	}
	if strings.HasSuffix(req.URL.Path, "/token") {
		return "token", Auth
	}
	if t.namer != nil {
		if op, kind, ok := t.namer(req); ok {
			return op, kind
		}
	}
	return "other", Other
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	op, kind := t.name(req)
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	took := time.Since(start)
	code, status, throttled, retryAfter := "error", 0, false, time.Duration(0)
	if err == nil {
		status = resp.StatusCode
		code = strconv.Itoa(status)
		throttled, retryAfter = IsThrottled(resp)
	}
	t.r.requests.WithLabelValues(t.app, op, code).Inc()
	t.r.seconds.WithLabelValues(t.app, op).Observe(took.Seconds())
	t.r.calls.WithLabelValues(t.app, string(kind)).Inc()
	switch kind {
	case Metadata:
		t.totals.metadata.Add(1)
	case Content:
		t.totals.content.Add(1)
	}
	if throttled {
		t.totals.throttled.Add(1)
		t.r.throttled.WithLabelValues(t.app).Inc()
	}
	if tl, ok := req.Context().Value(tallyKey{}).(*Tally); ok {
		tl.add(kind, throttled)
	}
	if kind != Auth {
		t.r.mu.Lock()
		hooks := t.r.hooks
		t.r.mu.Unlock()
		for _, h := range hooks {
			h.Observe(t.app, status, throttled, retryAfter)
		}
	}
	return resp, err
}

// IsThrottled tells a throttling answer: 429; 503 with Retry-After (Graph, Box); and Drive's
// 403 whose reason is userRateLimitExceeded or rateLimitExceeded
// (https://developers.google.com/drive/api/guides/limits). Only a 403's body is peeked at, and
// put back for the SDK to read.
func IsThrottled(resp *http.Response) (bool, time.Duration) {
	ra := parseRetryAfter(resp.Header.Get("Retry-After"))
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return true, ra
	case http.StatusServiceUnavailable:
		return ra > 0, ra
	case http.StatusForbidden:
		if resp.Body == nil {
			return false, 0
		}
		head, err := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
		if err != nil {
			return false, 0
		}
		return bytes.Contains(head, []byte("RateLimitExceeded")) || bytes.Contains(head, []byte("rateLimitExceeded")), ra
	}
	return false, 0
}

func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// Namer names a request from its method and URL, for connectors whose SDK calls carry no
// operation in their context. ok is false when the namer does not know the request.
type Namer func(req *http.Request) (op string, kind Kind, ok bool)

// PathTemplate turns a request path into a bounded operation name: from the segment at which
// base (e.g. "/2.0") first occurs, with each segment that follows one of ids (e.g. "files")
// replaced by "{id}". It returns "" when base is not in the path.
func PathTemplate(path, base string, ids ...string) string {
	i := strings.Index(path, base+"/")
	if i < 0 {
		return ""
	}
	segs := strings.Split(strings.TrimPrefix(path[i+len(base):], "/"), "/")
	for j := 1; j < len(segs); j++ {
		for _, c := range ids {
			if segs[j-1] == c && segs[j] != "{id}" {
				segs[j] = "{id}"
				break
			}
		}
	}
	return "/" + strings.Join(segs, "/")
}
