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

// Undo queues the undo of sharing action id through Gateway.UndoAction.
func (s sharingAdmin) Undo(ctx context.Context, id int64, by string) (int64, error) {
	return s.g.UndoAction(ctx, id, by)
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
