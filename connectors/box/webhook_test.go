package box_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/box"
)

type vector struct {
	Name         string            `json:"name"`
	PrimaryKey   string            `json:"primaryKey"`
	SecondaryKey string            `json:"secondaryKey"`
	Now          time.Time         `json:"now"`
	Body         string            `json:"body"`
	Headers      map[string]string `json:"headers"`
	Verdict      string            `json:"verdict"` // accept, forged, malformed
	DedupKey     string            `json:"dedupKey"`
	ItemID       string            `json:"itemId"`
	Drive        string            `json:"drive"`
	WebhookID    string            `json:"webhookId"`
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	paths, err := filepath.Glob("../../testdata/box/signatures/*.json")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(paths), 10)
	var out []vector
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		var v vector
		require.NoError(t, json.Unmarshal(raw, &v), p)
		out = append(out, v)
	}
	return out
}

func (v vector) request() connectors.Request {
	h := http.Header{}
	for k, val := range v.Headers {
		h.Set(k, val)
	}
	return connectors.Request{Header: h, Body: []byte(v.Body), Now: v.Now}
}

func TestSignatureVectors(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			subs := &connectors.MemSubscriptions{}
			subs.Put(connectors.AppBox, "E1000", connectors.Subscription{ID: "wh-1", Drive: "100"})
			conn, err := box.New(box.Config{EnterpriseID: "E1000", PrimaryKey: v.PrimaryKey, SecondaryKey: v.SecondaryKey,
				Subscriptions: subs, Roots: []string{"100"}})
			require.NoError(t, err)
			_, notices, err := conn.Receive(context.Background(), v.request())
			switch v.Verdict {
			case "accept":
				require.NoError(t, err)
				require.Equal(t, []connectors.Notice{{Kind: connectors.NoticeChanged, App: connectors.AppBox, Tenant: "E1000",
					Drive: v.Drive, ItemID: v.ItemID, SubscriptionID: v.WebhookID, DedupKey: v.DedupKey}}, notices)
				// A replay of the same delivery carries the same dedup key, so the ingress drops it.
				_, again, err := conn.Receive(context.Background(), v.request())
				require.NoError(t, err)
				require.Equal(t, notices[0].DedupKey, again[0].DedupKey)
			case "forged":
				require.ErrorIs(t, err, connectors.ErrForged)
				require.Empty(t, notices)
			case "malformed":
				require.ErrorIs(t, err, connectors.ErrMalformed)
				require.Empty(t, notices)
			default:
				t.Fatalf("unknown verdict %q", v.Verdict)
			}
		})
	}
}

func TestSignMatchesVectors(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t) {
		if v.Name != "valid-both" {
			continue
		}
		ts := v.Headers[box.HeaderDeliveryTimestamp]
		require.Equal(t, v.Headers[box.HeaderSignaturePrimary], box.Sign(v.PrimaryKey, []byte(v.Body), ts))
		require.Equal(t, v.Headers[box.HeaderSignatureSecondary], box.Sign(v.SecondaryKey, []byte(v.Body), ts))
	}
}

func TestReceiveWithoutKeysFailsClosed(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)[0]
	conn, err := box.New(box.Config{EnterpriseID: "E1000"})
	require.NoError(t, err)
	_, notices, err := conn.Receive(context.Background(), v.request())
	require.ErrorIs(t, err, connectors.ErrForged)
	require.Empty(t, notices)
}

// gateway is a stand-in for the webhook ingress: raw body → Receive → record.
type gateway struct {
	conn    *box.Conn
	mu      sync.Mutex
	notices []connectors.Notice
	errs    []error
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	_, ns, err := g.conn.Receive(r.Context(), connectors.Request{Header: r.Header, Query: r.URL.Query(), Body: body, Now: time.Now()})
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		g.errs = append(g.errs, err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	g.notices = append(g.notices, ns...)
	w.WriteHeader(http.StatusAccepted)
}

func (g *gateway) take() ([]connectors.Notice, []error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n, e := g.notices, g.errs
	g.notices, g.errs = nil, nil
	return n, e
}

func TestSubscribeAndSignedDeliveries(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	gw := &gateway{conn: f.conn}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)

	sub, err := f.conn.Subscribe(ctx, connectors.Drive{ID: "100", Tenant: "E1000"}, srv.URL)
	require.NoError(t, err)
	require.NotEmpty(t, sub.ID)
	require.WithinDuration(t, f.clock.Now().Add(48*time.Hour), sub.Expires, time.Second,
		"Box webhooks do not expire: Expires is when Renew next checks the webhook")
	f.subs.Put(connectors.AppBox, "E1000", sub)
	hooks := f.emu.Webhooks()
	require.Len(t, hooks, 1)
	require.Equal(t, "100", hooks[0].TargetID)
	require.ElementsMatch(t, box.Triggers, hooks[0].Triggers)

	// Subscribing again adopts the existing webhook (Box allows one per item per app per user).
	again, err := f.conn.Subscribe(ctx, connectors.Drive{ID: "100"}, srv.URL)
	require.NoError(t, err)
	require.Equal(t, sub.ID, again.ID)

	require.NoError(t, f.emu.ModifyFile("1101", []byte("new numbers")))
	require.NoError(t, f.emu.ModifyFile("2001", []byte("not under the webhook's folder")))
	notices, errs := gw.take()
	require.Empty(t, errs)
	ds := f.emu.Deliveries()
	require.Len(t, ds, 1)
	require.Equal(t, []connectors.Notice{{Kind: connectors.NoticeChanged, App: connectors.AppBox, Tenant: "E1000",
		Drive: "100", ItemID: "1101", SubscriptionID: sub.ID, DedupKey: "box:" + ds[0].PayloadID}}, notices)

	// A replayed delivery passes verification (within ten minutes) with the same dedup key.
	status, err := f.emu.Redeliver(ds[0], srv.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status)
	replayed, _ := gw.take()
	require.Equal(t, notices[0].DedupKey, replayed[0].DedupKey)

	// The same delivery replayed with a fresh BOX-DELIVERY-ID (unsigned) keeps its dedup key.
	status, err = f.emu.ReplayWithFreshID(ds[0], srv.URL)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, status)
	fresh, _ := gw.take()
	require.Equal(t, notices[0].DedupKey, fresh[0].DedupKey)

	// A duplicate arrives as Box's retry: a new delivery id, the same payload id and dedup key.
	f.emu.DuplicateDeliveries(1)
	require.NoError(t, f.emu.SetClassification("1001", "Public"))
	dup, _ := gw.take()
	require.Len(t, dup, 2)
	require.Equal(t, dup[0].DedupKey, dup[1].DedupKey)
	last := f.emu.Deliveries()
	a, b := last[len(last)-2], last[len(last)-1]
	require.NotEqual(t, a.ID, b.ID)
	require.Equal(t, a.PayloadID, b.PayloadID)
	f.emu.DropDeliveries(1)
	require.NoError(t, f.emu.TrashFile("1002"))
	dropped, _ := gw.take()
	require.Empty(t, dropped)

	// Key rotation: signed only with the secondary key, still accepted.
	f.emu.SignOnlySecondary(true)
	require.NoError(t, f.emu.RenameFile("1004", "renamed.txt"))
	rotated, errs := gw.take()
	require.Empty(t, errs)
	require.Len(t, rotated, 1)
	require.Equal(t, "1004", rotated[0].ItemID)

	// Keys the connector does not hold: rejected, nothing recorded.
	f.emu.RotateKeys("new-primary", "new-secondary")
	require.NoError(t, f.emu.ModifyFile("1005", []byte("x")))
	forged, errs := gw.take()
	require.Empty(t, forged)
	require.Len(t, errs, 3, "refused, so Box retries (twice in the emulator), each refused")
	for _, err := range errs {
		require.True(t, errors.Is(err, connectors.ErrForged))
	}
}

func TestRenewAndUnsubscribe(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	sub, err := f.conn.Subscribe(ctx, connectors.Drive{ID: "200"}, "https://gateway.example/webhooks/box")
	require.NoError(t, err)

	renewed, err := f.conn.Renew(ctx, sub)
	require.NoError(t, err)
	require.Equal(t, sub.ID, renewed.ID)
	require.False(t, renewed.RenewedAt.IsZero())

	// Box dropped the webhook: Renew recreates it.
	require.True(t, f.emu.DeleteWebhook(sub.ID))
	recreated, err := f.conn.Renew(ctx, sub)
	require.NoError(t, err)
	require.NotEqual(t, sub.ID, recreated.ID)
	require.Equal(t, "200", recreated.Drive)
	require.Equal(t, sub.NotifyURL, recreated.NotifyURL)
	require.Len(t, f.emu.Webhooks(), 1)

	require.NoError(t, f.conn.Unsubscribe(ctx, recreated))
	require.Empty(t, f.emu.Webhooks())
	require.NoError(t, f.conn.Unsubscribe(ctx, recreated), "already gone is fine")
}
