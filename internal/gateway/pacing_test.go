package gateway

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors/graph/emulator"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store/storetest"
)

// A replica learns from the database how many replicas pace a tenant and takes its share
// of the tenant's budget (the store test shows a silent replica dropping out).
func TestReplicasSharePacing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	em, err := emulator.New(emulator.Options{Manifest: graphManifest(), ClientID: "e2e-app", ClientSecret: "e2e-secret"})
	require.NoError(t, err)
	t.Cleanup(em.Close)
	h := startGateway(t, storetest.Backends()[len(storetest.Backends())-1], func(c *config.Config) {
		c.Connectors = []config.Connector{{Name: "sp", App: "sharepoint", Tenant: em.TenantID(), BaseURL: em.GraphURL(), AuthURL: em.URL(),
			ClientID: "e2e-app", ClientSecret: "e2e-secret", Domains: []string{"contoso.com"}}}
	})
	p := h.g.pacers.get("graph", em.TenantID(), 0)
	h.g.sharePacers(ctx)
	require.Equal(t, 1, p.Share())
	alone := p.Rate()

	_, err = h.g.Store().PacerShares(ctx, "graph", em.TenantID(), "another-replica")
	require.NoError(t, err)
	h.g.sharePacers(ctx)
	require.Equal(t, 2, p.Share())
	require.InDelta(t, alone/2, p.Rate(), alone/4, "two replicas: each at about half")
}
