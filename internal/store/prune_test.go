package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
)

// Webhook dedup records are pruned per connector prefix after a cut-off, in batches, on both
// stores: a pruned key is new again, a kept one still a duplicate, and the count follows.
func TestForgetDeliveriesByPrefix(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			advance := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
			s := storetest.Open(t, b, func(c *store.Config) { c.Now = clock })
			store.SetForgetBatch(s, 50)
			ctx := context.Background()
			batcher := s.NewDeliveryBatcher(store.BatchOptions{})
			defer batcher.Close(context.Background())

			first := func(key string) bool {
				t.Helper()
				ok, err := batcher.FirstDelivery(ctx, key)
				require.NoError(t, err)
				return ok
			}
			// Old: 600 Box keys (several delete batches of 50), 3 Drive keys, 2 of a removed connector.
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Go(func() {
					for i := w; i < 600; i += 8 {
						ok, err := batcher.FirstDelivery(ctx, fmt.Sprintf("box|box:%d", i))
						if err != nil || !ok {
							t.Errorf("box:%d: %v %v", i, ok, err)
						}
					}
				})
			}
			wg.Wait()
			for i := range 3 {
				require.True(t, first(fmt.Sprintf("drive|gdrive/ch1/%d", i)))
			}
			require.True(t, first("gone|x0"))
			require.True(t, first("gone|x1"))
			advance(4 * time.Hour)
			require.True(t, first("box|box:new"))
			require.True(t, first("drive|gdrive/ch2/1"))
			n, err := s.CountDeliveries(ctx)
			require.NoError(t, err)
			require.EqualValues(t, 600+3+2+2, n)

			cut := clock().Add(-3 * time.Hour)
			dropped, err := s.ForgetDeliveriesWithPrefix(ctx, "box|", cut)
			require.NoError(t, err)
			require.EqualValues(t, 600, dropped)
			require.True(t, first("box|box:17"), "a pruned key is new again")
			require.False(t, first("box|box:new"), "a kept key is still a duplicate")
			require.False(t, first("drive|gdrive/ch1/0"), "another connector's keys are kept")

			dropped, err = s.ForgetDeliveries(ctx, cut)
			require.NoError(t, err)
			require.EqualValues(t, 5, dropped)
			n, err = s.CountDeliveries(ctx)
			require.NoError(t, err)
			require.EqualValues(t, 3, n) // box:new, box:17, ch2/1
		})
	}
}
