// Package webhooks is labelgate's HTTP ingress for provider change notifications.
//
// Every request goes the same way: read the raw body under a size limit, let the
// connector verify it (fail closed), drop deliveries already seen, record what the notice
// asks for, and acknowledge. Nothing slow happens here: the change feed is read later by a
// worker, so providers get their answer within milliseconds.
package webhooks

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/labelgate/labelgate/connectors"
)

// Sink takes verified notices. It must be quick (a database write) and durable: once it
// returns nil the notice will be acted on even if the process dies right after.
type Sink interface {
	Notice(ctx context.Context, n connectors.Notice) error
}

// Dedup remembers delivery keys; FirstDelivery is false for a replay or duplicate.
type Dedup interface {
	FirstDelivery(ctx context.Context, key string) (bool, error)
}

// Recorder is a Sink that can remember a notice's delivery key and record the notice in one
// durable step. The ingress prefers it to Dedup then Sink for notices with a key: a separate
// dedup write followed by a failed sink write would make the provider's retry look like a
// duplicate and lose the notice, and one write per notice is also cheaper (a Recorder may
// group-commit concurrent notices).
type Recorder interface {
	Sink
	// RecordNotice records n unless key was seen before; it reports whether it was new.
	RecordNotice(ctx context.Context, key string, n connectors.Notice) (first bool, err error)
}

// Route is one connector's webhook endpoint, served at /webhooks/{Name}.
type Route struct {
	Name     string
	App      connectors.App
	Tenant   string
	Receiver connectors.WebhookReceiver
}

// Config configures the ingress.
type Config struct {
	Routes       []Route
	Sink         Sink
	Dedup        Dedup // unused for keyed notices when Sink is a Recorder
	MaxBodyBytes int64 // default 1 MiB
	Logger       *slog.Logger
	Registerer   prometheus.Registerer // nil: no metrics
	Now          func() time.Time
}

// Handler serves every webhook route.
type Handler struct {
	routes  map[string]Route
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	reqs    *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

// Prefix is the path every webhook route lives under.
const Prefix = "/webhooks/"

// New builds the ingress.
func New(cfg Config) *Handler {
	h := &Handler{routes: map[string]Route{}, cfg: cfg, log: cfg.Logger, now: cfg.Now}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.cfg.MaxBodyBytes <= 0 {
		h.cfg.MaxBodyBytes = 1 << 20
	}
	for _, r := range cfg.Routes {
		h.routes[r.Name] = r
	}
	h.reqs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "labelgate_webhook_requests_total",
		Help: "Webhook requests by route and outcome."}, []string{"route", "outcome"})
	h.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "labelgate_webhook_ack_seconds",
		Help: "Time from request to acknowledgement.", Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .5, 1}},
		[]string{"route"})
	if cfg.Registerer != nil {
		cfg.Registerer.MustRegister(h.reqs, h.latency)
	}
	return h
}

// Outcomes counted in labelgate_webhook_requests_total.
const (
	OutcomeAccepted  = "accepted"
	OutcomeHandshake = "handshake"
	OutcomeDuplicate = "duplicate"
	OutcomeForged    = "forged"
	OutcomeMalformed = "malformed"
	OutcomeTooLarge  = "too_large"
	OutcomeUnknown   = "unknown_route"
	OutcomeError     = "error"
)

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The Graph validation answer echoes the caller's token as text/plain: never let a
	// browser sniff it into HTML (issue 22).
	w.Header().Set("X-Content-Type-Options", "nosniff")
	start := h.now()
	name := strings.TrimPrefix(r.URL.Path, Prefix)
	route, ok := h.routes[name]
	if !ok || strings.Contains(name, "/") {
		h.fail(w, r, "unknown", OutcomeUnknown, http.StatusNotFound, "no such webhook route", nil)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, r, name, OutcomeMalformed, http.StatusMethodNotAllowed, "method not allowed", nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.fail(w, r, name, OutcomeTooLarge, http.StatusRequestEntityTooLarge, "body too large", nil)
			return
		}
		h.fail(w, r, name, OutcomeMalformed, http.StatusBadRequest, "could not read body", err)
		return
	}
	ctx := r.Context()
	reply, notices, err := route.Receiver.Receive(ctx, connectors.Request{Header: r.Header, Query: r.URL.Query(), Body: body, Now: h.now()})
	switch {
	case errors.Is(err, connectors.ErrForged):
		h.fail(w, r, name, OutcomeForged, http.StatusUnauthorized, "notification failed verification", err)
		return
	case errors.Is(err, connectors.ErrMalformed):
		h.fail(w, r, name, OutcomeMalformed, http.StatusBadRequest, "malformed notification", err)
		return
	case err != nil:
		// Fail closed, but let the provider retry: the notice is not lost.
		h.fail(w, r, name, OutcomeError, http.StatusServiceUnavailable, "could not verify notification", err)
		return
	}
	outcome := OutcomeHandshake
	if len(notices) > 0 {
		outcome = OutcomeDuplicate
	}
	for _, n := range notices {
		if n.App == "" {
			n.App = route.App
		}
		if n.Tenant == "" {
			n.Tenant = route.Tenant
		}
		if rec, ok := h.cfg.Sink.(Recorder); ok && n.DedupKey != "" {
			first, err := rec.RecordNotice(ctx, name+"|"+n.DedupKey, n)
			if err != nil {
				h.fail(w, r, name, OutcomeError, http.StatusServiceUnavailable, "could not record notification", err)
				return
			}
			if first {
				outcome = OutcomeAccepted
			}
			continue
		}
		if n.DedupKey != "" && h.cfg.Dedup != nil {
			first, err := h.cfg.Dedup.FirstDelivery(ctx, name+"|"+n.DedupKey)
			if err != nil {
				h.fail(w, r, name, OutcomeError, http.StatusServiceUnavailable, "could not record notification", err)
				return
			}
			if !first {
				continue
			}
		}
		if err := h.cfg.Sink.Notice(ctx, n); err != nil {
			h.fail(w, r, name, OutcomeError, http.StatusServiceUnavailable, "could not record notification", err)
			return
		}
		outcome = OutcomeAccepted
	}
	status := reply.Status
	if status == 0 {
		status = http.StatusAccepted
	}
	if reply.ContentType != "" {
		w.Header().Set("Content-Type", reply.ContentType)
	}
	w.WriteHeader(status)
	if len(reply.Body) > 0 {
		_, _ = w.Write(reply.Body)
	}
	h.reqs.WithLabelValues(name, outcome).Inc()
	h.latency.WithLabelValues(name).Observe(h.now().Sub(start).Seconds())
	if outcome != OutcomeAccepted {
		h.log.Debug("webhook", "route", name, "outcome", outcome, "notices", len(notices))
	}
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, route, outcome string, status int, msg string, err error) {
	h.reqs.WithLabelValues(route, outcome).Inc()
	attrs := []any{"route", route, "outcome", outcome, "status", status, "remote", r.RemoteAddr}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	level := slog.LevelWarn
	if status >= 500 {
		level = slog.LevelError
	}
	h.log.Log(r.Context(), level, "webhook rejected", attrs...)
	http.Error(w, msg, status)
}
