package graph_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/graph"
	"github.com/labelgate/labelgate/connectors/graph/emulator"
)

// sharingSetup is a tenant with the test manifest and the file ids by path.
func sharingSetup(t *testing.T) (*env, map[string]connectors.File) {
	t.Helper()
	e := setup(t, emulator.Options{Manifest: manifest(t), ClientID: "app", ClientSecret: "secret"})
	files := walk(t, e.sp, "b!hr-docs")
	for k, v := range walk(t, e.od, "b!od-adele") {
		files["od:"+k] = v
	}
	return e, files
}

func find(t *testing.T, ps []connectors.Permission, match func(connectors.Permission) bool) connectors.Permission {
	t.Helper()
	for _, p := range ps {
		if match(p) {
			return p
		}
	}
	require.Failf(t, "no such grant", "%+v", ps)
	return connectors.Permission{}
}

func TestPermissionsMapGrants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, files := sharingSetup(t)

	ps, err := e.sp.Permissions(ctx, files["/Public/Brochure.pdf"].Ref)
	require.NoError(t, err)
	require.Len(t, ps, 2)
	owner := find(t, ps, func(p connectors.Permission) bool { return p.Owner })
	require.Equal(t, "owner", owner.Role)
	require.Equal(t, connectors.AccessPrivate, owner.Access)
	anon := find(t, ps, func(p connectors.Permission) bool { return p.Kind == connectors.GrantLink })
	require.Equal(t, "anonymous", anon.LinkScope)
	require.Equal(t, connectors.AccessPublic, anon.Access)
	require.NotEmpty(t, anon.LinkURL)

	ps, err = e.sp.Permissions(ctx, files["/Partners/Contract.docx"].Ref)
	require.NoError(t, err)
	guest := find(t, ps, func(p connectors.Permission) bool { return p.Email == "lee@fabrikam.com" })
	require.Equal(t, connectors.GrantUser, guest.Kind)
	require.Equal(t, "fabrikam.com", guest.Domain)
	require.Equal(t, connectors.AccessExternal, guest.Access)

	ps, err = e.sp.Permissions(ctx, files["/Org/Chart.pptx"].Ref)
	require.NoError(t, err)
	org := find(t, ps, func(p connectors.Permission) bool { return p.Kind == connectors.GrantLink })
	require.Equal(t, connectors.AccessInternal, org.Access)

	ps, err = e.od.Permissions(ctx, files["od:/Drafts/Plan.docx"].Ref)
	require.NoError(t, err)
	people := find(t, ps, func(p connectors.Permission) bool { return p.Kind == connectors.GrantLink })
	require.Equal(t, "users", people.LinkScope)
	require.Equal(t, "partner@fabrikam.com", people.Email)
	require.Equal(t, connectors.AccessExternal, people.Access)

	// A grant from the parent folder is marked and left alone.
	sal := files["/Policies/Salaries 2026.xlsx"].Ref
	require.NoError(t, e.emu.AddShare(sal.ItemID, emulator.Share{Email: "auditor@fabrikam.com", Guest: true, InheritedFrom: "folder-policies"}))
	ps, err = e.sp.Permissions(ctx, sal)
	require.NoError(t, err)
	inh := find(t, ps, func(p connectors.Permission) bool { return p.Email == "auditor@fabrikam.com" })
	require.True(t, inh.Inherited)
	require.Equal(t, connectors.AccessExternal, inh.Access)
	err = e.sp.RemovePermission(ctx, sal, inh)
	require.Equal(t, connectors.KindInvalid, connectors.KindOf(err), "%v", err)
}

func TestRemoveAnonymousLinkAndRestore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, files := sharingSetup(t)
	ref := files["/Public/Brochure.pdf"].Ref
	ps, err := e.sp.Permissions(ctx, ref)
	require.NoError(t, err)
	anon := find(t, ps, func(p connectors.Permission) bool { return p.Kind == connectors.GrantLink })

	require.NoError(t, e.sp.RemovePermission(ctx, ref, anon))
	st, err := e.sp.Stat(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, connectors.AccessPrivate, st.Access)
	require.NoError(t, e.sp.RemovePermission(ctx, ref, anon), "404 for a grant already gone is done")
	require.Equal(t, 1, e.emu.GrantRemovals(ref.ItemID), "the second removal found it gone and removed nothing")
	left, err := e.emu.Shares(ref.ItemID)
	require.NoError(t, err)
	require.Empty(t, left)

	back, err := e.sp.RestorePermission(ctx, ref, anon)
	require.NoError(t, err)
	require.Equal(t, connectors.GrantLink, back.Kind)
	require.Equal(t, "anonymous", back.LinkScope)
	require.Equal(t, connectors.AccessPublic, back.Access)
	require.NotEqual(t, anon.ID, back.ID)
	require.NotEqual(t, anon.LinkURL, back.LinkURL, "a recreated link has a new address")
	st, err = e.sp.Stat(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, connectors.AccessPublic, st.Access)

	// Asking again returns the link that exists (createLink's 200), not a second one.
	again, err := e.sp.RestorePermission(ctx, ref, anon)
	require.NoError(t, err)
	require.Equal(t, back.ID, again.ID)
}

func TestRemoveExternalGrantsAndReinvite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, files := sharingSetup(t)
	ref := files["/Policies/Salaries 2026.xlsx"].Ref
	exp := time.Now().Add(72 * time.Hour).UTC().Truncate(time.Second)
	require.NoError(t, e.emu.AddShare(ref.ItemID, emulator.Share{Email: "lee@fabrikam.com", Guest: true, Role: "write", Expires: exp}))
	require.NoError(t, e.emu.AddShare(ref.ItemID, emulator.Share{Link: "users", Email: "partner@fabrikam.com"}))
	st, err := e.sp.Stat(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, connectors.AccessExternal, st.Access)

	ps, err := e.sp.Permissions(ctx, ref)
	require.NoError(t, err)
	var removed []connectors.Permission
	for _, p := range ps {
		if p.Access.Rank() > connectors.AccessInternal.Rank() {
			require.NoError(t, e.sp.RemovePermission(ctx, ref, p))
			removed = append(removed, p)
		}
	}
	require.Len(t, removed, 2)
	st, err = e.sp.Stat(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, connectors.AccessPrivate, st.Access, "bob@contoso.com is inside the tenant")
	require.Equal(t, []string{"contoso.com"}, st.Domains)

	for _, p := range removed {
		back, err := e.sp.RestorePermission(ctx, ref, p)
		require.NoError(t, err)
		require.NotEqual(t, p.ID, back.ID)
		require.Equal(t, p.Kind, back.Kind)
		require.Equal(t, p.Email, back.Email)
		require.Equal(t, p.Role, back.Role)
		require.True(t, p.Expires.Equal(back.Expires), "%s vs %s", p.Expires, back.Expires)
	}
	st, err = e.sp.Stat(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, connectors.AccessExternal, st.Access)

	// A guest the tenant has never had cannot be invited by an app (driveitem-invite).
	_, err = e.sp.RestorePermission(ctx, ref, connectors.Permission{Kind: connectors.GrantUser, Email: "new@unknown.example", Role: "read"})
	require.Equal(t, connectors.KindInvalid, connectors.KindOf(err), "%v", err)
}

func TestOwnerGrantRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, files := sharingSetup(t)
	ref := files["/Org/Chart.pptx"].Ref
	ps, err := e.sp.Permissions(ctx, ref)
	require.NoError(t, err)
	owner := find(t, ps, func(p connectors.Permission) bool { return p.Owner })
	err = e.sp.RemovePermission(ctx, ref, owner)
	require.Equal(t, connectors.KindPermission, connectors.KindOf(err), "Graph's 403: %v", err)
	_, err = e.sp.RestorePermission(ctx, ref, owner)
	require.Equal(t, connectors.KindInvalid, connectors.KindOf(err))
}

func TestSharingWritesNeedWriteRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, files := sharingSetup(t)
	ref := files["/Public/Brochure.pdf"].Ref
	ps, err := e.sp.Permissions(ctx, ref)
	require.NoError(t, err)
	anon := find(t, ps, func(p connectors.Permission) bool { return p.Kind == connectors.GrantLink })
	e.emu.SetRoles(emulator.RoleSitesRead, emulator.RoleFilesRead)
	ro, err := graph.NewSharePoint(graph.Config{TenantID: e.emu.TenantID(), BaseURL: e.emu.GraphURL(), AuthURL: e.emu.URL(),
		ClientID: "app", ClientSecret: "secret", Domains: []string{"contoso.com"}})
	require.NoError(t, err)
	_, err = ro.Permissions(ctx, ref)
	require.NoError(t, err, "listing is a read")
	err = ro.RemovePermission(ctx, ref, anon)
	require.Equal(t, connectors.KindPermission, connectors.KindOf(err), "%v", err)
	_, err = ro.RestorePermission(ctx, ref, anon)
	require.Equal(t, connectors.KindPermission, connectors.KindOf(err), "%v", err)
}

func TestSharingThrottledIsTyped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, files := sharingSetup(t)
	ref := files["/Public/Brochure.pdf"].Ref
	base := "/v1.0/drives/b!hr-docs/items/" + ref.ItemID
	e.emu.FailNext(base+"/permissions", 429, 4*time.Second, 1)
	_, err := e.sp.Permissions(ctx, ref)
	require.Equal(t, connectors.KindThrottled, connectors.KindOf(err), "%v", err)
	ra, _ := connectors.RetryAfter(err)
	require.Equal(t, 4*time.Second, ra)
	ps, err := e.sp.Permissions(ctx, ref)
	require.NoError(t, err)
	anon := find(t, ps, func(p connectors.Permission) bool { return p.Kind == connectors.GrantLink })

	e.emu.FailNext(base+"/permissions/", 429, 2*time.Second, 1)
	err = e.sp.RemovePermission(ctx, ref, anon)
	require.Equal(t, connectors.KindThrottled, connectors.KindOf(err), "%v", err)
	require.NoError(t, e.sp.RemovePermission(ctx, ref, anon))

	e.emu.FailNext(base+"/createLink", 503, 3*time.Second, 1)
	_, err = e.sp.RestorePermission(ctx, ref, anon)
	require.Equal(t, connectors.KindThrottled, connectors.KindOf(err), "%v", err)
	_, err = e.sp.RestorePermission(ctx, ref, anon)
	require.NoError(t, err)
}

func TestSharingChangeShowsInDelta(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, files := sharingSetup(t)
	cur, err := e.sp.Changes(ctx, "b!hr-docs", "", func(connectors.File) error { return nil })
	require.NoError(t, err)
	ref := files["/Partners/Contract.docx"].Ref
	ps, err := e.sp.Permissions(ctx, ref)
	require.NoError(t, err)
	guest := find(t, ps, func(p connectors.Permission) bool { return p.Email == "lee@fabrikam.com" })
	require.NoError(t, e.sp.RemovePermission(ctx, ref, guest))
	var got []connectors.File
	_, err = e.sp.Changes(ctx, "b!hr-docs", cur, func(f connectors.File) error { got = append(got, f); return nil })
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, ref.ItemID, got[0].Ref.ItemID)
	require.Equal(t, connectors.AccessPrivate, got[0].Access)
}

// TestGrantsAccountForFileAccess holds, for every labelable file of both apps, that the file's
// access is the widest of its grants', and that removing every grant above a level (not
// inherited, not the owner's) leaves the file at most that level, or at the widest inherited
// grant it keeps.
func TestGrantsAccountForFileAccess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e, files := sharingSetup(t)
	require.NoError(t, e.emu.AddShare(files["/Org/Chart.pptx"].Ref.ItemID, emulator.Share{Link: "anonymous", InheritedFrom: "folder-org"}))
	require.NoError(t, e.emu.AddShare(files["/Policies/Handbook.docx"].Ref.ItemID, emulator.Share{Email: "lee@fabrikam.com", Guest: true}))
	n := 0
	for _, file := range files {
		conn := e.sp
		if file.Ref.App == connectors.AppOneDrive {
			conn = e.od
		}
		st, err := conn.Stat(ctx, file.Ref)
		require.NoError(t, err)
		if st.Access == "" {
			continue // not labelable: the connector reads no sharing for it
		}
		n++
		ps, err := conn.Permissions(ctx, file.Ref)
		require.NoError(t, err)
		widest := connectors.AccessPrivate
		for _, p := range ps {
			if p.Access.Rank() > widest.Rank() {
				widest = p.Access
			}
		}
		require.Equal(t, st.Access, widest, "%s: %+v", file.Name, ps)
		for _, level := range []connectors.AccessLevel{connectors.AccessExternal, connectors.AccessInternal, connectors.AccessPrivate} {
			ps, err := conn.Permissions(ctx, file.Ref)
			require.NoError(t, err)
			bound := level
			for _, p := range ps {
				switch {
				case p.Access.Rank() <= level.Rank():
				case p.Inherited || p.Owner:
					if p.Access.Rank() > bound.Rank() {
						bound = p.Access
					}
				default:
					require.NoError(t, conn.RemovePermission(ctx, file.Ref, p))
				}
			}
			st, err := conn.Stat(ctx, file.Ref)
			require.NoError(t, err)
			require.LessOrEqual(t, st.Access.Rank(), bound.Rank(), "%s at %s", file.Name, level)
		}
	}
	require.Greater(t, n, 5)
}
