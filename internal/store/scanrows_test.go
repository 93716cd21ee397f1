package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
)

// A group commit of outcomes for distinct files is written with multi-row statements; the
// inventory, the files' label lists and the discovery log must come out exactly as the same
// outcomes recorded one by one: new files and known ones, label changes, failed reads that
// keep the label, files with several labels, access changes, and batches past one chunk.
func TestRecordScansBatchMatchesOneByOne(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			clock, advance := clockAt(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
			batched, single := storetest.Open(t, b, clock), storetest.Open(t, b, clock)
			ctx := context.Background()
			const n = 150 // more than one chunk of 64
			f := func(i int) connectors.File {
				x := file(fmt.Sprintf("m%03d", i), fmt.Sprintf("f%03d.docx", i))
				if i%7 == 0 {
					x.Ref.Drive = "d2"
				}
				return x
			}
			// Known before the scans: a third of the files, some with a label and another access.
			for _, s := range []*store.Store{batched, single} {
				for i := 0; i < n; i += 3 {
					x := f(i)
					if i%2 == 0 {
						x.Access = connectors.AccessPublic
					}
					_, _, err := s.UpsertFile(ctx, x)
					require.NoError(t, err)
				}
			}
			round := func(r int) []store.ScanOutcome {
				var outs []store.ScanOutcome
				for i := range n {
					o := store.ScanOutcome{File: f(i), Type: "word", BytesRead: int64(100 + i)}
					switch (i + r) % 5 {
					case 0:
						o.LabelID, o.LabelTenant, o.LabelMethod = "L1", "t1", "Standard"
						o.Labels = []store.CarriedLabel{{LabelID: "L1", Tenant: "t1", Method: "Standard", Source: "labelinfo"}}
					case 1:
						o.LabelID, o.LabelTenant, o.External = "X9", "other", true
						o.LabelSetAt = time.UnixMilli(1700000000123)
						o.Labels = []store.CarriedLabel{{LabelID: "X9", Tenant: "other", Source: "custom", External: true},
							{LabelID: "L2", Tenant: "t1", Source: "custom", Name: "Two"}}
					case 2:
						o.Err = "malformed zip"
					case 3:
						o.Protected = true
						o.LabelID, o.LabelTenant = "L2", "t1"
						o.Labels = []store.CarriedLabel{{LabelID: "L2", Tenant: "t1", Source: "labelinfo"}}
					}
					outs = append(outs, o)
				}
				return outs
			}
			for r := range 3 {
				outs := round(r)
				res := batched.RecordScans(ctx, outs)
				for i, o := range outs {
					require.NoError(t, res[i].Err)
					ev, err := single.RecordScan(ctx, o)
					require.NoError(t, err)
					require.Equal(t, ev, res[i].Events, "round %d outcome %d", r, i)
				}
				advance(time.Minute)
			}
			var refs []connectors.FileRef
			for i := range n {
				refs = append(refs, f(i).Ref)
			}
			a, err := batched.GetFiles(ctx, refs)
			require.NoError(t, err)
			want, err := single.GetFiles(ctx, refs)
			require.NoError(t, err)
			require.Len(t, a, n)
			require.Equal(t, want, a)
			for _, r := range refs {
				la, err := batched.FileLabels(ctx, r)
				require.NoError(t, err)
				lw, err := single.FileLabels(ctx, r)
				require.NoError(t, err)
				require.Equal(t, lw, la, r.ItemID)
			}
			ea, err := batched.ListEvents(ctx, store.EventFilter{}, 10000)
			require.NoError(t, err)
			ew, err := single.ListEvents(ctx, store.EventFilter{}, 10000)
			require.NoError(t, err)
			require.Len(t, ea, len(ew))
			require.Greater(t, len(ew), n)
			count := func(es []store.Event) map[store.Event]int {
				m := map[store.Event]int{}
				for _, e := range es {
					e.ID = 0
					m[e]++
				}
				return m
			}
			require.Equal(t, count(ew), count(ea))
		})
	}
}

// Seen marks go out a chunk of a drive's files per statement: past one chunk, across drives,
// with repeated and unknown files, every known file is marked and no other.
func TestMarkSeenChunksAndDrives(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			testMarkSeenChunksAndDrives(t, b)
		})
	}
}

func testMarkSeenChunksAndDrives(t *testing.T, b storetest.Backend) {
	clock, advance := clockAt(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
	s := storetest.Open(t, b, clock)
	ctx := context.Background()
	var seen, want []connectors.FileRef
	for i, r := range upsertOverTwoDrives(t, s, "s", 150) {
		if i%10 == 9 { // every tenth is not seen
			want = append(want, r)
		} else {
			seen = append(seen, r)
		}
	}
	seen = append(seen, seen[3], seen[70], ref("unknown"))
	advance(time.Second) // the rescan starts after the files entered the inventory
	r, err := s.CreateRescan(ctx, store.Rescan{Connector: "sp", App: connectors.AppSharePoint, Tenant: "t1"})
	require.NoError(t, err)
	require.NoError(t, s.MarkSeen(ctx, r.ID, seen))
	var gone []connectors.FileRef
	for _, d := range []string{"d1", "d2"} {
		g, err := s.Unseen(ctx, r.ID, connectors.AppSharePoint, "t1", d)
		require.NoError(t, err)
		gone = append(gone, g...)
	}
	require.ElementsMatch(t, want, gone)
}
