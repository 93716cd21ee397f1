package scanqueue

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Row is one result row of Tx.QueryRow.
type Row interface {
	Scan(dest ...any) error
}

// Rows is the result of Tx.Query.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Tx is a database transaction of the queue's database, handed to Job.CompleteTx so a
// handler's effects commit together with the job's completion. Queries use $1, $2…
// placeholders on both databases, numbered in order of first use.
type Tx interface {
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
	// SQL is the transaction on SQLite, nil on PostgreSQL.
	SQL() *sql.Tx
	// Pgx is the transaction on PostgreSQL, nil on SQLite.
	Pgx() pgx.Tx
}

// dialect holds what differs between the two databases in labelgate's own SQL.
type dialect struct {
	postgres bool
}

// least is the two-argument minimum.
func (d dialect) least() string {
	if d.postgres {
		return "LEAST"
	}
	return "MIN"
}

// forUpdate locks a selected row on PostgreSQL; SQLite's write transactions are exclusive.
func (d dialect) forUpdate() string {
	if d.postgres {
		return " FOR UPDATE"
	}
	return ""
}

// jsonArg casts a JSON parameter to the column type River uses for args.
func (d dialect) jsonArg(n int) string {
	if d.postgres {
		return fmt.Sprintf("$%d::jsonb", n)
	}
	return fmt.Sprintf("jsonb($%d)", n)
}

// timeArg encodes a time the way River's driver stores it; River's SQLite driver keeps
// times as text in one exact format and compares them as strings.
func (d dialect) timeArg(t time.Time) any {
	if d.postgres {
		return t.UTC()
	}
	return t.UTC().Round(time.Millisecond).Format("2006-01-02 15:04:05.000")
}

// parseTime reads a time column of river_job from either database.
func parseTime(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, true
	case string:
		return parseTimeString(t)
	case []byte:
		return parseTimeString(string(t))
	}
	return time.Time{}, false
}

func parseTimeString(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02 15:04:05", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// sqlTx adapts database/sql to Tx (SQLite).
type sqlTx struct {
	q interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
	tx *sql.Tx
}

func (s sqlTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := s.q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s sqlTx) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := s.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (s sqlTx) QueryRow(ctx context.Context, query string, args ...any) Row {
	return s.q.QueryRowContext(ctx, query, args...)
}

func (s sqlTx) SQL() *sql.Tx { return s.tx }
func (s sqlTx) Pgx() pgx.Tx  { return nil }

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

// pgxTx adapts pgx to Tx (PostgreSQL).
type pgxTx struct {
	q interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
	tx pgx.Tx
}

func (p pgxTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := p.q.Exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (p pgxTx) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := p.q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (p pgxTx) QueryRow(ctx context.Context, query string, args ...any) Row {
	return p.q.QueryRow(ctx, query, args...)
}

func (p pgxTx) SQL() *sql.Tx { return nil }
func (p pgxTx) Pgx() pgx.Tx  { return p.tx }

var (
	errNoRowsSQL = sql.ErrNoRows
	errNoRowsPgx = pgx.ErrNoRows
)
