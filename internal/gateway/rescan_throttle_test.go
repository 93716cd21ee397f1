package gateway

import (
	"context"
	"fmt"
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

// TestRescanSurvivesThrottling throttles a SharePoint rescan mid-walk through the Graph
// emulator: the walk waits out the 429s (and a 503), resumes from its cursor without
// re-reading what it had done, and finishes with every file counted once. Throttling that
// never ends fails the rescan once the retry budget is spent.
func TestRescanSurvivesThrottling(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	em, err := emulator.New(emulator.Options{Manifest: graphManifest(), ClientID: "e2e-app", ClientSecret: "e2e-secret", PageSize: 3})
	require.NoError(t, err)
	t.Cleanup(em.Close)
	const files = 8
	ids := make([]string, files)
	for i := range ids {
		ids[i], err = em.AddFile(graphSPDrive, "/", fmt.Sprintf("f%02d.docx", i+1), "", labeltest.Docx(labeltest.Options{}))
		require.NoError(t, err)
	}
	h := startGateway(t, storetest.Backends()[0], func(c *config.Config) {
		c.Connectors = []config.Connector{{Name: "sp", App: "sharepoint", Tenant: em.TenantID(), BaseURL: em.GraphURL(), AuthURL: em.URL(),
			ClientID: "e2e-app", ClientSecret: "e2e-secret", Domains: []string{"contoso.com"}}}
	})
	st := h.g.Store()
	// The baseline resync reads every file first; the faults below then hit only the rescan.
	require.Eventually(t, func() bool { return scannedCount(st, connectors.AppSharePoint) == files }, 45*time.Second, 20*time.Millisecond)

	perms := func(i int) string { return "/v1.0/drives/" + graphSPDrive + "/items/" + ids[i] + "/permissions" }
	// The walk's first delta page is the one request to items/root/delta() (the change feed
	// asks delta(token='latest') or its links, the walk's later pages are nextLinks).
	first := "GET /v1.0/drives/" + graphSPDrive + "/items/root/delta()"
	firstBefore := em.Requests(first)
	// The walk lists the root, then the files (3 per page): f05 is on the second page, after
	// four files were handed over; f08 on the third. The app lacks Sites.FullControl.All, so
	// every file's permissions are read.
	em.FailNext(perms(4), http.StatusTooManyRequests, time.Second, 2)
	em.FailNext(perms(7), http.StatusServiceUnavailable, 0, 1)

	r, err := h.g.StartRescan(ctx, "sp", "", true)
	require.NoError(t, err)
	r = waitRescan(t, st, r.ID)
	require.Equal(t, store.RescanDone, r.State, r.Error)
	require.EqualValues(t, files, r.Enumerated, "every file counted once despite three resumptions")
	require.EqualValues(t, files, r.Enqueued)
	// Resuming three times, the walk picked up at its cursor, never from the first page.
	require.Equal(t, firstBefore+1, em.Requests(first))

	// Throttling without end: the rescan fails once its budget is spent, saying why.
	h.g.rescans.mu.Lock()
	h.g.rescans.retryBudget = 2 * time.Second
	h.g.rescans.mu.Unlock()
	em.FailNext(perms(4), http.StatusTooManyRequests, time.Second, 1<<20)
	r2, err := h.g.StartRescan(ctx, "sp", "", true)
	require.NoError(t, err)
	r2 = waitRescan(t, st, r2.ID)
	require.Equal(t, store.RescanFailed, r2.State)
	require.Contains(t, r2.Error, "gave up retrying")
	require.Contains(t, r2.Error, "throttled")
	em.ClearFaults()
}
