package gateway

import (
	"net/http"
	"time"

	"github.com/labelgate/labelgate/connectors/box"
	"github.com/labelgate/labelgate/connectors/gdrive"
	"github.com/labelgate/labelgate/connectors/provmetrics"
)

// providerClient is the HTTP client a connector of app sends its provider requests with:
// measured by prov (labelgate_provider_* metrics, per-scan tallies) and keeping enough idle
// connections per host for every queue worker (net/http's default keeps 2, so 8 workers
// against one API host opened and closed connections on most requests). nil when the app
// sends no HTTP requests (file shares) or prov is nil.
func providerClient(prov *provmetrics.Recorder, app string) *http.Client {
	if prov == nil {
		return nil
	}
	var namer provmetrics.Namer
	timeout := time.Duration(0)
	switch app {
	case "box":
		namer = box.OpName
	case "gdrive":
		namer = gdrive.OpName
	case "sharepoint", "onedrive":
		// Graph names its requests in their context (its one call path); the SDK's
		// default client had a 100 s timeout, kept here.
		timeout = 100 * time.Second
	default:
		return nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 64
	return &http.Client{Transport: prov.Transport(app, tr, namer), Timeout: timeout}
}
