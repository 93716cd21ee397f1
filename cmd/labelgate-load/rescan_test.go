package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRescanBenchmarkCorrectness runs the rescan benchmark small — 240 files over all four
// apps, the real labelgate binary as a child on SQLite (and PostgreSQL when
// LABELGATE_TEST_POSTGRES is set) — and checks what it reports, not how fast: every seeded
// file scanned, the provider calls the gateway counted per file, a second rescan with
// nothing changed reading no content, and the JSON shape the issue names.
func TestRescanBenchmarkCorrectness(t *testing.T) {
	t.Parallel()
	bin, err := buildLabelgate(t.Context(), t.TempDir())
	require.NoError(t, err)
	stores := []string{"sqlite"}
	if os.Getenv("LABELGATE_TEST_POSTGRES") != "" {
		stores = append(stores, "postgres")
	}
	for _, st := range stores {
		t.Run(st, func(t *testing.T) {
			t.Parallel()
			apps, err := parseApps("all")
			require.NoError(t, err)
			prof := filepath.Join(t.TempDir(), "cpu.prof")
			rep, err := RunRescan(t.Context(), RescanConfig{Files: 240, Store: st, Apps: apps, Again: true, Bin: bin, CPUProfile: prof})
			require.NoError(t, err)
			require.Equal(t, 240, rep.Total.Files)
			require.EqualValues(t, 240, rep.Total.Inventory, "every seeded file scanned: %+v", rep.Apps)
			require.Len(t, rep.Apps, 4)
			for app, a := range rep.Apps {
				require.Equal(t, 60, a.Files, app)
				require.EqualValues(t, 60, a.Inventory, app)
				// One content read per scan here: the generated files are small enough that
				// the ZIP tail read brings the label parts too. A few files may be scanned twice
				// when the gateway's own baseline rescan of a drive starts just before the
				// benchmark's and ends before it (the admin API then has nothing running to
				// join), so the bound is the issue's: at most two per file.
				require.GreaterOrEqual(t, a.ContentReadsPerFile, 1.0, app)
				require.LessOrEqual(t, a.ContentReadsPerFile, 2.0, app)
				require.Greater(t, a.MetadataCallsPerFile, 0.0, app)
			}
			// Per app: Drive scans from the listing's facts (no metadata call of its own);
			// Box reads collaborations of the files with their own (its download call is the
			// file's first content read); Graph opens from the download URLs its
			// delta walk got and, with hierarchical sharing (the bench app holds
			// Sites.FullControl.All), reads permissions once per shared hierarchy root (the
			// bench shares files one by one). At 60 files per app the per-drive calls (drive
			// lists, cursors, subscriptions, listings) still weigh; at 2,500 they are Drive
			// 0.01, Box 0.21 (README, Performance), and Graph 0.63 at 1,000 per app (2.02
			// before the delta walk).
			require.LessOrEqual(t, rep.Apps["gdrive"].MetadataCallsPerFile, 1.0)
			require.LessOrEqual(t, rep.Apps["box"].MetadataCallsPerFile, 1.0)
			require.LessOrEqual(t, rep.Apps["sharepoint"].MetadataCallsPerFile, 3.0)
			require.LessOrEqual(t, rep.Apps["onedrive"].MetadataCallsPerFile, 3.0)
			require.Greater(t, rep.Total.CPUSeconds, 0.0)
			require.Greater(t, rep.Total.PeakRSSMiB, 10.0)
			require.Greater(t, rep.Total.FilesPerSecond, 0.0)
			fi, err := os.Stat(prof)
			require.NoError(t, err, "the gateway wrote its CPU profile")
			require.Greater(t, fi.Size(), int64(0))

			require.NotNil(t, rep.Again)
			require.Zero(t, rep.Again.Total.ContentReads, "nothing changed: no file read again")
			require.EqualValues(t, 240, rep.Again.Total.Inventory)

			var buf bytes.Buffer
			require.NoError(t, json.NewEncoder(&buf).Encode(rep))
			var doc struct {
				Total map[string]any `json:"total"`
			}
			require.NoError(t, json.Unmarshal(buf.Bytes(), &doc))
			for _, k := range []string{"files", "seconds", "filesPerSecond", "metadataCallsPerFile", "contentReadsPerFile", "cpuSeconds", "peakRSSMiB"} {
				require.Contains(t, doc.Total, k)
			}
		})
	}
}
