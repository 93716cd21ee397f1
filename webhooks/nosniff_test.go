package webhooks_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/webhooks"
)

// The Graph validation answer echoes a caller-chosen token as text/plain; with nosniff no
// browser renders it as HTML. Refusals carry it too.
func TestWebhookAnswersCarryNoSniff(t *testing.T) {
	t.Parallel()
	x := setupHostile(t)
	for _, target := range []string{"sharepoint?validationToken=%3Chtml%3E%3Cscript%3Ex%3C/script%3E", "nope", "box"} {
		req := httptest.NewRequest(http.MethodPost, "http://labelgate.test"+webhooks.Prefix+target, nil)
		w := httptest.NewRecorder()
		x.h.ServeHTTP(w, req)
		require.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"), target)
	}
}
