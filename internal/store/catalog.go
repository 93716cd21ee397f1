package store

import (
	"context"
	"fmt"
	"time"

	"github.com/labelgate/labelgate/connectors"
)

// Label states in the catalog.
const (
	LabelEnabled  = "enabled"
	LabelDisabled = "disabled"
	LabelDeleted  = "deleted"
)

// CatalogLabel is a label as the catalog keeps it.
type CatalogLabel struct {
	connectors.Label
	App       connectors.App `json:"app"`
	State     string         `json:"state"`
	External  bool           `json:"external"`
	UpdatedAt time.Time      `json:"updatedAt"`
}

const labelCols = `app, tenant, id, name, display_name, parent, priority, protection, state, external, native, updated_at`

func scanLabel(sc interface{ Scan(...any) error }) (CatalogLabel, error) {
	var r labelRow
	err := sc.Scan(r.dest()...)
	return r.label(), err
}

// labelRow receives labelCols, for scans that read them beside other columns.
type labelRow struct {
	l       CatalogLabel
	app     string
	updated int64
}

func (r *labelRow) dest() []any {
	return []any{&r.app, &r.l.Tenant, &r.l.ID, &r.l.Name, &r.l.DisplayName, &r.l.Parent, &r.l.Priority, &r.l.Protection,
		&r.l.State, &r.l.External, &r.l.Native, &r.updated}
}

func (r *labelRow) label() CatalogLabel {
	l := r.l
	l.App, l.UpdatedAt, l.Disabled = connectors.App(r.app), fromMS(r.updated), l.State != LabelEnabled
	return l
}

// SyncLabels replaces one source's catalog with labels and logs the differences: labels
// added, renamed, disabled, or deleted (kept, hidden, not applicable).
func (s *Store) SyncLabels(ctx context.Context, app connectors.App, tenant string, labels []connectors.Label) ([]Event, error) {
	var events []Event
	err := s.Tx(ctx, func(tx *Tx) error {
		events = events[:0]
		rows, err := tx.query(ctx, `SELECT `+labelCols+` FROM labels WHERE app = ? AND tenant = ?`, string(app), tenant)
		if err != nil {
			return fmt.Errorf("store: sync labels: %w", err)
		}
		old := map[string]CatalogLabel{}
		for rows.Next() {
			l, err := scanLabel(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("store: sync labels: %w", err)
			}
			old[l.ID] = l
		}
		rows.Close()
		now := s.now().UnixMilli()
		seen := map[string]bool{}
		ev := func(kind string, l connectors.Label, detail string) {
			events = append(events, Event{Kind: kind, App: app, Tenant: tenant, LabelID: l.ID, Name: l.Name, Actor: "catalog", Detail: detail})
		}
		for _, l := range labels {
			seen[l.ID] = true
			state := LabelEnabled
			if l.Disabled {
				state = LabelDisabled
			}
			prev, had := old[l.ID]
			switch {
			case !had || prev.State == LabelDeleted:
				ev(EventCatalogAdded, l, "")
			case prev.Name != l.Name:
				ev(EventCatalogRenamed, l, prev.Name+" -> "+l.Name)
			}
			if had && prev.State == LabelEnabled && state == LabelDisabled {
				ev(EventCatalogState, l, "disabled")
			}
			ltenant := l.Tenant
			if ltenant == "" {
				ltenant = tenant
			}
			if _, err := tx.exec(ctx, `INSERT INTO labels (`+labelCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (app, tenant, id) DO UPDATE SET name = excluded.name, display_name = excluded.display_name,
					parent = excluded.parent, priority = excluded.priority, protection = excluded.protection,
					state = excluded.state, native = excluded.native, updated_at = excluded.updated_at`,
				string(app), tenant, l.ID, l.Name, l.DisplayName, l.Parent, l.Priority, l.Protection, state,
				ltenant != tenant, l.Native, now); err != nil {
				return fmt.Errorf("store: sync labels: %w", err)
			}
		}
		for id, l := range old {
			if seen[id] || l.State == LabelDeleted || l.External {
				continue
			}
			if _, err := tx.exec(ctx, `UPDATE labels SET state = ?, updated_at = ? WHERE app = ? AND tenant = ? AND id = ?`,
				LabelDeleted, now, string(app), tenant, id); err != nil {
				return fmt.Errorf("store: sync labels: %w", err)
			}
			ev(EventCatalogDeleted, l.Label, "")
		}
		return tx.addEvents(ctx, events, now)
	})
	if err != nil {
		return nil, err
	}
	return events, nil
}

// RecordExternalLabel notes a label found in a file that belongs to another tenant, so
// listings can show it as external. It never overwrites a tenant's own catalog entry.
func (s *Store) RecordExternalLabel(ctx context.Context, app connectors.App, tenant, labelID, labelTenant string) error {
	_, err := s.exec(ctx, `INSERT INTO labels (`+labelCols+`) VALUES (?, ?, ?, '', '', '', 0, ?, ?, ?, '', ?)
		ON CONFLICT (app, tenant, id) DO NOTHING`, string(app), tenant, labelID, false, LabelEnabled, true, s.now().UnixMilli())
	if err != nil {
		return fmt.Errorf("store: record external label: %w", err)
	}
	_ = labelTenant
	return nil
}

// LabelFilter selects catalog entries.
type LabelFilter struct {
	App            connectors.App
	Tenant         string
	IncludeDeleted bool
	OnlyThisTenant bool // leave out external labels
}

// ListLabels lists the catalog ordered by priority. Deleted labels are hidden unless asked for.
func (s *Store) ListLabels(ctx context.Context, f LabelFilter) ([]CatalogLabel, error) {
	q := `SELECT ` + labelCols + ` FROM labels WHERE 1=1`
	var args []any
	if f.App != "" {
		q += ` AND app = ?`
		args = append(args, string(f.App))
	}
	if f.Tenant != "" {
		q += ` AND tenant = ?`
		args = append(args, f.Tenant)
	}
	if !f.IncludeDeleted {
		q += ` AND state <> ?`
		args = append(args, LabelDeleted)
	}
	if f.OnlyThisTenant {
		q += ` AND external = ?`
		args = append(args, false)
	}
	q += ` ORDER BY app, tenant, priority, name, id`
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list labels: %w", err)
	}
	defer rows.Close()
	var out []CatalogLabel
	for rows.Next() {
		l, err := scanLabel(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list labels: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// GetLabel returns a catalog entry of one source, deleted ones included; ErrNotFound if absent.
func (s *Store) GetLabel(ctx context.Context, app connectors.App, tenant, id string) (CatalogLabel, error) {
	l, err := scanLabel(s.queryRow(ctx, `SELECT `+labelCols+` FROM labels WHERE app = ? AND tenant = ? AND id = ?`, string(app), tenant, id))
	if err != nil {
		if isNoRows(err) {
			return l, fmt.Errorf("label %s: %w", id, ErrNotFound)
		}
		return l, fmt.Errorf("store: get label: %w", err)
	}
	return l, nil
}
