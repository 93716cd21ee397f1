package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/labelgate/labelgate/connectors"
)

// EventLabelUnchanged logs an action that found the file already in its target state, so
// nothing was written. It is kept apart from label_applied, which means labelgate wrote it.
const EventLabelUnchanged = "label_unchanged"

// ErrNotRunning is returned by CompleteAction when the action is no longer running (another
// worker or a stale-action sweep took it back).
var ErrNotRunning = errors.New("action is not running")

// Claim is the outcome of ClaimAction.
type Claim struct {
	Action Action
	// Claimed is true when this caller moved the action to running and now owns it.
	Claimed bool
	// Paused is true when the action's quota was used up: it is paused until Action.NotBefore.
	Paused bool
	// Limit is the allowance the claim was checked against (negative: unlimited).
	Limit int
	// Label is the catalog entry (deleted ones included) of the action's label, read with the
	// claim so the executor's catalog check costs no query of its own; nil when the catalog
	// has none, or the action names no label.
	Label *CatalogLabel
	// WriteSent is true when an earlier run of the action sent a label write (MarkWriteSent):
	// a label this run finds already in the target state is most likely that write, whose run
	// was cut short (a crash) or failed without knowing it had landed.
	WriteSent bool
}

// QuotaCounted reports whether an action kind is a label write that counts against quotas.
func QuotaCounted(kind string) bool { return kind == ActionApplyLabel || kind == ActionRemoveLabel }

// ClaimAction takes a pending action for execution in one transaction: the action must still
// be pending (or paused) and due, and a label write must fit in its daily allowance (limit(a)
// units per window, negative for unlimited). It then moves to running and the unit is counted;
// when the allowance is used up it moves to paused until the next reset instead. An action in any other
// state, or of a kind not in kinds (nil: any kind), is returned unclaimed, unchanged.
func (s *Store) ClaimAction(ctx context.Context, id int64, now time.Time, kinds []string, limit func(Action) int) (Claim, error) {
	return s.claimAction(ctx, nil, id, now, kinds, limit)
}

func (s *Store) claimAction(ctx context.Context, sc *stmtCache, id int64, now time.Time, kinds []string, limit func(Action) int) (Claim, error) {
	if s.dialect == Postgres {
		return s.claimActionPG(ctx, id, now, kinds, limit)
	}
	var c Claim
	err := s.Tx(ctx, func(tx *Tx) error {
		c = Claim{}
		nowMS := now.UnixMilli()
		// The conditional update is the lock: on PostgreSQL a concurrent claimer blocks on the
		// row and then sees it is no longer pending. A paused action whose quota window has
		// reset is claimable too, so a queue job snoozed until the reset needs no resume step.
		// quota_window records the window a unit is counted in; cleared below when none is.
		window := QuotaWindow(now)
		q := `UPDATE actions SET state = ?, attempts = attempts + 1, updated_at = ?, quota_window = ?
			WHERE id = ? AND state IN (?, ?) AND not_before <= ?` + kindsIn(kinds)
		args := []any{ActionRunning, nowMS, window.UnixMilli(), id, ActionPending, ActionPaused, nowMS}
		for _, k := range kinds {
			args = append(args, k)
		}
		var sent int64
		a, err := scanAction(extraScan{sc.queryRow(ctx, tx, q+` RETURNING `+actionCols+`, write_sent_at`, args...), []any{&sent}})
		if isNoRows(err) {
			a, err = scanAction(tx.queryRow(ctx, `SELECT `+actionCols+` FROM actions WHERE id = ?`, id))
			if isNoRows(err) {
				return fmt.Errorf("action %d: %w", id, ErrNotFound)
			}
			if err != nil {
				return fmt.Errorf("store: claim action: %w", err)
			}
			c.Action = a
			return nil
		}
		if err != nil {
			return fmt.Errorf("store: claim action: %w", err)
		}
		c.Action, c.Limit, c.WriteSent = a, -1, sent != 0
		if ExecutorKind(a.Kind) {
			c.Limit = limit(a)
		}
		if c.Limit < 0 {
			if _, err := sc.exec(ctx, tx, `UPDATE actions SET quota_window = 0 WHERE id = ?`, id); err != nil {
				return fmt.Errorf("store: claim action: %w", err)
			}
		} else {
			ok, err := tx.takeQuota(ctx, sc, string(a.Ref.App), a.Ref.Tenant, ActionAllowance(a.Kind, a.Manual), window.UnixMilli(), c.Limit)
			if err != nil {
				return err
			}
			if !ok {
				reset := NextQuotaReset(now)
				reason := pauseReason(a, c.Limit, reset)
				// attempts was bumped by the claim; a pause is not an attempt, and no unit is counted.
				if _, err := tx.exec(ctx, `UPDATE actions SET state = ?, reason = ?, not_before = ?, attempts = attempts - 1,
					quota_window = 0 WHERE id = ?`, ActionPaused, reason, reset.UnixMilli(), id); err != nil {
					return fmt.Errorf("store: pause action: %w", err)
				}
				c.Action.State, c.Action.Reason, c.Action.NotBefore, c.Action.Attempts = ActionPaused, reason, reset, a.Attempts-1
				c.Paused = true
				return nil
			}
		}
		c.Claimed = true
		if a.LabelID == "" {
			return nil
		}
		l, err := scanLabel(sc.queryRow(ctx, tx, `SELECT `+labelCols+` FROM labels WHERE app = ? AND tenant = ? AND id = ?`,
			string(a.Ref.App), a.Ref.Tenant, a.LabelID))
		switch {
		case isNoRows(err):
		case err != nil:
			return fmt.Errorf("store: claim action: %w", err)
		default:
			c.Label = &l
		}
		return nil
	})
	return c, err
}

// pauseReason says why a claim paused an action: its allowance is used up until reset.
func pauseReason(a Action, limit int, reset time.Time) string {
	return fmt.Sprintf("daily %s quota of %d for %s/%s used up; resumes at %s", ActionAllowance(a.Kind, a.Manual), limit,
		a.Ref.App, a.Ref.Tenant, reset.Format(time.RFC3339))
}

// MarkWriteSent records, before the provider is sent a running action's label write, that it
// was; a later run of the action reads it back in Claim.WriteSent. The time of the first write
// is kept. It returns ErrNotRunning when the action is no longer running: it was taken back,
// and this run must not write.
func (s *Store) MarkWriteSent(ctx context.Context, id int64, now time.Time) error {
	return s.markWriteSent(ctx, nil, id, now)
}

func (s *Store) markWriteSent(ctx context.Context, sc *stmtCache, id int64, now time.Time) error {
	const q = `UPDATE actions SET write_sent_at = CASE WHEN write_sent_at = 0 THEN ? ELSE write_sent_at END
		WHERE id = ? AND state = ?`
	res, err := sc.execDB(ctx, s, q, now.UnixMilli(), id, ActionRunning)
	if err != nil {
		return fmt.Errorf("store: mark write sent: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: mark write sent: %w", err)
	} else if n == 0 {
		return fmt.Errorf("action %d: %w", id, ErrNotRunning)
	}
	return nil
}

// FileLabel is the label an action left on a file, for the inventory.
type FileLabel struct {
	LabelID string // "" when the action removed the label
	Tenant  string
	Method  string
}

// Completion is how a running action ends (or goes back to waiting).
type Completion struct {
	ID int64
	// State is done, failed or refused; or pending/paused to try again at NotBefore.
	State     string
	Reason    string
	NotBefore time.Time
	// ReleaseQuota gives the unit counted at claim time back to the window it was taken from:
	// set it when no label write took effect.
	ReleaseQuota bool
	// Label, when set, records the file's label in the inventory.
	Label *FileLabel
	// Event is the kind of discovery event to log (action_refused, action_failed,
	// label_unchanged); "" logs label_applied or label_cleared when Label is set, else nothing.
	// The store fills in the file's path and name, the labels and Reason as the detail.
	Event string
	Actor string
	// File describes the file for the event when the caller knows it from the provider; nil
	// reads it from the inventory.
	File *FileFacts
	// Access, when set, records the file's sharing as the provider reports it after a sharing
	// action (issue 24) in the inventory, in the same transaction as the action's end and its
	// event: the access level narrows exactly when access_restricted is logged, and no
	// access_changed event is logged for labelgate's own change.
	Access *FileAccess
}

// FileAccess is a file's sharing for the inventory.
type FileAccess struct {
	Access  connectors.AccessLevel
	Domains []string
}

// FileFacts name a file in an action's event: where it is and the label it held before.
type FileFacts struct {
	Path, Name, PrevLabelID string
}

// CompleteAction ends a running action in one transaction: its new state, the quota unit given
// back if asked, the inventory label and the discovery events. It returns ErrNotRunning when
// the action is no longer running.
func (s *Store) CompleteAction(ctx context.Context, c Completion) error {
	return s.completeAction(ctx, nil, c)
}

// eventKind is the discovery event a completion logs, "" for none.
func (c Completion) eventKind() string {
	switch {
	case c.Event != "":
		return c.Event
	case c.Label == nil:
		return ""
	case c.Label.LabelID == "":
		return EventLabelCleared
	}
	return EventLabelApplied
}

// releases reports whether a completion gives its quota unit back: no write took effect, or
// the action goes back to wait and will count again when it runs.
func (c Completion) releases() bool {
	return c.ReleaseQuota || c.State == ActionPending || c.State == ActionPaused
}

func (s *Store) completeAction(ctx context.Context, sc *stmtCache, c Completion) error {
	// The single-statement form has no inventory access update; sharing completions are rare
	// next to label writes and take the generic transaction.
	if s.dialect == Postgres && c.Access == nil {
		return s.completeActionPG(ctx, c)
	}
	return s.Tx(ctx, func(tx *Tx) error {
		nowMS := s.now().UnixMilli()
		// quota_window stays as the record of where the unit was counted; releasing happens only
		// on this running → not-running step, so a unit is never given back twice.
		var window int64
		a, err := scanAction(extraScan{sc.queryRow(ctx, tx, `UPDATE actions SET state = ?, reason = ?, not_before = ?, updated_at = ?
			WHERE id = ? AND state = ? RETURNING `+actionCols+`, quota_window`, c.State, c.Reason, ms(c.NotBefore), nowMS, c.ID,
			ActionRunning), []any{&window}})
		if isNoRows(err) {
			return fmt.Errorf("action %d: %w", c.ID, ErrNotRunning)
		}
		if err != nil {
			return fmt.Errorf("store: complete action: %w", err)
		}
		if window != 0 && c.releases() {
			if err := tx.releaseQuota(ctx, sc, string(a.Ref.App), a.Ref.Tenant, ActionAllowance(a.Kind, a.Manual), window); err != nil {
				return err
			}
		}
		if c.Access != nil {
			// A file not in the inventory yet is left to the scanner, as for labels.
			if _, err := sc.exec(ctx, tx, `UPDATE files SET access = ?, domains_json = ?, updated_at = ?
				WHERE app = ? AND tenant = ? AND drive = ? AND item_id = ?`, string(c.Access.Access), jsonList(c.Access.Domains), nowMS,
				string(a.Ref.App), a.Ref.Tenant, a.Ref.Drive, a.Ref.ItemID); err != nil {
				return fmt.Errorf("store: complete action: %w", err)
			}
		}
		kind := c.eventKind()
		if kind == "" {
			return nil
		}
		f := c.File
		if f == nil {
			f = &FileFacts{}
			err := sc.queryRow(ctx, tx, `SELECT path, name, label_id FROM files WHERE app = ? AND tenant = ? AND drive = ? AND item_id = ?`,
				string(a.Ref.App), a.Ref.Tenant, a.Ref.Drive, a.Ref.ItemID).Scan(&f.Path, &f.Name, &f.PrevLabelID)
			if err != nil && !isNoRows(err) {
				return fmt.Errorf("store: complete action: %w", err)
			}
		}
		e := Event{Kind: kind, App: a.Ref.App, Tenant: a.Ref.Tenant, Drive: a.Ref.Drive, ItemID: a.Ref.ItemID, Path: f.Path,
			Name: f.Name, LabelID: a.LabelID, PrevLabelID: f.PrevLabelID, Actor: c.Actor, Detail: c.Reason}
		if c.Label != nil {
			e.LabelID = c.Label.LabelID
			// A file not in the inventory yet is left to the scanner; the event is logged anyway.
			if _, err := sc.exec(ctx, tx, `UPDATE files SET label_id = ?, label_tenant = ?, label_method = ?, label_set_at = ?,
					label_external = ?, updated_at = ? WHERE app = ? AND tenant = ? AND drive = ? AND item_id = ?`,
				c.Label.LabelID, c.Label.Tenant, c.Label.Method, nowMS, false, nowMS,
				string(a.Ref.App), a.Ref.Tenant, a.Ref.Drive, a.Ref.ItemID); err != nil {
				return fmt.Errorf("store: complete action: %w", err)
			}
		}
		return tx.addEvent(ctx, e, nowMS)
	})
}

// LabelWrittenByLabelgate reports whether a file's label labelID is there because labelgate
// wrote it: the latest label event of the file is labelgate's label_applied of that label.
// A label found by a scan, or one labelgate only found already in place, is someone else's.
func (s *Store) LabelWrittenByLabelgate(ctx context.Context, ref connectors.FileRef, labelID string) (bool, error) {
	var kind, id string
	err := s.queryRow(ctx, `SELECT kind, label_id FROM events WHERE app = ? AND tenant = ? AND drive = ? AND item_id = ?
		AND kind IN (?, ?, ?, ?, ?, ?) ORDER BY id DESC LIMIT 1`, string(ref.App), ref.Tenant, ref.Drive, ref.ItemID,
		EventLabelApplied, EventLabelCleared, EventDiscovered, EventLabelAdded, EventLabelChanged, EventLabelRemoved).Scan(&kind, &id)
	if isNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: label writer: %w", err)
	}
	return kind == EventLabelApplied && id == labelID, nil
}

// ResumePaused moves paused actions whose quota window has reset back to pending, so they run
// again oldest first. It returns how many resumed.
func (s *Store) ResumePaused(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.exec(ctx, `UPDATE actions SET state = ?, reason = '', updated_at = ? WHERE state = ? AND not_before <= ?`,
		ActionPending, s.now().UnixMilli(), ActionPaused, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("store: resume paused: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// RunnableFilter selects due label actions.
type RunnableFilter struct {
	Now time.Time
	// ManualFirst orders admins' manual actions first, then oldest first, for one batch;
	// otherwise actions come oldest first after AfterID, for paging.
	ManualFirst bool
	AfterID     int64
	Limit       int // default 100
}

// RunnableActions returns pending executor actions (label writes, sharing actions) that are due.
func (s *Store) RunnableActions(ctx context.Context, f RunnableFilter) ([]Action, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q := `SELECT ` + actionCols + ` FROM actions WHERE state = ? AND kind IN ` + inList(len(executorKinds)) + ` AND not_before <= ?`
	args := append(append([]any{ActionPending}, anys(executorKinds)...), f.Now.UnixMilli())
	if f.ManualFirst {
		q += ` ORDER BY manual DESC, id LIMIT ?`
	} else {
		q += ` AND id > ? ORDER BY id LIMIT ?`
		args = append(args, f.AfterID)
	}
	args = append(args, f.Limit)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: runnable actions: %w", err)
	}
	defer rows.Close()
	var out []Action
	for rows.Next() {
		a, err := scanAction(rows)
		if err != nil {
			return nil, fmt.Errorf("store: runnable actions: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// RequeueStale returns running label actions not updated since cutoff (their worker died) to
// pending, giving their quota unit back: the executor re-reads the file before writing, so a
// write that did happen is not repeated. It returns how many were requeued.
func (s *Store) RequeueStale(ctx context.Context, cutoff time.Time) (int64, error) {
	rows, err := s.query(ctx, `SELECT id FROM actions WHERE state = ? AND updated_at < ?`, ActionRunning, cutoff.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("store: requeue stale: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("store: requeue stale: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("store: requeue stale: %w", err)
	}
	var n int64
	for _, id := range ids {
		err := s.CompleteAction(ctx, Completion{ID: id, State: ActionPending, Reason: "requeued: worker stopped while running"})
		if errors.Is(err, ErrNotRunning) {
			continue
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// extraScan scans a row's leading columns into the caller's targets and the rest into extra.
type extraScan struct {
	sc    interface{ Scan(...any) error }
	extra []any
}

func (x extraScan) Scan(dest ...any) error { return x.sc.Scan(append(dest, x.extra...)...) }

// Prepared is the executor's handle on the store: ClaimAction and CompleteAction run with
// their statements prepared once per connection. SQLite otherwise parses every statement
// again, about a third of the CPU an action costs.
type Prepared struct {
	*Store
	sc *stmtCache
}

// Prepared returns a handle whose hot-path statements are prepared on first use; Close
// releases them.
func (s *Store) Prepared() *Prepared {
	if s.dialect == Postgres {
		// pgx caches its prepared statements per connection already; preparing through
		// database/sql on top costs extra round trips instead of saving any.
		return &Prepared{Store: s}
	}
	return &Prepared{Store: s, sc: &stmtCache{s: s, stmts: map[string]*sql.Stmt{}, pending: map[string]bool{}}}
}

// ClaimAction is Store.ClaimAction with prepared statements.
func (p *Prepared) ClaimAction(ctx context.Context, id int64, now time.Time, kinds []string, limit func(Action) int) (Claim, error) {
	p.sc.warm(ctx)
	return p.claimAction(ctx, p.sc, id, now, kinds, limit)
}

// CompleteAction is Store.CompleteAction with prepared statements.
func (p *Prepared) CompleteAction(ctx context.Context, c Completion) error {
	p.sc.warm(ctx)
	return p.completeAction(ctx, p.sc, c)
}

// MarkWriteSent is Store.MarkWriteSent with prepared statements.
func (p *Prepared) MarkWriteSent(ctx context.Context, id int64, now time.Time) error {
	p.sc.warm(ctx)
	return p.markWriteSent(ctx, p.sc, id, now)
}

// Close releases the prepared statements (not the store).
func (p *Prepared) Close() error {
	if p.sc == nil {
		return nil
	}
	p.sc.mu.Lock()
	defer p.sc.mu.Unlock()
	var errs []error
	for q, st := range p.sc.stmts {
		errs = append(errs, st.Close())
		delete(p.sc.stmts, q)
	}
	return errors.Join(errs...)
}

// stmtCache prepares queries lazily, keyed by their text; database/sql then keeps one
// prepared statement per connection. A nil cache runs queries unprepared.
//
// A query is never prepared inside a transaction: that would need a second connection while
// the transaction holds one, and with SQLite's small pool and immediate transactions every
// connection can be held by a transaction waiting for the write lock. A query met for the
// first time runs unprepared and is prepared by warm before the next transaction.
type stmtCache struct {
	s       *Store
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
	pending map[string]bool
}

// maxCachedStmts bounds a cache: queries built with a varying number of placeholders would
// otherwise each take an entry.
const maxCachedStmts = 512

// stmt returns the prepared form of q, or nil (and notes q for warm).
func (c *stmtCache) stmt(q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.stmts[q]
	if !ok && len(c.stmts)+len(c.pending) < maxCachedStmts {
		c.pending[q] = true
	}
	return st
}

// close releases the prepared statements.
func (c *stmtCache) close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.stmts {
		_ = st.Close()
		delete(c.stmts, q)
	}
	clear(c.pending)
}

// warm prepares the queries met since the last call. Call it outside any transaction.
func (c *stmtCache) warm(ctx context.Context) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return
	}
	qs := make([]string, 0, len(c.pending))
	for q := range c.pending {
		qs = append(qs, q)
	}
	clear(c.pending)
	c.mu.Unlock()
	// Prepared without the lock: preparing may wait for a free connection, and a goroutine
	// holding one inside a transaction may be asking the cache for a statement meanwhile.
	for _, q := range qs {
		st, err := c.s.db.PrepareContext(ctx, c.s.rebind(q))
		if err != nil {
			continue
		}
		c.mu.Lock()
		if _, dup := c.stmts[q]; dup {
			st.Close()
		} else {
			c.stmts[q] = st
		}
		c.mu.Unlock()
	}
}

func (c *stmtCache) queryRow(ctx context.Context, tx *Tx, q string, args ...any) *sql.Row {
	if c != nil {
		if st := c.stmt(q); st != nil {
			return tx.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
		}
	}
	return tx.queryRow(ctx, q, args...)
}

// execDB runs q on s outside any transaction.
func (c *stmtCache) execDB(ctx context.Context, s *Store, q string, args ...any) (sql.Result, error) {
	if c != nil {
		if st := c.stmt(q); st != nil {
			return st.ExecContext(ctx, args...)
		}
	}
	return s.exec(ctx, q, args...)
}

func (c *stmtCache) exec(ctx context.Context, tx *Tx, q string, args ...any) (sql.Result, error) {
	if c != nil {
		if st := c.stmt(q); st != nil {
			return tx.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
		}
	}
	return tx.exec(ctx, q, args...)
}
