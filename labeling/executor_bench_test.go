package labeling_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling"
)

// BenchmarkExecutorDrain queues 10,000 apply-label actions (files in the inventory, quota counted
// but never reached, no rate limit) against an in-memory provider and measures draining them: the
// executor's own cost per action, the provider taking no time. cpu-µs/action is the CPU the
// test process spent per action (PostgreSQL's own CPU is not in it).
func BenchmarkExecutorDrain(b *testing.B) {
	for _, be := range storetest.Backends() {
		b.Run(string(be.Name), func(b *testing.B) {
			const n = 10000
			ctx := context.Background()
			var total int
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				st := storetest.Open(b, be)
				conn := newMemConn(connectors.AppSharePoint, "t1")
				syncCatalog(b, st, conn.app, conn.tenant)
				for i := range n {
					f := conn.add(fmt.Sprint("f", i), "f.docx", 10, connectors.LabelState{})
					_, _, err := st.UpsertFile(ctx, f)
					require.NoError(b, err)
					_, _, err = st.AddAction(ctx, store.Action{Key: fmt.Sprint("k", i), Kind: store.ActionApplyLabel, Ref: f.Ref, LabelID: lGeneral})
					require.NoError(b, err)
				}
				require.NoError(b, st.Analyze(ctx))
				ex, err := labeling.NewExecutor(labeling.ExecutorConfig{Store: st, Connectors: labeling.Connectors(nativeConn{conn}),
					Quota: labeling.QuotaConfig{Default: 1 << 30, Manual: 1 << 30}}) // counted, never reached
				require.NoError(b, err)
				b.StartTimer()
				c0 := processCPU()
				stats, err := ex.Drain(ctx)
				cpu += processCPU() - c0
				require.NoError(b, err)
				b.StopTimer()
				require.Equal(b, n, stats.States[store.ActionDone])
				require.Equal(b, n, conn.Writes())
				total += n
				st.Close()
				b.StartTimer()
			}
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(total)/sec, "actions/s")
			b.ReportMetric(sec*1e6/float64(total), "µs/action")
			b.ReportMetric(float64(cpu.Microseconds())/float64(total), "cpu-µs/action")
		})
	}
}

// BenchmarkExecute measures one action at a time (claim, catalog check, stat, read, write,
// completion with inventory and event) against a provider that takes no time: the executor's
// latency overhead per action.
func BenchmarkExecute(b *testing.B) {
	for _, be := range storetest.Backends() {
		b.Run(string(be.Name), func(b *testing.B) {
			ctx := context.Background()
			st := storetest.Open(b, be)
			conn := newMemConn(connectors.AppSharePoint, "t1")
			syncCatalog(b, st, conn.app, conn.tenant)
			ids := make([]int64, b.N)
			require.NoError(b, st.Tx(ctx, func(tx *store.Tx) error {
				for i := range b.N {
					f := conn.add(fmt.Sprint("f", i), "f.docx", 10, connectors.LabelState{})
					id, _, err := tx.AddAction(ctx, store.Action{Key: fmt.Sprint("k", i), Kind: store.ActionApplyLabel, Ref: f.Ref, LabelID: lGeneral})
					if err != nil {
						return err
					}
					ids[i] = id
				}
				return nil
			}))
			for i := range b.N {
				f := conn.add(fmt.Sprint("f", i), "f.docx", 10, connectors.LabelState{})
				_, _, err := st.UpsertFile(ctx, f)
				require.NoError(b, err)
			}
			require.NoError(b, st.Analyze(ctx))
			ex, err := labeling.NewExecutor(labeling.ExecutorConfig{Store: st, Connectors: labeling.Connectors(nativeConn{conn}),
				Quota: labeling.QuotaConfig{Default: 1 << 30, Manual: 1 << 30}})
			require.NoError(b, err)
			b.ResetTimer()
			c0 := processCPU()
			for i := range b.N {
				out, err := ex.Execute(ctx, ids[i])
				if err != nil || out.State != store.ActionDone {
					b.Fatalf("action %d: %v %+v", ids[i], err, out)
				}
			}
			b.ReportMetric(float64((processCPU()-c0).Microseconds())/float64(b.N), "cpu-µs/action")
		})
	}
}

// processCPU is the CPU time this process has used (user + system): on a shared machine it
// measures the executor's own cost where wall time also measures the neighbours.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
