package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"

	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
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
				ev, _, err := rec.Record(ctx, store.ScanOutcome{File: file(id, id+".docx"), Type: "word", LabelID: "L1", LabelTenant: "t1"})
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
		_, _, err = rec.Record(gone, store.ScanOutcome{File: file("c99", "x.docx"), Type: "word"})
		require.ErrorIs(t, err, context.Canceled)
	})
}

// upsertOverTwoDrives puts n files into the inventory, item ids prefix000…, every third in
// drive d2 and the rest in d1, and returns their refs in that order.
func upsertOverTwoDrives(t *testing.T, s *store.Store, prefix string, n int) []connectors.FileRef {
	t.Helper()
	refs := make([]connectors.FileRef, 0, n)
	for i := range n {
		f := file(fmt.Sprintf("%s%03d", prefix, i), "f.docx")
		if i%3 == 0 {
			f.Ref.Drive = "d2"
		}
		_, _, err := s.UpsertFile(context.Background(), f)
		require.NoError(t, err)
		refs = append(refs, f.Ref)
	}
	return refs
}

// GetFiles reads any number of files across chunks and drives, leaving out unknown ones.
func TestGetFilesChunksAndDrives(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		refs := upsertOverTwoDrives(t, s, "g", 150)
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

// The row RecordScans returns is the row GetFile reads back, whatever the outcome: a new
// file, one the walk recorded first, a label change, a failed read, lists and nanosecond
// times (the store keeps milliseconds).
func TestRecordScansReturnTheRow(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		walked := file("r2", "walked.pptx")
		_, _, err := s.UpsertFile(ctx, walked)
		require.NoError(t, err)
		rich := file("r1", "Rich.DOCX")
		rich.Created = time.Unix(1700000000, 123456789)
		rich.Modified = time.Unix(1700000500, 987654321)
		rich.Groups, rich.Domains, rich.OwnerOU, rich.WebURL = []string{"g1", "g2"}, []string{"partner.org"}, "/Sales", "https://x/r1"
		rich.Access = connectors.AccessExternal
		rich.NativeLabel = "native-1" // not stored: the row has none
		setAt := time.Unix(1700000600, 555555555)
		batches := [][]store.ScanOutcome{
			{{File: rich, Type: "word", LabelID: "L1", LabelTenant: "t1", LabelMethod: "Standard", LabelSetAt: setAt,
				Protected: true, External: true, BytesRead: 4096}},
			{{File: walked, Type: "powerpoint"}, {File: rich, Type: "word", Err: "malformed zip"},
				{File: file("r4", "broken.docx"), Type: "word", Err: "malformed zip"}},
			{{File: file("r3", "new.xlsx"), Type: "excel"}, {File: rich, Type: "word", LabelID: "L2", LabelTenant: "t1"}},
		}
		for _, outs := range batches {
			res := s.RecordScans(ctx, outs)
			for i, r := range res {
				require.NoError(t, r.Err)
				last := true
				for _, later := range outs[i+1:] {
					last = last && later.File.Ref != outs[i].File.Ref
				}
				if !last {
					continue
				}
				want, err := s.GetFile(ctx, outs[i].File.Ref)
				require.NoError(t, err)
				require.Equal(t, want, r.Record, "outcome %d of %v", i, outs[i].File.Ref)
			}
		}
	})
}

// Replicas pacing one tenant count each other while they refresh their rows; a replica
// that stopped saying so drops out after the TTL.
func TestPacerShares(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
			s := storetest.Open(t, b, func(c *store.Config) {
				c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			})
			advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
			ctx := context.Background()
			n, err := s.PacerShares(ctx, "graph", "contoso", "r1")
			require.NoError(t, err)
			require.Equal(t, 1, n)
			n, err = s.PacerShares(ctx, "graph", "contoso", "r2")
			require.NoError(t, err)
			require.Equal(t, 2, n)
			n, err = s.PacerShares(ctx, "box", "contoso", "r1")
			require.NoError(t, err)
			require.Equal(t, 1, n, "another provider's budget is apart")
			advance(store.PacerShareTTL / 2)
			n, err = s.PacerShares(ctx, "graph", "contoso", "r1")
			require.NoError(t, err)
			require.Equal(t, 2, n, "r2 said so within the TTL")
			advance(store.PacerShareTTL/2 + time.Second)
			n, err = s.PacerShares(ctx, "graph", "contoso", "r1")
			require.NoError(t, err)
			require.Equal(t, 1, n, "r2 stopped refreshing: r1 has the budget alone")
		})
	}
}

// A walk's seen marks and a batch of scan outcomes touch the same files at once, in
// opposite orders. On PostgreSQL each takes its rows' locks as it goes, so unordered they
// deadlocked and the database failed one of them: a rescan failed in CI that way. Both lock
// in key order, and neither may fail.
func TestSeenMarksAndScansDoNotDeadlock(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const n = 40
		files := make([]connectors.File, n)
		refs := make([]connectors.FileRef, n)
		for i := range files {
			files[i] = file(fmt.Sprintf("dl%02d", i), fmt.Sprintf("f%02d.docx", i))
			refs[i] = files[i].Ref
			_, _, err := s.UpsertFile(ctx, files[i])
			require.NoError(t, err)
		}
		r, err := s.CreateRescan(ctx, store.Rescan{Connector: "c", Scope: "d1"})
		require.NoError(t, err)
		for round := range 15 {
			var wg sync.WaitGroup
			var stepErr error
			var res []store.ScanResult
			wg.Add(2)
			go func() {
				defer wg.Done()
				stepErr = s.RecordRescanStep(ctx, store.RescanStep{Rescan: r.ID + int64(round), Seen: refs, Enumerated: n,
					App: connectors.AppSharePoint, Tenant: "t1", Drive: "d1", Kind: "k"})
			}()
			go func() {
				defer wg.Done()
				outs := make([]store.ScanOutcome, n)
				for i := range outs {
					outs[i] = store.ScanOutcome{File: files[n-1-i], Type: "word", LabelID: fmt.Sprintf("L%d", round)}
				}
				res = s.RecordScans(ctx, outs)
			}()
			wg.Wait()
			require.NoError(t, stepErr, "round %d", round)
			for _, r := range res {
				require.NoError(t, r.Err)
			}
		}
	})
}
