package gateway

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling"
	"github.com/labelgate/labelgate/labeling/labeltest"
	"github.com/labelgate/labelgate/scanqueue"
)

// harness runs a real gateway in-process on loopback ports with a fresh store.
type harness struct {
	g      *Gateway
	cancel context.CancelFunc
	done   chan error
	dir    string
}

func fastQueue(c *scanqueue.Config) {
	c.FetchPollInterval = 20 * time.Millisecond
	c.FetchCooldown = 5 * time.Millisecond
	c.MaintenanceInterval = 50 * time.Millisecond
	c.RetryBase = 50 * time.Millisecond
	c.RetryMax = 200 * time.Millisecond
}

func startGateway(t *testing.T, b storetest.Backend, mutate func(*config.Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Server.Listen, cfg.Admin.Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Store.URL = b.OpenURL(t)
	cfg.Labels.TenantID = labeltest.TenantContoso
	if mutate != nil {
		mutate(&cfg)
	}
	require.Empty(t, cfg.Validate())
	g, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.DiscardHandler), FeedPoll: 50 * time.Millisecond,
		SubscriptionCheck: time.Second, SchedulerTick: 100 * time.Millisecond, QueueTuning: fastQueue, ShutdownTimeout: 5 * time.Second})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{g: g, cancel: cancel, done: make(chan error, 1), dir: dir}
	go func() { h.done <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-h.done:
			require.NoError(t, err)
		case <-time.After(15 * time.Second):
			t.Error("gateway did not stop")
		}
	})
	return h
}

// writeCorpus writes the label engine's corpus into a folder and returns its cases.
func writeCorpus(t *testing.T, dir string) []labeltest.Case {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	cases := labeltest.Corpus()
	for _, c := range cases {
		require.NoError(t, os.WriteFile(filepath.Join(dir, c.Name), c.Data, 0o644))
	}
	return cases
}

func waitRescan(t *testing.T, st *store.Store, id int64) store.Rescan {
	t.Helper()
	var r store.Rescan
	require.Eventually(t, func() bool {
		var err error
		r, err = st.GetRescan(context.Background(), id)
		return err == nil && r.State != store.RescanRunning
	}, 30*time.Second, 20*time.Millisecond)
	return r
}

func TestFileShareDiscoveryEndToEnd(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			share := filepath.Join(t.TempDir(), "share")
			cases := writeCorpus(t, share)
			h := startGateway(t, b, func(c *config.Config) {
				c.Connectors = []config.Connector{{Name: "shares", App: "fileshare", Roots: []string{share}}}
			})
			ctx := context.Background()
			st := h.g.Store()
			r, err := h.g.StartRescan(ctx, "shares", "", false)
			require.NoError(t, err)
			r = waitRescan(t, st, r.ID)
			require.Equal(t, store.RescanDone, r.State, r.Error)
			require.EqualValues(t, len(cases), r.Enqueued)

			// Every corpus file ends up in the inventory with the label the engine reads.
			var drive string
			ok := assertEventually(func() bool {
				n, err := st.CountFiles(ctx, store.FileFilter{App: connectors.AppFileShare})
				return err == nil && n == int64(len(cases)) && scannedAll(t, st)
			}, 30*time.Second)
			if !ok {
				stats, _ := h.g.sq.Stats(ctx)
				dead, _ := h.g.sq.Dead(ctx, 10)
				n, _ := st.CountFiles(ctx, store.FileFilter{})
				t.Fatalf("not all files scanned: %d in inventory of %d; queue %+v; dead %+v", n, len(cases), stats, dead)
			}
			for _, c := range cases {
				var rec store.FileRecord
				require.NoError(t, st.EachFile(ctx, store.FileFilter{App: connectors.AppFileShare}, func(fr store.FileRecord) error {
					if fr.Name == c.Name {
						rec = fr
					}
					return nil
				}))
				drive = rec.Ref.Drive
				require.Equal(t, c.Name, rec.Name)
				if c.WantErr {
					require.NotEmpty(t, rec.ScanError, c.Name)
					continue
				}
				require.Empty(t, rec.ScanError, c.Name)
				require.Equal(t, c.WantLabel, rec.LabelID, c.Name)
				require.Equal(t, c.WantProtected != "", rec.Protected, c.Name)
				require.Equal(t, c.WantLabel != "" && c.WantTenant != "" && c.WantTenant != labeltest.TenantContoso, rec.LabelExternal, c.Name)
			}

			// A second rescan skips every unchanged file.
			r2, err := h.g.StartRescan(ctx, "shares", "", false)
			require.NoError(t, err)
			r2 = waitRescan(t, st, r2.ID)
			require.Zero(t, r2.Enqueued)
			require.EqualValues(t, len(cases), r2.Skipped)

			// The watcher: a file relabelled on disk is rescanned and the change logged.
			newLabel := labeltest.Label{ID: labeltest.LabelConfidential, Tenant: labeltest.TenantContoso, Method: "Standard"}
			require.NoError(t, os.WriteFile(filepath.Join(share, "unlabelled.docx"), labeltest.Docx(labeltest.Options{LabelInfo: []labeltest.Label{newLabel}}), 0o644))
			require.Eventually(t, func() bool {
				evs, err := st.ListEvents(ctx, store.EventFilter{Kind: store.EventLabelAdded}, 10)
				return err == nil && len(evs) == 1 && evs[0].Name == "unlabelled.docx" && evs[0].LabelID == labeltest.LabelConfidential
			}, 30*time.Second, 50*time.Millisecond)

			// A file removed from the share is marked deleted by the next rescan.
			require.NoError(t, os.Remove(filepath.Join(share, "removed.docx")))
			r3, err := h.g.StartRescan(ctx, "shares", drive, true)
			require.NoError(t, err)
			require.Equal(t, store.RescanDone, waitRescan(t, st, r3.ID).State)
			require.Eventually(t, func() bool {
				evs, err := st.ListEvents(ctx, store.EventFilter{Kind: store.EventFileDeleted}, 10)
				return err == nil && len(evs) == 1 && evs[0].Name == "removed.docx"
			}, 30*time.Second, 50*time.Millisecond)
		})
	}
}

func scannedAll(t *testing.T, st *store.Store) bool {
	all := true
	_ = st.EachFile(context.Background(), store.FileFilter{}, func(fr store.FileRecord) error {
		if fr.LastScanned.IsZero() {
			all = false
		}
		return nil
	})
	return all
}

// crashingQueue wraps the real queue and cancels the rescan's context after n enqueues, the
// way a process kill would stop it mid-walk.
type crashingQueue struct {
	next   ScanQueue
	n      int64
	count  atomic.Int64
	cancel context.CancelFunc
	mu     sync.Mutex
	seen   map[string]int
}

func (c *crashingQueue) EnqueueScan(ctx context.Context, ref connectors.FileRef, reason Reason) error {
	if c.count.Add(1) > c.n && c.cancel != nil {
		c.cancel()
		return context.Canceled
	}
	c.mu.Lock()
	c.seen[ref.ItemID]++
	c.mu.Unlock()
	return c.next.EnqueueScan(ctx, ref, reason)
}

func TestRescanResumesAfterCrash(t *testing.T) {
	t.Parallel()
	share := filepath.Join(t.TempDir(), "share")
	require.NoError(t, os.MkdirAll(share, 0o755))
	doc := labeltest.Docx(labeltest.Options{})
	const files = 700
	for i := 0; i < files; i++ {
		require.NoError(t, os.WriteFile(filepath.Join(share, "f"+leftPad(i)+".docx"), doc, 0o644))
	}
	h := startGateway(t, storetest.Backends()[0], func(c *config.Config) {
		c.Connectors = []config.Connector{{Name: "shares", App: "fileshare", Roots: []string{share}}}
	})
	ctx := context.Background()
	st := h.g.Store()
	r, err := st.CreateRescan(ctx, store.Rescan{Connector: "shares", App: connectors.AppFileShare, Tenant: "local", Force: true})
	require.NoError(t, err)

	crashCtx, crash := context.WithCancel(ctx)
	q := &crashingQueue{next: h.g.queue, n: 450, cancel: crash, seen: map[string]int{}}
	real := h.g.queue
	h.g.queue = q
	err = h.g.RunRescan(crashCtx, r)
	require.ErrorIs(t, err, context.Canceled)
	mid, err := st.GetRescan(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, store.RescanRunning, mid.State, "a crashed rescan stays running, to be resumed")
	require.EqualValues(t, 400, mid.Enqueued, "progress was saved batch by batch")

	// Restart: the rescan resumes from the saved cursor, not from the start.
	q2 := &crashingQueue{next: real, n: 1 << 30, seen: map[string]int{}}
	h.g.queue = q2
	require.NoError(t, h.g.RunRescan(ctx, r))
	h.g.queue = real
	second := len(q2.seen)
	require.Less(t, second, files-300, "resumed, not restarted")
	for i := 0; i < files; i++ {
		id := "f" + leftPad(i) + ".docx"
		require.GreaterOrEqual(t, q.seen[id]+q2.seen[id], 1, "file %s never enqueued", id)
	}
	end, err := st.GetRescan(ctx, r.ID)
	require.NoError(t, err)
	require.GreaterOrEqual(t, end.Enqueued, int64(files))
}

func leftPad(i int) string {
	s := "0000" + itoa(i)
	return s[len(s)-4:]
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestUnsupportedFilesAreNotScanned(t *testing.T) {
	t.Parallel()
	require.False(t, labeling.IsSupported("notes.txt"))
	require.True(t, labeling.IsSupported("Budget.XLSX"))
}

func assertEventually(cond func() bool, d time.Duration) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cond()
}
