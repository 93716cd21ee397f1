package box_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/box/emulator"
)

func permsByID(ps []connectors.Permission) map[string]connectors.Permission {
	m := map[string]connectors.Permission{}
	for _, p := range ps {
		m[p.ID] = p
	}
	return m
}

func permFor(t *testing.T, ps []connectors.Permission, match func(connectors.Permission) bool) connectors.Permission {
	t.Helper()
	for _, p := range ps {
		if match(p) {
			return p
		}
	}
	require.Failf(t, "no such grant", "%+v", ps)
	return connectors.Permission{}
}

func TestPermissionsListsLinkAndCollaborations(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()

	ps, err := f.conn.Permissions(ctx, ref("100", "1005")) // collaborators link, bob inside, mallory outside
	require.NoError(t, err)
	require.Len(t, ps, 3)
	link := permsByID(ps)["shared_link"]
	require.Equal(t, connectors.GrantLink, link.Kind)
	require.Equal(t, "collaborators", link.LinkScope)
	require.Equal(t, connectors.AccessPrivate, link.Access)
	require.NotEmpty(t, link.LinkURL)
	bob := permFor(t, ps, func(p connectors.Permission) bool { return p.Email == "bob@contoso.com" })
	require.Equal(t, connectors.GrantUser, bob.Kind)
	require.Equal(t, connectors.AccessInternal, bob.Access)
	require.Equal(t, "viewer", bob.Role)
	require.False(t, bob.Inherited)
	mallory := permFor(t, ps, func(p connectors.Permission) bool { return p.Email == "mallory@gmail.com" })
	require.Equal(t, connectors.AccessExternal, mallory.Access)
	require.Equal(t, "gmail.com", mallory.Domain)

	ps, err = f.conn.Permissions(ctx, ref("100", "1002")) // open link
	require.NoError(t, err)
	require.Len(t, ps, 1)
	require.Equal(t, connectors.AccessPublic, ps[0].Access)
	require.Equal(t, "open", ps[0].LinkScope)

	ps, err = f.conn.Permissions(ctx, ref("100", "1006")) // an enterprise group
	require.NoError(t, err)
	require.Len(t, ps, 1)
	require.Equal(t, connectors.GrantGroup, ps[0].Kind)
	require.Equal(t, connectors.AccessInternal, ps[0].Access)

	ps, err = f.conn.Permissions(ctx, ref("100", "1111")) // eve on grandparent folder 110
	require.NoError(t, err)
	require.Len(t, ps, 1)
	require.True(t, ps[0].Inherited)
	require.Equal(t, connectors.AccessExternal, ps[0].Access)
	err = f.conn.RemovePermission(ctx, ref("100", "1111"), ps[0])
	require.Equal(t, connectors.KindInvalid, connectors.KindOf(err), "an inherited grant belongs to the folder: %v", err)

	_, err = f.conn.Permissions(ctx, ref("100", "424242"))
	require.Equal(t, connectors.KindNotFound, connectors.KindOf(err))
}

func TestRemoveOpenLinkNarrowsAccess(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	doc := ref("100", "1002")
	st, err := f.conn.Stat(ctx, doc)
	require.NoError(t, err)
	require.Equal(t, connectors.AccessPublic, st.Access)
	ps, err := f.conn.Permissions(ctx, doc)
	require.NoError(t, err)
	link := ps[0]

	require.NoError(t, f.conn.RemovePermission(ctx, doc, link))
	st, err = f.conn.Stat(ctx, doc)
	require.NoError(t, err)
	require.Equal(t, connectors.AccessPrivate, st.Access)
	require.NoError(t, f.conn.RemovePermission(ctx, doc, link), "already gone is done")
	require.Equal(t, 1, f.emu.GrantRemovals(doc.ItemID), "the second removal found it gone and removed nothing")
	ps, err = f.conn.Permissions(ctx, doc)
	require.NoError(t, err)
	require.Empty(t, ps)

	// Restore: the link is back with its access, at a new URL.
	back, err := f.conn.RestorePermission(ctx, doc, link)
	require.NoError(t, err)
	require.Equal(t, "shared_link", back.ID)
	require.Equal(t, "open", back.LinkScope)
	require.Equal(t, connectors.AccessPublic, back.Access)
	require.NotEqual(t, link.LinkURL, back.LinkURL)
	st, err = f.conn.Stat(ctx, doc)
	require.NoError(t, err)
	require.Equal(t, connectors.AccessPublic, st.Access)
}

func TestRemoveExternalCollaborationLeavesInternal(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	doc := ref("100", "1005")
	ps, err := f.conn.Permissions(ctx, doc)
	require.NoError(t, err)
	var removed []connectors.Permission
	for _, p := range ps {
		if p.Access.Rank() > connectors.AccessInternal.Rank() {
			require.NoError(t, f.conn.RemovePermission(ctx, doc, p))
			removed = append(removed, p)
		}
	}
	require.Len(t, removed, 1)
	st, err := f.conn.Stat(ctx, doc)
	require.NoError(t, err)
	require.Equal(t, connectors.AccessInternal, st.Access)
	require.Equal(t, []string{"contoso.com"}, st.Domains)
	require.NoError(t, f.conn.RemovePermission(ctx, doc, removed[0]), "a deleted collaboration's 404 is success")

	back, err := f.conn.RestorePermission(ctx, doc, removed[0])
	require.NoError(t, err)
	require.NotEqual(t, removed[0].ID, back.ID, "a new collaboration")
	require.Equal(t, "mallory@gmail.com", back.Email)
	require.Equal(t, "viewer", back.Role)
	require.Equal(t, connectors.AccessExternal, back.Access)
	st, err = f.conn.Stat(ctx, doc)
	require.NoError(t, err)
	require.Equal(t, connectors.AccessExternal, st.Access)

	// Restoring a grant that is there already is the provider's refusal, typed.
	_, err = f.conn.RestorePermission(ctx, doc, back)
	require.Equal(t, connectors.KindInvalid, connectors.KindOf(err), "%v", err)
}

func TestRestoreGroupAndExpiringLink(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	pay := ref("100", "1006")
	ps, err := f.conn.Permissions(ctx, pay)
	require.NoError(t, err)
	require.NoError(t, f.conn.RemovePermission(ctx, pay, ps[0]))
	st, err := f.conn.Stat(ctx, pay)
	require.NoError(t, err)
	require.Equal(t, connectors.AccessPrivate, st.Access)
	back, err := f.conn.RestorePermission(ctx, pay, ps[0])
	require.NoError(t, err)
	require.Equal(t, connectors.GrantGroup, back.Kind)
	require.Equal(t, connectors.AccessInternal, back.Access)

	// A company link that expires: restored with the same expiry.
	doc := ref("100", "1003")
	ps, err = f.conn.Permissions(ctx, doc)
	require.NoError(t, err)
	link := ps[0]
	link.Expires = time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	require.NoError(t, f.conn.RemovePermission(ctx, doc, link))
	back, err = f.conn.RestorePermission(ctx, doc, link)
	require.NoError(t, err)
	require.Equal(t, "company", back.LinkScope)
	require.True(t, link.Expires.Equal(back.Expires), "%s vs %s", link.Expires, back.Expires)
	link.Expires = time.Now().Add(-time.Hour)
	_, err = f.conn.RestorePermission(ctx, doc, link)
	require.Equal(t, connectors.KindInvalid, connectors.KindOf(err), "an expired link is not restored")
}

func TestSharingCallsRetryThrottling(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	doc := ref("100", "1005")
	f.emu.FailNext(emulator.Fault{Path: "/files/1005/collaborations", Status: 429, RetryAfter: time.Second})
	ps, err := f.conn.Permissions(ctx, doc)
	require.NoError(t, err)
	mallory := permFor(t, ps, func(p connectors.Permission) bool { return p.Email == "mallory@gmail.com" })
	f.emu.FailNext(emulator.Fault{Method: "DELETE", Path: "/collaborations/", Status: 429, RetryAfter: time.Second})
	require.NoError(t, f.conn.RemovePermission(ctx, doc, mallory))
	f.emu.FailNext(emulator.Fault{Method: "POST", Path: "/collaborations", Status: 503})
	_, err = f.conn.RestorePermission(ctx, doc, mallory)
	require.NoError(t, err)
	require.Zero(t, f.emu.PendingFaults())

	// A wait longer than the pacer holds a worker for comes back typed, with the wait.
	f.emu.FailNext(emulator.Fault{Method: "PUT", Path: "/files/1005", Status: 429, RetryAfter: time.Minute})
	err = f.conn.RemovePermission(ctx, doc, permsByID(ps)["shared_link"])
	require.Equal(t, connectors.KindThrottled, connectors.KindOf(err))
	wait, ok := connectors.RetryAfter(err)
	require.True(t, ok)
	require.Equal(t, time.Minute, wait)
}

func TestSharingChangesAreEvents(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	cur, err := f.conn.Changes(ctx, "100", "", func(connectors.File) error { return nil })
	require.NoError(t, err)
	doc := ref("100", "1002")
	ps, err := f.conn.Permissions(ctx, doc)
	require.NoError(t, err)
	require.NoError(t, f.conn.RemovePermission(ctx, doc, ps[0]))
	var got []connectors.File
	_, err = f.conn.Changes(ctx, "100", cur, func(x connectors.File) error { got = append(got, x); return nil })
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "1002", got[0].Ref.ItemID)
	require.Equal(t, connectors.AccessPrivate, got[0].Access)
}

// TestGrantsAccountForFileAccess holds, for every file of the tenant, that the file's access
// is the widest of its grants', and that removing every grant above a level (the ones a
// sharing action may remove: not inherited, not the owner's) leaves the file at most that
// level, or at the widest inherited grant it keeps.
func TestGrantsAccountForFileAccess(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	files, _ := walkAll(t, f.conn, "0", "")
	require.NotEmpty(t, files)
	for _, file := range files {
		ps, err := f.conn.Permissions(ctx, file.Ref)
		require.NoError(t, err)
		widest := connectors.AccessPrivate
		for _, p := range ps {
			if p.Access.Rank() > widest.Rank() {
				widest = p.Access
			}
		}
		require.Equal(t, file.Access, widest, "%s: %+v", file.Name, ps)
		for _, level := range []connectors.AccessLevel{connectors.AccessExternal, connectors.AccessInternal, connectors.AccessPrivate} {
			ps, err := f.conn.Permissions(ctx, file.Ref)
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
					require.NoError(t, f.conn.RemovePermission(ctx, file.Ref, p))
				}
			}
			st, err := f.conn.Stat(ctx, file.Ref)
			require.NoError(t, err)
			require.LessOrEqual(t, st.Access.Rank(), bound.Rank(), "%s at %s", file.Name, level)
		}
	}
}
