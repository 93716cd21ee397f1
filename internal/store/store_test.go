package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
)

// forEachBackend runs one conformance test against SQLite and, when configured, PostgreSQL.
func forEachBackend(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	t.Helper()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			fn(t, storetest.Open(t, b))
		})
	}
}

// clockAt is a store option whose clock starts at start and moves only by advance.
func clockAt(start time.Time) (opt func(*store.Config), advance func(time.Duration)) {
	var mu sync.Mutex
	now := start
	opt = func(c *store.Config) {
		c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	}
	advance = func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	return opt, advance
}

func ref(item string) connectors.FileRef {
	return connectors.FileRef{App: connectors.AppSharePoint, Tenant: "t1", Drive: "d1", ItemID: item}
}

func file(item, name string) connectors.File {
	return connectors.File{Ref: ref(item), Path: "/Finance", Name: name, Size: 100, ETag: "e1",
		Owner: "ann@contoso.com", Access: connectors.AccessInternal, Modified: time.UnixMilli(1700000000000).UTC()}
}

func TestMigrationsIdempotentAndReady(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			url := b.OpenURL(t)
			ctx := context.Background()
			for i := 0; i < 2; i++ {
				s, err := store.Open(ctx, store.Config{URL: url})
				require.NoError(t, err)
				require.NoError(t, s.Ready(ctx))
				require.NoError(t, s.Close())
			}
		})
	}
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		if b.Name != store.Postgres {
			continue
		}
		url := b.OpenURL(t)
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := store.Open(context.Background(), store.Config{URL: url})
				if err == nil {
					s.Close()
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	}
}

func TestBadURL(t *testing.T) {
	t.Parallel()
	_, err := store.Open(context.Background(), store.Config{URL: "mysql://u:secret@h/db"})
	require.ErrorContains(t, err, "store.url")
	require.NotContains(t, err.Error(), "secret")
}

func TestCursors(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		c, err := s.GetCursor(ctx, connectors.AppBox, "t", "d", store.CursorChanges)
		require.NoError(t, err)
		require.Empty(t, c)
		require.NoError(t, s.PutCursor(ctx, connectors.AppBox, "t", "d", store.CursorChanges, "a"))
		require.NoError(t, s.PutCursor(ctx, connectors.AppBox, "t", "d", store.CursorChanges, "b"))
		c, err = s.GetCursor(ctx, connectors.AppBox, "t", "d", store.CursorChanges)
		require.NoError(t, err)
		require.Equal(t, "b", c)
		require.NoError(t, s.PutCursor(ctx, connectors.AppBox, "t", "d", store.CursorChanges, ""))
		c, err = s.GetCursor(ctx, connectors.AppBox, "t", "d", store.CursorChanges)
		require.NoError(t, err)
		require.Empty(t, c)
	})
}

func TestSubscriptions(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		exp := time.Now().Add(time.Hour).Truncate(time.Millisecond).UTC()
		sub := connectors.Subscription{ID: "s1", Drive: "d1", Secret: "cs", Expires: exp, NotifyURL: "http://x"}
		require.NoError(t, s.PutSubscription(ctx, connectors.AppOneDrive, "t", sub))
		got, ok, err := s.Subscription(ctx, connectors.AppOneDrive, "t", "s1")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "cs", got.Secret)
		require.Equal(t, exp, got.Expires)
		_, ok, err = s.Subscription(ctx, connectors.AppSharePoint, "t", "s1")
		require.NoError(t, err)
		require.False(t, ok, "subscriptions are per app")
		list, err := s.Subscriptions(ctx, connectors.AppOneDrive, "t")
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.NoError(t, s.DeleteSubscription(ctx, connectors.AppOneDrive, "t", "s1"))
		_, ok, _ = s.Subscription(ctx, connectors.AppOneDrive, "t", "s1")
		require.False(t, ok)
	})
}

func TestChangedDrivesCoalesce(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for i := 0; i < 5; i++ {
			require.NoError(t, s.MarkDriveChanged(ctx, connectors.AppSharePoint, "t", "d", "webhook"))
		}
		ds, err := s.ChangedDrives(ctx, 10)
		require.NoError(t, err)
		require.Len(t, ds, 1, "marks coalesce")
		// A mark arriving while the worker reads must survive the clear.
		require.NoError(t, s.MarkDriveChanged(ctx, connectors.AppSharePoint, "t", "d", "webhook"))
		require.NoError(t, s.ClearDriveChanged(ctx, ds[0]))
		again, err := s.ChangedDrives(ctx, 10)
		require.NoError(t, err)
		require.Len(t, again, 1)
		require.NoError(t, s.ClearDriveChanged(ctx, again[0]))
		again, err = s.ChangedDrives(ctx, 10)
		require.NoError(t, err)
		require.Empty(t, again)
	})
}

func TestDeliveriesDedup(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		first, err := s.FirstDelivery(ctx, "box:1")
		require.NoError(t, err)
		require.True(t, first)
		first, err = s.FirstDelivery(ctx, "box:1")
		require.NoError(t, err)
		require.False(t, first)
	})
}

func TestInventoryAndDiscoveryLog(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := file("i1", "Budget.DOCX")
		ev, err := s.RecordScan(ctx, store.ScanOutcome{File: f, Type: "word"})
		require.NoError(t, err)
		require.Len(t, ev, 1)
		require.Equal(t, store.EventDiscovered, ev[0].Kind)

		ev, err = s.RecordScan(ctx, store.ScanOutcome{File: f, Type: "word", LabelID: "L1", LabelTenant: "t1"})
		require.NoError(t, err)
		require.Equal(t, store.EventLabelAdded, ev[0].Kind)
		ev, err = s.RecordScan(ctx, store.ScanOutcome{File: f, Type: "word", LabelID: "L1", LabelTenant: "t1"})
		require.NoError(t, err)
		require.Empty(t, ev, "same label, nothing to log")
		ev, err = s.RecordScan(ctx, store.ScanOutcome{File: f, Type: "word", LabelID: "L2", LabelTenant: "t1"})
		require.NoError(t, err)
		require.Equal(t, store.EventLabelChanged, ev[0].Kind)
		require.Equal(t, "L1", ev[0].PrevLabelID)
		ev, err = s.RecordScan(ctx, store.ScanOutcome{File: f, Type: "word"})
		require.NoError(t, err)
		require.Equal(t, store.EventLabelRemoved, ev[0].Kind)
		ev, err = s.RecordScan(ctx, store.ScanOutcome{File: f, Type: "word", Err: "malformed zip"})
		require.NoError(t, err)
		require.Equal(t, store.EventScanFailed, ev[0].Kind)

		rec, err := s.GetFile(ctx, f.Ref)
		require.NoError(t, err)
		require.Equal(t, "docx", rec.Ext)
		require.Equal(t, "malformed zip", rec.ScanError)
		require.True(t, rec.Unchanged(f), "unchanged bytes fail the same way: skipped unless forced")
		f0 := f
		f0.Size++
		require.False(t, rec.Unchanged(f0))

		_, err = s.RecordScan(ctx, store.ScanOutcome{File: f, Type: "word", LabelID: "L9", LabelTenant: "other", External: true, Protected: true})
		require.NoError(t, err)
		rec, err = s.GetFile(ctx, f.Ref)
		require.NoError(t, err)
		require.True(t, rec.Unchanged(f))
		f2 := f
		f2.ETag = "e2"
		require.False(t, rec.Unchanged(f2))
		require.True(t, rec.LabelExternal)
		require.True(t, rec.Protected)

		// Access widening is logged.
		f3 := f
		f3.Access = connectors.AccessPublic
		_, existed, err := s.UpsertFile(ctx, f3)
		require.NoError(t, err)
		require.True(t, existed)
		evs, err := s.ListEvents(ctx, store.EventFilter{Kind: store.EventAccessChanged}, 10)
		require.NoError(t, err)
		require.Len(t, evs, 1)
		require.Equal(t, "internal -> public", evs[0].Detail)

		all, err := s.ListEvents(ctx, store.EventFilter{ItemRef: &f.Ref}, 100)
		require.NoError(t, err)
		require.Len(t, all, 7)

		require.NoError(t, s.SetFileLabel(ctx, f.Ref, "L3", "t1", "standard", "admin:ann", "by hand"))
		applied, err := s.ListEvents(ctx, store.EventFilter{Kind: store.EventLabelApplied}, 10)
		require.NoError(t, err)
		require.Equal(t, "L9", applied[0].PrevLabelID)

		require.NoError(t, s.MarkDeleted(ctx, f.Ref, "rescan"))
		_, err = s.GetFile(ctx, f.Ref)
		require.NoError(t, err)
		n, err := s.CountFiles(ctx, store.FileFilter{})
		require.NoError(t, err)
		require.Zero(t, n, "deleted files are hidden")
		_, err = s.GetFile(ctx, ref("nope"))
		require.True(t, errors.Is(err, store.ErrNotFound))
	})
}

func TestListFilesFiltersAndPaging(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for i := 0; i < 25; i++ {
			f := file(fmt.Sprintf("i%02d", i), fmt.Sprintf("f%02d.docx", i))
			if i%5 == 0 {
				f.Path = "/HR"
				f.Access = connectors.AccessExternal
			}
			o := store.ScanOutcome{File: f, Type: "word"}
			if i%2 == 0 {
				o.LabelID = "L1"
			}
			_, err := s.RecordScan(ctx, o)
			require.NoError(t, err)
		}
		var got []store.FileRecord
		tok := ""
		for {
			page, next, err := s.ListFiles(ctx, store.FileFilter{}, tok, 10)
			require.NoError(t, err)
			got = append(got, page...)
			if next == "" {
				break
			}
			tok = next
		}
		require.Len(t, got, 25)
		count := func(f store.FileFilter) int64 {
			n, err := s.CountFiles(ctx, f)
			require.NoError(t, err)
			return n
		}
		require.EqualValues(t, 13, count(store.FileFilter{LabelID: "L1"}))
		require.EqualValues(t, 12, count(store.FileFilter{NoLabel: true}))
		require.EqualValues(t, 5, count(store.FileFilter{PathPrefix: "/HR"}))
		require.EqualValues(t, 5, count(store.FileFilter{Access: connectors.AccessExternal}))
		require.EqualValues(t, 25, count(store.FileFilter{App: connectors.AppSharePoint, Owner: "ann@contoso.com"}))
		var each int
		require.NoError(t, s.EachFile(ctx, store.FileFilter{LabelID: "L1"}, func(store.FileRecord) error { each++; return nil }))
		require.Equal(t, 13, each)
		_, _, err := s.ListFiles(ctx, store.FileFilter{}, "!!bad", 10)
		require.Error(t, err)
	})
}

// TestListFilesKeysetByPrefix pages through files of several apps, tenants and drives with
// each filter on the key's leading columns (whose equalities the keyset condition folds in),
// and with a token handed to another filter, and gets every matching file once, in key order.
func TestListFilesKeysetByPrefix(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		var all []connectors.FileRef
		for _, app := range []connectors.App{connectors.AppBox, connectors.AppSharePoint} {
			for _, ten := range []string{"t1", "t2"} {
				for _, d := range []string{"d1", "d2"} {
					for i := range 7 {
						f := file("", fmt.Sprintf("f%d.docx", i))
						f.Ref = connectors.FileRef{App: app, Tenant: ten, Drive: d, ItemID: fmt.Sprintf("i%02d", i)}
						_, _, err := s.UpsertFile(ctx, f)
						require.NoError(t, err)
						all = append(all, f.Ref)
					}
				}
			}
		}
		list := func(f store.FileFilter, tok string) ([]connectors.FileRef, string) {
			var got []connectors.FileRef
			for {
				page, next, err := s.ListFiles(ctx, f, tok, 3)
				require.NoError(t, err)
				for _, r := range page {
					got = append(got, r.Ref)
				}
				if next == "" {
					return got, tok
				}
				tok = next
			}
		}
		want := func(f store.FileFilter) []connectors.FileRef {
			var out []connectors.FileRef
			for _, r := range all {
				if (f.App == "" || r.App == f.App) && (f.Tenant == "" || r.Tenant == f.Tenant) && (f.Drive == "" || r.Drive == f.Drive) {
					out = append(out, r)
				}
			}
			return out
		}
		for _, f := range []store.FileFilter{{}, {App: connectors.AppBox}, {App: connectors.AppSharePoint, Tenant: "t2"},
			{App: connectors.AppBox, Tenant: "t1", Drive: "d2"}, {Tenant: "t2"}, {App: connectors.AppSharePoint, Drive: "d1"}} {
			got, _ := list(f, "")
			require.Equal(t, want(f), got, "%+v", f)
		}
		// A token from another filter: the box listing's last token, then SharePoint's
		// listing (after it in key order: all of it) and box t1's (before it: nothing).
		_, tok := list(store.FileFilter{App: connectors.AppBox, Tenant: "t2"}, "")
		require.NotEmpty(t, tok)
		got, _ := list(store.FileFilter{App: connectors.AppSharePoint}, tok)
		require.Equal(t, want(store.FileFilter{App: connectors.AppSharePoint}), got)
		got, _ = list(store.FileFilter{App: connectors.AppBox, Tenant: "t1"}, tok)
		require.Empty(t, got)
	})
}

func TestCatalogSync(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		app := connectors.AppSharePoint
		ev, err := s.SyncLabels(ctx, app, "t1", []connectors.Label{{ID: "a", Name: "Public", Priority: 0}, {ID: "b", Name: "Confidential", Priority: 2}, {ID: "c", Name: "Old", Priority: 1}})
		require.NoError(t, err)
		require.Len(t, ev, 3)
		ev, err = s.SyncLabels(ctx, app, "t1", []connectors.Label{{ID: "a", Name: "Public"}, {ID: "b", Name: "Highly Confidential", Priority: 2, Disabled: true}})
		require.NoError(t, err)
		kinds := map[string]string{}
		for _, e := range ev {
			kinds[e.LabelID+":"+e.Kind] = e.Detail
		}
		require.Contains(t, kinds, "b:"+store.EventCatalogRenamed)
		require.Contains(t, kinds, "b:"+store.EventCatalogState)
		require.Contains(t, kinds, "c:"+store.EventCatalogDeleted)
		ls, err := s.ListLabels(ctx, store.LabelFilter{App: app})
		require.NoError(t, err)
		require.Len(t, ls, 2, "deleted labels are hidden")
		require.True(t, ls[1].Disabled)
		c, err := s.GetLabel(ctx, app, "t1", "c")
		require.NoError(t, err)
		require.Equal(t, store.LabelDeleted, c.State)

		require.NoError(t, s.RecordExternalLabel(ctx, app, "t1", "x", "t2"))
		ls, err = s.ListLabels(ctx, store.LabelFilter{App: app})
		require.NoError(t, err)
		require.Len(t, ls, 3)
		ls, err = s.ListLabels(ctx, store.LabelFilter{App: app, OnlyThisTenant: true})
		require.NoError(t, err)
		require.Len(t, ls, 2)
		// A later sync does not delete the external label it never listed.
		_, err = s.SyncLabels(ctx, app, "t1", []connectors.Label{{ID: "a", Name: "Public"}})
		require.NoError(t, err)
		x, err := s.GetLabel(ctx, app, "t1", "x")
		require.NoError(t, err)
		require.Equal(t, store.LabelEnabled, x.State)
	})
}

func TestPoliciesSuspendActions(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		require.NoError(t, s.PutPolicy(ctx, store.Policy{ID: "p1", Name: "P1", Enabled: true, Doc: []byte("{}")}))
		id, created, err := s.AddAction(ctx, store.Action{Key: "p1|f|apply", PolicyID: "p1", Kind: store.ActionApplyLabel, Ref: ref("f"), LabelID: "L"})
		require.NoError(t, err)
		require.True(t, created)
		id2, created, err := s.AddAction(ctx, store.Action{Key: "p1|f|apply", PolicyID: "p1", Kind: store.ActionApplyLabel, Ref: ref("f"), LabelID: "L"})
		require.NoError(t, err)
		require.False(t, created, "deduplicated per (policy, file, action)")
		require.Equal(t, id, id2)

		require.NoError(t, s.SetPolicyEnabled(ctx, "p1", false))
		a, err := s.GetAction(ctx, id)
		require.NoError(t, err)
		require.Equal(t, store.ActionSuspended, a.State)
		// New actions of a disabled policy start suspended.
		id3, _, err := s.AddAction(ctx, store.Action{Key: "p1|g|apply", PolicyID: "p1", Kind: store.ActionApplyLabel, Ref: ref("g")})
		require.NoError(t, err)
		a3, _ := s.GetAction(ctx, id3)
		require.Equal(t, store.ActionSuspended, a3.State)

		require.NoError(t, s.SetPolicyEnabled(ctx, "p1", true))
		a, _ = s.GetAction(ctx, id)
		require.Equal(t, store.ActionPending, a.State)

		ok, err := s.SetActionState(ctx, id, store.ActionPending, store.ActionDone, "")
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = s.SetActionState(ctx, id, store.ActionPending, store.ActionDone, "")
		require.NoError(t, err)
		require.False(t, ok, "compare-and-set")
		// A finished action no longer blocks a new one with the same key.
		_, created, err = s.AddAction(ctx, store.Action{Key: "p1|f|apply", PolicyID: "p1", Kind: store.ActionApplyLabel, Ref: ref("f")})
		require.NoError(t, err)
		require.True(t, created)

		require.NoError(t, s.DeletePolicy(ctx, "p1"))
		acts, err := s.ListActions(ctx, store.ActionFilter{PolicyID: "p1", States: []string{store.ActionCanceled}})
		require.NoError(t, err)
		require.Len(t, acts, 2)
		_, err = s.GetPolicy(ctx, "p1")
		require.ErrorIs(t, err, store.ErrNotFound)
		require.ErrorIs(t, s.SetPolicyEnabled(ctx, "p1", true), store.ErrNotFound)
	})
}

func TestSQLiteConcurrentWriters(t *testing.T) {
	t.Parallel()
	s := storetest.OpenSQLite(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 800)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				_, err := s.RecordScan(ctx, store.ScanOutcome{File: file(fmt.Sprintf("w%d-%d", w, i), "a.docx"), Type: "word"})
				errs <- err
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	n, err := s.CountFiles(ctx, store.FileFilter{})
	require.NoError(t, err)
	require.EqualValues(t, 800, n)
}

func TestChangedDriveLeases(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		require.NoError(t, s.MarkDriveChanged(ctx, connectors.AppBox, "t", "a", "webhook"))
		require.NoError(t, s.MarkDriveChanged(ctx, connectors.AppBox, "t", "b", "webhook"))
		got, err := s.ClaimChangedDrives(ctx, time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, got, 2)
		again, err := s.ClaimChangedDrives(ctx, time.Minute, 10)
		require.NoError(t, err)
		require.Empty(t, again, "leased drives are not handed out twice")
		require.NoError(t, s.ReleaseDriveChanged(ctx, got[0], 0))
		again, err = s.ClaimChangedDrives(ctx, time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, again, 1)
		// A mark during the read keeps the drive for another read, unleased.
		require.NoError(t, s.MarkDriveChanged(ctx, connectors.AppBox, "t", "b", "webhook"))
		require.NoError(t, s.ClearDriveChanged(ctx, got[1]))
		again, err = s.ClaimChangedDrives(ctx, time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, again, 1)
		require.Equal(t, "b", again[0].Drive)
	})
}

func TestChangedDriveLeaseExpires(t *testing.T) {
	t.Parallel()
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := storetest.OpenSQLite(t, func(c *store.Config) { c.Now = clock })
	ctx := context.Background()
	require.NoError(t, s.MarkDriveChanged(ctx, connectors.AppBox, "t", "a", "webhook"))
	got, err := s.ClaimChangedDrives(ctx, time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	got, err = s.ClaimChangedDrives(ctx, time.Minute, 10)
	require.NoError(t, err)
	require.Len(t, got, 1, "an expired lease (holder died) frees the drive")
}

func TestRescansAndReconcile(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
			tick := func() { mu.Lock(); now = now.Add(time.Second); mu.Unlock() }
			s := storetest.Open(t, b, func(c *store.Config) {
				c.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			})
			testRescansAndReconcile(t, s, tick)
		})
	}
}

func testRescansAndReconcile(t *testing.T, s *store.Store, tick func()) {
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c"} {
		_, err := s.RecordScan(ctx, store.ScanOutcome{File: file(id, id+".docx")})
		require.NoError(t, err)
	}
	tick()
	r, err := s.CreateRescan(ctx, store.Rescan{Connector: "sp", App: connectors.AppSharePoint, Tenant: "t1", Force: true})
	require.NoError(t, err)
	require.Equal(t, store.RescanRunning, r.State)
	require.True(t, r.Force)
	// "d" is walked before the scanner has written its row, so its seen mark updates
	// nothing; the scanner then inserts it. It must not be reconciled as deleted. The walk's
	// batch records its marks, progress and cursor in one step; a step without a cursor
	// leaves the cursor alone.
	kind := "rescan:" + fmt.Sprint(r.ID)
	require.NoError(t, s.RecordRescanStep(ctx, store.RescanStep{Rescan: r.ID, Seen: []connectors.FileRef{ref("a"), ref("c")},
		Enumerated: 6, Enqueued: 4, Skipped: 2, App: connectors.AppSharePoint, Tenant: "t1", Drive: "d1", Kind: kind, Cursor: "page-2"}))
	require.NoError(t, s.RecordRescanStep(ctx, store.RescanStep{Rescan: r.ID, Seen: []connectors.FileRef{ref("d")},
		Enumerated: 4, Enqueued: 3, Skipped: 1, App: connectors.AppSharePoint, Tenant: "t1", Drive: "d1", Kind: kind}))
	cur, err := s.GetCursor(ctx, connectors.AppSharePoint, "t1", "d1", kind)
	require.NoError(t, err)
	require.Equal(t, "page-2", cur)
	got, err := s.GetRescan(ctx, r.ID)
	require.NoError(t, err)
	require.EqualValues(t, []int64{10, 7, 3}, []int64{got.Enumerated, got.Enqueued, got.Skipped})
	tick()
	_, err = s.RecordScan(ctx, store.ScanOutcome{File: file("d", "d.docx")})
	require.NoError(t, err)
	gone, err := s.Unseen(ctx, r.ID, connectors.AppSharePoint, "t1", "d1")
	require.NoError(t, err)
	require.Equal(t, []connectors.FileRef{ref("b")}, gone)

	// Two rescans of the drive at once, their walks interleaved: the older marks "a" after
	// the newer did, and each saw what the other did not. Neither reconciliation may take a
	// file the other saw for gone; "c", which neither saw, is gone for both.
	older, err := s.CreateRescan(ctx, store.Rescan{Connector: "sp", App: connectors.AppSharePoint, Tenant: "t1"})
	require.NoError(t, err)
	newer, err := s.CreateRescan(ctx, store.Rescan{Connector: "sp", App: connectors.AppSharePoint, Tenant: "t1"})
	require.NoError(t, err)
	require.NoError(t, s.MarkSeen(ctx, newer.ID, []connectors.FileRef{ref("a"), ref("d")}))
	require.NoError(t, s.MarkSeen(ctx, older.ID, []connectors.FileRef{ref("a"), ref("b")}))
	gone, err = s.Unseen(ctx, newer.ID, connectors.AppSharePoint, "t1", "d1")
	require.NoError(t, err)
	require.ElementsMatch(t, []connectors.FileRef{ref("b"), ref("c")}, gone, "the newer walk did not see b or c")
	gone, err = s.Unseen(ctx, older.ID, connectors.AppSharePoint, "t1", "d1")
	require.NoError(t, err)
	require.Equal(t, []connectors.FileRef{ref("c")}, gone, "d was seen by the newer walk, a by both")
	for _, id := range []int64{older.ID, newer.ID} {
		_, err = s.FinishRescan(ctx, id, store.RescanDone, "")
		require.NoError(t, err)
	}

	ok, err := s.FinishRescan(ctx, r.ID, store.RescanDone, "")
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = s.FinishRescan(ctx, r.ID, store.RescanFailed, "late")
	require.NoError(t, err)
	require.False(t, ok, "a finished rescan stays finished")
	got, err = s.GetRescan(ctx, r.ID)
	require.NoError(t, err)
	require.EqualValues(t, 7, got.Enqueued)
	require.Equal(t, store.RescanDone, got.State)
	running, err := s.ListRescans(ctx, true, 10)
	require.NoError(t, err)
	require.Empty(t, running)
}

func TestLeaderLease(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		ok, err := s.TryLease(ctx, "scheduler", "a", time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = s.TryLease(ctx, "scheduler", "b", time.Minute)
		require.NoError(t, err)
		require.False(t, ok, "b cannot take a live lease")
		ok, err = s.TryLease(ctx, "scheduler", "a", time.Minute)
		require.NoError(t, err)
		require.True(t, ok, "the holder extends")
		require.NoError(t, s.ReleaseLease(ctx, "scheduler", "a"))
		ok, err = s.TryLease(ctx, "scheduler", "b", time.Minute)
		require.NoError(t, err)
		require.True(t, ok)
		ok, err = s.TryLease(ctx, "scheduler", "c", -time.Minute)
		require.NoError(t, err)
		require.False(t, ok)
	})
}

func TestDashboardAggregates(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for i := 0; i < 6; i++ {
			f := file(fmt.Sprintf("x%d", i), "a.docx")
			if i < 2 {
				f.Access = connectors.AccessPublic
			}
			o := store.ScanOutcome{File: f, Type: "word"}
			if i%2 == 0 {
				o.LabelID = "L1"
			}
			_, err := s.RecordScan(ctx, o)
			require.NoError(t, err)
		}
		cs, err := s.FileCounts(ctx)
		require.NoError(t, err)
		total, labelled, publicLabelled := int64(0), int64(0), int64(0)
		for _, c := range cs {
			total += c.N
			if c.LabelID != "" {
				labelled += c.N
				if c.Access == connectors.AccessPublic {
					publicLabelled += c.N
				}
			}
		}
		require.EqualValues(t, 6, total)
		require.EqualValues(t, 3, labelled)
		require.EqualValues(t, 1, publicLabelled)
		days, err := s.EventsByDay(ctx, time.Now().Add(-48*time.Hour))
		require.NoError(t, err)
		require.Len(t, days, 1)
		require.EqualValues(t, 6, days[0].N)
		require.Equal(t, store.EventDiscovered, days[0].Kind)
	})
}
