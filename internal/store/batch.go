package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/labelgate/labelgate/connectors"
)

// ErrBatcherClosed is returned by a DeliveryBatcher after Close.
var ErrBatcherClosed = errors.New("store: delivery batcher closed")

// DriveMark asks for a drive's change feed to be read (see MarkDriveChanged).
type DriveMark struct {
	App    connectors.App
	Tenant string
	Drive  string
	Reason string
}

// Delivery is one webhook delivery to record: its dedup key ("" = not deduplicated) and the
// drive it marks changed (nil = none). The mark is made only for a first delivery.
type Delivery struct {
	Key  string
	Mark *DriveMark
}

// BatchOptions tunes a DeliveryBatcher.
type BatchOptions struct {
	// MaxBatch caps the deliveries committed in one transaction. Default 512.
	MaxBatch int
	// Linger is how long a commit waits for more deliveries once it has some, but only while
	// the batcher is busy (deliveries arrived during the previous commit): the first batch
	// after a quiet spell commits at once, so a quiet endpoint pays no latency for it. Under
	// load, deliveries arriving during a commit form the next batch anyway; lingering makes
	// those batches larger, which pays where a commit costs more than its statements (SQLite
	// writes every commit's pages to the WAL). 0 never lingers; DefaultLinger is the
	// gateway's choice.
	Linger time.Duration
	// CommitTimeout bounds one batch's transaction. Default 30s.
	CommitTimeout time.Duration
}

// DefaultLinger is the linger the gateway uses: on two cores it raised saturated ack
// throughput by about a third (cmd/labelgate-load) while a quiet endpoint still commits at
// once.
const DefaultLinger = 200 * time.Microsecond

// DeliveryBatcher records webhook deliveries by group commit: deliveries arriving together
// share one transaction, and each caller returns only once the transaction holding its
// delivery has committed. A delivery's dedup key and its drive mark commit atomically, so a
// delivery is never remembered as seen without its work being recorded.
//
// No goroutine runs while the batcher is idle: the caller that finds no commit in progress
// starts one, which keeps committing until the queue is empty.
type DeliveryBatcher struct {
	s    *Store
	opts BatchOptions

	stmts *deliveryStmts // prepared by the first commit; only the commit loop touches it

	mu         sync.Mutex
	queue      []*pendingDelivery
	committing bool
	idle       chan struct{} // closed when the running commit loop ends
	closed     bool
}

type pendingDelivery struct {
	ctx   context.Context
	d     Delivery
	first bool
	err   error
	done  chan struct{}
}

// NewDeliveryBatcher returns a group-commit recorder of webhook deliveries on s.
func (s *Store) NewDeliveryBatcher(opts BatchOptions) *DeliveryBatcher {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 512
	}
	if opts.CommitTimeout <= 0 {
		opts.CommitTimeout = 30 * time.Second
	}
	return &DeliveryBatcher{s: s, opts: opts}
}

// Record durably records d and reports whether it is the first delivery of its key (always
// true without a key). Of several deliveries of one key, in one batch or across batches,
// exactly one is first. A commit error is returned to every delivery of the batch; on error
// or cancellation the caller must not acknowledge, and the provider's retry is safe: either
// nothing was committed or the key and its mark both were.
func (b *DeliveryBatcher) Record(ctx context.Context, d Delivery) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	p := &pendingDelivery{ctx: ctx, d: d, done: make(chan struct{})}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return false, ErrBatcherClosed
	}
	b.queue = append(b.queue, p)
	start := !b.committing
	if start {
		b.committing, b.idle = true, make(chan struct{})
	}
	b.mu.Unlock()
	if start {
		// Its own goroutine, so a caller that gives up does not leave others' deliveries
		// waiting behind it.
		go b.commitLoop()
	}
	select {
	case <-p.done:
		return p.first, p.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// FirstDelivery records a delivery key alone; it makes the batcher a webhooks.Dedup.
func (b *DeliveryBatcher) FirstDelivery(ctx context.Context, key string) (bool, error) {
	return b.Record(ctx, Delivery{Key: key})
}

// Close refuses new deliveries and waits until every queued one is committed (or ctx ends).
func (b *DeliveryBatcher) Close(ctx context.Context) error {
	b.mu.Lock()
	b.closed = true
	idle := b.idle
	committing := b.committing
	b.mu.Unlock()
	if committing {
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("store: delivery batcher close: %w", ctx.Err())
		}
	}
	// No commit loop can run any more, so the statements are ours to close.
	b.mu.Lock()
	defer b.mu.Unlock()
	if st := b.stmts; st != nil {
		b.stmts = nil
		return errors.Join(st.insert.Close(), st.mark.Close())
	}
	return nil
}

func (b *DeliveryBatcher) commitLoop() {
	for busy := false; ; busy = true {
		batch := b.take(nil)
		if len(batch) == 0 {
			return
		}
		// Only a busy batcher lingers: the first batch after a quiet spell commits at once.
		if busy && b.opts.Linger > 0 && len(batch) < b.opts.MaxBatch {
			time.Sleep(b.opts.Linger)
			batch = b.take(batch)
		}
		b.commit(batch)
	}
}

// take moves queued deliveries into batch, up to MaxBatch; with nothing to take and an empty
// batch it ends the commit loop.
func (b *DeliveryBatcher) take(batch []*pendingDelivery) []*pendingDelivery {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := min(len(b.queue), b.opts.MaxBatch-len(batch))
	batch = append(batch, b.queue[:n]...)
	b.queue = slices.Delete(b.queue, 0, n)
	if len(batch) == 0 {
		b.committing = false
		close(b.idle)
	}
	return batch
}

func (b *DeliveryBatcher) commit(batch []*pendingDelivery) {
	live := batch[:0:0]
	for _, p := range batch {
		// A caller that gave up was answered with its context's error; recording its
		// delivery now would be harmless but pointless.
		if err := p.ctx.Err(); err != nil {
			p.err = err
			close(p.done)
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	ds := make([]Delivery, len(live))
	for i, p := range live {
		ds[i] = p.d
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.opts.CommitTimeout)
	var first []bool
	var err error
	if b.stmts == nil {
		b.stmts, err = b.s.prepareDeliveryStmts(ctx)
	}
	if err == nil {
		first, err = b.s.recordDeliveries(ctx, ds, b.stmts)
	}
	cancel()
	for i, p := range live {
		if err != nil {
			p.err = err
		} else {
			p.first = first[i]
		}
		close(p.done)
	}
}

// RecordDeliveries records a batch of deliveries in one transaction and reports, per
// delivery, whether it is the first of its key. Within the batch the earliest delivery of
// a key is the candidate; it is first if the key was not already stored. Marks of first
// deliveries are coalesced per drive (the generation still moves, which is all a reader
// needs to notice them).
func (s *Store) RecordDeliveries(ctx context.Context, ds []Delivery) ([]bool, error) {
	return s.recordDeliveries(ctx, ds, nil)
}

// deliveryStmts are the batch's statements, prepared once per batcher: SQLite spends more
// time parsing a statement than running it, so re-preparing per batch would cost as much as
// the commit saves.
type deliveryStmts struct {
	insert, mark *sql.Stmt
}

const (
	insertDeliverySQL   = `INSERT INTO webhook_deliveries (dedup_key, received_at) VALUES (?, ?) ON CONFLICT (dedup_key) DO NOTHING`
	markDriveChangedSQL = `INSERT INTO changed_drives (app, tenant, drive, reason, requested_at, generation) VALUES (?, ?, ?, ?, ?, 1)
		ON CONFLICT (app, tenant, drive) DO UPDATE SET generation = changed_drives.generation + 1, reason = excluded.reason`
)

func (s *Store) prepareDeliveryStmts(ctx context.Context) (*deliveryStmts, error) {
	ins, err := s.db.PrepareContext(ctx, s.rebind(insertDeliverySQL))
	if err != nil {
		return nil, fmt.Errorf("store: prepare delivery insert: %w", err)
	}
	mark, err := s.db.PrepareContext(ctx, s.rebind(markDriveChangedSQL))
	if err != nil {
		ins.Close()
		return nil, fmt.Errorf("store: prepare drive mark: %w", err)
	}
	return &deliveryStmts{insert: ins, mark: mark}, nil
}

func (s *Store) recordDeliveries(ctx context.Context, ds []Delivery, stmts *deliveryStmts) ([]bool, error) {
	first := make([]bool, len(ds))
	candidate := map[string]int{} // key → index of its earliest delivery in ds
	for i, d := range ds {
		if d.Key == "" {
			first[i] = true
			continue
		}
		if _, dup := candidate[d.Key]; !dup {
			candidate[d.Key] = i
		}
	}
	// Sorted keys and drives make concurrent batches (other replicas on PostgreSQL) take
	// their row locks in one order, so they cannot deadlock.
	keys := make([]string, 0, len(candidate))
	for k := range candidate {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	err := s.Tx(ctx, func(tx *Tx) error {
		var insert, mark *sql.Stmt
		if stmts != nil {
			insert, mark = tx.tx.StmtContext(ctx, stmts.insert), tx.tx.StmtContext(ctx, stmts.mark)
		} else {
			var err error
			if insert, err = tx.tx.PrepareContext(ctx, s.rebind(insertDeliverySQL)); err != nil {
				return fmt.Errorf("store: prepare delivery insert: %w", err)
			}
			if mark, err = tx.tx.PrepareContext(ctx, s.rebind(markDriveChangedSQL)); err != nil {
				return fmt.Errorf("store: prepare drive mark: %w", err)
			}
		}
		defer insert.Close()
		defer mark.Close()
		now := s.now().UnixMilli()
		for _, k := range keys {
			res, err := insert.ExecContext(ctx, k, now)
			if err != nil {
				return fmt.Errorf("store: record delivery: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("store: record delivery: %w", err)
			}
			first[candidate[k]] = n == 1
		}
		marks := map[DriveMark]string{} // drive (reason blank) → reason of its latest mark
		for i, d := range ds {
			if first[i] && d.Mark != nil {
				m := *d.Mark
				m.Reason = ""
				marks[m] = d.Mark.Reason
			}
		}
		drives := make([]DriveMark, 0, len(marks))
		for m := range marks {
			drives = append(drives, m)
		}
		slices.SortFunc(drives, func(a, b DriveMark) int {
			return cmp.Or(cmp.Compare(a.App, b.App), cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Drive, b.Drive))
		})
		for _, m := range drives {
			if _, err := mark.ExecContext(ctx, string(m.App), m.Tenant, m.Drive, marks[m], now); err != nil {
				return fmt.Errorf("store: mark drive changed: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: record deliveries: %w", err)
	}
	return first, nil
}

// CountDeliveries reports how many delivery keys are remembered.
func (s *Store) CountDeliveries(ctx context.Context) (int64, error) {
	var n int64
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM webhook_deliveries`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count deliveries: %w", err)
	}
	return n, nil
}
