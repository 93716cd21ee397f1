package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"

	"github.com/labelgate/labelgate/internal/store"
)

// RecordScans must leave the inventory and the discovery log exactly as the same outcomes
// recorded one by one, including two outcomes of one file in one batch.
func TestRecordScansMatchesOneByOne(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		outs := []store.ScanOutcome{
			{File: file("b1", "a.docx"), Type: "word"},
			{File: file("b2", "b.xlsx"), Type: "excel", LabelID: "L1", LabelTenant: "t1"},
			{File: file("b1", "a.docx"), Type: "word", LabelID: "L2", LabelTenant: "t1"},
			{File: file("b3", "c.pdf"), Type: "pdf", Err: "malformed pdf"},
		}
		res := s.RecordScans(ctx, outs)
		require.Len(t, res, len(outs))
		kinds := make([]string, len(res))
		for i, r := range res {
			require.NoError(t, r.Err)
			require.Len(t, r.Events, 1)
			kinds[i] = r.Events[0].Kind
		}
		require.Equal(t, []string{store.EventDiscovered, store.EventDiscovered, store.EventLabelAdded, store.EventScanFailed}, kinds)
		rec, err := s.GetFile(ctx, ref("b1"))
		require.NoError(t, err)
		require.Equal(t, "L2", rec.LabelID)
		rec, err = s.GetFile(ctx, ref("b3"))
		require.NoError(t, err)
		require.Equal(t, "malformed pdf", rec.ScanError)
	})
}

// Concurrent scans share commits and each gets its own events; a caller that has given up
// gets its context's error.
func TestScanRecorderConcurrent(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		rec := s.NewScanRecorder(8)
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("c%02d", i)
				ev, err := rec.Record(ctx, store.ScanOutcome{File: file(id, id+".docx"), Type: "word", LabelID: "L1", LabelTenant: "t1"})
				if err == nil && (len(ev) != 1 || ev[0].Kind != store.EventDiscovered || ev[0].ItemID != id) {
					err = fmt.Errorf("%s: events %+v", id, ev)
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		refs := make([]connectors.FileRef, 0, 40)
		for i := range 40 {
			refs = append(refs, ref(fmt.Sprintf("c%02d", i)))
		}
		have, err := s.GetFiles(ctx, refs)
		require.NoError(t, err)
		require.Len(t, have, 40)
		for _, r := range have {
			require.Equal(t, "L1", r.LabelID)
			require.False(t, r.LastScanned.IsZero())
		}

		gone, cancel := context.WithCancel(ctx)
		cancel()
		_, err = rec.Record(gone, store.ScanOutcome{File: file("c99", "x.docx"), Type: "word"})
		require.ErrorIs(t, err, context.Canceled)
	})
}

// GetFiles reads any number of files across chunks and drives, leaving out unknown ones.
func TestGetFilesChunksAndDrives(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		var refs []connectors.FileRef
		for i := range 150 {
			f := file(fmt.Sprintf("g%03d", i), "f.docx")
			if i%3 == 0 {
				f.Ref.Drive = "d2"
			}
			_, _, err := s.UpsertFile(ctx, f)
			require.NoError(t, err)
			refs = append(refs, f.Ref)
		}
		refs = append(refs, ref("missing"))
		have, err := s.GetFiles(ctx, refs)
		require.NoError(t, err)
		require.Len(t, have, 150)
		for _, r := range refs[:150] {
			require.Equal(t, r, have[r].Ref)
		}
		empty, err := s.GetFiles(ctx, nil)
		require.NoError(t, err)
		require.Empty(t, empty)
	})
}
