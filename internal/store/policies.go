package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/labelgate/labelgate/connectors"
)

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// Policy is a stored file policy. Doc is the policy package's own encoding of the whole
// policy; the store keeps the columns it filters on beside it.
type Policy struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Enabled   bool      `json:"enabled"`
	Severity  string    `json:"severity"`
	Category  string    `json:"category"`
	Doc       []byte    `json:"-"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// PutPolicy creates or replaces a policy. Changing the enabled flag through PutPolicy
// suspends or resumes its pending actions just like SetPolicyEnabled.
func (s *Store) PutPolicy(ctx context.Context, p Policy) error {
	return s.Tx(ctx, func(tx *Tx) error {
		now := s.now().UnixMilli()
		if _, err := tx.exec(ctx, `INSERT INTO policies (id, name, enabled, severity, category, doc, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name, enabled = excluded.enabled, severity = excluded.severity,
				category = excluded.category, doc = excluded.doc, updated_at = excluded.updated_at`,
			p.ID, p.Name, p.Enabled, p.Severity, p.Category, string(p.Doc), now, now); err != nil {
			return fmt.Errorf("store: put policy: %w", err)
		}
		return tx.suspendActions(ctx, p.ID, !p.Enabled, now)
	})
}

// GetPolicy returns a policy, ErrNotFound if absent.
func (s *Store) GetPolicy(ctx context.Context, id string) (Policy, error) {
	p, err := scanPolicy(s.queryRow(ctx, `SELECT id, name, enabled, severity, category, doc, created_at, updated_at FROM policies WHERE id = ?`, id))
	if isNoRows(err) {
		return p, fmt.Errorf("policy %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("store: get policy: %w", err)
	}
	return p, nil
}

func scanPolicy(sc interface{ Scan(...any) error }) (Policy, error) {
	var p Policy
	var doc string
	var c, u int64
	err := sc.Scan(&p.ID, &p.Name, &p.Enabled, &p.Severity, &p.Category, &doc, &c, &u)
	p.Doc, p.CreatedAt, p.UpdatedAt = []byte(doc), fromMS(c), fromMS(u)
	return p, err
}

// ListPolicies lists every policy by id.
func (s *Store) ListPolicies(ctx context.Context) ([]Policy, error) {
	rows, err := s.query(ctx, `SELECT id, name, enabled, severity, category, doc, created_at, updated_at FROM policies ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: list policies: %w", err)
	}
	defer rows.Close()
	var out []Policy
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list policies: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// SetPolicyEnabled enables or disables a policy. Disabling suspends its pending actions and
// enabling resumes them, in the same transaction.
func (s *Store) SetPolicyEnabled(ctx context.Context, id string, enabled bool) error {
	return s.Tx(ctx, func(tx *Tx) error {
		now := s.now().UnixMilli()
		res, err := tx.exec(ctx, `UPDATE policies SET enabled = ?, updated_at = ? WHERE id = ?`, enabled, now, id)
		if err != nil {
			return fmt.Errorf("store: set policy enabled: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("policy %s: %w", id, ErrNotFound)
		}
		return tx.suspendActions(ctx, id, !enabled, now)
	})
}

func (t *Tx) suspendActions(ctx context.Context, policyID string, suspend bool, now int64) error {
	from, to := ActionSuspended, ActionPending
	if suspend {
		from, to = ActionPending, ActionSuspended
	}
	// Paused (quota) actions keep their own state on resume but are suspended too.
	q := `UPDATE actions SET state = ?, updated_at = ? WHERE policy_id = ? AND state = ?`
	if _, err := t.exec(ctx, q, to, now, policyID, from); err != nil {
		return fmt.Errorf("store: suspend actions: %w", err)
	}
	if suspend {
		if _, err := t.exec(ctx, q, ActionSuspended, now, policyID, ActionPaused); err != nil {
			return fmt.Errorf("store: suspend actions: %w", err)
		}
	}
	return nil
}

// DeletePolicy removes a policy and cancels its unfinished actions.
func (s *Store) DeletePolicy(ctx context.Context, id string) error {
	return s.Tx(ctx, func(tx *Tx) error {
		now := s.now().UnixMilli()
		res, err := tx.exec(ctx, `DELETE FROM policies WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("store: delete policy: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("policy %s: %w", id, ErrNotFound)
		}
		if _, err := tx.exec(ctx, `UPDATE actions SET state = ?, reason = ?, updated_at = ? WHERE policy_id = ? AND state IN (?, ?, ?)`,
			ActionCanceled, "policy deleted", now, id, ActionPending, ActionSuspended, ActionPaused); err != nil {
			return fmt.Errorf("store: delete policy: %w", err)
		}
		return nil
	})
}

// Action kinds.
const (
	ActionApplyLabel  = "apply_label"
	ActionRemoveLabel = "remove_label"
	ActionAlert       = "alert"
	ActionNotifyOwner = "notify_owner"
	// Sharing actions (issue 24): remove grants through the provider's native API.
	ActionRemovePublicLinks    = "remove_public_links"
	ActionRemoveExternalAccess = "remove_external_access"
	ActionMakePrivate          = "make_private"
	// ActionRestoreSharing undoes a sharing action: Params {"undo": <action id>}; it grants
	// again what that action removed (store.SharingChanges).
	ActionRestoreSharing = "restore_sharing"
)

// Action states. Pending, suspended, running and paused are unfinished.
const (
	ActionPending   = "pending"
	ActionSuspended = "suspended" // its policy is disabled
	ActionRunning   = "running"
	ActionPaused    = "paused" // waiting for the daily quota to reset
	ActionDone      = "done"
	ActionFailed    = "failed"
	ActionRefused   = "refused"
	ActionCanceled  = "canceled"
)

// Action is a governance action for the executor.
type Action struct {
	ID          int64              `json:"id"`
	Key         string             `json:"key"` // dedup key: unique among unfinished actions
	PolicyID    string             `json:"policyId,omitempty"`
	Kind        string             `json:"kind"`
	Ref         connectors.FileRef `json:"ref"`
	LabelID     string             `json:"labelId,omitempty"`
	Params      []byte             `json:"params,omitempty"` // kind-specific JSON (message, severity, options)
	State       string             `json:"state"`
	Reason      string             `json:"reason,omitempty"`
	RequestedBy string             `json:"requestedBy,omitempty"`
	Manual      bool               `json:"manual"` // asked by an admin: counts against the manual allowance
	Attempts    int                `json:"attempts"`
	NotBefore   time.Time          `json:"notBefore,omitempty"`
	CreatedAt   time.Time          `json:"createdAt"`
	UpdatedAt   time.Time          `json:"updatedAt"`
}

const actionCols = `id, dedup_key, policy_id, kind, app, tenant, drive, item_id, label_id, params, state, reason, requested_by,
	manual, attempts, not_before, created_at, updated_at`

func scanAction(sc interface{ Scan(...any) error }) (Action, error) {
	var a Action
	var app, params string
	var nb, c, u int64
	err := sc.Scan(&a.ID, &a.Key, &a.PolicyID, &a.Kind, &app, &a.Ref.Tenant, &a.Ref.Drive, &a.Ref.ItemID, &a.LabelID, &params,
		&a.State, &a.Reason, &a.RequestedBy, &a.Manual, &a.Attempts, &nb, &c, &u)
	a.Ref.App, a.NotBefore, a.CreatedAt, a.UpdatedAt = connectors.App(app), fromMS(nb), fromMS(c), fromMS(u)
	if params != "" {
		a.Params = []byte(params)
	}
	return a, err
}

// AddAction records an action unless an unfinished one with the same key exists; then it
// returns that one's id and created=false. A policy action of a disabled policy starts suspended.
func (s *Store) AddAction(ctx context.Context, a Action) (id int64, created bool, err error) {
	err = s.Tx(ctx, func(tx *Tx) error {
		id, created, err = tx.AddAction(ctx, a)
		return err
	})
	return id, created, err
}

// openStatesSQL lists the states of an unfinished action as SQL literals: the predicate of the
// partial index actions_dedup_open. A query naming them as bound parameters cannot use that
// index (neither planner proves the predicate for unknown values), and scanned every open
// action instead on each AddAction.
const openStatesSQL = `('` + ActionPending + `', '` + ActionSuspended + `', '` + ActionRunning + `', '` + ActionPaused + `')`

// AddAction is Store.AddAction inside a transaction.
func (t *Tx) AddAction(ctx context.Context, a Action) (int64, bool, error) {
	if a.Key == "" {
		return 0, false, errors.New("store: action needs a dedup key")
	}
	var id int64
	err := t.queryRow(ctx, `SELECT id FROM actions WHERE dedup_key = ? AND state IN `+openStatesSQL, a.Key).Scan(&id)
	if err == nil {
		return id, false, nil
	}
	if !isNoRows(err) {
		return 0, false, fmt.Errorf("store: add action: %w", err)
	}
	state := ActionPending
	if a.PolicyID != "" {
		var enabled bool
		err := t.queryRow(ctx, `SELECT enabled FROM policies WHERE id = ?`, a.PolicyID).Scan(&enabled)
		if err != nil && !isNoRows(err) {
			return 0, false, fmt.Errorf("store: add action: %w", err)
		}
		if err == nil && !enabled {
			state = ActionSuspended
		}
	}
	now := t.s.now().UnixMilli()
	err = t.queryRow(ctx, `INSERT INTO actions (dedup_key, policy_id, kind, app, tenant, drive, item_id, label_id, params, state,
			reason, requested_by, manual, attempts, not_before, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?) RETURNING id`,
		a.Key, a.PolicyID, a.Kind, string(a.Ref.App), a.Ref.Tenant, a.Ref.Drive, a.Ref.ItemID, a.LabelID, string(a.Params),
		state, a.Reason, a.RequestedBy, a.Manual, ms(a.NotBefore), now, now).Scan(&id)
	if err != nil {
		return 0, false, fmt.Errorf("store: add action: %w", err)
	}
	return id, true, nil
}

// GetAction returns an action, ErrNotFound if absent.
func (s *Store) GetAction(ctx context.Context, id int64) (Action, error) {
	a, err := scanAction(s.queryRow(ctx, `SELECT `+actionCols+` FROM actions WHERE id = ?`, id))
	if isNoRows(err) {
		return a, fmt.Errorf("action %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("store: get action: %w", err)
	}
	return a, nil
}

// ActionFilter selects actions.
type ActionFilter struct {
	PolicyID string
	States   []string
	Kind     string
	Ref      *connectors.FileRef
	AfterID  int64
	Limit    int
}

// ListActions lists matching actions oldest first.
func (s *Store) ListActions(ctx context.Context, f ActionFilter) ([]Action, error) {
	q := `SELECT ` + actionCols + ` FROM actions WHERE id > ?`
	args := []any{f.AfterID}
	if f.PolicyID != "" {
		q += ` AND policy_id = ?`
		args = append(args, f.PolicyID)
	}
	if len(f.States) > 0 {
		q += ` AND state IN (?` + strings.Repeat(", ?", len(f.States)-1) + `)`
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, f.Kind)
	}
	if f.Ref != nil {
		q += ` AND app = ? AND tenant = ? AND drive = ? AND item_id = ?`
		args = append(args, string(f.Ref.App), f.Ref.Tenant, f.Ref.Drive, f.Ref.ItemID)
	}
	limit := f.Limit
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, limit)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list actions: %w", err)
	}
	defer rows.Close()
	var out []Action
	for rows.Next() {
		a, err := scanAction(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list actions: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SetActionState moves an action to a new state with a reason. From, when non-empty, must
// match the current state (a compare-and-set), else the call reports false.
func (s *Store) SetActionState(ctx context.Context, id int64, from, to, reason string) (bool, error) {
	q := `UPDATE actions SET state = ?, reason = ?, updated_at = ? WHERE id = ?`
	args := []any{to, reason, s.now().UnixMilli(), id}
	if from != "" {
		q += ` AND state = ?`
		args = append(args, from)
	}
	res, err := s.exec(ctx, q, args...)
	if err != nil {
		return false, fmt.Errorf("store: set action state: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// CountActions counts actions by state.
func (s *Store) CountActions(ctx context.Context) (map[string]int64, error) {
	rows, err := s.query(ctx, `SELECT state, COUNT(*) FROM actions GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("store: count actions: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("store: count actions: %w", err)
		}
		out[st] = n
	}
	return out, rows.Err()
}
