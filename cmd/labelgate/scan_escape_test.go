package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

// `labelgate scan --execute` over a share whose user keeps swapping a folder for a link to a
// folder outside (issue 22, finding 1) never reads a file outside (no record shows an outside
// file's size) and never writes one (the outside folder is byte-for-byte unchanged). The
// outside files are unlabelled, so a read that escaped would also plan, and try, a write.
// Bounded: a few seconds and at most 40 scans.
func TestScanExecuteNeverLeavesTheShare(t *testing.T) {
	t.Parallel()
	share, outside := t.TempDir(), t.TempDir()
	inside := labeltest.Docx(labeltest.Options{Text: []string{"inside"}})
	escaped := labeltest.Docx(labeltest.Options{Text: []string{"outside the share", strings.Repeat("padding ", 200)}})
	require.NotEqual(t, len(inside), len(escaped))
	require.NoError(t, os.MkdirAll(filepath.Join(share, "Finance"), 0o755))
	before := map[string][32]byte{}
	for i := range 8 {
		name := fmt.Sprintf("f%d.docx", i)
		require.NoError(t, os.WriteFile(filepath.Join(share, "Finance", name), inside, 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(outside, name), escaped, 0o644))
		before[name] = sha256.Sum256(escaped)
	}
	pol := filepath.Join(t.TempDir(), "pol.yaml")
	require.NoError(t, os.WriteFile(pol, []byte(`
policies:
  - id: finance
    name: Finance
    severity: low
    filter: {all: [{fileType: [word]}, {label: {none: true}}]}
    actions: [{applyLabel: {label: Confidential}}]
`), 0o644))
	labels := filepath.Join(t.TempDir(), "labels.json")
	lb, err := json.Marshal([]connectors.Label{{ID: labeltest.LabelConfidential, Name: "Confidential", Tenant: labeltest.TenantContoso, Priority: 2}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(labels, lb, 0o644))

	// The swapper: Finance becomes a link to the outside folder (absolute, then relative) and back.
	stop := make(chan struct{})
	done := make(chan struct{})
	var swaps atomic.Int64
	rel, err := filepath.Rel(share, outside)
	require.NoError(t, err)
	go func() {
		defer close(done)
		fin, hidden := filepath.Join(share, "Finance"), filepath.Join(share, ".finance-real")
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if os.Rename(fin, hidden) != nil {
				continue
			}
			target := outside
			if i%2 == 1 {
				target = rel
			}
			if os.Symlink(target, fin) == nil {
				swaps.Add(1)
				runtime.Gosched()
				_ = os.Remove(fin)
			}
			_ = os.Rename(hidden, fin)
			runtime.Gosched()
		}
	}()

	deadline := time.Now().Add(3 * time.Second)
	var scans, seen, writes int
	for scans < 40 && time.Now().Before(deadline) {
		scans++
		code, out, errOut := runScan(t, "-o", "json", "--apply-policies", pol, "--labels", labels, "--execute", "--workers", "4", share)
		require.Contains(t, []int{0, 1}, code, errOut) // 1: some files unreadable mid-swap
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var r scanRecord
			if line == "" || strings.Contains(line, `"summary":true`) {
				continue
			}
			require.NoError(t, json.Unmarshal([]byte(line), &r), "%s\n%s", out, errOut)
			for _, a := range r.Actions {
				if a.Status == "done" {
					writes++
				}
			}
			if r.Size == int64(len(escaped)) {
				t.Errorf("%s: read a file outside the share", r.Path)
				seen++
			}
		}
	}
	close(stop)
	<-done
	t.Logf("%d scans, %d swaps, %d label writes", scans, swaps.Load(), writes)
	require.Positive(t, swaps.Load())
	require.Positive(t, writes, "the scans labelled files inside the share")
	require.Zero(t, seen)
	after := map[string][32]byte{}
	ents, err := os.ReadDir(outside)
	require.NoError(t, err)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(outside, e.Name()))
		require.NoError(t, err)
		after[e.Name()] = sha256.Sum256(b)
	}
	require.Equal(t, before, after, "nothing outside the share is written, created or removed")
}
