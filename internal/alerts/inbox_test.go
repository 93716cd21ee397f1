package alerts_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/internal/alerts"
	"github.com/labelgate/labelgate/internal/store"
)

// mergedDoc is the admin API document, which carries the alerts fragment merged in; the
// fragment's paths and schemas must stand there unchanged.
func mergedDoc(t *testing.T) *openapi3.T {
	t.Helper()
	base, err := os.ReadFile("../admin/openapi.json")
	require.NoError(t, err)
	var doc, frag map[string]any
	require.NoError(t, json.Unmarshal(base, &doc))
	require.NoError(t, json.Unmarshal(alerts.OpenAPI(), &frag))
	paths := doc["paths"].(map[string]any)
	for k, v := range frag["paths"].(map[string]any) {
		require.Equal(t, v, paths[k], "admin openapi.json is out of date for %s", k)
	}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)
	for k, v := range frag["components"].(map[string]any)["schemas"].(map[string]any) {
		require.Equal(t, v, schemas[k], "admin openapi.json is out of date for schema %s", k)
	}
	// The test server's address is not the document's; route on paths alone.
	delete(doc, "servers")
	raw, err := json.Marshal(doc)
	require.NoError(t, err)
	d, err := openapi3.NewLoader().LoadFromData(raw)
	require.NoError(t, err)
	require.NoError(t, d.Validate(context.Background()))
	return d
}

func TestInboxHandlerMatchesOpenAPI(t *testing.T) {
	t.Parallel()
	f := setup(t, fixtureOpt{})
	for i := range 3 {
		file := spFile(fmt.Sprint(i), "/", fmt.Sprintf("f%d.docx", i), "")
		f.scan(t, file, "L1")
		f.scan(t, file, "")
	}
	f.tick(t)
	srv := httptest.NewServer(f.eng.Inbox().Handler(alerts.HandlerOptions{}))
	t.Cleanup(srv.Close)
	doc := mergedDoc(t)
	router, err := legacy.NewRouter(doc)
	require.NoError(t, err)

	// call sends a request and checks request and response against the document.
	call := func(method, path, body string) (int, []byte) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, srv.URL+path, rd)
		require.NoError(t, err)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		route, params, err := router.FindRoute(req)
		require.NoError(t, err, "%s %s is documented", method, path)
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if body != "" {
			req.Body = io.NopCloser(strings.NewReader(body))
		}
		require.NoError(t, openapi3filter.ValidateRequest(context.Background(), in))
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
			Body: io.NopCloser(strings.NewReader(string(raw)))}
		require.NoError(t, openapi3filter.ValidateResponse(context.Background(), out), string(raw))
		return resp.StatusCode, raw
	}

	code, raw := call("GET", "/api/v1/alerts?limit=2", "")
	require.Equal(t, 200, code)
	var page alerts.Page
	require.NoError(t, json.Unmarshal(raw, &page))
	require.Len(t, page.Items, 2)
	require.NotEmpty(t, page.NextPageToken)
	code, raw = call("GET", "/api/v1/alerts?limit=2&pageToken="+page.NextPageToken, "")
	require.Equal(t, 200, code)
	var rest alerts.Page
	require.NoError(t, json.Unmarshal(raw, &rest))
	require.Len(t, rest.Items, 1)
	require.Empty(t, rest.NextPageToken)
	id := rest.Items[0].ID

	code, raw = call("POST", fmt.Sprintf("/api/v1/alerts/%d/ack", id), `{"by":"ann@contoso.com"}`)
	require.Equal(t, 200, code)
	var a store.Alert
	require.NoError(t, json.Unmarshal(raw, &a))
	require.Equal(t, store.AlertAcknowledged, a.State)
	require.Equal(t, "ann@contoso.com", a.AckedBy)

	code, raw = call("POST", fmt.Sprintf("/api/v1/alerts/%d/resolve", id), "")
	require.Equal(t, 200, code)
	require.NoError(t, json.Unmarshal(raw, &a))
	require.Equal(t, store.AlertResolved, a.State)
	require.Equal(t, "admin", a.ResolvedBy)

	code, _ = call("POST", fmt.Sprintf("/api/v1/alerts/%d/ack", id), "")
	require.Equal(t, http.StatusConflict, code)
	code, _ = call("POST", "/api/v1/alerts/999999/resolve", "")
	require.Equal(t, http.StatusNotFound, code)
	code, _ = call("GET", "/api/v1/alerts?state=resolved", "")
	require.Equal(t, 200, code)
	code, _ = call("GET", "/api/v1/alerts?state=all&severity=high&rule=label_removed", "")
	require.Equal(t, 200, code)

	// Requests the document forbids are refused by the handler too.
	for _, bad := range []string{"/api/v1/alerts?state=closed", "/api/v1/alerts?pageToken=x", "/api/v1/alerts?limit=0"} {
		resp, err := http.Get(srv.URL + bad)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, bad)
	}
	resp, err := http.Post(srv.URL+"/api/v1/alerts/x/ack", "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)

	// The admin mux names the actor from its token.
	h := f.eng.Inbox().Handler(alerts.HandlerOptions{Actor: func(*http.Request) string { return "token:ops" }})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", fmt.Sprintf("/api/v1/alerts/%d/ack", page.Items[0].ID), nil))
	require.Equal(t, 200, rec.Code)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &a))
	require.Equal(t, "token:ops", a.AckedBy)
}

func TestSignAndVerify(t *testing.T) {
	t.Parallel()
	body := []byte(`{"type":"alert"}`)
	// Vector: HMAC-SHA256("whsec-test", "1700000000.{\"type\":\"alert\"}").
	sig := alerts.Sign("whsec-test", "1700000000", body)
	require.Equal(t, "v1=f8f04ac0709db95ae4d620aebdae4aecbbe664c3b2238b45630181bf59c26e05", sig)
	h := http.Header{}
	h.Set(alerts.HeaderTimestamp, "1700000000")
	h.Set(alerts.HeaderSignature, sig)
	now := time.Unix(1700000060, 0)
	require.NoError(t, alerts.Verify("whsec-test", h, body, now, 5*time.Minute))
	require.ErrorIs(t, alerts.Verify("other", h, body, now, 5*time.Minute), alerts.ErrBadSignature)
	require.ErrorIs(t, alerts.Verify("whsec-test", h, []byte(`{"type":"alert "}`), now, 5*time.Minute), alerts.ErrBadSignature)
	require.ErrorIs(t, alerts.Verify("whsec-test", h, body, now.Add(time.Hour), 5*time.Minute), alerts.ErrBadSignature, "stale")
	h.Set(alerts.HeaderSignature, "v1=00, "+sig) // rotation: any listed signature may match
	require.NoError(t, alerts.Verify("whsec-test", h, body, now, 5*time.Minute))
}
