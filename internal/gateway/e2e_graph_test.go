package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/graph/emulator"
	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/alerts"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

const (
	graphSPDrive = "b!e2e-hr-docs"
	graphODDrive = "b!e2e-od-adele"
)

// graphManifest is a tenant whose label catalog holds the labels labeltest writes into files,
// so the labels the scanner reads and the ones the executor applies are the same ids.
func graphManifest() *emulator.Manifest {
	return &emulator.Manifest{
		Tenant: emulator.Tenant{ID: labeltest.TenantContoso, Domains: []string{"contoso.com"}},
		Users:  []emulator.User{{ID: "u-adele", UPN: "adele@contoso.com", DisplayName: "Adele Vance", Drive: graphODDrive}},
		Sites: []emulator.Site{{ID: "contoso.sharepoint.com,hr,web", Name: "hr", WebURL: "https://contoso.sharepoint.com/sites/hr",
			Libraries: []emulator.Library{{ID: graphSPDrive, Name: "Documents"}}}},
		Labels: []emulator.Label{
			{ID: labeltest.LabelPublic, Name: "Public", DisplayName: "Public", Priority: 0},
			{ID: labeltest.LabelGeneral, Name: "General", DisplayName: "General", Priority: 1},
			{ID: labeltest.LabelConfidential, Name: "Confidential", DisplayName: "Confidential", Priority: 2},
		},
	}
}

type graphFile struct {
	drive, folder, name string
	data                []byte
	label               string
	protected           bool
}

func graphFiles() []graphFile {
	general := []labeltest.Label{labeltest.General()}
	conf := []labeltest.Label{{ID: labeltest.LabelConfidential, Tenant: labeltest.TenantContoso, Method: "Standard"}}
	return []graphFile{
		{graphSPDrive, "/Policies", "Handbook.docx", labeltest.Docx(labeltest.Options{LabelInfo: general}), labeltest.LabelGeneral, false},
		{graphSPDrive, "/", "unlabelled.docx", labeltest.Docx(labeltest.Options{Text: []string{"plain"}}), "", false},
		{graphSPDrive, "/Secret", "Board.docx", labeltest.Protected("rms", general, 0), labeltest.LabelGeneral, true},
		{graphSPDrive, "/", "Report.pdf", labeltest.PDF(labeltest.PDFOptions{Info: conf}), labeltest.LabelConfidential, false},
		{graphODDrive, "/Drafts", "Plan.xlsx", labeltest.Xlsx(labeltest.Options{LabelInfo: conf}), labeltest.LabelConfidential, false},
		{graphODDrive, "/", "Notes.pptx", labeltest.Pptx(labeltest.Options{}), "", false},
	}
}

// TestGraphEndToEnd drives SharePoint and OneDrive connectors through the real gateway
// against the Graph emulator: subscriptions with the validation handshake, notifications →
// delta → scan → inventory, throttling that delays but loses nothing, an admin label apply
// that reaches assignSensitivityLabel, and a forged notification that changes nothing.
func TestGraphEndToEnd(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			em, err := emulator.New(emulator.Options{Manifest: graphManifest(), ClientID: "e2e-app", ClientSecret: "e2e-secret", PageSize: 3,
				MeteredBilling: true})
			require.NoError(t, err)
			t.Cleanup(em.Close)
			files := graphFiles()
			ids := map[string]string{}
			for _, f := range files {
				id, err := em.AddFile(f.drive, f.folder, f.name, "", f.data)
				require.NoError(t, err)
				ids[f.name] = id
			}
			// Throttling from the first requests on: change feeds and downloads answer 429 with
			// Retry-After a few times; the work must still all get done.
			em.FailNext("/v1.0/drives/", http.StatusTooManyRequests, time.Second, 3)
			em.FailNext("/_download/", http.StatusTooManyRequests, time.Second, 3)

			conn := func(name, app string) config.Connector {
				return config.Connector{Name: name, App: app, Tenant: em.TenantID(), BaseURL: em.GraphURL(), AuthURL: em.URL(),
					ClientID: "e2e-app", ClientSecret: "e2e-secret", Domains: []string{"contoso.com"}}
			}
			start := time.Now()
			h := startGateway(t, b, func(c *config.Config) {
				withAdminToken(c)
				c.Connectors = []config.Connector{conn("sp", "sharepoint"), conn("od", "onedrive")}
			})
			st := h.g.Store()

			// Subscriptions: one per drive, created through the validation handshake and stored.
			require.Eventually(t, func() bool {
				sp, err1 := st.Subscriptions(ctx, connectors.AppSharePoint, em.TenantID())
				od, err2 := st.Subscriptions(ctx, connectors.AppOneDrive, em.TenantID())
				return err1 == nil && err2 == nil && len(sp) == 1 && len(od) == 1 && len(em.Subscriptions()) == 2
			}, 30*time.Second, 20*time.Millisecond)

			// The baseline resync scans every file despite the 429s.
			appOf := func(f graphFile) connectors.App {
				if f.drive == graphODDrive {
					return connectors.AppOneDrive
				}
				return connectors.AppSharePoint
			}
			ok := assertEventually(func() bool {
				return scannedCount(st, connectors.AppSharePoint) == 4 && scannedCount(st, connectors.AppOneDrive) == 2
			}, 45*time.Second)
			if !ok {
				stats, _ := h.g.sq.Stats(ctx)
				dead, _ := h.g.sq.Dead(ctx, 10)
				t.Fatalf("not all files scanned: sp %d od %d; queue %+v; dead %+v", scannedCount(st, connectors.AppSharePoint),
					scannedCount(st, connectors.AppOneDrive), stats, dead)
			}
			t.Logf("%s: subscribed and %d files scanned through 6 injected 429s in %v", b.Name, len(files), time.Since(start))
			for _, f := range files {
				rec, found := fileByName(st, appOf(f), f.name)
				require.True(t, found, f.name)
				require.Empty(t, rec.ScanError, f.name)
				require.Equal(t, f.label, rec.LabelID, f.name)
				require.Equal(t, f.protected, rec.Protected, f.name)
				require.Equal(t, ids[f.name], rec.Ref.ItemID, f.name)
			}

			// A forged notification (a real subscription id, the wrong clientState) is refused
			// and marks nothing. Wait for the feed to settle first, so any later read is its doing.
			require.Eventually(t, func() bool {
				cds, err := st.ChangedDrives(ctx, 10)
				return err == nil && len(cds) == 0
			}, 30*time.Second, 20*time.Millisecond)
			deltas := em.Requests("GET /v1.0/drives/")
			sub := em.Subscriptions()[0]
			forged, err := json.Marshal(map[string]any{"value": []map[string]string{{
				"subscriptionId": sub, "clientState": "not-the-secret", "changeType": "updated",
				"resource": "drives/" + graphSPDrive + "/root", "tenantId": em.TenantID(),
			}}})
			require.NoError(t, err)
			for _, name := range []string{"sp", "od"} {
				require.Equal(t, http.StatusUnauthorized, rawPost(t, h.g.PublicURL()+"/webhooks/"+name, forged,
					http.Header{"Content-Type": {"application/json"}}), name)
			}
			require.Never(t, func() bool {
				cds, err := st.ChangedDrives(ctx, 10)
				return err != nil || len(cds) > 0 || em.Requests("GET /v1.0/drives/") != deltas
			}, 500*time.Millisecond, 25*time.Millisecond)

			// A real change: the emulator stores a labelled version and notifies; the gateway
			// reads the delta and rescans, and the inventory follows.
			notes, _ := fileByName(st, connectors.AppOneDrive, "Notes.pptx")
			general := []labeltest.Label{labeltest.General()}
			require.NoError(t, em.ModifyFile(ids["Notes.pptx"], labeltest.Pptx(labeltest.Options{LabelInfo: general})))
			require.Eventually(t, func() bool {
				rec, err := st.GetFile(ctx, notes.Ref)
				return err == nil && rec.LabelID == labeltest.LabelGeneral && rec.LastScanned.After(notes.LastScanned)
			}, 30*time.Second, 20*time.Millisecond)
			ok200 := 0
			for _, d := range em.Deliveries() {
				if d.Status == http.StatusAccepted || d.Status == http.StatusOK {
					ok200++
				}
			}
			require.Positive(t, ok200, "the emulator delivered notifications the gateway accepted")

			// Admin apply-label: catalog synced, then the action reaches assignSensitivityLabel.
			_, err = h.g.SyncCatalog(ctx)
			require.NoError(t, err)
			un, _ := fileByName(st, connectors.AppSharePoint, "unlabelled.docx")
			act := applyLabelViaAdmin(t, h, un.Ref, labeltest.LabelConfidential)
			require.Equal(t, store.ActionDone, act.State, act.Reason)
			require.Equal(t, labeltest.LabelConfidential, em.FileLabel(ids["unlabelled.docx"]))
			require.Equal(t, 1, em.LabelWrites(ids["unlabelled.docx"]))
			t.Logf("%s: whole flow took %v", b.Name, time.Since(start))
		})
	}
}

// TestGraphSetUpAndSubscriptionFidelity runs the gateway against a Graph tenant behaving as
// the real one does where it is inconvenient (issue 19):
//   - assignSensitivityLabel is metered: before billing is linked it answers 402; the action
//     pauses (no retry storm), its quota unit goes back, and an operational alert is raised;
//   - a driveItem subscription Graph dropped sends no notification: the next renewal answers
//     404, the gateway subscribes again and reads the drive's feed, so a change made while
//     notifications were lost is still scanned;
//   - one POST carries the notifications of two libraries' subscriptions, and both drives are
//     read.
func TestGraphSetUpAndSubscriptionFidelity(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			m := graphManifest()
			const second = "b!e2e-hr-archive"
			m.Sites[0].Libraries = append(m.Sites[0].Libraries, emulator.Library{ID: second, Name: "Archive"})
			em, err := emulator.New(emulator.Options{Manifest: m, ClientID: "e2e-app", ClientSecret: "e2e-secret", PageSize: 3})
			require.NoError(t, err)
			t.Cleanup(em.Close)
			unl, err := em.AddFile(graphSPDrive, "/", "unlabelled.docx", "", labeltest.Docx(labeltest.Options{Text: []string{"plain"}}))
			require.NoError(t, err)
			h := startGateway(t, b, func(c *config.Config) {
				withAdminToken(c)
				c.Connectors = []config.Connector{{Name: "sp", App: "sharepoint", Tenant: em.TenantID(), BaseURL: em.GraphURL(),
					AuthURL: em.URL(), ClientID: "e2e-app", ClientSecret: "e2e-secret", Domains: []string{"contoso.com"}}}
			})
			st := h.g.Store()
			require.Eventually(t, func() bool {
				subs, err := st.Subscriptions(ctx, connectors.AppSharePoint, em.TenantID())
				return err == nil && len(subs) == 2 && len(em.Subscriptions()) == 2 && scannedCount(st, connectors.AppSharePoint) == 1
			}, 30*time.Second, 20*time.Millisecond)
			_, err = h.g.SyncCatalog(ctx)
			require.NoError(t, err, "the catalog syncs with SensitivityLabel.Read")
			// A label an administrator disables in Purview is disabled in the catalog, so the
			// executor refuses it.
			require.NoError(t, em.SetLabelDisabled(labeltest.LabelPublic, true))
			_, err = h.g.SyncCatalog(ctx)
			require.NoError(t, err)
			pub, err := st.GetLabel(ctx, connectors.AppSharePoint, em.TenantID(), labeltest.LabelPublic)
			require.NoError(t, err)
			require.Equal(t, store.LabelDisabled, pub.State)

			// Metered API without billing: paused, alerted, nothing written, no retries.
			rec, _ := fileByName(st, connectors.AppSharePoint, "unlabelled.docx")
			status, body := postJSON(t, h.g.AdminURL()+"/api/v1/files/"+admin.FileID(rec.Ref)+"/label",
				map[string]string{"labelId": labeltest.LabelConfidential, "justification": "e2e"})
			require.Equal(t, http.StatusAccepted, status, string(body))
			var res struct {
				ActionID int64 `json:"actionId"`
			}
			require.NoError(t, json.Unmarshal(body, &res))
			var act store.Action
			require.Eventually(t, func() bool {
				act, err = st.GetAction(ctx, res.ActionID)
				return err == nil && act.State == store.ActionPaused
			}, 30*time.Second, 20*time.Millisecond)
			require.Contains(t, act.Reason, "paymentRequired")
			require.True(t, act.NotBefore.After(time.Now().Add(50*time.Minute)), "paused for the set-up wait, not retried soon")
			require.Eventually(t, func() bool {
				as, err := st.ListAlerts(ctx, store.AlertFilter{Rule: alerts.RuleConnectorSetup})
				return err == nil && len(as) == 1 && strings.Contains(as[0].Message, "paymentRequired")
			}, 30*time.Second, 50*time.Millisecond, "an operational alert is raised")
			assigns := em.Requests("POST /v1.0/drives/" + graphSPDrive + "/items/" + unl + "/assignSensitivityLabel")
			require.Equal(t, 1, assigns)
			require.Zero(t, em.LabelWrites(unl))
			used, err := st.QuotaUsed(ctx, connectors.AppSharePoint, em.TenantID(), store.AllowanceManual, store.QuotaWindow(time.Now()))
			require.NoError(t, err)
			require.Zero(t, used)

			// Batched notifications of both libraries: one POST, both feeds read.
			require.Eventually(t, func() bool {
				cds, err := st.ChangedDrives(ctx, 10)
				return err == nil && len(cds) == 0
			}, 30*time.Second, 20*time.Millisecond)
			a, err := em.AddFile(graphSPDrive, "/", "a.docx", "", labeltest.Docx(labeltest.Options{Text: []string{"a"}}))
			require.NoError(t, err)
			bID, err := em.AddFile(second, "/", "b.docx", "", labeltest.Docx(labeltest.Options{Text: []string{"b"}}))
			require.NoError(t, err)
			before := len(em.Deliveries())
			em.NotifyDrives(graphSPDrive, second)
			ds := em.Deliveries()[before:]
			require.Len(t, ds, 1)
			require.Len(t, ds[0].Subscriptions, 2)
			require.Equal(t, http.StatusAccepted, ds[0].Status)
			for _, id := range []string{a, bID} {
				ref := connectors.FileRef{App: connectors.AppSharePoint, Tenant: em.TenantID(), Drive: graphSPDrive, ItemID: id}
				if id == bID {
					ref.Drive = second
				}
				require.Eventually(t, func() bool {
					r, err := st.GetFile(ctx, ref)
					return err == nil && !r.LastScanned.IsZero()
				}, 30*time.Second, 20*time.Millisecond, id)
			}

			// Graph drops the archive's subscription silently; a file lands meanwhile and its
			// notification goes nowhere. At the next renewal (made due here by moving its expiry
			// into the renewal window) the 404 makes the gateway subscribe again and read the feed.
			subs, err := st.Subscriptions(ctx, connectors.AppSharePoint, em.TenantID())
			require.NoError(t, err)
			var old connectors.Subscription
			for _, s := range subs {
				if s.Drive == second {
					old = s
				}
			}
			require.NoError(t, em.RemoveSubscription(old.ID))
			lost, err := em.AddFile(second, "/", "while-unsubscribed.docx", "", labeltest.Docx(labeltest.Options{Text: []string{"c"}}))
			require.NoError(t, err)
			old.Expires = time.Now().Add(time.Hour)
			require.NoError(t, st.PutSubscription(ctx, connectors.AppSharePoint, em.TenantID(), old))
			lostRef := connectors.FileRef{App: connectors.AppSharePoint, Tenant: em.TenantID(), Drive: second, ItemID: lost}
			require.Eventually(t, func() bool {
				r, err := st.GetFile(ctx, lostRef)
				return err == nil && !r.LastScanned.IsZero()
			}, 30*time.Second, 20*time.Millisecond, "the change made while unsubscribed is scanned")
			subs, err = st.Subscriptions(ctx, connectors.AppSharePoint, em.TenantID())
			require.NoError(t, err)
			require.Len(t, subs, 2)
			for _, s := range subs {
				require.NotEqual(t, old.ID, s.ID, "the dropped subscription was replaced")
			}
			require.Len(t, em.Subscriptions(), 2)
		})
	}
}

// TestGraphCatalogPermission: with the permissions the README used to list
// (InformationProtectionPolicy.Read.All instead of SensitivityLabel.Read) the emulator refuses
// the catalog with 403, as Graph does; the sync fails loudly with an operational event naming
// the permission, instead of leaving every label action waiting in silence.
func TestGraphCatalogPermission(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	em, err := emulator.New(emulator.Options{Manifest: graphManifest(), ClientID: "e2e-app", ClientSecret: "e2e-secret",
		Roles: []string{emulator.RoleSitesRead, emulator.RoleUserRead, emulator.RoleFilesReadWrite, emulator.RoleInfoProtPolicyRd}})
	require.NoError(t, err)
	t.Cleanup(em.Close)
	h := startGateway(t, storetest.Backends()[0], func(c *config.Config) {
		c.Connectors = []config.Connector{{Name: "sp", App: "sharepoint", Tenant: em.TenantID(), BaseURL: em.GraphURL(),
			AuthURL: em.URL(), ClientID: "e2e-app", ClientSecret: "e2e-secret", Domains: []string{"contoso.com"}}}
	})
	res, err := h.g.SyncCatalog(ctx)
	require.Error(t, err)
	require.Len(t, res, 1)
	require.Contains(t, res[0].Error, "403")
	evs, err := h.g.Store().ListEvents(ctx, store.EventFilter{Kind: alerts.EventConnectorAuthFailed}, 10)
	require.NoError(t, err)
	require.NotEmpty(t, evs)
	require.Contains(t, evs[0].Detail, "SensitivityLabel.Read")
	labels, err := h.g.Store().ListLabels(ctx, store.LabelFilter{App: connectors.AppSharePoint, Tenant: em.TenantID()})
	require.NoError(t, err)
	require.Empty(t, labels, "nothing synced")
}
