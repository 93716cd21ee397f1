package scanqueue

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/labelgate/labelgate/connectors"
)

// backends are the databases the suite runs on: SQLite always, PostgreSQL when
// LABELGATE_TEST_POSTGRES names a server.
func backends() []string {
	if os.Getenv("LABELGATE_TEST_POSTGRES") != "" {
		return []string{"sqlite", "postgres"}
	}
	return []string{"sqlite"}
}

// handles is a fresh database of one backend.
type handles struct {
	backend string
	sqlite  *sql.DB
	pg      *pgxpool.Pool
	path    string // SQLite file
	url     string // PostgreSQL database
}

func randomName() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sqliteDSN is how the store opens its database.
func sqliteDSN(path string) string {
	return "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
}

func openSQLite(tb testing.TB, path string) *sql.DB {
	db, err := sql.Open("sqlite", sqliteDSN(path))
	require.NoError(tb, err)
	db.SetMaxOpenConns(4)
	tb.Cleanup(func() { db.Close() })
	return db
}

func openPG(tb testing.TB, url string) *pgxpool.Pool {
	pcfg, err := pgxpool.ParseConfig(url)
	require.NoError(tb, err)
	pcfg.MaxConns = 20
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	require.NoError(tb, err)
	tb.Cleanup(pool.Close)
	return pool
}

// newHandles creates an empty database of backend for one test.
func newHandles(tb testing.TB, backend string) handles {
	tb.Helper()
	if backend == "sqlite" {
		path := filepath.Join(tb.TempDir(), "labelgate.db")
		return handles{backend: backend, sqlite: openSQLite(tb, path), path: path}
	}
	base := os.Getenv("LABELGATE_TEST_POSTGRES")
	ctx := context.Background()
	admin, err := pgxpool.New(ctx, base)
	require.NoError(tb, err)
	name := "scanqueue_" + randomName()
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close()
	})
	url := replaceDB(base, name)
	return handles{backend: backend, pg: openPG(tb, url), url: url}
}

// replaceDB points a postgres:// URL at database name.
func replaceDB(url, name string) string {
	rest := ""
	if i := strings.IndexByte(url, '?'); i >= 0 {
		url, rest = url[:i], url[i:]
	}
	i := strings.LastIndexByte(url, '/')
	if i < len("postgres://") {
		return url + "/" + name + rest
	}
	return url[:i+1] + name + rest
}

func testConfig(h handles) Config {
	return Config{
		SQLite:              h.sqlite,
		Postgres:            h.pg,
		Logger:              slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registerer:          prometheus.NewRegistry(),
		WorkerID:            "test-" + randomName(),
		Workers:             8,
		PartitionWorkers:    4,
		MaxAttempts:         5,
		RetryBase:           10 * time.Millisecond,
		RetryMax:            time.Second,
		FetchPollInterval:   20 * time.Millisecond,
		FetchCooldown:       time.Millisecond,
		MaintenanceInterval: 20 * time.Millisecond,
		JobTimeout:          10 * time.Second,
		Lease:               time.Minute,
	}
}

// setup opens a queue on a fresh database; tweak adjusts the configuration.
func setup(t testing.TB, backend string, tweak func(*Config)) (*Queue, handles) {
	t.Helper()
	h := newHandles(t, backend)
	cfg := testConfig(h)
	if tweak != nil {
		tweak(&cfg)
	}
	q, err := Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = q.Close(ctx)
	})
	return q, h
}

func ref(tenant, item string) connectors.FileRef {
	return connectors.FileRef{App: connectors.AppBox, Tenant: tenant, Drive: "d1", ItemID: item}
}

// jobRow reads a job through River.
func jobRow(t *testing.T, q *Queue, id int64) (state string, prio int, scheduled time.Time, attempt int, args ScanArgs) {
	t.Helper()
	row, err := q.eng.client().JobGet(context.Background(), id)
	require.NoError(t, err)
	var env envelope
	require.NoError(t, json.Unmarshal(row.EncodedArgs, &env))
	require.NoError(t, json.Unmarshal(env.Args, &args))
	return string(row.State), row.Priority, row.ScheduledAt, row.Attempt, args
}

func countJobs(t *testing.T, q *Queue, where string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, q.eng.db().QueryRow(context.Background(), `SELECT COUNT(*) FROM river_job WHERE `+where, args...).Scan(&n))
	return n
}

func openSQLiteDB(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	return db, nil
}

func pgxpoolNew(ctx context.Context, url string) (*pgxpool.Pool, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	pcfg.MaxConns = 20
	return pgxpool.NewWithConfig(ctx, pcfg)
}
