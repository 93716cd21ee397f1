package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
)

// storeUndo is the gateway's undo as far as the API can see it: a restore_sharing action
// recorded in the store, naming the action it undoes.
type storeUndo struct {
	st    *store.Store
	mu    sync.Mutex
	calls []string
}

func (u *storeUndo) Undo(ctx context.Context, id int64, by string) (int64, error) {
	u.mu.Lock()
	u.calls = append(u.calls, fmt.Sprintf("%d by %s", id, by))
	u.mu.Unlock()
	a, err := u.st.GetAction(ctx, id)
	if err != nil {
		return 0, err
	}
	params, _ := json.Marshal(map[string]int64{"undo": id})
	nid, _, err := u.st.AddAction(ctx, store.Action{Key: fmt.Sprintf("undo|%d", id), Kind: store.ActionRestoreSharing, Ref: a.Ref,
		Params: params, RequestedBy: by, Manual: true})
	return nid, err
}

func (u *storeUndo) Permissions(context.Context, connectors.FileRef) ([]connectors.Permission, error) {
	return nil, nil
}

func sharingSetup(t *testing.T, rules config.ProtectionRules) (*bundle, *storeUndo) {
	t.Helper()
	b := setup(t)
	u := &storeUndo{st: b.st}
	api := admin.New(admin.Config{Store: b.st, Sharing: u, Protection: rules, Tokens: []admin.Token{admin.NewToken("ops", admin.RoleAdmin, adminTok),
		admin.NewToken("audit", admin.RoleViewer, viewerTok)}})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	b.srv = srv
	return b, u
}

// finished records an action of kind in state, with the grants it removed.
func finished(t *testing.T, st *store.Store, ref connectors.FileRef, kind, state string, removed ...connectors.Permission) int64 {
	t.Helper()
	ctx := context.Background()
	id, _, err := st.AddAction(ctx, store.Action{Key: fmt.Sprintf("%s|%s|%d", kind, state, len(removed)), Kind: kind, Ref: ref})
	require.NoError(t, err)
	if state != store.ActionPending {
		ok, err := st.SetActionState(ctx, id, "", state, "")
		require.NoError(t, err)
		require.True(t, ok)
	}
	for _, p := range removed {
		require.NoError(t, st.RecordSharingRemoval(ctx, id, ref, p))
	}
	return id
}

var anyoneLink = connectors.Permission{ID: "p-link", Kind: connectors.GrantLink, LinkScope: "open", Access: connectors.AccessPublic,
	LinkURL: "https://app.box.example/s/abc"}

func TestUndoSharingAction(t *testing.T) {
	t.Parallel()
	b, u := sharingSetup(t, nil)
	ctx := context.Background()
	done := finished(t, b.st, b.ref, store.ActionRemovePublicLinks, store.ActionDone, anyoneLink)
	path := fmt.Sprintf("/api/v1/actions/%d/undo", done)

	code, _ := b.do(t, "POST", path, viewerTok, "")
	require.Equal(t, 403, code, "undo needs the admin role")
	require.Empty(t, u.calls)

	code, body := b.do(t, "POST", path, adminTok, "")
	require.Equal(t, 202, code, string(body))
	var res struct{ ActionID, Undoes int64 }
	require.NoError(t, json.Unmarshal(body, &res))
	require.Equal(t, done, res.Undoes)
	restore, err := b.st.GetAction(ctx, res.ActionID)
	require.NoError(t, err)
	require.Equal(t, store.ActionRestoreSharing, restore.Kind)
	require.Equal(t, []string{fmt.Sprintf("%d by admin:ops", done)}, u.calls, "the token's name is recorded as who asked")

	// A second undo while the first is queued is refused, not queued twice.
	code, body = b.do(t, "POST", path, adminTok, "")
	require.Equal(t, 409, code)
	require.Contains(t, string(body), fmt.Sprintf("being undone already by action %d", res.ActionID))

	// Once every grant is restored there is nothing left to undo.
	_, err = b.st.SetActionState(ctx, res.ActionID, "", store.ActionDone, "")
	require.NoError(t, err)
	changes, err := b.st.SharingChanges(ctx, done)
	require.NoError(t, err)
	require.NoError(t, b.st.MarkSharingRestored(ctx, changes[0].ID, res.ActionID, "p-link-2", "new link URL"))
	code, body = b.do(t, "POST", path, adminTok, "")
	require.Equal(t, 409, code)
	require.Contains(t, string(body), "undone already")
	require.Len(t, u.calls, 1)
}

func TestUndoRefusalsAreClear(t *testing.T) {
	t.Parallel()
	b, u := sharingSetup(t, nil)
	cases := []struct {
		id   int64
		code int
		msg  string
	}{
		{finished(t, b.st, b.ref, store.ActionApplyLabel, store.ActionDone), 409, "is apply_label, not a sharing action"},
		{finished(t, b.st, b.ref, store.ActionMakePrivate, store.ActionPending, anyoneLink), 409, "is still pending; undo it once it has finished"},
		{finished(t, b.st, b.ref, store.ActionRemoveExternalAccess, store.ActionRunning, anyoneLink), 409, "is still running"},
		{finished(t, b.st, b.ref, store.ActionMakePrivate, store.ActionDone), 409, "removed no grant"},
		{999, 404, "action 999"},
	}
	for _, c := range cases {
		code, body := b.do(t, "POST", fmt.Sprintf("/api/v1/actions/%d/undo", c.id), adminTok, "")
		require.Equal(t, c.code, code, string(body))
		require.Contains(t, string(body), c.msg)
	}
	// A failed action may have removed some grants before it stopped: those come back too.
	failed := finished(t, b.st, b.ref, store.ActionRemoveExternalAccess, store.ActionFailed, anyoneLink)
	code, body := b.do(t, "POST", fmt.Sprintf("/api/v1/actions/%d/undo", failed), adminTok, "")
	require.Equal(t, 202, code, string(body))
	require.Len(t, u.calls, 1)
	u.calls = nil

	code, _ = b.do(t, "POST", "/api/v1/actions/x/undo", adminTok, "")
	require.Equal(t, 400, code)
	require.Empty(t, u.calls, "nothing reaches the gateway for a refused undo")

	plain := setup(t) // no sharing governance wired
	id := finished(t, plain.st, plain.ref, store.ActionRemovePublicLinks, store.ActionDone, anyoneLink)
	code, body = plain.do(t, "POST", fmt.Sprintf("/api/v1/actions/%d/undo", id), adminTok, "")
	require.Equal(t, 501, code)
	require.Contains(t, string(body), "not available")
}

// GET /labels shows each label's sharing protection: its own rule, or its parent's.
func TestLabelsShowSharingProtection(t *testing.T) {
	t.Parallel()
	b, _ := sharingSetup(t, config.ProtectionRules{{Label: "confidential", MaxAccess: "internal"}})
	ctx := context.Background()
	_, err := b.st.SyncLabels(ctx, connectors.AppBox, "acme", []connectors.Label{{ID: "L1", Name: "Confidential"},
		{ID: "L2", Name: "Finance", Parent: "L1"}, {ID: "L3", Name: "Public"}})
	require.NoError(t, err)
	code, body := b.do(t, "GET", "/api/v1/labels", viewerTok, "")
	require.Equal(t, 200, code)
	var v struct {
		Items []struct {
			ID         string
			Protection bool
			Sharing    *config.LabelProtection
		}
	}
	require.NoError(t, json.Unmarshal(body, &v))
	got := map[string]*config.LabelProtection{}
	for _, l := range v.Items {
		got[l.ID] = l.Sharing
	}
	require.Equal(t, &config.LabelProtection{Rule: "confidential", MaxAccess: "internal", Action: "removeExternalAccess",
		PolicyID: "label-protection-confidential"}, got["L1"])
	require.NotNil(t, got["L2"])
	require.True(t, got["L2"].Inherited)
	require.Nil(t, got["L3"])
	require.NotContains(t, string(body), `"sharing": null`, "absent, not null, for a label no rule covers")
}

// The file view lists the grants sharing actions removed, and their restoration.
func TestFileViewListsSharingChanges(t *testing.T) {
	t.Parallel()
	b, _ := sharingSetup(t, nil)
	id := finished(t, b.st, b.ref, store.ActionRemovePublicLinks, store.ActionDone, anyoneLink)
	code, body := b.do(t, "GET", "/api/v1/files/"+admin.FileID(b.ref), viewerTok, "")
	require.Equal(t, 200, code)
	var v struct {
		SharingChanges []store.SharingChange `json:"sharingChanges"`
	}
	require.NoError(t, json.Unmarshal(body, &v))
	require.Len(t, v.SharingChanges, 1)
	require.Equal(t, id, v.SharingChanges[0].ActionID)
	require.Equal(t, "https://app.box.example/s/abc", v.SharingChanges[0].Permission.LinkURL)
}

// racingUndo is a gateway whose undo lost a race: another admin's undo restored everything
// between the API's check and this call, and the gateway refuses in its own words.
type racingUndo struct{ st *store.Store }

func (r racingUndo) Undo(ctx context.Context, id int64, _ string) (int64, error) {
	changes, err := r.st.SharingChanges(ctx, id)
	if err != nil {
		return 0, err
	}
	for _, c := range changes {
		if err := r.st.MarkSharingRestored(ctx, c.ID, 4242, "", ""); err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("everything action %d removed was restored already: action cannot be undone", id)
}

func (racingUndo) Permissions(context.Context, connectors.FileRef) ([]connectors.Permission, error) {
	return nil, nil
}

// A refusal by the gateway after the API's own check is still a 409 with the reason.
func TestUndoLostRaceIsConflict(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := httptest.NewServer(admin.New(admin.Config{Store: b.st, Sharing: racingUndo{b.st}, Tokens: []admin.Token{admin.NewToken("ops", admin.RoleAdmin, adminTok)}}))
	t.Cleanup(srv.Close)
	b.srv = srv
	id := finished(t, b.st, b.ref, store.ActionMakePrivate, store.ActionDone, anyoneLink)
	code, body := b.do(t, "POST", fmt.Sprintf("/api/v1/actions/%d/undo", id), adminTok, "")
	require.Equal(t, 409, code, string(body))
	require.Contains(t, string(body), "undone already (by action 4242)")
}
