package labeling_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling"
)

// Tests of the sharing actions (issue 24) in the executor. shareConn is an in-package double
// of a provider's sharing API (connectors.SharingRestrictor) over memConn; the same behaviour
// through the real connectors and their emulators is tested in internal/gateway once the
// connectors implement the interface.

// shareConn keeps each file's grants; a file's access is its widest grant's, as providers
// report it. RemovePermission of a grant already gone succeeds, like the providers' 404.
type shareConn struct {
	nativeConn
	smu     sync.Mutex
	perms   map[string][]connectors.Permission
	removed int // grants that went
	minted  int
	// landed, when set, runs after a grant was removed, before the call returns.
	landed func()
}

var _ connectors.SharingRestrictor = (*shareConn)(nil)

func newShareConn(m *memConn) *shareConn {
	return &shareConn{nativeConn: nativeConn{m}, perms: map[string][]connectors.Permission{}}
}

func (s *shareConn) share(item string, ps ...connectors.Permission) {
	s.smu.Lock()
	defer s.smu.Unlock()
	s.perms[item] = append(s.perms[item], ps...)
}

func (s *shareConn) grants(item string) []connectors.Permission {
	s.smu.Lock()
	defer s.smu.Unlock()
	return append([]connectors.Permission(nil), s.perms[item]...)
}

func (s *shareConn) Removed() int {
	s.smu.Lock()
	defer s.smu.Unlock()
	return s.removed
}

func (s *shareConn) access(item string) (connectors.AccessLevel, []string) {
	s.smu.Lock()
	defer s.smu.Unlock()
	acc := connectors.AccessPrivate
	var domains []string
	for _, p := range s.perms[item] {
		if p.Owner {
			continue
		}
		if p.Access.Rank() > acc.Rank() {
			acc = p.Access
		}
		if p.Domain != "" {
			domains = append(domains, p.Domain)
		}
	}
	return acc, domains
}

func (s *shareConn) Stat(ctx context.Context, ref connectors.FileRef) (connectors.File, error) {
	f, err := s.memConn.Stat(ctx, ref)
	if err == nil {
		f.Access, f.Domains = s.access(ref.ItemID)
	}
	return f, err
}

func (s *shareConn) Permissions(_ context.Context, ref connectors.FileRef) ([]connectors.Permission, error) {
	s.mu.Lock()
	st := s.next("perms")
	s.mu.Unlock()
	if st.err != nil {
		return nil, st.err
	}
	return s.grants(ref.ItemID), nil
}

func (s *shareConn) RemovePermission(_ context.Context, ref connectors.FileRef, p connectors.Permission) error {
	s.mu.Lock()
	st := s.next("unshare")
	s.mu.Unlock()
	if st.err != nil && !st.after {
		return st.err
	}
	s.smu.Lock()
	ps := s.perms[ref.ItemID]
	for i, g := range ps {
		if g.ID == p.ID {
			s.perms[ref.ItemID] = append(ps[:i:i], ps[i+1:]...)
			s.removed++
			break
		}
	}
	landed := s.landed
	s.smu.Unlock()
	if landed != nil {
		landed()
	}
	return st.err // a grant already gone: success (the provider's 404)
}

func (s *shareConn) RestorePermission(_ context.Context, ref connectors.FileRef, p connectors.Permission) (connectors.Permission, error) {
	s.mu.Lock()
	st := s.next("restore")
	s.mu.Unlock()
	if st.err != nil {
		return connectors.Permission{}, st.err
	}
	s.smu.Lock()
	defer s.smu.Unlock()
	if p.Kind == connectors.GrantLink {
		s.minted++
		// Providers mint a new link: new id, new address.
		p.ID, p.LinkURL = fmt.Sprintf("link-%d", s.minted), fmt.Sprintf("https://share.example/new/%d", s.minted)
	}
	s.perms[ref.ItemID] = append(s.perms[ref.ItemID], p)
	return p, nil
}

var (
	gOwner    = connectors.Permission{ID: "own", Kind: connectors.GrantUser, Role: "owner", Email: "ann@contoso.com", Access: connectors.AccessInternal, Owner: true}
	gColleage = connectors.Permission{ID: "u-bob", Kind: connectors.GrantUser, Role: "write", Email: "bob@contoso.com", Domain: "contoso.com", Access: connectors.AccessInternal}
	gGuest    = connectors.Permission{ID: "u-eve", Kind: connectors.GrantUser, Role: "read", Email: "eve@fabrikam.com", Domain: "fabrikam.com", Access: connectors.AccessExternal}
	gAnyone   = connectors.Permission{ID: "link-anon", Kind: connectors.GrantLink, Role: "read", LinkScope: "anonymous",
		LinkURL: "https://share.example/old", Access: connectors.AccessPublic}
	gParent = connectors.Permission{ID: "u-gus", Kind: connectors.GrantUser, Role: "read", Email: "gus@partner.org", Domain: "partner.org",
		Access: connectors.AccessExternal, Inherited: true}
)

type shareEnv struct {
	*env
	sc *shareConn
}

func setupSharing(t *testing.T, b storetest.Backend, opts ...func(*labeling.ExecutorConfig)) *shareEnv {
	t.Helper()
	var sc *shareConn
	e := setupOn(t, b, append([]func(*labeling.ExecutorConfig){func(c *labeling.ExecutorConfig) {
		sc = newShareConn(newMemConn(connectors.AppSharePoint, "t1"))
		c.Connectors = labeling.Connectors(sc)
	}}, opts...)...)
	e.conn = sc.memConn
	return &shareEnv{env: e, sc: sc}
}

// shared adds a file labelled label with grants, in the inventory as the scanner saw it.
func (e *shareEnv) shared(item, label string, ps ...connectors.Permission) connectors.FileRef {
	e.t.Helper()
	f := e.conn.add(item, item+".docx", 10, connectors.LabelState{LabelID: label})
	e.sc.share(item, ps...)
	f.Access, f.Domains = e.sc.access(item)
	ctx := context.Background()
	_, _, err := e.st.UpsertFile(ctx, f)
	require.NoError(e.t, err)
	if label != "" {
		require.NoError(e.t, e.st.SetFileLabel(ctx, f.Ref, label, "t1", "standard", "scanner", ""))
	}
	return f.Ref
}

// sharingAction records a policy's sharing action planned while the file carried label.
func (e *shareEnv) sharingAction(ref connectors.FileRef, kind, label string, mod ...func(*store.Action)) int64 {
	e.t.Helper()
	b, err := json.Marshal(labeling.SharingParams{CheckLabel: true, MatchedLabel: label, Justification: "confidential, shared too wide"})
	require.NoError(e.t, err)
	return e.action(ref, kind, "", append([]func(*store.Action){func(a *store.Action) { a.Params = b }}, mod...)...)
}

func (e *shareEnv) sharingUsed(kind string) int64 {
	e.t.Helper()
	n, err := e.st.QuotaUsed(context.Background(), e.conn.app, "t1", kind, store.QuotaWindow(e.clk.Now()))
	require.NoError(e.t, err)
	return n
}

func (e *shareEnv) inventoryAccess(ref connectors.FileRef) connectors.AccessLevel {
	e.t.Helper()
	rec, err := e.st.GetFile(context.Background(), ref)
	require.NoError(e.t, err)
	return rec.Access
}

func grantIDs(ps []connectors.Permission) []string {
	ids := []string{}
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	return ids
}

// TestSharingRemovesByKind: each kind removes its grants and no others, never the owner's nor
// an inherited one (reported as left); the inventory's access narrows and access_restricted
// is logged once, naming what went and what was left.
func TestSharingRemovesByKind(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			e := setupSharing(t, b)
			all := []connectors.Permission{gOwner, gColleage, gGuest, gAnyone, gParent}
			pub := e.shared("pub", lSecret, all...)
			ext := e.shared("ext", lSecret, all...)
			priv := e.shared("priv", lSecret, gOwner, gColleage, gGuest, gAnyone)

			out := e.exec(e.sharingAction(pub, store.ActionRemovePublicLinks, lSecret))
			require.Equal(t, store.ActionDone, out.State, out.Reason)
			require.Equal(t, []string{"own", "u-bob", "u-eve", "u-gus"}, grantIDs(e.sc.grants("pub")))
			require.Equal(t, connectors.AccessExternal, e.inventoryAccess(pub))

			out = e.exec(e.sharingAction(ext, store.ActionRemoveExternalAccess, lSecret))
			require.Equal(t, store.ActionDone, out.State, out.Reason)
			require.Equal(t, []string{"own", "u-bob", "u-gus"}, grantIDs(e.sc.grants("ext")), "the inherited grant stays")
			require.Contains(t, out.Reason, "inherited from a parent, left: user gus@partner.org (read)")
			require.Equal(t, connectors.AccessExternal, e.inventoryAccess(ext), "still external through the parent")

			out = e.exec(e.sharingAction(priv, store.ActionMakePrivate, lSecret))
			require.Equal(t, store.ActionDone, out.State, out.Reason)
			require.True(t, out.Wrote)
			require.Equal(t, []string{"own"}, grantIDs(e.sc.grants("priv")))
			require.Equal(t, connectors.AccessPrivate, e.inventoryAccess(priv))

			evs := e.events(store.EventAccessRestricted)
			require.Len(t, evs, 3)
			last := evs[2] // oldest first
			require.Equal(t, "priv.docx", last.Name)
			require.Equal(t, "policy:p1", last.Actor)
			require.Contains(t, last.Detail, "make_private removed user bob@contoso.com (write), user eve@fabrikam.com (read), anonymous link (read)")
			require.Contains(t, last.Detail, "access public -> private")
			require.Contains(t, last.Detail, "justification: confidential, shared too wide")
			require.Empty(t, e.events(store.EventAccessChanged), "labelgate's own change is access_restricted only")
			for _, k := range []string{store.ActionRemovePublicLinks, store.ActionRemoveExternalAccess, store.ActionMakePrivate} {
				require.EqualValues(t, 1, e.sharingUsed(k), k)
			}
			require.Zero(t, e.used(e.conn.app, false), "the label allowance is untouched")
			changes, err := e.st.FileSharingChanges(context.Background(), priv)
			require.NoError(t, err)
			require.Equal(t, []string{"u-bob", "u-eve", "link-anon"}, grantIDs(permsOf(changes)))
		})
	}
}

func permsOf(cs []store.SharingChange) []connectors.Permission {
	out := make([]connectors.Permission, len(cs))
	for i, c := range cs {
		out[i] = c.Permission
	}
	return out
}

// TestSharingQuotaPerKind: each sharing kind has its own daily allowance per app and tenant
// (limit 2 here): the third action of a kind pauses until the 12:00 UTC reset while other
// kinds and label writes go on, and it runs after the reset.
func TestSharingQuotaPerKind(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			e := setupSharing(t, b, func(c *labeling.ExecutorConfig) {
				c.Quota = labeling.QuotaConfig{Default: 1, Manual: 1, Sharing: labeling.SharingQuota{Default: 2}}
			})
			var ids []int64
			for i := range 3 {
				item := fmt.Sprint("f", i)
				ids = append(ids, e.sharingAction(e.shared(item, lSecret, gOwner, gAnyone), store.ActionRemovePublicLinks, lSecret))
			}
			other := e.sharingAction(e.shared("o", lSecret, gOwner, gGuest), store.ActionRemoveExternalAccess, lSecret)
			label := e.action(e.file("l", "l.docx", 10, connectors.LabelState{}), store.ActionApplyLabel, lGeneral)

			st, err := e.ex.Drain(context.Background())
			require.NoError(t, err)
			require.Equal(t, 4, st.States[store.ActionDone], st.States)
			require.Equal(t, 1, st.States[store.ActionPaused], st.States)
			a, err := e.st.GetAction(context.Background(), ids[2])
			require.NoError(t, err)
			require.Equal(t, store.ActionPaused, a.State)
			reset := time.Date(2026, 3, 11, 12, 0, 0, 0, time.UTC)
			require.Equal(t, reset, a.NotBefore)
			require.Contains(t, a.Reason, "daily remove_public_links quota of 2")
			require.Len(t, e.sc.grants("f2"), 2, "paused: the link is still there")
			for _, id := range []int64{other, label} {
				a, err := e.st.GetAction(context.Background(), id)
				require.NoError(t, err)
				require.Equal(t, store.ActionDone, a.State, a.Reason)
			}
			require.EqualValues(t, 2, e.sharingUsed(store.ActionRemovePublicLinks))
			require.EqualValues(t, 1, e.sharingUsed(store.ActionRemoveExternalAccess))
			require.EqualValues(t, 1, e.used(e.conn.app, false))
			paused, err := e.st.PausedActions(context.Background())
			require.NoError(t, err)
			require.EqualValues(t, 1, paused["sharepoint/t1/remove_public_links"])
			rep, err := labeling.BuildQuotaReport(context.Background(), e.st, labeling.QuotaConfig{Sharing: labeling.SharingQuota{Default: 2}},
				e.clk.Now(), "", "")
			require.NoError(t, err)
			var rows []string
			for _, r := range rep.Rows {
				rows = append(rows, fmt.Sprintf("%s %d/%d paused %d", r.Allowance, r.Used, r.Limit, r.Paused))
			}
			require.Equal(t, []string{"auto 1/100 paused 0", "manual 0/50 paused 0", "remove_public_links 2/2 paused 1",
				"remove_external_access 1/2 paused 0"}, rows)

			// Not before the reset.
			e.clk.Set(reset.Add(-time.Minute))
			st, err = e.ex.Drain(context.Background())
			require.NoError(t, err)
			require.Zero(t, st.Executed)
			e.clk.Set(reset)
			st, err = e.ex.Drain(context.Background())
			require.NoError(t, err)
			require.EqualValues(t, 1, st.Resumed)
			require.Equal(t, 1, st.States[store.ActionDone], st.States)
			require.Equal(t, []string{"own"}, grantIDs(e.sc.grants("f2")))
			require.EqualValues(t, 1, e.sharingUsed(store.ActionRemovePublicLinks), "counted in the new window")
		})
	}
}

// TestSharingRecheckedAtWriteTime: the label the policy matched is checked again when the
// action runs; a file relabelled since costs no call and no quota.
func TestSharingRecheckedAtWriteTime(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			e := setupSharing(t, b)
			ctx := context.Background()
			ref := e.shared("a", lSecret, gOwner, gAnyone)
			id := e.sharingAction(ref, store.ActionRemovePublicLinks, lSecret)
			// A user lowered the label; the scanner recorded it.
			require.NoError(t, e.st.SetFileLabel(ctx, ref, lGeneral, "t1", "standard", "scanner", ""))
			out := e.exec(id)
			require.Equal(t, store.ActionCanceled, out.State, out.Reason)
			require.Contains(t, out.Reason, "relabelled")
			require.Zero(t, e.sc.Calls("perms")+e.sc.Calls("unshare")+e.sc.Calls("stat"), "no provider call")
			require.Len(t, e.sc.grants("a"), 2)
			require.Zero(t, e.sharingUsed(store.ActionRemovePublicLinks), "no quota")
			require.Empty(t, e.events(store.EventAccessRestricted))

			// Unlabelled when matched, still unlabelled: it runs.
			plain := e.shared("b", "", gOwner, gAnyone)
			out = e.exec(e.sharingAction(plain, store.ActionRemovePublicLinks, ""))
			require.Equal(t, store.ActionDone, out.State, out.Reason)
			require.Len(t, e.sc.grants("b"), 1)
		})
	}
}

// TestSharingAlreadyRestricted: a file with nothing the action removes is left alone: no
// removal call, the quota unit back, no event.
func TestSharingAlreadyRestricted(t *testing.T) {
	t.Parallel()
	e := setupSharing(t, storetest.Backends()[0])
	ref := e.shared("a", lSecret, gOwner, gColleage, gParent)
	out := e.exec(e.sharingAction(ref, store.ActionRemoveExternalAccess, lSecret))
	require.Equal(t, store.ActionDone, out.State, out.Reason)
	require.False(t, out.Wrote)
	require.Contains(t, out.Reason, "nothing to remove")
	require.Contains(t, out.Reason, "gus@partner.org", "the inherited grant is reported")
	require.Zero(t, e.sc.Calls("unshare"))
	require.Zero(t, e.sharingUsed(store.ActionRemoveExternalAccess))
	require.Empty(t, e.events(store.EventAccessRestricted))
	require.Len(t, e.sc.grants("a"), 3)

	// A file deleted since: its exposure went with it; canceled, no failure to alert on.
	gone := e.shared("gone", lSecret, gOwner, gAnyone)
	e.conn.mu.Lock()
	delete(e.conn.files, "gone")
	e.conn.mu.Unlock()
	out = e.exec(e.sharingAction(gone, store.ActionRemovePublicLinks, lSecret))
	require.Equal(t, store.ActionCanceled, out.State, out.Reason)
	require.Contains(t, out.Reason, "no longer exists")
	require.Empty(t, e.events(store.EventActionFailed))
	require.Zero(t, e.sharingUsed(store.ActionRemovePublicLinks))
}

// TestSharingExemptOwner: an owner in sharing.exemptOwners is never restricted.
func TestSharingExemptOwner(t *testing.T) {
	t.Parallel()
	e := setupSharing(t, storetest.Backends()[0], func(c *labeling.ExecutorConfig) {
		c.ExemptOwners = []string{"ANN@Contoso.com"}
	})
	ref := e.shared("a", lSecret, gOwner, gAnyone)
	out := e.exec(e.sharingAction(ref, store.ActionMakePrivate, lSecret))
	require.Equal(t, store.ActionRefused, out.State)
	require.Contains(t, out.Reason, "ann@contoso.com is exempt")
	require.Zero(t, e.sc.Calls("perms")+e.sc.Calls("unshare"))
	require.Len(t, e.sc.grants("a"), 2)
	require.Zero(t, e.sharingUsed(store.ActionMakePrivate))
	evs := e.events(store.EventActionRefused)
	require.Len(t, evs, 1)
	require.Equal(t, "a.docx", evs[0].Name)
}

// TestSharingRetryAfter: a throttled removal waits the provider's Retry-After and is sent again;
// a permanent failure ends the action with action_failed (which the alerts engine raises).
func TestSharingRetryAfter(t *testing.T) {
	t.Parallel()
	e := setupSharing(t, storetest.Backends()[0])
	ref := e.shared("a", lSecret, gOwner, gGuest, gAnyone)
	e.sc.fail("unshare",
		step{err: connectors.Errorf(connectors.KindThrottled, "delete permission", 429, 3*time.Second, nil)},
		step{err: connectors.Errorf(connectors.KindTransient, "delete permission", 503, 0, nil)})
	out := e.exec(e.sharingAction(ref, store.ActionRemoveExternalAccess, lSecret))
	require.Equal(t, store.ActionDone, out.State, out.Reason)
	require.Equal(t, 4, out.Calls)
	require.Equal(t, []time.Duration{3 * time.Second, 500 * time.Millisecond}, e.clk.Sleeps())
	require.Equal(t, 2, e.sc.Removed(), "each grant removed once")
	changes, err := e.st.SharingChanges(context.Background(), out.ActionID)
	require.NoError(t, err)
	require.Len(t, changes, 2)

	denied := e.shared("b", lSecret, gOwner, gAnyone)
	e.sc.fail("unshare", step{err: connectors.Errorf(connectors.KindPermission, "delete permission", 403, 0, errors.New("accessDenied"))})
	out = e.exec(e.sharingAction(denied, store.ActionRemovePublicLinks, lSecret))
	require.Equal(t, store.ActionFailed, out.State)
	require.Contains(t, out.Reason, "accessDenied")
	evs := e.events(store.EventActionFailed)
	require.Len(t, evs, 1)
	require.Equal(t, "b.docx", evs[0].Name)
	require.True(t, store.SharingFailure(evs[0].Detail), "the alerts engine raises sharing_action_failed on it: %s", evs[0].Detail)
	require.Zero(t, e.sharingUsed(store.ActionRemovePublicLinks), "nothing removed, unit back")
}

// TestSharingCrash: a run that dies between recording a grant and removing it, or between
// removing it and recording the outcome, leaves one record and one removal once the action
// runs again, and one access_restricted event.
func TestSharingCrash(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := setupSharing(t, b)
			takeBack := func(id int64) {
				require.NoError(t, e.st.CompleteAction(ctx, store.Completion{ID: id, State: store.ActionPending, Reason: "requeued"}))
			}

			// Died after the record, before the call.
			ref := e.shared("a", lSecret, gOwner, gAnyone)
			id := e.sharingAction(ref, store.ActionRemovePublicLinks, lSecret)
			c, err := e.st.ClaimAction(ctx, id, e.clk.Now(), nil, func(store.Action) int { return 100 })
			require.NoError(t, err)
			require.True(t, c.Claimed)
			require.NoError(t, e.st.RecordSharingRemoval(ctx, id, ref, gAnyone))
			takeBack(id)
			out := e.exec(id)
			require.Equal(t, store.ActionDone, out.State, out.Reason)
			require.Equal(t, 1, e.sc.Removed())
			changes, err := e.st.SharingChanges(ctx, id)
			require.NoError(t, err)
			require.Len(t, changes, 1)

			// Died after the removal, before the completion.
			ref = e.shared("b", lSecret, gOwner, gGuest, gAnyone)
			id = e.sharingAction(ref, store.ActionRemoveExternalAccess, lSecret)
			landed, killed := make(chan struct{}), make(chan struct{})
			var first atomic.Bool
			e.sc.landed = func() {
				if first.CompareAndSwap(false, true) {
					close(landed)
					<-killed
				}
			}
			firstDone := make(chan struct{})
			go func() {
				defer close(firstDone)
				_, _ = e.ex.Execute(ctx, id) // stands for the killed process
			}()
			t.Cleanup(func() { <-firstDone })
			<-landed
			takeBack(id)
			restarted, err := labeling.NewExecutor(labeling.ExecutorConfig{Store: e.st, Connectors: labeling.Connectors(e.sc),
				Clock: e.clk, Retry: labeling.RetryConfig{Jitter: -1}})
			require.NoError(t, err)
			out, err = restarted.Execute(ctx, id)
			require.NoError(t, err)
			require.Equal(t, store.ActionDone, out.State, out.Reason)
			close(killed)
			<-firstDone
			require.Equal(t, 3, e.sc.Removed(), "u-eve and the link, each once")
			require.Equal(t, []string{"own"}, grantIDs(e.sc.grants("b")))
			changes, err = e.st.SharingChanges(ctx, id)
			require.NoError(t, err)
			require.Equal(t, []string{"u-eve", "link-anon"}, grantIDs(permsOf(changes)))
			var mine []store.Event
			for _, ev := range e.events(store.EventAccessRestricted) {
				if ev.ItemID == "b" {
					mine = append(mine, ev)
				}
			}
			require.Len(t, mine, 1)
			require.Contains(t, mine[0].Detail, "eve@fabrikam.com", "what the first run removed is in the outcome")
		})
	}
}

// TestSharingUndo: restore_sharing grants again what a sharing action removed, says the link
// has a new URL, logs access_restored, widens the inventory's access back and counts against
// its own allowance; a second undo has nothing left to do.
func TestSharingUndo(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := setupSharing(t, b)
			ref := e.shared("a", lSecret, gOwner, gColleage, gGuest, gAnyone)
			id := e.sharingAction(ref, store.ActionMakePrivate, lSecret)
			require.Equal(t, store.ActionDone, e.exec(id).State)
			require.Equal(t, connectors.AccessPrivate, e.inventoryAccess(ref))

			undo := func() int64 {
				return e.action(ref, store.ActionRestoreSharing, "", func(a *store.Action) {
					a.Key, a.PolicyID, a.Manual, a.RequestedBy = fmt.Sprint("undo:", id), "", true, "admin@contoso.com"
					a.Params = []byte(fmt.Sprintf(`{"undo":%d}`, id))
				})
			}
			// The guest cannot be invited back today (the provider refuses that one grant):
			// the others are restored, the guest is said and left for a later undo.
			e.sc.fail("restore", step{}, step{err: connectors.Errorf(connectors.KindInvalid, "invite", 400, 0, errors.New("guest invitations are disabled"))})
			out := e.exec(undo())
			require.Equal(t, store.ActionDone, out.State, out.Reason)
			require.Equal(t, 3, e.sc.Calls("restore"))
			require.Equal(t, []string{"own", "u-bob", "link-1"}, grantIDs(e.sc.grants("a")))
			require.Contains(t, out.Reason, "user eve@fabrikam.com (read) not restored")
			require.Equal(t, connectors.AccessPublic, e.inventoryAccess(ref))
			changes, err := e.st.SharingChanges(ctx, id)
			require.NoError(t, err)
			require.Equal(t, []int64{out.ActionID, 0, out.ActionID}, []int64{changes[0].RestoredBy, changes[1].RestoredBy, changes[2].RestoredBy})
			require.Equal(t, "link-1", changes[2].RestoredID)
			require.Contains(t, changes[2].RestoreNote, "new URL (https://share.example/new/1)")
			evs := e.events(store.EventAccessRestored)
			require.Len(t, evs, 1)
			require.Equal(t, "admin@contoso.com", evs[0].Actor)
			require.Contains(t, evs[0].Detail, "the old URL https://share.example/old no longer works")
			require.Contains(t, evs[0].Detail, "access private -> public")
			require.EqualValues(t, 1, e.sharingUsed(store.ActionRestoreSharing))
			require.EqualValues(t, 1, e.sharingUsed(store.ActionMakePrivate), "apart from the action it undid")

			// A later undo brings the guest back, and only the guest.
			out = e.exec(undo())
			require.Equal(t, store.ActionDone, out.State, out.Reason)
			require.Equal(t, 4, e.sc.Calls("restore"))
			require.Equal(t, []string{"own", "u-bob", "link-1", "u-eve"}, grantIDs(e.sc.grants("a")))
			require.Len(t, e.events(store.EventAccessRestored), 2)
			require.EqualValues(t, 2, e.sharingUsed(store.ActionRestoreSharing))

			out = e.exec(undo())
			require.Equal(t, store.ActionDone, out.State)
			require.Contains(t, out.Reason, "nothing to restore")
			require.Equal(t, 4, e.sc.Calls("restore"))
			require.EqualValues(t, 2, e.sharingUsed(store.ActionRestoreSharing), "nothing restored, unit back")
		})
	}
}

// TestSharingDisabledPolicySuspends: disabling the policy suspends its pending sharing
// actions; enabling it again lets them run.
func TestSharingDisabledPolicySuspends(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := setupSharing(t, b)
			require.NoError(t, e.st.PutPolicy(ctx, store.Policy{ID: "p1", Name: "P1", Enabled: true, Doc: []byte("{}")}))
			id := e.sharingAction(e.shared("a", lSecret, gOwner, gAnyone), store.ActionRemovePublicLinks, lSecret)
			require.NoError(t, e.st.SetPolicyEnabled(ctx, "p1", false))
			out := e.exec(id)
			require.False(t, out.Claimed)
			require.Equal(t, store.ActionSuspended, out.State)
			st, err := e.ex.Drain(ctx)
			require.NoError(t, err)
			require.Zero(t, st.Executed)
			require.Len(t, e.sc.grants("a"), 2)

			require.NoError(t, e.st.SetPolicyEnabled(ctx, "p1", true))
			require.Equal(t, store.ActionDone, e.exec(id).State)
			require.Len(t, e.sc.grants("a"), 1)
		})
	}
}

// TestSharingNothingToRestrict: a connector without a sharing API (the file share) refuses
// sharing actions, clearly and once.
func TestSharingNothingToRestrict(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *labeling.ExecutorConfig) {
		c.Connectors = labeling.Connectors(newMemConn(connectors.AppFileShare, "t1"))
	})
	ref := connectors.FileRef{App: connectors.AppFileShare, Tenant: "t1", Drive: "d1", ItemID: "a"}
	out := e.exec(e.action(ref, store.ActionRemovePublicLinks, ""))
	require.Equal(t, store.ActionRefused, out.State)
	require.Contains(t, out.Reason, "fileshare: nothing to restrict")
	evs := e.events(store.EventActionRefused)
	require.Len(t, evs, 1)
	require.Contains(t, evs[0].Detail, "nothing to restrict")
}

// TestSharingLimit: the most specific of "tenant/app", "tenant", app, kind, default applies;
// the zero value is 100 per kind, and the label allowances are left as they were.
func TestSharingLimit(t *testing.T) {
	t.Parallel()
	var zero labeling.QuotaConfig
	require.Equal(t, 100, zero.LimitOf(store.ActionMakePrivate, "box", "t1", false))
	require.Equal(t, 100, zero.LimitOf(store.ActionApplyLabel, "box", "t1", false))
	require.Equal(t, 50, zero.LimitOf(store.ActionApplyLabel, "box", "t1", true))
	q := labeling.QuotaConfig{Default: 7, Sharing: labeling.SharingQuota{Default: 30, PerApp: map[string]int{"gdrive": 20},
		PerTenant: map[string]int{"t2": 10, "t3/box": 5}, PerKind: map[string]int{"makePrivate": 3, "restore_sharing": 9}}}
	require.Equal(t, 7, q.LimitOf(store.ActionApplyLabel, "box", "t1", false))
	require.Equal(t, 30, q.LimitOf(store.ActionRemovePublicLinks, "box", "t1", false))
	require.Equal(t, 30, q.LimitOf(store.ActionRemovePublicLinks, "box", "t1", true), "admins' sharing actions count against the kind's allowance")
	require.Equal(t, 3, q.LimitOf(store.ActionMakePrivate, "box", "t1", false))
	require.Equal(t, 9, q.LimitOf(store.ActionRestoreSharing, "box", "t1", true))
	require.Equal(t, 20, q.LimitOf(store.ActionMakePrivate, "gdrive", "t1", false))
	require.Equal(t, 10, q.LimitOf(store.ActionMakePrivate, "gdrive", "t2", false))
	require.Equal(t, 5, q.LimitOf(store.ActionMakePrivate, "box", "t3", false))
}
