package gateway

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

// TestScannerKeepsEveryTenantsLabel: with labels.tenantId set (Contoso), a file carrying labels
// of two tenants gets Contoso's as its label, keeps both in the inventory, and counts as
// carrying an external label; a legacy .xls and a sublabel are read too.
func TestScannerKeepsEveryTenantsLabel(t *testing.T) {
	t.Parallel()
	share := filepath.Join(t.TempDir(), "share")
	require.NoError(t, os.MkdirAll(share, 0o755))
	g := labeltest.General()
	fab := labeltest.Label{ID: labeltest.LabelPublic, Tenant: labeltest.TenantFabrikam, Method: "Standard", SetDate: "2030-01-01T00:00:00Z"}
	child := labeltest.Label{ID: labeltest.LabelChild, Tenant: labeltest.TenantContoso, Method: "Standard", SetDate: g.SetDate}
	files := map[string][]byte{
		"two.docx":   labeltest.Docx(labeltest.Options{LabelInfo: []labeltest.Label{g}, Custom: []labeltest.Label{fab}}),
		"legacy.xls": labeltest.Legacy("excel", labeltest.LegacyOptions{Props: []labeltest.Label{g}}),
		"sub.pptx":   labeltest.Pptx(labeltest.Options{Custom: labeltest.Sublabel(child, g)}),
	}
	for n, d := range files {
		require.NoError(t, os.WriteFile(filepath.Join(share, n), d, 0o644))
	}
	h := startGateway(t, storetest.Backends()[0], func(c *config.Config) {
		c.Connectors = []config.Connector{{Name: "shares", App: "fileshare", Roots: []string{share}}}
	})
	ctx := context.Background()
	st := h.g.Store()
	r, err := h.g.StartRescan(ctx, "shares", "", false)
	require.NoError(t, err)
	require.Equal(t, store.RescanDone, waitRescan(t, st, r.ID).State)
	require.Eventually(t, func() bool { return scannedCount(st, connectors.AppFileShare) == len(files) }, 30*time.Second, 20*time.Millisecond)

	two, ok := fileByName(st, connectors.AppFileShare, "two.docx")
	require.True(t, ok)
	require.Empty(t, two.ScanError)
	require.Equal(t, labeltest.LabelGeneral, two.LabelID, "the organisation's label, though Fabrikam's is newer")
	require.True(t, two.LabelExternal, "it carries Fabrikam's label")
	ls, err := st.FileLabels(ctx, two.Ref)
	require.NoError(t, err)
	require.Len(t, ls, 2)
	require.Equal(t, "labelinfo", ls[0].Source)
	require.False(t, ls[0].External)
	require.Equal(t, labeltest.LabelPublic, ls[1].LabelID)
	require.Equal(t, "custom", ls[1].Source)
	require.True(t, ls[1].External)

	leg, ok := fileByName(st, connectors.AppFileShare, "legacy.xls")
	require.True(t, ok)
	require.Empty(t, leg.ScanError)
	require.Equal(t, "excel", leg.Type)
	require.Equal(t, labeltest.LabelGeneral, leg.LabelID)
	require.False(t, leg.LabelExternal)

	sub, ok := fileByName(st, connectors.AppFileShare, "sub.pptx")
	require.True(t, ok)
	require.Equal(t, labeltest.LabelChild, sub.LabelID)
	ls, err = st.FileLabels(ctx, sub.Ref)
	require.NoError(t, err)
	require.Len(t, ls, 1)
	require.Equal(t, labeltest.LabelGeneral, ls[0].ParentID)

	// Fabrikam's label is recorded as an external label of the catalog.
	cat, err := st.ListLabels(ctx, store.LabelFilter{App: connectors.AppFileShare})
	require.NoError(t, err)
	found := false
	for _, l := range cat {
		found = found || (l.External && l.ID == labeltest.LabelPublic)
	}
	require.True(t, found)
}
