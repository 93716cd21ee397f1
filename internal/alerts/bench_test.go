package alerts_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/internal/alerts"
	"github.com/labelgate/labelgate/internal/store"
)

// benchEvents measures the engine turning label_removed events into alerts and delivering
// them to a JSON-lines file (SQLite): files distinct files, or one file repeated (grouped).
func benchEvents(b *testing.B, distinct bool) {
	f := setup(b, fixtureOpt{tweakCfg: func(c *alerts.Config) {
		c.Sinks.Webhooks = nil
		c.Rules = []alerts.RuleConfig{{Name: alerts.RuleLabelRemoved, NotifyOwner: ptr(false)}}
	}})
	n := 0
	for b.Loop() {
		b.StopTimer()
		for range 100 {
			item := "same"
			if distinct {
				item = fmt.Sprint(n)
			}
			n++
			require.NoError(b, f.st.AddEvent(f.ctx, store.Event{Kind: store.EventLabelRemoved, App: testRef.App, Tenant: testRef.Tenant,
				Drive: testRef.Drive, ItemID: item, Path: "/Finance", Name: item + ".docx", PrevLabelID: "L1", Actor: "scanner"}))
		}
		b.StartTimer()
		require.NoError(b, f.eng.Tick(f.ctx))
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkEventsToAlertsDistinctFiles(b *testing.B) { benchEvents(b, true) }
func BenchmarkEventsToAlertsGrouped(b *testing.B)       { benchEvents(b, false) }
