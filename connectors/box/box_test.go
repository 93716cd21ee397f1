package box_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/box"
	"github.com/labelgate/labelgate/connectors/box/emulator"
	"github.com/labelgate/labelgate/connectors/provmetrics"
)

const manifest = "../../testdata/box/manifest.json"

// Label ids the tests map classifications to, as an operator would in labelMap.
const (
	mipConfidential = "a1b2c3d4-0000-4000-8000-000000000003"
	mipGeneral      = "f42aa342-8706-4288-bd11-ebb85995028c"
)

type fixture struct {
	emu   *emulator.Emulator
	conn  *box.Conn
	subs  *connectors.MemSubscriptions
	clock *clock
}

// clock is the connector's clock, which tests move forward to age change cursors.
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
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func setup(t *testing.T, tweak ...func(*box.Config)) fixture {
	t.Helper()
	emu, err := emulator.New(emulator.Options{Manifest: manifest})
	require.NoError(t, err)
	t.Cleanup(emu.Close)
	subs := &connectors.MemSubscriptions{}
	clk := &clock{t: time.Now()}
	cfg := box.Config{
		Now:           clk.Now,
		EnterpriseID:  emu.EnterpriseID(),
		ClientID:      "client",
		ClientSecret:  "secret",
		BaseURL:       emu.APIURL(),
		UploadURL:     emu.UploadURL(),
		TokenURL:      emu.TokenURL(),
		Domains:       []string{"contoso.com"},
		PrimaryKey:    "primary-key",
		SecondaryKey:  "secondary-key",
		LabelMap:      map[string]string{mipConfidential: "Confidential", mipGeneral: "General"},
		Subscriptions: subs,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		PageSize:      3,
		RetryBackoff:  time.Millisecond,
	}
	for _, f := range tweak {
		f(&cfg)
	}
	conn, err := box.New(cfg)
	require.NoError(t, err)
	return fixture{emu: emu, conn: conn, subs: subs, clock: clk}
}

func ref(drive, id string) connectors.FileRef {
	return connectors.FileRef{App: connectors.AppBox, Tenant: "E1000", Drive: drive, ItemID: id}
}

func walkAll(t *testing.T, c *box.Conn, drive, cursor string) ([]connectors.File, []string) {
	t.Helper()
	var files []connectors.File
	var cursors []string
	err := c.Walk(context.Background(), drive, cursor, func(f connectors.File, cur string) error {
		files = append(files, f)
		cursors = append(cursors, cur)
		return nil
	})
	require.NoError(t, err)
	return files, cursors
}

func byID(files []connectors.File) map[string]connectors.File {
	m := map[string]connectors.File{}
	for _, f := range files {
		m[f.Ref.ItemID] = f
	}
	return m
}

func TestDrives(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *box.Config) { c.Roots = []string{"100", "200"} })
	drives, err := f.conn.Drives(context.Background())
	require.NoError(t, err)
	require.Equal(t, []connectors.Drive{
		{ID: "100", Tenant: "E1000", Name: "Finance", Owner: "alice@contoso.com"},
		{ID: "200", Tenant: "E1000", Name: "Engineering", Owner: "bob@contoso.com"},
	}, drives)
}

func TestWalkMapsSharingToAccess(t *testing.T) {
	t.Parallel()
	f := setup(t)
	files, _ := walkAll(t, f.conn, "0", "")
	got := byID(files)
	require.Len(t, got, 10)

	cases := []struct {
		id      string
		access  connectors.AccessLevel
		domains []string
	}{
		{"1001", connectors.AccessPrivate, nil},
		{"1002", connectors.AccessPublic, nil},                                         // open link
		{"1003", connectors.AccessInternal, nil},                                       // company link
		{"1004", connectors.AccessInternal, []string{"contoso.com", "eu.contoso.com"}}, // collaborators inside
		{"1005", connectors.AccessExternal, []string{"contoso.com", "gmail.com"}},      // one outside
		{"1006", connectors.AccessInternal, nil},                                       // enterprise group
		{"1101", connectors.AccessExternal, []string{"partner.org"}},                   // inherited from the folder
		{"1111", connectors.AccessExternal, []string{"partner.org"}},                   // inherited from a grandparent
		{"2001", connectors.AccessPrivate, nil},
	}
	for _, tc := range cases {
		require.Equal(t, tc.access, got[tc.id].Access, tc.id)
		require.Equal(t, tc.domains, got[tc.id].Domains, tc.id)
	}

	budget := got["1001"]
	content, _ := f.emu.Content("1001")
	require.Equal(t, "/Finance", budget.Path)
	require.Equal(t, "budget.docx", budget.Name)
	require.Equal(t, int64(len(content)), budget.Size)
	require.Equal(t, "alice@contoso.com", budget.Owner)
	require.Equal(t, mipConfidential, budget.NativeLabel)
	require.Equal(t, time.Date(2025, 1, 10, 9, 0, 0, 0, time.UTC), budget.Created.UTC())
	require.Len(t, budget.ETag, 40) // sha1
	require.Equal(t, ref("0", "1001"), budget.Ref)
	require.Equal(t, "/Finance/Reports/Archive", got["1111"].Path)
	require.Equal(t, "/", got["9001"].Path)
	require.Equal(t, "Highly Confidential", got["1006"].NativeLabel) // unmapped: reported by key
}

func TestWalkDriveAndResume(t *testing.T) {
	t.Parallel()
	f := setup(t)
	files, cursors := walkAll(t, f.conn, "100", "")
	ids := make([]string, len(files))
	for i, x := range files {
		ids[i] = x.Ref.ItemID
		require.Equal(t, "100", x.Ref.Drive)
	}
	// Depth first; page size 3 forces several pages per folder.
	require.ElementsMatch(t, []string{"1001", "1002", "1003", "1004", "1005", "1006", "1101", "1111"}, ids)
	require.Equal(t, "/Reports/Archive", byID(files)["1111"].Path)
	require.Equal(t, "/", byID(files)["1001"].Path)

	// Resuming after the k-th file yields exactly the rest, for every k.
	for k := range files {
		rest, _ := walkAll(t, f.conn, "100", cursors[k])
		restIDs := make([]string, len(rest))
		for i, x := range rest {
			restIDs[i] = x.Ref.ItemID
		}
		require.Equal(t, ids[k+1:], restIDs, "resume after %d", k)
	}

	err := f.conn.Walk(context.Background(), "100", "garbage", func(connectors.File, string) error { return nil })
	require.Error(t, err)
}

func TestChanges(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	var none []connectors.File
	cur, err := f.conn.Changes(ctx, "100", "", func(x connectors.File) error { none = append(none, x); return nil })
	require.NoError(t, err)
	require.NotEmpty(t, cur)
	require.Empty(t, none)

	newID, err := f.emu.AddFile("110", "new.docx", []byte("hello"), "bob@contoso.com")
	require.NoError(t, err)
	require.NoError(t, f.emu.ModifyFile("1001", []byte("v2")))
	require.NoError(t, f.emu.TrashFile("1003"))
	require.NoError(t, f.emu.SetClassification("1002", "Public"))
	require.NoError(t, f.emu.ModifyFile("2001", []byte("outside drive 100")))
	f.emu.DuplicateLastEvents(5) // Box re-sends events with the same ids

	var got []connectors.File
	next, err := f.conn.Changes(ctx, "100", cur, func(x connectors.File) error { got = append(got, x); return nil })
	require.NoError(t, err)
	require.NotEqual(t, cur, next)
	ids := make([]string, len(got))
	for i, x := range got {
		ids[i] = x.Ref.ItemID
	}
	require.Equal(t, []string{newID, "1001", "1003", "1002"}, ids) // each once, 2001 is in another drive
	m := byID(got)
	require.True(t, m["1003"].Deleted)
	require.False(t, m["1001"].Deleted)
	require.Equal(t, int64(2), m["1001"].Size)
	require.Equal(t, "/Reports", m[newID].Path)
	require.Equal(t, connectors.AccessExternal, m[newID].Access)
	require.Equal(t, "Public", m["1002"].NativeLabel)

	// Nothing new: same position, no files.
	again, err := f.conn.Changes(ctx, "100", next, func(x connectors.File) error { t.Fatalf("unexpected change %v", x); return nil })
	require.NoError(t, err)
	require.Equal(t, next, again)

	// A position older than Box keeps events for demands a resync (decided from the
	// cursor's age: Box answers such a position without an error, events simply gone).
	require.NoError(t, f.emu.ModifyFile("1001", []byte("v3")))
	f.emu.ExpireStream()
	f.clock.Advance(21 * 24 * time.Hour)
	_, err = f.conn.Changes(ctx, "100", next, func(connectors.File) error { return nil })
	require.ErrorIs(t, err, connectors.ErrCursorExpired)
}

func TestStatAndErrors(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()

	file, err := f.conn.Stat(ctx, ref("100", "1005"))
	require.NoError(t, err)
	require.Equal(t, connectors.AccessExternal, file.Access)

	_, err = f.conn.Stat(ctx, ref("100", "424242"))
	require.Equal(t, connectors.KindNotFound, connectors.KindOf(err))
	var ae *box.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "not_found", ae.Code)
	require.NotEmpty(t, ae.RequestID)

	// 429 with a long Retry-After comes back typed, for the queue to wait out.
	f.emu.FailNext(emulator.Fault{Path: "/files/1001", Status: 429, RetryAfter: 30 * time.Second})
	_, err = f.conn.Stat(ctx, ref("100", "1001"))
	require.Equal(t, connectors.KindThrottled, connectors.KindOf(err))
	ra, ok := connectors.RetryAfter(err)
	require.True(t, ok)
	require.Equal(t, 30*time.Second, ra)
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "rate_limit_exceeded", ae.Code)

	// Transient 5xx are retried by the pacer.
	f.emu.FailNext(emulator.Fault{Path: "/files/1001", Status: 502, Times: 2})
	_, err = f.conn.Stat(ctx, ref("100", "1001"))
	require.NoError(t, err)

	f.emu.FailNext(emulator.Fault{Path: "/files/1001", Status: 500, Times: 4}) // the first try and three retries
	_, err = f.conn.Stat(ctx, ref("100", "1001"))
	require.Equal(t, connectors.KindTransient, connectors.KindOf(err))

	f.emu.FailNext(emulator.Fault{Path: "/files/1001", Status: 403})
	_, err = f.conn.Stat(ctx, ref("100", "1001"))
	require.Equal(t, connectors.KindPermission, connectors.KindOf(err))
}

func TestRevokedTokenIsReplaced(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	_, err := f.conn.Stat(ctx, ref("100", "1001"))
	require.NoError(t, err)
	_, err = f.conn.Stat(ctx, ref("100", "1002"))
	require.NoError(t, err)
	require.Equal(t, 1, f.emu.TokensIssued(), "the token is cached")
	f.emu.RevokeTokens()
	_, err = f.conn.Stat(ctx, ref("100", "1001"))
	require.NoError(t, err)
	require.Equal(t, 2, f.emu.TokensIssued())
}

func TestBadCredentials(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *box.Config) { c.ClientSecret = "wrong" })
	_, err := f.conn.Stat(context.Background(), ref("100", "1001"))
	require.Equal(t, connectors.KindPermission, connectors.KindOf(err))
}

func TestOpenRangeReads(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	want, _ := f.emu.Content("1001")
	obj, err := f.conn.Open(ctx, ref("100", "1001"))
	require.NoError(t, err)
	defer obj.Close()
	require.Equal(t, int64(len(want)), obj.Size())

	for _, tc := range []struct{ off, n int }{{0, 4}, {100, 512}, {len(want) - 22, 22}, {len(want) / 2, 1}} {
		before := f.emu.RangeReads()
		buf := make([]byte, tc.n)
		n, err := obj.ReadAt(buf, int64(tc.off))
		require.NoError(t, err)
		require.Equal(t, tc.n, n)
		require.Equal(t, want[tc.off:tc.off+tc.n], buf)
		require.Equal(t, before+1, f.emu.RangeReads(), "one round trip per ReadAt")
	}
	// Reading across the end returns what is there and io.EOF.
	buf := make([]byte, 100)
	n, err := obj.ReadAt(buf, int64(len(want)-10))
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, 10, n)
	require.Equal(t, want[len(want)-10:], buf[:10])
	_, err = obj.ReadAt(buf, int64(len(want)))
	require.ErrorIs(t, err, io.EOF)

	// The whole file through a SectionReader matches.
	all, err := io.ReadAll(io.NewSectionReader(obj, 0, obj.Size()))
	require.NoError(t, err)
	require.Equal(t, want, all)
}

func TestOpenNotReady(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.emu.NotReady("1002", 7*time.Second)
	// Opening makes no download call; the first read is the download, and Box's 202 comes
	// back from it as throttling with the Retry-After Box gave.
	obj, err := f.conn.Open(context.Background(), ref("100", "1002"))
	require.NoError(t, err)
	buf := make([]byte, obj.Size())
	_, err = obj.ReadAt(buf, 0)
	require.ErrorIs(t, err, box.ErrNotReady)
	require.Equal(t, connectors.KindThrottled, connectors.KindOf(err))
	ra, _ := connectors.RetryAfter(err)
	require.Equal(t, 7*time.Second, ra)

	_, err = obj.ReadAt(buf, 0)
	require.NoError(t, err)
	require.Equal(t, "We are pleased to announce.", string(buf))
}

// TestDownloadIsOneContentRead holds the connector's request accounting: opening from the
// walk's facts costs nothing, the first read is Box's download endpoint plus the redirect it
// answers with — one content read — and later reads go straight to the location.
func TestDownloadIsOneContentRead(t *testing.T) {
	t.Parallel()
	rec := provmetrics.New(nil)
	f := setup(t, func(c *box.Config) { c.HTTPClient = rec.Client("box", nil, box.OpName) })
	ctx, tally := provmetrics.Track(context.Background())
	st, err := f.conn.Stat(ctx, ref("100", "1001"))
	require.NoError(t, err)
	ctx, scan := provmetrics.Track(ctx)
	obj, err := f.conn.OpenFile(ctx, st)
	require.NoError(t, err)
	require.Zero(t, scan.Metadata()+scan.Content(), "opening from facts makes no call")
	want, _ := f.emu.Content("1001")
	buf := make([]byte, 64)
	for i, off := range []int64{0, int64(len(want)) - 64} {
		_, err := obj.ReadAt(buf, off)
		require.NoError(t, err)
		require.Equal(t, want[off:off+64], buf)
		require.Equal(t, int64(i+1), scan.Content(), "read %d", i)
	}
	require.Zero(t, scan.Metadata())
	require.Equal(t, 2, f.emu.RangeReads(), "both reads were ranged at the location")
	tot := rec.Totals("box")
	require.Equal(t, int64(2), tot.Content)
	require.Equal(t, tally.Metadata(), tot.Metadata, "only the Stat (and its token) were metadata")
}

func TestLabels(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()

	cat, err := f.conn.Catalog(ctx)
	require.NoError(t, err)
	require.Len(t, cat, 4)
	require.Equal(t, connectors.Label{ID: mipGeneral, Name: "General", DisplayName: "Business data, not for the public.",
		Priority: 1, Tenant: "E1000", Native: "General"}, cat[1])
	require.Equal(t, mipConfidential, cat[2].ID)
	require.Equal(t, "Highly Confidential", cat[3].ID)
	require.Greater(t, cat[3].Priority, cat[2].Priority)

	st, err := f.conn.ReadLabel(ctx, ref("100", "1001"))
	require.NoError(t, err)
	require.Equal(t, connectors.LabelState{LabelID: mipConfidential, Tenant: "E1000", Method: "standard"}, st)
	st, err = f.conn.ReadLabel(ctx, ref("100", "1003"))
	require.NoError(t, err)
	require.Empty(t, st.LabelID)
	_, err = f.conn.ReadLabel(ctx, ref("100", "424242"))
	require.Equal(t, connectors.KindNotFound, connectors.KindOf(err))

	// Create on an unclassified file.
	require.NoError(t, f.conn.ApplyLabel(ctx, ref("100", "1003"), mipGeneral, connectors.ApplyOptions{}))
	require.Equal(t, "General", f.emu.Classification("1003"))
	require.Equal(t, 1, f.emu.LabelWrites("1003"))

	// Replace on a classified file.
	require.NoError(t, f.conn.ApplyLabel(ctx, ref("100", "1001"), mipGeneral, connectors.ApplyOptions{}))
	require.Equal(t, "General", f.emu.Classification("1001"))
	require.Equal(t, 1, f.emu.LabelWrites("1001"))
	st, err = f.conn.ReadLabel(ctx, ref("100", "1001"))
	require.NoError(t, err)
	require.Equal(t, mipGeneral, st.LabelID)

	// Unmapped classifications are addressed by key.
	require.NoError(t, f.conn.ApplyLabel(ctx, ref("100", "1001"), "Highly Confidential", connectors.ApplyOptions{}))
	require.Equal(t, "Highly Confidential", f.emu.Classification("1001"))

	err = f.conn.ApplyLabel(ctx, ref("100", "1001"), "No Such Label", connectors.ApplyOptions{})
	require.Equal(t, connectors.KindInvalid, connectors.KindOf(err))

	require.NoError(t, f.conn.RemoveLabel(ctx, ref("100", "1001"), connectors.ApplyOptions{}))
	require.Empty(t, f.emu.Classification("1001"))
	require.Equal(t, 3, f.emu.LabelWrites("1001"))
	require.NoError(t, f.conn.RemoveLabel(ctx, ref("100", "1001"), connectors.ApplyOptions{}), "removing twice is fine")
	require.Equal(t, 3, f.emu.LabelWrites("1001"))
	err = f.conn.RemoveLabel(ctx, ref("100", "424242"), connectors.ApplyOptions{})
	require.Equal(t, connectors.KindNotFound, connectors.KindOf(err))
}

func TestEmbeddedModeRefusesNativeWrites(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *box.Config) { c.LabelMode = box.LabelEmbedded })
	require.Equal(t, box.LabelEmbedded, f.conn.LabelMode())
	err := f.conn.ApplyLabel(context.Background(), ref("100", "1003"), mipGeneral, connectors.ApplyOptions{})
	require.ErrorIs(t, err, connectors.ErrUnsupported)
	require.Zero(t, f.emu.LabelWrites("1003"))
	_, err = box.New(box.Config{EnterpriseID: "E", LabelMode: "sideways"})
	require.Error(t, err)
}

func TestUpload(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	before, err := f.conn.Stat(ctx, ref("100", "1001"))
	require.NoError(t, err)
	sample, err := os.ReadFile(filepath.Join("..", "..", "testdata", "box", "LabeledGeneral.docx"))
	require.NoError(t, err)
	changed := append(slices.Clone(sample), []byte("appended")...)

	require.NoError(t, f.conn.Upload(ctx, ref("100", "1001"), bytes.NewReader(changed), int64(len(changed))))
	content, versions := f.emu.Content("1001")
	require.Equal(t, changed, content)
	require.Equal(t, 2, versions)
	after, err := f.conn.Stat(ctx, ref("100", "1001"))
	require.NoError(t, err)
	require.NotEqual(t, before.ETag, after.ETag)
	require.Equal(t, "budget.docx", after.Name)

	err = f.conn.Upload(ctx, ref("100", "424242"), bytes.NewReader([]byte("x")), 1)
	require.Equal(t, connectors.KindNotFound, connectors.KindOf(err))
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	_, err := box.New(box.Config{})
	require.Error(t, err)
	c, err := box.New(box.Config{EnterpriseID: "E9"})
	require.NoError(t, err)
	require.Equal(t, connectors.AppBox, c.App())
	require.Equal(t, "E9", c.Tenant())
	require.Equal(t, 24*time.Hour, c.RenewBefore())
}
