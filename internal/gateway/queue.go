package gateway

import (
	"context"
	"os"
	"time"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/scanqueue"
)

// riverQueue is the scan queue on the store's database.
type riverQueue struct{ q *scanqueue.Queue }

func (r riverQueue) EnqueueScan(ctx context.Context, ref connectors.FileRef, reason Reason) error {
	return r.EnqueueScans(ctx, []connectors.FileRef{ref}, reason)
}

func (r riverQueue) EnqueueScans(ctx context.Context, refs []connectors.FileRef, reason Reason) error {
	reqs := make([]scanqueue.Request[scanqueue.ScanArgs], len(refs))
	for i, ref := range refs {
		reqs[i] = scanqueue.Scan(ref, scanqueue.Reason(reason))
	}
	_, err := r.q.EnqueueScans(ctx, reqs...)
	return err
}

// EnqueueScanFacts queues scans of files whose facts the caller just read, so each scan
// can skip reading them again. It returns the job each file went to.
func (r riverQueue) EnqueueScanFacts(ctx context.Context, files []connectors.File, reason Reason, at time.Time) ([]int64, error) {
	reqs := make([]scanqueue.Request[scanqueue.ScanArgs], len(files))
	for i, f := range files {
		reqs[i] = scanqueue.ScanFacts(f, scanqueue.Reason(reason), at.UnixMilli())
	}
	res, err := r.q.EnqueueScans(ctx, reqs...)
	return res.IDs, err
}

// JobDue reports whether a scan job is due or running.
func (r riverQueue) JobDue(ctx context.Context, id int64) (bool, error) {
	return r.q.JobDue(ctx, id)
}

// openQueue opens the scan queue on the store's database and registers the scanner.
func (g *Gateway) openQueue(ctx context.Context) (*scanqueue.Queue, error) {
	lease := g.cfg.Queue.Lease
	jobTimeout := 10 * time.Minute
	if lease < 2*jobTimeout {
		jobTimeout = lease / 2
	}
	host, _ := os.Hostname()
	qcfg := scanqueue.Config{
		Logger:     g.logger("queue"),
		Clock:      g.now,
		Registerer: g.prom,
		// Stable across restarts (so a restarted replica reclaims its own jobs at once)
		// and distinct between replicas on one host.
		WorkerID:    host + "@" + g.public.Addr(),
		Workers:     g.cfg.Queue.Workers,
		MaxAttempts: g.cfg.Queue.MaxAttempts,
		Lease:       lease,
		JobTimeout:  jobTimeout,
	}
	if g.opts.QueueTuning != nil {
		g.opts.QueueTuning(&qcfg)
	}
	if g.store.Dialect() == store.Postgres {
		qcfg.Postgres = g.store.Pool()
	} else {
		qcfg.SQLite = g.store.DB()
	}
	q, err := scanqueue.Open(ctx, qcfg)
	if err != nil {
		return nil, err
	}
	err = q.Scans().Handle(func(ctx context.Context, job *scanqueue.ScanJob) error {
		var facts *connectors.File
		if job.Args.Facts != nil && job.Args.Facts.Ref == job.Args.Ref {
			facts = job.Args.Facts
		}
		return g.ScanWith(ctx, job.Args.Ref, facts, time.UnixMilli(job.Args.FactsAt))
	})
	if err != nil {
		return nil, err
	}
	return q, nil
}

// queueAdmin exposes the queue to the admin API and the console.
type queueAdmin struct {
	q *scanqueue.Queue
	g *Gateway
}

func (a queueAdmin) Stats(ctx context.Context) (any, error)           { return a.q.Stats(ctx) }
func (a queueAdmin) Dead(ctx context.Context, limit int) (any, error) { return a.q.Dead(ctx, limit) }
func (a queueAdmin) Pending(ctx context.Context, app string) (bool, error) {
	return a.q.Pending(ctx, app)
}
func (a queueAdmin) Requeue(ctx context.Context, id int64) error { return a.q.Requeue(ctx, id) }
func (a queueAdmin) EnqueueAdmin(ctx context.Context, ref connectors.FileRef) error {
	return a.g.queue.EnqueueScan(ctx, ref, ReasonAdmin)
}
