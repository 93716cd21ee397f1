package store_test

import (
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
)

func TestQuotaWindow(t *testing.T) {
	t.Parallel()
	day := func(h, m int) time.Time { return time.Date(2026, 3, 10, h, m, 0, 0, time.UTC) }
	require.Equal(t, day(12, 0), store.QuotaWindow(day(12, 0)))
	require.Equal(t, day(12, 0), store.QuotaWindow(day(23, 59)))
	require.Equal(t, day(12, 0).AddDate(0, 0, -1), store.QuotaWindow(day(11, 59)))
	require.Equal(t, day(12, 0).AddDate(0, 0, 1), store.NextQuotaReset(day(12, 0)))
	require.Equal(t, day(12, 0), store.NextQuotaReset(day(0, 0)))
	// A local time is placed by its UTC instant.
	cet := time.FixedZone("CET", 3600)
	require.Equal(t, day(12, 0), store.QuotaWindow(time.Date(2026, 3, 10, 13, 30, 0, 0, cet)))
	require.Equal(t, day(12, 0).AddDate(0, 0, -1), store.QuotaWindow(time.Date(2026, 3, 10, 12, 30, 0, 0, cet)))
}

func quotaAction(s *store.Store, t *testing.T, app connectors.App, item string, manual bool) int64 {
	t.Helper()
	id, created, err := s.AddAction(context.Background(), store.Action{Key: string(app) + "|" + item, Kind: store.ActionApplyLabel,
		Ref: connectors.FileRef{App: app, Tenant: "t1", Drive: "d", ItemID: item}, LabelID: "L", Manual: manual})
	require.NoError(t, err)
	require.True(t, created)
	return id
}

func TestClaimActionQuota(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			s := storetest.Open(t, b)
			ctx := context.Background()
			now := time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC)
			limit := func(a store.Action) int {
				if a.Manual {
					return 1
				}
				return 2
			}
			var ids []int64
			for i := range 3 {
				ids = append(ids, quotaAction(s, t, connectors.AppBox, fmt.Sprint("f", i), false))
			}
			manual := quotaAction(s, t, connectors.AppBox, "m", true)

			for _, id := range ids[:2] {
				c, err := s.ClaimAction(ctx, id, now, nil, limit)
				require.NoError(t, err)
				require.True(t, c.Claimed)
				require.Equal(t, store.ActionRunning, c.Action.State)
				require.Equal(t, 1, c.Action.Attempts)
			}
			// Claiming again is refused: the action is no longer pending.
			c, err := s.ClaimAction(ctx, ids[0], now, nil, limit)
			require.NoError(t, err)
			require.False(t, c.Claimed)
			require.Equal(t, store.ActionRunning, c.Action.State)

			c, err = s.ClaimAction(ctx, ids[2], now, nil, limit)
			require.NoError(t, err)
			require.False(t, c.Claimed)
			require.True(t, c.Paused)
			require.Equal(t, store.NextQuotaReset(now), c.Action.NotBefore)
			a, err := s.GetAction(ctx, ids[2])
			require.NoError(t, err)
			require.Equal(t, store.ActionPaused, a.State)
			require.Contains(t, a.Reason, "quota")
			require.Equal(t, 0, a.Attempts)

			// The manual allowance is its own counter.
			c, err = s.ClaimAction(ctx, manual, now, nil, limit)
			require.NoError(t, err)
			require.True(t, c.Claimed)
			used, err := s.QuotaUsed(ctx, connectors.AppBox, "t1", store.AllowanceAuto, store.QuotaWindow(now))
			require.NoError(t, err)
			require.EqualValues(t, 2, used)
			used, err = s.QuotaUsed(ctx, connectors.AppBox, "t1", store.AllowanceManual, store.QuotaWindow(now))
			require.NoError(t, err)
			require.EqualValues(t, 1, used)

			// A write that did not happen gives its unit back, to the window it came from,
			// even when it ends after the reset.
			later := store.NextQuotaReset(now).Add(time.Minute)
			require.NoError(t, s.CompleteAction(ctx, store.Completion{ID: ids[0], State: store.ActionFailed, Reason: "boom",
				ReleaseQuota: true, Event: store.EventActionFailed, Actor: "executor"}))
			used, err = s.QuotaUsed(ctx, connectors.AppBox, "t1", store.AllowanceAuto, store.QuotaWindow(now))
			require.NoError(t, err)
			require.EqualValues(t, 1, used)
			require.ErrorIs(t, s.CompleteAction(ctx, store.Completion{ID: ids[0], State: store.ActionDone}), store.ErrNotRunning)
			evs, err := s.ListEvents(ctx, store.EventFilter{Kind: store.EventActionFailed}, 10)
			require.NoError(t, err)
			require.Len(t, evs, 1)
			require.Equal(t, "boom", evs[0].Detail)
			require.Equal(t, "L", evs[0].LabelID)

			// Not due before the reset; resumed after it.
			n, err := s.ResumePaused(ctx, now)
			require.NoError(t, err)
			require.Zero(t, n)
			n, err = s.ResumePaused(ctx, later)
			require.NoError(t, err)
			require.EqualValues(t, 1, n)
			due, err := s.RunnableActions(ctx, store.RunnableFilter{Now: later, ManualFirst: true})
			require.NoError(t, err)
			require.Len(t, due, 1)
			require.Equal(t, ids[2], due[0].ID)
			due, err = s.RunnableActions(ctx, store.RunnableFilter{Now: later, AfterID: ids[2]})
			require.NoError(t, err)
			require.Empty(t, due)
			c, err = s.ClaimAction(ctx, ids[2], later, nil, limit)
			require.NoError(t, err)
			require.True(t, c.Claimed)
			used, err = s.QuotaUsed(ctx, connectors.AppBox, "t1", store.AllowanceAuto, store.QuotaWindow(later))
			require.NoError(t, err)
			require.EqualValues(t, 1, used)
			usage, err := s.ListQuotaUsage(ctx, store.QuotaWindow(now))
			require.NoError(t, err)
			require.Len(t, usage, 2)
			scopes, err := s.QuotaScopes(ctx, store.QuotaWindow(now))
			require.NoError(t, err)
			require.Equal(t, []store.QuotaScope{{App: connectors.AppBox, Tenant: "t1"}}, scopes)
		})
	}
}

// The claim brings the action's catalog label; completions record the inventory label, the
// event (named from the provider's facts or else the inventory) and give quota units back to
// the allowance and window they were taken from. PostgreSQL does this in single statements,
// SQLite in transactions: the same assertions hold for both.
func TestCompleteActionRecordsLabel(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now()
		files := map[string]connectors.File{}
		for _, item := range []string{"x", "y", "m"} {
			f := connectors.File{Ref: connectors.FileRef{App: connectors.AppGDrive, Tenant: "t1", Drive: "d", ItemID: item}, Path: "/HR",
				Name: item + ".docx"}
			_, _, err := s.UpsertFile(ctx, f)
			require.NoError(t, err)
			files[item] = f
		}
		_, err := s.SyncLabels(ctx, connectors.AppGDrive, "t1", []connectors.Label{{ID: "L1", Name: "Confidential", Priority: 3}})
		require.NoError(t, err)
		add := func(item, labelID string, kind string, manual bool) int64 {
			id, _, err := s.AddAction(ctx, store.Action{Key: kind + item, Kind: kind, Ref: files[item].Ref, LabelID: labelID, Manual: manual})
			require.NoError(t, err)
			return id
		}
		claim := func(id int64, limit int) store.Claim {
			c, err := s.ClaimAction(ctx, id, now, nil, func(store.Action) int { return limit })
			require.NoError(t, err)
			require.True(t, c.Claimed)
			return c
		}
		used := func(allowance string) int64 {
			n, err := s.QuotaUsed(ctx, connectors.AppGDrive, "t1", allowance, store.QuotaWindow(now))
			require.NoError(t, err)
			return n
		}
		lastEvent := func(kind string) store.Event {
			evs, err := s.ListEvents(ctx, store.EventFilter{Kind: kind}, 100)
			require.NoError(t, err)
			require.NotEmpty(t, evs)
			return evs[len(evs)-1]
		}

		// x: unlimited, applied; the event is named from the inventory.
		id := add("x", "L1", store.ActionApplyLabel, false)
		c := claim(id, -1)
		require.NotNil(t, c.Label)
		require.Equal(t, "Confidential", c.Label.Name)
		require.Equal(t, store.LabelEnabled, c.Label.State)
		require.NoError(t, s.CompleteAction(ctx, store.Completion{ID: id, State: store.ActionDone,
			Label: &store.FileLabel{LabelID: "L1", Tenant: "t1", Method: "standard"}, Actor: "executor"}))
		rec, err := s.GetFile(ctx, files["x"].Ref)
		require.NoError(t, err)
		require.Equal(t, "L1", rec.LabelID)
		require.Equal(t, "standard", rec.LabelMethod)
		ev := lastEvent(store.EventLabelApplied)
		require.Equal(t, "x.docx", ev.Name)
		require.Equal(t, "/HR", ev.Path)
		require.Equal(t, "L1", ev.LabelID)
		require.Empty(t, ev.PrevLabelID)
		require.Equal(t, "executor", ev.Actor)
		require.Zero(t, used(store.AllowanceAuto), "unlimited claims count nothing")
		require.ErrorIs(t, s.CompleteAction(ctx, store.Completion{ID: id, State: store.ActionDone}), store.ErrNotRunning)

		// x again: remove; the event is named from the provider's facts and reads label_cleared.
		idRemove := add("x", "", store.ActionRemoveLabel, false)
		c = claim(idRemove, 10)
		require.Nil(t, c.Label, "a remove names no label")
		require.EqualValues(t, 1, used(store.AllowanceAuto))
		require.NoError(t, s.CompleteAction(ctx, store.Completion{ID: idRemove, State: store.ActionDone, Label: &store.FileLabel{},
			File: &store.FileFacts{Path: "/Moved", Name: "renamed.docx", PrevLabelID: "L1"}, Actor: "admin@example.com"}))
		rec, err = s.GetFile(ctx, files["x"].Ref)
		require.NoError(t, err)
		require.Empty(t, rec.LabelID)
		ev = lastEvent(store.EventLabelCleared)
		require.Equal(t, "/Moved", ev.Path)
		require.Equal(t, "renamed.docx", ev.Name)
		require.Equal(t, "L1", ev.PrevLabelID)
		require.Empty(t, ev.LabelID)
		require.EqualValues(t, 1, used(store.AllowanceAuto), "a write that happened keeps its unit")

		// y: a label the catalog lacks; refused, the unit goes back, the event keeps the action's label.
		id = add("y", "nope", store.ActionApplyLabel, false)
		c = claim(id, 10)
		require.Nil(t, c.Label)
		require.EqualValues(t, 2, used(store.AllowanceAuto))
		require.NoError(t, s.CompleteAction(ctx, store.Completion{ID: id, State: store.ActionRefused, Reason: "unknown label",
			ReleaseQuota: true, Event: store.EventActionRefused, Actor: "policy:p1"}))
		require.EqualValues(t, 1, used(store.AllowanceAuto))
		ev = lastEvent(store.EventActionRefused)
		require.Equal(t, "nope", ev.LabelID)
		require.Equal(t, "unknown label", ev.Detail)
		require.Equal(t, "y.docx", ev.Name)
		rec, err = s.GetFile(ctx, files["y"].Ref)
		require.NoError(t, err)
		require.Empty(t, rec.LabelID, "a refusal leaves the inventory alone")

		// m: a manual action counts against the manual allowance and going back to pending
		// returns the unit there, with no event.
		id = add("m", "L1", store.ActionApplyLabel, true)
		claim(id, 5)
		require.EqualValues(t, 1, used(store.AllowanceManual))
		n, err := s.ListEvents(ctx, store.EventFilter{}, 1000)
		require.NoError(t, err)
		require.NoError(t, s.CompleteAction(ctx, store.Completion{ID: id, State: store.ActionPending, NotBefore: now.Add(time.Hour),
			Reason: "retry later"}))
		require.Zero(t, used(store.AllowanceManual))
		require.EqualValues(t, 1, used(store.AllowanceAuto))
		a, err := s.GetAction(ctx, id)
		require.NoError(t, err)
		require.Equal(t, store.ActionPending, a.State)
		require.Equal(t, "retry later", a.Reason)
		require.Equal(t, now.Add(time.Hour).UnixMilli(), a.NotBefore.UnixMilli())
		n2, err := s.ListEvents(ctx, store.EventFilter{}, 1000)
		require.NoError(t, err)
		require.Len(t, n2, len(n), "going back to wait logs nothing")

		// ghost: a file missing from the inventory still gets its event, with empty names.
		ghost := connectors.FileRef{App: connectors.AppGDrive, Tenant: "t1", Drive: "d", ItemID: "ghost"}
		id, _, err = s.AddAction(ctx, store.Action{Key: "ghost", Kind: store.ActionApplyLabel, Ref: ghost, LabelID: "L1"})
		require.NoError(t, err)
		claim(id, -1)
		require.NoError(t, s.CompleteAction(ctx, store.Completion{ID: id, State: store.ActionDone,
			Label: &store.FileLabel{LabelID: "L1", Tenant: "t1"}}))
		ev = lastEvent(store.EventLabelApplied)
		require.Equal(t, "ghost", ev.ItemID)
		require.Empty(t, ev.Name)
		_, err = s.GetFile(ctx, ghost)
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}

// Two handles on one PostgreSQL database claim concurrently; the limit holds exactly.
func TestClaimActionQuotaConcurrent(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			url := b.OpenURL(t)
			open := func() *store.Store {
				s, err := store.Open(context.Background(), store.Config{URL: url})
				require.NoError(t, err)
				t.Cleanup(func() { s.Close() })
				return s
			}
			s1, s2 := open(), open()
			ctx := context.Background()
			var ids []int64
			for i := range 60 {
				ids = append(ids, quotaAction(s1, t, connectors.AppOneDrive, fmt.Sprint("f", i), false))
			}
			now := time.Now()
			var mu sync.Mutex
			claimed, paused := 0, 0
			var wg sync.WaitGroup
			p2 := s2.Prepared() // the executor's prepared path races the plain one
			t.Cleanup(func() { p2.Close() })
			for w := range 8 {
				claim := s1.ClaimAction
				if w%2 == 1 {
					claim = p2.ClaimAction
				}
				wg.Go(func() {
					for _, id := range ids {
						c, err := claim(ctx, id, now, nil, func(store.Action) int { return 25 })
						if err != nil && !errors.Is(err, context.Canceled) {
							t.Error(err)
							return
						}
						mu.Lock()
						if c.Claimed {
							claimed++
						}
						if c.Paused {
							paused++
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			require.Equal(t, 25, claimed)
			require.Equal(t, 35, paused)
			used, err := s1.QuotaUsed(ctx, connectors.AppOneDrive, "t1", store.AllowanceAuto, store.QuotaWindow(now))
			require.NoError(t, err)
			require.EqualValues(t, 25, used)
		})
	}
}

// The write mark survives the take-back of an action whose run died, so its next claim knows a
// write was sent; only a running action can be marked.
func TestMarkWriteSent(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := time.Now()
		id := quotaAction(s, t, connectors.AppBox, "f", false)
		limit := func(store.Action) int { return 10 }
		require.ErrorIs(t, s.MarkWriteSent(ctx, id, now), store.ErrNotRunning, "a pending action has no run to write")
		c, err := s.ClaimAction(ctx, id, now, nil, limit)
		require.NoError(t, err)
		require.False(t, c.WriteSent)
		require.NoError(t, s.MarkWriteSent(ctx, id, now))
		require.NoError(t, s.MarkWriteSent(ctx, id, now.Add(time.Second)), "marking again keeps the first time")
		require.NoError(t, s.CompleteAction(ctx, store.Completion{ID: id, State: store.ActionPending, Reason: "requeued"}))
		c, err = s.ClaimAction(ctx, id, now, nil, limit)
		require.NoError(t, err)
		require.True(t, c.Claimed)
		require.True(t, c.WriteSent)
		require.ErrorIs(t, s.MarkWriteSent(ctx, 999999, now), store.ErrNotRunning)
	})
}
