package alerts_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/box"
	"github.com/labelgate/labelgate/connectors/box/emulator"
	"github.com/labelgate/labelgate/internal/alerts"
	"github.com/labelgate/labelgate/internal/store"
)

const (
	boxManifest     = "../../testdata/box/manifest.json"
	mipConfidential = "a1b2c3d4-0000-4000-8000-000000000003"
	mipGeneral      = "f42aa342-8706-4288-bd11-ebb85995028c"
)

// TestBoxLabelRemovedIsAlertedAndDelivered drives the real path: a user removes a file's
// classification in Box, Box's signed webhook reaches the connector, the file is re-read and
// recorded in the store, and the engine turns the resulting label_removed event into an inbox
// alert delivered to a signed webhook, over SMTP (STARTTLS + AUTH PLAIN) and to a JSON-lines
// file, plus an owner digest to the file's owner.
func TestBoxLabelRemovedIsAlertedAndDelivered(t *testing.T) {
	t.Parallel()
	mb := newMailbox(t)
	f := setup(t, fixtureOpt{mail: mb})
	ctx := f.ctx

	emu, err := emulator.New(emulator.Options{Manifest: boxManifest})
	require.NoError(t, err)
	t.Cleanup(emu.Close)
	conn, err := box.New(box.Config{EnterpriseID: emu.EnterpriseID(), ClientID: "client", ClientSecret: "secret",
		BaseURL: emu.APIURL(), UploadURL: emu.UploadURL(), TokenURL: emu.TokenURL(), Domains: []string{"contoso.com"},
		PrimaryKey: "primary-key", SecondaryKey: "secondary-key", Roots: []string{"100"},
		LabelMap:      map[string]string{mipConfidential: "Confidential", mipGeneral: "General"},
		Subscriptions: f.st, Logger: slog.New(slog.DiscardHandler), RetryBackoff: time.Millisecond})
	require.NoError(t, err)
	tenant := conn.Tenant()

	// The label catalog, as the gateway's catalog sync keeps it.
	cat, err := conn.Catalog(ctx)
	require.NoError(t, err)
	_, err = f.st.SyncLabels(ctx, connectors.AppBox, tenant, cat)
	require.NoError(t, err)

	// The webhook ingress: verify through the connector and collect its notices.
	var mu sync.Mutex
	var notices []connectors.Notice
	ingress := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		_, ns, err := conn.Receive(r.Context(), connectors.Request{Header: r.Header, Query: r.URL.Query(), Body: body, Now: time.Now()})
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		mu.Lock()
		notices = append(notices, ns...)
		mu.Unlock()
	}))
	t.Cleanup(ingress.Close)
	drives, err := conn.Drives(ctx)
	require.NoError(t, err)
	require.Len(t, drives, 1)
	sub, err := conn.Subscribe(ctx, drives[0], ingress.URL)
	require.NoError(t, err)
	require.NoError(t, f.st.PutSubscription(ctx, connectors.AppBox, tenant, sub))

	// rescan is the gateway's job for one notice: stat the file, read its label, record it.
	rescan := func(ref connectors.FileRef) []store.Event {
		file, err := conn.Stat(ctx, ref)
		require.NoError(t, err)
		ls, err := conn.ReadLabel(ctx, ref)
		require.NoError(t, err)
		evs, err := f.st.RecordScan(ctx, store.ScanOutcome{File: file, Type: "docx", LabelID: ls.LabelID, LabelTenant: ls.Tenant,
			LabelMethod: ls.Method})
		require.NoError(t, err)
		return evs
	}
	budget := connectors.FileRef{App: connectors.AppBox, Tenant: tenant, Drive: "100", ItemID: "1001"}
	evs := rescan(budget)
	require.Equal(t, store.EventDiscovered, evs[0].Kind)
	require.Equal(t, mipConfidential, evs[0].LabelID)
	f.tick(t)
	require.Empty(t, f.unresolved(t), "discovering a labelled file is not alarming")

	// A user removes the classification in the Box web app.
	require.NoError(t, emu.SetClassification("1001", ""))
	mu.Lock()
	got := append([]connectors.Notice(nil), notices...)
	mu.Unlock()
	require.NotEmpty(t, got, "Box delivered a signed webhook")
	require.Equal(t, "1001", got[0].ItemID)
	evs = rescan(connectors.FileRef{App: got[0].App, Tenant: got[0].Tenant, Drive: got[0].Drive, ItemID: got[0].ItemID})
	require.Len(t, evs, 1)
	require.Equal(t, store.EventLabelRemoved, evs[0].Kind)

	f.clk.Add(time.Second)
	f.tick(t)
	inbox := f.unresolved(t)
	require.Len(t, inbox, 1)
	a := inbox[0]
	require.Equal(t, alerts.RuleLabelRemoved, a.Rule)
	require.Equal(t, alerts.SeverityHigh, a.Severity)
	require.Equal(t, store.AlertOpen, a.State)
	require.Equal(t, budget, a.Ref)
	require.Equal(t, "budget.docx", a.Name)
	require.Equal(t, "alice@contoso.com", a.Owner)
	require.Equal(t, mipConfidential, a.PrevLabelID)
	require.Contains(t, a.Message, `"Confidential"`)

	// The signed webhook.
	bodies, _ := f.hook.got()
	require.Len(t, bodies, 1)
	require.Equal(t, "alert", bodies[0].Type)
	require.Equal(t, a.ID, bodies[0].Alert.ID)
	require.Equal(t, alerts.RuleLabelRemoved, bodies[0].Alert.Rule)

	// Two real SMTP conversations: the admin alert and alice's digest.
	msgs := mb.messages()
	require.Len(t, msgs, 2)
	byRcpt := map[string]mail{}
	for _, m := range msgs {
		require.True(t, m.TLS, "STARTTLS was used")
		require.Equal(t, smtpUser, m.User, "AUTH PLAIN was used")
		require.Equal(t, "alerts@contoso.com", m.From)
		require.Len(t, m.To, 1)
		byRcpt[m.To[0]] = m
	}
	admin := byRcpt["ops@contoso.com"]
	require.Equal(t, "[labelgate] high: Sensitivity label removed", headerOf(admin.Data, "Subject"))
	require.Contains(t, admin.Data, "budget.docx")
	owner := byRcpt["alice@contoso.com"]
	require.Equal(t, "[labelgate] 1 notice(s) about your files", headerOf(owner.Data, "Subject"))
	require.Contains(t, owner.Data, "budget.docx")

	// The JSON-lines audit stream.
	lines := f.lines(t)
	require.Len(t, lines, 1)
	require.Equal(t, a.ID, lines[0].Alert.ID)

	outbox, err := f.st.ListOutbox(ctx, store.OutboxFilter{})
	require.NoError(t, err)
	require.Len(t, outbox, 4) // webhook, e-mail, JSON line, owner digest
	for _, o := range outbox {
		require.Equal(t, store.OutboxDone, o.State, o.Sink)
	}

	// The user puts a label back and removes it again within the hour: one alert, count 2,
	// and nobody is e-mailed twice.
	require.NoError(t, emu.SetClassification("1001", "General"))
	rescan(budget)
	require.NoError(t, emu.SetClassification("1001", ""))
	rescan(budget)
	f.clk.Add(time.Minute)
	f.tick(t)
	inbox = f.unresolved(t)
	require.Equal(t, []string{alerts.RuleLabelChangedOutside, alerts.RuleLabelRemoved}, rules(inbox))
	require.EqualValues(t, 2, inbox[1].Count)
	require.Len(t, mb.messages(), 3, "only the new rule's admin e-mail; the owner's next digest waits a day")
	require.True(t, strings.HasPrefix(headerOf(mb.messages()[2].Data, "Subject"), "[labelgate] medium:"))
}
