package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
)

// storeUndo is the gateway's undo as the API sees it: a restore_sharing action in the store.
type storeUndo struct{ st *store.Store }

func (u storeUndo) Undo(ctx context.Context, id int64, by string) (int64, error) {
	a, err := u.st.GetAction(ctx, id)
	if err != nil {
		return 0, err
	}
	params, _ := json.Marshal(map[string]int64{"undo": id})
	nid, _, err := u.st.AddAction(ctx, store.Action{Key: fmt.Sprintf("undo|%d", id), Kind: store.ActionRestoreSharing, Ref: a.Ref, Params: params, RequestedBy: by})
	return nid, err
}

func (storeUndo) Permissions(context.Context, connectors.FileRef) ([]connectors.Permission, error) {
	return nil, nil
}

// TestCLISharingGovernance: `labels` shows each label's sharing protection and `actions
// undo` queues the undo of a finished sharing action, refusing others with the server's
// reason. It sets the process environment, so it cannot run in parallel.
func TestCLISharingGovernance(t *testing.T) {
	st := storetest.OpenSQLite(t)
	ctx := context.Background()
	ref := connectors.FileRef{App: connectors.AppBox, Tenant: "acme", Drive: "0", ItemID: "f1"}
	_, err := st.SyncLabels(ctx, connectors.AppBox, "acme", []connectors.Label{{ID: "L1", Name: "Confidential", Priority: 2},
		{ID: "L2", Name: "Finance", Parent: "L1", Priority: 3}, {ID: "L0", Name: "Public"}})
	require.NoError(t, err)
	api := admin.New(admin.Config{Store: st, Sharing: storeUndo{st}, Tokens: []admin.Token{admin.NewToken("ops", admin.RoleAdmin, cliAdminToken)},
		Protection: config.ProtectionRules{{Label: "Confidential", MaxAccess: "internal"}}})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	t.Setenv("LABELGATE_TOKEN", cliAdminToken)
	t.Setenv("LABELGATE_SERVER", srv.URL)

	r := runCLI(t, "labels")
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, "MAX ACCESS")
	require.Regexp(t, `(?m)^box\s+L1\s+Confidential\s+2\s+false\s+enabled\s+internal\s+removeExternalAccess\s*$`, r.stdout)
	require.Regexp(t, `(?m)^box\s+L2\s+Finance\s+.*internal\s+removeExternalAccess \(parent's rule\)\s*$`, r.stdout)
	require.Regexp(t, `(?m)^box\s+L0\s+Public\s+.*enabled\s+-\s+-\s*$`, r.stdout)
	r = runCLI(t, "labels", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, `"MaxAccess": "internal"`)

	id, _, err := st.AddAction(ctx, store.Action{Key: "share", Kind: store.ActionRemovePublicLinks, Ref: ref})
	require.NoError(t, err)
	_, err = st.SetActionState(ctx, id, "", store.ActionDone, "")
	require.NoError(t, err)
	require.NoError(t, st.RecordSharingRemoval(ctx, id, ref, connectors.Permission{ID: "shared_link", Kind: connectors.GrantLink, LinkScope: "open"}))

	r = runCLI(t, "actions", "undo", fmt.Sprint(id))
	require.Zero(t, r.code, r.stderr)
	m := regexp.MustCompile(`action (\d+) queued to undo action (\d+)`).FindStringSubmatch(r.stdout)
	require.NotNil(t, m, r.stdout)
	require.Equal(t, fmt.Sprint(id), m[2])
	require.Contains(t, r.stdout, "new URL")
	restore, err := st.ListActions(ctx, store.ActionFilter{Kind: store.ActionRestoreSharing})
	require.NoError(t, err)
	require.Len(t, restore, 1)
	require.Equal(t, m[1], fmt.Sprint(restore[0].ID))
	require.Equal(t, "admin:ops", restore[0].RequestedBy)

	// Again while the first undo is queued: the server's reason, exit 1.
	r = runCLI(t, "actions", "undo", fmt.Sprint(id), "-o", "json")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "409")
	require.Contains(t, r.stderr, "being undone already")

	lbl, _, err := st.AddAction(ctx, store.Action{Key: "lbl", Kind: store.ActionApplyLabel, Ref: ref, LabelID: "L1"})
	require.NoError(t, err)
	r = runCLI(t, "actions", "undo", fmt.Sprint(lbl))
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, "not a sharing action")
	r = runCLI(t, "actions", "undo", "latest")
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "not an action id")
}
