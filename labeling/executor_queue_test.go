package labeling_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling"
	"github.com/labelgate/labelgate/scanqueue"
)

// Actions run as jobs of the real queue on the store's own database: manual ones within the
// manual allowance, policy ones up to the quota, the rest paused with their jobs snoozed
// until the reset; sweeping again runs nothing twice.
func TestQueueDispatch(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			st := storetest.Open(t, b)
			ctx := context.Background()
			conn := newMemConn(connectors.AppBox, "t1")
			syncCatalog(t, st, conn.app, conn.tenant)
			q, err := scanqueue.Open(ctx, scanqueue.Config{SQLite: sqliteDB(st), Postgres: st.Pool(),
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registerer: prometheus.NewRegistry(),
				WorkerID: "exec-test", FetchPollInterval: 20 * time.Millisecond, FetchCooldown: time.Millisecond,
				MaintenanceInterval: 20 * time.Millisecond})
			require.NoError(t, err)
			ex, err := labeling.NewExecutor(labeling.ExecutorConfig{Store: st, Connectors: labeling.Connectors(nativeConn{conn}),
				Quota: labeling.QuotaConfig{Default: 3, Manual: 1}})
			require.NoError(t, err)
			d, err := ex.OnQueue(q)
			require.NoError(t, err)
			var ids []int64
			for i := range 5 {
				f := conn.add(fmt.Sprint("f", i), "f.docx", 10, connectors.LabelState{})
				id, _, err := st.AddAction(ctx, store.Action{Key: fmt.Sprint("k", i), Kind: store.ActionApplyLabel, Ref: f.Ref,
					LabelID: lGeneral, Manual: i == 4, RequestedBy: "admin"})
				require.NoError(t, err)
				ids = append(ids, id)
			}
			n, err := d.Sweep(ctx)
			require.NoError(t, err)
			require.Equal(t, 5, n)
			require.NoError(t, q.Start(ctx))
			t.Cleanup(func() {
				sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = q.Stop(sctx)
			})
			counts := func() map[string]int64 {
				c, err := st.CountActions(ctx)
				require.NoError(t, err)
				return c
			}
			require.Eventually(t, func() bool {
				c := counts()
				return c[store.ActionDone] == 4 && c[store.ActionPaused] == 1
			}, 20*time.Second, 20*time.Millisecond)
			a, err := st.GetAction(ctx, ids[4])
			require.NoError(t, err)
			require.Equal(t, store.ActionDone, a.State, "the manual action has its own allowance")

			n, err = d.Sweep(ctx)
			require.NoError(t, err)
			require.Zero(t, n, "nothing is due: the paused action waits for the reset")
			require.Eventually(t, func() bool {
				s, err := q.Stats(ctx)
				require.NoError(t, err)
				return s.ByState["scheduled"] == 1 && s.ByState["running"] == 0 && s.ByState["available"] == 0
			}, 20*time.Second, 20*time.Millisecond, "the paused action's job sleeps until the reset")
			require.Equal(t, 4, conn.Writes())
		})
	}
}

// sqliteDB is the store's database handle when it is SQLite (the queue takes exactly one).
func sqliteDB(st *store.Store) *sql.DB {
	if st.Dialect() == store.SQLite {
		return st.DB()
	}
	return nil
}
