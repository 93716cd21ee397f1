package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
)

// A scan that carries new sharing logs access_changed like UpsertFile does (issue 23: the
// demo's webhook-triggered scans shared files publicly and logged nothing), with the label
// the file carries now; a failed read names the stored label; no change, no event.
func TestRecordScanLogsAccessChanges(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := file("acc1", "Plan.docx")
		ev, err := s.RecordScan(ctx, store.ScanOutcome{File: f, Type: "word", LabelID: "L1", LabelTenant: "t1"})
		require.NoError(t, err)
		require.Len(t, ev, 1, "a first sighting is no access change")

		f.Access, f.ETag = connectors.AccessPublic, "e2"
		ev, err = s.RecordScan(ctx, store.ScanOutcome{File: f, Type: "word", LabelID: "L1", LabelTenant: "t1"})
		require.NoError(t, err)
		require.Len(t, ev, 1)
		require.Equal(t, store.EventAccessChanged, ev[0].Kind)
		require.Equal(t, "internal -> public", ev[0].Detail)
		require.Equal(t, "L1", ev[0].LabelID)

		ev, err = s.RecordScan(ctx, store.ScanOutcome{File: f, Type: "word", LabelID: "L1", LabelTenant: "t1"})
		require.NoError(t, err)
		require.Empty(t, ev, "same sharing, same label: nothing")

		// Sharing and label change together: both are logged.
		f.Access = connectors.AccessExternal
		ev, err = s.RecordScan(ctx, store.ScanOutcome{File: f, Type: "word", LabelID: "L2", LabelTenant: "t1"})
		require.NoError(t, err)
		require.Len(t, ev, 2)
		require.Equal(t, store.EventAccessChanged, ev[0].Kind)
		require.Equal(t, "public -> external", ev[0].Detail)
		require.Equal(t, "L2", ev[0].LabelID)
		require.Equal(t, store.EventLabelChanged, ev[1].Kind)

		// A failed read still logs the sharing change, with the label on record.
		f.Access = connectors.AccessPrivate
		ev, err = s.RecordScan(ctx, store.ScanOutcome{File: f, Type: "word", Err: "truncated"})
		require.NoError(t, err)
		require.Len(t, ev, 2)
		require.Equal(t, store.EventAccessChanged, ev[0].Kind)
		require.Equal(t, "L2", ev[0].LabelID)
		require.Equal(t, store.EventScanFailed, ev[1].Kind)

		// UpsertFile first (a change feed), then the scan: logged once, not twice.
		f.Access = connectors.AccessInternal
		_, _, err = s.UpsertFile(ctx, f)
		require.NoError(t, err)
		ev, err = s.RecordScan(ctx, store.ScanOutcome{File: f, Type: "word", LabelID: "L2", LabelTenant: "t1"})
		require.NoError(t, err)
		for _, e := range ev {
			require.NotEqual(t, store.EventAccessChanged, e.Kind)
		}
		logged, err := s.ListEvents(ctx, store.EventFilter{Kind: store.EventAccessChanged, ItemRef: &f.Ref}, 10)
		require.NoError(t, err)
		require.Len(t, logged, 4)
	})
}
