package webhooks_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/webhooks"
)

// hmacReceiver is a minimal provider protocol for testing the ingress itself: the body is
// {"drive":..,"id":..} signed with X-Sig = hex(HMAC-SHA256(key, body)); ?handshake=T echoes T.
// The real providers' receivers are tested in their connector packages.
type hmacReceiver struct{ key []byte }

func (h hmacReceiver) Receive(_ context.Context, req connectors.Request) (connectors.Reply, []connectors.Notice, error) {
	if tok := req.Query.Get("handshake"); tok != "" {
		return connectors.Reply{Status: 200, ContentType: "text/plain", Body: []byte(tok)}, nil, nil
	}
	mac := hmac.New(sha256.New, h.key)
	mac.Write(req.Body)
	got, err := hex.DecodeString(req.Header.Get("X-Sig"))
	if err != nil || !hmac.Equal(got, mac.Sum(nil)) {
		return connectors.Reply{}, nil, fmt.Errorf("signature: %w", connectors.ErrForged)
	}
	var body struct{ Drive, ID string }
	if err := json.Unmarshal(req.Body, &body); err != nil || body.Drive == "" {
		return connectors.Reply{}, nil, fmt.Errorf("body: %w", connectors.ErrMalformed)
	}
	return connectors.Reply{}, []connectors.Notice{{Kind: connectors.NoticeChanged, Tenant: "t", Drive: body.Drive, DedupKey: body.ID}}, nil
}

// storeSink records notices as changed drives in the real store.
type storeSink struct {
	s    *store.Store
	mu   sync.Mutex
	fail error
}

func (k *storeSink) Notice(ctx context.Context, n connectors.Notice) error {
	k.mu.Lock()
	fail := k.fail
	k.mu.Unlock()
	if fail != nil {
		return fail
	}
	return k.s.MarkDriveChanged(ctx, n.App, n.Tenant, n.Drive, string(n.Kind))
}

type bundle struct {
	srv  *httptest.Server
	st   *store.Store
	sink *storeSink
	reg  *prometheus.Registry
	logs *bytes.Buffer
}

func setup(t *testing.T) *bundle {
	t.Helper()
	st := storetest.OpenSQLite(t)
	b := &bundle{st: st, sink: &storeSink{s: st}, reg: prometheus.NewRegistry(), logs: &bytes.Buffer{}}
	h := webhooks.New(webhooks.Config{
		Routes:       []webhooks.Route{{Name: "box-main", App: connectors.AppBox, Receiver: hmacReceiver{key: []byte("k")}}},
		Sink:         b.sink,
		Dedup:        st,
		MaxBodyBytes: 256,
		Logger:       slog.New(slog.NewTextHandler(&syncWriter{w: b.logs}, nil)),
		Registerer:   b.reg,
	})
	mux := http.NewServeMux()
	mux.Handle(webhooks.Prefix, h)
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	return b
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func sign(body string) string {
	m := hmac.New(sha256.New, []byte("k"))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

func (b *bundle) post(t *testing.T, path, body, sig string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.srv.URL+path, strings.NewReader(body))
	require.NoError(t, err)
	if sig != "" {
		req.Header.Set("X-Sig", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

func (b *bundle) changed(t *testing.T) []store.ChangedDrive {
	ds, err := b.st.ChangedDrives(context.Background(), 100)
	require.NoError(t, err)
	return ds
}

func TestAcceptedNoticeIsRecordedAndAcked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := `{"drive":"d1","id":"n1"}`
	resp := b.post(t, "/webhooks/box-main", body, sign(body))
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	ds := b.changed(t)
	require.Len(t, ds, 1)
	require.Equal(t, connectors.AppBox, ds[0].App, "route app fills the notice")
	require.Equal(t, 1.0, testutil.ToFloat64(mustCounter(t, b.reg, "box-main", webhooks.OutcomeAccepted)))
}

func TestHandshakeEchoes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, err := http.Post(b.srv.URL+"/webhooks/box-main?handshake=abc%20def", "text/plain", nil)
	require.NoError(t, err)
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "text/plain", resp.Header.Get("Content-Type"))
	require.Equal(t, "abc def", string(got))
	require.Empty(t, b.changed(t))
}

func TestRejectedRequestsChangeNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	good := `{"drive":"d1","id":"n1"}`
	big := `{"drive":"d1","id":"` + strings.Repeat("x", 400) + `"}`
	cases := []struct {
		name, path, body, sig string
		status                int
	}{
		{"forged signature", "/webhooks/box-main", good, sign("other"), http.StatusUnauthorized},
		{"no signature", "/webhooks/box-main", good, "", http.StatusUnauthorized},
		{"tampered body", "/webhooks/box-main", `{"drive":"d2","id":"n1"}`, sign(good), http.StatusUnauthorized},
		{"malformed json", "/webhooks/box-main", `{"drive":`, sign(`{"drive":`), http.StatusBadRequest},
		{"oversized body", "/webhooks/box-main", big, sign(big), http.StatusRequestEntityTooLarge},
		{"unknown route", "/webhooks/nope", good, sign(good), http.StatusNotFound},
		{"nested route", "/webhooks/box-main/x", good, sign(good), http.StatusNotFound},
	}
	for _, c := range cases {
		resp := b.post(t, c.path, c.body, c.sig)
		require.Equal(t, c.status, resp.StatusCode, c.name)
	}
	resp, err := http.Get(b.srv.URL + "/webhooks/box-main")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.Empty(t, b.changed(t), "nothing recorded")
	require.Contains(t, b.logs.String(), "webhook rejected")
	require.Contains(t, b.logs.String(), "outcome=forged")
}

func TestDuplicateDeliveryDropped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := `{"drive":"d1","id":"same"}`
	for i := 0; i < 3; i++ {
		require.Equal(t, http.StatusAccepted, b.post(t, "/webhooks/box-main", body, sign(body)).StatusCode)
	}
	ds := b.changed(t)
	require.Len(t, ds, 1)
	require.EqualValues(t, 1, ds[0].Generation, "only the first delivery reached the sink")
	require.Equal(t, 2.0, testutil.ToFloat64(mustCounter(t, b.reg, "box-main", webhooks.OutcomeDuplicate)))
}

func TestSinkFailureAsksForRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.sink.mu.Lock()
	b.sink.fail = fmt.Errorf("database down")
	b.sink.mu.Unlock()
	body := `{"drive":"d1","id":"n9"}`
	require.Equal(t, http.StatusServiceUnavailable, b.post(t, "/webhooks/box-main", body, sign(body)).StatusCode)
}

func TestConcurrentDeliveriesAllRecorded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := fmt.Sprintf(`{"drive":"d%d","id":"n%d"}`, i%10, i)
			req, _ := http.NewRequest(http.MethodPost, b.srv.URL+"/webhooks/box-main", strings.NewReader(body))
			req.Header.Set("X-Sig", sign(body))
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				resp.Body.Close()
			}
		}(i)
	}
	wg.Wait()
	require.Eventually(t, func() bool { return len(b.changed(t)) == 10 }, 5*time.Second, 10*time.Millisecond)
}

func mustCounter(t *testing.T, reg *prometheus.Registry, route, outcome string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "labelgate_webhook_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route && labels["outcome"] == outcome {
				return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x"}, func() float64 { return m.GetCounter().GetValue() })
			}
		}
	}
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x"}, func() float64 { return 0 })
}
