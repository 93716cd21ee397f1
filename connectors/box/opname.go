package box

import (
	"net/http"

	"github.com/labelgate/labelgate/connectors/provmetrics"
)

// OpName names a request of this connector for the provider metrics: API calls (base path
// "/2.0", uploads "/api/2.0") by method and path template, anything else — the pre-signed
// download locations Box redirects to (dl.boxcloud.com) — as a content read. The download
// endpoint itself (GET /files/{id}/content) is a content read too: it is the request that
// returns the file's bytes (box-openapi.json, "Download file": 200 with the binary content
// for a client that follows its redirect); the connector follows the redirect by hand and
// names that hop provmetrics.Redirected, so a download is one read, not two.
func OpName(req *http.Request) (string, provmetrics.Kind, bool) {
	if p := provmetrics.PathTemplate(req.URL.Path, "/2.0", "files", "folders", "webhooks", "collaborations"); p != "" {
		if req.Method == http.MethodGet && p == "/files/{id}/content" {
			return "box download", provmetrics.Content, true
		}
		return "box " + req.Method + " " + p, provmetrics.Metadata, true
	}
	return "box read", provmetrics.Content, true
}
