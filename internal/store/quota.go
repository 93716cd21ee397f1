package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/labelgate/labelgate/connectors"
)

// Quota allowances: policy actions and admins' manual actions are counted apart.
const (
	AllowanceAuto   = "auto"
	AllowanceManual = "manual"
)

// QuotaResetHour is the UTC hour at which daily label-write quotas start a new window.
const QuotaResetHour = 12

// QuotaWindow returns the start of the quota window holding t: the latest 12:00 UTC at or
// before t.
func QuotaWindow(t time.Time) time.Time {
	u := t.UTC()
	w := time.Date(u.Year(), u.Month(), u.Day(), QuotaResetHour, 0, 0, 0, time.UTC)
	if u.Before(w) {
		w = w.AddDate(0, 0, -1)
	}
	return w
}

// NextQuotaReset returns when the window holding t ends.
func NextQuotaReset(t time.Time) time.Time { return QuotaWindow(t).AddDate(0, 0, 1) }

// AllowanceOf names the allowance a label write counts against.
func AllowanceOf(manual bool) string {
	if manual {
		return AllowanceManual
	}
	return AllowanceAuto
}

// SharingKinds are the sharing action kinds (issue 24), the undo included. Each counts
// against its own daily allowance, named like the kind, apart from label writes: an admin
// who caps automatic relabelling at 100 a day has not said anything about how many files
// may lose their links, and a burst of one must not starve the other.
var SharingKinds = [...]string{ActionRemovePublicLinks, ActionRemoveExternalAccess, ActionMakePrivate, ActionRestoreSharing}

// SharingLeaves is the widest access a sharing action kind leaves on a file: the policies
// plan an action only for files shared wider, and the executor removes only the grants wider
// (removePublicLinks leaves external, removeExternalAccess internal, makePrivate private). Any
// other kind leaves public: it removes nothing.
func SharingLeaves(kind string) connectors.AccessLevel {
	switch kind {
	case ActionRemovePublicLinks:
		return connectors.AccessExternal
	case ActionRemoveExternalAccess:
		return connectors.AccessInternal
	case ActionMakePrivate:
		return connectors.AccessPrivate
	}
	return connectors.AccessPublic
}

// SharingKind reports whether kind is a sharing action (or its undo).
func SharingKind(kind string) bool {
	switch kind {
	case ActionRemovePublicLinks, ActionRemoveExternalAccess, ActionMakePrivate, ActionRestoreSharing:
		return true
	}
	return false
}

// SharingFailedPrefix starts the reason (and the action_failed event's detail) of a sharing
// action that failed for good: "<kind> failed: ", so the alerts engine tells it from a label
// write's failure.
func SharingFailedPrefix(kind string) string { return kind + " failed: " }

// SharingFailure reports whether an action_failed detail is a sharing action's.
func SharingFailure(detail string) bool {
	for _, k := range SharingKinds {
		if strings.HasPrefix(detail, SharingFailedPrefix(k)) {
			return true
		}
	}
	return false
}

// ExecutorKind reports whether the executor runs actions of kind, each against a daily
// allowance: label writes and sharing actions. Alerts and notices go to the alert sink.
func ExecutorKind(kind string) bool { return QuotaCounted(kind) || SharingKind(kind) }

// executorKinds lists ExecutorKind's kinds, for SQL.
var executorKinds = append([]string{ActionApplyLabel, ActionRemoveLabel}, SharingKinds[:]...)

// ActionAllowance names the allowance an action counts against: a sharing kind's own, else
// the label writes' manual or auto one.
func ActionAllowance(kind string, manual bool) string {
	if SharingKind(kind) {
		return kind
	}
	return AllowanceOf(manual)
}

// inList is "(?, ?, …)" for n values.
func inList(n int) string { return "(?" + strings.Repeat(", ?", n-1) + ")" }

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// QuotaUsage is how much of one allowance a window has used.
type QuotaUsage struct {
	App         connectors.App `json:"app"`
	Tenant      string         `json:"tenant"`
	Allowance   string         `json:"allowance"`
	WindowStart time.Time      `json:"windowStart"`
	Used        int64          `json:"used"`
}

// QuotaUsed returns the units used in one window.
func (s *Store) QuotaUsed(ctx context.Context, app connectors.App, tenant, allowance string, window time.Time) (int64, error) {
	var n int64
	err := s.queryRow(ctx, `SELECT used FROM quotas WHERE app = ? AND tenant = ? AND allowance = ? AND window_start = ?`,
		string(app), tenant, allowance, window.UnixMilli()).Scan(&n)
	if isNoRows(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: quota used: %w", err)
	}
	return n, nil
}

// ListQuotaUsage lists every counter of one window, by app, tenant and allowance.
func (s *Store) ListQuotaUsage(ctx context.Context, window time.Time) ([]QuotaUsage, error) {
	rows, err := s.query(ctx, `SELECT app, tenant, allowance, window_start, used FROM quotas WHERE window_start = ?
		ORDER BY tenant, app, allowance`, window.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("store: list quota usage: %w", err)
	}
	defer rows.Close()
	var out []QuotaUsage
	for rows.Next() {
		var u QuotaUsage
		var app string
		var w int64
		if err := rows.Scan(&app, &u.Tenant, &u.Allowance, &w, &u.Used); err != nil {
			return nil, fmt.Errorf("store: list quota usage: %w", err)
		}
		u.App, u.WindowStart = connectors.App(app), fromMS(w)
		out = append(out, u)
	}
	return out, rows.Err()
}

// QuotaScope is one (app, tenant) pair that has or may soon use a quota.
type QuotaScope struct {
	App    connectors.App `json:"app"`
	Tenant string         `json:"tenant"`
}

// QuotaScopes lists the (app, tenant) pairs worth reporting: configured connectors, pairs
// with unfinished label or sharing actions, and pairs with counters in window.
func (s *Store) QuotaScopes(ctx context.Context, window time.Time) ([]QuotaScope, error) {
	args := append([]any{ActionPending, ActionRunning, ActionPaused}, anys(executorKinds)...)
	rows, err := s.query(ctx, `SELECT app, tenant FROM connectors
		UNION SELECT app, tenant FROM actions WHERE state IN (?, ?, ?) AND kind IN `+inList(len(executorKinds))+`
		UNION SELECT app, tenant FROM quotas WHERE window_start = ?
		ORDER BY 2, 1`, append(args, window.UnixMilli())...)
	if err != nil {
		return nil, fmt.Errorf("store: quota scopes: %w", err)
	}
	defer rows.Close()
	var out []QuotaScope
	for rows.Next() {
		var q QuotaScope
		var app string
		if err := rows.Scan(&app, &q.Tenant); err != nil {
			return nil, fmt.Errorf("store: quota scopes: %w", err)
		}
		q.App = connectors.App(app)
		out = append(out, q)
	}
	return out, rows.Err()
}

// ForgetQuotaWindows deletes counters of windows that started before cutoff.
func (s *Store) ForgetQuotaWindows(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM quotas WHERE window_start < ?`, cutoff.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("store: forget quota windows: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// takeQuota counts one unit against an allowance if fewer than limit are used. The guarded
// upsert is a single statement, so on PostgreSQL concurrent claimers serialise on the
// counter row (ON CONFLICT DO UPDATE locks it and re-checks the guard on the latest version)
// and the limit holds across replicas; SQLite serialises writers anyway.
func (t *Tx) takeQuota(ctx context.Context, sc *stmtCache, app, tenant, allowance string, window int64, limit int) (bool, error) {
	if limit <= 0 {
		return false, nil
	}
	res, err := sc.exec(ctx, t, `INSERT INTO quotas (app, tenant, allowance, window_start, used) VALUES (?, ?, ?, ?, 1)
		ON CONFLICT (app, tenant, allowance, window_start) DO UPDATE SET used = quotas.used + 1 WHERE quotas.used < ?`,
		app, tenant, allowance, window, limit)
	if err != nil {
		return false, fmt.Errorf("store: take quota: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: take quota: %w", err)
	}
	return n == 1, nil
}

// releaseQuota gives one unit back to a window.
func (t *Tx) releaseQuota(ctx context.Context, sc *stmtCache, app, tenant, allowance string, window int64) error {
	if _, err := sc.exec(ctx, t, `UPDATE quotas SET used = used - 1 WHERE app = ? AND tenant = ? AND allowance = ? AND window_start = ? AND used > 0`,
		app, tenant, allowance, window); err != nil {
		return fmt.Errorf("store: release quota: %w", err)
	}
	return nil
}

// NotConfiguredReason starts the reason of an action paused because its connector lacks a
// set-up step only an administrator can take (labeling's executor on KindNotConfigured); such
// an action waits for that, not for a quota reset.
const NotConfiguredReason = "not configured: "

// PausedActions counts actions waiting for a quota reset, by app, tenant and allowance
// (the key is "app/tenant/allowance"; a sharing kind's allowance is the kind).
func (s *Store) PausedActions(ctx context.Context) (map[string]int64, error) {
	rows, err := s.query(ctx, `SELECT app, tenant, kind, manual, COUNT(*) FROM actions WHERE state = ? AND reason NOT LIKE ?
		GROUP BY app, tenant, kind, manual`, ActionPaused, NotConfiguredReason+"%")
	if err != nil {
		return nil, fmt.Errorf("store: paused actions: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var app, tenant, kind string
		var manual bool
		var n int64
		if err := rows.Scan(&app, &tenant, &kind, &manual, &n); err != nil {
			return nil, fmt.Errorf("store: paused actions: %w", err)
		}
		out[app+"/"+tenant+"/"+ActionAllowance(kind, manual)] += n
	}
	return out, rows.Err()
}
