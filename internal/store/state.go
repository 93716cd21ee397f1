package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/labelgate/labelgate/connectors"
)

// Cursor kinds.
const (
	CursorChanges = "changes" // a drive's change-feed cursor (delta link, page token, stream position)
)

// GetCursor returns a stored cursor, "" when there is none.
func (s *Store) GetCursor(ctx context.Context, app connectors.App, tenant, drive, kind string) (string, error) {
	var c string
	err := s.queryRow(ctx, `SELECT cursor FROM cursors WHERE app = ? AND tenant = ? AND drive = ? AND kind = ?`,
		string(app), tenant, drive, kind).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: get cursor: %w", err)
	}
	return c, nil
}

const putCursorSQL = `INSERT INTO cursors (app, tenant, drive, kind, cursor, updated_at) VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (app, tenant, drive, kind) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`

// PutCursor stores a cursor; an empty cursor deletes it.
func (s *Store) PutCursor(ctx context.Context, app connectors.App, tenant, drive, kind, cursor string) error {
	var err error
	if cursor == "" {
		_, err = s.exec(ctx, `DELETE FROM cursors WHERE app = ? AND tenant = ? AND drive = ? AND kind = ?`,
			string(app), tenant, drive, kind)
	} else {
		_, err = s.exec(ctx, putCursorSQL, string(app), tenant, drive, kind, cursor, s.now().UnixMilli())
	}
	if err != nil {
		return fmt.Errorf("store: put cursor: %w", err)
	}
	return nil
}

// PutSubscription records (or replaces) a provider subscription.
func (s *Store) PutSubscription(ctx context.Context, app connectors.App, tenant string, sub connectors.Subscription) error {
	_, err := s.exec(ctx, `INSERT INTO subscriptions (app, tenant, id, drive, resource, secret, notify_url, expires_at, created_at, renewed_at, last_error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (app, tenant, id) DO UPDATE SET drive = excluded.drive, resource = excluded.resource,
			secret = excluded.secret, notify_url = excluded.notify_url, expires_at = excluded.expires_at,
			renewed_at = excluded.renewed_at, last_error = excluded.last_error`,
		string(app), tenant, sub.ID, sub.Drive, sub.Resource, sub.Secret, sub.NotifyURL, ms(sub.Expires),
		ms(orNow(sub.CreatedAt, s.now())), ms(sub.RenewedAt), sub.LastError)
	if err != nil {
		return fmt.Errorf("store: put subscription: %w", err)
	}
	return nil
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

// DeleteSubscription forgets a subscription.
func (s *Store) DeleteSubscription(ctx context.Context, app connectors.App, tenant, id string) error {
	if _, err := s.exec(ctx, `DELETE FROM subscriptions WHERE app = ? AND tenant = ? AND id = ?`, string(app), tenant, id); err != nil {
		return fmt.Errorf("store: delete subscription: %w", err)
	}
	return nil
}

const subCols = `id, drive, resource, secret, notify_url, expires_at, created_at, renewed_at, last_error`

func scanSub(sc interface{ Scan(...any) error }) (connectors.Subscription, error) {
	var sub connectors.Subscription
	var exp, created, renewed int64
	err := sc.Scan(&sub.ID, &sub.Drive, &sub.Resource, &sub.Secret, &sub.NotifyURL, &exp, &created, &renewed, &sub.LastError)
	sub.Expires, sub.CreatedAt, sub.RenewedAt = fromMS(exp), fromMS(created), fromMS(renewed)
	return sub, err
}

// Subscription implements connectors.SubscriptionLookup.
func (s *Store) Subscription(ctx context.Context, app connectors.App, tenant, id string) (connectors.Subscription, bool, error) {
	sub, err := scanSub(s.queryRow(ctx, `SELECT `+subCols+` FROM subscriptions WHERE app = ? AND tenant = ? AND id = ?`, string(app), tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return connectors.Subscription{}, false, nil
	}
	if err != nil {
		return connectors.Subscription{}, false, fmt.Errorf("store: subscription: %w", err)
	}
	return sub, true, nil
}

var _ connectors.SubscriptionLookup = (*Store)(nil)

// Subscriptions lists the subscriptions of one connector.
func (s *Store) Subscriptions(ctx context.Context, app connectors.App, tenant string) ([]connectors.Subscription, error) {
	rows, err := s.query(ctx, `SELECT `+subCols+` FROM subscriptions WHERE app = ? AND tenant = ? ORDER BY drive, id`, string(app), tenant)
	if err != nil {
		return nil, fmt.Errorf("store: subscriptions: %w", err)
	}
	defer rows.Close()
	var out []connectors.Subscription
	for rows.Next() {
		sub, err := scanSub(rows)
		if err != nil {
			return nil, fmt.Errorf("store: subscriptions: %w", err)
		}
		out = append(out, sub)
	}
	return out, rows.Err()
}

// ChangedDrive is a drive whose change feed must be read.
type ChangedDrive struct {
	App        connectors.App
	Tenant     string
	Drive      string
	Reason     string
	Generation int64
}

// MarkDriveChanged records that a drive's change feed must be read. Repeated marks before a
// worker gets to it coalesce into one row; the generation lets the worker tell whether a
// mark arrived while it was reading.
func (s *Store) MarkDriveChanged(ctx context.Context, app connectors.App, tenant, drive, reason string) error {
	_, err := s.exec(ctx, `INSERT INTO changed_drives (app, tenant, drive, reason, requested_at, generation) VALUES (?, ?, ?, ?, ?, 1)
		ON CONFLICT (app, tenant, drive) DO UPDATE SET generation = changed_drives.generation + 1, reason = excluded.reason`,
		string(app), tenant, drive, reason, s.now().UnixMilli())
	if err != nil {
		return fmt.Errorf("store: mark drive changed: %w", err)
	}
	return nil
}

// ClaimChangedDrives leases up to limit drives waiting for a change-feed read, oldest first,
// so that of several replicas only one reads a drive's feed at a time. A lease that runs out
// (its holder died) makes the drive claimable again.
func (s *Store) ClaimChangedDrives(ctx context.Context, lease time.Duration, limit int) ([]ChangedDrive, error) {
	now := s.now().UnixMilli()
	rows, err := s.query(ctx, `SELECT app, tenant, drive, reason, generation FROM changed_drives
		WHERE leased_until < ? ORDER BY requested_at LIMIT ?`, now, limit)
	if err != nil {
		return nil, fmt.Errorf("store: changed drives: %w", err)
	}
	var cands []ChangedDrive
	for rows.Next() {
		var c ChangedDrive
		var app string
		if err := rows.Scan(&app, &c.Tenant, &c.Drive, &c.Reason, &c.Generation); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: changed drives: %w", err)
		}
		c.App = connectors.App(app)
		cands = append(cands, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: changed drives: %w", err)
	}
	var out []ChangedDrive
	for _, c := range cands {
		// The compare-and-set on leased_until makes the claim exclusive without row locks.
		res, err := s.exec(ctx, `UPDATE changed_drives SET leased_until = ?, attempts = attempts + 1
			WHERE app = ? AND tenant = ? AND drive = ? AND leased_until < ?`,
			now+lease.Milliseconds(), string(c.App), c.Tenant, c.Drive, now)
		if err != nil {
			return nil, fmt.Errorf("store: claim changed drive: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			out = append(out, c)
		}
	}
	return out, nil
}

// ChangedDrives lists drives waiting for a change-feed read, oldest first (claimed or not).
func (s *Store) ChangedDrives(ctx context.Context, limit int) ([]ChangedDrive, error) {
	rows, err := s.query(ctx, `SELECT app, tenant, drive, reason, generation FROM changed_drives ORDER BY requested_at LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: changed drives: %w", err)
	}
	defer rows.Close()
	var out []ChangedDrive
	for rows.Next() {
		var c ChangedDrive
		var app string
		if err := rows.Scan(&app, &c.Tenant, &c.Drive, &c.Reason, &c.Generation); err != nil {
			return nil, fmt.Errorf("store: changed drives: %w", err)
		}
		c.App = connectors.App(app)
		out = append(out, c)
	}
	return out, rows.Err()
}

// ClearDriveChanged finishes a change-feed read: the mark goes if no newer mark arrived since
// its generation was read; otherwise it stays, unleased, for another read.
func (s *Store) ClearDriveChanged(ctx context.Context, c ChangedDrive) error {
	return s.Tx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM changed_drives WHERE app = ? AND tenant = ? AND drive = ? AND generation = ?`,
			string(c.App), c.Tenant, c.Drive, c.Generation)
		if err != nil {
			return fmt.Errorf("store: clear drive changed: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tx.releaseDrive(ctx, c, 0)
		}
		return nil
	})
}

// ReleaseDriveChanged gives a claimed drive back after a failed read, to be retried after delay.
func (s *Store) ReleaseDriveChanged(ctx context.Context, c ChangedDrive, delay time.Duration) error {
	return s.Tx(ctx, func(tx *Tx) error { return tx.releaseDrive(ctx, c, delay) })
}

func (t *Tx) releaseDrive(ctx context.Context, c ChangedDrive, delay time.Duration) error {
	until := int64(0)
	if delay > 0 {
		until = t.s.now().Add(delay).UnixMilli()
	}
	if _, err := t.exec(ctx, `UPDATE changed_drives SET leased_until = ? WHERE app = ? AND tenant = ? AND drive = ?`,
		until, string(c.App), c.Tenant, c.Drive); err != nil {
		return fmt.Errorf("store: release drive: %w", err)
	}
	return nil
}

// FirstDelivery records a webhook delivery key and reports whether it is new. A replayed or
// duplicate delivery returns false.
func (s *Store) FirstDelivery(ctx context.Context, key string) (bool, error) {
	res, err := s.exec(ctx, `INSERT INTO webhook_deliveries (dedup_key, received_at) VALUES (?, ?) ON CONFLICT (dedup_key) DO NOTHING`,
		key, s.now().UnixMilli())
	if err != nil {
		return false, fmt.Errorf("store: record delivery: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: record delivery: %w", err)
	}
	return n == 1, nil
}

// ForgetDeliveries drops delivery keys older than the cut-off; replays older than the
// providers' own replay windows are rejected by their timestamps instead.
func (s *Store) ForgetDeliveries(ctx context.Context, before time.Time) (int64, error) {
	return s.ForgetDeliveriesWithPrefix(ctx, "", before)
}

// forgetBatch is how many delivery keys one DELETE removes: a backlog of millions is pruned
// in many short transactions, never one long one that holds up webhook ingress.
const forgetBatch = 5000

// ForgetDeliveriesWithPrefix drops the delivery keys starting with prefix ("" = all) recorded
// before the cut-off, in batches, and returns how many it dropped. Keys are
// "<connector>|<provider key>" (webhooks.Handler), so a connector's prefix is its name and "|".
func (s *Store) ForgetDeliveriesWithPrefix(ctx context.Context, prefix string, before time.Time) (int64, error) {
	batch := forgetBatch
	if s.forgetBatch > 0 {
		batch = s.forgetBatch
	}
	var total int64
	for {
		var res sql.Result
		var err error
		if prefix == "" {
			res, err = s.exec(ctx, `DELETE FROM webhook_deliveries WHERE dedup_key IN
				(SELECT dedup_key FROM webhook_deliveries WHERE received_at < ? LIMIT ?)`, before.UnixMilli(), batch)
		} else {
			// substr counts characters on both databases (see FileFilter.PathPrefix).
			res, err = s.exec(ctx, `DELETE FROM webhook_deliveries WHERE dedup_key IN
				(SELECT dedup_key FROM webhook_deliveries WHERE received_at < ? AND substr(dedup_key, 1, ?) = ? LIMIT ?)`,
				before.UnixMilli(), utf8.RuneCountInString(prefix), prefix, batch)
		}
		if err != nil {
			return total, fmt.Errorf("store: forget deliveries: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("store: forget deliveries: %w", err)
		}
		total += n
		if n < int64(batch) {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}
