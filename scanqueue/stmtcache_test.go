package scanqueue

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStatementCache runs a statement again while its own rows are still open, and
// more distinct statements than the cache holds, on one connection.
func TestStatementCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := openSQLite(t, filepath.Join(t.TempDir(), "cache.db"))
	db, err := openCachedSQLite(ctx, store)
	require.NoError(t, err)
	require.NotNil(t, db)
	t.Cleanup(func() { db.Close() })

	var mode string
	require.NoError(t, db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode))
	require.Equal(t, "wal", mode)
	var sync int
	require.NoError(t, db.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync))
	require.Equal(t, 1, sync, "synchronous=NORMAL carried over from the store's pool")

	_, err = db.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`)
	require.NoError(t, err)
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	for i := range 10 {
		_, err := tx.ExecContext(ctx, `INSERT INTO t (id, v) VALUES ($1, $2)`, i, fmt.Sprint("v", i))
		require.NoError(t, err)
	}
	const sel = `SELECT id, v FROM t WHERE id >= $1 ORDER BY id`
	outer, err := tx.QueryContext(ctx, sel, 0)
	require.NoError(t, err)
	n := 0
	for outer.Next() {
		var id int
		var v string
		require.NoError(t, outer.Scan(&id, &v))
		require.Equal(t, fmt.Sprint("v", id), v)
		// The same statement while the outer rows are open runs unprepared.
		var cnt int
		inner, err := tx.QueryContext(ctx, sel, id)
		require.NoError(t, err)
		for inner.Next() {
			cnt++
		}
		require.NoError(t, inner.Err())
		require.NoError(t, inner.Close())
		require.Equal(t, 10-id, cnt)
		n++
	}
	require.NoError(t, outer.Err())
	require.NoError(t, outer.Close())
	require.Equal(t, 10, n)
	// More distinct statements than the cache holds evict the oldest.
	for i := range stmtCacheSize + 20 {
		var v string
		require.NoError(t, tx.QueryRowContext(ctx, fmt.Sprintf(`SELECT v FROM t WHERE id = $1 AND %d = %d`, i, i), i%10).Scan(&v))
		require.Equal(t, fmt.Sprint("v", i%10), v)
	}
	// A failing run leaves the connection usable.
	_, err = tx.ExecContext(ctx, `INSERT INTO t (id, v) VALUES ($1, $2)`, 1, "dup")
	require.Error(t, err)
	require.NoError(t, tx.Commit())
	var cnt int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT COUNT(*) FROM t`).Scan(&cnt))
	require.Equal(t, 10, cnt)

	// The store's handle sees the rows committed through the queue's pool.
	require.NoError(t, store.QueryRowContext(ctx, `SELECT COUNT(*) FROM t`).Scan(&cnt))
	require.Equal(t, 10, cnt)
}

// TestStatementCacheInMemory leaves an in-memory database, which a second pool cannot
// share, to the caller's handle.
func TestStatementCacheInMemory(t *testing.T) {
	t.Parallel()
	store := openSQLite(t, ":memory:")
	store.SetMaxOpenConns(1)
	db, err := openCachedSQLite(context.Background(), store)
	require.NoError(t, err)
	require.Nil(t, db)
}
