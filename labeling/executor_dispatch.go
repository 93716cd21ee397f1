package labeling

import (
	"context"
	"errors"
	"sync"

	"github.com/labelgate/labelgate/internal/store"
)

// DrainStats counts what one Drain did.
type DrainStats struct {
	Resumed  int64          // paused actions whose quota window reset
	Executed int            // actions claimed and run
	States   map[string]int // outcomes by resulting state
	Skipped  int            // actions another worker or replica took first
	Errors   int            // store failures (the action stays where it was)
}

// batchSize is how many due actions one dispatcher query fetches.
const batchSize = 256

// Drain resumes paused actions whose quota window has reset, then runs every pending
// label action that is due, admins' manual actions first, then oldest first, with Workers at
// a time, until none is left that it can claim. Actions that the quota pauses, or that go back
// to pending for a later try, stay out of this drain.
//
// Drain is the dispatcher without the job queue (one process, the CLI, tests); QueueDispatcher
// runs actions as queue jobs instead. Both claim through the store, which is safe with several
// replicas because ClaimAction is the only way in.
func (e *Executor) Drain(ctx context.Context) (DrainStats, error) {
	st := DrainStats{States: map[string]int{}}
	n, err := e.st.ResumePaused(ctx, e.clock.Now())
	if err != nil {
		return st, err
	}
	st.Resumed = n
	var mu sync.Mutex
	var firstErr error
	fail := func(what string, id int64, err error) { // mu held
		st.Errors++
		if firstErr == nil {
			firstErr = err
		}
		e.log.Warn(what, "id", id, "err", err)
	}
	for ctx.Err() == nil {
		due, err := e.st.RunnableActions(ctx, store.RunnableFilter{Now: e.clock.Now(), ManualFirst: true, Limit: batchSize})
		if err != nil {
			return st, err
		}
		if len(due) == 0 {
			break
		}
		// Claims are made one by one in queue order, so the quota goes to the oldest actions
		// (manual ones first); the provider work then runs on Workers goroutines.
		claimed := 0
		work := make(chan store.Claim)
		var wg sync.WaitGroup
		for range min(e.cfg.Workers, len(due)) {
			wg.Go(func() {
				for c := range work {
					out, err := e.runClaimed(ctx, c)
					mu.Lock()
					if err != nil && !errors.Is(err, context.Canceled) {
						fail("executing action", c.Action.ID, err)
					} else {
						st.States[out.State]++
					}
					mu.Unlock()
				}
			})
		}
		for _, a := range due {
			if ctx.Err() != nil {
				break
			}
			id := a.ID
			c, err := e.claim(ctx, id)
			if err != nil {
				mu.Lock()
				fail("claiming action", id, err)
				mu.Unlock()
				continue
			}
			switch {
			case c.Claimed:
				claimed++
				mu.Lock()
				st.Executed++
				mu.Unlock()
				work <- c
			case c.Paused:
				claimed++ // progress: it left pending
				mu.Lock()
				st.States[store.ActionPaused]++
				mu.Unlock()
			default:
				mu.Lock()
				st.Skipped++
				mu.Unlock()
			}
		}
		close(work)
		wg.Wait()
		if claimed == 0 {
			// Every due action was taken by someone else or failed on the store: stop rather
			// than spin; the next poll tries again.
			break
		}
	}
	if firstErr != nil {
		return st, firstErr
	}
	return st, ctx.Err()
}

// Wake asks Run to look for due actions now instead of at the next poll; call it after
// recording actions.
func (e *Executor) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run drains due actions every PollInterval (or when woken) until ctx ends: the dispatcher
// to use without the job queue. At start it requeues actions left running by a worker that
// died (older than StaleAfter).
func (e *Executor) Run(ctx context.Context) error {
	return e.loop(ctx, func(ctx context.Context) error {
		st, err := e.Drain(ctx)
		if err == nil && (st.Executed > 0 || st.Resumed > 0) {
			e.log.Info("actions drained", "executed", st.Executed, "resumed", st.Resumed, "states", st.States)
		}
		return err
	})
}

// loop runs pass at start and then every PollInterval or on Wake, until ctx ends.
func (e *Executor) loop(ctx context.Context, pass func(context.Context) error) error {
	if n, err := e.st.RequeueStale(ctx, e.clock.Now().Add(-e.cfg.StaleAfter)); err != nil {
		e.log.Warn("requeueing stale actions", "err", err)
	} else if n > 0 {
		e.log.Info("requeued actions left running", "count", n)
	}
	for {
		if err := pass(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("dispatching actions", "err", err)
		}
		if ctx.Err() != nil {
			return nil
		}
		wctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-e.wake:
				cancel()
			case <-wctx.Done():
			}
		}()
		_ = e.clock.Sleep(wctx, e.cfg.PollInterval)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
	}
}
