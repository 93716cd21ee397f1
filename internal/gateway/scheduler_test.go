package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/graph/emulator"
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

// catalogEmulator is a Graph tenant whose sensitivity labels are the given ones.
func catalogEmulator(t *testing.T, labels []emulator.Label) *emulator.Server {
	t.Helper()
	m := graphManifest()
	m.Labels = labels
	em, err := emulator.New(emulator.Options{Manifest: m, ClientID: "e2e-app", ClientSecret: "e2e-secret"})
	require.NoError(t, err)
	t.Cleanup(em.Close)
	return em
}

// TestSchedulerSyncsCatalogHourly follows the label catalog through the scheduler under a
// fake clock: synced on the first tick, not again within the hour (across a restart), and
// when the tenant's catalog changed meanwhile — a label disabled, one deleted, one renamed,
// one added — the next sync keeps the disabled label shown as disabled, hides the deleted
// one, and logs each change as a discovery event.
func TestSchedulerSyncsCatalogHourly(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := b.OpenURL(t)
			clock := &fakeClock{t: at(10, 9, 0, 0)}
			before := catalogEmulator(t, []emulator.Label{
				{ID: labeltest.LabelPublic, Name: "Public", DisplayName: "Public", Priority: 0},
				{ID: labeltest.LabelGeneral, Name: "General", DisplayName: "General", Priority: 1},
				{ID: labeltest.LabelConfidential, Name: "Confidential", DisplayName: "Confidential", Priority: 2, Protection: true},
			})
			after := catalogEmulator(t, []emulator.Label{
				{ID: labeltest.LabelPublic, Name: "Public (anyone)", DisplayName: "Public (anyone)", Priority: 0},
				{ID: labeltest.LabelGeneral, Name: "General", DisplayName: "General", Priority: 1, Disabled: true},
				{ID: "new-label", Name: "Restricted", DisplayName: "Restricted", Priority: 3},
			})
			graphConn := func(em *emulator.Server) func(*config.Config) {
				return func(c *config.Config) {
					c.Connectors = []config.Connector{{Name: "sp", App: "sharepoint", Tenant: em.TenantID(), BaseURL: em.GraphURL(), AuthURL: em.URL(),
						ClientID: "e2e-app", ClientSecret: "e2e-secret", Domains: []string{"contoso.com"}}}
				}
			}
			tenant := before.TenantID()
			catalogEvents := func(st *store.Store) map[string]string {
				evs, err := st.ListEvents(ctx, store.EventFilter{App: "sharepoint"}, 100)
				require.NoError(t, err)
				out := map[string]string{}
				for _, e := range evs {
					if strings.HasPrefix(e.Kind, "catalog_") {
						out[e.LabelID+" "+e.Kind] = e.Detail
					}
				}
				return out
			}

			g := newSchedGateway(t, url, clock, graphConn(before))
			require.NoError(t, g.SchedulerTick(ctx))
			ls, err := g.Store().ListLabels(ctx, store.LabelFilter{App: "sharepoint", Tenant: tenant})
			require.NoError(t, err)
			require.Len(t, ls, 3, "synced on the first tick")
			require.Len(t, catalogEvents(g.Store()), 3, "three labels added")
			g.crash()

			// Restarted against the changed tenant within the hour: no sync yet.
			g2 := newSchedGateway(t, url, clock, graphConn(after))
			clock.Set(at(10, 9, 59, 0))
			require.NoError(t, g2.SchedulerTick(ctx))
			require.Len(t, catalogEvents(g2.Store()), 3)
			general, err := g2.Store().GetLabel(ctx, "sharepoint", tenant, labeltest.LabelGeneral)
			require.NoError(t, err)
			require.Equal(t, store.LabelEnabled, general.State)

			clock.Set(at(10, 10, 0, 0))
			require.NoError(t, g2.SchedulerTick(ctx))
			evs := catalogEvents(g2.Store())
			require.Contains(t, evs, labeltest.LabelGeneral+" "+store.EventCatalogState)
			require.Contains(t, evs, labeltest.LabelConfidential+" "+store.EventCatalogDeleted)
			require.Contains(t, evs, "new-label "+store.EventCatalogAdded)
			require.Contains(t, evs, labeltest.LabelPublic+" "+store.EventCatalogRenamed)
			require.Len(t, evs, 3+3+1, "disabled, deleted, added and renamed: one event each")

			ls, err = g2.Store().ListLabels(ctx, store.LabelFilter{App: "sharepoint", Tenant: tenant})
			require.NoError(t, err)
			shown := map[string]store.CatalogLabel{}
			for _, l := range ls {
				shown[l.ID] = l
			}
			require.NotContains(t, shown, labeltest.LabelConfidential, "a deleted label is hidden")
			require.Equal(t, store.LabelDisabled, shown[labeltest.LabelGeneral].State, "a disabled label is kept, shown disabled")
			require.Contains(t, shown, "new-label")
			conf, err := g2.Store().GetLabel(ctx, "sharepoint", tenant, labeltest.LabelConfidential)
			require.NoError(t, err)
			require.Equal(t, store.LabelDeleted, conf.State)
		})
	}
}

// TestOnlyThisTenantIgnoresExternalLabels scans the corpus (which holds files labelled by
// another tenant) with labels.onlyThisTenant: those files are recorded unlabelled and no
// external label enters the catalog; without the setting they carry the foreign label,
// marked external, and the catalog records it.
func TestOnlyThisTenantIgnoresExternalLabels(t *testing.T) {
	t.Parallel()
	for _, only := range []bool{true, false} {
		t.Run(fmt.Sprintf("onlyThisTenant=%v", only), func(t *testing.T) {
			t.Parallel()
			share := filepath.Join(t.TempDir(), "share")
			cases := writeCorpus(t, share)
			h := startGateway(t, storetest.Backends()[0], func(c *config.Config) {
				c.Labels.OnlyThisTenant = only
				c.Connectors = []config.Connector{{Name: "shares", App: "fileshare", Roots: []string{share}}}
			})
			ctx := context.Background()
			st := h.g.Store()
			r, err := h.g.StartRescan(ctx, "shares", "", false)
			require.NoError(t, err)
			require.Equal(t, store.RescanDone, waitRescan(t, st, r.ID).State)
			require.Eventually(t, func() bool { return scannedCount(st, connectors.AppFileShare) == len(cases) }, 30*time.Second, 20*time.Millisecond)

			foreign := 0
			for _, c := range cases {
				if c.WantErr || c.WantLabel == "" || c.WantTenant == "" || c.WantTenant == labeltest.TenantContoso {
					continue
				}
				foreign++
				rec, ok := fileByName(st, connectors.AppFileShare, c.Name)
				require.True(t, ok, c.Name)
				if only {
					require.Empty(t, rec.LabelID, c.Name)
					require.False(t, rec.LabelExternal, c.Name)
				} else {
					require.Equal(t, c.WantLabel, rec.LabelID, c.Name)
					require.True(t, rec.LabelExternal, c.Name)
				}
			}
			require.Positive(t, foreign, "the corpus has files labelled by another tenant")
			ls, err := st.ListLabels(ctx, store.LabelFilter{App: connectors.AppFileShare})
			require.NoError(t, err)
			external := 0
			for _, l := range ls {
				if l.External {
					external++
				}
			}
			if only {
				require.Zero(t, external)
			} else {
				require.Positive(t, external)
			}
		})
	}
}
