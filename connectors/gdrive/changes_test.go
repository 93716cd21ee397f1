package gdrive_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/gdrive"
	"github.com/labelgate/labelgate/connectors/gdrive/emulator"
)

func (f *fixture) changes(t *testing.T, drive, cursor string) ([]connectors.File, string) {
	t.Helper()
	var out []connectors.File
	next, err := f.c.Changes(f.ctx, drive, cursor, func(file connectors.File) error {
		out = append(out, file)
		return nil
	})
	require.NoError(t, err)
	return out, next
}

func ids(files []connectors.File) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Ref.ItemID)
	}
	return out
}

func TestChangesFeed(t *testing.T) {
	t.Parallel()
	f := setup(t)
	got, cur := f.changes(t, aliceDrv, "")
	require.Empty(t, got, "establishing a cursor reports nothing")
	require.NotEmpty(t, cur)

	require.NoError(t, f.em.ModifyFile("f-private", []byte("edited")))
	require.NoError(t, f.em.ModifyFile("f-bob", []byte("bob edits his own file")))
	newID, err := f.em.AddFile(emulator.FileSpec{Name: "new.docx", Owner: alice, Parent: "fold-q3",
		MimeType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", Content: "PK"})
	require.NoError(t, err)
	require.NoError(t, f.em.SetPermissions("f-team", []emulator.Permission{{Type: "anyone", Role: "reader"}}))
	require.NoError(t, f.em.DeleteFile("f-public"))
	require.NoError(t, f.em.TrashFile("f-external"))
	_, err = f.em.AddFile(emulator.FileSpec{Name: "Sheet", Owner: alice, MimeType: "application/vnd.google-apps.spreadsheet"})
	require.NoError(t, err)
	_, err = f.em.AddFile(emulator.FileSpec{Name: "Folder", Owner: alice, Folder: true})
	require.NoError(t, err)

	// Page size 3 makes this three changes.list pages.
	got, next := f.changes(t, aliceDrv, cur)
	require.Equal(t, []string{"f-private", newID, "f-team", "f-public", "f-external"}, ids(got))
	require.Equal(t, int64(len("edited")), got[0].Size)
	require.Equal(t, "/Projects/Q3", got[1].Path)
	require.Equal(t, connectors.AccessPublic, got[2].Access)
	require.True(t, got[3].Deleted, "removed file")
	require.True(t, got[4].Deleted, "trashed file")
	require.NotEqual(t, cur, next)

	again, same := f.changes(t, aliceDrv, next)
	require.Empty(t, again)
	require.Equal(t, next, same)

	bobs, _ := f.changes(t, bobDrv, cur)
	require.Equal(t, []string{"f-bob"}, ids(bobs))
}

func TestChangesSharedDrive(t *testing.T) {
	t.Parallel()
	f := setup(t)
	_, cur := f.changes(t, finance, "")
	require.NoError(t, f.em.ModifyFile("f-budget", []byte("q,a\n")))
	require.NoError(t, f.em.ModifyFile("f-private", []byte("not in the shared drive")))
	got, _ := f.changes(t, finance, cur)
	require.Equal(t, []string{"f-budget"}, ids(got))
	require.Equal(t, finance, got[0].Ref.Drive)
	require.Equal(t, "/Reports", got[0].Path)
}

// TestChangesDriveLevelEntry: a change to the shared drive itself (changeType "drive")
// carries no fileId; it must not turn into a deleted file with an empty id.
func TestChangesDriveLevelEntry(t *testing.T) {
	t.Parallel()
	f := setup(t)
	_, cur := f.changes(t, finance, "")
	require.NoError(t, f.em.RenameSharedDrive(finance, "Finance (archive)"))
	require.NoError(t, f.em.ModifyFile("f-budget", []byte("after the rename")))
	got, next := f.changes(t, finance, cur)
	require.Equal(t, []string{"f-budget"}, ids(got), "the drive entry reports no file")
	for _, x := range got {
		require.NotEmpty(t, x.Ref.ItemID)
		require.False(t, x.Deleted)
	}
	require.NotEqual(t, cur, next)
}

func TestChangesExpiredTokenNeedsResync(t *testing.T) {
	t.Parallel()
	f := setup(t)
	_, cur := f.changes(t, aliceDrv, "")
	require.NoError(t, f.em.ModifyFile("f-private", []byte("x")))
	f.em.ExpirePageTokens()
	next, err := f.c.Changes(f.ctx, aliceDrv, cur, func(connectors.File) error { return nil })
	require.ErrorIs(t, err, connectors.ErrCursorExpired)
	require.Equal(t, cur, next, "the stored cursor is handed back unchanged")
}

func TestFolderRenameRefreshesPaths(t *testing.T) {
	t.Parallel()
	f := setup(t)
	_, cur := f.changes(t, aliceDrv, "")
	files := f.walk(t, aliceDrv)
	require.Equal(t, "/Projects/Q3", files["f-private"].Path)
	// Renaming is not a control method; a new folder tree and a move-by-re-add stand in.
	id, err := f.em.AddFile(emulator.FileSpec{Name: "Archive", Owner: alice, Folder: true})
	require.NoError(t, err)
	fid, err := f.em.AddFile(emulator.FileSpec{Name: "old.txt", Owner: alice, Parent: id, Content: "o", MimeType: "text/plain"})
	require.NoError(t, err)
	got, _ := f.changes(t, aliceDrv, cur)
	require.Equal(t, []string{fid}, ids(got))
	require.Equal(t, "/Archive", got[0].Path)
}

// receiver is a webhook endpoint that hands each request to the connector, like the ingress.
type receiver struct {
	mu      sync.Mutex
	notices []connectors.Notice
	errs    []error
}

func (f *fixture) receiver(t *testing.T) (*receiver, string) {
	rc := &receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reply, notices, err := f.c.Receive(r.Context(), connectors.Request{Header: r.Header, Query: r.URL.Query(),
			Now: f.clock.Now()})
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if err != nil {
			rc.errs = append(rc.errs, err)
			w.WriteHeader(http.StatusForbidden)
			return
		}
		rc.notices = append(rc.notices, notices...)
		w.WriteHeader(reply.Status)
	}))
	t.Cleanup(srv.Close)
	return rc, srv.URL + "/webhooks/gdrive"
}

func (rc *receiver) got() ([]connectors.Notice, []error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.notices), slices.Clone(rc.errs)
}

func (f *fixture) flush(t *testing.T) {
	ctx, cancel := context.WithTimeout(f.ctx, 5*time.Second)
	defer cancel()
	require.NoError(t, f.em.WaitNotifications(ctx))
}

func TestWatchDeliversSyncThenChanges(t *testing.T) {
	t.Parallel()
	f := setup(t)
	rc, url := f.receiver(t)
	sub, err := f.c.Subscribe(f.ctx, connectors.Drive{ID: aliceDrv}, url)
	require.NoError(t, err)
	require.Equal(t, aliceDrv, sub.Drive)
	require.GreaterOrEqual(t, len(sub.Secret), 43, "32 random bytes")
	require.NotEmpty(t, sub.Resource)
	require.Equal(t, f.clock.Now().Add(6*24*time.Hour), sub.Expires)
	f.flush(t)
	// The sync handshake arrives before the caller could store the subscription: it is
	// accepted from the connector's own memory of channels it just made.
	ds := f.em.Deliveries()
	require.Len(t, ds, 1)
	require.Equal(t, "sync", ds[0].State)
	require.Equal(t, http.StatusOK, ds[0].Status)
	notices, errs := rc.got()
	require.Empty(t, notices)
	require.Empty(t, errs)
	f.subs.Put(connectors.AppGDrive, "example.com", sub)

	require.NoError(t, f.em.ModifyFile("f-private", []byte("v2")))
	require.NoError(t, f.em.ModifyFile("f-bob", []byte("not alice's")))
	f.em.DuplicateNotifications(1)
	require.NoError(t, f.em.ModifyFile("f-team", []byte("v2")))
	f.em.DropNotifications(1)
	require.NoError(t, f.em.ModifyFile("f-labeled", []byte("v2")))
	require.NoError(t, f.em.ModifyFile("f-public", []byte("v2")))
	f.flush(t)

	notices, errs = rc.got()
	require.Empty(t, errs)
	var keys []string
	for _, n := range notices {
		require.Equal(t, connectors.Notice{Kind: connectors.NoticeChanged, App: connectors.AppGDrive, Tenant: "example.com",
			Drive: aliceDrv, SubscriptionID: sub.ID, DedupKey: n.DedupKey}, n)
		keys = append(keys, n.DedupKey)
	}
	pre := "gdrive/" + sub.ID + "/"
	require.Equal(t, []string{pre + "2", pre + "3", pre + "3", pre + "5"}, keys,
		"a duplicate delivery repeats its key; a dropped one leaves a gap")

	// The change feed tells what changed.
	for _, d := range f.em.Deliveries() {
		require.Equal(t, http.StatusOK, d.Status)
	}
}

func TestWatchSharedDrive(t *testing.T) {
	t.Parallel()
	f := setup(t)
	rc, url := f.receiver(t)
	sub, err := f.c.Subscribe(f.ctx, connectors.Drive{ID: finance}, url)
	require.NoError(t, err)
	f.subs.Put(connectors.AppGDrive, "example.com", sub)
	require.NoError(t, f.em.ModifyFile("f-budget", []byte("v2")))
	require.NoError(t, f.em.ModifyFile("f-private", []byte("v2")))
	f.flush(t)
	notices, errs := rc.got()
	require.Empty(t, errs, "%+v %+v", f.em.Deliveries(), sub)
	require.Len(t, notices, 1)
	require.Equal(t, finance, notices[0].Drive)
	ch := f.em.ActiveChannels()
	require.Len(t, ch, 1)
	require.Equal(t, admin, ch[0].User)
	require.Equal(t, finance, ch[0].DriveID)
}

func TestReceiveRejectsForgedAndMalformed(t *testing.T) {
	t.Parallel()
	f := setup(t)
	sub, err := f.c.Subscribe(f.ctx, connectors.Drive{ID: aliceDrv}, "http://127.0.0.1:1/unused")
	require.NoError(t, err)
	f.subs.Put(connectors.AppGDrive, "example.com", sub)
	hdr := func(mod func(http.Header)) connectors.Request {
		h := http.Header{}
		h.Set("X-Goog-Channel-ID", sub.ID)
		h.Set("X-Goog-Channel-Token", sub.Secret)
		h.Set("X-Goog-Resource-ID", sub.Resource)
		h.Set("X-Goog-Resource-State", "change")
		h.Set("X-Goog-Message-Number", "7")
		mod(h)
		return connectors.Request{Header: h, Now: f.clock.Now()}
	}
	reply, notices, err := f.c.Receive(f.ctx, hdr(func(http.Header) {}))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, reply.Status)
	require.Len(t, notices, 1)

	reply, notices, err = f.c.Receive(f.ctx, hdr(func(h http.Header) { h.Set("X-Goog-Resource-State", "sync") }))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, reply.Status)
	require.Empty(t, notices)

	forged := map[string]func(http.Header){
		"unknown channel": func(h http.Header) { h.Set("X-Goog-Channel-ID", "not-ours") },
		"wrong token":     func(h http.Header) { h.Set("X-Goog-Channel-Token", sub.Secret[:len(sub.Secret)-1]+"x") },
		"missing token":   func(h http.Header) { h.Del("X-Goog-Channel-Token") },
		"other resource":  func(h http.Header) { h.Set("X-Goog-Resource-ID", "res-other") },
	}
	for name, mod := range forged {
		_, notices, err := f.c.Receive(f.ctx, hdr(mod))
		require.ErrorIs(t, err, connectors.ErrForged, name)
		require.Empty(t, notices, name)
	}
	malformed := map[string]func(http.Header){
		"no channel id": func(h http.Header) { h.Del("X-Goog-Channel-ID") },
		"no state":      func(h http.Header) { h.Del("X-Goog-Resource-State") },
		"no number":     func(h http.Header) { h.Del("X-Goog-Message-Number") },
		"bad number":    func(h http.Header) { h.Set("X-Goog-Message-Number", "x1") },
	}
	for name, mod := range malformed {
		_, notices, err := f.c.Receive(f.ctx, hdr(mod))
		require.ErrorIs(t, err, connectors.ErrMalformed, name)
		require.Empty(t, notices, name)
	}

	// A receiver that never created the channel and has no store knows nothing.
	other := setup(t, func(c *gdrive.Config) { c.Subscriptions = nil })
	_, _, err = other.c.Receive(f.ctx, hdr(func(http.Header) {}))
	require.ErrorIs(t, err, connectors.ErrForged)
}

func TestRenewReplacesChannel(t *testing.T) {
	t.Parallel()
	f := setup(t)
	rc, url := f.receiver(t)
	old, err := f.c.Subscribe(f.ctx, connectors.Drive{ID: aliceDrv}, url)
	require.NoError(t, err)
	f.subs.Put(connectors.AppGDrive, "example.com", old)
	f.flush(t) // the sync handshake, before the fake clock jumps
	require.Equal(t, 24*time.Hour, f.c.RenewBefore())

	// Renewal is due one day before expiry.
	f.clock.Advance(old.Expires.Sub(f.clock.Now()) - f.c.RenewBefore())
	renewed, err := f.c.Renew(f.ctx, old)
	require.NoError(t, err)
	require.NotEqual(t, old.ID, renewed.ID)
	require.NotEqual(t, old.Secret, renewed.Secret)
	require.Equal(t, aliceDrv, renewed.Drive)
	require.Equal(t, url, renewed.NotifyURL)
	require.Equal(t, f.clock.Now(), renewed.RenewedAt)
	require.Equal(t, f.clock.Now().Add(6*24*time.Hour), renewed.Expires)
	require.Empty(t, renewed.LastError)

	active := f.em.ActiveChannels()
	require.Len(t, active, 1)
	require.Equal(t, renewed.ID, active[0].ID)
	for _, ch := range f.em.Channels() {
		require.Equal(t, ch.ID == old.ID, ch.Stopped, ch.ID)
	}
	f.subs.Delete(connectors.AppGDrive, "example.com", old.ID)
	f.subs.Put(connectors.AppGDrive, "example.com", renewed)

	require.NoError(t, f.em.ModifyFile("f-private", []byte("after renewal")))
	f.flush(t)
	notices, errs := rc.got()
	require.Empty(t, errs)
	require.Len(t, notices, 1)
	require.Equal(t, renewed.ID, notices[0].SubscriptionID)

	// Drive caps channels at a week; without renewal a channel goes quiet.
	f.clock.Advance(7 * 24 * time.Hour)
	require.Empty(t, f.em.ActiveChannels())
	require.NoError(t, f.c.Unsubscribe(f.ctx, renewed))
	err = f.c.Unsubscribe(f.ctx, renewed)
	require.Equal(t, connectors.KindNotFound, connectors.KindOf(err), "stopping twice")
}
