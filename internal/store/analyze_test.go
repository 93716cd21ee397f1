package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/internal/store"
)

// A growing inventory is looked up by its primary key on both databases. On PostgreSQL a files
// table never analysed made the planner take the tenant's files_path range for every seen mark
// and inventory read (a first rescan grew quadratic); the store analyses the table itself as
// it grows, so once a first batch of files is in, the lookup is the primary key.
func TestInventoryLookupUsesPrimaryKey(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		const n = 1200
		for i := 0; i < n; i += 100 {
			outs := make([]store.ScanOutcome, 100)
			for j := range outs {
				f := file(fmt.Sprintf("pk%05d", i+j), fmt.Sprintf("f%05d.docx", i+j))
				f.Path = fmt.Sprintf("/Team/%03d", (i+j)%37)
				outs[j] = store.ScanOutcome{File: f, Type: "word"}
			}
			for _, r := range s.RecordScans(ctx, outs) {
				require.NoError(t, r.Err)
			}
		}
		lookup := `UPDATE files SET seen_rescan = 7 WHERE app = 'sharepoint' AND tenant = 't1' AND drive = 'd1' AND item_id = 'pk00042' AND seen_rescan < 7`
		if s.Dialect() == store.SQLite {
			plan := explain(t, s, `EXPLAIN QUERY PLAN `+lookup)
			require.Contains(t, plan, "sqlite_autoindex_files_1 (app=? AND tenant=? AND drive=? AND item_id=?)", plan) // the primary key
			return
		}
		require.Eventually(t, func() bool {
			var analysed bool
			err := s.DB().QueryRowContext(ctx, `SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'files'`).Scan(&analysed)
			return err == nil && analysed
		}, 30*time.Second, 50*time.Millisecond, "the store never analysed files")
		plan := explain(t, s, `EXPLAIN `+lookup)
		require.Contains(t, plan, "files_pkey", plan)
		require.NotContains(t, plan, "files_path", plan)
	})
}

func explain(t *testing.T, s *store.Store, q string) string {
	t.Helper()
	rows, err := s.DB().QueryContext(context.Background(), q)
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		fmt.Fprintln(&b, vals...)
	}
	require.NoError(t, rows.Err())
	return b.String()
}
