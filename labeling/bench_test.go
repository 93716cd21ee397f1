package labeling

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/labelgate/labelgate/labeling/labeltest"
	"github.com/stretchr/testify/require"
)

// bigFiles are 5 MB files of every family, label parts where their writers put them.
func bigFiles(size int) map[string][]byte {
	l := []labeltest.Label{labeltest.General()}
	return map[string][]byte{
		"big.docx": labeltest.Docx(labeltest.Options{Custom: l, LabelInfo: l, Padding: size, GrowthHint: true}),
		"big.xlsx": labeltest.Xlsx(labeltest.Options{Custom: l, Padding: size}),
		"big.pptx": labeltest.Pptx(labeltest.Options{LabelInfo: l, Padding: size}),
		"big.pdf":  labeltest.PDF(labeltest.PDFOptions{Info: l, XMP: l, Padding: size}),
	}
}

func TestRangedReadBudget(t *testing.T) {
	t.Parallel()
	for name, data := range bigFiles(5 << 20) {
		res, err := Read(context.Background(), bytes.NewReader(data), int64(len(data)), name)
		require.NoError(t, err)
		require.NotNil(t, res.Label, name)
		require.Equal(t, labeltest.LabelGeneral, res.Label.ID)
		require.LessOrEqual(t, res.RoundTrips, 3, name)
		require.LessOrEqual(t, float64(res.BytesRead), 0.02*float64(len(data)), name)
	}
}

// bigOLEFiles are 5 MB compound files: a legacy workbook and a password-encrypted package,
// each with its label in the OLE user-defined properties.
func bigOLEFiles(size int) map[string][]byte {
	l := []labeltest.Label{labeltest.General()}
	return map[string][]byte{
		"big.xls":            labeltest.Legacy("excel", labeltest.LegacyOptions{Props: l, Padding: size}),
		"big-protected.xlsx": labeltest.ProtectedWith(labeltest.ProtectedOptions{Kind: "password", Props: l, Padding: size}),
	}
}

// TestRangedReadBudgetOLE holds the OLE figures the README gives: the property set is located
// through the directory and read sector by sector, not the file.
func TestRangedReadBudgetOLE(t *testing.T) {
	t.Parallel()
	for name, data := range bigOLEFiles(5 << 20) {
		res, err := Read(context.Background(), bytes.NewReader(data), int64(len(data)), name)
		require.NoError(t, err)
		require.NotNil(t, res.Label, name)
		require.Equal(t, labeltest.LabelGeneral, res.Label.ID)
		require.LessOrEqual(t, res.RoundTrips, 4, name)
		require.LessOrEqual(t, float64(res.BytesRead), 0.03*float64(len(data)), name)
	}
}

// BenchmarkRangedReadOLE is BenchmarkRangedRead for compound files.
func BenchmarkRangedReadOLE(b *testing.B) {
	for name, data := range bigOLEFiles(5 << 20) {
		b.Run(name, func(b *testing.B) {
			var res Result
			for b.Loop() {
				var err error
				res, err = Read(context.Background(), bytes.NewReader(data), int64(len(data)), name)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(res.BytesRead), "bytes/op-read")
			b.ReportMetric(float64(res.RoundTrips), "roundtrips/op")
			b.ReportMetric(float64(len(data)), "bytes/op-whole")
			b.ReportMetric(100*float64(res.BytesRead)/float64(len(data)), "%read")
		})
	}
}

// BenchmarkRangedRead reports bytes and round trips per scan of a 5 MB file against reading the
// whole file (bytes/op-whole).
func BenchmarkRangedRead(b *testing.B) {
	for name, data := range bigFiles(5 << 20) {
		b.Run(name, func(b *testing.B) {
			var res Result
			for b.Loop() {
				var err error
				res, err = Read(context.Background(), bytes.NewReader(data), int64(len(data)), name)
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(res.BytesRead), "bytes/op-read")
			b.ReportMetric(float64(res.RoundTrips), "roundtrips/op")
			b.ReportMetric(float64(len(data)), "bytes/op-whole")
			b.ReportMetric(100*float64(res.BytesRead)/float64(len(data)), "%read")
		})
	}
}

// BenchmarkScanFromDisk measures files scanned per second from local disk on one goroutine.
func BenchmarkScanFromDisk(b *testing.B) {
	dir := b.TempDir()
	for _, size := range []int{100 << 10, 5 << 20} {
		for name, data := range bigFiles(size) {
			p := filepath.Join(dir, name)
			require.NoError(b, os.WriteFile(p, data, 0o644))
			b.Run(name+"/"+sizeName(size), func(b *testing.B) {
				cpu0 := cpuTime()
				for b.Loop() {
					f, err := os.Open(p)
					if err != nil {
						b.Fatal(err)
					}
					st, _ := f.Stat()
					if _, err := Read(context.Background(), f, st.Size(), name); err != nil {
						b.Fatal(err)
					}
					_ = f.Close()
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
				// The shared machine is busy: CPU time per file says more than the wall clock.
				b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "files/cpu-s")
			})
		}
	}
}

func sizeName(n int) string {
	if n >= 1<<20 {
		return "5MB"
	}
	return "100KB"
}

// cpuTime is the CPU time (user + system) the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
