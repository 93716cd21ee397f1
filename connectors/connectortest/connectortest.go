// Package connectortest provides the conformance suite every connector runs against its emulator.
package connectortest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
)

// Control drives the emulator behind a connector, as a user or the provider would.
type Control interface {
	// Drive is the drive the suite writes its files into; Conn.Drives must list it.
	Drive() string
	// AddFile creates a file in folder ("/" separated, "/" = drive root; missing folders
	// are created) and returns its ref.
	AddFile(t testing.TB, drive, folder, name string, content []byte) connectors.FileRef
	// ModifyFile stores new content, which must change the file's ETag.
	ModifyFile(t testing.TB, ref connectors.FileRef, content []byte)
	// DeleteFile removes the file.
	DeleteFile(t testing.TB, ref connectors.FileRef)
	// ExpireCursors makes every change cursor handed out so far invalid.
	ExpireCursors(t testing.TB)
	// Throttle makes the next metadata API call answer 429 with a Retry-After of retryAfter
	// (whole seconds).
	Throttle(t testing.TB, retryAfter time.Duration)
}

// Fixture is one connector wired to a fresh emulator.
type Fixture struct {
	Conn    connectors.Connector
	Control Control
}

// Run runs the conformance suite. newFixture is called once per subtest, so each subtest
// has its own emulator and the subtests run in parallel. Emulators should page listings
// in small pages (a few items) so that paging and resumption are exercised.
func Run(t *testing.T, newFixture func(t *testing.T) Fixture) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, fx Fixture)
	}{
		{"Drives", testDrives},
		{"WalkListsFiles", testWalk},
		{"WalkResumes", testWalkResume},
		{"ChangesEstablishCursor", testChangesEstablish},
		{"ChangesSeeModifyAndDelete", testChangesModifyDelete},
		{"ChangesCursorExpired", testChangesExpired},
		{"StatMatchesWalk", testStat},
		{"OpenReadAt", testOpenReadAt},
		{"Throttled", testThrottled},
		{"LabelRoundTrip", testLabelRoundTrip},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newFixture(t))
		})
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// content is deterministic, position-dependent bytes so a misplaced range shows.
func content(seed, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed*2654435761 + 1)
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

// seed adds a small tree of files and returns them by item id.
func seed(t *testing.T, fx Fixture) map[string]connectors.FileRef {
	t.Helper()
	d := fx.Control.Drive()
	refs := map[string]connectors.FileRef{}
	for i, folder := range []string{"/suite", "/suite", "/suite/sub", "/suite/sub", "/", "/other"} {
		name := fmt.Sprintf("file-%d.docx", i)
		ref := fx.Control.AddFile(t, d, folder, name, content(i, 100+i))
		refs[ref.ItemID] = ref
	}
	return refs
}

func walkAll(t *testing.T, fx Fixture, cursor string) ([]connectors.File, []string) {
	t.Helper()
	var files []connectors.File
	var cursors []string
	err := fx.Conn.Walk(ctxFor(t), fx.Control.Drive(), cursor, func(f connectors.File, c string) error {
		files = append(files, f)
		cursors = append(cursors, c)
		return nil
	})
	require.NoError(t, err)
	return files, cursors
}

func testDrives(t *testing.T, fx Fixture) {
	drives, err := fx.Conn.Drives(ctxFor(t))
	require.NoError(t, err)
	require.NotEmpty(t, drives)
	found := false
	for _, d := range drives {
		require.NotEmpty(t, d.ID)
		require.Equal(t, fx.Conn.Tenant(), d.Tenant)
		found = found || d.ID == fx.Control.Drive()
	}
	require.True(t, found, "Drives does not list the fixture drive %q", fx.Control.Drive())
}

func testWalk(t *testing.T, fx Fixture) {
	refs := seed(t, fx)
	files, cursors := walkAll(t, fx, "")
	byID := map[string]connectors.File{}
	for i, f := range files {
		require.NotEmpty(t, cursors[i], "walk cursor for %s", f.Name)
		require.False(t, f.Folder, "Walk streams files only")
		_, dup := byID[f.Ref.ItemID]
		require.False(t, dup, "walk repeated %s", f.Name)
		byID[f.Ref.ItemID] = f
	}
	folders := []string{"/suite", "/suite", "/suite/sub", "/suite/sub", "/", "/other"}
	for id, ref := range refs {
		f, ok := byID[id]
		require.True(t, ok, "walk missed item %s", id)
		require.Equal(t, ref, f.Ref)
		var i int
		_, err := fmt.Sscanf(f.Name, "file-%d.docx", &i)
		require.NoError(t, err)
		require.Equal(t, folders[i], f.Path, "path of %s", f.Name)
		require.EqualValues(t, 100+i, f.Size)
		require.NotEmpty(t, f.ETag)
		require.False(t, f.Modified.IsZero())
		require.Equal(t, fx.Conn.App(), f.Ref.App)
		require.Equal(t, fx.Conn.Tenant(), f.Ref.Tenant)
	}
}

func testWalkResume(t *testing.T, fx Fixture) {
	seed(t, fx)
	full, _ := walkAll(t, fx, "")
	require.GreaterOrEqual(t, len(full), 6)
	for _, stopAfter := range []int{0, 2, len(full) / 2, len(full) - 2} {
		var head []connectors.File
		var cursor string
		stop := errors.New("stop")
		err := fx.Conn.Walk(ctxFor(t), fx.Control.Drive(), "", func(f connectors.File, c string) error {
			head = append(head, f)
			cursor = c
			if len(head) > stopAfter {
				return stop
			}
			return nil
		})
		require.ErrorIs(t, err, stop, "Walk must return fn's error")
		tail, _ := walkAll(t, fx, cursor)
		seen := map[string]bool{}
		for _, f := range append(head, tail...) {
			require.False(t, seen[f.Ref.ItemID], "resumed walk (after %d) repeated %s", stopAfter+1, f.Name)
			seen[f.Ref.ItemID] = true
		}
		for _, f := range full {
			require.True(t, seen[f.Ref.ItemID], "resumed walk (after %d) missed %s", stopAfter+1, f.Name)
		}
	}
}

func testChangesEstablish(t *testing.T, fx Fixture) {
	seed(t, fx)
	calls := 0
	cur, err := fx.Conn.Changes(ctxFor(t), fx.Control.Drive(), "", func(connectors.File) error { calls++; return nil })
	require.NoError(t, err)
	require.NotEmpty(t, cur)
	require.Zero(t, calls, "establishing a cursor reports no changes")
}

func changes(t *testing.T, fx Fixture, cur string) (map[string]connectors.File, string) {
	t.Helper()
	got := map[string]connectors.File{}
	next, err := fx.Conn.Changes(ctxFor(t), fx.Control.Drive(), cur, func(f connectors.File) error {
		got[f.Ref.ItemID] = f
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, next)
	return got, next
}

func testChangesModifyDelete(t *testing.T, fx Fixture) {
	d := fx.Control.Drive()
	ref := fx.Control.AddFile(t, d, "/changes", "a.docx", content(1, 50))
	keep := fx.Control.AddFile(t, d, "/changes", "b.docx", content(2, 50))
	_, cur := changes(t, fx, "")
	before, err := fx.Conn.Stat(ctxFor(t), ref)
	require.NoError(t, err)

	fx.Control.ModifyFile(t, ref, content(3, 70))
	got, cur := changes(t, fx, cur)
	f, ok := got[ref.ItemID]
	require.True(t, ok, "modified file not in changes")
	require.False(t, f.Deleted)
	require.EqualValues(t, 70, f.Size)
	require.NotEqual(t, before.ETag, f.ETag)
	require.Equal(t, "/changes", f.Path)
	require.NotContains(t, got, keep.ItemID, "unchanged file reported")

	fx.Control.DeleteFile(t, ref)
	got, cur = changes(t, fx, cur)
	f, ok = got[ref.ItemID]
	require.True(t, ok, "deleted file not in changes")
	require.True(t, f.Deleted)
	require.Equal(t, ref, f.Ref)

	got, _ = changes(t, fx, cur)
	require.NotContains(t, got, ref.ItemID, "change reported twice")
}

func testChangesExpired(t *testing.T, fx Fixture) {
	seed(t, fx)
	_, cur := changes(t, fx, "")
	fx.Control.ExpireCursors(t)
	_, err := fx.Conn.Changes(ctxFor(t), fx.Control.Drive(), cur, func(connectors.File) error { return nil })
	require.ErrorIs(t, err, connectors.ErrCursorExpired)
	_, cur = changes(t, fx, "")
	require.NotEmpty(t, cur, "a new cursor can be established after expiry")
}

func testStat(t *testing.T, fx Fixture) {
	refs := seed(t, fx)
	files, _ := walkAll(t, fx, "")
	for _, w := range files {
		if _, ok := refs[w.Ref.ItemID]; !ok {
			continue
		}
		s, err := fx.Conn.Stat(ctxFor(t), w.Ref)
		require.NoError(t, err)
		require.Equal(t, w.Ref, s.Ref)
		require.Equal(t, w.Name, s.Name)
		require.Equal(t, w.Path, s.Path)
		require.Equal(t, w.Size, s.Size)
		require.Equal(t, w.ETag, s.ETag)
	}
	missing := connectors.FileRef{App: fx.Conn.App(), Tenant: fx.Conn.Tenant(), Drive: fx.Control.Drive(), ItemID: "no-such-item"}
	_, err := fx.Conn.Stat(ctxFor(t), missing)
	require.Error(t, err)
	require.Equal(t, connectors.KindNotFound, connectors.KindOf(err), "missing file: %v", err)
}

func testOpenReadAt(t *testing.T, fx Fixture) {
	data := content(9, 10000)
	ref := fx.Control.AddFile(t, fx.Control.Drive(), "/read", "big.bin", data)
	obj, err := fx.Conn.Open(ctxFor(t), ref)
	require.NoError(t, err)
	defer obj.Close()
	require.EqualValues(t, len(data), obj.Size())

	buf := make([]byte, 1000)
	n, err := obj.ReadAt(buf, 1234)
	require.NoError(t, err)
	require.Equal(t, 1000, n)
	require.True(t, bytes.Equal(data[1234:2234], buf), "wrong bytes for range")

	n, err = obj.ReadAt(buf[:1], 0)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, data[0], buf[0])

	n, err = obj.ReadAt(buf[:20], int64(len(data)-10))
	require.Equal(t, 10, n)
	require.ErrorIs(t, err, io.EOF, "short read at the end")
	require.True(t, bytes.Equal(data[len(data)-10:], buf[:10]))
}

func testThrottled(t *testing.T, fx Fixture) {
	ref := fx.Control.AddFile(t, fx.Control.Drive(), "/", "throttle.docx", content(4, 10))
	fx.Control.Throttle(t, 7*time.Second)
	_, err := fx.Conn.Stat(ctxFor(t), ref)
	require.Error(t, err)
	require.Equal(t, connectors.KindThrottled, connectors.KindOf(err), "429: %v", err)
	ra, ok := connectors.RetryAfter(err)
	require.True(t, ok)
	require.Equal(t, 7*time.Second, ra)
	require.True(t, connectors.Retryable(err))
	_, err = fx.Conn.Stat(ctxFor(t), ref)
	require.NoError(t, err, "the throttle is for one call only")
}

func testLabelRoundTrip(t *testing.T, fx Fixture) {
	lab, ok := fx.Conn.(connectors.Labeler)
	if !ok {
		t.Logf("%s has no native label API", fx.Conn.App())
		return
	}
	ctx := ctxFor(t)
	cat, err := lab.Catalog(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, cat)
	var pick connectors.Label
	for _, l := range cat {
		require.NotEmpty(t, l.ID)
		require.NotEmpty(t, l.Name)
		if !l.Disabled && !l.Protection && pick.ID == "" {
			pick = l
		}
	}
	require.NotEmpty(t, pick.ID, "catalog has no enabled label without protection")

	ref := fx.Control.AddFile(t, fx.Control.Drive(), "/labels", "label.docx", content(5, 200))
	st, err := lab.ReadLabel(ctx, ref)
	require.NoError(t, err)
	require.Empty(t, st.LabelID)

	require.NoError(t, lab.ApplyLabel(ctx, ref, pick.ID, connectors.ApplyOptions{Method: "standard"}))
	st, err = lab.ReadLabel(ctx, ref)
	require.NoError(t, err)
	require.Equal(t, pick.ID, st.LabelID)

	require.NoError(t, lab.RemoveLabel(ctx, ref, connectors.ApplyOptions{Justification: "conformance suite"}))
	st, err = lab.ReadLabel(ctx, ref)
	require.NoError(t, err)
	require.Empty(t, st.LabelID)
}
