package store_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
)

func mark(drive string) *store.DriveMark {
	return &store.DriveMark{App: connectors.AppBox, Tenant: "e1", Drive: drive, Reason: "changed"}
}

func TestRecordDeliveriesDedupsWithinAndAcrossBatches(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		first, err := s.RecordDeliveries(ctx, []store.Delivery{
			{Key: "a", Mark: mark("d1")}, {Key: "b"}, {Key: "a", Mark: mark("d2")}, {Mark: mark("d3")}, {Key: "b", Mark: mark("d4")},
		})
		require.NoError(t, err)
		require.Equal(t, []bool{true, true, false, true, false}, first)
		ds, err := s.ChangedDrives(ctx, 10)
		require.NoError(t, err)
		var drives []string
		for _, d := range ds {
			drives = append(drives, d.Drive)
		}
		require.ElementsMatch(t, []string{"d1", "d3"}, drives, "only first deliveries mark their drive")

		first, err = s.RecordDeliveries(ctx, []store.Delivery{{Key: "b", Mark: mark("d5")}, {Key: "c"}, {Key: "a"}})
		require.NoError(t, err)
		require.Equal(t, []bool{false, true, false}, first)
		ok, err := s.FirstDelivery(ctx, "c")
		require.NoError(t, err)
		require.False(t, ok, "the batch path and FirstDelivery share one key space")
	})
}

func TestRecordDeliveriesMovesTheGenerationOfCoalescedMarks(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		_, err := s.RecordDeliveries(ctx, []store.Delivery{{Key: "1", Mark: mark("d")}, {Key: "2", Mark: mark("d")}})
		require.NoError(t, err)
		claimed, err := s.ClaimChangedDrives(ctx, time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, claimed, 1, "marks of one drive coalesce into one row")
		// A mark arriving while the feed is read keeps the drive for another read.
		_, err = s.RecordDeliveries(ctx, []store.Delivery{{Key: "3", Mark: mark("d")}})
		require.NoError(t, err)
		require.NoError(t, s.ClearDriveChanged(ctx, claimed[0]))
		ds, err := s.ChangedDrives(ctx, 10)
		require.NoError(t, err)
		require.Len(t, ds, 1)
	})
}

func TestDeliveryBatcherExactDedupUnderConcurrency(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		// Lingering makes concurrent duplicates share batches as well as span them.
		b := s.NewDeliveryBatcher(store.BatchOptions{MaxBatch: 16, Linger: time.Millisecond})
		const keys, copies = 40, 4
		run := func() map[string]int {
			var mu sync.Mutex
			firsts := map[string]int{}
			var errs []error
			var wg sync.WaitGroup
			for c := range copies {
				for k := range keys {
					wg.Go(func() {
						key := fmt.Sprintf("k%d", k)
						first, err := b.Record(context.Background(), store.Delivery{Key: key, Mark: mark(fmt.Sprintf("d%d", (k+c)%3))})
						mu.Lock()
						defer mu.Unlock()
						if err != nil {
							errs = append(errs, err)
						}
						if first {
							firsts[key]++
						}
					})
				}
			}
			wg.Wait()
			require.Empty(t, errs)
			return firsts
		}
		firsts := run()
		require.Len(t, firsts, keys)
		for k, n := range firsts {
			require.Equal(t, 1, n, "key %s", k)
		}
		ds, err := s.ChangedDrives(context.Background(), 10)
		require.NoError(t, err)
		require.NotEmpty(t, ds)
		require.Empty(t, run(), "redeliveries in later batches are all duplicates")
		require.NoError(t, b.Close(context.Background()))
	})
}

func TestDeliveryBatcherErrorReachesEveryWaiter(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		t.Run(string(be.Name), func(t *testing.T) {
			t.Parallel()
			s, err := store.Open(context.Background(), store.Config{URL: be.OpenURL(t), Logger: slog.New(slog.DiscardHandler)})
			require.NoError(t, err)
			b := s.NewDeliveryBatcher(store.BatchOptions{Linger: time.Millisecond})
			first, err := b.Record(context.Background(), store.Delivery{Key: "before", Mark: mark("d")})
			require.NoError(t, err)
			require.True(t, first)
			require.NoError(t, s.Close())
			var wg sync.WaitGroup
			errs := make([]error, 20)
			for i := range errs {
				wg.Go(func() {
					_, errs[i] = b.Record(context.Background(), store.Delivery{Key: fmt.Sprint(i), Mark: mark("d")})
				})
			}
			wg.Wait()
			for i, err := range errs {
				require.Error(t, err, "waiter %d", i)
				require.ErrorContains(t, err, "database is closed")
			}
		})
	}
}

// holdKey starts a transaction that inserts key and keeps it open, so a batch holding the
// same key cannot commit until release: SQLite's write lock or PostgreSQL's unique index
// makes it wait.
func holdKey(t *testing.T, s *store.Store, key string) (release func()) {
	t.Helper()
	tx, err := s.DB().BeginTx(context.Background(), nil)
	require.NoError(t, err)
	q := `INSERT INTO webhook_deliveries (dedup_key, received_at) VALUES (?, 0)`
	if s.Dialect() == store.Postgres {
		q = `INSERT INTO webhook_deliveries (dedup_key, received_at) VALUES ($1, 0)`
	}
	_, err = tx.Exec(q, key)
	require.NoError(t, err)
	var once sync.Once
	release = func() { once.Do(func() { require.NoError(t, tx.Rollback()) }) }
	t.Cleanup(release)
	return release
}

func TestDeliveryBatcherCancelledWaiterReturnsWithoutWaitingForTheCommit(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		b := s.NewDeliveryBatcher(store.BatchOptions{})
		ctx := context.Background()

		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		_, err := b.Record(cancelled, store.Delivery{Key: "never", Mark: mark("d")})
		require.ErrorIs(t, err, context.Canceled)

		release := holdKey(t, s, "held")
		heldDone := make(chan error, 1)
		go func() {
			first, err := b.Record(ctx, store.Delivery{Key: "held", Mark: mark("d")})
			if err == nil && !first {
				err = fmt.Errorf("held delivery was not first")
			}
			heldDone <- err
		}()
		require.Eventually(t, func() bool { q, c := b.Pending(); return q == 0 && c }, 30*time.Second, time.Millisecond,
			"the held delivery's batch is committing")

		queued, cancelQueued := context.WithCancel(ctx)
		queuedDone := make(chan error, 1)
		go func() {
			_, err := b.Record(queued, store.Delivery{Key: "gave-up", Mark: mark("d")})
			queuedDone <- err
		}()
		require.Eventually(t, func() bool { q, _ := b.Pending(); return q == 1 }, 30*time.Second, time.Millisecond)
		cancelQueued()
		require.ErrorIs(t, <-queuedDone, context.Canceled, "a cancelled waiter returns while the commit is still blocked")

		release()
		require.NoError(t, <-heldDone)
		require.NoError(t, b.Close(ctx))
		// The cancelled deliveries were never recorded, so a retry is a first delivery.
		first, err := s.RecordDeliveries(ctx, []store.Delivery{{Key: "never"}, {Key: "gave-up"}, {Key: "held"}})
		require.NoError(t, err)
		require.Equal(t, []bool{true, true, false}, first)
	})
}

func TestDeliveryBatcherCloseFlushesQueuedDeliveries(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		b := s.NewDeliveryBatcher(store.BatchOptions{MaxBatch: 4})
		ctx := context.Background()
		release := holdKey(t, s, "held")
		results := make(chan error, 11)
		record := func(key string) {
			first, err := b.Record(ctx, store.Delivery{Key: key, Mark: mark("d")})
			if err == nil && !first {
				err = fmt.Errorf("%s was not first", key)
			}
			results <- err
		}
		go record("held")
		require.Eventually(t, func() bool { q, c := b.Pending(); return q == 0 && c }, 30*time.Second, time.Millisecond)
		for i := range 10 {
			go record(fmt.Sprint(i))
		}
		require.Eventually(t, func() bool { q, _ := b.Pending(); return q == 10 }, 30*time.Second, time.Millisecond)

		closed := make(chan error, 1)
		go func() { closed <- b.Close(ctx) }()
		require.Eventually(t, b.Closing, 30*time.Second, time.Millisecond)
		_, err := b.Record(ctx, store.Delivery{Key: "late"})
		require.ErrorIs(t, err, store.ErrBatcherClosed, "a closing batcher takes nothing new")
		release()
		require.NoError(t, <-closed)
		for range 11 {
			require.NoError(t, <-results)
		}
		q, c := b.Pending()
		require.Zero(t, q)
		require.False(t, c)
		keys := []store.Delivery{{Key: "held"}, {Key: "late"}}
		for i := range 10 {
			keys = append(keys, store.Delivery{Key: fmt.Sprint(i)})
		}
		first, err := s.RecordDeliveries(ctx, keys)
		require.NoError(t, err)
		require.Equal(t, append([]bool{false, true}, make([]bool, 10)...), first, "every queued delivery was committed before Close returned")
	})
}

func TestRecordDeliveriesIsAllOrNothing(t *testing.T) {
	t.Parallel()
	for _, be := range storetest.Backends() {
		if be.Name != store.Postgres {
			continue // SQLite accepts every string; PostgreSQL rejects a NUL byte in text
		}
		t.Run(string(be.Name), func(t *testing.T) {
			t.Parallel()
			s := storetest.Open(t, be)
			ctx := context.Background()
			_, err := s.RecordDeliveries(ctx, []store.Delivery{{Key: "good", Mark: mark("d1")}, {Key: "bad", Mark: mark("d\x00")}})
			require.Error(t, err)
			ds, err := s.ChangedDrives(ctx, 10)
			require.NoError(t, err)
			require.Empty(t, ds, "no mark survives a failed batch")
			first, err := s.FirstDelivery(ctx, "good")
			require.NoError(t, err)
			require.True(t, first, "nor does a key: the provider's retry is a first delivery")
		})
	}
}
