package console_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/console"
	"github.com/labelgate/labelgate/internal/store"
)

// providerSharing is a file's grants as a provider would list them, and the gateway's undo
// as a restore_sharing action recorded in the store.
type providerSharing struct {
	st    *store.Store
	perms []connectors.Permission
	err   error
	mu    sync.Mutex
	undos []string
}

func (p *providerSharing) Permissions(context.Context, connectors.FileRef) ([]connectors.Permission, error) {
	return p.perms, p.err
}

func (p *providerSharing) Undo(ctx context.Context, id int64, by string) (int64, error) {
	p.mu.Lock()
	p.undos = append(p.undos, fmt.Sprintf("%d by %s", id, by))
	p.mu.Unlock()
	a, err := p.st.GetAction(ctx, id)
	if err != nil {
		return 0, err
	}
	params, _ := json.Marshal(map[string]int64{"undo": id})
	nid, _, err := p.st.AddAction(ctx, store.Action{Key: fmt.Sprintf("undo|%d", id), Kind: store.ActionRestoreSharing, Ref: a.Ref, Params: params, RequestedBy: by})
	return nid, err
}

const xss = `<script>alert(1)</script>`

func sharingConsole(t *testing.T, ps *providerSharing, rules config.ProtectionRules) *bundle {
	t.Helper()
	b := setup(t)
	ps.st = b.st
	c, err := console.New(console.Config{Store: b.st, Sharing: ps, Protection: rules, Tokens: []admin.Token{
		admin.NewToken("ops", admin.RoleAdmin, "admin-token-0123456789"), admin.NewToken("audit", admin.RoleViewer, "viewer-token-0123456789")}})
	require.NoError(t, err)
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	b.srv = srv
	return b
}

// sharingDone records a finished sharing action on the bundle's file and the grants it removed.
func sharingDone(t *testing.T, b *bundle, removed ...connectors.Permission) int64 {
	t.Helper()
	ctx := context.Background()
	id, _, err := b.st.AddAction(ctx, store.Action{Key: fmt.Sprintf("share|%d", len(removed)), Kind: store.ActionRemovePublicLinks, Ref: b.ref, PolicyID: "confidential-public"})
	require.NoError(t, err)
	_, err = b.st.SetActionState(ctx, id, "", store.ActionDone, "")
	require.NoError(t, err)
	for _, p := range removed {
		require.NoError(t, b.st.RecordSharingRemoval(ctx, id, b.ref, p))
	}
	return id
}

func TestDrawerShowsLivePermissionsEscaped(t *testing.T) {
	t.Parallel()
	ps := &providerSharing{perms: []connectors.Permission{
		{ID: "o", Kind: connectors.GrantUser, Role: "owner", Email: "ann@acme.com", Access: connectors.AccessInternal, Owner: true},
		{ID: "x", Kind: connectors.GrantUser, Role: "editor", Email: xss + "@evil.example", Access: connectors.AccessExternal},
		{ID: "f", Kind: connectors.GrantUser, Role: "viewer", Email: "team@acme.com", Access: connectors.AccessInternal, Inherited: true},
		{ID: "shared_link", Kind: connectors.GrantLink, LinkScope: "open", LinkURL: "https://box.example/s/" + xss, Access: connectors.AccessPublic},
	}}
	b := sharingConsole(t, ps, nil)
	c := login(t, b, "viewer-token-0123456789")
	code, body := get(t, c, b.srv.URL+"/console/file?partial=1&id="+admin.FileID(b.ref))
	require.Equal(t, 200, code)
	require.Contains(t, body, `id="drawer-perms"`)
	require.Contains(t, body, "owner (never removed)")
	require.Contains(t, body, "inherited from a parent folder or site")
	require.Contains(t, body, "open link")
	require.NotContains(t, body, xss, "provider strings are escaped")
	require.Contains(t, body, "&lt;script&gt;alert(1)&lt;/script&gt;@evil.example")
}

func TestDrawerProviderErrorIsAMessage(t *testing.T) {
	t.Parallel()
	ps := &providerSharing{err: errors.New("box: 503 " + xss)}
	b := sharingConsole(t, ps, nil)
	c := login(t, b, "viewer-token-0123456789")
	code, body := get(t, c, b.srv.URL+"/console/file?partial=1&id="+admin.FileID(b.ref))
	require.Equal(t, 200, code, "the drawer still renders")
	require.Contains(t, body, `id="drawer-perms-error"`)
	require.Contains(t, body, "could not be read from box now")
	require.NotContains(t, body, xss)
	require.Contains(t, body, "File discovered", "the rest of the drawer is there")
}

// A file share has no sharing to list: a plain note, not an error.
func TestDrawerFileShareHasNoPermissions(t *testing.T) {
	t.Parallel()
	b := sharingConsole(t, &providerSharing{err: fmt.Errorf("shares (fileshare) has no sharing labelgate can list: %w", admin.ErrSharingUnavailable)}, nil)
	c := login(t, b, "viewer-token-0123456789")
	code, body := get(t, c, b.srv.URL+"/console/file?partial=1&id="+admin.FileID(b.ref))
	require.Equal(t, 200, code)
	require.Contains(t, body, `id="drawer-perms-note"`)
	require.NotContains(t, body, `id="drawer-perms-error"`)
}

func TestDrawerShowsSharingBeforeAfter(t *testing.T) {
	t.Parallel()
	b := sharingConsole(t, &providerSharing{}, nil)
	ctx := context.Background()
	link := connectors.Permission{ID: "shared_link", Kind: connectors.GrantLink, LinkScope: "open", LinkURL: "https://box.example/s/old", Access: connectors.AccessPublic}
	guest := connectors.Permission{ID: "c9", Kind: connectors.GrantUser, Role: "editor", Email: "bob@" + xss + ".example", Access: connectors.AccessExternal}
	id := sharingDone(t, b, link, guest)
	adm := login(t, b, "admin-token-0123456789")
	_, body := get(t, adm, b.srv.URL+"/console/file?partial=1&id="+admin.FileID(b.ref))
	require.Contains(t, body, `id="drawer-sharing-changes"`)
	require.Contains(t, body, fmt.Sprintf("Action #%d</b> remove_public_links", id))
	require.Contains(t, body, "was https://box.example/s/old")
	require.NotContains(t, body, xss)
	require.Contains(t, body, fmt.Sprintf(`id="drawer-undo-%d"`, id), "an admin may undo it")

	// Restored: the drawer says by which action, and what could not come back.
	changes, err := b.st.SharingChanges(ctx, id)
	require.NoError(t, err)
	for _, ch := range changes {
		require.NoError(t, b.st.MarkSharingRestored(ctx, ch.ID, 77, "new-"+ch.Permission.ID, map[string]string{"shared_link": "new link URL " + xss}[ch.Permission.ID]))
	}
	_, body = get(t, adm, b.srv.URL+"/console/file?partial=1&id="+admin.FileID(b.ref))
	require.Contains(t, body, "yes, by action #77")
	require.Contains(t, body, "as new-shared_link")
	require.Contains(t, body, "new link URL &lt;script&gt;")
	require.NotContains(t, body, fmt.Sprintf(`id="drawer-undo-%d"`, id), "nothing left to undo")

	viewer := login(t, b, "viewer-token-0123456789")
	_, body = get(t, viewer, b.srv.URL+"/console/file?partial=1&id="+admin.FileID(b.ref))
	require.NotContains(t, body, "drawer-undo-", "viewers get no undo button")
}

func TestUndoButtonNeedsAdminAndCSRF(t *testing.T) {
	t.Parallel()
	ps := &providerSharing{}
	b := sharingConsole(t, ps, nil)
	link := connectors.Permission{ID: "shared_link", Kind: connectors.GrantLink, LinkScope: "open", Access: connectors.AccessPublic}
	id := sharingDone(t, b, link)
	form := url.Values{"id": {fmt.Sprint(id)}}

	viewer := login(t, b, "viewer-token-0123456789")
	_, page := get(t, viewer, b.srv.URL+"/console/actions")
	require.NotContains(t, page, fmt.Sprintf(`id="undo-%d"`, id))
	resp, err := viewer.PostForm(b.srv.URL+"/console/actions/undo", form)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 403, resp.StatusCode)

	adm := login(t, b, "admin-token-0123456789")
	resp, err = adm.PostForm(b.srv.URL+"/console/actions/undo", url.Values{"id": {fmt.Sprint(id)}, "csrf": {"forged"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 403, resp.StatusCode, "a form without the session's CSRF token is refused")
	require.Empty(t, ps.undos)

	_, page = get(t, adm, b.srv.URL+"/console/actions")
	require.Contains(t, page, fmt.Sprintf(`id="undo-%d"`, id))
	m := csrfRe.FindStringSubmatch(page)
	require.NotNil(t, m)
	form.Set("csrf", m[1])
	resp, err = adm.PostForm(b.srv.URL+"/console/actions/undo", form)
	require.NoError(t, err)
	shown, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Contains(t, string(shown), fmt.Sprintf("queued to undo action %d", id))
	require.Equal(t, []string{fmt.Sprintf("%d by console:ops", id)}, ps.undos)
	require.NotContains(t, string(shown), fmt.Sprintf(`id="undo-%d"`, id), "no second undo while one is queued")

	// Again: refused with the reason, nothing queued.
	resp, err = adm.PostForm(b.srv.URL+"/console/actions/undo", form)
	require.NoError(t, err)
	shown, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(shown), "being undone already")
	require.Len(t, ps.undos, 1)

	// From the drawer, back to the drawer; a label action is not undoable.
	lid, _, err := b.st.AddAction(context.Background(), store.Action{Key: "lbl", Kind: store.ActionApplyLabel, Ref: b.ref, LabelID: "L1"})
	require.NoError(t, err)
	resp, err = adm.PostForm(b.srv.URL+"/console/actions/undo", url.Values{"id": {fmt.Sprint(lid)}, "csrf": {m[1]}, "file": {admin.FileID(b.ref)}})
	require.NoError(t, err)
	shown, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "/console/file", resp.Request.URL.Path)
	require.Contains(t, string(shown), "not a sharing action")
	resp, err = adm.PostForm(b.srv.URL+"/console/actions/undo", url.Values{"id": {fmt.Sprint(id)}, "csrf": {m[1]}, "file": {"<x>"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 400, resp.StatusCode)
}

func TestLabelsPageShowsProtection(t *testing.T) {
	t.Parallel()
	b := sharingConsole(t, &providerSharing{}, config.ProtectionRules{{Label: "Confidential", MaxAccess: "internal"}})
	_, err := b.st.SyncLabels(context.Background(), connectors.AppBox, "acme", []connectors.Label{{ID: "L1", Name: "Confidential", Priority: 2},
		{ID: "L2", Name: "Finance " + xss, Parent: "L1", Priority: 3}, {ID: "L0", Name: "Public"}})
	require.NoError(t, err)
	c := login(t, b, "viewer-token-0123456789")
	code, body := get(t, c, b.srv.URL+"/console/labels")
	require.Equal(t, 200, code)
	require.Regexp(t, `(?s)id="label-box-L1".*?<td class="max-access">internal</td><td class="sharing-action">removeExternalAccess</td>`, body)
	require.Regexp(t, `(?s)id="label-box-L2".*?<td class="max-access">internal</td>.*?\(parent's rule\)`, body)
	require.Regexp(t, `(?s)id="label-box-L0".*?<td class="max-access muted">`, body)
	require.NotContains(t, body, xss)
	require.True(t, strings.Contains(body, `href="/console/labels" class="on"`))
}
