package scanqueue

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
)

func TestMerge(t *testing.T) {
	t.Parallel()
	for _, backend := range backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			q, _ := setup(t, backend, nil)
			ctx := context.Background()
			r := ref("acme", "f1")
			later := time.Now().Add(time.Hour)

			req := Scan(r, ReasonRescan)
			req.RunAt = later
			res, err := q.EnqueueScans(ctx, req)
			require.NoError(t, err)
			require.Equal(t, 1, res.Inserted)
			id := res.IDs[0]
			state, prio, sched, _, _ := jobRow(t, q, id)
			require.Equal(t, "scheduled", state)
			require.Equal(t, 4, prio)
			require.WithinDuration(t, later, sched, time.Second)

			// A webhook for the same file: more urgent and due now — merged, no new row.
			res, err = q.EnqueueScans(ctx, Scan(r, ReasonWebhook))
			require.NoError(t, err)
			require.Equal(t, EnqueueResult{Merged: 1, IDs: []int64{id}}, res)
			state, prio, sched, _, args := jobRow(t, q, id)
			require.Equal(t, "available", state)
			require.Equal(t, 2, prio)
			require.WithinDuration(t, time.Now(), sched, 5*time.Second)
			require.Equal(t, ReasonWebhook, args.Reason)

			// A less urgent, later request changes nothing.
			req = Scan(r, ReasonPolicy)
			req.RunAt = later
			res, err = q.EnqueueScans(ctx, req)
			require.NoError(t, err)
			require.Equal(t, 1, res.Merged)
			_, prio, sched2, _, args := jobRow(t, q, id)
			require.Equal(t, 2, prio)
			require.Equal(t, sched, sched2)
			require.Equal(t, ReasonWebhook, args.Reason)

			// An equally urgent request carries a later state of the file (the change feed's
			// facts after the user's last save): its args replace the job's, so the scan does
			// not read the file with the size it had before.
			res, err = q.EnqueueScans(ctx, ScanFacts(connectors.File{Ref: r, Name: "a.docx", Size: 10}, ReasonWebhook, 1))
			require.NoError(t, err)
			require.Equal(t, 1, res.Merged)
			res, err = q.EnqueueScans(ctx, ScanFacts(connectors.File{Ref: r, Name: "a.docx", Size: 20}, ReasonWebhook, 2))
			require.NoError(t, err)
			require.Equal(t, 1, res.Merged)
			_, prio, _, _, args = jobRow(t, q, id)
			require.Equal(t, 2, prio)
			require.NotNil(t, args.Facts)
			require.EqualValues(t, 20, args.Facts.Size)
			require.EqualValues(t, 2, args.FactsAt)

			// Duplicates inside one batch collapse to the most urgent; other files insert.
			res, err = q.EnqueueScans(ctx, Scan(ref("acme", "f2"), ReasonRescan), Scan(ref("acme", "f2"), ReasonAdmin),
				Scan(ref("acme", "f3"), ReasonPolicy), Scan(r, ReasonAdmin))
			require.NoError(t, err)
			require.Equal(t, 2, res.Inserted)
			require.Equal(t, 2, res.Merged)
			require.Equal(t, res.IDs[0], res.IDs[1])
			require.Equal(t, id, res.IDs[3])
			_, prio, _, _, args = jobRow(t, q, res.IDs[0])
			require.Equal(t, 1, prio)
			require.Equal(t, ReasonAdmin, args.Reason)
			_, prio, _, _, _ = jobRow(t, q, id)
			require.Equal(t, 1, prio)
			require.Equal(t, 3, countJobs(t, q, "kind = 'scan'"))
		})
	}
}

func TestPriorityOrder(t *testing.T) {
	t.Parallel()
	for _, backend := range backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			q, _ := setup(t, backend, func(c *Config) { c.Workers, c.PartitionWorkers = 1, 1 })
			ctx := context.Background()
			var mu sync.Mutex
			var order []Reason
			done := make(chan struct{})
			require.NoError(t, q.Scans().Handle(func(ctx context.Context, job *ScanJob) error {
				mu.Lock()
				defer mu.Unlock()
				order = append(order, job.Args.Reason)
				if len(order) == 4 {
					close(done)
				}
				return nil
			}))
			_, err := q.EnqueueScans(ctx, Scan(ref("t", "1"), ReasonRescan), Scan(ref("t", "2"), ReasonPolicy),
				Scan(ref("t", "3"), ReasonWebhook), Scan(ref("t", "4"), ReasonAdmin))
			require.NoError(t, err)
			require.NoError(t, q.Start(ctx))
			waitOrFail(t, done)
			require.Equal(t, []Reason{ReasonAdmin, ReasonWebhook, ReasonPolicy, ReasonRescan}, order)
		})
	}
}

// A change arriving while its file is being scanned is scanned again afterwards.
func TestRerunAfterRunning(t *testing.T) {
	t.Parallel()
	for _, backend := range backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			q, _ := setup(t, backend, nil)
			ctx := context.Background()
			started, release := make(chan struct{}), make(chan struct{})
			var runs atomic.Int32
			reasons := make(chan Reason, 10)
			require.NoError(t, q.Scans().Handle(func(ctx context.Context, job *ScanJob) error {
				if runs.Add(1) == 1 {
					close(started)
					<-release
				}
				reasons <- job.Args.Reason
				return nil
			}))
			r := ref("acme", "busy")
			res, err := q.EnqueueScans(ctx, Scan(r, ReasonRescan))
			require.NoError(t, err)
			first := res.IDs[0]
			require.NoError(t, q.Start(ctx))
			waitOrFail(t, started)

			res, err = q.EnqueueScans(ctx, Scan(r, ReasonPolicy))
			require.NoError(t, err)
			require.Equal(t, EnqueueResult{Deferred: 1, IDs: []int64{first}}, res)
			res, err = q.EnqueueScans(ctx, Scan(r, ReasonWebhook))
			require.NoError(t, err)
			require.Equal(t, 1, res.Deferred)
			require.Equal(t, 1, countJobs(t, q, "kind = 'scan'"), "no second row while running")
			close(release)
			t0 := time.Now()
			require.Equal(t, ReasonRescan, recvOrFail(t, reasons))
			require.Equal(t, ReasonWebhook, recvOrFail(t, reasons), "rerun carries the most urgent request")
			t.Logf("rerun after %s", time.Since(t0))
			require.Eventually(t, func() bool { return countJobs(t, q, "state = 'completed'") == 2 }, 10*time.Second, 10*time.Millisecond)
			time.Sleep(100 * time.Millisecond)
			require.Equal(t, int32(2), runs.Load(), "two requests during the run make one rerun")
		})
	}
}

// A job held by a worker that died becomes available again: at once when the same worker
// restarts, after the lease when another worker picks it up.
func TestLeaseRescue(t *testing.T) {
	t.Parallel()
	for _, backend := range backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			q, h := setup(t, backend, func(c *Config) { c.Lease, c.JobTimeout = time.Second, 500*time.Millisecond })
			ctx := context.Background()
			res, err := q.EnqueueScans(ctx, Scan(ref("a", "mine"), ReasonAdmin), Scan(ref("a", "theirs"), ReasonAdmin))
			require.NoError(t, err)
			// Both jobs were taken an hour ago, one by this worker in a previous life, one by
			// a worker that never came back.
			attemptedBy := func(id string) string {
				if h.backend == "postgres" {
					return "ARRAY['" + id + "']"
				}
				return `jsonb('["` + id + `"]')`
			}
			old := q.d.timeArg(time.Now().Add(-time.Hour))
			for i, who := range []string{q.cfg.WorkerID, "gone-worker"} {
				_, err := q.eng.db().Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = $1,
					attempted_by = `+attemptedBy(who)+` WHERE id = $2`, old, res.IDs[i])
				require.NoError(t, err)
			}
			done := make(chan string, 2)
			require.NoError(t, q.Scans().Handle(func(ctx context.Context, job *ScanJob) error {
				done <- job.Args.Ref.ItemID
				return nil
			}))
			require.NoError(t, q.Start(ctx))
			require.Equal(t, "mine", recvOrFail(t, done))
			require.Equal(t, "theirs", recvOrFail(t, done))
		})
	}
}

func TestRetriesSnoozeAndDeadLetter(t *testing.T) {
	t.Parallel()
	for _, backend := range backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			q, _ := setup(t, backend, func(c *Config) { c.RetryBase, c.RetryMax, c.MaxAttempts = 10*time.Minute, time.Hour, 3 })
			ctx := context.Background()
			var heal atomic.Bool
			require.NoError(t, q.Scans().Handle(func(ctx context.Context, job *ScanJob) error {
				if heal.Load() {
					return nil
				}
				switch job.Args.Ref.ItemID {
				case "transient":
					return connectors.Errorf(connectors.KindTransient, "read", 503, 0, errors.New("unavailable"))
				case "throttled":
					return connectors.Errorf(connectors.KindThrottled, "read", 429, 2*time.Hour, nil)
				case "gone":
					return connectors.Errorf(connectors.KindNotFound, "read", 404, 0, nil)
				case "quota":
					return SnoozeUntil(time.Now().Add(3 * time.Hour))
				case "last":
					return errors.New("still broken")
				}
				return nil
			}))
			ids := map[string]int64{}
			for _, item := range []string{"transient", "throttled", "gone", "quota"} {
				res, err := q.EnqueueScans(ctx, Scan(ref("t", item), ReasonAdmin))
				require.NoError(t, err)
				ids[item] = res.IDs[0]
			}
			last := Scan(ref("t", "last"), ReasonAdmin)
			last.MaxAttempts = 1
			res, err := q.EnqueueScans(ctx, last)
			require.NoError(t, err)
			ids["last"] = res.IDs[0]
			start := time.Now()
			require.NoError(t, q.Start(ctx))

			waitState := func(id int64, want string) {
				t.Helper()
				require.Eventually(t, func() bool { s, _, _, _, _ := jobRow(t, q, id); return s == want },
					10*time.Second, 10*time.Millisecond, "job %d never became %s", id, want)
			}
			waitState(ids["transient"], "retryable")
			_, _, at, attempt, _ := jobRow(t, q, ids["transient"])
			require.Equal(t, 1, attempt)
			delay := at.Sub(start)
			require.GreaterOrEqual(t, delay, 5*time.Minute-time.Second, "backoff: base ±50%%")
			require.LessOrEqual(t, delay, 15*time.Minute+5*time.Second)

			waitState(ids["throttled"], "retryable")
			_, _, at, _, _ = jobRow(t, q, ids["throttled"])
			require.WithinDuration(t, start.Add(2*time.Hour), at, 10*time.Second, "Retry-After overrides backoff")

			waitState(ids["quota"], "scheduled")
			_, _, at, attempt, _ = jobRow(t, q, ids["quota"])
			require.Equal(t, 0, attempt, "a snooze is not a failed attempt")
			require.WithinDuration(t, start.Add(3*time.Hour), at, 10*time.Second)

			waitState(ids["gone"], "cancelled")
			waitState(ids["last"], "discarded")
			dead, err := q.Dead(ctx, 10)
			require.NoError(t, err)
			require.Len(t, dead, 2)
			byID := map[int64]DeadJob{}
			for _, d := range dead {
				byID[d.ID] = d
			}
			require.Contains(t, byID[ids["gone"]].Error, "not found")
			require.Equal(t, "still broken", byID[ids["last"]].Error)
			require.Equal(t, ref("t", "last").Key(), byID[ids["last"]].Key)

			st, err := q.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, int64(2), st.Dead)
			require.Equal(t, int64(3), st.ByApp["box"])
			// The alerts' dead-letter count, and the gauge's stats without completed jobs.
			n, err := q.DeadCount(ctx)
			require.NoError(t, err)
			require.Equal(t, int64(2), n)
			lean, err := q.stats(ctx, false)
			require.NoError(t, err)
			require.NotContains(t, lean.ByState, "completed")
			want := st
			want.ByState = maps.Clone(st.ByState)
			delete(want.ByState, "completed")
			lean.OldestPendingSeconds, want.OldestPendingSeconds = 0, 0
			require.Equal(t, want, lean)

			require.ErrorIs(t, q.Requeue(ctx, ids["quota"]), ErrNotDead)
			require.ErrorIs(t, q.Requeue(ctx, 999999), ErrNotFound)
			heal.Store(true)
			require.NoError(t, q.Requeue(ctx, ids["last"]))
			waitState(ids["last"], "completed")
			dead, err = q.Dead(ctx, 10)
			require.NoError(t, err)
			require.Len(t, dead, 1)
			n, err = q.DeadCount(ctx)
			require.NoError(t, err)
			require.Equal(t, int64(1), n)
		})
	}
}

func TestBackoffDelay(t *testing.T) {
	t.Parallel()
	p := &backoffPolicy{base: time.Second, max: time.Minute, now: time.Now}
	seen := map[time.Duration]bool{}
	for attempt := 1; attempt <= 10; attempt++ {
		want := min(time.Second<<(attempt-1), time.Minute)
		for range 20 {
			d := p.delay(attempt)
			seen[d] = true
			require.GreaterOrEqual(t, d, want/2, "attempt %d", attempt)
			require.LessOrEqual(t, d, want*3/2, "attempt %d", attempt)
		}
	}
	require.Greater(t, len(seen), 100, "delays are jittered")
}

// One tenant's backlog does not starve another tenant.
func TestFairness(t *testing.T) {
	t.Parallel()
	for _, backend := range backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			q, _ := setup(t, backend, func(c *Config) { c.Workers, c.PartitionWorkers = 4, 2 })
			ctx := context.Background()
			var processed atomic.Int64
			var mu sync.Mutex
			var smallAt []int64
			smallDone := make(chan struct{})
			require.NoError(t, q.Scans().Handle(func(ctx context.Context, job *ScanJob) error {
				n := processed.Add(1)
				if job.Args.Ref.Tenant == "small" {
					mu.Lock()
					smallAt = append(smallAt, n)
					if len(smallAt) == 10 {
						close(smallDone)
					}
					mu.Unlock()
				}
				return nil
			}))
			batch := make([]Request[ScanArgs], 0, 1000)
			for i := range 5000 {
				batch = append(batch, Scan(ref("huge", "f"+itoa(i)), ReasonWebhook))
				if len(batch) == cap(batch) {
					_, err := q.EnqueueScans(ctx, batch...)
					require.NoError(t, err)
					batch = batch[:0]
				}
			}
			for i := range 10 {
				batch = append(batch, Scan(ref("small", "f"+itoa(i)), ReasonWebhook))
			}
			_, err := q.EnqueueScans(ctx, batch...)
			require.NoError(t, err)
			require.NoError(t, q.Start(ctx))
			waitOrFail(t, smallDone)
			mu.Lock()
			defer mu.Unlock()
			t.Logf("small tenant's jobs ran at positions %v of 5010", smallAt)
			require.LessOrEqual(t, smallAt[9], int64(100), "10 jobs behind 5,000 finish within the first 100 processed")
		})
	}
}

func TestGracefulStop(t *testing.T) {
	t.Parallel()
	for _, backend := range backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			q, _ := setup(t, backend, nil)
			ctx := context.Background()
			_, err := q.eng.db().Exec(ctx, `CREATE TABLE effect (k TEXT NOT NULL)`)
			require.NoError(t, err)
			started := make(chan string, 2)
			require.NoError(t, q.Scans().Handle(func(ctx context.Context, job *ScanJob) error {
				started <- job.Args.Ref.ItemID
				if job.Args.Ref.ItemID == "slow" {
					<-ctx.Done() // a long scan that never finishes on its own
				}
				// The effect commits with the completion or not at all. (Work happens before
				// the transaction: on SQLite an open one holds the database's write lock.)
				return job.CompleteTx(ctx, func(ctx context.Context, tx Tx) error {
					_, err := tx.Exec(ctx, `INSERT INTO effect (k) VALUES ($1)`, job.Args.Ref.ItemID)
					return err
				})
			}))
			res, err := q.EnqueueScans(ctx, Scan(ref("t", "slow"), ReasonAdmin), Scan(ref("t", "quick"), ReasonRescan))
			require.NoError(t, err)
			require.NoError(t, q.Start(ctx))
			got := map[string]bool{recvOrFail(t, started): true, recvOrFail(t, started): true}
			require.Len(t, got, 2)
			require.Eventually(t, func() bool { return countJobs(t, q, "state = 'completed'") == 1 }, 5*time.Second, 10*time.Millisecond)
			stopCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			require.Error(t, q.Stop(stopCtx), "the slow job outlives the deadline")
			var n int
			require.NoError(t, q.eng.db().QueryRow(ctx, `SELECT COUNT(*) FROM effect`).Scan(&n))
			require.Equal(t, 1, n, "the cancelled job's write rolled back")
			state, _, _, attempt, _ := jobRow(t, q, res.IDs[0])
			require.Equal(t, "available", state, "the cancelled job is due again")
			require.Equal(t, 0, attempt, "without spending an attempt")
		})
	}
}

func waitOrFail(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatal("timed out")
	}
}

func recvOrFail[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatal("timed out")
	}
	var zero T
	return zero
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestMergeBatch merges one batch into several pending jobs at once: each job takes the
// more urgent of its own and its request's priority, args and due time.
func TestMergeBatch(t *testing.T) {
	t.Parallel()
	for _, backend := range backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			q, _ := setup(t, backend, nil)
			ctx := context.Background()
			later := time.Now().Add(time.Hour)
			var reqs []Request[ScanArgs]
			for i := range 6 {
				req := Scan(ref("acme", fmt.Sprint("f", i)), ReasonPolicy)
				req.RunAt = later
				reqs = append(reqs, req)
			}
			res, err := q.EnqueueScans(ctx, reqs...)
			require.NoError(t, err)
			require.Equal(t, 6, res.Inserted)
			ids := res.IDs

			// Even files: a webhook due now. Odd files: a rescan due later still.
			reqs = reqs[:0]
			for i := range 6 {
				if i%2 == 0 {
					reqs = append(reqs, Scan(ref("acme", fmt.Sprint("f", i)), ReasonWebhook))
					continue
				}
				req := Scan(ref("acme", fmt.Sprint("f", i)), ReasonRescan)
				req.RunAt = later.Add(time.Hour)
				reqs = append(reqs, req)
			}
			res, err = q.EnqueueScans(ctx, reqs...)
			require.NoError(t, err)
			require.Equal(t, 6, res.Merged)
			require.Equal(t, ids, res.IDs)
			for i, id := range ids {
				state, prio, sched, _, args := jobRow(t, q, id)
				if i%2 == 0 {
					require.Equal(t, "available", state, "file %d", i)
					require.Equal(t, int(PriorityWebhook), prio)
					require.WithinDuration(t, time.Now(), sched, 5*time.Second)
					require.Equal(t, ReasonWebhook, args.Reason)
					continue
				}
				require.Equal(t, "scheduled", state, "file %d", i)
				require.Equal(t, int(PriorityPolicy), prio)
				require.WithinDuration(t, later, sched, time.Second)
				require.Equal(t, ReasonPolicy, args.Reason)
			}
			require.Equal(t, 6, countJobs(t, q, "kind = 'scan'"))
		})
	}
}
