package scanqueue

import (
	"context"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// On PostgreSQL the queue leaves River's job table without its GIN indexes of args and
// metadata, keeps the indexes River's own statements use, and asks River's reindexer only
// for the indexes that exist.
func TestPostgresJobTableWithoutGIN(t *testing.T) {
	t.Parallel()
	if os.Getenv("LABELGATE_TEST_POSTGRES") == "" {
		t.Skip("LABELGATE_TEST_POSTGRES names no PostgreSQL server")
	}
	q, h := setup(t, "postgres", nil)
	ctx := context.Background()
	// A second open (another replica, a restart) finds them gone and says nothing.
	cfg := testConfig(h)
	q2, err := Open(ctx, cfg)
	require.NoError(t, err)
	require.NoError(t, q2.Close(ctx))

	rows, err := h.pg.Query(ctx, `SELECT indexname FROM pg_indexes WHERE tablename = 'river_job'`)
	require.NoError(t, err)
	var names []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		names = append(names, n)
	}
	require.NoError(t, rows.Err())
	for _, gone := range droppedIndexes {
		require.NotContains(t, names, gone)
	}
	for _, kept := range []string{"river_job_pkey", "river_job_prioritized_fetching_index", "river_job_unique_idx"} {
		require.Contains(t, names, kept)
	}
	_, err = q.Scans().Enqueue(ctx, Scan(ref("acme", "f1"), ReasonRescan))
	require.NoError(t, err)
	for _, n := range droppedIndexes {
		require.False(t, slices.Contains(reindexIndexes(), n), n)
	}
	require.Contains(t, reindexIndexes(), "river_job_prioritized_fetching_index")
}
