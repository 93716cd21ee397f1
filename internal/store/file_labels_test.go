package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/internal/store"
)

// TestFileLabelsKeepsEveryTenantsLabel: the inventory keeps all of a file's labels, each with
// its tenant, method, set date and source; a new scan replaces them, a failed one does not, and
// labelgate's own write leaves exactly its label.
func TestFileLabelsKeepsEveryTenantsLabel(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := file("i1", "deck.pptx")
		set := time.UnixMilli(1739420881000).UTC()
		own := store.CarriedLabel{LabelID: "L-own", Tenant: "org", Method: "standard", Source: "labelinfo"}
		ext := store.CarriedLabel{LabelID: "L-ext", Tenant: "other", Method: "standard", SetAt: set, Source: "custom",
			Name: "Amber", External: true}
		sub := store.CarriedLabel{LabelID: "L-child", Tenant: "org", Method: "privileged", Source: "ole-props", ParentID: "L-own"}

		none, err := s.FileLabels(ctx, f.Ref)
		require.NoError(t, err)
		require.Empty(t, none)

		_, err = s.RecordScan(ctx, store.ScanOutcome{File: f, Type: "powerpoint", LabelID: own.LabelID, LabelTenant: own.Tenant,
			External: true, Labels: []store.CarriedLabel{own, ext}})
		require.NoError(t, err)
		got, err := s.FileLabels(ctx, f.Ref)
		require.NoError(t, err)
		require.Equal(t, []store.CarriedLabel{own, ext}, got)
		rec, err := s.GetFile(ctx, f.Ref)
		require.NoError(t, err)
		require.Equal(t, "L-own", rec.LabelID)
		require.True(t, rec.LabelExternal, "the file carries another tenant's label")
		n, err := s.CountFiles(ctx, store.FileFilter{External: true})
		require.NoError(t, err)
		require.EqualValues(t, 1, n)

		// A failed scan leaves the list; a new scan replaces it.
		_, err = s.RecordScan(ctx, store.ScanOutcome{File: f, Err: "malformed"})
		require.NoError(t, err)
		got, err = s.FileLabels(ctx, f.Ref)
		require.NoError(t, err)
		require.Len(t, got, 2)
		_, err = s.RecordScan(ctx, store.ScanOutcome{File: f, Type: "powerpoint", LabelID: sub.LabelID, LabelTenant: sub.Tenant,
			Labels: []store.CarriedLabel{sub}})
		require.NoError(t, err)
		got, err = s.FileLabels(ctx, f.Ref)
		require.NoError(t, err)
		require.Equal(t, []store.CarriedLabel{sub}, got)

		// labelgate's write leaves exactly its label; its removal none.
		require.NoError(t, s.SetFileLabel(ctx, f.Ref, "L-new", "org", "privileged", "executor", ""))
		got, err = s.FileLabels(ctx, f.Ref)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, "L-new", got[0].LabelID)
		require.Equal(t, "labelgate", got[0].Source)
		require.False(t, got[0].SetAt.IsZero())
		require.NoError(t, s.SetFileLabel(ctx, f.Ref, "", "", "", "executor", ""))
		got, err = s.FileLabels(ctx, f.Ref)
		require.NoError(t, err)
		require.Empty(t, got)

		// Another file's labels are its own.
		g := file("i2", "other.docx")
		_, err = s.RecordScan(ctx, store.ScanOutcome{File: g, Type: "word", LabelID: "L-own", LabelTenant: "org", Labels: []store.CarriedLabel{own}})
		require.NoError(t, err)
		got, err = s.FileLabels(ctx, f.Ref)
		require.NoError(t, err)
		require.Empty(t, got)
	})
}
