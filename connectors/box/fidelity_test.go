package box_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/box"
	"github.com/labelgate/labelgate/connectors/box/emulator"
)

// sdkVector is one of Box's own SDK webhook signature vectors
// (testdata/box/signatures/sdk/README.md names the repositories, paths and commits).
type sdkVector struct {
	Name         string            `json:"name"`
	PrimaryKey   string            `json:"primaryKey"`
	SecondaryKey string            `json:"secondaryKey"`
	Now          time.Time         `json:"now"`
	Body         string            `json:"body"`
	Headers      map[string]string `json:"headers"`
	Verdict      string            `json:"verdict"`
	Sources      []struct {
		Repo, Path, Commit string
	} `json:"sources"`
}

func TestSDKSignatureVectors(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../testdata/box/signatures/sdk/vectors.json")
	require.NoError(t, err)
	var vs []sdkVector
	require.NoError(t, json.Unmarshal(raw, &vs))
	require.GreaterOrEqual(t, len(vs), 20)
	valid := 0
	for _, v := range vs {
		require.NotEmpty(t, v.Sources, v.Name)
		if v.Verdict == "valid" {
			valid++
		}
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			// The vectors are from 2020: the clock is injected, so the signature check is what
			// is tested, and the 10-minute window around the vector's own "now".
			now := v.Now
			conn, err := box.New(box.Config{EnterpriseID: "E1000", PrimaryKey: v.PrimaryKey, SecondaryKey: v.SecondaryKey,
				Roots: []string{"0"}, Now: func() time.Time { return now }})
			require.NoError(t, err)
			h := http.Header{}
			for k, x := range v.Headers {
				h.Set(k, x)
			}
			_, notices, err := conn.Receive(context.Background(), connectors.Request{Header: h, Body: []byte(v.Body)})
			switch v.Verdict {
			case "valid":
				require.NoError(t, err)
				require.Len(t, notices, 1)
				require.Equal(t, "1234567890", notices[0].ItemID)
				require.Equal(t, "1234567890", notices[0].SubscriptionID)
				require.Equal(t, "0", notices[0].Drive)
				// The SDK payloads have no id: the dedup key is the signed body's hash.
				require.True(t, strings.HasPrefix(notices[0].DedupKey, "box:sha256:"), notices[0].DedupKey)
			case "invalid":
				require.ErrorIs(t, err, connectors.ErrForged)
				require.Empty(t, notices)
			default:
				t.Fatalf("verdict %q", v.Verdict)
			}
		})
	}
	require.GreaterOrEqual(t, valid, 10)
}

// notifyServer is a webhook address that hands each request to the connector's Receive.
func notifyServer(t *testing.T, conn *box.Conn, fail *atomic.Int32) (*httptest.Server, *gateway) {
	t.Helper()
	gw := &gateway{conn: conn}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail != nil && fail.Add(-1) >= 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		gw.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, gw
}

func hookedTargets(emu *emulator.Emulator) []string {
	var out []string
	for _, h := range emu.Webhooks() {
		out = append(out, h.TargetID)
	}
	slices.Sort(out)
	return out
}

func TestRootZeroGetsOneWebhookPerTopLevelFolder(t *testing.T) {
	t.Parallel()
	f := setup(t) // roots default to "0"
	ctx := context.Background()
	srv, gw := notifyServer(t, f.conn, nil)

	sub, err := f.conn.Subscribe(ctx, connectors.Drive{ID: "0"}, srv.URL)
	require.NoError(t, err)
	require.Equal(t, "0", sub.Drive)
	require.Equal(t, "folders:2/2", sub.Resource)
	require.False(t, sub.Expires.IsZero(), "Renew reconciles the top-level folders now and then")
	require.Equal(t, []string{"100", "200"}, hookedTargets(f.emu), "Finance and Engineering, never 0")
	f.subs.Put(connectors.AppBox, "E1000", sub)

	// Subscribing again changes nothing.
	created, updated := f.emu.WebhookCalls()
	_, err = f.conn.Subscribe(ctx, connectors.Drive{ID: "0"}, srv.URL)
	require.NoError(t, err)
	c2, u2 := f.emu.WebhookCalls()
	require.Equal(t, created, c2)
	require.Equal(t, updated, u2)

	// Deliveries from a top-level folder's webhook land in drive "0".
	require.NoError(t, f.emu.ModifyFile("1111", []byte("deep change")))
	notices, errs := gw.take()
	require.Empty(t, errs)
	require.Len(t, notices, 1)
	require.Equal(t, "0", notices[0].Drive)
	require.Equal(t, "1111", notices[0].ItemID)

	// A root-level file has no webhook: the event stream reports it, and a new top-level
	// folder seen there gets its webhook.
	cur, err := f.conn.Changes(ctx, "0", "", func(connectors.File) error { return nil })
	require.NoError(t, err)
	rootFile, err := f.emu.AddFile("0", "root.docx", []byte("at the root"), "")
	require.NoError(t, err)
	newTop, err := f.emu.AddFolder("0", "Legal")
	require.NoError(t, err)
	notices, _ = gw.take()
	require.Empty(t, notices, "nothing is delivered for the root itself")
	var got []string
	_, err = f.conn.Changes(ctx, "0", cur, func(x connectors.File) error { got = append(got, x.Ref.ItemID); return nil })
	require.NoError(t, err)
	require.Equal(t, []string{rootFile}, got)
	require.Equal(t, []string{"100", "200", newTop}, hookedTargets(f.emu))
	for _, h := range f.emu.Webhooks() {
		require.Equal(t, srv.URL, h.Address)
	}
	inLegal, err := f.emu.AddFile(newTop, "contract.docx", []byte("x"), "")
	require.NoError(t, err)
	notices, _ = gw.take()
	require.Len(t, notices, 1)
	require.Equal(t, inLegal, notices[0].ItemID)

	// Unsubscribe removes every top-level webhook.
	require.NoError(t, f.conn.Unsubscribe(ctx, sub))
	require.Empty(t, f.emu.Webhooks())
}

func TestRootZeroWithinWebhookLimit(t *testing.T) {
	t.Parallel()
	emu, err := emulator.New(emulator.Options{Manifest: manifest, MaxWebhooks: 2})
	require.NoError(t, err)
	t.Cleanup(emu.Close)
	conn, err := box.New(box.Config{EnterpriseID: emu.EnterpriseID(), ClientID: "client", ClientSecret: "secret",
		BaseURL: emu.APIURL(), UploadURL: emu.UploadURL(), TokenURL: emu.TokenURL(), RetryBackoff: time.Millisecond})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = emu.AddFolder("0", "Third")
	require.NoError(t, err)
	sub, err := conn.Subscribe(ctx, connectors.Drive{ID: "0"}, "https://gw.example/webhooks/box")
	require.NoError(t, err, "past the limit the event stream covers the rest")
	require.Equal(t, "folders:2/3", sub.Resource)
	require.Len(t, emu.Webhooks(), 2)
	require.Equal(t, time.Minute, conn.FeedPollInterval(), "the stream is read on a timer")
}

func TestRootZeroRetriesFailedFolderWebhooksSooner(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	f.emu.FailNext(emulator.Fault{Method: http.MethodPost, Path: "/webhooks", Status: http.StatusForbidden})
	sub, err := f.conn.Subscribe(ctx, connectors.Drive{ID: "0"}, "https://gw.example/webhooks/box")
	require.NoError(t, err, "one folder hooked is enough to go on")
	require.Equal(t, "folders:1/2", sub.Resource)
	require.WithinDuration(t, f.clock.Now().Add(25*time.Hour), sub.Expires, time.Second, "renewed in about an hour")
	renewed, err := f.conn.Renew(ctx, sub)
	require.NoError(t, err)
	require.Equal(t, "folders:2/2", renewed.Resource)
	require.Len(t, f.emu.Webhooks(), 2)
	require.WithinDuration(t, f.clock.Now().Add(48*time.Hour), renewed.Expires, time.Second)
}

func TestWebhookAddressChangeUpdatesInPlace(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	old, err := f.conn.Subscribe(ctx, connectors.Drive{ID: "100"}, "https://old.example/webhooks/box")
	require.NoError(t, err)

	// publicURL changed and the store lost the subscription: Box answers 409 to a second
	// webhook on the folder whatever its address, so the existing one is updated.
	moved, err := f.conn.Subscribe(ctx, connectors.Drive{ID: "100"}, "https://new.example/webhooks/box")
	require.NoError(t, err)
	require.Equal(t, old.ID, moved.ID)
	hooks := f.emu.Webhooks()
	require.Len(t, hooks, 1)
	require.Equal(t, "https://new.example/webhooks/box", hooks[0].Address)
	_, updated := f.emu.WebhookCalls()
	require.Equal(t, 1, updated)

	// Renew of a stored subscription whose address differs from Box's also updates it.
	moved.NotifyURL = "https://third.example/webhooks/box"
	_, err = f.conn.Renew(ctx, moved)
	require.NoError(t, err)
	require.Equal(t, "https://third.example/webhooks/box", f.emu.Webhooks()[0].Address)

	// Older triggers (before sharing triggers were added) are brought up to date too.
	require.ElementsMatch(t, box.Triggers, f.emu.Webhooks()[0].Triggers)
	require.Subset(t, box.Triggers, []string{"SHARED_LINK.CREATED", "SHARED_LINK.UPDATED", "SHARED_LINK.DELETED",
		"COLLABORATION.CREATED", "COLLABORATION.ACCEPTED", "COLLABORATION.REMOVED", "COLLABORATION.UPDATED"})
}

func TestRetriedDeliveryIsDeduplicatedOnPayloadID(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	fail := &atomic.Int32{}
	fail.Store(1) // the first attempt gets a 503: Box retries
	srv, gw := notifyServer(t, f.conn, fail)
	sub, err := f.conn.Subscribe(ctx, connectors.Drive{ID: "100"}, srv.URL)
	require.NoError(t, err)
	f.subs.Put(connectors.AppBox, "E1000", sub)

	require.NoError(t, f.emu.ModifyFile("1001", []byte("changed")))
	ds := f.emu.Deliveries()
	require.Len(t, ds, 2)
	require.Equal(t, 503, ds[0].Status)
	require.Equal(t, http.StatusAccepted, ds[1].Status)
	require.NotEqual(t, ds[0].Header.Get(box.HeaderDeliveryID), ds[1].Header.Get(box.HeaderDeliveryID), "a retry has a new delivery id")
	require.Equal(t, ds[0].PayloadID, ds[1].PayloadID)
	notices, _ := gw.take()
	require.Len(t, notices, 1)
	require.Equal(t, "box:"+ds[0].PayloadID, notices[0].DedupKey)
}

func TestSharingChangesTriggerRescans(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	srv, gw := notifyServer(t, f.conn, nil)
	sub, err := f.conn.Subscribe(ctx, connectors.Drive{ID: "100"}, srv.URL)
	require.NoError(t, err)
	f.subs.Put(connectors.AppBox, "E1000", sub)
	cur, err := f.conn.Changes(ctx, "100", "", func(connectors.File) error { return nil })
	require.NoError(t, err)

	// A file's shared link: its own notice names the file.
	require.NoError(t, f.emu.SetSharedLink("1001", "open"))
	require.NoError(t, f.emu.SetSharedLink("1001", ""))
	require.NoError(t, f.emu.AddCollaborator("1003", "mallory@evil.example", "viewer"))
	require.NoError(t, f.emu.RemoveCollaborators("1003", "mallory@evil.example"))
	notices, errs := gw.take()
	require.Empty(t, errs)
	var triggers []string
	for _, d := range f.emu.Deliveries() {
		triggers = append(triggers, d.Trigger)
	}
	require.Equal(t, []string{"SHARED_LINK.CREATED", "SHARED_LINK.DELETED", "COLLABORATION.CREATED", "COLLABORATION.REMOVED"}, triggers)
	require.Len(t, notices, 4)
	for i, id := range []string{"1001", "1001", "1003", "1003"} {
		require.Equal(t, id, notices[i].ItemID)
	}

	// A folder collaboration changes every file below it: the notice names no file, and the
	// change feed reports each file under the folder with its new access.
	next, err := f.conn.Changes(ctx, "100", cur, func(connectors.File) error { return nil })
	require.NoError(t, err)
	require.NoError(t, f.emu.AddCollaborator("111", "ext@partner.example", "editor"))
	notices, _ = gw.take()
	require.Len(t, notices, 1)
	require.Empty(t, notices[0].ItemID)
	require.Equal(t, "100", notices[0].Drive)
	var got []connectors.File
	_, err = f.conn.Changes(ctx, "100", next, func(x connectors.File) error { got = append(got, x); return nil })
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "1111", got[0].Ref.ItemID)
	require.Contains(t, got[0].Domains, "partner.example")
	require.Equal(t, connectors.AccessExternal, got[0].Access)
}

func TestChangesCursorAgeDecidesResync(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	nop := func(connectors.File) error { return nil }
	cur, err := f.conn.Changes(ctx, "100", "", nop)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(cur, "s1.changes."), cur)

	// Lost events are not an error at Box: an old position is simply served.
	require.NoError(t, f.emu.ModifyFile("1001", []byte("lost")))
	f.emu.ExpireStream()
	var got []connectors.File
	cur, err = f.conn.Changes(ctx, "100", cur, func(x connectors.File) error { got = append(got, x); return nil })
	require.NoError(t, err, "no invented error for a stale position")
	require.Empty(t, got)

	// 19 days on, the cursor is still within the changes stream's 21 days.
	f.clock.Advance(19 * 24 * time.Hour)
	cur, err = f.conn.Changes(ctx, "100", cur, nop)
	require.NoError(t, err)
	// Each read renews the cursor's age; 20 more days without a read pass Box's retention
	// less a day's margin.
	f.clock.Advance(20*24*time.Hour + time.Minute)
	_, err = f.conn.Changes(ctx, "100", cur, nop)
	require.ErrorIs(t, err, connectors.ErrCursorExpired)

	// A bare position (stored before the cursor carried its age) is read as a fresh one.
	_, err = f.conn.Changes(ctx, "100", "1000", nop)
	require.NoError(t, err)
	// A cursor of the other stream (the configuration switched) demands a resync.
	_, err = f.conn.Changes(ctx, "100", "s1.admin_logs_streaming."+strings.Split(cur, ".")[2]+".1000", nop)
	require.ErrorIs(t, err, connectors.ErrCursorExpired)
	_, err = f.conn.Changes(ctx, "100", "garbage", nop)
	require.ErrorIs(t, err, connectors.ErrCursorExpired)
}

func TestTrashedFileInSubfolderDrive(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *box.Config) { c.Roots = []string{"110"} })
	ctx := context.Background()
	cur, err := f.conn.Changes(ctx, "110", "", func(connectors.File) error { return nil })
	require.NoError(t, err)
	require.NoError(t, f.emu.TrashFile("1111"))
	var got []connectors.File
	_, err = f.conn.Changes(ctx, "110", cur, func(x connectors.File) error { got = append(got, x); return nil })
	require.NoError(t, err)
	require.Len(t, got, 1, "the trash event's path_collection is the Trash, yet the file is reported")
	require.Equal(t, "1111", got[0].Ref.ItemID)
	require.Equal(t, "110", got[0].Ref.Drive)
	require.True(t, got[0].Deleted)
}

func TestAdminLogsStreaming(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *box.Config) { c.EventStream = box.StreamAdminLogsStreaming })
	ctx := context.Background()
	nop := func(connectors.File) error { return nil }

	// Without admin rights Box answers 403: an administrator's set-up step, not a retry.
	_, err := f.conn.Changes(ctx, "100", "", nop)
	require.Equal(t, connectors.KindNotConfigured, connectors.KindOf(err), "%v", err)

	f.emu.SetAdminEvents(true)
	cur, err := f.conn.Changes(ctx, "100", "", nop)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(cur, "s1.admin_logs_streaming."), cur)
	require.NoError(t, f.emu.ModifyFile("1101", []byte("edited")))
	require.NoError(t, f.emu.TrashFile("1002"))
	require.NoError(t, f.emu.ModifyFile("2001", []byte("other drive")))
	var got []connectors.File
	_, err = f.conn.Changes(ctx, "100", cur, func(x connectors.File) error { got = append(got, x); return nil })
	require.NoError(t, err)
	m := byID(got)
	require.Len(t, m, 2, "%v", got)
	require.False(t, m["1101"].Deleted)
	require.Equal(t, "/Reports", m["1101"].Path, "placed by a fresh GET: enterprise events carry only the parent")
	require.True(t, m["1002"].Deleted)

	// A "changes" cursor is not a position in this stream.
	_, err = f.conn.Changes(ctx, "100", "s1.changes."+strings.Split(cur, ".")[2]+".1000", nop)
	require.ErrorIs(t, err, connectors.ErrCursorExpired)

	_, err = box.New(box.Config{EnterpriseID: "E1", EventStream: "all"})
	require.Error(t, err)
}

func TestUploadIfMatch(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	r := ref("100", "1001")
	before, err := f.conn.Stat(ctx, r)
	require.NoError(t, err)

	// Unchanged since read: the new version lands.
	require.NoError(t, f.conn.UploadIfMatch(ctx, r, before.ETag, bytes.NewReader([]byte("labelled")), 8))
	content, versions := f.emu.Content("1001")
	require.Equal(t, "labelled", string(content))

	// The etag read before that upload is stale now: refused, content kept.
	err = f.conn.UploadIfMatch(ctx, r, before.ETag, bytes.NewReader([]byte("clobber")), 7)
	require.Equal(t, connectors.KindChanged, connectors.KindOf(err), "%v", err)
	content, v2 := f.emu.Content("1001")
	require.Equal(t, "labelled", string(content))
	require.Equal(t, versions, v2)

	// A change landing between the read of the etag and the upload: Box answers 412.
	now, err := f.conn.Stat(ctx, r)
	require.NoError(t, err)
	f.emu.FailNext(emulator.Fault{Method: http.MethodPost, Path: "/files/1001/content", Status: http.StatusPreconditionFailed})
	err = f.conn.UploadIfMatch(ctx, r, now.ETag, bytes.NewReader([]byte("late")), 4)
	require.Equal(t, connectors.KindChanged, connectors.KindOf(err), "%v", err)
	var ae *box.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, http.StatusPreconditionFailed, ae.Status)
}
