package webhooks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/graph"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/webhooks"
)

// Graph may carry notifications of several subscriptions in one POST
// (../shared/specs/README.md). Each entry is verified on its own: the POST is accepted (202)
// when at least one entry verifies, refused (401) only when none does, and an entry that does
// not verify is dropped and logged, never enqueued.
func TestGraphBatchedNotificationsVerifiedPerEntry(t *testing.T) {
	t.Parallel()
	const (
		stateA = "graph-client-state-A-Kq3n8Vw1"
		stateB = "graph-client-state-B-Hd7s2Lm9"
	)
	type entry struct{ sub, state string }
	body := func(es ...entry) []byte {
		var v []map[string]string
		for _, e := range es {
			v = append(v, map[string]string{"subscriptionId": e.sub, "clientState": e.state, "changeType": "updated",
				"resource": "drives/x/root", "tenantId": hTenantGraph})
		}
		b, _ := json.Marshal(map[string]any{"value": v})
		return b
	}
	for _, tc := range []struct {
		name    string
		body    []byte
		status  int
		drives  []string
		dropped bool
	}{
		{"two subscriptions", body(entry{"sub-a", stateA}, entry{"sub-b", stateB}), http.StatusAccepted, []string{"drive-a", "drive-b"}, false},
		{"one forged among genuine", body(entry{"sub-a", stateA}, entry{"sub-b", stateA}), http.StatusAccepted, []string{"drive-a"}, true},
		{"one unknown among genuine", body(entry{"sub-zz", stateA}, entry{"sub-b", stateB}), http.StatusAccepted, []string{"drive-b"}, true},
		{"genuine and unreadable", []byte(`{"value":[{"clientState":"x"},{"subscriptionId":"sub-a","clientState":"` + stateA + `"}]}`),
			http.StatusAccepted, []string{"drive-a"}, true},
		{"all forged", body(entry{"sub-a", stateB}, entry{"sub-b", stateA}), http.StatusUnauthorized, nil, true},
		{"all unknown", body(entry{"sub-y", stateA}, entry{"sub-z", stateB}), http.StatusUnauthorized, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := storetest.OpenSQLite(t)
			sink := &countingSink{s: st}
			var logs bytes.Buffer
			sw := &syncWriter{w: &logs}
			log := slog.New(slog.NewTextHandler(sw, &slog.HandlerOptions{Level: slog.LevelDebug}))
			subs := &connectors.MemSubscriptions{}
			subs.Put(connectors.AppSharePoint, hTenantGraph, connectors.Subscription{ID: "sub-a", Drive: "drive-a", Secret: stateA})
			subs.Put(connectors.AppSharePoint, hTenantGraph, connectors.Subscription{ID: "sub-b", Drive: "drive-b", Secret: stateB})
			g, err := graph.NewSharePoint(graph.Config{TenantID: hTenantGraph, BaseURL: "http://127.0.0.1:1/v1.0", Subscriptions: subs, Logger: log})
			require.NoError(t, err)
			h := webhooks.New(webhooks.Config{Routes: []webhooks.Route{{Name: "sp", App: connectors.AppSharePoint, Tenant: hTenantGraph, Receiver: g}},
				Sink: sink, Dedup: st, Logger: log})
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, webhooks.Prefix+"sp", bytes.NewReader(tc.body)))
			require.Equal(t, tc.status, w.Code, w.Body.String())

			ds, err := st.ChangedDrives(context.Background(), 10)
			require.NoError(t, err)
			var got []string
			for _, d := range ds {
				got = append(got, d.Drive)
			}
			sort.Strings(got)
			require.Equal(t, tc.drives, got, "exactly the verified entries are enqueued")
			require.EqualValues(t, len(tc.drives), sink.calls.Load())
			sw.mu.Lock()
			text := logs.String()
			sw.mu.Unlock()
			if tc.dropped {
				require.Contains(t, text, "graph notification entry dropped")
			}
			for _, secret := range []string{stateA, stateB} {
				require.False(t, strings.Contains(text, secret), "a clientState reached the log")
			}
		})
	}
}
