package gateway

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeWatcher hands out increasing job ids and finishes jobs below done.
type fakeWatcher struct {
	mu    sync.Mutex
	next  int64
	done  int64 // jobs with an id below are finished
	asked []int64
}

// queued returns the ids of n newly queued jobs.
func (w *fakeWatcher) queued(n int) []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := make([]int64, n)
	for i := range ids {
		w.next++
		ids[i] = w.next
	}
	return ids
}

func (w *fakeWatcher) JobDue(_ context.Context, id int64) (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.asked = append(w.asked, id)
	return id >= w.done, nil
}

func (w *fakeWatcher) finish(below int64) {
	w.mu.Lock()
	w.done = below
	w.mu.Unlock()
}

// A walk queues freely up to walkAhead open jobs, then waits until the newest job of its
// oldest batch has finished, asking only about that job, and is held until the rescan ends
// if the scans never get there.
func TestWalkBacklogHoldsTheWalk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := &fakeWatcher{}
	var b walkBacklog
	queue := func() { b.add(w.queued(64)) }
	for range walkAhead / 64 {
		queue()
		require.NoError(t, b.await(ctx, w))
	}
	require.Empty(t, w.asked, "under walkAhead the walk never asks")
	require.Equal(t, walkAhead, b.open)

	queue() // one batch past the bound: held until the first batch's newest job (64) is done
	go func() {
		time.Sleep(3 * walkPoll)
		w.finish(64) // jobs 1–63 done: the batch is not
		time.Sleep(3 * walkPoll)
		w.finish(65)
	}()
	start := time.Now()
	require.NoError(t, b.await(ctx, w))
	require.Greater(t, time.Since(start), 5*walkPoll)
	require.Equal(t, walkAhead, b.open)
	w.mu.Lock()
	for _, id := range w.asked {
		require.Equal(t, int64(64), id, "only the oldest batch's newest job is read")
	}
	w.mu.Unlock()

	queue()
	cctx, cancel := context.WithTimeout(ctx, 3*walkPoll)
	defer cancel()
	require.ErrorIs(t, b.await(cctx, w), context.DeadlineExceeded, "a stuck backlog holds the walk until the rescan ends")
}
