package store

import (
	"context"
	"fmt"
	"time"

	"github.com/labelgate/labelgate/connectors"
)

// FileCount is the number of live files sharing one combination of facts.
type FileCount struct {
	App       connectors.App
	LabelID   string
	Access    connectors.AccessLevel
	Protected bool
	External  bool
	N         int64
}

// FileCounts groups the live inventory by app, label, access level and flags; dashboards
// aggregate it further in memory (the groups are few even for millions of files).
func (s *Store) FileCounts(ctx context.Context) ([]FileCount, error) {
	rows, err := s.query(ctx, `SELECT app, label_id, access, protected, label_external, COUNT(*) FROM files
		WHERE deleted = ? GROUP BY app, label_id, access, protected, label_external`, false)
	if err != nil {
		return nil, fmt.Errorf("store: file counts: %w", err)
	}
	defer rows.Close()
	var out []FileCount
	for rows.Next() {
		var c FileCount
		var app, access string
		if err := rows.Scan(&app, &c.LabelID, &access, &c.Protected, &c.External, &c.N); err != nil {
			return nil, fmt.Errorf("store: file counts: %w", err)
		}
		c.App, c.Access = connectors.App(app), connectors.AccessLevel(access)
		out = append(out, c)
	}
	return out, rows.Err()
}

// DayCount is the number of events of one kind on one UTC day.
type DayCount struct {
	Day  time.Time
	Kind string
	N    int64
}

// EventsByDay counts discovery events per UTC day and kind since a time.
func (s *Store) EventsByDay(ctx context.Context, since time.Time) ([]DayCount, error) {
	rows, err := s.query(ctx, `SELECT at / 86400000, kind, COUNT(*) FROM events WHERE at >= ? GROUP BY at / 86400000, kind ORDER BY 1`,
		since.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("store: events by day: %w", err)
	}
	defer rows.Close()
	var out []DayCount
	for rows.Next() {
		var d DayCount
		var day int64
		if err := rows.Scan(&day, &d.Kind, &d.N); err != nil {
			return nil, fmt.Errorf("store: events by day: %w", err)
		}
		d.Day = time.UnixMilli(day * 86400000).UTC()
		out = append(out, d)
	}
	return out, rows.Err()
}
