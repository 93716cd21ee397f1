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

// openActions loads n pending label actions (one in a hundred an admin's) and analyses the
// store, as a running database with a large policy backlog is.
func openActions(b *testing.B, be storetest.Backend, n int) *store.Store {
	ctx := context.Background()
	s := storetest.Open(b, be)
	require.NoError(b, s.Tx(ctx, func(tx *store.Tx) error {
		for i := range n {
			_, _, err := tx.AddAction(ctx, store.Action{Key: fmt.Sprint("k", i), Kind: store.ActionApplyLabel, LabelID: "L",
				Ref: connectors.FileRef{App: connectors.AppSharePoint, Tenant: "t1", Drive: "d", ItemID: fmt.Sprint("f", i)}, Manual: i%100 == 0})
			if err != nil {
				return err
			}
		}
		return nil
	}))
	require.NoError(b, s.Analyze(ctx))
	return s
}

// BenchmarkAddAction records one more action beside 20,000 open ones: the dedup lookup must
// be an index probe, not a scan of the open actions.
func BenchmarkAddAction(b *testing.B) {
	for _, be := range storetest.Backends() {
		b.Run(string(be.Name), func(b *testing.B) {
			s := openActions(b, be, 20000)
			ctx := context.Background()
			i := 0
			for b.Loop() {
				i++
				_, created, err := s.AddAction(ctx, store.Action{Key: fmt.Sprint("new", i), Kind: store.ActionApplyLabel, LabelID: "L",
					Ref: connectors.FileRef{App: connectors.AppSharePoint, Tenant: "t1", Drive: "d", ItemID: fmt.Sprint("n", i)}})
				if err != nil || !created {
					b.Fatal(err, created)
				}
			}
		})
	}
}

// BenchmarkRunnableActions reads the dispatcher's next batch (admins' first, then oldest) from
// 20,000 pending actions: the index must give that order, not a sort of every pending action.
func BenchmarkRunnableActions(b *testing.B) {
	for _, be := range storetest.Backends() {
		b.Run(string(be.Name), func(b *testing.B) {
			s := openActions(b, be, 20000)
			ctx := context.Background()
			now := time.Now()
			for b.Loop() {
				due, err := s.RunnableActions(ctx, store.RunnableFilter{Now: now, ManualFirst: true, Limit: 256})
				if err != nil || len(due) != 256 || !due[0].Manual {
					b.Fatal(err, len(due))
				}
			}
		})
	}
}
