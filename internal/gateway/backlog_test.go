package gateway

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
)

// drainingQueue is a scan queue whose backlog shrinks by step at every count.
type drainingQueue struct {
	ScanQueue
	open  atomic.Int64
	step  int64
	calls atomic.Int64
}

func (q *drainingQueue) OpenUpTo(_ context.Context, _ connectors.App, limit int) (int, error) {
	q.calls.Add(1)
	n := q.open.Add(-q.step) + q.step
	return int(min(n, int64(limit))), nil
}

// A walk past rescanAhead open scans waits until the scans have taken the backlog below
// half, and one under it does not wait at all.
func TestAwaitScansHoldsTheWalk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := &drainingQueue{step: rescanAhead / 4}
	q.open.Store(rescanAhead + rescanAhead/4)
	g := &Gateway{queue: q}
	start := time.Now()
	require.NoError(t, g.awaitScans(ctx, connectors.AppBox))
	require.GreaterOrEqual(t, q.calls.Load(), int64(4), "counted until below half")
	require.Less(t, q.open.Load()+q.step, int64(rescanAhead/2)+q.step, "left only below half")
	require.Greater(t, time.Since(start), 500*time.Millisecond)

	time.Sleep(backlogFresh)
	q.open.Store(10)
	q.calls.Store(0)
	require.NoError(t, g.awaitScans(ctx, connectors.AppBox))
	require.Equal(t, int64(1), q.calls.Load(), "a short backlog does not hold the walk")
	for range 8 {
		require.NoError(t, g.awaitScans(ctx, connectors.AppBox))
	}
	require.Equal(t, int64(1), q.calls.Load(), "the app's walks share a fresh count")
	time.Sleep(backlogFresh)

	q.open.Store(10 * rescanAhead)
	q.step = 0
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, g.awaitScans(cctx, connectors.AppBox), context.DeadlineExceeded, "a stuck backlog holds the walk until the rescan ends")
}
