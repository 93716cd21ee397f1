// Package chaos makes the provider emulators misbehave at random, the way a busy tenant
// does: throttling with Retry-After, server errors, slow answers, and webhook deliveries
// that are lost, repeated or overtaken by later ones. Decisions come from a seeded RNG so a
// failing run can be replayed with the same seed.
package chaos

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"
)

// Config sets the chaos an emulator injects; the zero Config injects none. Rates are
// chances in [0, 1] per request or per delivery.
type Config struct {
	Seed uint64
	// Throttle is the share of API requests answered 429 with a Retry-After of RetryAfter
	// (default 1 s; providers send whole seconds).
	Throttle   float64
	RetryAfter time.Duration
	// ServerError is the share of API requests answered 500, 502 or 503.
	ServerError float64
	// Slow is the share of API requests held back by up to Latency before they are served.
	Slow    float64
	Latency time.Duration
	// Drop, Duplicate and Reorder are shares of webhook deliveries that are lost, sent twice,
	// or held back by up to ReorderDelay (default 300 ms) so later deliveries overtake them.
	Drop         float64
	Duplicate    float64
	Reorder      float64
	ReorderDelay time.Duration
}

// Stats counts what was injected.
type Stats struct {
	Requests     int // API requests seen while chaos was on
	Throttled    int
	ServerErrors int
	Slowed       int
	Deliveries   int // webhook deliveries seen while chaos was on
	Dropped      int
	Duplicated   int
	Reordered    int
}

// Add sums two Stats.
func (s Stats) Add(o Stats) Stats {
	return Stats{Requests: s.Requests + o.Requests, Throttled: s.Throttled + o.Throttled, ServerErrors: s.ServerErrors + o.ServerErrors,
		Slowed: s.Slowed + o.Slowed, Deliveries: s.Deliveries + o.Deliveries, Dropped: s.Dropped + o.Dropped,
		Duplicated: s.Duplicated + o.Duplicated, Reordered: s.Reordered + o.Reordered}
}

// Injector decides, request by request and delivery by delivery, what goes wrong. The zero
// Injector injects nothing; it is safe for concurrent use.
type Injector struct {
	mu    sync.Mutex
	cfg   Config
	on    bool
	rng   *rand.Rand
	stats Stats
}

// Set replaces the configuration (and reseeds the RNG); the zero Config turns chaos off.
func (i *Injector) Set(c Config) {
	if c.RetryAfter <= 0 {
		c.RetryAfter = time.Second
	}
	if c.ReorderDelay <= 0 {
		c.ReorderDelay = 300 * time.Millisecond
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.cfg = c
	i.on = c.Throttle > 0 || c.ServerError > 0 || c.Slow > 0 || c.Drop > 0 || c.Duplicate > 0 || c.Reorder > 0
	i.rng = rand.New(rand.NewPCG(c.Seed, c.Seed^0xc4a05c4a05))
}

// Stats returns the counts so far.
func (i *Injector) Stats() Stats {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.stats
}

// Request is what happens to one API request: a delay first, then either an error status
// (with RetryAfter for 429s) or normal service when Status is 0.
type Request struct {
	Delay      time.Duration
	Status     int
	RetryAfter time.Duration
}

// Wait holds the request back by its Delay; it reports false when ctx (the client gave up)
// ended first.
func (r Request) Wait(ctx context.Context) bool {
	if r.Delay <= 0 {
		return true
	}
	t := time.NewTimer(r.Delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// RetryAfterHeader is the Retry-After value in whole seconds, rounded up as providers send it.
func (r Request) RetryAfterHeader() string {
	return strconv.Itoa(int((r.RetryAfter + time.Second - 1) / time.Second))
}

// Request decides the fate of one API request.
func (i *Injector) Request() Request {
	i.mu.Lock()
	defer i.mu.Unlock()
	var r Request
	if !i.on {
		return r
	}
	i.stats.Requests++
	if i.cfg.Slow > 0 && i.cfg.Latency > 0 && i.rng.Float64() < i.cfg.Slow {
		r.Delay = time.Duration(i.rng.Int64N(int64(i.cfg.Latency))) + 1
		i.stats.Slowed++
	}
	switch p := i.rng.Float64(); {
	case p < i.cfg.Throttle:
		r.Status, r.RetryAfter = 429, i.cfg.RetryAfter
		i.stats.Throttled++
	case p < i.cfg.Throttle+i.cfg.ServerError:
		r.Status = []int{500, 502, 503}[i.rng.IntN(3)]
		i.stats.ServerErrors++
	}
	return r
}

// Delivery is what happens to one webhook delivery: lost, or sent Copies times after Delay.
type Delivery struct {
	Drop   bool
	Copies int
	Delay  time.Duration
}

// Delivery decides the fate of one webhook delivery.
func (i *Injector) Delivery() Delivery {
	i.mu.Lock()
	defer i.mu.Unlock()
	d := Delivery{Copies: 1}
	if !i.on {
		return d
	}
	i.stats.Deliveries++
	if i.rng.Float64() < i.cfg.Drop {
		i.stats.Dropped++
		return Delivery{Drop: true}
	}
	if i.rng.Float64() < i.cfg.Duplicate {
		d.Copies = 2
		i.stats.Duplicated++
	}
	if i.rng.Float64() < i.cfg.Reorder {
		d.Delay = time.Duration(i.rng.Int64N(int64(i.cfg.ReorderDelay))) + 1
		i.stats.Reordered++
	}
	return d
}
