package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

// TestRescanActsOnSharingChangeAlone: a Confidential Box file gets an open shared link that
// no event announces (the event stream is read hourly here, as a lost notice would leave it).
// Its content is unchanged, yet the unforced rescan that finds the new sharing queues the file
// again, and the policy removes the link. Before, the rescan recorded the new access and
// nothing acted on it until the content changed.
func TestRescanActsOnSharingChangeAlone(t *testing.T) {
	t.Parallel()
	b := storetest.Backends()[0]
	ctx := context.Background()
	conf := []labeltest.Label{{ID: labeltest.LabelConfidential, Tenant: labeltest.TenantContoso, Method: "Standard"}}
	files := []boxFile{
		{id: "2001", parent: boxFinanceRoot, name: "Plan.docx", data: labeltest.Docx(labeltest.Options{LabelInfo: conf}), label: labeltest.LabelConfidential},
		{id: "2002", parent: boxFinanceRoot, name: "Other.docx", data: labeltest.Docx(labeltest.Options{LabelInfo: conf}), label: labeltest.LabelConfidential},
	}
	em := boxEmulator(t, files)
	h := startGateway(t, b, func(c *config.Config) {
		withAdminToken(c)
		c.Connectors = []config.Connector{boxConnector(em, []string{boxHRRoot, boxFinanceRoot}, time.Hour)}
	})
	st := h.g.Store()
	require.Eventually(t, func() bool { return scannedCount(st, connectors.AppBox) == 2 }, 45*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool {
		running, err := st.ListRescans(ctx, true, 10)
		return err == nil && len(running) == 0
	}, 30*time.Second, 20*time.Millisecond)
	rec, _ := fileByName(st, connectors.AppBox, "Plan.docx")
	require.Equal(t, connectors.AccessPrivate, rec.Access)
	_, err := h.g.SyncCatalog(ctx)
	require.NoError(t, err)
	_, err = h.g.policies.Apply(ctx, []byte(sharingE2EBoxPolicy))
	require.NoError(t, err)

	require.NoError(t, em.SetSharedLink(rec.Ref.ItemID, "open"))
	r, err := h.g.StartRescan(ctx, "box", "", false)
	require.NoError(t, err)
	r = waitRescan(t, st, r.ID)
	require.Equal(t, store.RescanDone, r.State, r.Error)
	require.EqualValues(t, 1, r.Enqueued, "the file whose sharing changed is scanned again")
	require.EqualValues(t, 1, r.Skipped, "the unchanged one is not")

	require.Eventually(t, func() bool {
		as, err := st.ListActions(ctx, store.ActionFilter{Kind: store.ActionRemovePublicLinks})
		return err == nil && len(as) == 1 && as[0].State == store.ActionDone && as[0].Ref == rec.Ref
	}, 60*time.Second, 20*time.Millisecond, "the policy acted on the sharing the rescan found")
	for _, p := range grantsAt(t, h, rec.Ref) {
		require.NotEqual(t, connectors.GrantLink, p.Kind, "the open link is gone")
	}
	changed, err := st.ListEvents(ctx, store.EventFilter{Kind: store.EventAccessChanged}, 10)
	require.NoError(t, err)
	require.NotEmpty(t, changed, "the sharing change is logged")
	require.Equal(t, "Plan.docx", changed[len(changed)-1].Name)
}
