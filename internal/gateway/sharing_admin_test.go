package gateway

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The admin API's undo reaches Gateway.UndoAction with the signature it expects. UndoAction
// comes with share-exec's internal/gateway/sharing.go (issue 24): this passes once that is
// merged, and fails if its signature drifts from the one sharingAdmin calls.
func TestSharingAdminReachesUndoAction(t *testing.T) {
	t.Parallel()
	_, ok := any(&Gateway{}).(undoer)
	require.True(t, ok, "Gateway has no UndoAction(ctx, id int64, requestedBy string) (int64, error)")
}
