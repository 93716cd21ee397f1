package gateway

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling"
)

// TestUndoActionSubmitsRestore: UndoAction accepts only a finished sharing action that
// removed grants not yet restored, and records one restore_sharing action for it, manual, on
// the same file, queued for the executor.
func TestUndoActionSubmitsRestore(t *testing.T) {
	t.Parallel()
	h := startGateway(t, storetest.Backends()[0], nil)
	ctx := context.Background()
	st := h.g.Store()
	// No connector serves this app here, so the undo stays pending: what is checked is what
	// UndoAction records (the executor's side is labeling's TestSharingUndo).
	ref := connectors.FileRef{App: connectors.AppBox, Tenant: "t1", Drive: "0", ItemID: "42"}
	// The actions to undo are due only in an hour, so the gateway's own executor leaves them
	// to this test, which plays the executor an hour and a half ahead.
	later := h.g.now().Add(time.Hour)
	add := func(key, kind string) int64 {
		id, _, err := st.AddAction(ctx, store.Action{Key: key, Kind: kind, Ref: ref, NotBefore: later})
		require.NoError(t, err)
		return id
	}
	finish := func(id int64) {
		c, err := st.ClaimAction(ctx, id, later.Add(30*time.Minute), []string{store.ActionRemovePublicLinks, store.ActionApplyLabel},
			func(store.Action) int { return -1 })
		require.NoError(t, err)
		require.True(t, c.Claimed)
		require.NoError(t, st.CompleteAction(ctx, store.Completion{ID: id, State: store.ActionDone}))
	}
	link := connectors.Permission{ID: "shared_link", Kind: connectors.GrantLink, LinkScope: "open", Access: connectors.AccessPublic}

	done := add("a", store.ActionRemovePublicLinks)
	require.NoError(t, st.RecordSharingRemoval(ctx, done, ref, link))
	finish(done)

	undo, err := h.g.UndoAction(ctx, done, "admin@contoso.com")
	require.NoError(t, err)
	a, err := st.GetAction(ctx, undo)
	require.NoError(t, err)
	require.Equal(t, store.ActionRestoreSharing, a.Kind)
	require.Equal(t, ref, a.Ref)
	require.True(t, a.Manual)
	require.Equal(t, "admin@contoso.com", a.RequestedBy)
	var p labeling.SharingParams
	require.NoError(t, json.Unmarshal(a.Params, &p))
	require.Equal(t, done, p.Undo)
	again, err := h.g.UndoAction(ctx, done, "admin@contoso.com")
	require.NoError(t, err)
	require.Equal(t, undo, again, "one unfinished undo per action")

	// Not undoable: a label action, an unfinished sharing action, one that removed nothing,
	// one whose grants are all back; an unknown id is not found.
	label := add("b", store.ActionApplyLabel)
	finish(label)
	pending := add("c", store.ActionRemovePublicLinks)
	empty := add("d", store.ActionRemovePublicLinks)
	finish(empty)
	restored := add("e", store.ActionRemovePublicLinks)
	require.NoError(t, st.RecordSharingRemoval(ctx, restored, ref, link))
	finish(restored)
	changes, err := st.SharingChanges(ctx, restored)
	require.NoError(t, err)
	require.NoError(t, st.MarkSharingRestored(ctx, changes[0].ID, undo, "shared_link", ""))
	for id, why := range map[int64]string{label: "not a sharing action", pending: "still pending", empty: "removed no grant",
		restored: "undone already"} {
		_, err := h.g.UndoAction(ctx, id, "admin")
		require.ErrorIs(t, err, ErrNotUndoable)
		require.ErrorContains(t, err, why)
	}
	_, err = h.g.UndoAction(ctx, 99999, "admin")
	require.ErrorIs(t, err, store.ErrNotFound)
}
