package fileshare_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/fileshare"
	"github.com/labelgate/labelgate/labeling"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

// outsideTree is a folder beside the share holding files with the same names as the share's,
// labelled with a label nothing inside carries, so reading one shows (its bytes), and hashed,
// so writing one shows afterwards.
type outsideTree struct {
	dir     string
	content []byte
	before  map[string][32]byte
}

// outsideLabel marks the files outside the share.
const outsideLabel = labeltest.LabelPublic

func newOutsideTree(t *testing.T, names ...string) *outsideTree {
	t.Helper()
	o := &outsideTree{dir: t.TempDir(), before: map[string][32]byte{}}
	secret := labeltest.Docx(labeltest.Options{Text: []string{"outside the share"},
		LabelInfo: []labeltest.Label{{ID: outsideLabel, Tenant: labeltest.TenantContoso, Method: "Standard", SetDate: "2024-01-01T00:00:00Z"}}})
	for _, n := range names {
		require.NoError(t, os.WriteFile(filepath.Join(o.dir, n), secret, 0o644))
	}
	o.content = secret
	o.before = o.snapshot(t)
	return o
}

func (o *outsideTree) snapshot(t *testing.T) map[string][32]byte {
	t.Helper()
	m := map[string][32]byte{}
	ents, err := os.ReadDir(o.dir)
	require.NoError(t, err)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(o.dir, e.Name()))
		require.NoError(t, err)
		m[e.Name()] = sha256.Sum256(b)
	}
	return m
}

// requireUntouched fails when a file outside was written, created or removed.
func (o *outsideTree) requireUntouched(t *testing.T) {
	t.Helper()
	require.Equal(t, o.before, o.snapshot(t), "nothing outside the share is written, created or removed")
}

// swapper replaces the share's folder "team" by a link to the outside folder (absolute and
// relative, in turn) and back, as fast as it can, until stop is closed.
func swapper(t *testing.T, share, outside string, stop <-chan struct{}) (done <-chan struct{}, swaps *atomic.Int64) {
	t.Helper()
	team, hidden := filepath.Join(share, "team"), filepath.Join(share, ".team-real")
	rel, err := filepath.Rel(share, outside)
	require.NoError(t, err)
	ch := make(chan struct{})
	swaps = &atomic.Int64{}
	go func() {
		defer close(ch)
		for i := 0; ; i++ {
			select {
			case <-stop:
				// Leave the real folder in place.
				if fi, err := os.Lstat(team); err == nil && fi.Mode()&os.ModeSymlink != 0 {
					_ = os.Remove(team)
					_ = os.Rename(hidden, team)
				}
				return
			default:
			}
			if os.Rename(team, hidden) != nil {
				continue
			}
			target := outside
			if i%2 == 1 {
				target = rel
			}
			if os.Symlink(target, team) == nil {
				swaps.Add(1)
				runtime.Gosched()
				_ = os.Remove(team)
			}
			_ = os.Rename(hidden, team)
			runtime.Gosched()
		}
	}()
	return ch, swaps
}

// A share user who keeps swapping a folder for a link to a folder outside the share, while
// the connector walks, reads, follows changes and writes labels there, never gets the
// connector to read a file outside (no outside label is ever seen) or write one (the outside
// folder is byte-for-byte unchanged). Bounded: a few seconds and a fixed number of rounds.
func TestSymlinkSwapRaceNeverLeavesTheShare(t *testing.T) {
	t.Parallel()
	e := setup(t, func(c *fileshare.Config) { c.SkipError = func(string, error) {} })
	names := []string{"a.docx", "b.docx", "c.docx"}
	plain := labeltest.Docx(labeltest.Options{Text: []string{"inside the share"}})
	for _, n := range names {
		e.write("team/"+n, plain)
	}
	out := newOutsideTree(t, names...)

	var labelled bytes.Buffer
	require.NoError(t, labeling.Apply(t.Context(), bytes.NewReader(plain), int64(len(plain)), "a.docx",
		labeling.Label{ID: labeltest.LabelConfidential, Tenant: labeltest.TenantContoso, Method: "standard"}, &labelled))

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	stop := make(chan struct{})
	swapDone, swaps := swapper(t, e.dir, out.dir, stop)

	var seenOutside atomic.Int64
	var reads, writes atomic.Int64
	check := func(item string) {
		obj, err := e.conn.Open(ctx, e.ref(item))
		if err != nil {
			return
		}
		b := make([]byte, obj.Size())
		_, err = obj.ReadAt(b, 0)
		obj.Close()
		if err == nil {
			reads.Add(1)
			if bytes.Equal(b, out.content) {
				seenOutside.Add(1)
			}
		}
	}
	var wg sync.WaitGroup
	const rounds = 3000
	for w := range 4 {
		wg.Go(func() {
			for i := 0; i < rounds && ctx.Err() == nil; i++ {
				item := "team/" + names[(i+w)%len(names)]
				switch w {
				case 0: // the scanner's path: walk, then read each file
					_ = e.conn.Walk(ctx, e.drive, "", func(f connectors.File, _ string) error {
						check(f.Ref.ItemID)
						return nil
					})
				case 1: // the executor's path: read, then write the labelled version
					check(item)
					if e.conn.Upload(ctx, e.ref(item), bytes.NewReader(labelled.Bytes()), int64(labelled.Len())) == nil {
						writes.Add(1)
					}
				case 2: // the change feed's path
					_, _ = e.conn.Changes(ctx, e.drive, "", func(connectors.File) error { return nil })
					if _, err := e.conn.Stat(ctx, e.ref(item)); err == nil {
						check(item)
					}
				default:
					check(item)
				}
			}
		})
	}
	// The watcher follows the same folder meanwhile.
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan error, 1)
	go func() {
		watchDone <- e.conn.Watch(watchCtx, e.drive, func(f connectors.File) {
			if !f.Deleted {
				check(f.Ref.ItemID)
			}
		})
	}()
	wg.Wait()
	stopWatch()
	require.NoError(t, <-watchDone)
	close(stop)
	<-swapDone

	t.Logf("%d swaps, %d reads, %d label writes", swaps.Load(), reads.Load(), writes.Load())
	require.Positive(t, swaps.Load(), "the swapper ran")
	require.Zero(t, seenOutside.Load(), "a file outside the share was read")
	out.requireUntouched(t)
	// The share itself is intact: its files are there, plain or labelled.
	for _, n := range names {
		res := e.readLabel("team/" + n)
		if res.Label != nil {
			require.Equal(t, labeltest.LabelConfidential, res.Label.ID)
		}
	}
}
