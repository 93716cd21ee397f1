package alerts_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/internal/alerts"
	"github.com/labelgate/labelgate/internal/store"
)

// TestSharingFailureAlerts: a sharing action that failed for good (issue 24) raises
// sharing_action_failed on its file; a label write's failure does not.
func TestSharingFailureAlerts(t *testing.T) {
	t.Parallel()
	f := setup(t, fixtureOpt{})
	a := spFile("a", "/Deals", "a.docx", "ann@contoso.com")
	f.scan(t, a, "L1")
	b := spFile("b", "/Deals", "b.docx", "ann@contoso.com")
	f.scan(t, b, "L1")
	for _, ev := range []store.Event{
		{Kind: store.EventActionFailed, App: a.Ref.App, Tenant: a.Ref.Tenant, Drive: a.Ref.Drive, ItemID: a.Ref.ItemID, Name: "a.docx",
			Path: "/Deals", Actor: "policy:p", Detail: store.SharingFailedPrefix(store.ActionRemovePublicLinks) + "permission: accessDenied"},
		{Kind: store.EventActionFailed, App: b.Ref.App, Tenant: b.Ref.Tenant, Drive: b.Ref.Drive, ItemID: b.Ref.ItemID, Name: "b.docx",
			Path: "/Deals", Actor: "policy:p", Detail: "permission: accessDenied"},
	} {
		require.NoError(t, f.st.AddEvent(f.ctx, ev))
	}
	f.tick(t)
	got, err := f.st.ListAlerts(f.ctx, store.AlertFilter{Rule: alerts.RuleSharingFailed})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "a.docx", got[0].Name)
	require.Equal(t, "high", got[0].Severity)
	require.Contains(t, got[0].Message, "could not restrict the sharing of /Deals/a.docx")
	require.Contains(t, got[0].Message, "accessDenied")
}
