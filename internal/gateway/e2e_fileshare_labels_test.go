package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	boxemu "github.com/labelgate/labelgate/connectors/box/emulator"
	"github.com/labelgate/labelgate/connectors/graph/emulator"
	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

// removeLabelViaAdmin sends DELETE /files/{id}/label and waits for the action to end.
func removeLabelViaAdmin(t *testing.T, h *harness, ref connectors.FileRef) store.Action {
	t.Helper()
	req, err := http.NewRequest(http.MethodDelete, h.g.AdminURL()+"/api/v1/files/"+admin.FileID(ref)+"/label",
		bytes.NewReader([]byte(`{"justification":"e2e"}`)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e2eAdminToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
	var res struct {
		ActionID int64 `json:"actionId"`
	}
	require.NoError(t, json.Unmarshal(body, &res))
	var act store.Action
	require.Eventually(t, func() bool {
		act, err = h.g.Store().GetAction(context.Background(), res.ActionID)
		return err == nil && (act.State == store.ActionDone || act.State == store.ActionFailed || act.State == store.ActionRefused)
	}, 30*time.Second, 20*time.Millisecond)
	return act
}

// File-share label writes go through the executor like every other app's: the share's
// catalog is the organisation's (from the SharePoint connector), a label applied by an admin
// is written into the file on disk with its MIP tenant, a removal takes it out again, and a
// protected file's label is never removed.
func TestFileShareLabelWritesEndToEnd(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			em, err := emulator.New(emulator.Options{Manifest: graphManifest(), ClientID: "e2e-app", ClientSecret: "e2e-secret"})
			require.NoError(t, err)
			t.Cleanup(em.Close)
			// A protected SharePoint file whose label the catalog does not mark as protecting:
			// Graph reports no protection for it, the scanner does.
			boardID, err := em.AddFile(graphSPDrive, "/Secret", "Board.docx", "", labeltest.Protected("rms", []labeltest.Label{labeltest.General()}, 0))
			require.NoError(t, err)
			require.NoError(t, em.SetLabel(boardID, labeltest.LabelGeneral, false))
			share := filepath.Join(t.TempDir(), "share")
			require.NoError(t, os.MkdirAll(filepath.Join(share, "Team"), 0o755))
			plain := labeltest.Docx(labeltest.Options{Text: []string{"quarterly numbers"}})
			require.NoError(t, os.WriteFile(filepath.Join(share, "Team", "plan.docx"), plain, 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(share, "board.docx"), labeltest.Protected("rms", []labeltest.Label{labeltest.General()}, 0), 0o644))

			h := startGateway(t, b, func(c *config.Config) {
				withAdminToken(c)
				c.Connectors = []config.Connector{
					{Name: "sp", App: "sharepoint", Tenant: em.TenantID(), BaseURL: em.GraphURL(), AuthURL: em.URL(),
						ClientID: "e2e-app", ClientSecret: "e2e-secret", Domains: []string{"contoso.com"}},
					{Name: "shares", App: "fileshare", Roots: []string{share}},
				}
			})
			st := h.g.Store()
			r, err := h.g.StartRescan(ctx, "shares", "", false)
			require.NoError(t, err)
			require.Equal(t, store.RescanDone, waitRescan(t, st, r.ID).State)
			require.Eventually(t, func() bool { return scannedCount(st, connectors.AppFileShare) == 2 }, 30*time.Second, 20*time.Millisecond)
			// The share's catalog is the organisation's, as its own labels.
			require.Eventually(t, func() bool {
				ls, err := st.ListLabels(ctx, store.LabelFilter{App: connectors.AppFileShare, Tenant: "local", OnlyThisTenant: true})
				return err == nil && len(ls) == 3
			}, 30*time.Second, 20*time.Millisecond)

			rec, ok := fileByName(st, connectors.AppFileShare, "plan.docx")
			require.True(t, ok)
			act := applyLabelViaAdmin(t, h, rec.Ref, labeltest.LabelConfidential)
			require.Equal(t, store.ActionDone, act.State, act.Reason)
			read := func(rel string) labeling.Result {
				t.Helper()
				data, err := os.ReadFile(filepath.Join(share, filepath.FromSlash(rel)))
				require.NoError(t, err)
				res, err := labeling.Read(ctx, bytes.NewReader(data), int64(len(data)), rel)
				require.NoError(t, err)
				return res
			}
			res := read("Team/plan.docx")
			require.NotNil(t, res.Label)
			require.Equal(t, labeltest.LabelConfidential, res.Label.ID)
			require.Equal(t, labeltest.TenantContoso, res.Label.Tenant, "the file carries the organisation's MIP tenant")
			got, err := st.GetFile(ctx, rec.Ref)
			require.NoError(t, err)
			require.Equal(t, labeltest.LabelConfidential, got.LabelID)

			act = removeLabelViaAdmin(t, h, rec.Ref)
			require.Equal(t, store.ActionDone, act.State, act.Reason)
			require.Nil(t, read("Team/plan.docx").Label)

			// A protected file on the share: its label is never removed.
			prot, ok := fileByName(st, connectors.AppFileShare, "board.docx")
			require.True(t, ok)
			require.True(t, prot.Protected)
			act = removeLabelViaAdmin(t, h, prot.Ref)
			require.Equal(t, store.ActionRefused, act.State, act.Reason)
			require.Equal(t, labeltest.LabelGeneral, read("board.docx").Label.ID)

			// DELETE label on the protected SharePoint file: refused, the label stays.
			require.Eventually(t, func() bool { return scannedCount(st, connectors.AppSharePoint) == 1 }, 30*time.Second, 20*time.Millisecond)
			sp, ok := fileByName(st, connectors.AppSharePoint, "Board.docx")
			require.True(t, ok)
			require.True(t, sp.Protected)
			require.Equal(t, labeltest.LabelGeneral, sp.LabelID)
			act = removeLabelViaAdmin(t, h, sp.Ref)
			require.Equal(t, store.ActionRefused, act.State, act.Reason)
			require.Contains(t, act.Reason, "protection applied outside labelgate")
			require.Equal(t, labeltest.LabelGeneral, em.FileLabel(boardID))
		})
	}
}

// DELETE label on a protected Box file: Box never reports protection, the scanner read it in
// the file, so the removal of its classification is refused and nothing is written to Box.
func TestBoxProtectedLabelNeverRemoved(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			files := []boxFile{{id: "1001", parent: boxHRRoot, name: "Board.docx", classification: "General",
				data: labeltest.Protected("rms", []labeltest.Label{labeltest.General()}, 0), label: labeltest.LabelGeneral}}
			seed, dir := boxSeed(t, files)
			em, err := boxemu.New(boxemu.Options{Seed: seed, SeedDir: dir, ClientID: "e2e-app", ClientSecret: "e2e-secret",
				PrimaryKey: boxPrimaryKey, SecondaryKey: boxSecondaryKey})
			require.NoError(t, err)
			t.Cleanup(em.Close)
			h := startGateway(t, b, func(c *config.Config) {
				withAdminToken(c)
				c.Connectors = []config.Connector{{Name: "box", App: "box", Tenant: em.EnterpriseID(), ClientID: "e2e-app", ClientSecret: "e2e-secret",
					BaseURL: em.APIURL(), UploadURL: em.UploadURL(), AuthURL: em.TokenURL(), Roots: []string{boxHRRoot},
					Domains: []string{"contoso.com"}, PrimaryKey: boxPrimaryKey, SecondaryKey: boxSecondaryKey, LabelMap: boxLabelMap}}
			})
			st := h.g.Store()
			require.Eventually(t, func() bool { return scannedCount(st, connectors.AppBox) == 1 }, 45*time.Second, 20*time.Millisecond)
			rec, ok := fileByName(st, connectors.AppBox, "Board.docx")
			require.True(t, ok)
			require.True(t, rec.Protected)
			act := removeLabelViaAdmin(t, h, rec.Ref)
			require.Equal(t, store.ActionRefused, act.State, act.Reason)
			require.Contains(t, act.Reason, "protection applied outside labelgate")
			require.Equal(t, "General", em.Classification("1001"))
			require.Zero(t, em.LabelWrites("1001"))
		})
	}
}
