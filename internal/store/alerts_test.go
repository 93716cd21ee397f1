package store_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
)

// alertClock is a settable clock for the alert tests.
type alertClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *alertClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *alertClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// forEachAlertBackend runs fn on SQLite and PostgreSQL with a store on a fake clock.
func forEachAlertBackend(t *testing.T, fn func(t *testing.T, s *store.Store, clk *alertClock)) {
	t.Helper()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			clk := &alertClock{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
			fn(t, storetest.Open(t, b, func(c *store.Config) { c.Now = clk.Now }), clk)
		})
	}
}

func TestRaiseAlertGroupsWithinWindow(t *testing.T) {
	t.Parallel()
	forEachAlertBackend(t, func(t *testing.T, s *store.Store, clk *alertClock) {
		ctx := context.Background()
		a := store.Alert{GroupKey: "label_removed|" + ref("f1").Key(), Rule: "label_removed", Severity: "high",
			Title: "Label removed", Ref: ref("f1"), Name: "a.docx", PrevLabelID: "L1", EventID: 7}
		out := []store.OutboxItem{{Sink: "hook", Kind: "webhook"}, {Sink: "audit", Kind: "jsonl"}}
		notices := []store.Notice{{Recipient: "alice@contoso.com", Kind: "owner", Title: "Label removed", Ref: ref("f1")}}
		first, created, err := s.RaiseAlert(ctx, a, time.Hour, out, notices)
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, store.AlertOpen, first.State)
		require.EqualValues(t, 1, first.Count)

		clk.Add(30 * time.Minute)
		a.EventID = 8
		again, created, err := s.RaiseAlert(ctx, a, time.Hour, out, notices)
		require.NoError(t, err)
		require.False(t, created, "a repeat inside the window joins the open alert")
		require.Equal(t, first.ID, again.ID)
		require.EqualValues(t, 2, again.Count)
		require.EqualValues(t, 8, again.EventID)
		require.True(t, again.LastAt.After(again.FirstAt))

		// Only the first occurrence queued deliveries.
		items, err := s.ListOutbox(ctx, store.OutboxFilter{AlertID: first.ID})
		require.NoError(t, err)
		require.Len(t, items, 2)
		waiting, err := s.WaitingDigests(ctx)
		require.NoError(t, err)
		require.Len(t, waiting, 1)
		require.EqualValues(t, 1, waiting[0].Waiting, "the owner hears of the group once")

		// Acknowledged alerts still absorb repeats; past the window a new alert starts.
		_, err = s.AckAlert(ctx, first.ID, "ops@contoso.com")
		require.NoError(t, err)
		clk.Add(20 * time.Minute)
		_, created, err = s.RaiseAlert(ctx, a, time.Hour, out, nil)
		require.NoError(t, err)
		require.False(t, created)
		clk.Add(20 * time.Minute)
		third, created, err := s.RaiseAlert(ctx, a, time.Hour, out, nil)
		require.NoError(t, err)
		require.True(t, created)
		require.NotEqual(t, first.ID, third.ID)

		// A resolved alert never absorbs; window 0 groups with any unresolved one.
		_, err = s.ResolveAlert(ctx, third.ID, "ops")
		require.NoError(t, err)
		fourth, created, err := s.RaiseAlert(ctx, a, 0, nil, nil)
		require.NoError(t, err)
		require.False(t, created, "the acknowledged first alert is unresolved and window 0 is unbounded")
		require.Equal(t, first.ID, fourth.ID)
		require.EqualValues(t, 4, fourth.Count)

		counts, err := s.CountAlerts(ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]int64{store.AlertAcknowledged: 1, store.AlertResolved: 1}, counts)
	})
}

func TestAlertStateChanges(t *testing.T) {
	t.Parallel()
	forEachAlertBackend(t, func(t *testing.T, s *store.Store, clk *alertClock) {
		ctx := context.Background()
		a, _, err := s.RaiseAlert(ctx, store.Alert{GroupKey: "g1", Rule: "r", Severity: "low", Title: "t"}, time.Hour, nil, nil)
		require.NoError(t, err)
		b, _, err := s.RaiseAlert(ctx, store.Alert{GroupKey: "g2", Rule: "r2", Severity: "high", Title: "t2",
			Ref: connectors.FileRef{App: connectors.AppBox, Tenant: "E", Drive: "0", ItemID: "9"}}, time.Hour, nil, nil)
		require.NoError(t, err)

		acked, err := s.AckAlert(ctx, a.ID, "ann")
		require.NoError(t, err)
		require.Equal(t, store.AlertAcknowledged, acked.State)
		require.Equal(t, "ann", acked.AckedBy)
		require.Equal(t, clk.Now(), acked.AckedAt)
		again, err := s.AckAlert(ctx, a.ID, "bob")
		require.NoError(t, err)
		require.Equal(t, "ann", again.AckedBy, "a second ack changes nothing")

		res, err := s.ResolveAlert(ctx, a.ID, "bob")
		require.NoError(t, err)
		require.Equal(t, store.AlertResolved, res.State)
		_, err = s.AckAlert(ctx, a.ID, "ann")
		require.ErrorIs(t, err, store.ErrAlertResolved)
		res2, err := s.ResolveAlert(ctx, a.ID, "carl")
		require.NoError(t, err)
		require.Equal(t, "bob", res2.ResolvedBy)

		_, err = s.AckAlert(ctx, 424242, "x")
		require.ErrorIs(t, err, store.ErrNotFound)
		_, err = s.ResolveAlert(ctx, 424242, "x")
		require.ErrorIs(t, err, store.ErrNotFound)

		open, err := s.ListAlerts(ctx, store.AlertFilter{States: []string{store.AlertOpen}})
		require.NoError(t, err)
		require.Len(t, open, 1)
		require.Equal(t, b.ID, open[0].ID)
		all, err := s.ListAlerts(ctx, store.AlertFilter{})
		require.NoError(t, err)
		require.Equal(t, []int64{b.ID, a.ID}, []int64{all[0].ID, all[1].ID}, "newest first")
		page, err := s.ListAlerts(ctx, store.AlertFilter{BeforeID: b.ID})
		require.NoError(t, err)
		require.Len(t, page, 1)
		byApp, err := s.ListAlerts(ctx, store.AlertFilter{App: connectors.AppBox, Severity: "high", Rule: "r2"})
		require.NoError(t, err)
		require.Len(t, byApp, 1)

		groups, err := s.UnresolvedAlertGroups(ctx, "g")
		require.NoError(t, err)
		require.Equal(t, []string{"g2"}, groups)
		n, err := s.ResolveAlertGroup(ctx, "g2", "labelgate")
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
	})
}

func TestOutboxClaimRetryAndLease(t *testing.T) {
	t.Parallel()
	forEachAlertBackend(t, func(t *testing.T, s *store.Store, clk *alertClock) {
		ctx := context.Background()
		require.NoError(t, s.EnqueueOutbox(ctx, store.OutboxItem{Sink: "hook", Kind: "webhook", Payload: []byte(`{"x":1}`)},
			store.OutboxItem{Sink: "audit", Kind: "jsonl", NextAt: clk.Now().Add(time.Minute)}))
		got, err := s.ClaimOutbox(ctx, clk.Now(), time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, got, 1, "the second delivery is not due yet")
		require.Equal(t, `{"x":1}`, string(got[0].Payload))
		again, err := s.ClaimOutbox(ctx, clk.Now(), time.Minute, 10)
		require.NoError(t, err)
		require.Empty(t, again, "a leased delivery is not handed out twice")

		require.NoError(t, s.FinishOutbox(ctx, got[0].ID, store.OutboxPending, clk.Now().Add(2*time.Minute), "500 Internal Server Error"))
		clk.Add(90 * time.Second)
		due, err := s.ClaimOutbox(ctx, clk.Now(), time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, due, 1)
		require.Equal(t, "audit", due[0].Sink)

		// A lease that runs out (a dead worker) hands the delivery out again.
		clk.Add(2 * time.Minute)
		due, err = s.ClaimOutbox(ctx, clk.Now(), time.Minute, 10)
		require.NoError(t, err)
		require.Len(t, due, 2)
		for _, o := range due {
			require.NoError(t, s.FinishOutbox(ctx, o.ID, store.OutboxDone, time.Time{}, ""))
		}
		items, err := s.ListOutbox(ctx, store.OutboxFilter{Kind: "webhook"})
		require.NoError(t, err)
		require.Len(t, items, 1)
		require.Equal(t, store.OutboxDone, items[0].State)
		require.Equal(t, 2, items[0].Attempts)
		counts, err := s.CountOutbox(ctx)
		require.NoError(t, err)
		require.Equal(t, map[string]int64{store.OutboxDone: 2}, counts)
	})
}

func TestDigestOncePerInterval(t *testing.T) {
	t.Parallel()
	forEachAlertBackend(t, func(t *testing.T, s *store.Store, clk *alertClock) {
		ctx := context.Background()
		for i, name := range []string{"a.docx", "b.docx", "c.docx"} {
			require.NoError(t, s.AddNotice(ctx, store.Notice{Recipient: "alice@contoso.com", Kind: "owner", Title: "Label removed",
				Name: name, Ref: ref(name), ActionID: int64(i + 1)}))
		}
		require.NoError(t, s.AddNotice(ctx, store.Notice{Recipient: "bob@contoso.com", Kind: "owner", Title: "x"}))
		waiting, err := s.WaitingDigests(ctx)
		require.NoError(t, err)
		require.Len(t, waiting, 2)
		require.Equal(t, "alice@contoso.com", waiting[0].Recipient)
		require.EqualValues(t, 3, waiting[0].Waiting)
		require.True(t, waiting[0].LastSent.IsZero())

		build := func(ns []store.Notice) (store.OutboxItem, error) {
			b, err := json.Marshal(ns)
			return store.OutboxItem{Sink: "mail", Kind: "smtp", Recipient: ns[0].Recipient, Payload: b}, err
		}
		sent, err := s.TakeDigest(ctx, "alice@contoso.com", "owner", clk.Now(), time.Hour, 100, build)
		require.NoError(t, err)
		require.True(t, sent)
		items, err := s.ListOutbox(ctx, store.OutboxFilter{Kind: "smtp"})
		require.NoError(t, err)
		require.Len(t, items, 1)
		var ns []store.Notice
		require.NoError(t, json.Unmarshal(items[0].Payload, &ns))
		require.Len(t, ns, 3, "three notices, one delivery")

		// A new notice inside the interval waits for the next digest.
		require.NoError(t, s.AddNotice(ctx, store.Notice{Recipient: "alice@contoso.com", Kind: "owner", Title: "d"}))
		clk.Add(30 * time.Minute)
		sent, err = s.TakeDigest(ctx, "alice@contoso.com", "owner", clk.Now(), time.Hour, 100, build)
		require.NoError(t, err)
		require.False(t, sent)
		clk.Add(31 * time.Minute)
		sent, err = s.TakeDigest(ctx, "alice@contoso.com", "owner", clk.Now(), time.Hour, 100, build)
		require.NoError(t, err)
		require.True(t, sent)
		waiting, err = s.WaitingDigests(ctx)
		require.NoError(t, err)
		require.Len(t, waiting, 1)
		require.Equal(t, "bob@contoso.com", waiting[0].Recipient)
	})
}

func TestFailingSubscriptions(t *testing.T) {
	t.Parallel()
	forEachAlertBackend(t, func(t *testing.T, s *store.Store, clk *alertClock) {
		ctx := context.Background()
		now := clk.Now()
		require.NoError(t, s.PutSubscription(ctx, connectors.AppBox, "E", connectors.Subscription{ID: "ok", Drive: "0", Expires: now.Add(time.Hour)}))
		require.NoError(t, s.PutSubscription(ctx, connectors.AppBox, "E", connectors.Subscription{ID: "bad", Drive: "0",
			Expires: now.Add(time.Hour), LastError: "renew: 403"}))
		require.NoError(t, s.PutSubscription(ctx, connectors.AppGDrive, "T", connectors.Subscription{ID: "old", Drive: "d", Expires: now.Add(-time.Minute)}))
		got, err := s.FailingSubscriptions(ctx, now)
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Equal(t, "bad", got[0].ID)
		require.Equal(t, "renew: 403", got[0].LastError)
		require.Equal(t, connectors.AppGDrive, got[1].App)
		require.Equal(t, "old", got[1].ID)
	})
}
