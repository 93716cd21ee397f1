// Package store is labelgate's database: embedded SQLite by default, PostgreSQL for replicas.
//
// It is the only package with SQL in it. Both backends run the same queries through
// database/sql (pgx's stdlib adapter for PostgreSQL); placeholders are written as ? and
// rebound to $n for PostgreSQL. Times are stored as unix milliseconds.
package store

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/labelgate/labelgate/connectors"
	"modernc.org/sqlite" // registers the pure-Go "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names a database backend.
type Dialect string

// The supported backends.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// Config says which database to open.
type Config struct {
	// URL is "" or "sqlite:" (SQLite at DataDir/labelgate.db), "sqlite:/path/file.db",
	// or "postgres://…" / "postgresql://…".
	URL     string
	DataDir string
	Logger  *slog.Logger
	// Now is the clock; tests set it. Defaults to time.Now.
	Now func() time.Time
}

// Store is an open database with migrations applied.
type Store struct {
	db      *sql.DB
	pool    *pgxpool.Pool // PostgreSQL only
	dialect Dialect
	log     *slog.Logger
	now     func() time.Time
	path    string // SQLite file
	// forgetBatch overrides the delete batch of ForgetDeliveries (tests); 0 = forgetBatch.
	forgetBatch int
	// stmts prepares every statement the store runs, on SQLite (nil on PostgreSQL, whose
	// driver caches prepared statements per connection itself). Parsing SQL again for each
	// call was over a quarter of the gateway's CPU in a rescan (issue 21's profile).
	stmts *stmtCache
	// analyze keeps the inventory's statistics current while it grows (PostgreSQL only).
	analyze *autoAnalyze
}

//go:embed migrations/*.sql
var migrationFS embed.FS

// Open opens the database named by cfg and applies pending migrations.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s := &Store{log: cfg.Logger, now: cfg.Now}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	u := strings.TrimSpace(cfg.URL)
	switch {
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		if err := s.openPostgres(ctx, u); err != nil {
			return nil, err
		}
	case u == "", u == "sqlite:", strings.HasPrefix(u, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(u, "sqlite:"), "//")
		if path == "" {
			dir := cfg.DataDir
			if dir == "" {
				dir = "."
			}
			path = filepath.Join(dir, "labelgate.db")
		}
		if err := s.openSQLite(ctx, path); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("store.url: unsupported scheme in %q (want postgres:// or sqlite:)", redactURL(u))
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) openSQLite(ctx context.Context, path string) error {
	if path != ":memory:" {
		if err := s.privateFiles(path); err != nil {
			return err
		}
	}
	// Immediate transactions take the write lock up front, so concurrent writers wait on the
	// busy timeout instead of failing with SQLITE_BUSY when a read transaction upgrades.
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	// SQLite serialises writers anyway; a handful of connections lets readers run beside
	// the one writer in WAL mode without piling up lock waits.
	db.SetMaxOpenConns(4)
	// Keep all four idle between uses: database/sql keeps 2 by default, so under load it
	// closed and reopened connections, each reopening running the DSN's pragmas and losing
	// its prepared statements (a 10,000-file rescan's profile spent 5 % of the gateway's CPU
	// reconnecting and re-preparing).
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	s.db, s.dialect, s.path = db, SQLite, path
	s.stmts = &stmtCache{s: s, stmts: map[string]*sql.Stmt{}, pending: map[string]bool{}}
	return nil
}

// privateFiles prepares the SQLite file's folder and the file itself so that only this
// account can read them: the database holds Graph clientState values, Drive channel tokens and
// the label inventory. Folders it creates are 0700; the database and its WAL and shared-memory
// files are created (or tightened to) 0600 whatever the umask or an older version left. An
// existing folder is not changed (it may be shared on purpose, e.g. a mounted volume), but a
// folder others can read or enter is worth a warning.
func (s *Store) privateFiles(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("store: data directory: %w", err)
	}
	if info, err := os.Stat(dir); err == nil && info.Mode().Perm()&0o077 != 0 {
		s.log.Warn("store: the data directory is open to other accounts; the database in it is kept 0600, but consider chmod 700",
			"dir", dir, "mode", info.Mode().Perm().String())
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		if p == path {
			// Create the database file ourselves so SQLite never creates it with the umask's mode.
			f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				return fmt.Errorf("store: database file: %w", err)
			}
			f.Close()
		}
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store: database file: %w", err)
		}
	}
	return nil
}

func (s *Store) openPostgres(ctx context.Context, url string) error {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("store.url: %w", err)
	}
	if pcfg.MaxConns < 10 {
		pcfg.MaxConns = 10
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("store: connect postgres %s: %w", redactURL(url), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return fmt.Errorf("store: connect postgres %s: %w", redactURL(url), err)
	}
	s.pool, s.db, s.dialect = pool, stdlib.OpenDBFromPool(pool), Postgres
	s.analyze = newAutoAnalyze()
	return nil
}

// Close releases the database.
func (s *Store) Close() error {
	var err error
	s.analyze.stop()
	s.stmts.close()
	if s.db != nil {
		err = s.db.Close()
	}
	if s.pool != nil {
		s.pool.Close()
	}
	return err
}

// Dialect reports the backend.
func (s *Store) Dialect() Dialect { return s.dialect }

// DB is the database/sql handle (SQLite, or PostgreSQL through pgx's stdlib adapter). The job
// queue builds River's driver on it; nothing else should run SQL outside this package.
func (s *Store) DB() *sql.DB { return s.db }

// Pool is the pgx pool on PostgreSQL, nil on SQLite.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Path is the SQLite file, "" on PostgreSQL.
func (s *Store) Path() string { return s.path }

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }

// Analyze refreshes PostgreSQL's planner statistics now instead of at autovacuum's next pass
// (SQLite: nothing to do). Until a table is first analysed PostgreSQL costs a files lookup by
// primary key the same as a scan of the tenant's files_path range and may take the scan: with
// 3,000 files one label write's inventory update took 0.85 ms instead of 0.03 ms. Benchmarks
// call it after loading data so they measure the steady state, as a running database is.
func (s *Store) Analyze(ctx context.Context) error {
	if s.dialect != Postgres {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, `ANALYZE`); err != nil {
		return fmt.Errorf("store: analyze: %w", err)
	}
	return nil
}

// Ready reports whether the database answers and every migration is applied.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	want, err := migrationVersions()
	if err != nil {
		return err
	}
	var have int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	if have < len(want) {
		return fmt.Errorf("store: %d of %d migrations applied", have, len(want))
	}
	return nil
}

func migrationVersions() ([]string, error) {
	ents, err := migrationFS.ReadDir("migrations")
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".sql") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// migrate applies every embedded migration not yet recorded, each in its own transaction.
// On PostgreSQL an advisory lock keeps replicas that start together from racing.
func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer conn.Close()
	if s.dialect == Postgres {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(7210411)`); err != nil {
			return fmt.Errorf("store: migrate lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7210411)`) //nolint:errcheck
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	names, err := migrationVersions()
	if err != nil {
		return err
	}
	for _, name := range names {
		var n int
		if err := conn.QueryRowContext(ctx, s.rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), name).Scan(&n); err != nil {
			return fmt.Errorf("store: migrate %s: %w", name, err)
		}
		if n > 0 {
			continue
		}
		body, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			return fmt.Errorf("store: migrate %s: %w", name, err)
		}
		ddl := s.dialectDDL(string(body))
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("store: migrate %s: %w", name, err)
		}
		for _, stmt := range splitStatements(ddl) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				tx.Rollback()
				return fmt.Errorf("store: migrate %s: %w\n%s", name, err, stmt)
			}
		}
		if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), name, s.now().UnixMilli()); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: migrate %s: %w", name, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("store: migrate %s: %w", name, err)
		}
		s.log.Info("applied migration", "version", name, "dialect", s.dialect)
	}
	return nil
}

func (s *Store) dialectDDL(ddl string) string {
	id := "INTEGER PRIMARY KEY AUTOINCREMENT"
	if s.dialect == Postgres {
		id = "BIGSERIAL PRIMARY KEY"
	}
	return strings.ReplaceAll(ddl, "{{ID}}", id)
}

// splitStatements splits a migration on semicolons at line ends, dropping comment lines.
func splitStatements(ddl string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(ddl, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, cur.String())
	}
	return out
}

// rebind turns ? placeholders into $1, $2… for PostgreSQL. Queries in this package never
// put a literal ? inside a string.
func (s *Store) rebind(q string) string {
	if s.dialect != Postgres {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	s.stmts.warm(ctx)
	if st := s.stmts.stmt(q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return s.db.ExecContext(ctx, s.rebind(q), args...)
}

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	s.stmts.warm(ctx)
	if st := s.stmts.stmt(q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.db.QueryContext(ctx, s.rebind(q), args...)
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	s.stmts.warm(ctx)
	if st := s.stmts.stmt(q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.db.QueryRowContext(ctx, s.rebind(q), args...)
}

// Tx runs fn in a transaction, committing when it returns nil.
func (s *Store) Tx(ctx context.Context, fn func(tx *Tx) error) error {
	s.stmts.warm(ctx) // statements are prepared outside transactions only (stmtCache)
	sqlTx, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	tx := &Tx{tx: sqlTx, s: s}
	if err := fn(tx); err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// txConflictRetries bounds how often txRetry runs a transaction again after PostgreSQL
// chose it as a deadlock or serialization victim.
const txConflictRetries = 3

// txRetry is Tx for a fn without effects outside the transaction, which may therefore run
// again: PostgreSQL resolves a deadlock or a serialization conflict by failing one of the
// transactions involved (SQLSTATE 40P01, 40001), and the documentation's advice is to retry
// it (https://www.postgresql.org/docs/current/mvcc-serialization-failure-handling.html).
// Writers of many rows also lock them in key order (byRef), so this is a second line.
func (s *Store) txRetry(ctx context.Context, fn func(tx *Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := s.Tx(ctx, fn)
		if err == nil || attempt >= txConflictRetries || !isConflict(err) || ctx.Err() != nil {
			return err
		}
	}
}

// isConflict says err is PostgreSQL's deadlock_detected or serialization_failure.
func isConflict(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// byRef orders file references as the files table's primary key does, so that writers of
// many rows take their row locks in one order and cannot deadlock one another.
func byRef(a, b connectors.FileRef) int {
	return cmp.Or(cmp.Compare(a.App, b.App), cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Drive, b.Drive), cmp.Compare(a.ItemID, b.ItemID))
}

// beginBusyWait bounds how long a SQLite write transaction keeps asking for the write lock.
const beginBusyWait = 2 * time.Minute

// begin starts a transaction. On SQLite, BEGIN IMMEDIATE takes the write lock up front and
// waits for it in SQLite's busy handler, which polls at growing intervals and favours no one:
// under load a writer can lose every poll for the whole busy timeout and fail with
// SQLITE_BUSY (TestSQLiteConcurrentWriters did, in CI). Nothing has run yet when BEGIN
// fails, so trying again is safe; the caller waits longer, under its context, instead of
// losing its write.
func (s *Store) begin(ctx context.Context) (*sql.Tx, error) {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err == nil || s.dialect != SQLite || !isBusy(err) || time.Since(start) > beginBusyWait {
			return tx, err
		}
		wait := time.Duration(min(attempt+1, 20)) * 5 * time.Millisecond
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// isBusy says err is SQLite's SQLITE_BUSY (extended codes included).
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// Tx is a transaction of the store; its methods mirror the store's where atomicity matters.
type Tx struct {
	tx *sql.Tx
	s  *Store
}

// SQL is the underlying transaction, for the queue to complete a job in the same transaction.
func (t *Tx) SQL() *sql.Tx { return t.tx }

func (t *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.s.stmts.stmt(q); st != nil {
		return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, t.s.rebind(q), args...)
}

func (t *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.s.stmts.stmt(q); st != nil {
		return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, t.s.rebind(q), args...)
}

func (t *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.s.stmts.stmt(q); st != nil {
		return t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, t.s.rebind(q), args...)
}

// redactURL hides a password in a database URL for error messages and logs.
func redactURL(u string) string {
	at := strings.LastIndex(u, "@")
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return u
	}
	cred := u[scheme+3 : at]
	if i := strings.Index(cred, ":"); i >= 0 {
		return u[:scheme+3] + cred[:i] + ":***" + u[at:]
	}
	return u
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}
