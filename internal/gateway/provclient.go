package gateway

import (
	"context"
	"maps"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labelgate/labelgate/connectors/box"
	"github.com/labelgate/labelgate/connectors/gdrive"
	"github.com/labelgate/labelgate/connectors/pacer"
	"github.com/labelgate/labelgate/connectors/provmetrics"
	"github.com/labelgate/labelgate/internal/store"
)

// pacers holds one adaptive pacer per provider and tenant: SharePoint and OneDrive connectors
// of one tenant share Graph's per-app-per-tenant budget, so they share a pacer.
type pacers struct {
	mu sync.Mutex
	m  map[string]*pacer.Pacer
}

func (ps *pacers) get(provider, tenant string, start float64) *pacer.Pacer {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.m == nil {
		ps.m = map[string]*pacer.Pacer{}
	}
	k := provider + "/" + tenant
	p, ok := ps.m[k]
	if !ok {
		p = pacer.New(pacer.Options{Start: start})
		ps.m[k] = p
	}
	return p
}

// each calls fn for every pacer made so far.
func (ps *pacers) each(fn func(key string, p *pacer.Pacer)) {
	ps.mu.Lock()
	m := maps.Clone(ps.m)
	ps.mu.Unlock()
	for k, p := range m {
		fn(k, p)
	}
}

// pacerShareEvery is how often a replica says which tenants it paces and learns how many
// replicas share each one's budget; well inside store.PacerShareTTL.
const pacerShareEvery = store.PacerShareTTL / 3

// pacerLoop shares each provider tenant's request budget with the other replicas pacing it
// (the scheme is in package pacer): it records this replica in the database and sets each
// pacer's share to the live replicas counted there.
func (g *Gateway) pacerLoop(ctx context.Context) {
	t := time.NewTicker(pacerShareEvery)
	defer t.Stop()
	for {
		g.sharePacers(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (g *Gateway) sharePacers(ctx context.Context) {
	g.pacers.each(func(key string, p *pacer.Pacer) {
		provider, tenant, _ := strings.Cut(key, "/")
		n, err := g.store.PacerShares(ctx, provider, tenant, g.id)
		if err != nil {
			if ctx.Err() == nil {
				g.log.Warn("pacing: cannot count the replicas sharing a tenant's budget; keeping the last share", "provider", provider, "tenant", tenant, "err", err)
			}
			return
		}
		if old := p.Share(); old != n {
			g.log.Info("pacing: replicas sharing the tenant's budget changed", "provider", provider, "tenant", tenant, "replicas", n, "was", old)
		}
		p.SetShare(n)
	})
}

// providerClient is the HTTP client a connector of app sends its provider requests with:
// paced by the tenant's adaptive pacer, measured by prov (labelgate_provider_* metrics,
// per-scan tallies), and keeping enough idle connections per host for every queue worker
// (net/http's default keeps 2, so 8 workers against one API host opened and closed
// connections on most requests). nil when the app sends no HTTP requests (file shares) or
// prov is nil.
func providerClient(prov *provmetrics.Recorder, ps *pacers, app, tenant string) *http.Client {
	if prov == nil {
		return nil
	}
	var namer provmetrics.Namer
	timeout := time.Duration(0)
	var p *pacer.Pacer
	switch app {
	case "box":
		namer = box.OpName
		p = ps.get("box", tenant, pacer.BoxRate)
	case "gdrive":
		namer = gdrive.OpName
		p = ps.get("gdrive", tenant, pacer.DriveRate)
	case "sharepoint", "onedrive":
		// Graph names its requests in their context (its one call path); the SDK's
		// default client had a 100 s timeout, kept here.
		timeout = 100 * time.Second
		p = ps.get("graph", tenant, pacer.GraphRate)
	default:
		return nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: p.Transport(prov.Transport(app, tr, namer)), Timeout: timeout}
}

// unpaced is the Drive connector's own fixed rate when the transport paces instead.
const unpaced = math.MaxFloat64
