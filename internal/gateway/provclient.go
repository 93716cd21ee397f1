package gateway

import (
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/labelgate/labelgate/connectors/box"
	"github.com/labelgate/labelgate/connectors/gdrive"
	"github.com/labelgate/labelgate/connectors/pacer"
	"github.com/labelgate/labelgate/connectors/provmetrics"
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
