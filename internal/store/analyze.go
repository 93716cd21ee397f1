package store

import (
	"context"
	"sync"
	"time"
)

// autoAnalyze keeps PostgreSQL's statistics of the inventory current while it grows fast.
//
// On a files table never analysed, PostgreSQL estimates the primary-key lookup and a scan of
// the tenant's files_path range at the same cost and takes the range: a walk's seen mark and a
// scan's inventory read each visited every file of the tenant (EXPLAIN in a 10,000-file
// benchmark: 1,652 rows filtered for one row, 92 buffers per seen mark, 21 of the run's 39 s of
// database time), so a first rescan grew quadratic in the tenant. Autovacuum analyses a table
// at most once a minute per database and only after its thresholds; a first rescan inserts
// tens of thousands of rows in that minute. So the store analyses files itself each time the
// rows it inserted have doubled since the last analysis (from analyzeMinRows on): about eight
// ANALYZEs over a 100,000-file first rescan, eleven over a million, each sampling at most 30,000
// rows, and none once the inventory has settled. (At a quarter's growth, 21 of them took 11 s of
// the database's time in a 100,000-file run; a statistics' row count off by up to half does not
// change this choice of index.)
type autoAnalyze struct {
	mu       sync.Mutex
	inserted int64 // rows inserted since the last analysis began
	base     int64 // rows inserted up to the last analysis (what the statistics saw, at least)
	running  bool
	wg       sync.WaitGroup
	ctx      context.Context // ends when the store closes
	cancel   context.CancelFunc
}

// analyzeMinRows is the inserted rows that first trigger an analysis.
const analyzeMinRows = 500

// analyzeTimeout bounds one ANALYZE.
const analyzeTimeout = 2 * time.Minute

func newAutoAnalyze() *autoAnalyze {
	ctx, cancel := context.WithCancel(context.Background())
	return &autoAnalyze{ctx: ctx, cancel: cancel}
}

// insertedFiles notes n new inventory rows and starts an analysis of files in the background
// when they are enough. No-op on SQLite, whose planner takes the primary key here.
func (s *Store) insertedFiles(n int) {
	a := s.analyze
	if a == nil || n <= 0 {
		return
	}
	a.mu.Lock()
	a.inserted += int64(n)
	if a.running || a.inserted < max(analyzeMinRows, a.base) || a.ctx.Err() != nil {
		a.mu.Unlock()
		return
	}
	a.running = true
	a.base += a.inserted
	a.inserted = 0
	rows := a.base
	a.wg.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.wg.Done()
		ctx, cancel := context.WithTimeout(a.ctx, analyzeTimeout)
		defer cancel()
		start := time.Now()
		if _, err := s.db.ExecContext(ctx, `ANALYZE files`); err != nil {
			if a.ctx.Err() == nil {
				s.log.Warn("store: analyze files", "err", err)
			}
		} else {
			s.log.Debug("store: analyzed files", "rows", rows, "took", time.Since(start))
		}
		a.mu.Lock()
		a.running = false
		a.mu.Unlock()
	}()
}

// stop ends a running analysis and waits for it.
func (a *autoAnalyze) stop() {
	if a == nil {
		return
	}
	a.cancel()
	a.wg.Wait()
}
