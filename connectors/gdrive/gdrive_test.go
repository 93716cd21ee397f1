package gdrive_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/gdrive"
	"github.com/labelgate/labelgate/connectors/gdrive/emulator"
)

const (
	alice    = "alice@example.com"
	bob      = "bob@example.com"
	admin    = "admin@example.com"
	aliceDrv = "user:alice@example.com"
	bobDrv   = "user:bob@example.com"
	finance  = "sd-finance"

	mipGeneral = "f42aa342-8706-4288-bd11-ebb85995028c"
	mipConf    = "c0000000-0000-0000-0000-00000000c0f1"
	mipPublic  = "90000000-0000-0000-0000-0000000000b1"
)

var (
	keyOnce sync.Once
	keyJSON []byte
)

// serviceAccountKey is a JSON key like the one Google issues, made once for the test run.
func serviceAccountKey(t testing.TB) []byte {
	keyOnce.Do(func() {
		var err error
		if keyJSON, err = emulator.ServiceAccountKey("labelgate-test"); err != nil {
			panic(err)
		}
	})
	return keyJSON
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	em    *emulator.Server
	c     *gdrive.Conn
	subs  *connectors.MemSubscriptions
	clock *clock
	ctx   context.Context
}

func setup(t testing.TB, tweak ...func(*gdrive.Config)) *fixture {
	t.Helper()
	m, err := emulator.LoadManifest("../../testdata/gdrive/tenant.json")
	require.NoError(t, err)
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	em, err := emulator.New(emulator.Options{Manifest: m, Now: clk.Now})
	require.NoError(t, err)
	t.Cleanup(em.Close)
	subs := &connectors.MemSubscriptions{}
	cfg := gdrive.Config{
		Tenant: "example.com", Domains: []string{"example.com"}, Users: []string{alice, bob}, AdminEmail: admin,
		ServiceAccountKey: serviceAccountKey(t), TokenURL: em.TokenURL(),
		DriveEndpoint: em.DriveEndpoint(), LabelsEndpoint: em.LabelsEndpoint(),
		LabelMap: map[string]string{
			mipPublic:  "lbl-sens/fld-level/ch-public",
			mipGeneral: "lbl-sens/fld-level/ch-general",
			mipConf:    "lbl-sens/fld-level/ch-conf",
		},
		OwnerOU:       map[string]string{alice: "/Engineering"},
		Subscriptions: subs, RateLimit: 100000, PageSize: 3, Now: clk.Now,
		Logger: slog.New(slog.DiscardHandler),
	}
	for _, f := range tweak {
		f(&cfg)
	}
	c, err := gdrive.New(cfg)
	require.NoError(t, err)
	return &fixture{em: em, c: c, subs: subs, clock: clk, ctx: context.Background()}
}

func ref(drive, id string) connectors.FileRef {
	return connectors.FileRef{App: connectors.AppGDrive, Tenant: "example.com", Drive: drive, ItemID: id}
}

func (f *fixture) walk(t *testing.T, drive string) map[string]connectors.File {
	t.Helper()
	out := map[string]connectors.File{}
	require.NoError(t, f.c.Walk(f.ctx, drive, "", func(file connectors.File, _ string) error {
		out[file.Ref.ItemID] = file
		return nil
	}))
	return out
}

func TestDrivesUsersAndSharedDrives(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ds, err := f.c.Drives(f.ctx)
	require.NoError(t, err)
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
		require.Equal(t, "example.com", d.Tenant)
	}
	require.Equal(t, []string{aliceDrv, bobDrv, finance}, ids)
	require.Equal(t, "Finance", ds[2].Name)

	f = setup(t, func(c *gdrive.Config) { c.Exclude = []string{bob, "Finance"} })
	ds, err = f.c.Drives(f.ctx)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, aliceDrv, ds[0].ID)

	f = setup(t, func(c *gdrive.Config) { c.Include = []string{finance} })
	ds, err = f.c.Drives(f.ctx)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, finance, ds[0].ID)
}

func TestWalkMapsAccessPathsOwnersAndLabels(t *testing.T) {
	t.Parallel()
	f := setup(t)
	files := f.walk(t, aliceDrv)
	// Folders and the Google Doc are not scannable files; bob's file is in bob's drive.
	require.Len(t, files, 6)
	require.NotContains(t, files, "fold-proj")
	require.NotContains(t, files, "f-gdoc")
	require.NotContains(t, files, "f-bob")

	cases := []struct {
		id, path string
		access   connectors.AccessLevel
		domains  []string
	}{
		{"f-private", "/Projects/Q3", connectors.AccessPrivate, nil},
		{"f-team", "/", connectors.AccessPrivate, nil}, // shared inside the organisation only
		{"f-internal", "/Projects", connectors.AccessInternal, nil},
		{"f-external", "/", connectors.AccessExternal, []string{"partner.org", "vendor.io"}},
		{"f-public", "/", connectors.AccessPublic, []string{"partner.org"}},
	}
	for _, tc := range cases {
		got := files[tc.id]
		require.Equal(t, tc.path, got.Path, tc.id)
		require.Equal(t, tc.access, got.Access, tc.id)
		require.Equal(t, tc.domains, got.Domains, tc.id)
		require.Equal(t, alice, got.Owner, tc.id)
		require.Equal(t, "/Engineering", got.OwnerOU, tc.id)
		require.Equal(t, connectors.FileRef{App: connectors.AppGDrive, Tenant: "example.com", Drive: aliceDrv,
			ItemID: tc.id}, got.Ref)
	}
	plan := files["f-internal"]
	content, _ := f.em.Content("f-internal")
	require.Equal(t, "plan.docx", plan.Name)
	require.Equal(t, int64(len(content)), plan.Size)
	require.NotEmpty(t, plan.ETag)
	require.Equal(t, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), plan.Modified.UTC())
	require.NotEmpty(t, plan.WebURL)
	require.Equal(t, mipConf, files["f-labeled"].NativeLabel)
	require.Empty(t, plan.NativeLabel)

	sd := f.walk(t, finance)
	require.Len(t, sd, 1)
	b := sd["f-budget"]
	require.Equal(t, "/Reports", b.Path)
	require.Equal(t, "", b.Owner)
	require.Equal(t, connectors.AccessPrivate, b.Access)
}

func TestWalkResumesFromEveryCursor(t *testing.T) {
	t.Parallel()
	f := setup(t)
	type item struct{ id, cursor string }
	var all []item
	require.NoError(t, f.c.Walk(f.ctx, aliceDrv, "", func(file connectors.File, cur string) error {
		all = append(all, item{file.Ref.ItemID, cur})
		return nil
	}))
	require.Len(t, all, 6)
	for i, it := range all {
		var rest []string
		require.NoError(t, f.c.Walk(f.ctx, aliceDrv, it.cursor, func(file connectors.File, _ string) error {
			rest = append(rest, file.Ref.ItemID)
			return nil
		}))
		var want []string
		for _, w := range all[i+1:] {
			want = append(want, w.id)
		}
		require.Equal(t, want, rest, "resuming after %s", it.id)
	}

	// A stopped walk resumes where fn stopped it.
	stop := io.ErrShortWrite
	var last string
	err := f.c.Walk(f.ctx, aliceDrv, "", func(file connectors.File, cur string) error {
		last = cur
		if file.Ref.ItemID == all[3].id {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	require.Equal(t, all[3].cursor, last)
}

func TestWalkExpiredCursorNeedsResync(t *testing.T) {
	t.Parallel()
	f := setup(t)
	var cursors []string
	require.NoError(t, f.c.Walk(f.ctx, aliceDrv, "", func(_ connectors.File, cur string) error {
		cursors = append(cursors, cur)
		return nil
	}))
	f.em.ExpirePageTokens()
	err := f.c.Walk(f.ctx, aliceDrv, cursors[4], func(connectors.File, string) error { return nil })
	require.ErrorIs(t, err, connectors.ErrCursorExpired)
	require.ErrorIs(t, f.c.Walk(f.ctx, aliceDrv, "garbage", func(connectors.File, string) error { return nil }),
		connectors.ErrCursorExpired)
}

func TestOpenReadsRangesOneRequestEach(t *testing.T) {
	t.Parallel()
	f := setup(t)
	want, ok := f.em.Content("f-internal")
	require.True(t, ok)
	obj, err := f.c.Open(f.ctx, ref(aliceDrv, "f-internal"))
	require.NoError(t, err)
	defer obj.Close()
	require.Equal(t, int64(len(want)), obj.Size())

	before := f.em.MediaRequests()
	for _, r := range []struct{ off, n int }{{0, 4}, {100, 512}, {len(want) - 22, 22}, {len(want) / 2, 1}} {
		buf := make([]byte, r.n)
		n, err := obj.ReadAt(buf, int64(r.off))
		require.NoError(t, err)
		require.Equal(t, r.n, n)
		require.Equal(t, want[r.off:r.off+r.n], buf)
	}
	require.Equal(t, before+4, f.em.MediaRequests(), "one ranged download per ReadAt")

	buf := make([]byte, 100)
	n, err := obj.ReadAt(buf, int64(len(want)-10))
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, 10, n)
	require.Equal(t, want[len(want)-10:], buf[:n])
	_, err = obj.ReadAt(buf, int64(len(want)))
	require.ErrorIs(t, err, io.EOF)

	all, err := io.ReadAll(io.NewSectionReader(obj, 0, obj.Size()))
	require.NoError(t, err)
	require.Equal(t, want, all)

	sd, err := f.c.Open(f.ctx, ref(finance, "f-budget"))
	require.NoError(t, err)
	got, err := io.ReadAll(io.NewSectionReader(sd, 0, sd.Size()))
	require.NoError(t, err)
	require.Equal(t, "quarter,amount\nQ3,100\n", string(got))

	_, err = f.c.Open(f.ctx, ref(aliceDrv, "f-gdoc"))
	require.ErrorIs(t, err, connectors.ErrUnsupported)
	_, err = f.c.Open(f.ctx, ref(bobDrv, "f-private"))
	require.Equal(t, connectors.KindNotFound, connectors.KindOf(err), "bob cannot see alice's private file")
}

func TestStat(t *testing.T) {
	t.Parallel()
	f := setup(t)
	got, err := f.c.Stat(f.ctx, ref(aliceDrv, "f-external"))
	require.NoError(t, err)
	require.Equal(t, "share.pdf", got.Name)
	require.Equal(t, connectors.AccessExternal, got.Access)
	doc, err := f.c.Stat(f.ctx, ref(aliceDrv, "fold-q3"))
	require.NoError(t, err)
	require.True(t, doc.Folder)
	require.Equal(t, "/Projects", doc.Path)
	_, err = f.c.Stat(f.ctx, ref(aliceDrv, "nope"))
	require.Equal(t, connectors.KindNotFound, connectors.KindOf(err))
}

func TestUploadStoresNewRevision(t *testing.T) {
	t.Parallel()
	f := setup(t)
	before, err := f.c.Stat(f.ctx, ref(aliceDrv, "f-internal"))
	require.NoError(t, err)
	body := []byte("PK\x03\x04 a rewritten docx with a label inside")
	require.NoError(t, f.c.Upload(f.ctx, ref(aliceDrv, "f-internal"), bytesReader(body), int64(len(body))))
	got, _ := f.em.Content("f-internal")
	require.Equal(t, body, got)
	after, err := f.c.Stat(f.ctx, ref(aliceDrv, "f-internal"))
	require.NoError(t, err)
	require.NotEqual(t, before.ETag, after.ETag)
	require.Equal(t, int64(len(body)), after.Size)

	sd := []byte("quarter,amount\nQ4,7\n")
	require.NoError(t, f.c.Upload(f.ctx, ref(finance, "f-budget"), bytesReader(sd), int64(len(sd))))
	got, _ = f.em.Content("f-budget")
	require.Equal(t, sd, got)
}

func TestEmbeddedModeOffersNoLabeler(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *gdrive.Config) { c.LabelMode = gdrive.LabelEmbedded })
	conn := f.c.Connector()
	_, isLabeler := conn.(connectors.Labeler)
	require.False(t, isLabeler)
	_, isUploader := conn.(connectors.Uploader)
	require.True(t, isUploader)
	_, isSub := conn.(connectors.Subscriber)
	require.True(t, isSub)
	_, isRecv := conn.(connectors.WebhookReceiver)
	require.True(t, isRecv)
	require.ErrorIs(t, f.c.ApplyLabel(f.ctx, ref(aliceDrv, "f-private"), mipConf, connectors.ApplyOptions{}),
		connectors.ErrUnsupported)

	require.Equal(t, gdrive.LabelEmbedded, f.c.LabelMode())

	native := setup(t).c.Connector()
	_, isLabeler = native.(connectors.Labeler)
	require.True(t, isLabeler)
}

func TestImpersonationRequestsConfiguredScopes(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.walk(t, aliceDrv)
	require.Equal(t, gdrive.Scopes, f.em.TokenScopes(alice))
	require.Empty(t, f.em.TokenScopes(bob), "no token for a user whose drive was not touched")

	// A user the delegation does not cover: the token endpoint refuses the grant.
	err := f.c.Walk(f.ctx, "user:mallory@example.com", "", func(connectors.File, string) error { return nil })
	require.Equal(t, connectors.KindPermission, connectors.KindOf(err), "%v", err)
	f.em.FailNext(emulator.Fault{Status: 429, Match: "POST /token"})
	_, err = f.c.Changes(f.ctx, "user:admin@example.com", "", func(connectors.File) error { return nil })
	require.Equal(t, connectors.KindThrottled, connectors.KindOf(err), "%v", err)

	// The key can be given inline or as a file; BaseURL points both APIs at one host.
	path := filepath.Join(t.TempDir(), "key.json")
	require.NoError(t, os.WriteFile(path, serviceAccountKey(t), 0o600))
	for _, src := range []string{path, string(serviceAccountKey(t))} {
		key, err := gdrive.LoadKey(src)
		require.NoError(t, err)
		c, err := gdrive.New(gdrive.Config{Tenant: "example.com", Users: []string{alice}, AdminEmail: admin,
			ServiceAccountKey: key, BaseURL: f.em.URL(), TokenURL: f.em.TokenURL(), RateLimit: 1000})
		require.NoError(t, err)
		_, err = c.Catalog(f.ctx)
		require.NoError(t, err)
		_, err = c.Stat(f.ctx, ref(aliceDrv, "f-private"))
		require.NoError(t, err)
	}
	_, err = gdrive.LoadKey(filepath.Join(t.TempDir(), "missing.json"))
	require.Error(t, err)

	_, err = gdrive.New(gdrive.Config{ServiceAccountKey: []byte(`{"type":"service_account"}`)})
	require.Error(t, err)
	_, err = gdrive.New(gdrive.Config{ServiceAccountKey: serviceAccountKey(t), LabelMap: map[string]string{"x": "bad"}})
	require.Error(t, err)
}
