package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/graph"
	"github.com/labelgate/labelgate/connectors/graph/emulator"
)

func manifest(t *testing.T) *emulator.Manifest {
	t.Helper()
	m, err := emulator.LoadManifest("../../testdata/graph/manifest.json")
	require.NoError(t, err)
	return m
}

func walk(t *testing.T, c *graph.Conn, drive string) map[string]connectors.File {
	t.Helper()
	out := map[string]connectors.File{}
	require.NoError(t, c.Walk(context.Background(), drive, "", func(f connectors.File, _ string) error {
		out[f.Path+"/"+f.Name] = f
		return nil
	}))
	return out
}

func TestDrivesScope(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, emulator.Options{Manifest: manifest(t), PageSize: 1})
	ids := func(ds []connectors.Drive) []string {
		var s []string
		for _, d := range ds {
			s = append(s, d.ID)
		}
		sort.Strings(s)
		return s
	}
	sp, err := e.sp.Drives(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"b!fin-docs", "b!hr-archive", "b!hr-docs"}, ids(sp), "sites page one at a time")
	od, err := e.od.Drives(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"b!od-adele", "b!od-bob"}, ids(od), "a user without OneDrive is skipped")
	require.Equal(t, "bob@contoso.com", od[1].Owner)

	scoped := setup(t, emulator.Options{Manifest: manifest(t)}, func(c *graph.Config) {
		c.Include = []string{"https://contoso.sharepoint.com/sites/hr/", "adele@contoso.com"}
		c.Exclude = []string{"b!hr-archive"}
	})
	sp, err = scoped.sp.Drives(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"b!hr-docs"}, ids(sp))
	od, err = scoped.od.Drives(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"b!od-adele"}, ids(od))
}

func TestWalkMapsSharingAndOwners(t *testing.T) {
	t.Parallel()
	e := setup(t, emulator.Options{Manifest: manifest(t), PageSize: 2})
	files := walk(t, e.sp, "b!hr-docs")
	require.Len(t, files, 6)
	hb := files["/Policies/Handbook.docx"]
	require.Equal(t, "adele@contoso.com", hb.Owner)
	require.Equal(t, connectors.AccessPrivate, hb.Access)
	require.EqualValues(t, 18747, hb.Size)
	sal := files["/Policies/Salaries 2026.xlsx"]
	require.Equal(t, connectors.AccessPrivate, sal.Access, "a grant inside the tenant stays private")
	require.Equal(t, []string{"contoso.com"}, sal.Domains)
	require.Equal(t, connectors.AccessPublic, files["/Public/Brochure.pdf"].Access)
	require.Equal(t, connectors.AccessInternal, files["/Org/Chart.pptx"].Access)
	ext := files["/Partners/Contract.docx"]
	require.Equal(t, connectors.AccessExternal, ext.Access)
	require.Equal(t, []string{"fabrikam.com"}, ext.Domains)
	require.Empty(t, files["/notes.txt"].Access, "no permission read for unlabelable types")
	require.Zero(t, e.emu.Requests("GET /v1.0/drives/b!hr-docs/items/"+files["/notes.txt"].Ref.ItemID+"/permissions"))

	od := walk(t, e.od, "b!od-adele")
	plan := od["/Drafts/Plan.docx"]
	require.Equal(t, connectors.AccessExternal, plan.Access, "a specific-people link to another tenant")
}

func TestDeltaPagingAndResync(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, emulator.Options{Manifest: manifest(t), PageSize: 2})
	cur, err := e.sp.Changes(ctx, "b!fin-docs", "", func(connectors.File) error { return nil })
	require.NoError(t, err)
	var ids []string
	for i := range 7 {
		id, err := e.emu.AddFile("b!fin-docs", "/Q2", "r"+string(rune('a'+i))+".xlsx", "", []byte{byte(i)})
		require.NoError(t, err)
		ids = append(ids, id)
	}
	before := e.emu.Requests("GET /v1.0/drives/b!fin-docs/root/delta")
	var got []string
	cur, err = e.sp.Changes(ctx, "b!fin-docs", cur, func(f connectors.File) error {
		require.Equal(t, "/Q2", f.Path, "path comes from Stat, delta has none")
		got = append(got, f.Ref.ItemID)
		return nil
	})
	require.NoError(t, err)
	require.ElementsMatch(t, ids, got)
	require.GreaterOrEqual(t, e.emu.Requests("GET /v1.0/drives/b!fin-docs/root/delta")-before, 4, "followed nextLinks")

	// An expired token: Graph's 410 names resyncChangesApplyDifferences (or …Upload…) and
	// carries a fresh link in Location; the connector follows it, reporting every file of the
	// drive, and ends with a new deltaLink that works.
	for _, code := range []string{emulator.ResyncApplyDifferences, emulator.ResyncUploadDifferences} {
		e.emu.ExpireDeltaTokensWith(code)
		got = got[:0]
		fresh, err := e.sp.Changes(ctx, "b!fin-docs", cur, func(f connectors.File) error {
			got = append(got, f.Ref.ItemID)
			return nil
		})
		require.NoError(t, err, code)
		require.NotEqual(t, cur, fresh, code)
		require.Subset(t, got, ids, "%s: the fresh link enumerates the whole drive", code)
		id, err := e.emu.AddFile("b!fin-docs", "/Q3", "after-"+code+".xlsx", "", []byte("x"))
		require.NoError(t, err)
		got = got[:0]
		cur, err = e.sp.Changes(ctx, "b!fin-docs", fresh, func(f connectors.File) error {
			got = append(got, f.Ref.ItemID)
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, []string{id}, got, "the new deltaLink reports only later changes")
	}

	// A 410 without a Location leaves the resync to the caller.
	e.emu.FailNext("/v1.0/drives/b!fin-docs/root/delta", http.StatusGone, 0, 1)
	_, err = e.sp.Changes(ctx, "b!fin-docs", cur, func(connectors.File) error { return nil })
	require.ErrorIs(t, err, connectors.ErrCursorExpired)
	require.Equal(t, 410, err.(*connectors.Error).Status)
}

func TestRangeReadsServeOnlyRequestedBytes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, emulator.Options{Manifest: manifest(t)})
	files := walk(t, e.sp, "b!hr-docs")
	sal := files["/Policies/Salaries 2026.xlsx"]
	want := emulator.Generate("/Policies/Salaries 2026.xlsx", 20000)
	obj, err := e.sp.Open(ctx, sal.Ref)
	require.NoError(t, err)
	buf := make([]byte, 512)
	n, err := obj.ReadAt(buf, 19000)
	require.NoError(t, err)
	require.Equal(t, want[19000:19512], buf[:n])
	n, err = obj.ReadAt(buf[:22], 0)
	require.NoError(t, err)
	require.Equal(t, want[:22], buf[:n])
	require.EqualValues(t, 512+22, e.emu.ServedBytes(sal.Ref.ItemID))
	require.Equal(t, 2, e.emu.RangeRequests(sal.Ref.ItemID), "one round trip per ReadAt")

	e.emu.ExpireDownloadURLs()
	n, err = obj.ReadAt(buf[:10], 100)
	require.NoError(t, err, "an expired download URL is fetched again")
	require.Equal(t, want[100:110], buf[:n])
}

func TestThrottlingIsTypedAndNotRetried(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, emulator.Options{Manifest: manifest(t)})
	e.emu.FailNext("/v1.0/drives/b!hr-docs/items/root/delta", 429, 9*time.Second, 1)
	err := e.sp.Walk(ctx, "b!hr-docs", "", func(connectors.File, string) error { return nil })
	require.Equal(t, connectors.KindThrottled, connectors.KindOf(err), "%v", err)
	ra, _ := connectors.RetryAfter(err)
	require.Equal(t, 9*time.Second, ra)
	require.Equal(t, 1, e.emu.Requests("GET /v1.0/drives/b!hr-docs/items/root/delta"), "the SDK retry handler is off")

	e.emu.FailNext("/v1.0/drives", 503, 2*time.Second, 1)
	_, err = e.sp.Changes(ctx, "b!hr-docs", "", func(connectors.File) error { return nil })
	require.Equal(t, connectors.KindThrottled, connectors.KindOf(err))
	e.emu.FailNext("/v1.0/drives", 503, 0, 1)
	_, err = e.sp.Changes(ctx, "b!hr-docs", "", func(connectors.File) error { return nil })
	require.Equal(t, connectors.KindTransient, connectors.KindOf(err))
	e.emu.FailNext("/v1.0/drives", 403, 0, 1)
	_, err = e.sp.Changes(ctx, "b!hr-docs", "", func(connectors.File) error { return nil })
	require.Equal(t, connectors.KindPermission, connectors.KindOf(err))
}

func TestCatalogMapping(t *testing.T) {
	t.Parallel()
	e := setup(t, emulator.Options{Manifest: manifest(t)})
	cat, err := e.sp.Catalog(context.Background())
	require.NoError(t, err)
	by := map[string]connectors.Label{}
	for _, l := range cat {
		by[l.Name] = l
	}
	require.Len(t, by, 6)
	fin := by["Finance"]
	require.Equal(t, "074e257c-5848-4582-9a6f-34a182080e71", fin.Parent)
	require.Equal(t, 3, fin.Priority)
	require.Equal(t, `Confidential\Finance`, fin.DisplayName)
	require.True(t, by["Highly Confidential"].Protection)
	require.False(t, by["General"].Protection)
	require.True(t, by["Retired"].Disabled)
	require.Equal(t, e.emu.TenantID(), by["Public"].Tenant)
}

func TestAssignWaitsForMonitor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, emulator.Options{Manifest: manifest(t), MonitorPolls: 3, MeteredBilling: true})
	files := walk(t, e.sp, "b!hr-docs")
	hb := files["/Policies/Handbook.docx"].Ref
	st, err := e.sp.ReadLabel(ctx, hb)
	require.NoError(t, err)
	require.Equal(t, "f42aa342-8706-4288-bd11-ebb85995028c", st.LabelID)

	conf := "074e257c-5848-4582-9a6f-34a182080e71"
	require.NoError(t, e.sp.ApplyLabel(ctx, hb, conf, connectors.ApplyOptions{Method: "privileged"}))
	require.Equal(t, 1, e.emu.LabelWrites(hb.ItemID))
	require.Equal(t, 4, e.emu.Requests("GET /_monitor/"), "three in-progress answers, then completed")
	st, err = e.sp.ReadLabel(ctx, hb)
	require.NoError(t, err)
	require.Equal(t, connectors.LabelState{LabelID: conf, Tenant: e.emu.TenantID(), Method: "privileged"}, st)

	// Downgrade without justification is refused by Graph: typed invalid, nothing written.
	err = e.sp.ApplyLabel(ctx, hb, "87867195-f2b8-4ac2-b0b6-6bb73cb33afc", connectors.ApplyOptions{})
	require.Equal(t, connectors.KindInvalid, connectors.KindOf(err), "%v", err)
	require.Equal(t, 1, e.emu.LabelWrites(hb.ItemID))

	require.NoError(t, e.sp.RemoveLabel(ctx, hb, connectors.ApplyOptions{}))
	require.Equal(t, 2, e.emu.LabelWrites(hb.ItemID))
	require.Empty(t, e.emu.FileLabel(hb.ItemID))

	locked := walk(t, e.sp, "b!hr-archive")["/Old/Locked.docx"].Ref
	st, err = e.sp.ReadLabel(ctx, locked)
	require.NoError(t, err)
	require.True(t, st.Protected)
	err = e.sp.ApplyLabel(ctx, locked, conf, connectors.ApplyOptions{Justification: "x"})
	require.Equal(t, connectors.KindLocked, connectors.KindOf(err))
	require.ErrorContains(t, err, "fileDoubleKeyEncrypted", "the code reaches the operator")
	require.Zero(t, e.emu.LabelWrites(locked.ItemID))
}

func TestMonitorTimeoutIsBounded(t *testing.T) {
	t.Parallel()
	e := setup(t, emulator.Options{Manifest: manifest(t), MonitorPolls: 1000, MeteredBilling: true}, func(c *graph.Config) {
		c.MonitorTimeout = 50 * time.Millisecond
	})
	ref := walk(t, e.sp, "b!fin-docs")["/Q1/Forecast.xlsx"].Ref
	err := e.sp.ApplyLabel(context.Background(), ref, "f42aa342-8706-4288-bd11-ebb85995028c", connectors.ApplyOptions{})
	require.Equal(t, connectors.KindTransient, connectors.KindOf(err))
	require.Zero(t, e.emu.LabelWrites(ref.ItemID))
}

func TestUploadSmallAndSession(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, emulator.Options{Manifest: manifest(t)}, func(c *graph.Config) { c.UploadChunk = 320 << 10 })
	ref := walk(t, e.sp, "b!fin-docs")["/Q1/Forecast.xlsx"]
	small := []byte("new version")
	require.NoError(t, e.sp.Upload(ctx, ref.Ref, bytes.NewReader(small), int64(len(small))))
	require.Equal(t, small, e.emu.Content(ref.Ref.ItemID))
	after, err := e.sp.Stat(ctx, ref.Ref)
	require.NoError(t, err)
	require.NotEqual(t, ref.ETag, after.ETag)

	big := emulator.Generate("big", 5<<20)
	require.NoError(t, e.sp.Upload(ctx, ref.Ref, bytes.NewReader(big), int64(len(big))))
	require.Equal(t, big, e.emu.Content(ref.Ref.ItemID))
	require.Equal(t, 16, e.emu.Requests("PUT /_upload/"), "5 MiB in 320 KiB fragments")
}

// ingress is a stand-in for labelgate's webhook endpoint: it hands requests to Receive.
type ingress struct {
	conn *graph.Conn
	mu   sync.Mutex
	got  []connectors.Notice
	errs []error
}

func (in *ingress) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	reply, notices, err := in.conn.Receive(r.Context(), connectors.Request{Header: r.Header, Query: r.URL.Query(), Body: body, Now: time.Now()})
	in.mu.Lock()
	in.got = append(in.got, notices...)
	if err != nil {
		in.errs = append(in.errs, err)
	}
	in.mu.Unlock()
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if reply.Status == 0 {
		w.WriteHeader(http.StatusAccepted)
		return
	}
	w.Header().Set("Content-Type", reply.ContentType)
	w.WriteHeader(reply.Status)
	_, _ = w.Write(reply.Body)
}

func (in *ingress) notices() []connectors.Notice {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]connectors.Notice(nil), in.got...)
}

func TestSubscriptionLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, emulator.Options{Manifest: manifest(t)})
	in := &ingress{conn: e.sp}
	hook := httptest.NewServer(in)
	t.Cleanup(hook.Close)

	sub, err := e.sp.Subscribe(ctx, connectors.Drive{ID: "b!hr-docs"}, hook.URL+"/hooks/graph")
	require.NoError(t, err, "handshake answered by Receive")
	require.GreaterOrEqual(t, len(sub.Secret), 43, "32 random bytes, base64url")
	require.WithinDuration(t, time.Now().Add(29*24*time.Hour), sub.Expires, time.Minute)
	require.Equal(t, []string{sub.ID}, e.emu.Subscriptions())
	e.subs.Put(connectors.AppSharePoint, e.sp.Tenant(), sub)

	_, err = e.emu.AddFile("b!hr-docs", "/new", "x.docx", "", []byte("x"))
	require.NoError(t, err)
	got := in.notices()
	require.Len(t, got, 1)
	require.Equal(t, connectors.Notice{Kind: connectors.NoticeChanged, App: connectors.AppSharePoint, Tenant: e.sp.Tenant(),
		Drive: "b!hr-docs", SubscriptionID: sub.ID}, got[0])
	require.Empty(t, got[0].DedupKey, "identical bodies for distinct changes must not be dropped as replays")

	// driveItem subscriptions get reauthorizationRequired and no other lifecycle event.
	d, err := e.emu.Lifecycle(sub.ID, "reauthorizationRequired")
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, d.Status)
	all := in.notices()
	require.Equal(t, connectors.NoticeReauthorize, all[len(all)-1].Kind)
	for _, event := range []string{"missed", "subscriptionRemoved"} {
		_, err := e.emu.Lifecycle(sub.ID, event)
		require.Error(t, err, "%s is an Outlook/Teams event, not a drive's", event)
	}

	sub.Lifecycled = true
	renewed, err := e.sp.Renew(ctx, sub)
	require.NoError(t, err)
	require.Equal(t, sub.ID, renewed.ID)
	require.Equal(t, 1, e.emu.Reauthorized(sub.ID))
	require.False(t, renewed.Lifecycled)

	// Graph drops a subscription without telling: the next renewal answers 404 and the
	// connector makes a new one.
	require.NoError(t, e.emu.RemoveSubscription(sub.ID))
	n := len(in.notices())
	recreated, err := e.sp.Renew(ctx, renewed)
	require.NoError(t, err)
	require.NotEqual(t, sub.ID, recreated.ID, "a removed subscription is recreated")
	require.Equal(t, []string{recreated.ID}, e.emu.Subscriptions())
	require.Len(t, in.notices(), n, "no lifecycle notification announced the removal")
	require.NoError(t, e.sp.Unsubscribe(ctx, recreated))
	require.Empty(t, e.emu.Subscriptions())
	require.NoError(t, e.sp.Unsubscribe(ctx, recreated), "already gone is fine")
}

func TestSubscribeFailsWithoutHandshake(t *testing.T) {
	t.Parallel()
	e := setup(t, emulator.Options{Manifest: manifest(t)})
	mute := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	t.Cleanup(mute.Close)
	_, err := e.sp.Subscribe(context.Background(), connectors.Drive{ID: "b!hr-docs"}, mute.URL)
	require.Equal(t, connectors.KindInvalid, connectors.KindOf(err), "%v", err)
	require.Empty(t, e.emu.Subscriptions())
}

func TestReceiveFailsClosed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := setup(t, emulator.Options{Manifest: manifest(t)})
	good := connectors.Subscription{ID: "sub-1", Drive: "b!hr-docs", Secret: "s3cret-s3cret-s3cret-s3cret-s3cret-s3cret"}
	e.subs.Put(connectors.AppSharePoint, e.sp.Tenant(), good)
	body := func(entries ...map[string]string) []byte {
		b, _ := json.Marshal(map[string]any{"value": entries})
		return b
	}
	ok := map[string]string{"subscriptionId": "sub-1", "clientState": good.Secret, "changeType": "updated", "tenantId": e.sp.Tenant()}
	forged := map[string]string{"subscriptionId": "sub-1", "clientState": "guess", "changeType": "updated"}
	unknown := map[string]string{"subscriptionId": "sub-2", "clientState": good.Secret}

	reply, notices, err := e.sp.Receive(ctx, connectors.Request{Body: body(ok)})
	require.NoError(t, err)
	require.Zero(t, reply.Status)
	require.Len(t, notices, 1)

	// One POST may carry entries of several subscriptions: the verified ones count, the
	// others are dropped; only a POST in which nothing verifies is refused.
	for name, b := range map[string][]byte{"forged": body(ok, forged), "unknown": body(unknown, ok)} {
		_, notices, err = e.sp.Receive(ctx, connectors.Request{Body: b})
		require.NoError(t, err, name)
		require.Len(t, notices, 1, name)
		require.Equal(t, "sub-1", notices[0].SubscriptionID, name)
	}
	for name, b := range map[string][]byte{"forged": body(forged), "unknown": body(unknown), "both": body(forged, unknown),
		"unknown and unreadable": []byte(`{"value":[{"subscriptionId":"sub-2","clientState":"x"},{"clientState":"x"}]}`)} {
		_, notices, err = e.sp.Receive(ctx, connectors.Request{Body: b})
		require.ErrorIs(t, err, connectors.ErrForged, name)
		require.Empty(t, notices, name)
	}
	wrongTenant := map[string]string{"subscriptionId": "sub-1", "clientState": good.Secret, "tenantId": "another-tenant"}
	_, notices, err = e.sp.Receive(ctx, connectors.Request{Body: body(wrongTenant)})
	require.ErrorIs(t, err, connectors.ErrForged)
	require.Empty(t, notices)
	// Another app's subscription with the same id does not verify a SharePoint notification.
	e.subs.Put(connectors.AppOneDrive, e.sp.Tenant(), connectors.Subscription{ID: "sub-od", Secret: "x"})
	_, _, err = e.sp.Receive(ctx, connectors.Request{Body: body(map[string]string{"subscriptionId": "sub-od", "clientState": "x"})})
	require.ErrorIs(t, err, connectors.ErrForged)

	for _, b := range []string{"{", `{"value":[]}`, `{"value":[{"clientState":"x"}]}`} {
		_, notices, err = e.sp.Receive(ctx, connectors.Request{Body: []byte(b)})
		require.ErrorIs(t, err, connectors.ErrMalformed, b)
		require.Empty(t, notices)
	}

	reply, notices, err = e.sp.Receive(ctx, connectors.Request{Query: map[string][]string{"validationToken": {"a b&c"}}})
	require.NoError(t, err)
	require.Nil(t, notices)
	require.Equal(t, connectors.Reply{Status: 200, ContentType: "text/plain", Body: []byte("a b&c")}, reply)
}

func TestDroppedNotificationsAreRecorded(t *testing.T) {
	t.Parallel()
	e := setup(t, emulator.Options{Manifest: manifest(t)})
	in := &ingress{conn: e.od}
	hook := httptest.NewServer(in)
	t.Cleanup(hook.Close)
	sub, err := e.od.Subscribe(context.Background(), connectors.Drive{ID: "b!od-bob"}, hook.URL)
	require.NoError(t, err)
	e.subs.Put(connectors.AppOneDrive, e.od.Tenant(), sub)
	e.emu.DropNotifications(1)
	_, err = e.emu.AddFile("b!od-bob", "/", "a.docx", "", []byte("a"))
	require.NoError(t, err)
	require.Empty(t, in.notices())
	_, err = e.emu.AddFile("b!od-bob", "/", "b.docx", "", []byte("b"))
	require.NoError(t, err)
	require.Len(t, in.notices(), 1)
	ds := e.emu.Deliveries()
	require.Len(t, ds, 2)
	require.True(t, ds[0].Dropped)
}
