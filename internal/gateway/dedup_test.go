package gateway

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

// idleConn stands for a provider connector whose webhooks recorded dedup keys; the prune job
// only needs its app and route name.
type idleConn struct{ app connectors.App }

func (c idleConn) App() connectors.App                                { return c.app }
func (c idleConn) Tenant() string                                     { return "t-" + string(c.app) }
func (c idleConn) Drives(context.Context) ([]connectors.Drive, error) { return nil, nil }
func (c idleConn) Walk(context.Context, string, string, func(connectors.File, string) error) error {
	return nil
}
func (c idleConn) Changes(_ context.Context, _ string, cur string, _ func(connectors.File) error) (string, error) {
	return cur, nil
}
func (c idleConn) Stat(context.Context, connectors.FileRef) (connectors.File, error) {
	return connectors.File{}, connectors.Errorf(connectors.KindNotFound, "stat", 0, 0, nil)
}
func (c idleConn) Open(context.Context, connectors.FileRef) (connectors.Object, error) {
	return nil, connectors.Errorf(connectors.KindNotFound, "open", 0, 0, nil)
}

func dedupGateway(t *testing.T, url string, clock *fakeClock) *schedGateway {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Server.Listen, cfg.Admin.Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Store.URL = url
	cfg.Labels.TenantID = labeltest.TenantContoso
	g, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.DiscardHandler), Now: clock.Now, QueueTuning: fastQueue,
		Connectors: []*Conn{{Name: "box", C: idleConn{connectors.AppBox}}, {Name: "drive", C: idleConn{connectors.AppGDrive}}}})
	require.NoError(t, err)
	sg := &schedGateway{Gateway: g}
	t.Cleanup(func() { sg.crash() })
	return sg
}

func dedupRows(t *testing.T, g *schedGateway) float64 {
	t.Helper()
	mfs, err := g.prom.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "labelgate_webhook_dedup_records" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("labelgate_webhook_dedup_records is not in /metrics")
	return 0
}

// The scheduler's leader prunes webhook dedup records once each provider's retry window is
// over (Box: hours, Drive: a channel's lifetime); another replica does not; the table's row
// count is in /metrics.
func TestLeaderPrunesWebhookDedupRecords(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			url := b.OpenURL(t)
			t0 := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
			clock := &fakeClock{t: t0}
			leader, other := dedupGateway(t, url, clock), dedupGateway(t, url, clock)
			first := func(key string) bool {
				t.Helper()
				ok, err := leader.store.FirstDelivery(ctx, key)
				require.NoError(t, err)
				return ok
			}
			require.NoError(t, leader.SchedulerTick(ctx)) // takes the lease
			for _, k := range []string{"box|box:1", "drive|gdrive/ch1/1", "removed|x:1"} {
				require.True(t, first(k))
			}
			require.EqualValues(t, 3, dedupRows(t, other))

			// Within Box's retry window the key stays a duplicate.
			clock.Set(clock.Now().Add(2 * time.Hour))
			require.NoError(t, leader.SchedulerTick(ctx))
			require.False(t, first("box|box:1"))

			// Past it: the leader drops it.
			clock.Set(clock.Now().Add(90 * time.Minute))
			require.NoError(t, leader.SchedulerTick(ctx))
			require.EqualValues(t, 2, dedupRows(t, other))

			// The other replica does not prune while the leader holds the lease.
			now := clock.Now()
			clock.Set(now.Add(-4 * time.Hour))
			require.True(t, first("box|box:2"))
			clock.Set(now)
			require.NoError(t, other.SchedulerTick(ctx))
			require.False(t, first("box|box:2"), "only the leader prunes")
			clock.Set(now.Add(11 * time.Minute))
			require.NoError(t, leader.SchedulerTick(ctx))
			require.EqualValues(t, 2, dedupRows(t, leader))
			require.EqualValues(t, 2, dedupRows(t, other))

			// A Drive channel's keys and unknown keys go after the longest window.
			clock.Set(t0.Add(7 * 24 * time.Hour))
			require.NoError(t, leader.SchedulerTick(ctx))
			require.False(t, first("drive|gdrive/ch1/1"))
			clock.Set(t0.Add(7*24*time.Hour + 2*time.Hour))
			require.NoError(t, leader.SchedulerTick(ctx))
			require.EqualValues(t, 0, dedupRows(t, leader))
			require.True(t, first("drive|gdrive/ch1/1"))
		})
	}
}
