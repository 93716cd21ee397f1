package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Every answer of the public listener carries nosniff, unknown paths included.
func TestPublicAnswersCarryNoSniff(t *testing.T) {
	t.Parallel()
	h := Handler(Config{Registry: NewRegistry()})
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/nope"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, p, nil))
		if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", p, got)
		}
	}
}
