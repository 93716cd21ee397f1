package gateway

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

// fakeClock is a settable clock shared by the gateways and stores of a test.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// schedGateway is a gateway that is built but never Run: the test drives SchedulerTick by
// hand under a fake clock, so no background loop ticks behind its back. Rescans it starts
// stay pending (they would launch when Run starts), which is all the scheduler decides.
type schedGateway struct {
	*Gateway
	closed bool
}

func newSchedGateway(t *testing.T, url string, clock *fakeClock, mutate func(*config.Config)) *schedGateway {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Server.Listen, cfg.Admin.Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Store.URL = url
	cfg.Labels.TenantID = labeltest.TenantContoso
	mutate(&cfg)
	require.Empty(t, cfg.Validate())
	g, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.DiscardHandler), Now: clock.Now, QueueTuning: fastQueue})
	require.NoError(t, err)
	sg := &schedGateway{Gateway: g}
	t.Cleanup(func() { sg.crash() })
	return sg
}

// crash stops the gateway without releasing its scheduler lease, as a killed process would.
func (g *schedGateway) crash() {
	if g.closed {
		return
	}
	g.closed = true
	ctx := context.Background()
	_ = g.public.Shutdown(ctx)
	_ = g.admin.Shutdown(ctx)
	_ = g.exec.Close()
	_ = g.store.Close()
}

// scheduledCounts counts the rescans recorded per connector.
func scheduledCounts(t *testing.T, st *store.Store) map[string]int {
	t.Helper()
	rs, err := st.ListRescans(context.Background(), false, 1000)
	require.NoError(t, err)
	out := map[string]int{}
	for _, r := range rs {
		out[r.Connector]++
	}
	return out
}

// twoShares configures two file shares: "nightly" on the global schedule and "quarter" with
// its own.
func twoShares(t *testing.T) func(*config.Config) {
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	writeCorpus(t, a)
	writeCorpus(t, b)
	return func(c *config.Config) {
		c.Rescan.Schedule = "0 2 * * *"
		c.Connectors = []config.Connector{
			{Name: "nightly", App: "fileshare", Roots: []string{a}},
			{Name: "quarter", App: "fileshare", Tenant: "branch", Roots: []string{b}, Rescan: "*/15 * * * *"},
		}
	}
}

func at(day, hour, minute, sec int) time.Time {
	return time.Date(2026, 3, day, hour, minute, sec, 0, time.UTC)
}

func TestSchedulerRunsCronRescansOnTimeAndOnce(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := b.OpenURL(t)
			clock := &fakeClock{t: at(10, 1, 40, 0)}
			mutate := twoShares(t)
			g := newSchedGateway(t, url, clock, mutate)
			tick := func(g *schedGateway, when time.Time, want map[string]int) {
				t.Helper()
				clock.Set(when)
				require.NoError(t, g.SchedulerTick(ctx))
				require.Equal(t, want, scheduledCounts(t, g.Store()), "at %s", when.Format(time.TimeOnly))
			}
			none := map[string]int{}

			// The first look only records when the schedule was last considered: a fresh
			// install does not start every rescan at once.
			tick(g, at(10, 1, 40, 0), none)
			tick(g, at(10, 1, 44, 59), none)
			// The per-connector schedule overrides the global one: "quarter" runs at 01:45,
			// "nightly" waits for 02:00.
			tick(g, at(10, 1, 45, 0), map[string]int{"quarter": 1})
			tick(g, at(10, 1, 45, 30), map[string]int{"quarter": 1})
			tick(g, at(10, 1, 59, 59), map[string]int{"quarter": 1})
			tick(g, at(10, 2, 0, 0), map[string]int{"quarter": 2, "nightly": 1})
			tick(g, at(10, 2, 0, 30), map[string]int{"quarter": 2, "nightly": 1})

			// A crash and restart: the dead replica's lease blocks the new one until it runs
			// out, and then the stored last run keeps 02:00 from repeating.
			g.crash()
			g2 := newSchedGateway(t, url, clock, mutate)
			tick(g2, at(10, 2, 1, 0), map[string]int{"quarter": 2, "nightly": 1})
			lead, err := g2.Store().TryLease(ctx, leaderName, "someone-else", time.Minute)
			require.NoError(t, err)
			require.False(t, lead, "the restarted replica took the lease once the dead one's expired")
			tick(g2, at(10, 2, 14, 59), map[string]int{"quarter": 2, "nightly": 1})

			// Down across two of quarter's times (02:15, 02:30): one catch-up run, not two.
			g2.crash()
			g3 := newSchedGateway(t, url, clock, mutate)
			tick(g3, at(10, 2, 40, 0), map[string]int{"quarter": 3, "nightly": 1})
			tick(g3, at(10, 2, 41, 0), map[string]int{"quarter": 3, "nightly": 1})
			tick(g3, at(10, 2, 45, 0), map[string]int{"quarter": 4, "nightly": 1})
			// The next night.
			tick(g3, at(11, 1, 59, 0), map[string]int{"quarter": 5, "nightly": 1})
			tick(g3, at(11, 2, 0, 0), map[string]int{"quarter": 6, "nightly": 2})

			rs, err := g3.Store().ListRescans(ctx, false, 100)
			require.NoError(t, err)
			for _, r := range rs {
				require.False(t, r.Force, "scheduled rescans skip unchanged files")
				require.Empty(t, r.Scope)
			}
		})
	}
}

// TestSchedulerOnlyLeaderRuns puts two replicas on one PostgreSQL database: only the one
// holding the "scheduler" lease starts scheduled rescans, and when it dies the other takes
// over without repeating a run.
func TestSchedulerOnlyLeaderRuns(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		if b.Name != store.Postgres {
			continue // one SQLite file serves one replica
		}
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := b.OpenURL(t)
			clock := &fakeClock{t: at(10, 1, 40, 0)}
			mutate := twoShares(t)
			ga := newSchedGateway(t, url, clock, mutate)
			gb := newSchedGateway(t, url, clock, mutate)
			pending := func(g *schedGateway) int {
				g.rescans.mu.Lock()
				defer g.rescans.mu.Unlock()
				return len(g.rescans.pending)
			}

			// Both replicas tick every 30 s, in alternating order, for half an hour.
			now := at(10, 1, 40, 0)
			for i := 0; now.Before(at(10, 2, 10, 0)); i++ {
				clock.Set(now)
				first, second := ga, gb
				if i%2 == 1 {
					first, second = gb, ga
				}
				require.NoError(t, first.SchedulerTick(ctx))
				require.NoError(t, second.SchedulerTick(ctx))
				now = now.Add(30 * time.Second)
			}
			// quarter at 01:45, 02:00; nightly at 02:00 — each once, all by the first leader.
			require.Equal(t, map[string]int{"quarter": 2, "nightly": 1}, scheduledCounts(t, ga.Store()))
			require.Equal(t, 3, pending(ga))
			require.Zero(t, pending(gb), "the follower started nothing")

			// The leader dies; the follower takes over once the lease runs out and runs the
			// next time (02:15) once.
			ga.crash()
			for ; now.Before(at(10, 2, 20, 0)); now = now.Add(30 * time.Second) {
				clock.Set(now)
				require.NoError(t, gb.SchedulerTick(ctx))
			}
			require.Equal(t, map[string]int{"quarter": 3, "nightly": 1}, scheduledCounts(t, gb.Store()))
			// The new leader also resumes the three rescans the dead one left running.
			require.Equal(t, 4, pending(gb))
		})
	}
}
