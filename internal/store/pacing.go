package store

import (
	"context"
	"fmt"
	"time"
)

// PacerShareTTL is how long a replica counts as pacing a tenant after it last said so.
const PacerShareTTL = 30 * time.Second

// PacerShares records that replica paces provider's tenant now and returns how many live
// replicas do (itself included, so at least 1). Rows older than twice the TTL are removed.
func (s *Store) PacerShares(ctx context.Context, provider, tenant, replica string) (int, error) {
	now := s.now()
	var n int
	err := s.Tx(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, `INSERT INTO pacer_shares (provider, tenant, replica, seen_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (provider, tenant, replica) DO UPDATE SET seen_at = excluded.seen_at`,
			provider, tenant, replica, now.UnixMilli()); err != nil {
			return err
		}
		if _, err := tx.exec(ctx, `DELETE FROM pacer_shares WHERE provider = ? AND tenant = ? AND seen_at < ?`,
			provider, tenant, now.Add(-2*PacerShareTTL).UnixMilli()); err != nil {
			return err
		}
		return tx.queryRow(ctx, `SELECT COUNT(*) FROM pacer_shares WHERE provider = ? AND tenant = ? AND seen_at >= ?`,
			provider, tenant, now.Add(-PacerShareTTL).UnixMilli()).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("store: pacer shares: %w", err)
	}
	return max(n, 1), nil
}
