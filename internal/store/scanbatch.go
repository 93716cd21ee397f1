package store

import (
	"context"
	"slices"
	"sync"
	"time"
)

// ScanRecorder records scan outcomes by group commit: outcomes of scans finishing together
// share one transaction (RecordScans), and each caller returns once the transaction holding
// its outcome has committed. A rescan runs many scans at once, and on SQLite a commit and
// the immediate-transaction begin before it were about half of what recording one cost.
//
// No goroutine runs while the recorder is idle: the caller that finds no commit in progress
// starts one, which keeps committing until nothing is queued.
type ScanRecorder struct {
	s        *Store
	maxBatch int

	mu         sync.Mutex
	queue      []*pendingScan
	committing bool
}

type pendingScan struct {
	ctx  context.Context
	o    ScanOutcome
	res  ScanResult
	done chan struct{}
}

// scanCommitTimeout bounds one batch's transaction, which runs apart from any one caller's
// context so that a caller giving up does not fail the others' outcomes.
const scanCommitTimeout = 2 * time.Minute

// NewScanRecorder returns a group-commit recorder of scan outcomes on s; maxBatch bounds
// the outcomes of one transaction (0: 64).
func (s *Store) NewScanRecorder(maxBatch int) *ScanRecorder {
	if maxBatch <= 0 {
		maxBatch = 64
	}
	return &ScanRecorder{s: s, maxBatch: maxBatch}
}

// Record records o as RecordScan does and returns the events logged and the file's row as
// it left it. If ctx ends first it returns ctx's error; the outcome may still be committed,
// which a later scan of the file only confirms.
func (r *ScanRecorder) Record(ctx context.Context, o ScanOutcome) ([]Event, FileRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, FileRecord{}, err
	}
	p := &pendingScan{ctx: ctx, o: o, done: make(chan struct{})}
	r.mu.Lock()
	r.queue = append(r.queue, p)
	start := !r.committing
	r.committing = true
	r.mu.Unlock()
	if start {
		go r.commitLoop()
	}
	select {
	case <-p.done:
		return p.res.Events, p.res.Record, p.res.Err
	case <-ctx.Done():
		return nil, FileRecord{}, ctx.Err()
	}
}

func (r *ScanRecorder) commitLoop() {
	for {
		r.mu.Lock()
		n := min(len(r.queue), r.maxBatch)
		if n == 0 {
			r.committing = false
			r.mu.Unlock()
			return
		}
		batch := slices.Clone(r.queue[:n])
		r.queue = slices.Delete(r.queue, 0, n)
		r.mu.Unlock()
		r.commit(batch)
	}
}

func (r *ScanRecorder) commit(batch []*pendingScan) {
	live := batch[:0:0]
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.res.Err = err // its caller has gone: record nothing for it
			close(p.done)
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	outs := make([]ScanOutcome, len(live))
	for i, p := range live {
		outs[i] = p.o
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(live[0].ctx), scanCommitTimeout)
	defer cancel()
	res := r.s.RecordScans(ctx, outs)
	for i, p := range live {
		p.res = res[i]
		close(p.done)
	}
}
