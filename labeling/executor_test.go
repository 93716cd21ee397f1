package labeling_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

const (
	lGeneral = "11111111-1111-1111-1111-111111111111"
	lSecret  = "22222222-2222-2222-2222-222222222222"
	lOld     = "33333333-3333-3333-3333-333333333333"
	lGone    = "44444444-4444-4444-4444-444444444444"
	lOther   = "55555555-5555-5555-5555-555555555555"
)

var start = time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)

type env struct {
	t    *testing.T
	st   *store.Store
	clk  *fakeClock
	conn *memConn
	ex   *labeling.Executor
}

// setup opens a store on backend b with a fake clock, syncs a catalog for the app and
// builds an executor over a native-API connector.
func setupOn(t *testing.T, b storetest.Backend, opts ...func(*labeling.ExecutorConfig)) *env {
	t.Helper()
	clk := newFakeClock(start)
	st := storetest.Open(t, b, func(c *store.Config) { c.Now = clk.Now })
	conn := newMemConn(connectors.AppSharePoint, "t1")
	syncCatalog(t, st, conn.app, conn.tenant)
	cfg := labeling.ExecutorConfig{Store: st, Connectors: labeling.Connectors(nativeConn{conn}), Clock: clk,
		Retry: labeling.RetryConfig{Jitter: -1}}
	for _, o := range opts {
		o(&cfg)
	}
	ex, err := labeling.NewExecutor(cfg)
	require.NoError(t, err)
	return &env{t: t, st: st, clk: clk, conn: conn, ex: ex}
}

func setup(t *testing.T, opts ...func(*labeling.ExecutorConfig)) *env {
	return setupOn(t, storetest.Backends()[0], opts...)
}

func syncCatalog(t testing.TB, st *store.Store, app connectors.App, tenant string) {
	ctx := context.Background()
	all := []connectors.Label{
		{ID: lGeneral, Name: "General", Priority: 1},
		{ID: lSecret, Name: "Secret", Priority: 3, Protection: true},
		{ID: lOld, Name: "Old", Priority: 2, Disabled: true},
		{ID: lGone, Name: "Gone", Priority: 4},
	}
	_, err := st.SyncLabels(ctx, app, tenant, all)
	require.NoError(t, err)
	_, err = st.SyncLabels(ctx, app, tenant, all[:3]) // lGone deleted at the source
	require.NoError(t, err)
}

// file adds a file at the provider and in the inventory.
func (e *env) file(item, name string, size int64, label connectors.LabelState) connectors.FileRef {
	e.t.Helper()
	f := e.conn.add(item, name, size, label)
	_, _, err := e.st.UpsertFile(context.Background(), f)
	require.NoError(e.t, err)
	return f.Ref
}

func (e *env) action(ref connectors.FileRef, kind, label string, mod ...func(*store.Action)) int64 {
	e.t.Helper()
	a := store.Action{Key: ref.Key() + "|" + kind + "|" + label, Kind: kind, Ref: ref, LabelID: label, PolicyID: "p1"}
	for _, m := range mod {
		m(&a)
	}
	id, created, err := e.st.AddAction(context.Background(), a)
	require.NoError(e.t, err)
	require.True(e.t, created)
	return id
}

func (e *env) exec(id int64) labeling.Outcome {
	e.t.Helper()
	out, err := e.ex.Execute(context.Background(), id)
	require.NoError(e.t, err)
	return out
}

func (e *env) events(kind string) []store.Event {
	e.t.Helper()
	evs, err := e.st.ListEvents(context.Background(), store.EventFilter{Kind: kind}, 1000)
	require.NoError(e.t, err)
	return evs
}

func (e *env) used(app connectors.App, manual bool) int64 {
	e.t.Helper()
	n, err := e.st.QuotaUsed(context.Background(), app, "t1", store.AllowanceOf(manual), store.QuotaWindow(e.clk.Now()))
	require.NoError(e.t, err)
	return n
}

func (e *env) states() map[string]int64 {
	e.t.Helper()
	m, err := e.st.CountActions(context.Background())
	require.NoError(e.t, err)
	return m
}

func TestApplyRecordsInventoryAndEvent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ref := e.file("a", "budget.xlsx", 1000, connectors.LabelState{})
	id := e.action(ref, store.ActionApplyLabel, lGeneral)
	out := e.exec(id)
	require.Equal(t, store.ActionDone, out.State)
	require.True(t, out.Wrote)
	require.Equal(t, lGeneral, e.conn.Label("a").LabelID)
	require.Equal(t, "auto", e.conn.Label("a").Method)
	rec, err := e.st.GetFile(context.Background(), ref)
	require.NoError(t, err)
	require.Equal(t, lGeneral, rec.LabelID)
	evs := e.events(store.EventLabelApplied)
	require.Len(t, evs, 1)
	require.Equal(t, "policy:p1", evs[0].Actor)
	require.Equal(t, "budget.xlsx", evs[0].Name)
	require.EqualValues(t, 1, e.used(e.conn.app, false))

	// Running it again does nothing: the action is no longer pending.
	again := e.exec(id)
	require.False(t, again.Claimed)
	require.Equal(t, 1, e.conn.Writes())

	// Removing: label_cleared, inventory cleared.
	rid := e.action(ref, store.ActionRemoveLabel, "")
	out = e.exec(rid)
	require.Equal(t, store.ActionDone, out.State)
	require.Empty(t, e.conn.Label("a").LabelID)
	rec, err = e.st.GetFile(context.Background(), ref)
	require.NoError(t, err)
	require.Empty(t, rec.LabelID)
	cleared := e.events(store.EventLabelCleared)
	require.Len(t, cleared, 1)
	require.Equal(t, lGeneral, cleared[0].PrevLabelID)
}

func TestAlreadyInTargetStateWritesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ref := e.file("a", "a.docx", 10, connectors.LabelState{LabelID: lGeneral})
	out := e.exec(e.action(ref, store.ActionApplyLabel, lGeneral))
	require.Equal(t, store.ActionDone, out.State)
	require.False(t, out.Wrote)
	require.Zero(t, e.conn.Writes())
	require.Len(t, e.events(store.EventLabelUnchanged), 1)
	require.Empty(t, e.events(store.EventLabelApplied))
	require.Zero(t, e.used(e.conn.app, false), "no write, no quota")

	none := e.file("b", "b.docx", 10, connectors.LabelState{})
	out = e.exec(e.action(none, store.ActionRemoveLabel, ""))
	require.Equal(t, store.ActionDone, out.State)
	require.Zero(t, e.conn.Writes())
}

func TestRetryHonoursRetryAfterWithoutDuplicateWrites(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ref := e.file("a", "a.docx", 10, connectors.LabelState{})
	e.conn.fail("apply",
		step{err: connectors.Errorf(connectors.KindThrottled, "apply", 429, 2*time.Second, nil)},
		step{err: connectors.Errorf(connectors.KindTransient, "apply", 503, 0, nil)},
		step{err: connectors.Errorf(connectors.KindTransient, "apply", 503, 0, nil)},
	)
	out := e.exec(e.action(ref, store.ActionApplyLabel, lGeneral))
	require.Equal(t, store.ActionDone, out.State, out.Reason)
	require.True(t, out.Wrote)
	require.Equal(t, 4, out.Calls)
	require.Equal(t, 4, e.conn.Calls("apply"))
	require.Equal(t, 1, e.conn.Writes(), "exactly one write took effect")
	// Retry-After as asked, then the exponential backoff (x1.5) from its first step.
	require.Equal(t, []time.Duration{2 * time.Second, 500 * time.Millisecond, 750 * time.Millisecond}, e.clk.Sleeps())
	// Each 503 was checked by a re-read before retrying (plus the read before the first write).
	require.Equal(t, 3, e.conn.Calls("read"))
}

func TestAmbiguousWriteIsCheckedNotRepeated(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ref := e.file("a", "a.docx", 10, connectors.LabelState{})
	e.conn.fail("apply", step{err: connectors.Errorf(connectors.KindTransient, "apply", 0, 0, context.DeadlineExceeded), after: true})
	out := e.exec(e.action(ref, store.ActionApplyLabel, lGeneral))
	require.Equal(t, store.ActionDone, out.State, out.Reason)
	require.Equal(t, 1, e.conn.Calls("apply"), "the re-read found the label: no second write")
	require.Equal(t, 1, e.conn.Writes())
	require.Len(t, e.events(store.EventLabelApplied), 1)
}

// A run killed after its label write landed but before it recorded the outcome leaves the
// action running. The run after the take-back finds the label in place: because the write was
// marked as sent first, it records labelgate's write (label_applied, quota unit kept) rather
// than a label found already there — and never writes twice. A run that died before writing,
// whose file a user labelled meanwhile, still records the label as found.
func TestWriteCutShortIsRecordedAsWritten(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := setupOn(t, b)
			restarted, err := labeling.NewExecutor(labeling.ExecutorConfig{Store: e.st, Connectors: labeling.Connectors(nativeConn{e.conn}),
				Clock: e.clk, Retry: labeling.RetryConfig{Jitter: -1}})
			require.NoError(t, err)
			takeBack := func(id int64) {
				// What the action's next queue job does when it finds the action still running.
				require.NoError(t, e.st.CompleteAction(ctx, store.Completion{ID: id, State: store.ActionPending, Reason: "requeued"}))
			}

			ref := e.file("a", "a.docx", 10, connectors.LabelState{})
			id := e.action(ref, store.ActionApplyLabel, lGeneral)
			landed, killed := make(chan struct{}), make(chan struct{})
			e.conn.fail("apply", step{landed: func() { close(landed); <-killed }})
			firstDone := make(chan struct{})
			go func() {
				defer close(firstDone)
				_, _ = e.ex.Execute(ctx, id) // never records: it stands for the killed process
			}()
			t.Cleanup(func() { close(killed); <-firstDone })
			<-landed
			a, err := e.st.GetAction(ctx, id)
			require.NoError(t, err)
			require.Equal(t, store.ActionRunning, a.State)

			takeBack(id)
			out, err := restarted.Execute(ctx, id)
			require.NoError(t, err)
			require.Equal(t, store.ActionDone, out.State, out.Reason)
			require.True(t, out.Wrote)
			require.Zero(t, out.Calls, "the label was there: not written again")
			require.Equal(t, 1, e.conn.Writes())
			require.Contains(t, out.Reason, "interrupted")
			applied := e.events(store.EventLabelApplied)
			require.Len(t, applied, 1)
			require.Equal(t, lGeneral, applied[0].LabelID)
			require.Equal(t, "a.docx", applied[0].Name)
			require.Empty(t, e.events(store.EventLabelUnchanged))
			require.EqualValues(t, 1, e.used(e.conn.app, false), "the write that happened keeps its unit")
			rec, err := e.st.GetFile(ctx, ref)
			require.NoError(t, err)
			require.Equal(t, lGeneral, rec.LabelID)
			written, err := e.st.LabelWrittenByLabelgate(ctx, ref, lGeneral)
			require.NoError(t, err)
			require.True(t, written, "the label counts as labelgate's")

			// A run that died before writing: no mark, and a user labelled the file meanwhile.
			ref = e.file("b", "b.docx", 10, connectors.LabelState{})
			id = e.action(ref, store.ActionApplyLabel, lGeneral)
			c, err := e.st.ClaimAction(ctx, id, e.clk.Now(), nil, func(store.Action) int { return 100 })
			require.NoError(t, err)
			require.True(t, c.Claimed)
			require.False(t, c.WriteSent)
			e.conn.setLabel("b", connectors.LabelState{LabelID: lGeneral, Tenant: "t1", Method: "standard"})
			takeBack(id)
			out, err = restarted.Execute(ctx, id)
			require.NoError(t, err)
			require.Equal(t, store.ActionDone, out.State)
			require.False(t, out.Wrote)
			require.Equal(t, 1, e.conn.Writes())
			require.Len(t, e.events(store.EventLabelUnchanged), 1)
			require.EqualValues(t, 1, e.used(e.conn.app, false), "no write, no unit")
			written, err = e.st.LabelWrittenByLabelgate(ctx, ref, lGeneral)
			require.NoError(t, err)
			require.False(t, written, "the user's label is not labelgate's")
		})
	}
}

func TestRetryTimeCapThenLaterAttempt(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *labeling.ExecutorConfig) {
		c.Retry.MaxRetryTime = 10 * time.Second
		c.MaxAttempts = 2
	})
	ref := e.file("a", "a.docx", 10, connectors.LabelState{})
	for range 20 {
		e.conn.fail("apply", step{err: connectors.Errorf(connectors.KindThrottled, "apply", 429, 4*time.Second, nil)})
	}
	id := e.action(ref, store.ActionApplyLabel, lGeneral)
	out := e.exec(id)
	require.Equal(t, store.ActionPending, out.State)
	require.Contains(t, out.Reason, "gave up after retrying")
	require.Equal(t, []time.Duration{4 * time.Second, 4 * time.Second}, e.clk.Sleeps(), "a third wait would pass the 10s cap")
	require.Zero(t, e.used(e.conn.app, false), "the unit comes back while it waits")
	// Not due yet.
	require.False(t, e.exec(id).Claimed)
	e.clk.Set(e.clk.Now().Add(15 * time.Minute))
	out = e.exec(id)
	require.Equal(t, store.ActionFailed, out.State)
	require.Contains(t, out.Reason, "failed after 2 attempts")
	require.Len(t, e.events(store.EventActionFailed), 1)
}

func TestPermanentErrorsFailFast(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ref := e.file("a", "a.docx", 10, connectors.LabelState{})
	e.conn.fail("apply", step{err: connectors.Errorf(connectors.KindPermission, "apply", 403, 0, errors.New("access denied"))})
	out := e.exec(e.action(ref, store.ActionApplyLabel, lGeneral))
	require.Equal(t, store.ActionFailed, out.State)
	require.Contains(t, out.Reason, "permission")
	require.Equal(t, 1, out.Calls)
	require.Empty(t, e.clk.Sleeps())
	require.Zero(t, e.used(e.conn.app, false), "a failed write gives its unit back")
	evs := e.events(store.EventActionFailed)
	require.Len(t, evs, 1)
	require.Contains(t, evs[0].Detail, "access denied")

	// A provider that cannot label this file says so once: refused, not retried.
	odd := e.file("odd", "movie.mkv", 10, connectors.LabelState{})
	e.conn.fail("apply", step{err: fmt.Errorf("graph assignSensitivityLabel: %w", connectors.ErrUnsupported)})
	out = e.exec(e.action(odd, store.ActionApplyLabel, lGeneral))
	require.Equal(t, store.ActionRefused, out.State)
	require.Equal(t, 1, out.Calls)
	require.Empty(t, e.clk.Sleeps())

	gone := e.action(e.conn.ref("missing"), store.ActionApplyLabel, lGeneral)
	out = e.exec(gone)
	require.Equal(t, store.ActionFailed, out.State)
	require.Contains(t, out.Reason, "not found")
}

func TestProviderDailyLimitPauses(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ref := e.file("a", "a.docx", 10, connectors.LabelState{})
	e.conn.fail("apply", step{err: connectors.Errorf(connectors.KindFatalToday, "apply", 403, time.Hour, errors.New("dailyLimitExceeded"))})
	id := e.action(ref, store.ActionApplyLabel, lGeneral)
	out := e.exec(id)
	require.Equal(t, store.ActionPaused, out.State)
	a, err := e.st.GetAction(context.Background(), id)
	require.NoError(t, err)
	require.Equal(t, start.Add(time.Hour), a.NotBefore)
	e.clk.Set(start.Add(time.Hour))
	st, err := e.ex.Drain(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, 1, st.Resumed)
	require.Equal(t, 1, st.States[store.ActionDone])
}

func TestRules(t *testing.T) {
	t.Parallel()
	e := setup(t)
	refused := func(id int64, want string) {
		t.Helper()
		out := e.exec(id)
		require.Equal(t, store.ActionRefused, out.State)
		require.Contains(t, out.Reason, want)
	}
	big := e.file("big", "big.pptx", labeling.MaxLabelSize+1, connectors.LabelState{})
	refused(e.action(big, store.ActionApplyLabel, lGeneral), "over 50 MB")

	plain := e.file("plain", "plain.docx", 10, connectors.LabelState{})
	refused(e.action(plain, store.ActionApplyLabel, lOld), "disabled")
	refused(e.action(plain, store.ActionApplyLabel, lGone), "deleted")
	refused(e.action(plain, store.ActionApplyLabel, lOther), "not in the synced catalog")

	// A protected label applied outside labelgate: never removed, and replaced only by a label
	// that keeps protection (TestProtectionRule covers that replacement).
	prot := e.file("prot", "prot.docx", 10, connectors.LabelState{LabelID: lSecret, Protected: true})
	refused(e.action(prot, store.ActionRemoveLabel, ""), "protection applied outside labelgate")
	require.Equal(t, lSecret, e.conn.Label("prot").LabelID)
	refused(e.action(prot, store.ActionApplyLabel, lGeneral), "carries no protection")
	require.Equal(t, lSecret, e.conn.Label("prot").LabelID)

	// A protected label labelgate applied itself may be removed.
	mine := e.file("mine", "mine.docx", 10, connectors.LabelState{})
	require.Equal(t, store.ActionDone, e.exec(e.action(mine, store.ActionApplyLabel, lSecret)).State)
	e.conn.mu.Lock()
	e.conn.files["mine"].label.Protected = true
	e.conn.mu.Unlock()
	require.Equal(t, store.ActionDone, e.exec(e.action(mine, store.ActionRemoveLabel, "")).State)

	require.Len(t, e.events(store.EventActionRefused), 6)
	for _, ev := range e.events(store.EventActionRefused) {
		require.NotEmpty(t, ev.Detail)
	}
	require.Equal(t, 2, e.conn.Writes())
	require.EqualValues(t, 2, e.used(e.conn.app, false), "refusals give their units back")
}

// Without a native label API the label is written into the file by the real label engine
// and a new version uploaded.
func TestEmbeddedMode(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	conn := newMemConn(connectors.AppFileShare, labeltest.TenantContoso)
	_, err := e.st.SyncLabels(ctx, conn.app, conn.tenant, []connectors.Label{
		{ID: labeltest.LabelGeneral, Name: "General"}, {ID: labeltest.LabelConfidential, Name: "Confidential", Priority: 2}})
	require.NoError(t, err)
	emb, err := labeling.NewExecutor(labeling.ExecutorConfig{Store: e.st, Connectors: labeling.Connectors(conn), Clock: e.clk,
		Retry: labeling.RetryConfig{Jitter: -1}})
	require.NoError(t, err)
	run := func(ref connectors.FileRef, kind, label string) labeling.Outcome {
		t.Helper()
		out, err := emb.Execute(ctx, e.action(ref, kind, label))
		require.NoError(t, err)
		return out
	}
	readLabel := func(item string) *labeling.Label {
		t.Helper()
		b := conn.Content(item)
		res, err := labeling.Read(ctx, bytes.NewReader(b), int64(len(b)), "x.docx")
		require.NoError(t, err)
		return res.Label
	}

	txt := conn.addContent("txt", "notes.txt", []byte("hello"))
	out := run(txt.Ref, store.ActionApplyLabel, labeltest.LabelGeneral)
	require.Equal(t, store.ActionRefused, out.State)
	require.Contains(t, out.Reason, labeling.ErrUnsupported.Error())
	// A legacy binary file is read (issue 20) but writing into it is refused with the reason.
	xls := conn.addContent("xls", "old.xls", labeltest.Legacy("excel", labeltest.LegacyOptions{}))
	out = run(xls.Ref, store.ActionApplyLabel, labeltest.LabelGeneral)
	require.Equal(t, store.ActionRefused, out.State)
	require.Contains(t, out.Reason, "legacy binary Office file")

	doc := conn.addContent("doc", "report.docx", labeltest.Docx(labeltest.Options{Text: []string{"quarterly numbers"}}))
	out = run(doc.Ref, store.ActionApplyLabel, labeltest.LabelGeneral)
	require.Equal(t, store.ActionDone, out.State, out.Reason)
	require.True(t, out.Wrote)
	l := readLabel("doc")
	require.NotNil(t, l)
	require.Equal(t, labeltest.LabelGeneral, l.ID)
	require.Equal(t, labeltest.TenantContoso, l.Tenant)

	// The same label again: read, found, nothing uploaded.
	out = run(doc.Ref, store.ActionApplyLabel, labeltest.LabelGeneral)
	require.Equal(t, store.ActionDone, out.State)
	require.False(t, out.Wrote)
	require.Equal(t, 1, conn.Calls("upload"))

	// An upload that timed out after it landed is found by the re-read: one upload only.
	conn.fail("upload", step{err: connectors.Errorf(connectors.KindTransient, "upload", 0, 0, context.DeadlineExceeded), after: true})
	out = run(doc.Ref, store.ActionApplyLabel, labeltest.LabelConfidential)
	require.Equal(t, store.ActionDone, out.State, out.Reason)
	require.Equal(t, 2, conn.Calls("upload"))
	require.Equal(t, labeltest.LabelConfidential, readLabel("doc").ID)

	out = run(doc.Ref, store.ActionRemoveLabel, "")
	require.Equal(t, store.ActionDone, out.State, out.Reason)
	require.Nil(t, readLabel("doc"))

	// An encrypted file cannot be rewritten without its keys.
	prot := conn.addContent("prot", "secret.docx", labeltest.Protected("rms", []labeltest.Label{labeltest.General()}, 0))
	out = run(prot.Ref, store.ActionApplyLabel, labeltest.LabelConfidential)
	require.Equal(t, store.ActionRefused, out.State)
	require.Contains(t, out.Reason, "protected")

	// A corrupt file fails at once: no retry changes its bytes.
	bad := conn.addContent("bad", "bad.docx", []byte("this is not a zip archive at all"))
	slept := len(e.clk.Sleeps())
	out = run(bad.Ref, store.ActionApplyLabel, labeltest.LabelGeneral)
	require.Equal(t, store.ActionFailed, out.State)
	require.Contains(t, out.Reason, labeling.ErrMalformed.Error())
	require.Len(t, e.clk.Sleeps(), slept, "no retry waits")

	// A native-API app labels any file the provider accepts.
	txt2 := e.file("txt2", "notes2.txt", 10, connectors.LabelState{})
	require.Equal(t, store.ActionDone, e.exec(e.action(txt2, store.ActionApplyLabel, lGeneral)).State)
}

func TestDisabledPolicySuspendsActions(t *testing.T) {
	t.Parallel()
	e := setup(t)
	ctx := context.Background()
	require.NoError(t, e.st.PutPolicy(ctx, store.Policy{ID: "p1", Name: "p1", Enabled: false, Doc: []byte("{}")}))
	var ids []int64
	for i := range 3 {
		ids = append(ids, e.action(e.file(fmt.Sprint("f", i), "f.docx", 10, connectors.LabelState{}), store.ActionApplyLabel, lGeneral))
	}
	st, err := e.ex.Drain(ctx)
	require.NoError(t, err)
	require.Zero(t, st.Executed)
	require.False(t, e.exec(ids[0]).Claimed, "a suspended action is not run even when asked directly")
	require.Zero(t, e.conn.Writes())
	require.EqualValues(t, 3, e.states()[store.ActionSuspended])

	require.NoError(t, e.st.SetPolicyEnabled(ctx, "p1", true))
	st, err = e.ex.Drain(ctx)
	require.NoError(t, err)
	require.Equal(t, 3, st.States[store.ActionDone])
	require.Equal(t, 3, e.conn.Writes())
}

func TestManualActionsFirst(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *labeling.ExecutorConfig) { c.Workers = 1 })
	for i := range 3 {
		e.action(e.file(fmt.Sprint("auto", i), "f.docx", 10, connectors.LabelState{}), store.ActionApplyLabel, lGeneral)
	}
	e.action(e.file("admin", "f.docx", 10, connectors.LabelState{}), store.ActionApplyLabel, lGeneral, func(a *store.Action) {
		a.Manual, a.PolicyID, a.RequestedBy = true, "", "admin@contoso.com"
	})
	_, err := e.ex.Drain(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{"admin", "auto0", "auto1", "auto2"}, e.conn.Applied())
	require.EqualValues(t, 1, e.used(e.conn.app, true))
	require.EqualValues(t, 3, e.used(e.conn.app, false))
	evs := e.events(store.EventLabelApplied)
	require.Equal(t, "admin@contoso.com", evs[0].Actor)
}

// 250 actions for one app: 100 today, the rest paused and continued after the 12:00 UTC
// reset oldest first; a second app has its own quota.
func TestDailyQuota(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			other := newMemConn(connectors.AppBox, "t1")
			var conns []connectors.Connector
			e := setupOn(t, b, func(c *labeling.ExecutorConfig) {
				conns = []connectors.Connector{nativeConn{other}}
				base := c.Connectors
				c.Connectors = func(app connectors.App, tenant string) (connectors.Connector, bool) {
					if app == other.app {
						return conns[0], true
					}
					return base(app, tenant)
				}
			})
			ctx := context.Background()
			syncCatalog(t, e.st, other.app, other.tenant)
			var ids []int64
			require.NoError(t, e.st.Tx(ctx, func(tx *store.Tx) error { // one transaction: keeps the test fast
				for i := range 260 {
					c, item := e.conn, fmt.Sprintf("f%03d", i)
					if i >= 250 {
						c = other
					}
					f := c.add(item, "f.docx", 10, connectors.LabelState{})
					id, _, err := tx.AddAction(ctx, store.Action{Key: f.Ref.Key(), Kind: store.ActionApplyLabel, Ref: f.Ref, LabelID: lGeneral, PolicyID: "p1"})
					if err != nil {
						return err
					}
					if i < 250 {
						ids = append(ids, id)
					}
				}
				return nil
			}))
			st, err := e.ex.Drain(ctx)
			require.NoError(t, err)
			require.Equal(t, 110, st.States[store.ActionDone])
			require.Equal(t, 150, st.States[store.ActionPaused])
			require.Equal(t, 100, e.conn.Writes())
			require.Equal(t, 10, other.Writes(), "another app is unaffected")
			require.EqualValues(t, 100, e.used(e.conn.app, false))

			// Still paused a minute before the reset.
			e.clk.Set(time.Date(2026, 3, 11, 11, 59, 0, 0, time.UTC))
			st, err = e.ex.Drain(ctx)
			require.NoError(t, err)
			require.Zero(t, st.Resumed)
			require.Equal(t, 100, e.conn.Writes())

			e.clk.Set(time.Date(2026, 3, 11, 12, 0, 0, 0, time.UTC))
			st, err = e.ex.Drain(ctx)
			require.NoError(t, err)
			require.EqualValues(t, 150, st.Resumed)
			require.Equal(t, 100, st.States[store.ActionDone])
			require.Equal(t, 50, st.States[store.ActionPaused])
			require.Equal(t, 200, e.conn.Writes())
			for i, id := range ids {
				a, err := e.st.GetAction(ctx, id)
				require.NoError(t, err)
				want := store.ActionDone
				if i >= 200 {
					want = store.ActionPaused // oldest first: the newest wait another day
				}
				require.Equal(t, want, a.State, "action %d", i)
			}
			require.EqualValues(t, 100, e.used(e.conn.app, false))
		})
	}
}

// Two replicas (two executors over two store handles on one PostgreSQL database) draining at
// once never exceed the quota.
func TestQuotaAcrossReplicas(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		if b.Name != store.Postgres {
			continue // SQLite is one process's file; replicas need PostgreSQL
		}
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock(start)
			url := b.OpenURL(t)
			open := func() *store.Store {
				st, err := store.Open(context.Background(), store.Config{URL: url, Now: clk.Now})
				require.NoError(t, err)
				t.Cleanup(func() { st.Close() })
				return st
			}
			st1, st2 := open(), open()
			conn := newMemConn(connectors.AppGDrive, "t1")
			syncCatalog(t, st1, conn.app, conn.tenant)
			ctx := context.Background()
			require.NoError(t, st1.Tx(ctx, func(tx *store.Tx) error {
				for i := range 250 {
					f := conn.add(fmt.Sprint("f", i), "f.docx", 10, connectors.LabelState{})
					if _, _, err := tx.AddAction(ctx, store.Action{Key: fmt.Sprint("k", i), Kind: store.ActionApplyLabel, Ref: f.Ref, LabelID: lGeneral}); err != nil {
						return err
					}
				}
				return nil
			}))
			quota := labeling.QuotaConfig{Default: 100, Manual: 10}
			var wg sync.WaitGroup
			for _, st := range []*store.Store{st1, st2} {
				ex, err := labeling.NewExecutor(labeling.ExecutorConfig{Store: st, Connectors: labeling.Connectors(nativeConn{conn}),
					Clock: clk, Quota: quota, Workers: 4})
				require.NoError(t, err)
				wg.Go(func() {
					_, err := ex.Drain(ctx)
					require.NoError(t, err)
				})
			}
			wg.Wait()
			require.Equal(t, 100, conn.Writes())
			counts, err := st1.CountActions(ctx)
			require.NoError(t, err)
			require.EqualValues(t, 100, counts[store.ActionDone])
			require.EqualValues(t, 150, counts[store.ActionPaused])
			used, err := st1.QuotaUsed(ctx, conn.app, "t1", store.AllowanceAuto, store.QuotaWindow(start))
			require.NoError(t, err)
			require.EqualValues(t, 100, used)
		})
	}
}

func TestRateLimitWaitsOnClock(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *labeling.ExecutorConfig) {
		c.RateLimits = map[connectors.App]labeling.RateLimit{connectors.AppSharePoint: {PerSecond: 2, Burst: 1}}
	})
	ref := e.file("a", "a.docx", 10, connectors.LabelState{})
	require.Equal(t, store.ActionDone, e.exec(e.action(ref, store.ActionApplyLabel, lGeneral)).State)
	// stat, read and apply: the first call takes the burst token, the next two wait 500ms each.
	require.Equal(t, []time.Duration{500 * time.Millisecond, 500 * time.Millisecond}, e.clk.Sleeps())
}

// A policy's onlyIfUnlabelled / onlyIfLowerPriority hold at write time too: a user who labelled
// the file after the policy matched it wins, and nothing is written or charged to the quota.
func TestPolicyLabelConditionsCheckedAtWriteTime(t *testing.T) {
	t.Parallel()
	e := setup(t)
	params := func(js string) func(*store.Action) {
		return func(a *store.Action) { a.Params = []byte(js) }
	}
	// Labelled General by a user since the match: an unlabelled-only policy leaves it.
	a := e.file("a", "a.docx", 10, connectors.LabelState{LabelID: lGeneral})
	out := e.exec(e.action(a, store.ActionApplyLabel, lSecret, params(`{"onlyIfUnlabelled":true}`)))
	require.Equal(t, store.ActionRefused, out.State)
	require.Contains(t, out.Reason, "only to unlabelled")
	require.Equal(t, lGeneral, e.conn.Label("a").LabelID)

	// A higher-priority label already there stays; a lower one is raised.
	b := e.file("b", "b.docx", 10, connectors.LabelState{LabelID: lSecret})
	out = e.exec(e.action(b, store.ActionApplyLabel, lGeneral, params(`{"onlyIfLowerPriority":true}`)))
	require.Equal(t, store.ActionRefused, out.State)
	require.Contains(t, out.Reason, "not lower")
	c := e.file("c", "c.docx", 10, connectors.LabelState{LabelID: lGeneral})
	out = e.exec(e.action(c, store.ActionApplyLabel, lSecret, params(`{"onlyIfLowerPriority":true}`)))
	require.Equal(t, store.ActionDone, out.State)
	require.Equal(t, lSecret, e.conn.Label("c").LabelID)

	// A label the catalog does not know cannot be compared, so it is left alone.
	d := e.file("d", "d.docx", 10, connectors.LabelState{LabelID: lOther})
	out = e.exec(e.action(d, store.ActionApplyLabel, lSecret, params(`{"onlyIfLowerPriority":true}`)))
	require.Equal(t, store.ActionRefused, out.State)
	require.Equal(t, lOther, e.conn.Label("d").LabelID)

	require.Equal(t, 1, e.conn.Writes())
	require.EqualValues(t, 1, e.used(e.conn.app, false), "refusals give their quota back")
}

// On a first start the scans can produce actions before the catalog's first sync: they wait
// for it instead of being refused for an "unknown" label.
func TestActionsWaitForFirstCatalogSync(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(start)
	st := storetest.OpenSQLite(t, func(c *store.Config) { c.Now = clk.Now })
	conn := newMemConn(connectors.AppSharePoint, "t1")
	ex, err := labeling.NewExecutor(labeling.ExecutorConfig{Store: st, Connectors: labeling.Connectors(nativeConn{conn}), Clock: clk,
		Retry: labeling.RetryConfig{Jitter: -1}})
	require.NoError(t, err)
	e := &env{t: t, st: st, clk: clk, conn: conn, ex: ex}
	ref := e.file("a", "a.docx", 10, connectors.LabelState{})
	id := e.action(ref, store.ActionApplyLabel, lGeneral)
	out := e.exec(id)
	require.Equal(t, store.ActionPending, out.State)
	require.Contains(t, out.Reason, "not synced yet")
	require.Zero(t, e.used(conn.app, false))

	syncCatalog(t, st, conn.app, conn.tenant)
	clk.Set(start.Add(2 * time.Minute))
	out = e.exec(id)
	require.Equal(t, store.ActionDone, out.State)
	require.Equal(t, lGeneral, conn.Label("a").LabelID)

	// Once synced, a label the catalog does not have is refused at once.
	b := e.file("b", "b.docx", 10, connectors.LabelState{})
	out = e.exec(e.action(b, store.ActionApplyLabel, lOther))
	require.Equal(t, store.ActionRefused, out.State)
}
