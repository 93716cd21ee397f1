package scanqueue

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkEndToEnd measures enqueue → lease → complete: b.N scans enqueued in batches
// and worked by one process.
func BenchmarkEndToEnd(b *testing.B) {
	for _, backend := range backends() {
		for _, size := range []int{1, 100} {
			b.Run(fmt.Sprintf("%s/batch=%d", backend, size), func(b *testing.B) {
				q, _ := setup(b, backend, func(c *Config) { c.Workers, c.PartitionWorkers = 100, 100 })
				ctx := context.Background()
				var done atomic.Int64
				all := make(chan struct{})
				target := int64(b.N)
				if err := q.Scans().Handle(func(ctx context.Context, job *ScanJob) error {
					if done.Add(1) == target {
						close(all)
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				if err := q.Start(ctx); err != nil {
					b.Fatal(err)
				}
				reqs := make([]Request[ScanArgs], 0, size)
				b.ResetTimer()
				start := time.Now()
				for i := range b.N {
					reqs = append(reqs, Scan(ref("bench", fmt.Sprintf("f%d", i)), ReasonWebhook))
					if len(reqs) == size || i == b.N-1 {
						if _, err := q.EnqueueScans(ctx, reqs...); err != nil {
							b.Fatal(err)
						}
						reqs = reqs[:0]
					}
				}
				select {
				case <-all:
				case <-time.After(5 * time.Minute):
					b.Fatalf("only %d of %d jobs done", done.Load(), b.N)
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
			})
		}
	}
}

// BenchmarkEnqueueMerge measures requests for files already queued, each merged into the
// pending job.
func BenchmarkEnqueueMerge(b *testing.B) {
	for _, backend := range backends() {
		for _, size := range []int{1, 100} {
			b.Run(fmt.Sprintf("%s/batch=%d", backend, size), func(b *testing.B) {
				q, _ := setup(b, backend, nil)
				ctx := context.Background()
				const files = 1000
				reqs := make([]Request[ScanArgs], 0, 100)
				for i := range files {
					reqs = append(reqs, Scan(ref("bench", fmt.Sprintf("f%d", i)), ReasonRescan))
					if len(reqs) == cap(reqs) {
						if _, err := q.EnqueueScans(ctx, reqs...); err != nil {
							b.Fatal(err)
						}
						reqs = reqs[:0]
					}
				}
				reqs = make([]Request[ScanArgs], 0, size)
				reasons := []Reason{ReasonRescan, ReasonPolicy, ReasonWebhook, ReasonAdmin}
				b.ResetTimer()
				start := time.Now()
				merged := 0
				for i := range b.N {
					reqs = append(reqs, Scan(ref("bench", fmt.Sprintf("f%d", (i*7919)%files)), reasons[i%4]))
					if len(reqs) == size || i == b.N-1 {
						res, err := q.EnqueueScans(ctx, reqs...)
						if err != nil {
							b.Fatal(err)
						}
						merged += res.Merged
						reqs = reqs[:0]
					}
				}
				b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "jobs/s")
				if merged != b.N {
					b.Fatalf("merged %d of %d", merged, b.N)
				}
			})
		}
	}
}
