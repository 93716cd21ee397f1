package gdrive_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/gdrive/emulator"
)

func grant(t *testing.T, ps []connectors.Permission, match func(connectors.Permission) bool) connectors.Permission {
	t.Helper()
	for _, p := range ps {
		if match(p) {
			return p
		}
	}
	require.Failf(t, "no such grant", "%+v", ps)
	return connectors.Permission{}
}

func TestPermissionsKindsAndAccess(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ps, err := f.c.Permissions(f.ctx, ref(aliceDrv, "f-external"))
	require.NoError(t, err)
	require.Len(t, ps, 4)
	owner := grant(t, ps, func(p connectors.Permission) bool { return p.Owner })
	require.Equal(t, alice, owner.Email)
	require.Equal(t, connectors.GrantUser, owner.Kind)
	require.Equal(t, connectors.AccessPrivate, owner.Access)
	carol := grant(t, ps, func(p connectors.Permission) bool { return p.Email == "carol@partner.org" })
	require.Equal(t, connectors.GrantUser, carol.Kind)
	require.Equal(t, "writer", carol.Role)
	require.Equal(t, "partner.org", carol.Domain)
	require.Equal(t, connectors.AccessExternal, carol.Access)
	require.False(t, carol.Inherited)
	team := grant(t, ps, func(p connectors.Permission) bool { return p.Email == "team@vendor.io" })
	require.Equal(t, connectors.GrantGroup, team.Kind)
	require.Equal(t, connectors.AccessExternal, team.Access)
	dom := grant(t, ps, func(p connectors.Permission) bool { return p.Kind == connectors.GrantDomain })
	require.Equal(t, "example.com", dom.Domain)
	require.Equal(t, connectors.AccessInternal, dom.Access)

	ps, err = f.c.Permissions(f.ctx, ref(aliceDrv, "f-public"))
	require.NoError(t, err)
	anyone := grant(t, ps, func(p connectors.Permission) bool { return p.Kind == connectors.GrantAnyone })
	require.Equal(t, connectors.AccessPublic, anyone.Access)
	require.Equal(t, "anyone", anyone.LinkScope)
	require.Equal(t, "anyoneWithLink", anyone.ID)

	// A grant a folder passes down is marked, and not removed from the file.
	require.NoError(t, f.em.AddPermission("f-private", emulator.Permission{Type: "user", Role: "reader",
		Email: "eve@partner.org", InheritedFrom: "fold-q3"}))
	ps, err = f.c.Permissions(f.ctx, ref(aliceDrv, "f-private"))
	require.NoError(t, err)
	eve := grant(t, ps, func(p connectors.Permission) bool { return p.Email == "eve@partner.org" })
	require.True(t, eve.Inherited)
	require.Equal(t, connectors.AccessExternal, eve.Access)
	err = f.c.RemovePermission(f.ctx, ref(aliceDrv, "f-private"), eve)
	require.Equal(t, connectors.KindInvalid, connectors.KindOf(err), "%v", err)

	_, err = f.c.Permissions(f.ctx, ref(aliceDrv, "no-such-file"))
	require.Equal(t, connectors.KindNotFound, connectors.KindOf(err))
}

func TestRemoveAnyoneNarrowsAccessAndRestores(t *testing.T) {
	t.Parallel()
	f := setup(t)
	doc := ref(aliceDrv, "f-public")
	st, err := f.c.Stat(f.ctx, doc)
	require.NoError(t, err)
	require.Equal(t, connectors.AccessPublic, st.Access)
	ps, err := f.c.Permissions(f.ctx, doc)
	require.NoError(t, err)
	anyone := grant(t, ps, func(p connectors.Permission) bool { return p.Kind == connectors.GrantAnyone })

	require.NoError(t, f.c.RemovePermission(f.ctx, doc, anyone))
	st, err = f.c.Stat(f.ctx, doc)
	require.NoError(t, err)
	require.Equal(t, connectors.AccessExternal, st.Access, "dave@partner.org still has it")
	require.NoError(t, f.c.RemovePermission(f.ctx, doc, anyone), "a permission already gone is done")
	require.Equal(t, 1, f.em.GrantRemovals(doc.ItemID), "the second removal found it gone and removed nothing")

	back, err := f.c.RestorePermission(f.ctx, doc, anyone)
	require.NoError(t, err)
	require.Equal(t, connectors.GrantAnyone, back.Kind)
	require.Equal(t, "reader", back.Role)
	require.Equal(t, connectors.AccessPublic, back.Access)
	st, err = f.c.Stat(f.ctx, doc)
	require.NoError(t, err)
	require.Equal(t, connectors.AccessPublic, st.Access)
}

func TestRemoveExternalGrantsLeavesInternal(t *testing.T) {
	t.Parallel()
	f := setup(t)
	doc := ref(aliceDrv, "f-external")
	expires := f.clock.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
	require.NoError(t, f.em.AddPermission("f-external", emulator.Permission{Type: "user", Role: "commenter",
		Email: "temp@contractor.net", Expiration: expires}))
	ps, err := f.c.Permissions(f.ctx, doc)
	require.NoError(t, err)
	var removed []connectors.Permission
	for _, p := range ps {
		if p.Access.Rank() > connectors.AccessInternal.Rank() {
			require.NoError(t, f.c.RemovePermission(f.ctx, doc, p))
			removed = append(removed, p)
		}
	}
	require.Len(t, removed, 3)
	st, err := f.c.Stat(f.ctx, doc)
	require.NoError(t, err)
	require.Equal(t, connectors.AccessInternal, st.Access)
	require.Empty(t, st.Domains)

	for _, p := range removed {
		back, err := f.c.RestorePermission(f.ctx, doc, p)
		require.NoError(t, err)
		require.Equal(t, p.ID, back.ID, "Drive's permission id names the grantee")
		require.Equal(t, p.Role, back.Role)
		require.True(t, p.Expires.Equal(back.Expires), "%s: %s vs %s", p.Email, p.Expires, back.Expires)
	}
	st, err = f.c.Stat(f.ctx, doc)
	require.NoError(t, err)
	require.Equal(t, connectors.AccessExternal, st.Access)
	require.Equal(t, []string{"contractor.net", "partner.org", "vendor.io"}, st.Domains)

	// An expired grant is not granted again.
	gone := removed[0]
	gone.Expires = f.clock.Now().Add(-time.Hour)
	_, err = f.c.RestorePermission(f.ctx, doc, gone)
	require.Equal(t, connectors.KindInvalid, connectors.KindOf(err))
}

func TestOwnerPermissionRefused(t *testing.T) {
	t.Parallel()
	f := setup(t)
	doc := ref(aliceDrv, "f-team")
	ps, err := f.c.Permissions(f.ctx, doc)
	require.NoError(t, err)
	owner := grant(t, ps, func(p connectors.Permission) bool { return p.Owner })
	err = f.c.RemovePermission(f.ctx, doc, owner)
	require.Equal(t, connectors.KindInvalid, connectors.KindOf(err), "Drive's 403 cannotRemoveOwner: %v", err)
	ps, err = f.c.Permissions(f.ctx, doc)
	require.NoError(t, err)
	require.Len(t, ps, 2)
}

func TestSharedDriveSharing(t *testing.T) {
	t.Parallel()
	f := setup(t)
	doc := ref(finance, "f-budget")
	require.NoError(t, f.em.AddPermission("f-budget", emulator.Permission{Type: "domain", Role: "reader", Domain: "partner.org", AllowFileDiscovery: true}))
	ps, err := f.c.Permissions(f.ctx, doc)
	require.NoError(t, err)
	require.Len(t, ps, 1)
	require.Equal(t, connectors.AccessExternal, ps[0].Access)
	require.NoError(t, f.c.RemovePermission(f.ctx, doc, ps[0]))
	st, err := f.c.Stat(f.ctx, doc)
	require.NoError(t, err)
	require.Equal(t, connectors.AccessPrivate, st.Access)
	back, err := f.c.RestorePermission(f.ctx, doc, ps[0])
	require.NoError(t, err)
	require.Equal(t, connectors.GrantDomain, back.Kind)
	got, err := f.em.Permissions("f-budget")
	require.NoError(t, err)
	require.True(t, got[0].AllowFileDiscovery, "discoverability restored")
}

func TestSharingCallsThrottled(t *testing.T) {
	t.Parallel()
	f := setup(t)
	doc := ref(aliceDrv, "f-public")
	// Drive calls are paced, not retried inline: a 429 comes back typed with Google's wait for
	// the queue, and the next try goes through.
	f.em.FailNext(emulator.Fault{Status: 429, RetryAfter: "3", Match: "GET /drive/v3/files/f-public/permissions"})
	_, err := f.c.Permissions(f.ctx, doc)
	require.Equal(t, connectors.KindThrottled, connectors.KindOf(err), "%v", err)
	wait, _ := connectors.RetryAfter(err)
	require.Equal(t, 3*time.Second, wait)
	require.True(t, connectors.Retryable(err))
	ps, err := f.c.Permissions(f.ctx, doc)
	require.NoError(t, err)
	anyone := grant(t, ps, func(p connectors.Permission) bool { return p.Kind == connectors.GrantAnyone })

	f.em.FailNext(emulator.Fault{Status: 403, Reason: "userRateLimitExceeded", Match: "DELETE /drive/v3/files/f-public/permissions/"})
	err = f.c.RemovePermission(f.ctx, doc, anyone)
	require.Equal(t, connectors.KindThrottled, connectors.KindOf(err), "%v", err)
	require.NoError(t, f.c.RemovePermission(f.ctx, doc, anyone))

	f.em.FailNext(emulator.Fault{Status: 429, RetryAfter: "1", Match: "POST /drive/v3/files/f-public/permissions"})
	_, err = f.c.RestorePermission(f.ctx, doc, anyone)
	require.Equal(t, connectors.KindThrottled, connectors.KindOf(err), "%v", err)
	_, err = f.c.RestorePermission(f.ctx, doc, anyone)
	require.NoError(t, err)
}

func TestSharingChangesAreInTheFeed(t *testing.T) {
	t.Parallel()
	f := setup(t)
	cur, err := f.c.Changes(f.ctx, aliceDrv, "", func(connectors.File) error { return nil })
	require.NoError(t, err)
	doc := ref(aliceDrv, "f-public")
	ps, err := f.c.Permissions(f.ctx, doc)
	require.NoError(t, err)
	for _, p := range ps {
		if p.Access == connectors.AccessPublic || p.Access == connectors.AccessExternal {
			require.NoError(t, f.c.RemovePermission(f.ctx, doc, p))
		}
	}
	var got []connectors.File
	_, err = f.c.Changes(f.ctx, aliceDrv, cur, func(x connectors.File) error { got = append(got, x); return nil })
	require.NoError(t, err)
	require.NotEmpty(t, got)
	last := got[len(got)-1]
	require.Equal(t, "f-public", last.Ref.ItemID)
	require.Equal(t, connectors.AccessPrivate, last.Access)
}

// TestGrantsAccountForFileAccess holds, for every file of alice's drive and the shared drive,
// that the file's access is the widest of its grants', and that removing every grant above a
// level (not inherited, not the owner's) leaves the file at most that level, or at the widest
// inherited grant it keeps.
func TestGrantsAccountForFileAccess(t *testing.T) {
	t.Parallel()
	f := setup(t)
	require.NoError(t, f.em.AddPermission("f-internal", emulator.Permission{Type: "group", Role: "reader",
		Email: "auditors@partner.org", InheritedFrom: "fold-proj"}))
	n := 0
	for _, drv := range []string{aliceDrv, finance} {
		for _, file := range f.walk(t, drv) {
			n++
			ps, err := f.c.Permissions(f.ctx, file.Ref)
			require.NoError(t, err)
			widest := connectors.AccessPrivate
			for _, p := range ps {
				if p.Access.Rank() > widest.Rank() {
					widest = p.Access
				}
			}
			require.Equal(t, file.Access, widest, "%s: %+v", file.Name, ps)
			for _, level := range []connectors.AccessLevel{connectors.AccessExternal, connectors.AccessInternal, connectors.AccessPrivate} {
				ps, err := f.c.Permissions(f.ctx, file.Ref)
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
						require.NoError(t, f.c.RemovePermission(f.ctx, file.Ref, p))
					}
				}
				st, err := f.c.Stat(f.ctx, file.Ref)
				require.NoError(t, err)
				require.LessOrEqual(t, st.Access.Rank(), bound.Rank(), "%s at %s", file.Name, level)
			}
		}
	}
	require.Greater(t, n, 5)
}
