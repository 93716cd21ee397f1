package box

import (
	"net/http"

	"github.com/labelgate/labelgate/connectors/provmetrics"
)

// OpName names a request of this connector for the provider metrics: API calls (base path
// "/2.0", uploads "/api/2.0") by method and path template, anything else — the pre-signed
// download locations Box redirects to (dl.boxcloud.com) — as a content read.
func OpName(req *http.Request) (string, provmetrics.Kind, bool) {
	if p := provmetrics.PathTemplate(req.URL.Path, "/2.0", "files", "folders", "webhooks", "collaborations"); p != "" {
		return "box " + req.Method + " " + p, provmetrics.Metadata, true
	}
	return "box read", provmetrics.Content, true
}
