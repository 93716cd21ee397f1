package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/graph/emulator"
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
			em, err := emulator.New(emulator.Options{Manifest: graphManifest(), ClientID: "e2e-app", ClientSecret: "e2e-secret", PageSize: 3})
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
