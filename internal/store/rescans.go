package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/labelgate/labelgate/connectors"
)

// Rescan states.
const (
	RescanRunning  = "running"
	RescanDone     = "done"
	RescanFailed   = "failed"
	RescanCanceled = "canceled"
)

// Rescan is a full rescan of one connector (or a scope of it) and its progress.
type Rescan struct {
	ID         int64          `json:"id"`
	Connector  string         `json:"connector"`
	App        connectors.App `json:"app"`
	Tenant     string         `json:"tenant"`
	Scope      string         `json:"scope,omitempty"`
	Force      bool           `json:"force"`
	State      string         `json:"state"`
	Enumerated int64          `json:"enumerated"`
	Enqueued   int64          `json:"enqueued"`
	Skipped    int64          `json:"skipped"`
	Error      string         `json:"error,omitempty"`
	StartedAt  time.Time      `json:"startedAt"`
	UpdatedAt  time.Time      `json:"updatedAt"`
	FinishedAt time.Time      `json:"finishedAt,omitempty"`
}

const rescanCols = `id, connector, app, tenant, scope, force, state, enumerated, enqueued, skipped, error, started_at, updated_at, finished_at`

func scanRescan(sc interface{ Scan(...any) error }) (Rescan, error) {
	var r Rescan
	var app string
	var s, u, f int64
	err := sc.Scan(&r.ID, &r.Connector, &app, &r.Tenant, &r.Scope, &r.Force, &r.State, &r.Enumerated, &r.Enqueued, &r.Skipped,
		&r.Error, &s, &u, &f)
	r.App, r.StartedAt, r.UpdatedAt, r.FinishedAt = connectors.App(app), fromMS(s), fromMS(u), fromMS(f)
	return r, err
}

// CreateRescan records a new running rescan.
func (s *Store) CreateRescan(ctx context.Context, r Rescan) (Rescan, error) {
	now := s.now().UnixMilli()
	var id int64
	err := s.queryRow(ctx, `INSERT INTO rescans (connector, app, tenant, scope, force, state, started_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, r.Connector, string(r.App), r.Tenant, r.Scope, r.Force, RescanRunning, now, now).Scan(&id)
	if err != nil {
		return r, fmt.Errorf("store: create rescan: %w", err)
	}
	return s.GetRescan(ctx, id)
}

// GetRescan returns one rescan, ErrNotFound if absent.
func (s *Store) GetRescan(ctx context.Context, id int64) (Rescan, error) {
	r, err := scanRescan(s.queryRow(ctx, `SELECT `+rescanCols+` FROM rescans WHERE id = ?`, id))
	if isNoRows(err) {
		return r, fmt.Errorf("rescan %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("store: get rescan: %w", err)
	}
	return r, nil
}

// ListRescans lists rescans, newest first; running ones only if onlyRunning.
func (s *Store) ListRescans(ctx context.Context, onlyRunning bool, limit int) ([]Rescan, error) {
	q := `SELECT ` + rescanCols + ` FROM rescans`
	var args []any
	if onlyRunning {
		q += ` WHERE state = ?`
		args = append(args, RescanRunning)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list rescans: %w", err)
	}
	defer rows.Close()
	var out []Rescan
	for rows.Next() {
		r, err := scanRescan(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list rescans: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

const rescanProgressSQL = `UPDATE rescans SET enumerated = enumerated + ?, enqueued = enqueued + ?, skipped = skipped + ?, updated_at = ? WHERE id = ?`

// AddRescanProgress adds to a rescan's counters.
func (s *Store) AddRescanProgress(ctx context.Context, id, enumerated, enqueued, skipped int64) error {
	_, err := s.exec(ctx, rescanProgressSQL, enumerated, enqueued, skipped, s.now().UnixMilli(), id)
	if err != nil {
		return fmt.Errorf("store: rescan progress: %w", err)
	}
	return nil
}

// FinishRescan ends a rescan in state (done, failed, canceled) unless it already ended.
func (s *Store) FinishRescan(ctx context.Context, id int64, state, errMsg string) (bool, error) {
	now := s.now().UnixMilli()
	res, err := s.exec(ctx, `UPDATE rescans SET state = ?, error = ?, updated_at = ?, finished_at = ? WHERE id = ? AND state = ?`,
		state, errMsg, now, now, id, RescanRunning)
	if err != nil {
		return false, fmt.Errorf("store: finish rescan: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// MarkSeen records that a rescan enumerated these files, so reconciliation can tell which
// inventory rows the provider no longer has. A file keeps the newest rescan that saw it
// (rescan ids grow with their start): two rescans of one drive can run at once — drives'
// first baselines each start one, an admin another — and an older walk marking a file
// after a newer one must not make the newer one's reconciliation take it for gone.
func (s *Store) MarkSeen(ctx context.Context, rescanID int64, refs []connectors.FileRef) error {
	if len(refs) == 0 {
		return nil
	}
	return s.txRetry(ctx, func(tx *Tx) error { return tx.markSeen(ctx, rescanID, refs) })
}

// markSeen is MarkSeen's work inside tx: one statement per chunk of a drive's files (a
// statement per file was most of an unchanged rescan's writes: 100,000 at 100,000 files). It
// writes the rows in key order: scans record their outcomes on the same rows meanwhile (in
// key order too, see RecordScans), and on PostgreSQL two writers of many rows in different
// orders deadlock. PostgreSQL locks the rows of a multi-row UPDATE in the order its plan
// visits them, so there the rows are locked first by a SELECT … ORDER BY … FOR UPDATE; the
// order is bytewise (COLLATE "C"), as Go compares the keys, whatever the database's collation.
func (tx *Tx) markSeen(ctx context.Context, rescanID int64, refs []connectors.FileRef) error {
	sorted := slices.SortedFunc(slices.Values(refs), byRef)
	args := make([]any, 0, 5+upsertChunk)
	for len(sorted) > 0 {
		d := sorted[0]
		n := 1
		for n < len(sorted) && sorted[n].App == d.App && sorted[n].Tenant == d.Tenant && sorted[n].Drive == d.Drive {
			n++
		}
		drive := sorted[:n]
		sorted = sorted[n:]
		if err := chunked(len(drive), func(from, k int) error {
			args = append(args[:0], rescanID, string(d.App), d.Tenant, d.Drive)
			for _, r := range drive[from : from+k] {
				args = append(args, r.ItemID)
			}
			args = append(args, rescanID)
			_, err := tx.exec(ctx, markSeenSQL(tx.s.dialect, k), args...)
			return err
		}); err != nil {
			return fmt.Errorf("store: mark seen: %w", err)
		}
	}
	return nil
}

// The seen-mark statement for the files of one drive, around the list of their item ids. Its
// parameters: the rescan, app, tenant, drive, the item ids, the rescan again.
const (
	markSeenHead   = `UPDATE files SET seen_rescan = ? WHERE app = ? AND tenant = ? AND drive = ? AND item_id IN (`
	markSeenTail   = `) AND seen_rescan < ?`
	markSeenPGHead = `UPDATE files SET seen_rescan = ? FROM (SELECT app, tenant, drive, item_id FROM files
			WHERE app = ? AND tenant = ? AND drive = ? AND item_id IN (`
	markSeenPGTail = `) AND seen_rescan < ?
			ORDER BY item_id COLLATE "C" FOR UPDATE) AS l
		WHERE files.app = l.app AND files.tenant = l.tenant AND files.drive = l.drive AND files.item_id = l.item_id`
)

// markSeenSQL is the seen-mark statement for k files of one drive.
func markSeenSQL(d Dialect, k int) string {
	if d == Postgres {
		return multiRow(markSeenPGHead, "?", markSeenPGTail, k)
	}
	return multiRow(markSeenHead, "?", markSeenTail, k)
}

// Unseen lists the live inventory files of a drive that a finished walk of rescanID did not see.
// Files that entered the inventory after the rescan started are never listed: the scanner
// may insert a file the walk saw before its row existed (so the seen mark found nothing to
// update), and such a file is alive by definition. Nor are files a newer rescan saw: a walk
// that started after this one found them there (the demo's concurrent baseline rescans
// marked each other's files deleted when this compared for inequality).
func (s *Store) Unseen(ctx context.Context, rescanID int64, app connectors.App, tenant, drive string) ([]connectors.FileRef, error) {
	rows, err := s.query(ctx, `SELECT item_id FROM files WHERE app = ? AND tenant = ? AND drive = ? AND deleted = ? AND seen_rescan < ?
		AND first_seen < (SELECT started_at FROM rescans WHERE id = ?)`,
		string(app), tenant, drive, false, rescanID, rescanID)
	if err != nil {
		return nil, fmt.Errorf("store: unseen: %w", err)
	}
	defer rows.Close()
	var out []connectors.FileRef
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: unseen: %w", err)
		}
		out = append(out, connectors.FileRef{App: app, Tenant: tenant, Drive: drive, ItemID: id})
	}
	return out, rows.Err()
}

// TryLease takes or extends the named lease for holder until now+ttl. It succeeds when the
// lease is free, expired, or already held by holder: one replica leads at a time, and a
// dead leader's lease runs out.
func (s *Store) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := s.now().UnixMilli()
	res, err := s.exec(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at < ?`, name, holder, now+ttl.Milliseconds(), now)
	if err != nil {
		return false, fmt.Errorf("store: lease %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: lease %s: %w", name, err)
	}
	return n == 1, nil
}

// ReleaseLease gives up a lease held by holder.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := s.exec(ctx, `DELETE FROM leases WHERE name = ? AND holder = ?`, name, holder); err != nil {
		return fmt.Errorf("store: release lease %s: %w", name, err)
	}
	return nil
}

// RescanOutcome is what followed a rescan's walk: files of its connector scanned and labels
// applied to them since the rescan started.
type RescanOutcome struct {
	Scanned  int64 `json:"scanned"`
	Labelled int64 `json:"labelled"`
}

// RescanOutcome counts the files of r's connector scanned since r started and the
// apply-label actions done on them since. Both count the whole connector: a webhook-driven
// scan in the same window counts too, which is what a person watching progress wants.
func (s *Store) RescanOutcome(ctx context.Context, r Rescan) (RescanOutcome, error) {
	var o RescanOutcome
	since := r.StartedAt.UnixMilli()
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM files WHERE app = ? AND tenant = ? AND last_scanned >= ?`,
		string(r.App), r.Tenant, since).Scan(&o.Scanned); err != nil {
		return o, fmt.Errorf("store: rescan scanned: %w", err)
	}
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM actions WHERE app = ? AND tenant = ? AND kind = ? AND state = ? AND updated_at >= ?`,
		string(r.App), r.Tenant, ActionApplyLabel, ActionDone, since).Scan(&o.Labelled); err != nil {
		return o, fmt.Errorf("store: rescan labelled: %w", err)
	}
	return o, nil
}

// RescanStep is what one batch of a rescan's walk leaves behind.
type RescanStep struct {
	Rescan                        int64
	Seen                          []connectors.FileRef
	Enumerated, Enqueued, Skipped int64
	App                           connectors.App
	Tenant, Drive, Kind, Cursor   string // Cursor "" leaves the drive's cursor as it is
}

// RecordRescanStep records a walk batch's seen marks, progress and cursor in one
// transaction (MarkSeen, AddRescanProgress and PutCursor in one commit instead of three:
// walks of many drives at once each write a batch every 200 files, and on SQLite every
// commit waits for the one writer).
func (s *Store) RecordRescanStep(ctx context.Context, st RescanStep) error {
	now := s.now().UnixMilli()
	return s.txRetry(ctx, func(tx *Tx) error {
		if err := tx.markSeen(ctx, st.Rescan, st.Seen); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, rescanProgressSQL, st.Enumerated, st.Enqueued, st.Skipped, now, st.Rescan); err != nil {
			return fmt.Errorf("store: rescan progress: %w", err)
		}
		if st.Cursor == "" {
			return nil
		}
		if _, err := tx.exec(ctx, putCursorSQL, string(st.App), st.Tenant, st.Drive, st.Kind, st.Cursor, now); err != nil {
			return fmt.Errorf("store: put cursor: %w", err)
		}
		return nil
	})
}
