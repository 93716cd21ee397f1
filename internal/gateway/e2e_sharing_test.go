package gateway

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	driveemu "github.com/labelgate/labelgate/connectors/gdrive/emulator"
	"github.com/labelgate/labelgate/connectors/graph/emulator"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

// waitAccess waits for the inventory to show the file's access as ok accepts it. A scan that
// read the file before a sharing action (or its undo) may record its older view after the
// action's own update; the provider's change notice for the action brings the scan that
// settles it, so the inventory converges within a feed poll or two.
func waitAccess(t *testing.T, st *store.Store, ref connectors.FileRef, what string, ok func(connectors.AccessLevel) bool) store.FileRecord {
	t.Helper()
	var rec store.FileRecord
	require.Eventually(t, func() bool {
		var err error
		rec, err = st.GetFile(context.Background(), ref)
		return err == nil && ok(rec.Access)
	}, 30*time.Second, 20*time.Millisecond, "the inventory's access never became %s (last %s)", what, rec.Access)
	return rec
}

func accessIs(want connectors.AccessLevel) func(connectors.AccessLevel) bool {
	return func(a connectors.AccessLevel) bool { return a == want }
}

const sharingE2EPolicy = `
policies:
  - id: conf-external
    name: Confidential shared outside
    severity: high
    filter:
      all:
        - label: {is: [Confidential]}
        - access: {atLeast: external}
    actions:
      - removeExternalAccess: {justification: "confidential stays inside"}
`

// TestGraphSharingEndToEnd: a Confidential SharePoint file is shared with a guest and by an
// anonymous link; the change notification brings a scan, the policy matches, the executor
// removes both grants at the Graph emulator (the colleague's grant stays), the inventory's
// access narrows and access_restricted is logged; UndoAction grants both again (the link with a
// new URL) and logs access_restored.
func TestGraphSharingEndToEnd(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			em, err := emulator.New(emulator.Options{Manifest: graphManifest(), ClientID: "e2e-app", ClientSecret: "e2e-secret"})
			require.NoError(t, err)
			t.Cleanup(em.Close)
			conf := []labeltest.Label{{ID: labeltest.LabelConfidential, Tenant: labeltest.TenantContoso, Method: "Standard"}}
			id, err := em.AddFile(graphSPDrive, "/Deals", "Merger.docx", "", labeltest.Docx(labeltest.Options{LabelInfo: conf}))
			require.NoError(t, err)
			require.NoError(t, em.AddShare(id, emulator.Share{Email: "adele@contoso.com", Role: "write"}))

			h := startGateway(t, b, func(c *config.Config) {
				withAdminToken(c)
				c.Connectors = []config.Connector{{Name: "sp", App: "sharepoint", Tenant: em.TenantID(), BaseURL: em.GraphURL(),
					AuthURL: em.URL(), ClientID: "e2e-app", ClientSecret: "e2e-secret", Domains: []string{"contoso.com"}}}
			})
			st := h.g.Store()
			var rec store.FileRecord
			require.Eventually(t, func() bool {
				var ok bool
				rec, ok = fileByName(st, connectors.AppSharePoint, "Merger.docx")
				return ok && !rec.LastScanned.IsZero()
			}, 45*time.Second, 20*time.Millisecond)
			before := rec.Access
			require.Less(t, before.Rank(), connectors.AccessExternal.Rank(), "shared inside the organisation only")
			_, err = h.g.SyncCatalog(ctx)
			require.NoError(t, err)
			_, err = h.g.policies.Apply(ctx, []byte(sharingE2EPolicy))
			require.NoError(t, err)

			// Shared outside: notification, delta, scan, policy, action, removal.
			require.NoError(t, em.AddShare(id, emulator.Share{Email: "eve@fabrikam.com", Guest: true}))
			require.NoError(t, em.AddShare(id, emulator.Share{Link: "anonymous"}))
			var act store.Action
			require.Eventually(t, func() bool {
				as, err := st.ListActions(ctx, store.ActionFilter{Kind: store.ActionRemoveExternalAccess})
				if err != nil || len(as) == 0 {
					return false
				}
				act = as[len(as)-1]
				return act.State == store.ActionDone
			}, 60*time.Second, 20*time.Millisecond)
			require.Contains(t, act.Reason, "eve@fabrikam.com")
			shares, err := em.Shares(id)
			require.NoError(t, err)
			require.Len(t, shares, 1, "only the colleague's grant is left: %+v", shares)
			require.Equal(t, "adele@contoso.com", shares[0].Email)
			rec = waitAccess(t, st, rec.Ref, string(before)+" (narrowed back)", accessIs(before))
			evs, err := st.ListEvents(ctx, store.EventFilter{Kind: store.EventAccessRestricted}, 10)
			require.NoError(t, err)
			require.Len(t, evs, 1)
			require.Equal(t, "Merger.docx", evs[0].Name)
			changes, err := st.SharingChanges(ctx, act.ID)
			require.NoError(t, err)
			require.Len(t, changes, 2)

			// Undo: both grants back, the link under a new URL.
			undo, err := h.g.UndoAction(ctx, act.ID, "admin@contoso.com")
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				a, err := st.GetAction(ctx, undo)
				return err == nil && a.State == store.ActionDone
			}, 30*time.Second, 20*time.Millisecond)
			shares, err = em.Shares(id)
			require.NoError(t, err)
			var got []string
			for _, s := range shares {
				got = append(got, fmt.Sprintf("%s%s", s.Email, s.Link))
			}
			require.ElementsMatch(t, []string{"adele@contoso.com", "eve@fabrikam.com", "anonymous"}, got)
			restored, err := st.ListEvents(ctx, store.EventFilter{Kind: store.EventAccessRestored}, 10)
			require.NoError(t, err)
			require.Len(t, restored, 1)
			require.True(t, strings.Contains(restored[0].Detail, "new URL"), restored[0].Detail)
			rec = waitAccess(t, st, rec.Ref, "public", accessIs(connectors.AccessPublic))
		})
	}
}

const sharingE2EBoxPolicy = `
policies:
  - id: conf-public
    name: Confidential with a public link
    severity: high
    filter:
      all:
        - label: {is: [Confidential]}
        - access: {in: [public]}
    actions:
      - removePublicLinks: {}
`

// grantsAt lists a file's grants through the gateway's own connector, as the provider reports them.
func grantsAt(t *testing.T, h *harness, ref connectors.FileRef) []connectors.Permission {
	t.Helper()
	c, ok := h.g.reg.lookup(ref.App, ref.Tenant)
	require.True(t, ok)
	sr, ok := c.C.(connectors.SharingRestrictor)
	require.True(t, ok, "%s implements SharingRestrictor", ref.App)
	ps, err := sr.Permissions(context.Background(), ref)
	require.NoError(t, err)
	return ps
}

// TestBoxSharingEndToEnd: a Confidential Box file with an open shared link and an external
// collaborator; a policy removing public links takes the link away at the Box emulator and
// leaves the collaborator, the inventory goes from public to external, and the undo recreates
// the link (new URL).
func TestBoxSharingEndToEnd(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			conf := []labeltest.Label{{ID: labeltest.LabelConfidential, Tenant: labeltest.TenantContoso, Method: "Standard"}}
			files := []boxFile{{id: "2001", parent: boxFinanceRoot, name: "Plan.docx", data: labeltest.Docx(labeltest.Options{LabelInfo: conf}),
				sharedLink: "open", collaborators: []string{"auditor@partner.example"}, label: labeltest.LabelConfidential}}
			em := boxEmulator(t, files)
			h := startGateway(t, b, func(c *config.Config) {
				withAdminToken(c)
				c.Connectors = []config.Connector{boxConnector(em, []string{boxHRRoot, boxFinanceRoot}, time.Hour)}
			})
			st := h.g.Store()
			require.Eventually(t, func() bool { return scannedCount(st, connectors.AppBox) == 1 }, 45*time.Second, 20*time.Millisecond)
			rec, _ := fileByName(st, connectors.AppBox, "Plan.docx")
			require.Equal(t, connectors.AccessPublic, rec.Access)
			_, err := h.g.SyncCatalog(ctx)
			require.NoError(t, err)
			_, err = h.g.policies.Apply(ctx, []byte(sharingE2EBoxPolicy))
			require.NoError(t, err)
			_, err = h.g.StartRescan(ctx, "box", "", true)
			require.NoError(t, err)

			var act store.Action
			require.Eventually(t, func() bool {
				as, err := st.ListActions(ctx, store.ActionFilter{Kind: store.ActionRemovePublicLinks})
				if err != nil || len(as) == 0 {
					return false
				}
				act = as[0]
				return act.State == store.ActionDone
			}, 60*time.Second, 20*time.Millisecond)
			var left []string
			for _, p := range grantsAt(t, h, rec.Ref) {
				if !p.Owner {
					left = append(left, string(p.Kind)+":"+p.Email+p.LinkScope)
				}
			}
			require.Equal(t, []string{"user:auditor@partner.example"}, left, "the link went, the collaborator stayed")
			rec = waitAccess(t, st, rec.Ref, "external", accessIs(connectors.AccessExternal))
			evs, err := st.ListEvents(ctx, store.EventFilter{Kind: store.EventAccessRestricted}, 10)
			require.NoError(t, err)
			require.Len(t, evs, 1)
			require.Contains(t, evs[0].Detail, "open link")

			undo, err := h.g.UndoAction(ctx, act.ID, "admin@contoso.com")
			require.NoError(t, err)
			require.Eventually(t, func() bool {
				a, err := st.GetAction(ctx, undo)
				return err == nil && a.State == store.ActionDone
			}, 30*time.Second, 20*time.Millisecond)
			var link *connectors.Permission
			for _, p := range grantsAt(t, h, rec.Ref) {
				if p.Kind == connectors.GrantLink {
					link = &p
				}
			}
			require.NotNil(t, link, "the shared link is back")
			require.Equal(t, "open", link.LinkScope)
			rec = waitAccess(t, st, rec.Ref, "public", accessIs(connectors.AccessPublic))
			restored, err := st.ListEvents(ctx, store.EventFilter{Kind: store.EventAccessRestored}, 10)
			require.NoError(t, err)
			require.Len(t, restored, 1)
		})
	}
}

// TestGDriveSharingEndToEnd: a Confidential Drive file shared with anyone, a partner and a
// colleague; removeExternalAccess deletes the anyone and partner permissions at the Drive
// emulator and keeps the colleague's, the inventory narrows from public, and the undo
// creates both permissions again.
func TestGDriveSharingEndToEnd(t *testing.T) {
	t.Parallel()
	b := storetest.Backends()[0]
	ctx := context.Background()
	m, err := driveemu.LoadManifest(repoTestdata(t, "gdrive/tenant.json"))
	require.NoError(t, err)
	em, err := driveemu.New(driveemu.Options{Manifest: m})
	require.NoError(t, err)
	t.Cleanup(em.Close)
	const tenant, alice, aliceDrive = "example.com", "alice@example.com", "user:alice@example.com"
	h := startGateway(t, b, func(c *config.Config) {
		withAdminToken(c)
		c.Connectors = []config.Connector{{Name: "gd", App: "gdrive", Tenant: tenant, Domains: []string{tenant},
			Users: []string{alice, "bob@example.com"}, AdminEmail: "admin@example.com", ServiceAccountKey: gdriveKey(t),
			BaseURL: em.URL(), AuthURL: em.TokenURL(),
			LabelMap: map[string]string{
				labeltest.LabelGeneral:      "lbl-sens/fld-level/ch-general",
				labeltest.LabelConfidential: "lbl-sens/fld-level/ch-conf",
			}}}
	})
	st := h.g.Store()
	require.Eventually(t, func() bool {
		cds, err := st.ChangedDrives(ctx, 10)
		running, rerr := st.ListRescans(ctx, true, 10)
		return err == nil && rerr == nil && len(cds) == 0 && len(running) == 0
	}, 30*time.Second, 20*time.Millisecond)
	_, err = h.g.SyncCatalog(ctx)
	require.NoError(t, err)
	_, err = h.g.policies.Apply(ctx, []byte(sharingE2EPolicy))
	require.NoError(t, err)

	conf := []labeltest.Label{{ID: labeltest.LabelConfidential, Tenant: labeltest.TenantContoso, Method: "Standard"}}
	_, err = em.AddFile(driveemu.FileSpec{ID: "f-share", Name: "deal.docx", Owner: alice,
		Data: labeltest.Docx(labeltest.Options{LabelInfo: conf}),
		Permissions: []driveemu.Permission{{Type: "anyone", Role: "reader"}, {Type: "user", Role: "reader", Email: "guest@partner.org"},
			{Type: "user", Role: "writer", Email: "bob@example.com"}}})
	require.NoError(t, err)
	ref := connectors.FileRef{App: connectors.AppGDrive, Tenant: tenant, Drive: aliceDrive, ItemID: "f-share"}
	var act store.Action
	require.Eventually(t, func() bool {
		as, err := st.ListActions(ctx, store.ActionFilter{Kind: store.ActionRemoveExternalAccess})
		if err != nil || len(as) == 0 {
			return false
		}
		act = as[0]
		return act.State == store.ActionDone
	}, 60*time.Second, 20*time.Millisecond)
	require.Equal(t, ref, act.Ref)
	others := func() []string {
		var out []string
		for _, p := range grantsAt(t, h, ref) {
			if !p.Owner {
				out = append(out, string(p.Kind)+":"+p.Email)
			}
		}
		return out
	}
	require.Equal(t, []string{"user:bob@example.com"}, others())
	// Inside the organisation only (the Drive connector reads a colleague's direct grant as
	// private; no link, no domain grant).
	waitAccess(t, st, ref, "narrower than external", func(a connectors.AccessLevel) bool { return a.Rank() < connectors.AccessExternal.Rank() })

	undo, err := h.g.UndoAction(ctx, act.ID, "admin@example.com")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		a, err := st.GetAction(ctx, undo)
		return err == nil && a.State == store.ActionDone
	}, 30*time.Second, 20*time.Millisecond)
	require.ElementsMatch(t, []string{"user:bob@example.com", "user:guest@partner.org", "anyone:"}, others())
	waitAccess(t, st, ref, "public", accessIs(connectors.AccessPublic))
}

// TestGraphSharingUnderChaos: eight Confidential files shared with a guest and by an anonymous
// link, a sharing quota of 5, and a Graph tenant that throttles a tenth of the requests and
// fails one in twenty. Five actions finish, three wait for the quota reset: no more units are
// used than the quota, each removed grant is recorded once, each finished action logs one
// access_restricted, the waiting files keep their grants, and no action fails.
func TestGraphSharingUnderChaos(t *testing.T) {
	t.Parallel()
	b := storetest.Backends()[0]
	ctx := context.Background()
	em, err := emulator.New(emulator.Options{Manifest: graphManifest(), ClientID: "e2e-app", ClientSecret: "e2e-secret"})
	require.NoError(t, err)
	t.Cleanup(em.Close)
	conf := []labeltest.Label{{ID: labeltest.LabelConfidential, Tenant: labeltest.TenantContoso, Method: "Standard"}}
	ids := map[string]string{}
	for i := range 8 {
		name := fmt.Sprintf("Deal%d.docx", i)
		id, err := em.AddFile(graphSPDrive, "/Deals", name, "", labeltest.Docx(labeltest.Options{LabelInfo: conf}))
		require.NoError(t, err)
		require.NoError(t, em.AddShare(id, emulator.Share{Email: "eve@fabrikam.com", Guest: true}))
		require.NoError(t, em.AddShare(id, emulator.Share{Link: "anonymous"}))
		ids[id] = name
	}
	h := startGateway(t, b, func(c *config.Config) {
		withAdminToken(c)
		c.Quota.Sharing.Default = 5
		c.Connectors = []config.Connector{{Name: "sp", App: "sharepoint", Tenant: em.TenantID(), BaseURL: em.GraphURL(),
			AuthURL: em.URL(), ClientID: "e2e-app", ClientSecret: "e2e-secret", Domains: []string{"contoso.com"}}}
	})
	st := h.g.Store()
	began := time.Now()
	require.Eventually(t, func() bool { return scannedCount(st, connectors.AppSharePoint) == 8 }, 45*time.Second, 20*time.Millisecond)
	t.Logf("scanned in %v", time.Since(began))
	_, err = h.g.SyncCatalog(ctx)
	require.NoError(t, err)
	_, err = h.g.policies.Apply(ctx, []byte(sharingE2EPolicy))
	require.NoError(t, err)
	em.SetChaos(emulator.Chaos{Seed: 24, Throttle: 0.1, ServerError: 0.05})
	_, err = h.g.StartRescan(ctx, "sp", "", true)
	require.NoError(t, err)

	states := func() map[string][]store.Action {
		as, err := st.ListActions(ctx, store.ActionFilter{Kind: store.ActionRemoveExternalAccess})
		require.NoError(t, err)
		out := map[string][]store.Action{}
		for _, a := range as {
			out[a.State] = append(out[a.State], a)
		}
		return out
	}
	require.Eventually(t, func() bool {
		s := states()
		return len(s[store.ActionDone]) == 5 && len(s[store.ActionPaused]) == 3
	}, 150*time.Second, 50*time.Millisecond, "5 done and 3 paused")
	injected := em.ChaosStats()
	em.SetChaos(emulator.Chaos{})
	t.Logf("chaos injected %+v; done in %v", injected, time.Since(began))
	require.Positive(t, injected.Throttled+injected.ServerErrors)

	s := states()
	require.Empty(t, s[store.ActionFailed])
	used, err := st.QuotaUsed(ctx, connectors.AppSharePoint, em.TenantID(), store.ActionRemoveExternalAccess, store.QuotaWindow(time.Now()))
	require.NoError(t, err)
	require.EqualValues(t, 5, used, "never more than the quota")
	for _, a := range s[store.ActionDone] {
		changes, err := st.SharingChanges(ctx, a.ID)
		require.NoError(t, err)
		require.Len(t, changes, 2, "one record per grant removed, retries included")
		shares, err := em.Shares(a.Ref.ItemID)
		require.NoError(t, err)
		require.Empty(t, shares, ids[a.Ref.ItemID])
		require.Equal(t, 2, em.GrantRemovals(a.Ref.ItemID), "%s: each grant removed once at the provider", ids[a.Ref.ItemID])
	}
	for _, a := range s[store.ActionPaused] {
		shares, err := em.Shares(a.Ref.ItemID)
		require.NoError(t, err)
		require.Len(t, shares, 2, "waiting for the reset: untouched")
		require.Zero(t, em.GrantRemovals(a.Ref.ItemID))
	}
	evs, err := st.ListEvents(ctx, store.EventFilter{Kind: store.EventAccessRestricted}, 100)
	require.NoError(t, err)
	require.Len(t, evs, 5, "one access_restricted per finished action")
}
