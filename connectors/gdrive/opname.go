package gdrive

import (
	"net/http"

	"github.com/labelgate/labelgate/connectors/provmetrics"
)

// OpName names a request of this connector for the provider metrics: Drive v3 and Drive
// Labels v2 calls by method and path template; a files.get with alt=media (a ranged
// download) is a content read.
func OpName(req *http.Request) (string, provmetrics.Kind, bool) {
	if req.URL.Query().Get("alt") == "media" {
		return "gdrive download", provmetrics.Content, true
	}
	for _, base := range []string{"/drive/v3", "/v2"} {
		if p := provmetrics.PathTemplate(req.URL.Path, base, "files", "drives", "labels", "revisions"); p != "" {
			return "gdrive " + req.Method + " " + p, provmetrics.Metadata, true
		}
	}
	return "", "", false
}
