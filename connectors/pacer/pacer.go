// Package pacer spaces one provider tenant's requests at a rate that adapts to the provider's
// answers, in the manner of rclone's pacer (the idea, not its code): every request waits for
// its slot; a throttling answer (429, 503 with Retry-After, Drive's 403 rate-limit reasons)
// halves the rate and holds every request until the Retry-After has passed; each answer that
// is not throttling raises the rate by a fixed step. So it starts at the provider's documented
// limit, backs off multiplicatively and probes upwards additively (AIMD).
//
// A pacer is an http.RoundTripper wrapper, so every connector gets it the same way, whatever
// SDK sends its requests; token requests are not paced.
//
// Replicas share a tenant's budget through SetShare: the gateway counts the live replicas
// pacing the tenant (a row per replica in the shared database, refreshed every few seconds)
// and tells each pacer its share n. A pacer with share n runs at 1/n of what it would alone
// — its rate is scaled when n changes and its additive step is Step/n — so the replicas
// together start at the documented limit and together probe upwards at one pacer's pace.
// Each still halves on the throttling it gets, and AIMD senders converge to equal shares of
// a common limit, as TCP flows do on a link. What stays per replica: the Retry-After hold
// (each learns it from its own throttled answers).
package pacer

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labelgate/labelgate/connectors/provmetrics"
)

// Documented starting rates, requests per second per app and tenant (or user).
const (
	// Graph (SharePoint, OneDrive): the smallest tenants' band of SharePoint Online's per-app
	// resource units, 1,200 per minute ("Application throttling", learn.microsoft.com/
	// sharepoint/dev/general-development/how-to-avoid-getting-throttled-or-blocked-in-
	// sharepoint-online); a driveItem read costs 1 unit. Larger tenants allow up to 18,000 a
	// minute, which the additive increase finds.
	GraphRate = 1200.0 / 60
	// Drive: 12,000 queries per 60 seconds per user (developers.google.com/drive/api/guides/
	// limits, "Queries per 60 seconds per user").
	DriveRate = 12000.0 / 60
	// Box: 1,000 API requests per minute per user (developer.box.com/guides/api-calls/
	// permissions-and-errors/rate-limits).
	BoxRate = 1000.0 / 60
)

// Options tune a pacer; zero values take the defaults.
type Options struct {
	Start float64 // starting rate, requests/s (required)
	Min   float64 // floor, default 0.5/s
	Max   float64 // ceiling, default 100,000/s (no practical limit: the provider says when)
	Step  float64 // additive increase per unthrottled answer, default 0.5/s
	Now   func() time.Time
}

// Pacer is one tenant's request pacing. Safe for concurrent use.
type Pacer struct {
	opts Options

	mu    sync.Mutex
	rate  float64
	share int       // replicas sharing the tenant's budget (SetShare), at least 1
	next  time.Time // the next free slot
	hold  time.Time // nothing is sent before this (Retry-After)
}

// New returns a pacer starting at opts.Start requests per second.
func New(opts Options) *Pacer {
	if opts.Start <= 0 {
		opts.Start = 10
	}
	if opts.Min <= 0 {
		opts.Min = 0.5
	}
	if opts.Max <= 0 {
		opts.Max = 100000
	}
	if opts.Step <= 0 {
		opts.Step = 0.5
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Pacer{opts: opts, rate: opts.Start, share: 1}
}

// SetShare tells the pacer that n replicas (itself included) pace the same tenant: its rate
// is scaled by old/n, so the replicas' sum stays what it was, and it probes upwards by Step/n.
func (p *Pacer) SetShare(n int) {
	n = max(n, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if n == p.share {
		return
	}
	p.rate = min(p.opts.Max, max(p.opts.Min, p.rate*float64(p.share)/float64(n)))
	p.share = n
}

// Share is the replicas the pacer shares its tenant's budget with (1: alone).
func (p *Pacer) Share() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.share
}

// Rate is the current rate in requests per second.
func (p *Pacer) Rate() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rate
}

// Wait blocks until the caller's slot comes, or ctx ends.
func (p *Pacer) Wait(ctx context.Context) error {
	p.mu.Lock()
	now := p.opts.Now()
	at := now
	if p.next.After(at) {
		at = p.next
	}
	if p.hold.After(at) {
		at = p.hold
	}
	p.next = at.Add(time.Duration(float64(time.Second) / p.rate))
	p.mu.Unlock()
	d := at.Sub(now)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Observe adapts the rate to one answer: throttled halves it and holds every request for
// retryAfter; anything else raises it by the step.
func (p *Pacer) Observe(throttled bool, retryAfter time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !throttled {
		p.rate = min(p.opts.Max, p.rate+p.opts.Step/float64(p.share))
		return
	}
	p.rate = max(p.opts.Min, p.rate/2)
	if retryAfter > 0 {
		if h := p.opts.Now().Add(retryAfter); h.After(p.hold) {
			p.hold = h
		}
	}
}

// Transport returns a RoundTripper that paces base's requests (token requests excepted).
func (p *Pacer) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{p: p, base: base}
}

type transport struct {
	p    *Pacer
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/token") {
		return t.base.RoundTrip(req)
	}
	if err := t.p.Wait(req.Context()); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	t.p.Observe(provmetrics.IsThrottled(resp))
	return resp, nil
}
