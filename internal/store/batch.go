package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
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
	// Linger is how long a commit waits for more deliveries once it has some. The default,
	// 0, commits at once: deliveries arriving during a commit form the next batch anyway, so
	// batches grow with load without adding latency when the endpoint is quiet.
	Linger time.Duration
	// CommitTimeout bounds one batch's transaction. Default 30s.
	CommitTimeout time.Duration
}

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
	if !committing {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("store: delivery batcher close: %w", ctx.Err())
	}
}

func (b *DeliveryBatcher) commitLoop() {
	for {
		batch := b.take(nil)
		if len(batch) == 0 {
			return
		}
		if b.opts.Linger > 0 && len(batch) < b.opts.MaxBatch {
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
	first, err := b.s.RecordDeliveries(ctx, ds)
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

// deliveryChunk bounds the rows of one multi-row insert, well inside both backends'
// placeholder limits.
const deliveryChunk = 400

// RecordDeliveries records a batch of deliveries in one transaction and reports, per
// delivery, whether it is the first of its key. Within the batch the earliest delivery of
// a key is the candidate; it is first if the key was not already stored. Marks of first
// deliveries are coalesced per drive (the generation still moves, which is all a reader
// needs to notice them).
func (s *Store) RecordDeliveries(ctx context.Context, ds []Delivery) ([]bool, error) {
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
		now := s.now().UnixMilli()
		for c := range slices.Chunk(keys, deliveryChunk) {
			inserted, err := tx.insertDeliveryKeys(ctx, c, now)
			if err != nil {
				return err
			}
			for _, k := range inserted {
				if i, ok := candidate[k]; ok {
					first[i] = true
				}
			}
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
			if _, err := tx.exec(ctx, markDriveChangedSQL, string(m.App), m.Tenant, m.Drive, marks[m], now); err != nil {
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

const markDriveChangedSQL = `INSERT INTO changed_drives (app, tenant, drive, reason, requested_at, generation) VALUES (?, ?, ?, ?, ?, 1)
		ON CONFLICT (app, tenant, drive) DO UPDATE SET generation = changed_drives.generation + 1, reason = excluded.reason`

// insertDeliveryKeys stores distinct keys, returning those that were not stored yet.
func (t *Tx) insertDeliveryKeys(ctx context.Context, keys []string, now int64) ([]string, error) {
	var q strings.Builder
	q.WriteString(`INSERT INTO webhook_deliveries (dedup_key, received_at) VALUES `)
	args := make([]any, 0, 2*len(keys))
	for i, k := range keys {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?)")
		args = append(args, k, now)
	}
	q.WriteString(` ON CONFLICT (dedup_key) DO NOTHING RETURNING dedup_key`)
	rows, err := t.query(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("store: record delivery: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("store: record delivery: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: record delivery: %w", err)
	}
	return out, nil
}
