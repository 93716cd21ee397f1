package scanqueue

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
)

// inserter inserts jobs through River inside the transaction it was made for.
type inserter func(ctx context.Context, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)

// engine is the part of River that depends on the driver's transaction type; Queue works
// through it so the rest of the package is written once for both databases.
type engine interface {
	dialect() dialect
	db() Tx
	inTx(ctx context.Context, fn func(ctx context.Context, tx Tx, ins inserter) error) error
	migrate(ctx context.Context, ddl []string) error
	newClient(cfg *river.Config) error
	client() riverClient
	// completeTx completes job inside a new transaction after fn ran in it.
	completeTx(ctx context.Context, job *river.Job[envelope], fn func(ctx context.Context, tx Tx) error) error
}

// riverClient is the driver-independent part of *river.Client.
type riverClient interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	Queues() *river.QueueBundle
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobRetry(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobDelete(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
}

type rengine[TTx any] struct {
	driver   riverdriver.Driver[TTx]
	c        *river.Client[TTx]
	d        dialect
	pool     Tx
	begin    func(ctx context.Context) (TTx, error)
	commit   func(ctx context.Context, tx TTx) error
	rollback func(ctx context.Context, tx TTx) error
	wrap     func(tx TTx) Tx
	// lock serialises migrations of several processes sharing a PostgreSQL database.
	lock     func(ctx context.Context) (unlock func(), err error)
	complete func(ctx context.Context, tx TTx, job *river.Job[envelope]) error
	// writeMu (SQLite) queues this process's own write transactions in Go: SQLite has one
	// writer at a time, and waiting here is cheaper and fairer than the busy handler's
	// sleep-and-retry.
	writeMu *sync.Mutex
}

func newSQLiteEngine(db *sql.DB) *rengine[*sql.Tx] {
	return &rengine[*sql.Tx]{
		driver:  riversqlite.New(db),
		d:       dialect{},
		writeMu: &sync.Mutex{},
		pool:    sqlTx{q: db},
		begin: func(ctx context.Context) (*sql.Tx, error) {
			return db.BeginTx(ctx, nil)
		},
		commit:   func(_ context.Context, tx *sql.Tx) error { return tx.Commit() },
		rollback: func(_ context.Context, tx *sql.Tx) error { return tx.Rollback() },
		wrap:     func(tx *sql.Tx) Tx { return sqlTx{q: tx, tx: tx} },
		lock:     func(context.Context) (func(), error) { return func() {}, nil },
		complete: func(ctx context.Context, tx *sql.Tx, job *river.Job[envelope]) error {
			_, err := river.JobCompleteTx[*riversqlite.Driver](ctx, tx, job)
			return err
		},
	}
}

func newPostgresEngine(pool *pgxpool.Pool) *rengine[pgx.Tx] {
	return &rengine[pgx.Tx]{
		driver: riverpgxv5.New(pool),
		d:      dialect{postgres: true},
		pool:   pgxTx{q: pool},
		begin: func(ctx context.Context) (pgx.Tx, error) {
			return pool.Begin(ctx)
		},
		commit:   func(ctx context.Context, tx pgx.Tx) error { return tx.Commit(ctx) },
		rollback: func(ctx context.Context, tx pgx.Tx) error { return tx.Rollback(ctx) },
		wrap:     func(tx pgx.Tx) Tx { return pgxTx{q: tx, tx: tx} },
		lock: func(ctx context.Context) (func(), error) {
			conn, err := pool.Acquire(ctx)
			if err != nil {
				return nil, err
			}
			// An arbitrary constant of labelgate's queue migrations.
			const key = 7262653512
			if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
				conn.Release()
				return nil, err
			}
			return func() {
				_, _ = conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, key)
				conn.Release()
			}, nil
		},
		complete: func(ctx context.Context, tx pgx.Tx, job *river.Job[envelope]) error {
			_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
			return err
		},
	}
}

func (e *rengine[TTx]) dialect() dialect    { return e.d }
func (e *rengine[TTx]) db() Tx              { return e.pool }
func (e *rengine[TTx]) client() riverClient { return e.c }

func (e *rengine[TTx]) newClient(cfg *river.Config) error {
	c, err := river.NewClient(e.driver, cfg)
	if err != nil {
		return err
	}
	e.c = c
	return nil
}

func (e *rengine[TTx]) lockWrites() func() {
	if e.writeMu == nil {
		return func() {}
	}
	e.writeMu.Lock()
	return e.writeMu.Unlock
}

func (e *rengine[TTx]) inTx(ctx context.Context, fn func(ctx context.Context, tx Tx, ins inserter) error) error {
	defer e.lockWrites()()
	tx, err := e.begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	ins := func(ctx context.Context, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
		return e.c.InsertManyTx(ctx, tx, params)
	}
	if err := fn(ctx, e.wrap(tx), ins); err != nil {
		_ = e.rollback(context.WithoutCancel(ctx), tx)
		return err
	}
	if err := e.commit(ctx, tx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (e *rengine[TTx]) migrate(ctx context.Context, ddl []string) error {
	m, err := rivermigrate.New(e.driver, &rivermigrate.Config{Logger: discardLogger()})
	if err != nil {
		return err
	}
	unlock, err := e.lock(ctx)
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	defer unlock()
	// Migrate, not MigrateTx: PostgreSQL cannot use an enum value added in the same
	// transaction, so River applies each version in a transaction of its own.
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("river migrations: %w", err)
	}
	for _, stmt := range ddl {
		if _, err := e.pool.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("scanqueue tables: %w", err)
		}
	}
	return nil
}

func (e *rengine[TTx]) completeTx(ctx context.Context, job *river.Job[envelope], fn func(ctx context.Context, tx Tx) error) error {
	defer e.lockWrites()()
	tx, err := e.begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(ctx, e.wrap(tx)); err != nil {
		_ = e.rollback(context.WithoutCancel(ctx), tx)
		return err
	}
	if err := e.complete(ctx, tx, job); err != nil {
		_ = e.rollback(context.WithoutCancel(ctx), tx)
		return fmt.Errorf("complete job %d: %w", job.ID, err)
	}
	if err := e.commit(ctx, tx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
