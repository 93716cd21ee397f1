package graph_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/graph"
	"github.com/labelgate/labelgate/connectors/graph/emulator"
	"github.com/labelgate/labelgate/connectors/provmetrics"
)

// Tests of the delta walk with Prefer: hierarchicalsharing and of the download URLs it keeps
// for the scans that follow (issue 21).

const hierDrive = "b!hr-documents"

// counter counts what the connector sends, by kind, and whether delta answers said
// Preference-Applied.
type counter struct {
	base                          http.RoundTripper
	perms, delta, items, download atomic.Int64
	mu                            sync.Mutex
	applied                       []string
}

func (c *counter) RoundTrip(req *http.Request) (*http.Response, error) {
	p := req.URL.Path
	switch {
	case strings.HasPrefix(p, "/_download/"):
		c.download.Add(1)
	case strings.HasSuffix(p, "/permissions"):
		c.perms.Add(1)
	case strings.Contains(p, "/delta"):
		c.delta.Add(1)
	case strings.Contains(p, "/items/"):
		c.items.Add(1)
	}
	resp, err := c.base.RoundTrip(req)
	if err == nil && strings.Contains(p, "/delta") {
		c.mu.Lock()
		c.applied = append(c.applied, resp.Header.Get("Preference-Applied"))
		c.mu.Unlock()
	}
	return resp, err
}

// hierEnv is an emulator with a tree of permission hierarchies and a SharePoint connector
// whose requests are counted.
type hierEnv struct {
	*env
	cnt *counter
	ids map[string]string // path → item id
	now *atomic.Int64     // the connector's clock, unix nanoseconds
}

// hierSetup seeds, in the library b!hr-documents:
//
//	/r1.docx, /r2.xlsx                  at the root: private
//	/Shared/ (external grant)           a.docx, b.xlsx, notes.txt, Sub/c.pptx, Sub/Deeper/d.pdf inherit it
//	/Shared/Sub/Private/ (unique)       e.docx: private again
//	/Private/f.docx                     private
//	/Private/link.docx                  its own anonymous link
//	/Org/ (organization link)           g.docx
//
// fullControl grants the app Sites.FullControl.All besides the README's roles.
func hierSetup(t *testing.T, page int, fullControl bool) *hierEnv {
	t.Helper()
	roles := emulator.DefaultRoles()
	if fullControl {
		roles = append(roles, emulator.RoleSitesFullControl)
	}
	cnt := &counter{base: http.DefaultTransport}
	now := &atomic.Int64{}
	now.Store(time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC).UnixNano())
	rec := provmetrics.New(nil)
	e := setup(t, emulator.Options{PageSize: page, ClientID: "app", ClientSecret: "pw", Roles: roles}, func(c *graph.Config) {
		c.HTTPClient = rec.Client("sharepoint", &http.Client{Transport: cnt, Timeout: 30 * time.Second}, nil)
		c.Now = func() time.Time { return time.Unix(0, now.Load()) }
	})
	seed := []struct {
		path   string
		shares []emulator.Share
	}{
		{"/r1.docx", nil}, {"/r2.xlsx", nil},
		{"/Shared/a.docx", nil}, {"/Shared/b.xlsx", nil}, {"/Shared/notes.txt", nil},
		{"/Shared/Sub/c.pptx", nil}, {"/Shared/Sub/Deeper/d.pdf", nil}, {"/Shared/Sub/Private/e.docx", nil},
		{"/Private/f.docx", nil}, {"/Private/link.docx", []emulator.Share{{Link: "anonymous"}}},
		{"/Org/g.docx", nil},
	}
	var files []emulator.SeedFile
	for _, s := range seed {
		i := strings.LastIndex(s.path, "/")
		files = append(files, emulator.SeedFile{Drive: hierDrive, Folder: s.path[:i], Name: s.path[i+1:],
			Content: emulator.Generate(s.path, 700), Shares: s.shares})
	}
	got, err := e.emu.SeedFiles(files)
	require.NoError(t, err)
	ids := map[string]string{}
	for i, s := range seed {
		ids[s.path] = got[i]
	}
	for _, f := range []struct {
		path   string
		unique bool
		shares []emulator.Share
	}{
		{"/Shared", false, []emulator.Share{{Email: "lee@fabrikam.com", Guest: true}}},
		{"/Shared/Sub/Private", true, nil},
		{"/Org", false, []emulator.Share{{Link: "organization"}}},
	} {
		id, err := e.emu.ShareFolder(hierDrive, f.path, f.unique, f.shares...)
		require.NoError(t, err)
		ids[f.path] = id
	}
	return &hierEnv{env: e, cnt: cnt, ids: ids, now: now}
}

type seen struct {
	id      string
	access  connectors.AccessLevel
	domains string
}

func hierWalk(t *testing.T, h *hierEnv) map[string]seen {
	t.Helper()
	out := map[string]seen{}
	require.NoError(t, h.sp.Walk(context.Background(), hierDrive, "", func(f connectors.File, _ string) error {
		key := strings.TrimSuffix(f.Path, "/") + "/" + f.Name
		require.NotContains(t, out, key, "reported twice")
		out[key] = seen{f.Ref.ItemID, f.Access, strings.Join(f.Domains, ",")}
		return nil
	}))
	return out
}

// TestHierarchicalWalkMatchesPerFilePermissions: with Sites.FullControl.All the service
// applies hierarchical sharing and the walk reads permissions once per shared hierarchy root
// with labelable files below it; without the role no Preference-Applied comes back and every
// labelable file's permissions are read. Both give every file the same access.
func TestHierarchicalWalkMatchesPerFilePermissions(t *testing.T) {
	t.Parallel()
	hier := hierSetup(t, 4, true)
	flat := hierSetup(t, 4, false)
	got := hierWalk(t, hier)
	want := hierWalk(t, flat)

	ext := seen{access: connectors.AccessExternal, domains: "fabrikam.com"}
	expect := map[string]seen{
		"/r1.docx": {access: connectors.AccessPrivate}, "/r2.xlsx": {access: connectors.AccessPrivate},
		"/Shared/a.docx": ext, "/Shared/b.xlsx": ext, "/Shared/notes.txt": {},
		"/Shared/Sub/c.pptx": ext, "/Shared/Sub/Deeper/d.pdf": ext,
		"/Shared/Sub/Private/e.docx": {access: connectors.AccessPrivate},
		"/Private/f.docx":            {access: connectors.AccessPrivate},
		"/Private/link.docx":         {access: connectors.AccessPublic},
		"/Org/g.docx":                {access: connectors.AccessInternal},
	}
	strip := func(m map[string]seen) map[string]seen {
		out := map[string]seen{}
		for k, v := range m {
			v.id = ""
			out[k] = v
		}
		return out
	}
	require.Equal(t, expect, strip(want), "per-file permissions (fallback)")
	require.Equal(t, expect, strip(got), "hierarchical sharing")
	for k, v := range got {
		require.Equal(t, hier.ids[k], v.id, k)
	}

	// Hierarchy roots with labelable files below: /Shared, /Org and the linked file itself.
	require.EqualValues(t, 3, hier.cnt.perms.Load(), "permissions per shared hierarchy root, not per file")
	require.EqualValues(t, 10, flat.cnt.perms.Load(), "one permissions read per labelable file")
	require.Zero(t, hier.cnt.items.Load(), "parents came before their files: no item reads")
	require.Zero(t, flat.cnt.items.Load())
	require.GreaterOrEqual(t, hier.cnt.delta.Load(), int64(4), "paged (page size 4)")
	for _, v := range hier.cnt.applied {
		require.Equal(t, "hierarchicalsharing", v)
	}
	require.NotEmpty(t, flat.cnt.applied)
	for _, v := range flat.cnt.applied {
		require.Empty(t, v, "no Preference-Applied without Sites.FullControl.All")
	}

	// A file shared afterwards inside a shared folder breaks inheritance keeping the
	// folder's grants; the next walks agree again.
	for _, h := range []*hierEnv{hier, flat} {
		require.NoError(t, h.emu.AddShare(h.ids["/Shared/a.docx"], emulator.Share{Link: "anonymous"}))
		require.NoError(t, h.emu.SetUnique(h.ids["/Shared/b.xlsx"], true))
	}
	got, want = strip(hierWalk(t, hier)), strip(hierWalk(t, flat))
	require.Equal(t, want, got)
	require.Equal(t, seen{access: connectors.AccessPublic, domains: "fabrikam.com"}, got["/Shared/a.docx"])
	require.Equal(t, seen{access: connectors.AccessPrivate}, got["/Shared/b.xlsx"])
}

// TestHierarchicalWalkResumes: a walk stopped after any k files and resumed from the cursor
// it was handed reports the same files with the same paths and access, none twice; parents
// the resumed walk has not seen are read once each (GET item).
func TestHierarchicalWalkResumes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := hierSetup(t, 3, true)
	full := hierWalk(t, h)
	stop := errors.New("stop")
	reads := int64(0)
	for k := 1; k < len(full); k++ {
		got := map[string]seen{}
		cursor := ""
		n := 0
		err := h.sp.Walk(ctx, hierDrive, "", func(f connectors.File, next string) error {
			got[strings.TrimSuffix(f.Path, "/")+"/"+f.Name] = seen{f.Ref.ItemID, f.Access, strings.Join(f.Domains, ",")}
			cursor, n = next, n+1
			if n == k {
				return stop
			}
			return nil
		})
		require.ErrorIs(t, err, stop)
		before := h.cnt.items.Load()
		require.NoError(t, h.sp.Walk(ctx, hierDrive, cursor, func(f connectors.File, _ string) error {
			key := strings.TrimSuffix(f.Path, "/") + "/" + f.Name
			require.NotContains(t, got, key, "k=%d: %s reported again after the resume", k, key)
			got[key] = seen{f.Ref.ItemID, f.Access, strings.Join(f.Domains, ",")}
			return nil
		}))
		require.Equal(t, full, got, "k=%d", k)
		r := h.cnt.items.Load() - before
		require.LessOrEqual(t, r, int64(7), "k=%d: at most one read per folder (7 with the root)", k)
		reads += r
	}
	require.Positive(t, reads, "resumed walks met parents listed on earlier pages and read them")

	// The cursor of the former walk by children decodes and starts the drive over.
	old := `{"q":["root","01EMU00000000001"],"n":"","s":2}`
	got := map[string]seen{}
	require.NoError(t, h.sp.Walk(ctx, hierDrive, b64(old), func(f connectors.File, _ string) error {
		got[strings.TrimSuffix(f.Path, "/")+"/"+f.Name] = seen{f.Ref.ItemID, f.Access, strings.Join(f.Domains, ",")}
		return nil
	}))
	require.Equal(t, full, got)
	err := h.sp.Walk(ctx, hierDrive, "not a cursor!", func(connectors.File, string) error { return nil })
	require.Equal(t, connectors.KindInvalid, connectors.KindOf(err), "%v", err)

	// A saved page link that expired (410) starts the drive over too: every file comes again.
	var cursor string
	n := 0
	require.ErrorIs(t, h.sp.Walk(ctx, hierDrive, "", func(_ connectors.File, next string) error {
		if cursor, n = next, n+1; n == len(full)-1 {
			return stop
		}
		return nil
	}), stop)
	h.emu.ExpireDeltaTokens()
	got = map[string]seen{}
	require.NoError(t, h.sp.Walk(ctx, hierDrive, cursor, func(f connectors.File, _ string) error {
		got[strings.TrimSuffix(f.Path, "/")+"/"+f.Name] = seen{f.Ref.ItemID, f.Access, strings.Join(f.Domains, ",")}
		return nil
	}))
	require.Equal(t, full, got)
}

// TestOpenFileUsesTheWalksDownloadURL: after a walk, opening a file from its facts makes no
// Graph metadata call; a refused URL is replaced once; a stale one is not used; the cache
// stays within its bound.
func TestOpenFileUsesTheWalksDownloadURL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := hierSetup(t, 100, true)
	facts := map[string]connectors.File{}
	require.NoError(t, h.sp.Walk(ctx, hierDrive, "", func(f connectors.File, _ string) error {
		facts[strings.TrimSuffix(f.Path, "/")+"/"+f.Name] = f
		return nil
	}))
	read := func(f connectors.File) (int64, []byte) {
		tctx, tally := provmetrics.Track(ctx)
		obj, err := h.sp.OpenFile(tctx, f)
		require.NoError(t, err)
		buf := make([]byte, 100)
		n, err := obj.ReadAt(buf, 50)
		require.NoError(t, err)
		require.NoError(t, obj.Close())
		return tally.Metadata(), buf[:n]
	}
	a := facts["/Shared/a.docx"]
	calls, got := read(a)
	require.Zero(t, calls, "the walk's download URL: no metadata call")
	require.Equal(t, emulator.Generate("/Shared/a.docx", 700)[50:150], got)

	// Refused (expired) URLs: one fresh $select, then the read succeeds.
	h.emu.ExpireDownloadURLs()
	calls, got = read(facts["/Shared/b.xlsx"])
	require.EqualValues(t, 1, calls, "one $select after the refused URL")
	require.Equal(t, emulator.Generate("/Shared/b.xlsx", 700)[50:150], got)

	// Past the cache's age the URL is not used: OpenFile makes its one call.
	h.now.Add(int64(16 * time.Minute))
	calls, _ = read(facts["/Org/g.docx"])
	require.EqualValues(t, 1, calls)

	// A bounded cache: the oldest URLs make way, and their files open with one call.
	graph.SetDownloadURLCacheSize(h.sp, 3)
	require.NoError(t, h.sp.Walk(ctx, hierDrive, "", func(f connectors.File, _ string) error {
		facts[strings.TrimSuffix(f.Path, "/")+"/"+f.Name] = f
		return nil
	}))
	require.Equal(t, 3, graph.DownloadURLsCached(h.sp))
	calls, _ = read(facts["/r1.docx"]) // among the first listed, so dropped
	require.EqualValues(t, 1, calls)
	require.LessOrEqual(t, graph.DownloadURLsCached(h.sp), 3)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// ctxRecorder keeps the context of every request the connector sends.
type ctxRecorder struct {
	mu   sync.Mutex
	ctxs []context.Context
}

func (r *ctxRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.ctxs = append(r.ctxs, req.Context())
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// TestCallsEndTheirContexts: every SDK call's context ends when the call returns. kiota
// gives a context without a deadline a timeout of its own and drops the cancel function, so
// before the connector set the deadline itself each call's context and timer lived on for
// the client's timeout, 60 MB of heap in a 300,000-file rescan (issue 21).
func TestCallsEndTheirContexts(t *testing.T) {
	t.Parallel()
	rec := &ctxRecorder{}
	h := setup(t, emulator.Options{PageSize: 2, ClientID: "app", ClientSecret: "pw",
		Roles: append(emulator.DefaultRoles(), emulator.RoleSitesFullControl)}, func(c *graph.Config) {
		c.HTTPClient = &http.Client{Transport: rec, Timeout: time.Hour}
	})
	var files []emulator.SeedFile
	for i := range 6 {
		files = append(files, emulator.SeedFile{Drive: hierDrive, Folder: "/f", Name: string(rune('a'+i)) + ".docx",
			Content: emulator.Generate("x", 700), Shares: []emulator.Share{{Link: "anonymous"}}})
	}
	_, err := h.emu.SeedFiles(files)
	require.NoError(t, err)
	var refs []connectors.FileRef
	require.NoError(t, h.sp.Walk(context.Background(), hierDrive, "", func(f connectors.File, _ string) error {
		refs = append(refs, f.Ref)
		return nil
	}))
	require.Len(t, refs, 6)
	_, err = h.sp.Stat(context.Background(), refs[0])
	require.NoError(t, err)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Greater(t, len(rec.ctxs), 6, "delta pages, permission reads and a stat were sent")
	for i, ctx := range rec.ctxs {
		_, ok := ctx.Deadline()
		require.True(t, ok, "request %d has a deadline", i)
		require.Error(t, ctx.Err(), "request %d: its context ended with the call", i)
	}
}
