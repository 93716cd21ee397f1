package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/labelgate/labelgate/connectors"
)

// Alert states in the inbox.
const (
	AlertOpen         = "open"
	AlertAcknowledged = "acknowledged"
	AlertResolved     = "resolved"
)

// ErrAlertResolved is returned when acknowledging an alert that is already resolved.
var ErrAlertResolved = errors.New("alert is resolved")

// Alert is one inbox entry: a group of occurrences of one rule on one subject (usually a file).
type Alert struct {
	ID          int64              `json:"id"`
	GroupKey    string             `json:"groupKey"`
	Rule        string             `json:"rule"`
	Severity    string             `json:"severity"`
	State       string             `json:"state"`
	Title       string             `json:"title"`
	Message     string             `json:"message,omitempty"`
	Ref         connectors.FileRef `json:"ref"`
	Path        string             `json:"path,omitempty"`
	Name        string             `json:"name,omitempty"`
	Owner       string             `json:"owner,omitempty"`
	LabelID     string             `json:"labelId,omitempty"`
	PrevLabelID string             `json:"prevLabelId,omitempty"`
	Actor       string             `json:"actor,omitempty"`
	Detail      string             `json:"detail,omitempty"`
	EventID     int64              `json:"eventId,omitempty"`
	ActionID    int64              `json:"actionId,omitempty"`
	Count       int64              `json:"count"`
	FirstAt     time.Time          `json:"firstAt"`
	LastAt      time.Time          `json:"lastAt"`
	AckedBy     string             `json:"ackedBy,omitempty"`
	AckedAt     time.Time          `json:"ackedAt,omitzero"`
	ResolvedBy  string             `json:"resolvedBy,omitempty"`
	ResolvedAt  time.Time          `json:"resolvedAt,omitzero"`
	UpdatedAt   time.Time          `json:"updatedAt"`
}

const alertCols = `id, group_key, rule, severity, state, title, message, app, tenant, drive, item_id, path, name, owner,
	label_id, prev_label_id, actor, detail, event_id, action_id, occurrences, first_at, last_at, acked_by, acked_at,
	resolved_by, resolved_at, updated_at`

func scanAlert(sc interface{ Scan(...any) error }) (Alert, error) {
	var a Alert
	var app string
	var first, last, acked, resolved, updated int64
	err := sc.Scan(&a.ID, &a.GroupKey, &a.Rule, &a.Severity, &a.State, &a.Title, &a.Message, &app, &a.Ref.Tenant,
		&a.Ref.Drive, &a.Ref.ItemID, &a.Path, &a.Name, &a.Owner, &a.LabelID, &a.PrevLabelID, &a.Actor, &a.Detail,
		&a.EventID, &a.ActionID, &a.Count, &first, &last, &a.AckedBy, &acked, &a.ResolvedBy, &resolved, &updated)
	a.Ref.App = connectors.App(app)
	a.FirstAt, a.LastAt, a.AckedAt, a.ResolvedAt, a.UpdatedAt = fromMS(first), fromMS(last), fromMS(acked), fromMS(resolved), fromMS(updated)
	return a, err
}

// RaiseAlert records an occurrence. When an unresolved alert with the same group key was
// first raised less than window ago (window <= 0: at any time), the occurrence joins it: its
// count and last time go up and created is false. Otherwise a new open alert is inserted, and
// its deliveries and digest notices are queued in the same transaction, so an alert is never
// recorded without them or the other way round.
func (s *Store) RaiseAlert(ctx context.Context, a Alert, window time.Duration, deliveries []OutboxItem, notices []Notice) (Alert, bool, error) {
	if a.GroupKey == "" || a.Rule == "" {
		return Alert{}, false, errors.New("store: alert needs a rule and a group key")
	}
	var out Alert
	var created bool
	err := s.Tx(ctx, func(tx *Tx) error {
		now := s.now()
		at := a.LastAt
		if at.IsZero() {
			at = now
		}
		since := int64(0)
		if window > 0 {
			since = at.Add(-window).UnixMilli()
		}
		var id int64
		err := tx.queryRow(ctx, `SELECT id FROM alerts WHERE group_key = ? AND state <> ? AND first_at >= ? ORDER BY id DESC LIMIT 1`,
			a.GroupKey, AlertResolved, since).Scan(&id)
		switch {
		case err == nil:
			created = false
			// The latest occurrence's facts replace the earlier ones: they describe the file now.
			out, err = scanAlert(tx.queryRow(ctx, `UPDATE alerts SET occurrences = occurrences + 1, last_at = ?, message = ?,
					label_id = ?, prev_label_id = ?, actor = ?, detail = ?, event_id = ?, updated_at = ?
				WHERE id = ? RETURNING `+alertCols, ms(at), a.Message, a.LabelID, a.PrevLabelID, a.Actor, a.Detail, a.EventID,
				now.UnixMilli(), id))
			if err != nil {
				return fmt.Errorf("store: raise alert: %w", err)
			}
			return nil
		case !isNoRows(err):
			return fmt.Errorf("store: raise alert: %w", err)
		}
		created = true
		first := a.FirstAt
		if first.IsZero() {
			first = at
		}
		out, err = scanAlert(tx.queryRow(ctx, `INSERT INTO alerts (group_key, rule, severity, state, title, message, app, tenant,
				drive, item_id, path, name, owner, label_id, prev_label_id, actor, detail, event_id, action_id, occurrences,
				first_at, last_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?) RETURNING `+alertCols,
			a.GroupKey, a.Rule, a.Severity, AlertOpen, a.Title, a.Message, string(a.Ref.App), a.Ref.Tenant, a.Ref.Drive,
			a.Ref.ItemID, a.Path, a.Name, a.Owner, a.LabelID, a.PrevLabelID, a.Actor, a.Detail, a.EventID, a.ActionID,
			ms(first), ms(at), now.UnixMilli()))
		if err != nil {
			return fmt.Errorf("store: raise alert: %w", err)
		}
		for _, d := range deliveries {
			d.AlertID = out.ID
			if _, err := tx.enqueueOutbox(ctx, d, now); err != nil {
				return err
			}
		}
		for _, n := range notices {
			n.AlertID = out.ID
			if err := tx.addNotice(ctx, n, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Alert{}, false, err
	}
	return out, created, nil
}

// GetAlert returns one alert, ErrNotFound when absent.
func (s *Store) GetAlert(ctx context.Context, id int64) (Alert, error) {
	a, err := scanAlert(s.queryRow(ctx, `SELECT `+alertCols+` FROM alerts WHERE id = ?`, id))
	if isNoRows(err) {
		return a, fmt.Errorf("alert %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return a, fmt.Errorf("store: get alert: %w", err)
	}
	return a, nil
}

// AlertFilter selects inbox entries. Zero fields do not filter.
type AlertFilter struct {
	States   []string
	Rule     string
	Severity string
	App      connectors.App
	Ref      *connectors.FileRef
	BeforeID int64 // paging: entries with a smaller id
	Limit    int   // default 100, at most 1000
}

// ListAlerts lists matching alerts, newest first.
func (s *Store) ListAlerts(ctx context.Context, f AlertFilter) ([]Alert, error) {
	q := `SELECT ` + alertCols + ` FROM alerts WHERE 1=1`
	var args []any
	if len(f.States) > 0 {
		q += ` AND state IN (?` + strings.Repeat(", ?", len(f.States)-1) + `)`
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	if f.Rule != "" {
		q += ` AND rule = ?`
		args = append(args, f.Rule)
	}
	if f.Severity != "" {
		q += ` AND severity = ?`
		args = append(args, f.Severity)
	}
	if f.App != "" {
		q += ` AND app = ?`
		args = append(args, string(f.App))
	}
	if f.Ref != nil {
		q += ` AND app = ? AND tenant = ? AND drive = ? AND item_id = ?`
		args = append(args, string(f.Ref.App), f.Ref.Tenant, f.Ref.Drive, f.Ref.ItemID)
	}
	if f.BeforeID > 0 {
		q += ` AND id < ?`
		args = append(args, f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list alerts: %w", err)
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list alerts: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// AckAlert marks an open alert acknowledged by who. Acknowledging it again is a no-op;
// acknowledging a resolved alert fails with ErrAlertResolved.
func (s *Store) AckAlert(ctx context.Context, id int64, who string) (Alert, error) {
	var out Alert
	err := s.Tx(ctx, func(tx *Tx) error {
		a, err := scanAlert(tx.queryRow(ctx, `SELECT `+alertCols+` FROM alerts WHERE id = ?`, id))
		if isNoRows(err) {
			return fmt.Errorf("alert %d: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("store: ack alert: %w", err)
		}
		switch a.State {
		case AlertResolved:
			return fmt.Errorf("alert %d: %w", id, ErrAlertResolved)
		case AlertAcknowledged:
			out = a
			return nil
		}
		now := s.now().UnixMilli()
		out, err = scanAlert(tx.queryRow(ctx, `UPDATE alerts SET state = ?, acked_by = ?, acked_at = ?, updated_at = ? WHERE id = ? RETURNING `+alertCols,
			AlertAcknowledged, who, now, now, id))
		if err != nil {
			return fmt.Errorf("store: ack alert: %w", err)
		}
		return nil
	})
	return out, err
}

// ResolveAlert marks an alert resolved by who; resolving it again is a no-op.
func (s *Store) ResolveAlert(ctx context.Context, id int64, who string) (Alert, error) {
	now := s.now().UnixMilli()
	a, err := scanAlert(s.queryRow(ctx, `UPDATE alerts SET state = ?, resolved_by = ?, resolved_at = ?, updated_at = ?
		WHERE id = ? AND state <> ? RETURNING `+alertCols, AlertResolved, who, now, now, id, AlertResolved))
	if isNoRows(err) {
		return s.GetAlert(ctx, id)
	}
	if err != nil {
		return a, fmt.Errorf("store: resolve alert: %w", err)
	}
	return a, nil
}

// ResolveAlertGroup resolves every unresolved alert of a group, for conditions that cleared
// by themselves (a quota reset, a subscription renewed). It returns how many it resolved.
func (s *Store) ResolveAlertGroup(ctx context.Context, groupKey, who string) (int64, error) {
	now := s.now().UnixMilli()
	res, err := s.exec(ctx, `UPDATE alerts SET state = ?, resolved_by = ?, resolved_at = ?, updated_at = ? WHERE group_key = ? AND state <> ?`,
		AlertResolved, who, now, now, groupKey, AlertResolved)
	if err != nil {
		return 0, fmt.Errorf("store: resolve alert group: %w", err)
	}
	return res.RowsAffected()
}

// UnresolvedAlertGroups lists the group keys with unresolved alerts that start with prefix.
func (s *Store) UnresolvedAlertGroups(ctx context.Context, prefix string) ([]string, error) {
	rows, err := s.query(ctx, `SELECT DISTINCT group_key FROM alerts WHERE state <> ? AND substr(group_key, 1, ?) = ? ORDER BY group_key`,
		AlertResolved, len(prefix), prefix)
	if err != nil {
		return nil, fmt.Errorf("store: alert groups: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("store: alert groups: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// CountAlerts counts alerts by state.
func (s *Store) CountAlerts(ctx context.Context) (map[string]int64, error) {
	return s.countByState(ctx, "alerts")
}

// countByState counts the rows of one of this file's tables by state.
func (s *Store) countByState(ctx context.Context, table string) (map[string]int64, error) {
	rows, err := s.query(ctx, `SELECT state, COUNT(*) FROM `+table+` GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("store: count %s: %w", table, err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var st string
		var n int64
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("store: count %s: %w", table, err)
		}
		out[st] = n
	}
	return out, rows.Err()
}

// Outbox states.
const (
	OutboxPending = "pending"
	OutboxDone    = "done"
	OutboxFailed  = "failed" // gave up after the last retry
)

// OutboxItem is one delivery of an alert or a digest to one sink.
type OutboxItem struct {
	ID        int64     `json:"id"`
	AlertID   int64     `json:"alertId,omitempty"` // 0 for digests
	Sink      string    `json:"sink"`
	Kind      string    `json:"kind"` // webhook, smtp, jsonl
	Recipient string    `json:"recipient,omitempty"`
	Payload   []byte    `json:"payload,omitempty"` // digests carry their content; alerts are rendered at delivery
	State     string    `json:"state"`
	Attempts  int       `json:"attempts"`
	NextAt    time.Time `json:"nextAt"`
	LastError string    `json:"lastError,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

const outboxCols = `id, alert_id, sink, kind, recipient, payload, state, attempts, next_at, last_error, created_at, updated_at`

func scanOutbox(sc interface{ Scan(...any) error }) (OutboxItem, error) {
	var o OutboxItem
	var payload string
	var next, c, u int64
	err := sc.Scan(&o.ID, &o.AlertID, &o.Sink, &o.Kind, &o.Recipient, &payload, &o.State, &o.Attempts, &next, &o.LastError, &c, &u)
	if payload != "" {
		o.Payload = []byte(payload)
	}
	o.NextAt, o.CreatedAt, o.UpdatedAt = fromMS(next), fromMS(c), fromMS(u)
	return o, err
}

func (t *Tx) enqueueOutbox(ctx context.Context, o OutboxItem, now time.Time) (int64, error) {
	next := o.NextAt
	if next.IsZero() {
		next = now
	}
	var id int64
	if err := t.queryRow(ctx, `INSERT INTO alert_outbox (alert_id, sink, kind, recipient, payload, state, attempts, next_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?) RETURNING id`, o.AlertID, o.Sink, o.Kind, o.Recipient, string(o.Payload), OutboxPending,
		next.UnixMilli(), now.UnixMilli(), now.UnixMilli()).Scan(&id); err != nil {
		return 0, fmt.Errorf("store: enqueue delivery: %w", err)
	}
	return id, nil
}

// EnqueueOutbox queues deliveries.
func (s *Store) EnqueueOutbox(ctx context.Context, items ...OutboxItem) error {
	return s.Tx(ctx, func(tx *Tx) error {
		now := s.now()
		for _, o := range items {
			if _, err := tx.enqueueOutbox(ctx, o, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// ClaimOutbox leases up to limit pending deliveries that are due at now, oldest first. A
// lease that runs out (its worker died) makes the delivery claimable again, so a delivery
// may be repeated after a crash but is never lost.
func (s *Store) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]OutboxItem, error) {
	nowMS := now.UnixMilli()
	rows, err := s.query(ctx, `SELECT `+outboxCols+` FROM alert_outbox WHERE state = ? AND next_at <= ? AND leased_until < ?
		ORDER BY next_at, id LIMIT ?`, OutboxPending, nowMS, nowMS, limit)
	if err != nil {
		return nil, fmt.Errorf("store: claim deliveries: %w", err)
	}
	var cands []OutboxItem
	for rows.Next() {
		o, err := scanOutbox(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: claim deliveries: %w", err)
		}
		cands = append(cands, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: claim deliveries: %w", err)
	}
	var out []OutboxItem
	for _, o := range cands {
		// The compare-and-set on leased_until makes the claim exclusive among workers and replicas.
		res, err := s.exec(ctx, `UPDATE alert_outbox SET leased_until = ? WHERE id = ? AND state = ? AND leased_until < ?`,
			nowMS+lease.Milliseconds(), o.ID, OutboxPending, nowMS)
		if err != nil {
			return nil, fmt.Errorf("store: claim delivery: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			out = append(out, o)
		}
	}
	return out, nil
}

// FinishOutbox records one delivery attempt: done, failed for good, or pending again at next.
func (s *Store) FinishOutbox(ctx context.Context, id int64, state string, next time.Time, lastErr string) error {
	_, err := s.exec(ctx, `UPDATE alert_outbox SET state = ?, attempts = attempts + 1, next_at = ?, leased_until = 0, last_error = ?, updated_at = ?
		WHERE id = ?`, state, ms(next), lastErr, s.now().UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("store: finish delivery: %w", err)
	}
	return nil
}

// OutboxFilter selects deliveries.
type OutboxFilter struct {
	AlertID int64
	State   string
	Kind    string
	Limit   int
}

// ListOutbox lists deliveries oldest first.
func (s *Store) ListOutbox(ctx context.Context, f OutboxFilter) ([]OutboxItem, error) {
	q := `SELECT ` + outboxCols + ` FROM alert_outbox WHERE 1=1`
	var args []any
	if f.AlertID != 0 {
		q += ` AND alert_id = ?`
		args = append(args, f.AlertID)
	}
	if f.State != "" {
		q += ` AND state = ?`
		args = append(args, f.State)
	}
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, f.Kind)
	}
	limit := f.Limit
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, limit)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list deliveries: %w", err)
	}
	defer rows.Close()
	var out []OutboxItem
	for rows.Next() {
		o, err := scanOutbox(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list deliveries: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// CountOutbox counts deliveries by state.
func (s *Store) CountOutbox(ctx context.Context) (map[string]int64, error) {
	return s.countByState(ctx, "alert_outbox")
}

// Notice is one item waiting for its recipient's next digest.
type Notice struct {
	ID        int64              `json:"id"`
	Recipient string             `json:"recipient"`
	Kind      string             `json:"kind"` // "owner" or "admin"
	AlertID   int64              `json:"alertId,omitempty"`
	ActionID  int64              `json:"actionId,omitempty"`
	Rule      string             `json:"rule,omitempty"`
	Severity  string             `json:"severity,omitempty"`
	Title     string             `json:"title"`
	Message   string             `json:"message,omitempty"`
	Ref       connectors.FileRef `json:"ref"`
	Path      string             `json:"path,omitempty"`
	Name      string             `json:"name,omitempty"`
	LabelID   string             `json:"labelId,omitempty"`
	At        time.Time          `json:"at"`
}

const noticeCols = `id, recipient, kind, alert_id, action_id, rule, severity, title, message, app, tenant, drive, item_id, path, name, label_id, at`

// AddNotice queues a notice for its recipient's next digest.
func (s *Store) AddNotice(ctx context.Context, n Notice) error {
	return s.Tx(ctx, func(tx *Tx) error { return tx.addNotice(ctx, n, s.now()) })
}

func (t *Tx) addNotice(ctx context.Context, n Notice, now time.Time) error {
	at := n.At
	if at.IsZero() {
		at = now
	}
	_, err := t.exec(ctx, `INSERT INTO alert_notices (recipient, kind, alert_id, action_id, rule, severity, title, message, app, tenant,
			drive, item_id, path, name, label_id, at, digest_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`, n.Recipient, n.Kind, n.AlertID, n.ActionID, n.Rule, n.Severity,
		n.Title, n.Message, string(n.Ref.App), n.Ref.Tenant, n.Ref.Drive, n.Ref.ItemID, n.Path, n.Name, n.LabelID, at.UnixMilli())
	if err != nil {
		return fmt.Errorf("store: add notice: %w", err)
	}
	return nil
}

// DigestRecipient is a recipient with notices waiting.
type DigestRecipient struct {
	Recipient string
	Kind      string
	Waiting   int64
	LastSent  time.Time // zero when none was sent yet
}

// WaitingDigests lists recipients with notices waiting and when their last digest went out.
func (s *Store) WaitingDigests(ctx context.Context) ([]DigestRecipient, error) {
	rows, err := s.query(ctx, `SELECT n.recipient, n.kind, COUNT(*), COALESCE(MAX(d.last_sent), 0) FROM alert_notices n
		LEFT JOIN alert_digests d ON d.recipient = n.recipient AND d.kind = n.kind
		WHERE n.digest_id = 0 GROUP BY n.recipient, n.kind ORDER BY n.kind, n.recipient`)
	if err != nil {
		return nil, fmt.Errorf("store: waiting digests: %w", err)
	}
	defer rows.Close()
	var out []DigestRecipient
	for rows.Next() {
		var d DigestRecipient
		var last int64
		if err := rows.Scan(&d.Recipient, &d.Kind, &d.Waiting, &last); err != nil {
			return nil, fmt.Errorf("store: waiting digests: %w", err)
		}
		d.LastSent = fromMS(last)
		out = append(out, d)
	}
	return out, rows.Err()
}

// TakeDigest gathers a recipient's waiting notices into one delivery, at most once per
// interval: when the last digest went out less than interval before now it does nothing and
// reports false. build turns the notices (oldest first, at most limit) into the delivery;
// the notices are marked as sent with it in the same transaction.
func (s *Store) TakeDigest(ctx context.Context, recipient, kind string, now time.Time, interval time.Duration, limit int,
	build func([]Notice) (OutboxItem, error)) (bool, error) {
	sent := false
	err := s.Tx(ctx, func(tx *Tx) error {
		sent = false
		var last int64
		err := tx.queryRow(ctx, `SELECT last_sent FROM alert_digests WHERE recipient = ? AND kind = ?`, recipient, kind).Scan(&last)
		if err != nil && !isNoRows(err) {
			return fmt.Errorf("store: take digest: %w", err)
		}
		if err == nil && now.UnixMilli() < last+interval.Milliseconds() {
			return nil
		}
		rows, err := tx.query(ctx, `SELECT `+noticeCols+` FROM alert_notices WHERE digest_id = 0 AND recipient = ? AND kind = ?
			ORDER BY id LIMIT ?`, recipient, kind, limit)
		if err != nil {
			return fmt.Errorf("store: take digest: %w", err)
		}
		var ns []Notice
		for rows.Next() {
			var n Notice
			var app string
			var at int64
			if err := rows.Scan(&n.ID, &n.Recipient, &n.Kind, &n.AlertID, &n.ActionID, &n.Rule, &n.Severity, &n.Title, &n.Message,
				&app, &n.Ref.Tenant, &n.Ref.Drive, &n.Ref.ItemID, &n.Path, &n.Name, &n.LabelID, &at); err != nil {
				rows.Close()
				return fmt.Errorf("store: take digest: %w", err)
			}
			n.Ref.App, n.At = connectors.App(app), fromMS(at)
			ns = append(ns, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: take digest: %w", err)
		}
		if len(ns) == 0 {
			return nil
		}
		o, err := build(ns)
		if err != nil {
			return err
		}
		id, err := tx.enqueueOutbox(ctx, o, now)
		if err != nil {
			return err
		}
		for _, n := range ns {
			if _, err := tx.exec(ctx, `UPDATE alert_notices SET digest_id = ? WHERE id = ?`, id, n.ID); err != nil {
				return fmt.Errorf("store: take digest: %w", err)
			}
		}
		if _, err := tx.exec(ctx, `INSERT INTO alert_digests (recipient, kind, last_sent) VALUES (?, ?, ?)
			ON CONFLICT (recipient, kind) DO UPDATE SET last_sent = excluded.last_sent`, recipient, kind, now.UnixMilli()); err != nil {
			return fmt.Errorf("store: take digest: %w", err)
		}
		sent = true
		return nil
	})
	return sent, err
}

// LastEventID is the id of the newest discovery-log entry, 0 when the log is empty.
func (s *Store) LastEventID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.queryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM events`).Scan(&id); err != nil {
		return 0, fmt.Errorf("store: last event: %w", err)
	}
	return id, nil
}

// SubscriptionProblem is a provider subscription that failed to renew or ran out.
type SubscriptionProblem struct {
	App    connectors.App
	Tenant string
	connectors.Subscription
}

// FailingSubscriptions lists subscriptions with a renewal error, or expired before now.
func (s *Store) FailingSubscriptions(ctx context.Context, now time.Time) ([]SubscriptionProblem, error) {
	rows, err := s.query(ctx, `SELECT app, tenant, `+subCols+` FROM subscriptions
		WHERE last_error <> '' OR (expires_at > 0 AND expires_at < ?) ORDER BY app, tenant, id`, now.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("store: failing subscriptions: %w", err)
	}
	defer rows.Close()
	var out []SubscriptionProblem
	for rows.Next() {
		var p SubscriptionProblem
		var app string
		var exp, created, renewed int64
		if err := rows.Scan(&app, &p.Tenant, &p.ID, &p.Drive, &p.Resource, &p.Secret, &p.NotifyURL, &exp, &created, &renewed,
			&p.LastError); err != nil {
			return nil, fmt.Errorf("store: failing subscriptions: %w", err)
		}
		p.App, p.Expires, p.CreatedAt, p.RenewedAt = connectors.App(app), fromMS(exp), fromMS(created), fromMS(renewed)
		out = append(out, p)
	}
	return out, rows.Err()
}
