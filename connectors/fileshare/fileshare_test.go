package fileshare_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/fileshare"
	"github.com/labelgate/labelgate/labeling"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

type env struct {
	t     *testing.T
	dir   string
	conn  *fileshare.Conn
	drive string
	clock *clock
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func setup(t *testing.T, opts ...func(*fileshare.Config)) *env {
	t.Helper()
	dir := t.TempDir()
	clk := &clock{now: time.Now()}
	cfg := fileshare.Config{Roots: []string{dir}, Clock: clk.Now, Coalesce: 20 * time.Millisecond,
		SkipError: func(rel string, err error) { t.Logf("skipped %s: %v", rel, err) }}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := fileshare.New(cfg)
	require.NoError(t, err)
	ds, err := c.Drives(t.Context())
	require.NoError(t, err)
	require.Len(t, ds, 1)
	return &env{t: t, dir: dir, conn: c, drive: ds[0].ID, clock: clk}
}

func (e *env) write(rel string, data []byte) string {
	e.t.Helper()
	p := filepath.Join(e.dir, filepath.FromSlash(rel))
	require.NoError(e.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(e.t, os.WriteFile(p, data, 0o644))
	return p
}

func (e *env) walk(cursor string) (files []connectors.File, cursors []string) {
	e.t.Helper()
	require.NoError(e.t, e.conn.Walk(e.t.Context(), e.drive, cursor, func(f connectors.File, c string) error {
		files = append(files, f)
		cursors = append(cursors, c)
		return nil
	}))
	return files, cursors
}

func (e *env) ref(item string) connectors.FileRef { return e.conn.Ref(e.drive, item) }

func ids(fs []connectors.File) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		s := f.Ref.ItemID
		if f.Deleted {
			s = "-" + s
		}
		out = append(out, s)
	}
	return out
}

func (e *env) readLabel(item string) labeling.Result {
	e.t.Helper()
	obj, err := e.conn.Open(e.t.Context(), e.ref(item))
	require.NoError(e.t, err)
	defer obj.Close()
	res, err := labeling.Read(e.t.Context(), obj, obj.Size(), item)
	require.NoError(e.t, err)
	return res
}

func TestDrivesAreStableAcrossConfigurations(t *testing.T) {
	t.Parallel()
	a, b := t.TempDir(), t.TempDir()
	c1, err := fileshare.New(fileshare.Config{Roots: []string{a, b}})
	require.NoError(t, err)
	c2, err := fileshare.New(fileshare.Config{Roots: []string{b + "/", a + "/./"}, Tenant: "contoso"})
	require.NoError(t, err)
	d1, err := c1.Drives(t.Context())
	require.NoError(t, err)
	d2, err := c2.Drives(t.Context())
	require.NoError(t, err)
	require.Equal(t, d1[0].ID, d2[1].ID)
	require.Equal(t, d1[1].ID, d2[0].ID)
	require.NotEqual(t, d1[0].ID, d1[1].ID)
	require.Equal(t, "local", d1[0].Tenant)
	require.Equal(t, "contoso", d2[0].Tenant)
	require.Equal(t, a, d1[0].Name)
	require.Equal(t, connectors.AppFileShare, c1.App())

	_, err = fileshare.New(fileshare.Config{Roots: []string{filepath.Join(a, "missing")}})
	require.Error(t, err)
	_, err = fileshare.New(fileshare.Config{Roots: []string{a}, Exclude: []string{"[bad"}})
	require.Error(t, err)
}

// Every label variant of the label engine's corpus is found through Walk and Open, in nested
// folders.
func TestWalkDiscoversEveryLabelVariant(t *testing.T) {
	t.Parallel()
	e := setup(t)
	corpus := labeltest.Corpus()
	want := map[string]labeltest.Case{}
	for i, c := range corpus {
		rel := []string{"", "Finance/", "Finance/2024/", "HR/"}[i%4] + c.Name
		e.write(rel, c.Data)
		want[rel] = c
	}
	sample, err := os.ReadFile("../../testdata/labels/samples/LabeledGeneral.docx")
	require.NoError(t, err)
	e.write("Legal/LabeledGeneral.docx", sample)

	files, _ := e.walk("")
	require.Len(t, files, len(corpus)+1)
	for _, f := range files {
		rel := f.Ref.ItemID
		wantPath := "/" + filepath.ToSlash(filepath.Dir(rel))
		if wantPath == "/." {
			wantPath = "/"
		}
		require.Equal(t, wantPath, f.Path, rel)
		require.Equal(t, filepath.Base(rel), f.Name)
		obj, err := e.conn.Open(t.Context(), f.Ref)
		require.NoError(t, err)
		require.Equal(t, f.Size, obj.Size())
		res, err := labeling.Read(t.Context(), obj, obj.Size(), f.Name)
		require.NoError(t, obj.Close())
		if rel == "Legal/LabeledGeneral.docx" {
			require.NoError(t, err)
			require.NotNil(t, res.Label)
			require.Equal(t, "f42aa342-8706-4288-bd11-ebb85995028c", res.Label.ID)
			require.Equal(t, "72f988bf-86f1-41af-91ab-2d7cd011db47", res.Label.Tenant)
			continue
		}
		c, ok := want[rel]
		require.True(t, ok, rel)
		if c.WantErr {
			require.ErrorIs(t, err, labeling.ErrMalformed, rel)
			continue
		}
		require.NoError(t, err, rel)
		require.Equal(t, c.WantProtected, res.ProtectionKind, rel)
		if c.WantLabel == "" {
			require.Nil(t, res.Label, rel)
			continue
		}
		require.NotNil(t, res.Label, rel)
		require.Equal(t, c.WantLabel, res.Label.ID, rel)
		if c.WantTenant != "" {
			require.Equal(t, c.WantTenant, res.Label.Tenant, rel)
		}
	}
}

func TestFileFacts(t *testing.T) {
	t.Parallel()
	e := setup(t)
	p := e.write("Team/Plans/plan.docx", []byte("0123456789"))
	mtime := time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)
	require.NoError(t, os.Chtimes(p, mtime, mtime))

	f, err := e.conn.Stat(t.Context(), e.ref("Team/Plans/plan.docx"))
	require.NoError(t, err)
	require.Equal(t, connectors.FileRef{App: connectors.AppFileShare, Tenant: "local", Drive: e.drive, ItemID: "Team/Plans/plan.docx"}, f.Ref)
	require.Equal(t, "/Team/Plans", f.Path)
	require.Equal(t, "plan.docx", f.Name)
	require.EqualValues(t, 10, f.Size)
	require.Equal(t, mtime, f.Modified)
	require.False(t, f.Created.IsZero())
	require.NotEmpty(t, f.Owner)
	require.Len(t, f.Groups, 1)
	require.NotEmpty(t, f.ETag)

	e.write("top.pdf", []byte("x"))
	g, err := e.conn.Stat(t.Context(), e.ref("top.pdf"))
	require.NoError(t, err)
	require.Equal(t, "/", g.Path)

	// The etag follows the content: a rewrite of the same size with the same time still moves
	// to a new inode.
	etag := f.ETag
	require.NoError(t, os.WriteFile(p+".new", []byte("abcdefghij"), 0o644))
	require.NoError(t, os.Chtimes(p+".new", mtime, mtime))
	require.NoError(t, os.Rename(p+".new", p))
	f, err = e.conn.Stat(t.Context(), e.ref("Team/Plans/plan.docx"))
	require.NoError(t, err)
	require.NotEqual(t, etag, f.ETag)

	obj, err := e.conn.Open(t.Context(), e.ref("Team/Plans/plan.docx"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = obj.ReadAt(buf, 3)
	require.NoError(t, err)
	require.Equal(t, "defg", string(buf))
	require.NoError(t, obj.Close())

	_, err = e.conn.Stat(t.Context(), e.ref("missing.docx"))
	require.Equal(t, connectors.KindNotFound, connectors.KindOf(err))
	_, err = e.conn.Open(t.Context(), e.ref("../escape.docx"))
	require.Equal(t, connectors.KindInvalid, connectors.KindOf(err))
	_, err = e.conn.Stat(t.Context(), e.ref("Team"))
	require.Equal(t, connectors.KindNotFound, connectors.KindOf(err))
	_, err = e.conn.Stat(t.Context(), e.conn.Ref("fs-unknown", "top.pdf"))
	require.Equal(t, connectors.KindNotFound, connectors.KindOf(err))
}

// World-readable files are visible to everyone on the share ("internal"); others are private.
func TestAccessLevelFromModeBits(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for name, mode := range map[string]os.FileMode{"world.docx": 0o644, "group.docx": 0o640, "owner.docx": 0o600, "all.docx": 0o666} {
		p := e.write(name, []byte("x"))
		require.NoError(t, os.Chmod(p, mode))
	}
	files, _ := e.walk("")
	got := map[string]connectors.AccessLevel{}
	for _, f := range files {
		got[f.Name] = f.Access
	}
	require.Equal(t, map[string]connectors.AccessLevel{
		"world.docx": connectors.AccessInternal, "all.docx": connectors.AccessInternal,
		"group.docx": connectors.AccessPrivate, "owner.docx": connectors.AccessPrivate,
	}, got)
}

func TestWalkOrderAndResume(t *testing.T) {
	t.Parallel()
	e := setup(t)
	for _, rel := range []string{"b.txt", "a.txt", "a/z.txt", "a/c/d.txt", "a-b.txt", "a/b.txt", "c/e/f/g.txt", "c/e.txt", "A.txt"} {
		e.write(rel, []byte(rel))
	}
	files, cursors := e.walk("")
	// filepath.WalkDir's order: a folder's contents right where its name sorts.
	want := []string{"A.txt", "a/b.txt", "a/c/d.txt", "a/z.txt", "a-b.txt", "a.txt", "b.txt", "c/e/f/g.txt", "c/e.txt"}
	require.Equal(t, want, ids(files))
	require.Equal(t, want, cursors)
	for i, c := range cursors {
		rest, _ := e.walk(c)
		require.Equal(t, want[i+1:], ids(rest), "resume after %s", c)
	}
	// A cursor naming a file deleted since still resumes at the right place.
	rest, _ := e.walk("a/c/x.txt")
	require.Equal(t, want[3:], ids(rest))
	rest, _ = e.walk("a/c")
	require.Equal(t, want[2:], ids(rest))

	// Stopping the walk from fn returns fn's error.
	stop := errors.New("stop")
	n := 0
	err := e.conn.Walk(t.Context(), e.drive, "", func(connectors.File, string) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	require.Equal(t, 3, n)
}

func TestIncludeExclude(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *fileshare.Config) {
		c.Include = []string{"*.docx", "*.pdf"}
		c.Exclude = []string{"Archive", "~$*", "Drafts/*"}
	})
	for _, rel := range []string{"a.docx", "b.txt", "Archive/old.docx", "Team/Archive/old.pdf", "~$a.docx", "Team/~$b.docx", "Drafts/x.docx", "Team/c.pdf"} {
		e.write(rel, []byte("x"))
	}
	files, _ := e.walk("")
	require.Equal(t, []string{"Team/c.pdf", "a.docx"}, ids(files))
	_, err := e.conn.Stat(t.Context(), e.ref("Archive/old.docx"))
	require.Equal(t, connectors.KindNotFound, connectors.KindOf(err))
}

func TestSymlinksStayInsideTheShare(t *testing.T) {
	t.Parallel()
	e := setup(t)
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret.docx"), []byte("s"), 0o644))
	e.write("docs/real.docx", []byte("real"))
	// Relative links that stay inside are followed; absolute links (even to inside: os.Root
	// cannot tell where they lead without trusting a path string) and links leading out are
	// refused with a permission error.
	require.NoError(t, os.Symlink("docs/real.docx", filepath.Join(e.dir, "inside.docx")))
	require.NoError(t, os.Symlink(filepath.Join(e.dir, "docs", "real.docx"), filepath.Join(e.dir, "absolute.docx")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret.docx"), filepath.Join(e.dir, "outside.docx")))
	require.NoError(t, os.Symlink("../"+filepath.Base(outside)+"/secret.docx", filepath.Join(e.dir, "dotdot.docx")))
	require.NoError(t, os.Symlink(outside, filepath.Join(e.dir, "outdir")))
	require.NoError(t, os.Symlink("docs", filepath.Join(e.dir, "loop")))
	require.NoError(t, os.Symlink("nowhere", filepath.Join(e.dir, "dangling.docx")))

	files, _ := e.walk("")
	require.Equal(t, []string{"docs/real.docx", "inside.docx"}, ids(files))
	require.EqualValues(t, 4, files[1].Size)

	for _, item := range []string{"outside.docx", "dotdot.docx", "absolute.docx", "outdir/secret.docx"} {
		_, err := e.conn.Open(t.Context(), e.ref(item))
		require.Equal(t, connectors.KindPermission, connectors.KindOf(err), item)
		_, err = e.conn.Stat(t.Context(), e.ref(item))
		require.Equal(t, connectors.KindPermission, connectors.KindOf(err), item)
		err = e.conn.Upload(t.Context(), e.ref(item), strings.NewReader("x"), 1)
		require.Error(t, err, item)
	}
	got, err := os.ReadFile(filepath.Join(outside, "secret.docx"))
	require.NoError(t, err)
	require.Equal(t, "s", string(got))
	// A label is never written through a link, even one inside: its target is labelled
	// under its own path.
	err = e.conn.Upload(t.Context(), e.ref("inside.docx"), strings.NewReader("x"), 1)
	require.Equal(t, connectors.KindInvalid, connectors.KindOf(err))
}

func TestChangesFromCursor(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.write("keep.docx", []byte("keep"))
	e.write("edit.docx", []byte("v1"))
	e.write("old/name.docx", []byte("moving"))
	e.write("gone.docx", []byte("bye"))

	changes := func(cursor string) ([]connectors.File, string) {
		t.Helper()
		var got []connectors.File
		next, err := e.conn.Changes(t.Context(), e.drive, cursor, func(f connectors.File) error {
			got = append(got, f)
			return nil
		})
		require.NoError(t, err)
		require.NotEmpty(t, next)
		return got, next
	}
	got, cur := changes("")
	require.Empty(t, got, "a new cursor reports nothing")

	e.write("new/created.docx", []byte("hello"))
	e.write("edit.docx", []byte("v2 longer"))
	require.NoError(t, os.MkdirAll(filepath.Join(e.dir, "new2"), 0o755))
	require.NoError(t, os.Rename(filepath.Join(e.dir, "old", "name.docx"), filepath.Join(e.dir, "new2", "renamed.docx")))
	require.NoError(t, os.Remove(filepath.Join(e.dir, "gone.docx")))
	require.NoError(t, os.Chmod(filepath.Join(e.dir, "keep.docx"), 0o600))

	got, cur2 := changes(cur)
	require.Equal(t, []string{"-gone.docx", "-old/name.docx", "edit.docx", "keep.docx", "new/created.docx", "new2/renamed.docx"}, ids(got))
	byID := map[string]connectors.File{}
	for _, f := range got {
		byID[f.Ref.ItemID] = f
	}
	require.EqualValues(t, 9, byID["edit.docx"].Size)
	require.Equal(t, connectors.AccessPrivate, byID["keep.docx"].Access)
	require.Equal(t, "/old", byID["old/name.docx"].Path)
	require.Equal(t, "name.docx", byID["old/name.docx"].Name)

	got, _ = changes(cur2)
	require.Empty(t, got, "nothing changed since the last cursor")

	// The previous cursor still works (its caller may have failed to store the new one).
	got, _ = changes(cur)
	require.Len(t, got, 6)

	// A cursor of another drive or one never issued asks for a full resync.
	_, err := e.conn.Changes(t.Context(), e.drive, "fs1.fs-0000000000000000.0000000000000001", func(connectors.File) error { return nil })
	require.ErrorIs(t, err, connectors.ErrCursorExpired)
	_, err = e.conn.Changes(t.Context(), e.drive, "garbage", func(connectors.File) error { return nil })
	require.ErrorIs(t, err, connectors.ErrCursorExpired)
	_, err = e.conn.Changes(t.Context(), e.drive, strings.TrimSuffix(cur2, "1")+"0", func(connectors.File) error { return nil })
	require.ErrorIs(t, err, connectors.ErrCursorExpired)
}

// A failing consumer gets its old cursor back and sees the same changes again.
func TestChangesKeepsCursorWhenConsumerFails(t *testing.T) {
	t.Parallel()
	e := setup(t)
	cur, err := e.conn.Changes(t.Context(), e.drive, "", func(connectors.File) error { return nil })
	require.NoError(t, err)
	e.write("a.docx", []byte("a"))
	boom := errors.New("queue down")
	back, err := e.conn.Changes(t.Context(), e.drive, cur, func(connectors.File) error { return boom })
	require.ErrorIs(t, err, boom)
	require.Equal(t, cur, back)
	var got []connectors.File
	_, err = e.conn.Changes(t.Context(), e.drive, cur, func(f connectors.File) error { got = append(got, f); return nil })
	require.NoError(t, err)
	require.Equal(t, []string{"a.docx"}, ids(got))
}

// With a state folder, cursors survive a restart: changes made while labelgate was down are
// found by the next Changes call.
func TestChangesAcrossRestartWithStateDir(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	e := setup(t, func(c *fileshare.Config) { c.StateDir = state })
	e.write("a.docx", []byte("a"))
	cur, err := e.conn.Changes(t.Context(), e.drive, "", func(connectors.File) error { return nil })
	require.NoError(t, err)

	e.write("b.docx", []byte("b"))
	require.NoError(t, os.Remove(filepath.Join(e.dir, "a.docx")))
	restarted, err := fileshare.New(fileshare.Config{Roots: []string{e.dir}, StateDir: state})
	require.NoError(t, err)
	var got []connectors.File
	_, err = restarted.Changes(t.Context(), e.drive, cur, func(f connectors.File) error { got = append(got, f); return nil })
	require.NoError(t, err)
	require.Equal(t, []string{"-a.docx", "b.docx"}, ids(got))

	// Without a state folder the snapshot is gone with the process.
	memOnly, err := fileshare.New(fileshare.Config{Roots: []string{e.dir}})
	require.NoError(t, err)
	_, err = memOnly.Changes(t.Context(), e.drive, cur, func(connectors.File) error { return nil })
	require.ErrorIs(t, err, connectors.ErrCursorExpired)
}

// collector gathers what Watch reports.
type collector struct {
	mu    sync.Mutex
	files []connectors.File
}

func (c *collector) add(f connectors.File) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.files = append(c.files, f)
}

// has reports whether the item (prefixed "-" for a deletion) was reported.
func (c *collector) has(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Contains(ids(c.files), id)
}

func (c *collector) count(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range ids(c.files) {
		if s == id {
			n++
		}
	}
	return n
}

func (e *env) watch() *collector {
	e.t.Helper()
	col := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.conn.Watch(ctx, e.drive, col.add) }()
	e.t.Cleanup(func() {
		cancel()
		require.NoError(e.t, <-done)
	})
	return col
}

const waitFor, tick = 5 * time.Second, 10 * time.Millisecond

func TestWatchReportsChangesAsTheyHappen(t *testing.T) {
	t.Parallel()
	e := setup(t)
	e.write("edit.docx", []byte("v1"))
	e.write("old/name.docx", []byte("moving"))
	e.write("gone.docx", []byte("bye"))
	col := e.watch()
	// Watch is ready once it reports a file written after it started.
	require.Eventually(t, func() bool {
		e.write("probe.docx", []byte(time.Now().String()))
		return col.has("probe.docx")
	}, waitFor, 50*time.Millisecond)

	e.write("created.docx", []byte("new"))
	require.Eventually(t, func() bool { return col.has("created.docx") }, waitFor, tick)

	e.write("edit.docx", []byte("v2, longer"))
	require.Eventually(t, func() bool { return col.has("edit.docx") }, waitFor, tick)

	require.NoError(t, os.Rename(filepath.Join(e.dir, "old", "name.docx"), filepath.Join(e.dir, "renamed.docx")))
	require.Eventually(t, func() bool { return col.has("-old/name.docx") && col.has("renamed.docx") }, waitFor, tick)

	require.NoError(t, os.Remove(filepath.Join(e.dir, "gone.docx")))
	require.Eventually(t, func() bool { return col.has("-gone.docx") }, waitFor, tick)

	// A folder made after the watch started is watched too, down to files created in it later.
	e.write("deep/er/first.docx", []byte("1"))
	require.Eventually(t, func() bool { return col.has("deep/er/first.docx") }, waitFor, tick)
	e.write("deep/er/second.docx", []byte("2"))
	require.Eventually(t, func() bool { return col.has("deep/er/second.docx") }, waitFor, tick)

	// Renaming a folder reports its files under the new path; they stay watched there.
	require.NoError(t, os.Rename(filepath.Join(e.dir, "deep"), filepath.Join(e.dir, "moved")))
	require.Eventually(t, func() bool {
		return col.has("-deep/er/first.docx") && col.has("moved/er/first.docx") && col.has("moved/er/second.docx")
	}, waitFor, tick)
	e.write("moved/er/third.docx", []byte("3"))
	require.Eventually(t, func() bool { return col.has("moved/er/third.docx") }, waitFor, tick)

	// One save is one report, and our own temporary files are never reported.
	require.Equal(t, 1, col.count("created.docx"))
	col.mu.Lock()
	for _, f := range col.files {
		require.NotContains(t, f.Name, ".labelgate-tmp-")
	}
	col.mu.Unlock()
}

// On a mount where notifications do not arrive, the periodic reconciliation finds the changes.
func TestWatchReconcilesWithoutNotifications(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *fileshare.Config) {
		c.PollOnly = true
		c.ReconcileInterval = 30 * time.Millisecond
	})
	e.write("before.docx", []byte("b"))
	col := e.watch()
	require.Eventually(t, func() bool {
		e.write("probe.docx", []byte(time.Now().String()))
		return col.has("probe.docx")
	}, waitFor, 50*time.Millisecond)
	e.write("unseen.docx", []byte("made behind the watcher's back"))
	require.NoError(t, os.Remove(filepath.Join(e.dir, "before.docx")))
	require.Eventually(t, func() bool { return col.has("unseen.docx") && col.has("-before.docx") }, waitFor, tick)
}

func TestUploadReplacesAtomically(t *testing.T) {
	t.Parallel()
	for _, preserve := range []bool{true, false} {
		t.Run(map[bool]string{true: "preserve-mtime", false: "stamp-mtime"}[preserve], func(t *testing.T) {
			t.Parallel()
			e := setup(t, func(c *fileshare.Config) { c.PreserveModTime = preserve })
			sample := labeltest.Docx(labeltest.Options{Text: []string{"plans"}})
			p := e.write("Team/plan.docx", sample)
			require.NoError(t, os.Chmod(p, 0o640))
			old := time.Date(2023, 5, 6, 7, 8, 9, 0, time.UTC)
			require.NoError(t, os.Chtimes(p, old, old))

			var labelled bytes.Buffer
			require.NoError(t, labeling.Apply(t.Context(), bytes.NewReader(sample), int64(len(sample)), "plan.docx",
				labeling.Label{ID: labeltest.LabelConfidential, Tenant: labeltest.TenantContoso, Method: "standard"}, &labelled))
			require.NoError(t, e.conn.Upload(t.Context(), e.ref("Team/plan.docx"), bytes.NewReader(labelled.Bytes()), int64(labelled.Len())))

			res := e.readLabel("Team/plan.docx")
			require.NotNil(t, res.Label)
			require.Equal(t, labeltest.LabelConfidential, res.Label.ID)
			info, err := os.Stat(p)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o640), info.Mode().Perm())
			if preserve {
				require.Equal(t, old, info.ModTime().UTC())
			} else {
				require.True(t, info.ModTime().After(old))
			}
			entries, err := os.ReadDir(filepath.Dir(p))
			require.NoError(t, err)
			require.Len(t, entries, 1, "no temporary file is left")
		})
	}
}

// A crash between writing the new version and renaming it over the original leaves the
// original intact; the temporary file is ignored, then cleaned once stale.
func TestUploadCrashBeforeRenameKeepsOriginal(t *testing.T) {
	t.Parallel()
	e := setup(t)
	sample, err := os.ReadFile("../../testdata/labels/samples/LabeledGeneral.docx")
	require.NoError(t, err)
	p := e.write("Legal/contract.docx", sample)

	var leftover string
	crash := errors.New("power cut")
	fileshare.SetBeforeRename(e.conn, func(tmp string) error {
		// The new version is complete on disk at this point; keep a copy where a dead process
		// would have left it, then stop.
		leftover = tmp + "-crashed"
		require.NoError(t, os.Link(tmp, leftover))
		return crash
	})
	newContent := bytes.Repeat([]byte("garbage"), 100)
	err = e.conn.Upload(t.Context(), e.ref("Legal/contract.docx"), bytes.NewReader(newContent), int64(len(newContent)))
	require.ErrorIs(t, err, crash)

	got, err := os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, sample, got, "the original is untouched")
	res := e.readLabel("Legal/contract.docx")
	require.NotNil(t, res.Label)
	require.Equal(t, "f42aa342-8706-4288-bd11-ebb85995028c", res.Label.ID)
	require.FileExists(t, leftover)
	require.True(t, strings.HasPrefix(filepath.Base(leftover), ".labelgate-tmp-"))

	// A fresh leftover may belong to an upload in flight elsewhere: ignored, kept.
	files, _ := e.walk("")
	require.Equal(t, []string{"Legal/contract.docx"}, ids(files))
	require.FileExists(t, leftover)
	_, err = e.conn.Stat(t.Context(), e.ref("Legal/"+filepath.Base(leftover)))
	require.Equal(t, connectors.KindInvalid, connectors.KindOf(err))

	// Once stale, the next walk removes it.
	e.clock.Add(time.Hour)
	files, _ = e.walk("")
	require.Equal(t, []string{"Legal/contract.docx"}, ids(files))
	require.NoFileExists(t, leftover)

	// A short upload is refused and leaves the original in place too.
	fileshare.SetBeforeRename(e.conn, nil)
	err = e.conn.Upload(t.Context(), e.ref("Legal/contract.docx"), bytes.NewReader([]byte("short")), 100)
	require.Equal(t, connectors.KindInvalid, connectors.KindOf(err))
	got, err = os.ReadFile(p)
	require.NoError(t, err)
	require.Equal(t, sample, got)
	entries, err := os.ReadDir(filepath.Dir(p))
	require.NoError(t, err)
	require.Len(t, entries, 1)
}

// Entries that cannot be read are reported to SkipError and the walk goes on; a root that is
// gone fails the walk.
func TestWalkSkipsUnreadableEntries(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var skipped []string
	e := setup(t, func(c *fileshare.Config) {
		c.SkipError = func(rel string, _ error) {
			mu.Lock()
			defer mu.Unlock()
			skipped = append(skipped, rel)
		}
	})
	e.write("ok.docx", []byte("x"))
	require.NoError(t, os.Symlink("nowhere", filepath.Join(e.dir, "dangling.docx")))
	files, _ := e.walk("")
	require.Equal(t, []string{"ok.docx"}, ids(files))
	require.Equal(t, []string{"dangling.docx"}, skipped)

	require.NoError(t, os.RemoveAll(e.dir))
	err := e.conn.Walk(t.Context(), e.drive, "", func(connectors.File, string) error { return nil })
	require.Equal(t, connectors.KindNotFound, connectors.KindOf(err))
}
