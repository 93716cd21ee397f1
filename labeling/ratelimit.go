package labeling

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"golang.org/x/time/rate"

	"github.com/labelgate/labelgate/connectors"
)

// Clock is the executor's time source. Every wait (rate limit, retry backoff, Retry-After)
// goes through Sleep, so tests drive time with a fake clock.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx ends, returning ctx's error then.
	Sleep(ctx context.Context, d time.Duration) error
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// Sleep implements Clock.
func (SystemClock) Sleep(ctx context.Context, d time.Duration) error {
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

// RateLimit is a token bucket: PerSecond requests per second on average, Burst at once.
type RateLimit struct {
	PerSecond float64 `yaml:"perSecond" json:"perSecond"`
	Burst     int     `yaml:"burst" json:"burst"`
}

// rateLimits keeps one token bucket per app and tenant: providers throttle per tenant (Graph,
// Box enterprise) or per project/user (Drive), so one tenant's burst must not starve another.
type rateLimits struct {
	clock  Clock
	limits map[connectors.App]RateLimit
	mu     sync.Mutex
	bucket map[string]*rate.Limiter
}

func newRateLimits(clock Clock, limits map[connectors.App]RateLimit) *rateLimits {
	return &rateLimits{clock: clock, limits: limits, bucket: map[string]*rate.Limiter{}}
}

func (r *rateLimits) limiter(app connectors.App, tenant string) *rate.Limiter {
	l, ok := r.limits[app]
	if !ok || l.PerSecond <= 0 {
		return nil
	}
	key := string(app) + "/" + tenant
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.bucket[key]
	if b == nil {
		burst := l.Burst
		if burst < 1 {
			burst = 1
		}
		b = rate.NewLimiter(rate.Limit(l.PerSecond), burst)
		r.bucket[key] = b
	}
	return b
}

// wait takes one token for a provider call, sleeping on the executor's clock until it is due.
// Reservations are made at the clock's time rather than with Limiter.Wait, which would sleep
// on the wall clock.
func (r *rateLimits) wait(ctx context.Context, app connectors.App, tenant string) error {
	b := r.limiter(app, tenant)
	if b == nil {
		return nil
	}
	now := r.clock.Now()
	res := b.ReserveN(now, 1)
	if !res.OK() {
		return fmt.Errorf("rate limit for %s/%s: burst too small", app, tenant)
	}
	if d := res.DelayFrom(now); d > 0 {
		if err := r.clock.Sleep(ctx, d); err != nil {
			res.CancelAt(r.clock.Now())
			return err
		}
	}
	return nil
}

// RetryConfig bounds retries of provider calls that fail with a retryable error (429, 5xx,
// network).
type RetryConfig struct {
	InitialInterval time.Duration // first backoff wait; default 500ms
	MaxInterval     time.Duration // longest single backoff wait; default 30s
	Jitter          float64       // randomization factor; default 0.5, negative for none
	// MaxRetryTime caps the total time spent retrying one call, waits included; default 2m.
	// A Retry-After beyond what remains ends the retries too.
	MaxRetryTime time.Duration
}

func (c RetryConfig) withDefaults() RetryConfig {
	if c.InitialInterval <= 0 {
		c.InitialInterval = 500 * time.Millisecond
	}
	if c.MaxInterval <= 0 {
		c.MaxInterval = 30 * time.Second
	}
	if c.Jitter == 0 {
		c.Jitter = 0.5
	}
	if c.Jitter < 0 {
		c.Jitter = 0
	}
	if c.MaxRetryTime <= 0 {
		c.MaxRetryTime = 2 * time.Minute
	}
	return c
}

// errRetryTimeUsed wraps the last error when the retry-time cap ends the retries.
type errRetryTimeUsed struct {
	err   error
	spent time.Duration
}

func (e *errRetryTimeUsed) Error() string {
	return fmt.Sprintf("gave up after retrying for %s: %v", e.spent.Round(time.Millisecond), e.err)
}

func (e *errRetryTimeUsed) Unwrap() error { return e.err }

// retrier runs one provider call with the rate limit, exponential backoff and Retry-After.
type retrier struct {
	cfg   RetryConfig
	clock Clock
	rl    *rateLimits
}

// do calls op until it succeeds, fails permanently or the retry time is used. Before each
// retry after a failure, recheck (when set) asks whether the call took effect anyway: a
// timeout or 5xx may come after the provider did the work, and a write must not be sent
// twice. recheck returning true ends the retries with success.
func (r *retrier) do(ctx context.Context, app connectors.App, tenant string, op func() error,
	recheck func(err error) (bool, error)) (attempts int, err error) {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(r.cfg.InitialInterval),
		backoff.WithMaxInterval(r.cfg.MaxInterval),
		backoff.WithRandomizationFactor(r.cfg.Jitter),
		backoff.WithMaxElapsedTime(0), // the cap below also counts Retry-After waits
		backoff.WithClockProvider(r.clock),
	)
	start := r.clock.Now()
	for {
		if err := r.rl.wait(ctx, app, tenant); err != nil {
			return attempts, err
		}
		attempts++
		err = op()
		if err == nil {
			return attempts, nil
		}
		if ctx.Err() != nil {
			return attempts, err
		}
		if !retryable(err) {
			return attempts, err
		}
		// A provider's Retry-After overrides the computed wait and leaves the backoff where it was.
		d, ok := connectors.RetryAfter(err)
		if !ok {
			d = b.NextBackOff()
		}
		spent := r.clock.Now().Sub(start)
		if spent+d > r.cfg.MaxRetryTime {
			return attempts, &errRetryTimeUsed{err: err, spent: spent}
		}
		if err := r.clock.Sleep(ctx, d); err != nil {
			return attempts, err
		}
		if recheck != nil && connectors.KindOf(err) == connectors.KindTransient {
			done, rerr := recheck(err)
			if rerr == nil && done {
				return attempts, nil
			}
			// A failed re-read leaves the outcome unknown; the next write attempt is then the
			// safe move because applying the same label twice converges on the same state.
		}
	}
}

// retryable reports whether a failed call is worth retrying now. A connector's
// classification wins: transient and throttled are retried; a provider's daily limit is waited
// out by pausing the action instead. Of unclassified errors, the label engine's verdicts on the
// file and cancellation are final; anything else (a network error) is retried.
func retryable(err error) bool {
	var ce *connectors.Error
	if errors.As(err, &ce) {
		return ce.Kind == connectors.KindTransient || ce.Kind == connectors.KindThrottled
	}
	for _, final := range []error{ErrMalformed, ErrUnsupported, ErrProtected, ErrTooLarge, ErrInvalidLabel,
		connectors.ErrUnsupported, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, final) {
			return false
		}
	}
	return true
}
