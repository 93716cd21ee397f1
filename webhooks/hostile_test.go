package webhooks_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/box"
	"github.com/labelgate/labelgate/connectors/gdrive"
	gdriveemu "github.com/labelgate/labelgate/connectors/gdrive/emulator"
	"github.com/labelgate/labelgate/connectors/graph"
	"github.com/labelgate/labelgate/internal/server"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/webhooks"
)

// Secrets the hostile fixture holds; none may ever reach a log line.
const (
	hClientState = "graph-client-state-Zq9x7Lw2"
	hChanToken   = "drive-channel-token-Pm4k8Hs1"
	hBoxPrimary  = "box-primary-key-Ty6v3Nc0"
	hBoxSecond   = "box-secondary-key-Rb5j2Xe9"

	hTenantGraph = "contoso.onmicrosoft.com"
	hTenantDrive = "example.com"
	hTenantBox   = "1234"
)

// countingSink records notices durably (changed drives in the real store) and counts calls,
// so a case can assert that nothing reached the queue.
type countingSink struct {
	s     *store.Store
	calls atomic.Int64
}

func (k *countingSink) Notice(ctx context.Context, n connectors.Notice) error {
	k.calls.Add(1)
	return k.s.MarkDriveChanged(ctx, n.App, n.Tenant, n.Drive, string(n.Kind))
}

type hostile struct {
	h    *webhooks.Handler
	st   *store.Store
	sink *countingSink
	logs *bytes.Buffer
	sw   *syncWriter
}

func (x *hostile) logText() string {
	x.sw.mu.Lock()
	defer x.sw.mu.Unlock()
	return x.logs.String()
}

var saKey = sync.OnceValue(func() []byte {
	out, _ := gdriveemu.ServiceAccountKey("labelgate-test")
	return out
})

// setupHostile wires the real Graph, Drive and Box receivers behind the real ingress with a
// SQLite store as sink and dedup.
func setupHostile(t testing.TB) *hostile {
	t.Helper()
	st := storetest.OpenSQLite(t)
	x := &hostile{st: st, sink: &countingSink{s: st}, logs: &bytes.Buffer{}}
	x.sw = &syncWriter{w: x.logs}
	log := slog.New(slog.NewTextHandler(x.sw, &slog.HandlerOptions{Level: slog.LevelDebug}))

	subs := &connectors.MemSubscriptions{}
	subs.Put(connectors.AppSharePoint, hTenantGraph, connectors.Subscription{ID: "sub-1", Drive: "drive-g", Secret: hClientState})
	subs.Put(connectors.AppGDrive, hTenantDrive, connectors.Subscription{ID: "chan-1", Drive: "drive-d", Secret: hChanToken, Resource: "res-1"})
	subs.Put(connectors.AppBox, hTenantBox, connectors.Subscription{ID: "wh-1", Drive: "folder-b"})

	g, err := graph.NewSharePoint(graph.Config{TenantID: hTenantGraph, BaseURL: "http://127.0.0.1:1/v1.0", Subscriptions: subs, Logger: log})
	require.NoError(t, err)
	d, err := gdrive.New(gdrive.Config{Tenant: hTenantDrive, ServiceAccountKey: saKey(), BaseURL: "http://127.0.0.1:1/",
		TokenURL: "http://127.0.0.1:1/token", AdminEmail: "admin@example.com", Subscriptions: subs, Logger: log})
	require.NoError(t, err)
	b, err := box.New(box.Config{EnterpriseID: hTenantBox, ClientID: "c", ClientSecret: "s", BaseURL: "http://127.0.0.1:1",
		PrimaryKey: hBoxPrimary, SecondaryKey: hBoxSecond, Subscriptions: subs, Logger: log})
	require.NoError(t, err)

	x.h = webhooks.New(webhooks.Config{
		Routes: []webhooks.Route{
			{Name: "sharepoint", App: connectors.AppSharePoint, Tenant: hTenantGraph, Receiver: g},
			{Name: "gdrive", App: connectors.AppGDrive, Tenant: hTenantDrive, Receiver: d},
			{Name: "box", App: connectors.AppBox, Tenant: hTenantBox, Receiver: b},
		},
		Sink:         x.sink,
		Dedup:        st,
		MaxBodyBytes: 4 << 10,
		Logger:       log,
	})
	return x
}

// hreq is one request to the ingress.
type hreq struct {
	route  string
	query  string
	header map[string]string
	body   string
}

func (x *hostile) do(t *testing.T, r hreq) (int, string) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(webhooks.Prefix, x.h)
	target := webhooks.Prefix + r.route
	if r.query != "" {
		target += "?" + r.query
	}
	req, err := http.NewRequest(http.MethodPost, "http://labelgate.test"+target, strings.NewReader(r.body))
	require.NoError(t, err)
	req.RemoteAddr = "203.0.113.7:4242"
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	w := newRecorder()
	mux.ServeHTTP(w, req)
	return w.code, w.buf.String()
}

// recorder is a minimal ResponseWriter (httptest.ResponseRecorder would do, but MaxBytesReader
// wants to find a real writer to close the connection on; a recorder is fine for that too).
type recorder struct {
	hdr  http.Header
	code int
	buf  bytes.Buffer
}

func newRecorder() *recorder                    { return &recorder{hdr: http.Header{}, code: 200} }
func (r *recorder) Header() http.Header         { return r.hdr }
func (r *recorder) Write(p []byte) (int, error) { return r.buf.Write(p) }
func (r *recorder) WriteHeader(c int)           { r.code = c }

func boxBody(webhook string) string {
	return fmt.Sprintf(`{"type":"webhook_event","id":"ev1","trigger":"FILE.UPLOADED","webhook":{"type":"webhook","id":%q},"source":{"type":"file","id":"f1","name":"a.docx"}}`, webhook)
}

// boxHeaders signs body at ts with primaryKey in the primary header and secondaryKey in the
// secondary header ("" leaves a header out).
func boxHeaders(id string, ts time.Time, body, primaryKey, secondaryKey string) map[string]string {
	stamp := ts.UTC().Format(time.RFC3339)
	h := map[string]string{box.HeaderDeliveryID: id, box.HeaderDeliveryTimestamp: stamp,
		box.HeaderSignatureAlgorithm: "HmacSHA256", box.HeaderSignatureVersion: "1"}
	if primaryKey != "" {
		h[box.HeaderSignaturePrimary] = box.Sign(primaryKey, []byte(body), stamp)
	}
	if secondaryKey != "" {
		h[box.HeaderSignatureSecondary] = box.Sign(secondaryKey, []byte(body), stamp)
	}
	return h
}

func graphBody(sub, state string) string {
	return fmt.Sprintf(`{"value":[{"subscriptionId":%q,"clientState":%q,"changeType":"updated","resource":"drives/drive-g/root","tenantId":%q}]}`, sub, state, hTenantGraph)
}

func driveHeaders(channel, token, num string) map[string]string {
	h := map[string]string{"X-Goog-Channel-ID": channel, "X-Goog-Resource-State": "change",
		"X-Goog-Message-Number": num, "X-Goog-Resource-ID": "res-1"}
	if token != "" {
		h["X-Goog-Channel-Token"] = token
	}
	return h
}

func TestHostileInputsAreRejectedAndNothingIsEnqueued(t *testing.T) {
	t.Parallel()
	now := time.Now()
	big := strings.Repeat("x", 8<<10)
	cases := []struct {
		name   string
		req    hreq
		status int
		echo   string // expected reply body, for handshakes
	}{
		{"box bad signature", hreq{route: "box", body: boxBody("wh-1"), header: boxHeaders("d1", now, boxBody("wh-1"), "not-the-key", "")}, http.StatusUnauthorized, ""},
		{"box only a wrong secondary key", hreq{route: "box", body: boxBody("wh-1"), header: boxHeaders("d2", now, boxBody("wh-1"), "", "wrong-secondary")}, http.StatusUnauthorized, ""},
		{"box signature over another body", hreq{route: "box", body: boxBody("wh-1"), header: boxHeaders("d3", now, boxBody("wh-2"), hBoxPrimary, "")}, http.StatusUnauthorized, ""},
		{"box stale timestamp", hreq{route: "box", body: boxBody("wh-1"), header: boxHeaders("d4", now.Add(-11*time.Minute), boxBody("wh-1"), hBoxPrimary, "")}, http.StatusUnauthorized, ""},
		{"box future timestamp", hreq{route: "box", body: boxBody("wh-1"), header: boxHeaders("d5", now.Add(time.Hour), boxBody("wh-1"), hBoxPrimary, "")}, http.StatusUnauthorized, ""},
		{"box missing headers", hreq{route: "box", body: boxBody("wh-1")}, http.StatusUnauthorized, ""},
		{"box invalid json", hreq{route: "box", body: `{"webhook":`, header: boxHeaders("d6", now, `{"webhook":`, hBoxPrimary, "")}, http.StatusBadRequest, ""},
		{"box oversized body", hreq{route: "box", body: big, header: boxHeaders("d7", now, big, hBoxPrimary, "")}, http.StatusRequestEntityTooLarge, ""},

		{"graph wrong clientState", hreq{route: "sharepoint", body: graphBody("sub-1", "guessed")}, http.StatusUnauthorized, ""},
		{"graph empty clientState", hreq{route: "sharepoint", body: graphBody("sub-1", "")}, http.StatusUnauthorized, ""},
		{"graph unknown subscription", hreq{route: "sharepoint", body: graphBody("sub-9", hClientState)}, http.StatusUnauthorized, ""},
		{"graph invalid json", hreq{route: "sharepoint", body: `{"value":[`}, http.StatusBadRequest, ""},
		{"graph no entries", hreq{route: "sharepoint", body: `{"value":[]}`}, http.StatusBadRequest, ""},
		{"graph oversized body", hreq{route: "sharepoint", body: `{"value":[],"pad":"` + big + `"}`}, http.StatusRequestEntityTooLarge, ""},

		{"drive unknown channel", hreq{route: "gdrive", header: driveHeaders("chan-9", hChanToken, "1")}, http.StatusUnauthorized, ""},
		{"drive wrong channel token", hreq{route: "gdrive", header: driveHeaders("chan-1", "guessed", "1")}, http.StatusUnauthorized, ""},
		{"drive no channel token", hreq{route: "gdrive", header: driveHeaders("chan-1", "", "1")}, http.StatusUnauthorized, ""},
		{"drive missing headers", hreq{route: "gdrive"}, http.StatusBadRequest, ""},
		{"drive bad message number", hreq{route: "gdrive", header: driveHeaders("chan-1", hChanToken, "one")}, http.StatusBadRequest, ""},
		{"drive oversized body", hreq{route: "gdrive", body: big, header: driveHeaders("chan-1", hChanToken, "2")}, http.StatusRequestEntityTooLarge, ""},

		{"unknown route", hreq{route: "dropbox", body: "{}"}, http.StatusNotFound, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			x := setupHostile(t)
			code, body := x.do(t, tc.req)
			require.Equal(t, tc.status, code, body)
			if tc.echo != "" {
				require.Equal(t, tc.echo, body)
			}
			require.Zero(t, x.sink.calls.Load(), "sink must not be called")
			ds, err := x.st.ChangedDrives(context.Background(), 10)
			require.NoError(t, err)
			require.Empty(t, ds, "nothing may be enqueued")
			require.Contains(t, x.logText(), "webhook rejected")
		})
	}
}

func TestHostileHandshakeEchoesWithoutEnqueueing(t *testing.T) {
	t.Parallel()
	x := setupHostile(t)
	code, body := x.do(t, hreq{route: "sharepoint", query: "validationToken=" + "abc%3Cscript%3E"})
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "abc<script>", body, "token echoed verbatim as text/plain")
	require.Zero(t, x.sink.calls.Load())
}

func TestHostileBoxReplayIsAcceptedButDropped(t *testing.T) {
	t.Parallel()
	x := setupHostile(t)
	body := boxBody("wh-1")
	r := hreq{route: "box", body: body, header: boxHeaders("replayed-1", time.Now(), body, hBoxPrimary, "")}
	code, _ := x.do(t, r)
	require.Equal(t, http.StatusAccepted, code)
	code, _ = x.do(t, r)
	require.Equal(t, http.StatusAccepted, code, "a replay is acknowledged so Box stops retrying")
	// The same signed body and timestamp under a fresh BOX-DELIVERY-ID (no signature covers
	// the header; Box's own retries look like this): deduplicated on the signed payload id.
	fresh := hreq{route: "box", body: body, header: maps.Clone(r.header)}
	fresh.header[box.HeaderDeliveryID] = "replayed-2"
	code, _ = x.do(t, fresh)
	require.Equal(t, http.StatusAccepted, code)
	require.EqualValues(t, 1, x.sink.calls.Load(), "the replays never reach the sink")
	ds, err := x.st.ChangedDrives(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, "folder-b", ds[0].Drive)
}

func TestHostileValidDeliveriesPassEveryRoute(t *testing.T) {
	t.Parallel()
	x := setupHostile(t)
	body := boxBody("wh-1")
	// Only the secondary key signs (primary rotated away): still genuine.
	code, _ := x.do(t, hreq{route: "box", body: body, header: boxHeaders("ok-1", time.Now(), body, "", hBoxSecond)})
	require.Equal(t, http.StatusAccepted, code)
	code, _ = x.do(t, hreq{route: "sharepoint", body: graphBody("sub-1", hClientState)})
	require.Equal(t, http.StatusAccepted, code)
	code, _ = x.do(t, hreq{route: "gdrive", header: driveHeaders("chan-1", hChanToken, "7")})
	require.Equal(t, http.StatusOK, code)
	require.EqualValues(t, 3, x.sink.calls.Load())
	ds, err := x.st.ChangedDrives(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, ds, 3)
}

// TestHostileLogsNeverCarrySecrets sends every kind of forged and genuine request, then scans
// the captured log output for each secret the receivers hold.
func TestHostileLogsNeverCarrySecrets(t *testing.T) {
	t.Parallel()
	x := setupHostile(t)
	now := time.Now()
	body := boxBody("wh-1")
	reqs := []hreq{
		{route: "box", body: body, header: boxHeaders("s1", now, body, hBoxPrimary, "")},
		{route: "box", body: body, header: boxHeaders("s2", now, body, "wrong", "")},
		{route: "box", body: body, header: boxHeaders("s3", now.Add(-time.Hour), body, hBoxPrimary, hBoxSecond)},
		{route: "box", body: `{`, header: boxHeaders("s4", now, `{`, hBoxPrimary, "")},
		{route: "box", body: boxBody("wh-unknown"), header: boxHeaders("s5", now, boxBody("wh-unknown"), hBoxSecond, "")},
		{route: "sharepoint", body: graphBody("sub-1", hClientState)},
		{route: "sharepoint", body: graphBody("sub-1", hClientState+"x")},
		{route: "sharepoint", body: graphBody("sub-9", hClientState)},
		{route: "sharepoint", body: `{"value":[{"clientState":"` + hClientState + `"}]}`},
		{route: "gdrive", header: driveHeaders("chan-1", hChanToken, "3")},
		{route: "gdrive", header: driveHeaders("chan-1", hChanToken+"x", "4")},
		{route: "gdrive", header: driveHeaders("chan-9", hChanToken, "5")},
	}
	for _, r := range reqs {
		x.do(t, r)
	}
	logs := x.logText()
	require.Contains(t, logs, "webhook rejected", "the forged requests were logged")
	for _, secret := range []string{hClientState, hChanToken, hBoxPrimary, hBoxSecond} {
		require.NotContains(t, logs, secret)
	}
}

// TestHostileSlowLorisIsCutOff dribbles a body through the production listener: the read
// deadline must end the request within bounds and nothing may be recorded.
func TestHostileSlowLorisIsCutOff(t *testing.T) {
	t.Parallel()
	x := setupHostile(t)
	mux := http.NewServeMux()
	mux.Handle(webhooks.Prefix, x.h)
	l, err := server.Listen("webhooks", "127.0.0.1:0", mux, "", "", 500*time.Millisecond, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	go func() { _ = l.Serve() }()
	t.Cleanup(func() { _ = l.Shutdown(context.Background()) })

	conn, err := net.DialTimeout("tcp", l.Addr(), 2*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	body := boxBody("wh-1")
	hdr := boxHeaders("slow-1", time.Now(), body, hBoxPrimary, "")
	var sb strings.Builder
	fmt.Fprintf(&sb, "POST /webhooks/box HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", l.Addr(), len(body))
	for k, v := range hdr {
		fmt.Fprintf(&sb, "%s: %s\r\n", k, v)
	}
	sb.WriteString("\r\n")
	_, err = conn.Write([]byte(sb.String()))
	require.NoError(t, err)

	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < len(body)-1; i++ { // never the last byte
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return
			}
			select {
			case <-time.After(100 * time.Millisecond):
			case <-t.Context().Done():
				return
			}
		}
	}()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		resp.Body.Close()
		require.GreaterOrEqual(t, resp.StatusCode, 400, "a dribbled body is never accepted")
	} else {
		var ne net.Error
		if errors.As(err, &ne) {
			require.False(t, ne.Timeout(), "the server, not the client deadline, ended it: %v", err)
		}
	}
	require.Less(t, time.Since(start), 5*time.Second, "cut off near the 500ms read timeout")
	conn.Close()
	<-done
	require.Zero(t, x.sink.calls.Load())
	ds, err := x.st.ChangedDrives(context.Background(), 10)
	require.NoError(t, err)
	require.Empty(t, ds)
}

var fuzzRoutes = []string{"box", "sharepoint", "gdrive"}

// FuzzHostileIngress throws arbitrary bodies (seeded from testdata/webhooks) at every real
// route: the ingress must answer one of its documented statuses, never panic, and nothing
// unacknowledged may reach the sink. The seeds hold no secret, so nothing may be accepted.
func FuzzHostileIngress(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("..", "testdata", "webhooks", "*"))
	require.NoError(f, err)
	require.NotEmpty(f, seeds)
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		for i := range fuzzRoutes {
			f.Add(uint8(i), string(b))
		}
	}
	x := setupHostile(f)
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		before := x.sink.calls.Load()
		code, _ := x.do(t, hreq{route: fuzzRoutes[int(route)%len(fuzzRoutes)], body: body,
			header: map[string]string{"X-Goog-Channel-ID": "chan-1", "X-Goog-Resource-State": "change", "X-Goog-Message-Number": "1"}})
		require.Contains(t, []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusRequestEntityTooLarge}, code)
		require.Equal(t, before, x.sink.calls.Load())
	})
}
