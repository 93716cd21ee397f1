package scanqueue

import (
	"container/list"
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"reflect"
	"strings"
	"time"

	"modernc.org/sqlite"
)

// stmtCacheSize bounds the prepared statements kept per connection. River and the queue
// run a few dozen distinct statements, so this holds all of them.
const stmtCacheSize = 128

// openCachedSQLite opens a second pool on the file behind db whose connections keep
// their prepared statements. modernc.org/sqlite parses and plans a statement on every
// Exec and Query that is not prepared, and River's SQLite driver runs its large
// statements that way once per job (completing a batch is one UPDATE … RETURNING per
// job); parsing was about half the queue's CPU. The pool uses the same file, journal,
// synchronous and busy settings as db, so durability is db's. It returns nil (use db)
// for an in-memory or temporary database, which a second pool cannot share.
func openCachedSQLite(ctx context.Context, db *sql.DB) (*sql.DB, error) {
	var seq int
	var name, file string
	if err := db.QueryRowContext(ctx, `PRAGMA database_list`).Scan(&seq, &name, &file); err != nil {
		return nil, fmt.Errorf("database file: %w", err)
	}
	if file == "" || name != "main" {
		return nil, nil
	}
	pragmas := []string{"journal_mode", "synchronous", "busy_timeout", "foreign_keys"}
	q := make([]string, 0, len(pragmas)+1)
	for _, p := range pragmas {
		var v string
		if err := db.QueryRowContext(ctx, `PRAGMA `+p).Scan(&v); err != nil {
			return nil, fmt.Errorf("pragma %s: %w", p, err)
		}
		q = append(q, "_pragma="+p+"("+v+")")
	}
	// Write transactions take the write lock when they begin, not on their first write,
	// so two of them never deadlock upgrading a read lock.
	q = append(q, "_txlock=immediate")
	escaper := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	conn, err := sqlite.NewConnector("file:" + escaper.Replace(file) + "?" + strings.Join(q, "&"))
	if err != nil {
		return nil, err
	}
	own := sql.OpenDB(&cachingConnector{Connector: conn})
	// The same bound the store uses: SQLite has one writer, more connections only wait.
	own.SetMaxOpenConns(4)
	own.SetMaxIdleConns(4)
	// An idle pool gives back its file handles and statements.
	own.SetConnMaxIdleTime(time.Minute)
	if err := own.PingContext(ctx); err != nil {
		own.Close()
		return nil, err
	}
	return own, nil
}

// cachingConnector makes connections that keep their prepared statements.
type cachingConnector struct {
	driver.Connector
}

func (c *cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if _, ok := conn.(interface {
		driver.ConnPrepareContext
		driver.ExecerContext
		driver.QueryerContext
		driver.ConnBeginTx
	}); !ok {
		conn.Close()
		return nil, fmt.Errorf("sqlite connection %T lacks context methods", conn)
	}
	return &cachingConn{Conn: conn, stmts: map[string]*list.Element{}, lru: list.New()}, nil
}

// cachingConn runs Exec and Query through prepared statements kept by query text.
// database/sql uses a connection from one goroutine at a time, so it needs no lock.
type cachingConn struct {
	driver.Conn
	stmts map[string]*list.Element // of *cachedStmt, most recently used at the front
	lru   *list.List
}

type cachedStmt struct {
	query string
	stmt  driver.Stmt
	// busy: rows of this statement are open, so it cannot run again until they close.
	busy    bool
	evicted bool
}

func (c *cachingConn) inner() interface {
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.ConnBeginTx
} {
	return c.Conn.(interface {
		driver.ConnPrepareContext
		driver.ExecerContext
		driver.QueryerContext
		driver.ConnBeginTx
	})
}

// get returns the free prepared statement for query, preparing it on first use; nil
// means the statement is busy and the caller runs the query unprepared.
func (c *cachingConn) get(ctx context.Context, query string) (*cachedStmt, error) {
	if el, ok := c.stmts[query]; ok {
		cs := el.Value.(*cachedStmt)
		if cs.busy {
			return nil, nil
		}
		c.lru.MoveToFront(el)
		return cs, nil
	}
	st, err := c.inner().PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cs := &cachedStmt{query: query, stmt: st}
	c.stmts[query] = c.lru.PushFront(cs)
	for c.lru.Len() > stmtCacheSize {
		c.evict(c.lru.Back())
	}
	return cs, nil
}

// evict forgets a statement, closing it unless its rows are still open (then they
// close it).
func (c *cachingConn) evict(el *list.Element) {
	cs := el.Value.(*cachedStmt)
	c.lru.Remove(el)
	delete(c.stmts, cs.query)
	cs.evicted = true
	if !cs.busy {
		_ = cs.stmt.Close()
	}
}

// failed drops a statement whose run failed: an interrupted or failed statement is not
// worth trusting again, and preparing it anew is cheap next to the failure.
func (c *cachingConn) failed(cs *cachedStmt) {
	if el, ok := c.stmts[cs.query]; ok && el.Value == cs {
		c.evict(el)
	}
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.inner().ExecContext(ctx, query, args)
	}
	res, err := cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
	if err != nil {
		c.failed(cs)
	}
	return res, err
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.inner().QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		c.failed(cs)
		return nil, err
	}
	cs.busy = true
	return &cachedRows{Rows: rows, cs: cs}, nil
}

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.inner().PrepareContext(ctx, query)
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.inner().BeginTx(ctx, opts)
}

func (c *cachingConn) Close() error {
	for el := c.lru.Front(); el != nil; el = el.Next() {
		_ = el.Value.(*cachedStmt).stmt.Close()
	}
	c.lru.Init()
	clear(c.stmts)
	return c.Conn.Close()
}

func (c *cachingConn) ResetSession(ctx context.Context) error {
	if r, ok := c.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *cachingConn) IsValid() bool {
	if v, ok := c.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *cachingConn) Ping(ctx context.Context) error {
	if p, ok := c.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// cachedRows frees its statement for the next run when closed.
type cachedRows struct {
	driver.Rows
	cs     *cachedStmt
	closed bool
}

func (r *cachedRows) Close() error {
	err := r.Rows.Close()
	if r.closed {
		return err
	}
	r.closed = true
	r.cs.busy = false
	if r.cs.evicted {
		if cerr := r.cs.stmt.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *cachedRows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *cachedRows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}
