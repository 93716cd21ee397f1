package gateway

import (
	"context"
	"fmt"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/admin"
)

// sharingAdmin is the sharing governance (issue 24) as the admin API and console use it.
type sharingAdmin struct{ g *Gateway }

var _ admin.Sharing = sharingAdmin{}

// undoer is Gateway.UndoAction, which the executor side of issue 24 (internal/gateway/
// sharing.go, share-exec) adds.
type undoer interface {
	UndoAction(ctx context.Context, id int64, requestedBy string) (int64, error)
}

// Undo queues the undo of sharing action id through Gateway.UndoAction.
//
// MERGE NOTE: UndoAction lands with share-exec's internal/gateway/sharing.go. It is reached
// through the undoer interface so this branch builds before that merge; once merged the
// assertion always holds (TestSharingAdminReachesUndoAction checks the signature) and this
// may become a direct call, s.g.UndoAction(ctx, id, by).
func (s sharingAdmin) Undo(ctx context.Context, id int64, by string) (int64, error) {
	u, ok := any(s.g).(undoer)
	if !ok {
		return 0, fmt.Errorf("undo: %w", admin.ErrSharingUnavailable)
	}
	return u.UndoAction(ctx, id, by)
}

// Permissions lists a file's grants live from its connector.
func (s sharingAdmin) Permissions(ctx context.Context, ref connectors.FileRef) ([]connectors.Permission, error) {
	c, ok := s.g.reg.lookup(ref.App, ref.Tenant)
	if !ok {
		return nil, fmt.Errorf("no connector for %s tenant %s", ref.App, ref.Tenant)
	}
	sr, ok := c.C.(connectors.SharingRestrictor)
	if !ok {
		// A file share has no sharing to list or restrict (issue 24).
		return nil, fmt.Errorf("%s (%s) has no sharing labelgate can list: %w", c.Name, ref.App, admin.ErrSharingUnavailable)
	}
	return sr.Permissions(ctx, ref)
}
