package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/labelgate/labelgate/connectors"
)

// SharingChange is one grant a sharing action removed from a file (issue 24), and its
// restoration by an undo when that happened.
type SharingChange struct {
	ID         int64                 `json:"id"`
	ActionID   int64                 `json:"actionId"`
	Ref        connectors.FileRef    `json:"ref"`
	Permission connectors.Permission `json:"permission"`
	RemovedAt  time.Time             `json:"removedAt"`
	// RestoredBy is the undo action that granted it again (0: not restored), RestoredID the
	// grant's id after it (a recreated link's is new), RestoreNote what could not come back.
	RestoredBy  int64     `json:"restoredBy,omitempty"`
	RestoredAt  time.Time `json:"restoredAt,omitzero"`
	RestoredID  string    `json:"restoredId,omitempty"`
	RestoreNote string    `json:"restoreNote,omitempty"`
}

const sharingCols = `id, action_id, app, tenant, drive, item_id, permission, removed_at, restored_by, restored_at, restored_id, restore_note`

func scanSharingChange(sc interface{ Scan(...any) error }) (SharingChange, error) {
	var c SharingChange
	var app, perm string
	var rem, res int64
	if err := sc.Scan(&c.ID, &c.ActionID, &app, &c.Ref.Tenant, &c.Ref.Drive, &c.Ref.ItemID, &perm, &rem, &c.RestoredBy, &res,
		&c.RestoredID, &c.RestoreNote); err != nil {
		return c, err
	}
	c.Ref.App, c.RemovedAt, c.RestoredAt = connectors.App(app), fromMS(rem), fromMS(res)
	if err := json.Unmarshal([]byte(perm), &c.Permission); err != nil {
		return c, fmt.Errorf("store: sharing change %d: %w", c.ID, err)
	}
	return c, nil
}

// RecordSharingRemoval stores a grant action actionID removed from ref. Recording the same
// grant for the same action again (a retried action) keeps the first record.
func (s *Store) RecordSharingRemoval(ctx context.Context, actionID int64, ref connectors.FileRef, p connectors.Permission) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("store: sharing removal: %w", err)
	}
	if _, err := s.exec(ctx, `INSERT INTO sharing_changes (action_id, app, tenant, drive, item_id, permission_id, permission, removed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (action_id, permission_id) DO NOTHING`,
		actionID, string(ref.App), ref.Tenant, ref.Drive, ref.ItemID, p.ID, string(b), s.now().UnixMilli()); err != nil {
		return fmt.Errorf("store: sharing removal: %w", err)
	}
	return nil
}

// MarkSharingRestored records that undo action undoID granted change id again, as newID.
func (s *Store) MarkSharingRestored(ctx context.Context, id, undoID int64, newID, note string) error {
	if _, err := s.exec(ctx, `UPDATE sharing_changes SET restored_by = ?, restored_at = ?, restored_id = ?, restore_note = ? WHERE id = ?`,
		undoID, s.now().UnixMilli(), newID, note, id); err != nil {
		return fmt.Errorf("store: sharing restored: %w", err)
	}
	return nil
}

// SharingChanges lists the grants action actionID removed, in the order it removed them.
func (s *Store) SharingChanges(ctx context.Context, actionID int64) ([]SharingChange, error) {
	return s.sharingChanges(ctx, `WHERE action_id = ? ORDER BY id`, actionID)
}

// FileSharingChanges lists every grant sharing actions removed from ref, oldest first.
func (s *Store) FileSharingChanges(ctx context.Context, ref connectors.FileRef) ([]SharingChange, error) {
	return s.sharingChanges(ctx, `WHERE app = ? AND tenant = ? AND drive = ? AND item_id = ? ORDER BY id`,
		string(ref.App), ref.Tenant, ref.Drive, ref.ItemID)
}

func (s *Store) sharingChanges(ctx context.Context, where string, args ...any) ([]SharingChange, error) {
	rows, err := s.query(ctx, `SELECT `+sharingCols+` FROM sharing_changes `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("store: sharing changes: %w", err)
	}
	defer rows.Close()
	out := []SharingChange{}
	for rows.Next() {
		c, err := scanSharingChange(rows)
		if err != nil {
			return nil, fmt.Errorf("store: sharing changes: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: sharing changes: %w", err)
	}
	return out, nil
}
