package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
)

// TestSharingChangesKeepWhatUndoNeeds: a removed grant is stored whole (grantee, role, link
// scope and settings, the provider's record), once per action even when the action is retried,
// listed per action and per file, and its restoration is recorded on it.
func TestSharingChangesKeepWhatUndoNeeds(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		f := file("i1", "plan.docx")
		link := connectors.Permission{ID: "p-link", Kind: connectors.GrantLink, Role: "read", LinkScope: "anonymous",
			LinkURL: "https://example.test/s/abc", Expires: time.UnixMilli(1893456000000).UTC(), Access: connectors.AccessPublic,
			Wire: []byte(`{"id":"p-link","link":{"scope":"anonymous"}}`)}
		guest := connectors.Permission{ID: "p-guest", Kind: connectors.GrantUser, Role: "write", Email: "eve@fabrikam.test",
			Domain: "fabrikam.test", Access: connectors.AccessExternal}

		require.NoError(t, s.RecordSharingRemoval(ctx, 7, f.Ref, link))
		require.NoError(t, s.RecordSharingRemoval(ctx, 7, f.Ref, guest))
		require.NoError(t, s.RecordSharingRemoval(ctx, 7, f.Ref, link), "a retried action records nothing twice")
		other := file("i2", "other.docx")
		require.NoError(t, s.RecordSharingRemoval(ctx, 8, other.Ref, guest))

		got, err := s.SharingChanges(ctx, 7)
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Equal(t, link, got[0].Permission)
		require.Equal(t, guest, got[1].Permission)
		require.Equal(t, f.Ref, got[0].Ref)
		require.Zero(t, got[0].RestoredBy)

		require.NoError(t, s.MarkSharingRestored(ctx, got[0].ID, 9, "p-link-2", "the link has a new URL"))
		byFile, err := s.FileSharingChanges(ctx, f.Ref)
		require.NoError(t, err)
		require.Len(t, byFile, 2)
		require.Equal(t, int64(9), byFile[0].RestoredBy)
		require.Equal(t, "p-link-2", byFile[0].RestoredID)
		require.Equal(t, "the link has a new URL", byFile[0].RestoreNote)
		require.False(t, byFile[0].RestoredAt.IsZero())
		require.Zero(t, byFile[1].RestoredBy)

		none, err := s.SharingChanges(ctx, 99)
		require.NoError(t, err)
		require.Empty(t, none)
	})
}
