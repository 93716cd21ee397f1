package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

// TestScanWithStaleFacts: a scan job carries the facts its walk saw (issue 21), and a user may
// delete or rewrite the file before the job runs. Opening from facts can cost no provider
// call (Drive), so the change shows only when the bytes are read. The scan must then find
// out what happened — a deleted file is recorded deleted, not live with a failed scan (what
// TestChaos caught), and a rewritten file is read at its new revision — on every provider.
func TestScanWithStaleFacts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ct := newChaosTenant(t, 7)
	byApp := map[connectors.App][]*chaosFile{}
	for _, app := range chaosApps {
		for range 2 {
			f, err := ct.add(app, labeltest.LabelGeneral, false)
			require.NoError(t, err)
			byApp[app] = append(byApp[app], f)
		}
	}
	h := startGateway(t, storetest.Backends()[0], func(c *config.Config) { c.Connectors = ct.connectors(t) })
	st := h.g.Store()
	for _, c := range []string{"sp", "od", "gd", "bx"} {
		r, err := h.g.StartRescan(ctx, c, "", false)
		require.NoError(t, err)
		require.Equal(t, store.RescanDone, waitRescan(t, st, r.ID).State, c)
	}
	for _, app := range chaosApps {
		require.Eventually(t, func() bool { return scannedCount(st, app) == 2 }, 30*time.Second, 20*time.Millisecond, app)
	}

	for _, app := range chaosApps {
		gone, changed := byApp[app][0], byApp[app][1]
		goneRec, ok := fileByName(st, app, gone.name)
		require.True(t, ok, gone.name)
		changedRec, ok := fileByName(st, app, changed.name)
		require.True(t, ok, changed.name)
		require.Equal(t, labeltest.LabelGeneral, changedRec.LabelID)

		require.NoError(t, ct.remove(gone))
		require.NoError(t, ct.rewrite(changed, labeltest.LabelConfidential, true))

		facts := goneRec.File
		require.NoError(t, h.g.ScanWith(ctx, facts.Ref, &facts, time.Now()), app)
		got, err := st.GetFile(ctx, facts.Ref)
		require.NoError(t, err)
		require.True(t, got.Deleted, "%s %s: deleted under a scan carrying facts, inventory says live (scan error %q)", app, gone.name, got.ScanError)

		facts = changedRec.File
		require.NoError(t, h.g.ScanWith(ctx, facts.Ref, &facts, time.Now()), app)
		got, err = st.GetFile(ctx, facts.Ref)
		require.NoError(t, err)
		require.False(t, got.Deleted, app)
		require.Empty(t, got.ScanError, "%s %s: rewritten under a scan carrying facts", app, changed.name)
		require.Equal(t, labeltest.LabelConfidential, got.LabelID, "%s %s: read at its new revision", app, changed.name)
	}
}
