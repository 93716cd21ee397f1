package alerts_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/alerts"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
)

func ptr[T any](v T) *T { return &v }

// catalog stores labels Public < General < Confidential (by MIP priority) for testRef's tenant.
func catalog(t testing.TB, f *fixture) {
	t.Helper()
	_, err := f.st.SyncLabels(f.ctx, testRef.App, testRef.Tenant, []connectors.Label{
		{ID: "L-public", Name: "Public", Priority: 0}, {ID: "L-general", Name: "General", Priority: 1},
		{ID: "L-conf", Name: "Confidential", Priority: 2}})
	require.NoError(t, err)
}

func TestGroupingAndOwnerDigestRateLimit(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			f := setup(t, fixtureOpt{backend: &b, tweakCfg: func(c *alerts.Config) {
				// Only label removals matter here; owner digests go to the JSON-lines sink.
				c.Rules = []alerts.RuleConfig{{Name: alerts.RuleLabelChangedOutside, Enabled: ptr(false)}}
			}})
			catalog(t, f)
			a := spFile("a", "/Finance", "a.docx", "ann@contoso.com")
			bf := spFile("b", "/Finance", "b.docx", "ann@contoso.com")
			for _, file := range []connectors.File{a, bf} {
				f.scan(t, file, "L-conf")
			}
			// The label of a.docx is removed three times within the hour, b.docx's once.
			for range 3 {
				f.scan(t, a, "")
				f.scan(t, a, "L-conf")
				f.clk.Add(10 * time.Minute)
			}
			f.scan(t, bf, "")
			f.tick(t)

			inbox := f.unresolved(t)
			require.Len(t, inbox, 2, "one alert per rule and file, not one per event")
			counts := map[string]int64{}
			for _, al := range inbox {
				counts[al.Name] = al.Count
			}
			require.Equal(t, map[string]int64{"a.docx": 3, "b.docx": 1}, counts)
			bodies, _ := f.hook.got()
			require.Len(t, bodies, 2, "a group is delivered once")

			// Ann hears about both files in one digest.
			var digests []alerts.WebhookBody
			for _, l := range f.lines(t) {
				if l.Type == "digest" {
					digests = append(digests, l)
				}
			}
			require.Len(t, digests, 1)
			require.Equal(t, "ann@contoso.com", digests[0].Recipient)
			require.Len(t, digests[0].Notices, 2)

			// Past the group window a.docx opens a new alert; ann's next digest waits a day.
			f.clk.Add(time.Hour)
			f.scan(t, a, "")
			f.tick(t)
			require.Len(t, f.unresolved(t), 3)
			require.Len(t, digestLines(t, f), 1)
			f.clk.Add(22 * time.Hour)
			f.tick(t)
			require.Len(t, digestLines(t, f), 1, "the interval is measured from the last digest")
			f.clk.Add(2 * time.Hour)
			f.tick(t)
			ds := digestLines(t, f)
			require.Len(t, ds, 2)
			require.Len(t, ds[1].Notices, 1)
		})
	}
}

func digestLines(t testing.TB, f *fixture) []alerts.WebhookBody {
	var out []alerts.WebhookBody
	for _, l := range f.lines(t) {
		if l.Type == "digest" {
			out = append(out, l)
		}
	}
	return out
}

func TestFailingWebhookIsRetriedWithBackoff(t *testing.T) {
	t.Parallel()
	f := setup(t, fixtureOpt{})
	f.hook.failNext(http.StatusInternalServerError)
	file := spFile("a", "/", "a.docx", "ann@contoso.com")
	f.scan(t, file, "L1")
	f.scan(t, file, "")
	f.tick(t)

	inbox := f.unresolved(t)
	require.Len(t, inbox, 1, "the alert is recorded although its delivery failed")
	out, err := f.st.ListOutbox(f.ctx, store.OutboxFilter{Kind: "webhook"})
	require.NoError(t, err)
	require.Len(t, out, 1)
	require.Equal(t, store.OutboxPending, out[0].State)
	require.Equal(t, 1, out[0].Attempts)
	require.Contains(t, out[0].LastError, "500")
	wait := out[0].NextAt.Sub(f.clk.Now())
	require.GreaterOrEqual(t, wait, 4*time.Second, "about the initial 5s backoff, with jitter")
	require.LessOrEqual(t, wait, 6*time.Second)

	f.tick(t)
	_, hits := f.hook.got()
	require.Equal(t, 1, hits, "not retried before the backoff ends")
	f.clk.Add(wait)
	f.tick(t)
	bodies, hits := f.hook.got()
	require.Equal(t, 2, hits)
	require.Len(t, bodies, 1)
	require.Equal(t, inbox[0].ID, bodies[0].Alert.ID)
	out, err = f.st.ListOutbox(f.ctx, store.OutboxFilter{Kind: "webhook"})
	require.NoError(t, err)
	require.Equal(t, store.OutboxDone, out[0].State)
	require.Equal(t, 2, out[0].Attempts)
}

func TestWebhookGivesUp(t *testing.T) {
	t.Parallel()
	f := setup(t, fixtureOpt{})
	// A 400 is the receiver refusing the request: no retry. Repeated 503s exhaust the attempts.
	f.hook.failNext(http.StatusBadRequest)
	file := spFile("a", "/", "a.docx", "")
	f.scan(t, file, "L1")
	f.scan(t, file, "")
	f.tick(t)
	out, err := f.st.ListOutbox(f.ctx, store.OutboxFilter{Kind: "webhook"})
	require.NoError(t, err)
	require.Equal(t, store.OutboxFailed, out[0].State)
	require.Equal(t, 1, out[0].Attempts)

	f.hook.failNext(503, 503, 503, 503, 503)
	other := spFile("b", "/", "b.docx", "")
	f.scan(t, other, "L1")
	f.scan(t, other, "")
	for range 6 {
		f.tick(t)
		f.clk.Add(2 * time.Minute)
	}
	out, err = f.st.ListOutbox(f.ctx, store.OutboxFilter{Kind: "webhook"})
	require.NoError(t, err)
	require.Equal(t, store.OutboxFailed, out[1].State)
	require.Equal(t, 4, out[1].Attempts, "maxAttempts")
	require.Len(t, f.unresolved(t), 2)
}

func TestDisabledRulesAndFiltersStaySilent(t *testing.T) {
	t.Parallel()
	f := setup(t, fixtureOpt{tweakCfg: func(c *alerts.Config) {
		c.Rules = []alerts.RuleConfig{
			{Name: alerts.RuleLabelRemoved, Enabled: ptr(false)},
			{Name: alerts.RuleLabelChangedOutside, Filter: alerts.Filter{Folder: []string{"/Engineering"}, Owner: []string{"@contoso.com"}}},
		}
	}})
	fin := spFile("a", "/Finance", "a.docx", "ann@contoso.com")
	eng := spFile("b", "/Engineering/Specs", "b.docx", "bob@contoso.com")
	engOld := spFile("c", "/EngineeringOld", "c.docx", "bob@contoso.com")
	partner := spFile("d", "/Engineering", "d.docx", "eve@partner.org")
	for _, file := range []connectors.File{fin, eng, engOld, partner} {
		f.scan(t, file, "")
		f.scan(t, file, "L1") // label_added: changed outside labelgate
		f.scan(t, file, "")   // label_removed: the rule is disabled
	}
	f.tick(t)
	inbox := f.unresolved(t)
	require.Len(t, inbox, 1)
	require.Equal(t, alerts.RuleLabelChangedOutside, inbox[0].Rule)
	require.Equal(t, "b.docx", inbox[0].Name)
	bodies, _ := f.hook.got()
	require.Len(t, bodies, 1)

	// labelgate's own writes are not "outside labelgate".
	require.NoError(t, f.st.AddEvent(f.ctx, store.Event{Kind: store.EventLabelChanged, App: eng.Ref.App, Tenant: eng.Ref.Tenant,
		Drive: eng.Ref.Drive, ItemID: "e2", Path: "/Engineering", Name: "e2.docx", LabelID: "L2", PrevLabelID: "L1", Actor: "policy:p1"}))
	f.tick(t)
	require.Len(t, f.unresolved(t), 1)
}

func TestDowngradeUsesCatalogPriorities(t *testing.T) {
	t.Parallel()
	f := setup(t, fixtureOpt{})
	catalog(t, f)
	file := spFile("a", "/", "a.docx", "ann@contoso.com")
	f.scan(t, file, "L-conf")
	f.scan(t, file, "L-general") // priority 2 → 1: a downgrade
	f.tick(t)
	require.ElementsMatch(t, []string{alerts.RuleLabelDowngraded, alerts.RuleLabelChangedOutside}, rules(f.unresolved(t)))
	down, err := f.st.ListAlerts(f.ctx, store.AlertFilter{Rule: alerts.RuleLabelDowngraded})
	require.NoError(t, err)
	require.Contains(t, down[0].Message, `from "Confidential" to "General"`)

	up := spFile("b", "/", "b.docx", "ann@contoso.com")
	f.scan(t, up, "L-public")
	f.scan(t, up, "L-conf")    // an upgrade
	f.scan(t, up, "L-unknown") // not in the catalog: not judged
	f.tick(t)
	down, err = f.st.ListAlerts(f.ctx, store.AlertFilter{Rule: alerts.RuleLabelDowngraded})
	require.NoError(t, err)
	require.Len(t, down, 1, "only a.docx was downgraded")
}

func TestAccessExternalAndProtectedRules(t *testing.T) {
	t.Parallel()
	f := setup(t, fixtureOpt{})
	ctx := f.ctx
	labelled := spFile("a", "/", "a.docx", "ann@contoso.com")
	f.scan(t, labelled, "L1")
	plain := spFile("b", "/", "b.docx", "ann@contoso.com")
	f.scan(t, plain, "")
	for _, file := range []connectors.File{labelled, plain} {
		file.Access = connectors.AccessPublic
		_, _, err := f.st.UpsertFile(ctx, file)
		require.NoError(t, err)
	}
	narrowed := labelled
	narrowed.Access = connectors.AccessPrivate
	_, _, err := f.st.UpsertFile(ctx, narrowed)
	require.NoError(t, err)

	ext := spFile("c", "/", "c.docx", "ann@contoso.com")
	_, err = f.st.RecordScan(ctx, store.ScanOutcome{File: ext, LabelID: "L-fabrikam", LabelTenant: "fabrikam", External: true})
	require.NoError(t, err)
	prot := spFile("d", "/", "d.docx", "ann@contoso.com")
	_, err = f.st.RecordScan(ctx, store.ScanOutcome{File: prot, LabelID: "L1", Protected: true})
	require.NoError(t, err)
	f.tick(t)

	got := map[string]string{}
	for _, a := range f.unresolved(t) {
		got[a.Rule] = a.Name
	}
	require.Equal(t, map[string]string{alerts.RuleAccessWidened: "a.docx", alerts.RuleExternalLabel: "c.docx",
		alerts.RuleProtectedFile: "d.docx"}, got)
	widened, err := f.st.ListAlerts(ctx, store.AlertFilter{Rule: alerts.RuleAccessWidened})
	require.NoError(t, err)
	require.Equal(t, "internal -> public", widened[0].Detail)
}

func TestPolicyActionsAreCarriedOut(t *testing.T) {
	t.Parallel()
	f := setup(t, fixtureOpt{})
	ctx := f.ctx
	file := spFile("a", "/HR", "salaries.xlsx", "ann@contoso.com")
	f.scan(t, file, "")
	alertID, _, err := f.st.AddAction(ctx, store.Action{Key: "p1|a|alert", PolicyID: "p1", Kind: store.ActionAlert, Ref: file.Ref,
		Params: []byte(`{"severity":"critical","subject":"Unlabelled salaries","message":"salaries.xlsx has card numbers"}`)})
	require.NoError(t, err)
	notifyID, _, err := f.st.AddAction(ctx, store.Action{Key: "p1|a|notify", PolicyID: "p1", Kind: store.ActionNotifyOwner, Ref: file.Ref,
		Params: []byte(`{"subject":"Please label salaries.xlsx","message":"It holds card numbers."}`)})
	require.NoError(t, err)
	orphan := spFile("z", "/", "gone.docx", "")
	badID, _, err := f.st.AddAction(ctx, store.Action{Key: "p1|z|notify", PolicyID: "p1", Kind: store.ActionNotifyOwner, Ref: orphan.Ref})
	require.NoError(t, err)
	f.tick(t)

	for id, want := range map[int64]string{alertID: store.ActionDone, notifyID: store.ActionDone, badID: store.ActionFailed} {
		a, err := f.st.GetAction(ctx, id)
		require.NoError(t, err)
		require.Equal(t, want, a.State, "action %d: %s", id, a.Reason)
	}
	inbox := f.unresolved(t)
	require.Len(t, inbox, 1)
	require.Equal(t, alerts.RulePolicy, inbox[0].Rule)
	require.Equal(t, alerts.SeverityCritical, inbox[0].Severity)
	require.Equal(t, "Unlabelled salaries", inbox[0].Title)
	require.Equal(t, alertID, inbox[0].ActionID)
	ds := digestLines(t, f)
	require.Len(t, ds, 1)
	require.Equal(t, "ann@contoso.com", ds[0].Recipient)
	require.Equal(t, "Please label salaries.xlsx", ds[0].Notices[0].Title)
	require.Equal(t, notifyID, ds[0].Notices[0].ActionID)
}

func TestOperationalAlertsRaiseOnceAndResolve(t *testing.T) {
	t.Parallel()
	dead := 0
	f := setup(t, fixtureOpt{dead: func(context.Context) (int, error) { return dead, nil }, tweakCfg: func(c *alerts.Config) {
		c.Rules = []alerts.RuleConfig{{Name: alerts.RuleDeadLetters, Threshold: 5}}
	}})
	ctx := f.ctx
	// A label action paused because the daily quota is used up.
	id, _, err := f.st.AddAction(ctx, store.Action{Key: "k1", Kind: store.ActionApplyLabel, Ref: spFile("a", "/", "a", "").Ref, LabelID: "L1"})
	require.NoError(t, err)
	c, err := f.st.ClaimAction(ctx, id, f.clk.Now(), nil, func(store.Action) int { return 0 })
	require.NoError(t, err)
	require.True(t, c.Paused)
	require.NoError(t, f.st.PutSubscription(ctx, connectors.AppBox, "E1", connectors.Subscription{ID: "wh1", Drive: "0",
		Expires: f.clk.Now().Add(time.Hour), LastError: "renew: 403 access_denied"}))
	require.NoError(t, f.st.AddEvent(ctx, store.Event{Kind: alerts.EventConnectorAuthFailed, App: connectors.AppGDrive, Tenant: "T",
		Detail: "invalid_grant"}))
	dead = 7
	f.tick(t)
	byRule := map[string]store.Alert{}
	for _, a := range f.unresolved(t) {
		byRule[a.Rule] = a
	}
	require.Len(t, byRule, 4)
	require.Equal(t, "auto", byRule[alerts.RuleQuotaExhausted].Detail)
	require.Equal(t, "renew: 403 access_denied", byRule[alerts.RuleSubscriptionFailing].Detail)
	require.Equal(t, alerts.SeverityCritical, byRule[alerts.RuleConnectorAuth].Severity)
	require.Equal(t, "7", byRule[alerts.RuleDeadLetters].Detail)

	// Still failing at the next check: no new alerts, no repeated deliveries.
	f.clk.Add(2 * time.Minute)
	f.tick(t)
	require.Len(t, f.unresolved(t), 4)
	bodies, _ := f.hook.got()
	require.Len(t, bodies, 4)

	// The conditions clear: the polled alerts resolve themselves; the auth alert waits for a person.
	_, err = f.st.SetActionState(ctx, id, store.ActionPaused, store.ActionCanceled, "test")
	require.NoError(t, err)
	require.NoError(t, f.st.PutSubscription(ctx, connectors.AppBox, "E1", connectors.Subscription{ID: "wh1", Drive: "0",
		Expires: f.clk.Now().Add(time.Hour)}))
	dead = 2
	f.clk.Add(2 * time.Minute)
	f.tick(t)
	require.Equal(t, []string{alerts.RuleConnectorAuth}, rules(f.unresolved(t)))
	resolved, err := f.st.ListAlerts(ctx, store.AlertFilter{States: []string{store.AlertResolved}})
	require.NoError(t, err)
	require.Len(t, resolved, 3)
	require.Equal(t, "labelgate", resolved[0].ResolvedBy)
}

func TestCursorIsDurableAndSkipHistory(t *testing.T) {
	t.Parallel()
	f := setup(t, fixtureOpt{})
	file := spFile("a", "/", "a.docx", "")
	f.scan(t, file, "L1")
	f.scan(t, file, "")
	f.tick(t)
	require.Len(t, f.unresolved(t), 1)

	// A second engine on the same store (a restart) does not replay what was handled.
	again, err := alerts.New(f.cfg, f.st, alerts.Options{Now: f.clk.Now, Holder: "other"})
	require.NoError(t, err)
	f.clk.Add(time.Minute) // the first engine's lease is 30s
	f.clk.Add(time.Hour)
	require.NoError(t, again.Tick(f.ctx))
	all, err := f.st.ListAlerts(f.ctx, store.AlertFilter{})
	require.NoError(t, err)
	require.Len(t, all, 1)
	require.EqualValues(t, 1, all[0].Count)

	// skipHistory on a store with history but no cursor starts at the end.
	g := setup(t, fixtureOpt{tweakCfg: func(c *alerts.Config) { c.SkipHistory = true }})
	for i := range 3 {
		other := spFile(fmt.Sprint(i), "/", "x.docx", "")
		g.scan(t, other, "L1")
		g.scan(t, other, "")
	}
	g.tick(t)
	require.Empty(t, g.unresolved(t))
	late := spFile("late", "/", "late.docx", "")
	g.scan(t, late, "L1")
	g.scan(t, late, "")
	g.tick(t)
	require.Len(t, g.unresolved(t), 1)
}

func TestAdminDigestOverSMTP(t *testing.T) {
	t.Parallel()
	mb := newMailbox(t)
	f := setup(t, fixtureOpt{mail: mb, tweakCfg: func(c *alerts.Config) {
		c.Sinks.SMTP.DigestInterval = time.Hour
		c.Rules = []alerts.RuleConfig{{Name: alerts.RuleLabelRemoved, NotifyOwner: ptr(false), Sinks: []string{alerts.SMTPSinkName}}}
	}})
	for i := range 3 {
		file := spFile(fmt.Sprint(i), "/Finance", fmt.Sprintf("f%d.docx", i), "ann@contoso.com")
		f.scan(t, file, "L1")
		f.scan(t, file, "")
	}
	f.tick(t)
	msgs := mb.messages()
	require.Len(t, msgs, 1, "three alerts, one admin digest")
	require.Equal(t, []string{"ops@contoso.com"}, msgs[0].To)
	require.Equal(t, "[labelgate] 3 alert(s)", headerOf(msgs[0].Data, "Subject"))
	for i := range 3 {
		require.Contains(t, msgs[0].Data, fmt.Sprintf("/Finance/f%d.docx", i))
	}
	bodies, _ := f.hook.got()
	require.Empty(t, bodies, "the rule names its sinks")
}
