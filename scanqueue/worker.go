package scanqueue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/labelgate/labelgate/connectors"
)

// SnoozeError asks for a job to be resumed later without counting a failed attempt.
// Build it with Snooze or SnoozeUntil.
type SnoozeError struct {
	For   time.Duration
	Until time.Time
}

func (e *SnoozeError) Error() string {
	if !e.Until.IsZero() {
		return "snoozed until " + e.Until.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("snoozed for %s", e.For)
}

// Snooze, returned by a handler, resumes the job after d without counting a failure.
func Snooze(d time.Duration) error { return &SnoozeError{For: max(d, 0)} }

// SnoozeUntil, returned by a handler, resumes the job at t (e.g. when a daily quota
// resets) without counting a failure.
func SnoozeUntil(t time.Time) error { return &SnoozeError{Until: t} }

// worker adapts one kind's handler to River.
type worker struct {
	river.WorkerDefaults[envelope]
	q    *Queue
	kind string
	run  func(ctx context.Context, rj *river.Job[envelope]) error
}

func (w *worker) Work(ctx context.Context, rj *river.Job[envelope]) error {
	q := w.q
	q.retryAfter.Delete(rj.ID)
	// Each partition's queue already caps its own jobs; this caps the process. Waiters
	// queue in arrival order, so partitions keep taking turns under the global cap.
	select {
	case q.sem <- struct{}{}:
	case <-ctx.Done():
		return river.JobSnooze(0)
	}
	defer func() { <-q.sem }()
	start := time.Now()
	err := w.run(ctx, rj)
	q.metrics.duration.WithLabelValues(w.kind).Observe(time.Since(start).Seconds())
	return q.outcome(ctx, w.kind, rj, err)
}

// NextRetry honours a provider's Retry-After recorded by outcome; zero falls back to the
// client's backoff policy.
func (w *worker) NextRetry(job *river.Job[envelope]) time.Time {
	if v, ok := w.q.retryAfter.LoadAndDelete(job.ID); ok {
		return w.q.now().Add(v.(time.Duration))
	}
	return time.Time{}
}

// outcome maps a handler's result onto River's job states.
func (q *Queue) outcome(ctx context.Context, kind string, rj *river.Job[envelope], err error) error {
	count := func(outcome string) { q.metrics.finished.WithLabelValues(kind, outcome).Inc() }
	if err == nil {
		count("completed")
		return nil
	}
	var sn *SnoozeError
	if errors.As(err, &sn) {
		d := sn.For
		if !sn.Until.IsZero() {
			d = sn.Until.Sub(q.now())
		}
		count("snoozed")
		return river.JobSnooze(max(d, 0))
	}
	if ctx.Err() != nil && q.stopping.Load() {
		// Cut short by shutdown: not the job's fault, so it runs again at once elsewhere
		// or after the restart without spending an attempt.
		count("interrupted")
		return river.JobSnooze(0)
	}
	var cancelErr *rivertype.JobCancelError
	if errors.As(err, &cancelErr) {
		count("dead")
		return err
	}
	if !connectors.Retryable(err) {
		count("dead")
		return river.JobCancel(err)
	}
	if rj.Attempt >= rj.MaxAttempts {
		count("dead")
		return err // River discards it with this error
	}
	if d, ok := connectors.RetryAfter(err); ok {
		q.retryAfter.Store(rj.ID, d)
	}
	count("retried")
	return err
}

// backoffPolicy is River's retry policy: exponential with jitter, from backoff/v4.
type backoffPolicy struct {
	base, max time.Duration
	now       func() time.Time
}

func (p *backoffPolicy) NextRetry(row *rivertype.JobRow) time.Time {
	return p.now().Add(p.delay(row.Attempt))
}

// delay is the wait after the attempt-th failed attempt: base·2^(attempt-1), ±50 %,
// capped at max.
func (p *backoffPolicy) delay(attempt int) time.Duration {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     p.base,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         p.max,
		MaxElapsedTime:      0,
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	b.Reset()
	d := p.base
	for i := 0; i < max(attempt, 1) && i < 64; i++ {
		d = b.NextBackOff()
	}
	return d
}
