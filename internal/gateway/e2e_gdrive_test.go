package gateway

import (
	"context"
	"net/http"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/gdrive/emulator"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

// gdriveKey is a service account JSON key made for the test.
func gdriveKey(t *testing.T) string {
	t.Helper()
	b, err := emulator.ServiceAccountKey("labelgate-e2e")
	require.NoError(t, err)
	return string(b)
}

func repoTestdata(t *testing.T, rel string) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	return filepath.Join(filepath.Dir(file), "..", "..", "testdata", rel)
}

// TestGDriveEndToEnd drives the Google Drive connector through the real gateway against the
// Drive emulator: channels, a change arriving by notification + changes.list, its scan and
// access level, an admin apply-label through modifyLabels, and forged channel messages.
func TestGDriveEndToEnd(t *testing.T) {
	t.Parallel()
	b := storetest.Backends()[0]
	ctx := context.Background()
	m, err := emulator.LoadManifest(repoTestdata(t, "gdrive/tenant.json"))
	require.NoError(t, err)
	em, err := emulator.New(emulator.Options{Manifest: m})
	require.NoError(t, err)
	t.Cleanup(em.Close)
	const tenant, alice, aliceDrive = "example.com", "alice@example.com", "user:alice@example.com"
	start := time.Now()
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

	// Channels: created and stored as subscriptions.
	require.Eventually(t, func() bool {
		subs, err := st.Subscriptions(ctx, connectors.AppGDrive, tenant)
		return err == nil && len(subs) >= 2 && len(em.ActiveChannels()) == len(subs)
	}, 30*time.Second, 20*time.Millisecond)
	// Baselines taken: no drive left to read, the rescan a first baseline starts has finished
	// its walk, and the scans they queued have run (so the forged deliveries below are judged
	// against an idle queue).
	require.Eventually(t, func() bool {
		cds, err := st.ChangedDrives(ctx, 10)
		running, rerr := st.ListRescans(ctx, true, 10)
		stats, serr := h.g.sq.Stats(ctx)
		return err == nil && rerr == nil && serr == nil && len(cds) == 0 && len(running) == 0 &&
			stats.ByApp[string(connectors.AppGDrive)] == 0
	}, 30*time.Second, 20*time.Millisecond)

	// Forged channel token and an unknown channel: 401, nothing marked or queued.
	ch := em.ActiveChannels()[0]
	for name, hdr := range map[string]http.Header{
		"forged token": {"X-Goog-Channel-Id": {ch.ID}, "X-Goog-Channel-Token": {"forged"}, "X-Goog-Resource-Id": {ch.ResourceID},
			"X-Goog-Resource-State": {"change"}, "X-Goog-Message-Number": {"9999"}},
		"unknown channel": {"X-Goog-Channel-Id": {"no-such-channel"}, "X-Goog-Channel-Token": {"x"}, "X-Goog-Resource-Id": {"r"},
			"X-Goog-Resource-State": {"change"}, "X-Goog-Message-Number": {"9999"}},
	} {
		require.Equal(t, http.StatusUnauthorized, rawPost(t, h.g.PublicURL()+"/webhooks/gd", nil, hdr), name)
	}
	require.Never(t, func() bool {
		cds, err := st.ChangedDrives(ctx, 10)
		stats, serr := h.g.sq.Stats(ctx)
		return err != nil || serr != nil || len(cds) > 0 || stats.ByApp[string(connectors.AppGDrive)] > 0
	}, 500*time.Millisecond, 25*time.Millisecond)

	// A new, labelled, publicly shared file arrives through a notification + changes.list.
	_, err = em.AddFile(emulator.FileSpec{ID: "f-e2e", Name: "e2e.docx", Owner: alice,
		Data:        labeltest.Docx(labeltest.Options{LabelInfo: []labeltest.Label{labeltest.General()}}),
		Permissions: []emulator.Permission{{Type: "anyone", Role: "reader"}}})
	require.NoError(t, err)
	ref := connectors.FileRef{App: connectors.AppGDrive, Tenant: tenant, Drive: aliceDrive, ItemID: "f-e2e"}
	var rec store.FileRecord
	require.Eventually(t, func() bool {
		rec, err = st.GetFile(ctx, ref)
		return err == nil && !rec.LastScanned.IsZero()
	}, 30*time.Second, 20*time.Millisecond)
	require.Empty(t, rec.ScanError)
	require.Equal(t, labeltest.LabelGeneral, rec.LabelID)
	require.Equal(t, connectors.AccessPublic, rec.Access)

	// Admin apply-label goes through modifyLabels.
	_, err = h.g.SyncCatalog(ctx)
	require.NoError(t, err)
	act := applyLabelViaAdmin(t, h, ref, labeltest.LabelConfidential)
	require.Equal(t, store.ActionDone, act.State, act.Reason)
	require.Equal(t, []string{"ch-conf"}, em.FileLabels("f-e2e")["lbl-sens"]["fld-level"])
	require.Positive(t, em.LabelWrites("f-e2e"))
	t.Logf("gdrive flow took %v", time.Since(start))
}
