package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/labeling"
)

// ErrNotUndoable is returned by UndoAction for an action that cannot be undone: not a
// sharing action, not finished, or with nothing left to restore. It is the admin API's error,
// which answers it with 409 Conflict.
var ErrNotUndoable = admin.ErrNotUndoable

// UndoAction asks for what the sharing action id removed to be granted again (issue 24):
// it records a restore_sharing action for the file, manual and at admin priority, counted
// against the restore_sharing allowance, and queues it; the executor restores each removed
// grant the provider lets it restore and logs access_restored. It returns the undo action's
// id; asking again while that one is unfinished returns the same id. The action to undo must
// be finished (a failed or interrupted action may have removed some grants, which undo puts
// back too) and have removed grants not yet restored.
func (g *Gateway) UndoAction(ctx context.Context, id int64, requestedBy string) (int64, error) {
	a, err := admin.Undoable(ctx, g.store, id)
	if err != nil {
		return 0, err
	}
	if requestedBy == "" {
		requestedBy = "admin"
	}
	params, err := jsonParams(labeling.SharingParams{Undo: id})
	if err != nil {
		return 0, err
	}
	return execAdmin{g}.Submit(ctx, store.Action{Key: "undo:" + strconv.FormatInt(id, 10), Kind: store.ActionRestoreSharing,
		Ref: a.Ref, Params: params, RequestedBy: requestedBy, Manual: true})
}

func jsonParams(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("gateway: action params: %w", err)
	}
	return b, nil
}
