package scanqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

var kindRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_\-./:]+$`)

// Priority orders due jobs of one partition: 1 runs first, 4 last.
type Priority int

// Priorities, most urgent first.
const (
	PriorityAdmin   Priority = 1
	PriorityWebhook Priority = 2
	PriorityPolicy  Priority = 3
	PriorityRescan  Priority = 4
)

// Request asks for one job of kind T.
type Request[T any] struct {
	Args T
	// Key dedups: while a job with the same kind and key is pending, the request merges
	// into it (the more urgent priority and the earlier due time win, and the more urgent
	// request's args replace the job's); while one is running, the request is queued
	// again once it ends. "" = no dedup.
	Key string
	// Partition is the fairness unit, "app/tenant" by convention: partitions take turns,
	// so one with a huge backlog cannot starve the others. "" = the shared default.
	Partition string
	// Priority defaults to PriorityRescan.
	Priority Priority
	// RunAt delays the job; zero = now.
	RunAt time.Time
	// MaxAttempts overrides Config.MaxAttempts when > 0.
	MaxAttempts int
}

// EnqueueResult says what became of a batch of requests.
type EnqueueResult struct {
	Inserted int `json:"inserted"` // new jobs
	Merged   int `json:"merged"`   // merged into a pending job (or a duplicate in the same batch)
	Deferred int `json:"deferred"` // the key's job is running: queued again when it ends
	// IDs has the job each request went to (the running job's for a deferred one).
	IDs []int64 `json:"ids"`
}

// Job is one job handed to a handler.
type Job[T any] struct {
	ID          int64
	Kind        string
	Key         string
	Partition   string
	Args        T
	Priority    Priority
	Attempt     int // 1 on the first try
	MaxAttempts int
	CreatedAt   time.Time

	q  *Queue
	rj *river.Job[envelope]
}

// CompleteTx runs fn in a transaction of the queue's database and completes the job in
// that same transaction: either both fn's writes and the completion commit, or neither,
// so a crash can never leave the effect recorded with the job still due (or the reverse).
// The handler returns nil after it.
func (j *Job[T]) CompleteTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	return j.q.eng.completeTx(ctx, j.rj, fn)
}

// Handler works one job. It returns nil when done; an error to retry with backoff (or at
// the provider's Retry-After, see connectors.RetryAfter); an error that is not
// connectors.Retryable to send the job to the dead letter at once; Snooze/SnoozeUntil to
// resume later without counting a failure.
type Handler[T any] func(ctx context.Context, job *Job[T]) error

// Kind is a typed job kind on a Queue.
type Kind[T any] struct {
	q    *Queue
	name string
}

// envelope is the one River args type behind every kind: the kind's args as JSON, the
// dedup key (River's unique key is computed from it alone) and the partition.
type envelope struct {
	kind string
	Key  string          `json:"key,omitempty" river:"unique"`
	Part string          `json:"part,omitempty"`
	Args json.RawMessage `json:"args"`
}

func (e envelope) Kind() string { return e.kind }

// uniqueStates are the states in which a job absorbs new requests for its key. Completed
// is left out so a finished file can be queued again; retryable is kept so a change to a
// failing file pulls its retry forward instead of adding a second job.
var uniqueStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled,
}

// NewKind declares a job kind (at least 2 characters). Enqueueing needs only this; call
// Handle as well to work the kind in this process.
func NewKind[T any](q *Queue, name string) (*Kind[T], error) {
	if len(name) < 2 || len(name) > 100 || !kindRe.MatchString(name) {
		return nil, fmt.Errorf("scanqueue: invalid kind name %q", name)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.names[name] {
		return nil, fmt.Errorf("scanqueue: kind %q declared twice", name)
	}
	q.names[name] = true
	return &Kind[T]{q: q, name: name}, nil
}

// Name is the kind's name.
func (k *Kind[T]) Name() string { return k.name }

// Handle registers the kind's handler; it must be called before Start.
func (k *Kind[T]) Handle(h Handler[T]) error {
	q := k.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.started {
		return errors.New("scanqueue: Handle after Start")
	}
	if q.kinds[k.name] {
		return fmt.Errorf("scanqueue: kind %q already has a handler", k.name)
	}
	w := &worker{q: q, kind: k.name, run: func(ctx context.Context, rj *river.Job[envelope]) error {
		job := &Job[T]{
			ID: rj.ID, Kind: rj.Kind, Key: rj.Args.Key, Partition: rj.Args.Part,
			Priority: Priority(rj.Priority), Attempt: rj.Attempt, MaxAttempts: rj.MaxAttempts,
			CreatedAt: rj.CreatedAt, q: q, rj: rj,
		}
		if err := json.Unmarshal(rj.Args.Args, &job.Args); err != nil {
			return river.JobCancel(fmt.Errorf("scanqueue: decode %s args: %w", rj.Kind, err))
		}
		return h(ctx, job)
	}}
	river.AddWorkerArgs(q.workers, envelope{kind: k.name}, w) // cannot collide: checked above
	q.kinds[k.name] = true
	return nil
}

// Enqueue queues requests in one transaction, merging duplicates (see Request.Key).
func (k *Kind[T]) Enqueue(ctx context.Context, reqs ...Request[T]) (EnqueueResult, error) {
	items := make([]item, len(reqs))
	for i, r := range reqs {
		raw, err := json.Marshal(r.Args)
		if err != nil {
			return EnqueueResult{}, fmt.Errorf("scanqueue: encode %s args: %w", k.name, err)
		}
		items[i] = item{kind: k.name, key: r.Key, part: r.Partition, args: raw,
			prio: r.Priority, runAt: r.RunAt, maxAttempts: r.MaxAttempts}
	}
	return k.q.enqueue(ctx, items)
}

// item is a request with its args encoded.
type item struct {
	kind, key, part string
	args            json.RawMessage
	prio            Priority
	runAt           time.Time
	maxAttempts     int
	queue           string
}

// more reports whether a is more urgent than b.
func (a item) more(b item) bool {
	return a.prio < b.prio || (a.prio == b.prio && a.runAt.Before(b.runAt))
}

func (q *Queue) normalize(it *item) {
	if it.prio < PriorityAdmin || it.prio > PriorityRescan {
		it.prio = PriorityRescan
	}
	if it.runAt.IsZero() {
		it.runAt = q.now()
	}
	if it.maxAttempts <= 0 {
		it.maxAttempts = q.cfg.MaxAttempts
	}
	it.queue = queueName(it.kind, it.part)
}

func (q *Queue) enqueue(ctx context.Context, items []item) (EnqueueResult, error) {
	res := EnqueueResult{IDs: make([]int64, len(items))}
	if len(items) == 0 {
		return res, nil
	}
	// Merge duplicates within the batch first: one statement cannot both insert and
	// conflict on the same key.
	byKey := map[string]int{}
	batch := make([]item, 0, len(items))
	owner := make([]int, len(items)) // request index → batch index
	for i := range items {
		it := items[i]
		q.normalize(&it)
		if it.key != "" {
			k := it.kind + "\x00" + it.key
			if j, ok := byKey[k]; ok {
				cur := batch[j]
				if it.more(cur) {
					it.runAt = minTime(it.runAt, cur.runAt)
					batch[j] = it
				} else {
					batch[j].runAt = minTime(cur.runAt, it.runAt)
				}
				owner[i] = j
				res.Merged++
				continue
			}
			byKey[k] = len(batch)
		}
		owner[i] = len(batch)
		batch = append(batch, it)
	}
	newQueues := q.unknownQueues(batch)
	ids := make([]int64, len(batch))
	var inserted, merged, deferred int
	err := q.eng.inTx(ctx, func(ctx context.Context, tx Tx, ins inserter) error {
		inserted, merged, deferred = 0, 0, 0
		for name, it := range newQueues {
			if _, err := tx.Exec(ctx, `INSERT INTO scanqueue_partition (queue, kind, part) VALUES ($1, $2, $3)
				ON CONFLICT (queue) DO NOTHING`, name, it.kind, it.part); err != nil {
				return fmt.Errorf("record partition: %w", err)
			}
		}
		return q.insertTx(ctx, tx, ins, batch, ids, &inserted, &merged, &deferred)
	})
	if err != nil {
		return EnqueueResult{}, fmt.Errorf("scanqueue: enqueue: %w", err)
	}
	q.addQueues(newQueues)
	res.Inserted, res.Merged, res.Deferred = inserted, res.Merged+merged, deferred
	for i := range items {
		res.IDs[i] = ids[owner[i]]
	}
	q.metrics.enqueued(batch[0].kind, inserted, res.Merged, deferred)
	if deferred > 0 {
		q.nudge()
	}
	return res, nil
}

// insertTx inserts batch through River and settles each unique conflict: a pending job
// takes the more urgent priority, args and due time; a running one gets a rerun mark.
func (q *Queue) insertTx(ctx context.Context, tx Tx, ins inserter, batch []item, ids []int64, inserted, merged, deferred *int) error {
	params := make([]river.InsertManyParams, len(batch))
	now := q.now()
	for i, it := range batch {
		opts := &river.InsertOpts{Queue: it.queue, Priority: int(it.prio), MaxAttempts: it.maxAttempts}
		if it.runAt.After(now) {
			// Only future times: River inserts any explicit time as "scheduled", which
			// its scheduler would only release on its next round.
			opts.ScheduledAt = it.runAt
		}
		if it.key != "" {
			opts.UniqueOpts = river.UniqueOpts{ByArgs: true, ByState: uniqueStates}
		}
		params[i] = river.InsertManyParams{Args: envelope{kind: it.kind, Key: it.key, Part: it.part, Args: it.args}, InsertOpts: opts}
	}
	results, err := ins(ctx, params)
	if err != nil {
		return err
	}
	var mergeIDs []int64
	var mergeItems []item
	for i, r := range results {
		ids[i] = r.Job.ID
		if !r.UniqueSkippedAsDuplicate {
			*inserted++
			continue
		}
		// The conflicting row is locked by the insert's ON CONFLICT DO UPDATE until this
		// transaction ends, so its state cannot change under the decision below.
		it := batch[i]
		if r.Job.State == rivertype.JobStateRunning {
			if err := q.markRerun(ctx, tx, r.Job.ID, it); err != nil {
				return err
			}
			*deferred++
			continue
		}
		mergeIDs = append(mergeIDs, r.Job.ID)
		mergeItems = append(mergeItems, it)
	}
	if err := q.mergeMany(ctx, tx, mergeIDs, mergeItems); err != nil {
		return err
	}
	*merged += len(mergeIDs)
	return nil
}

// A merged request's args replace the job's when it is at least as urgent: a later request
// describes a later state (a scan's facts as the change feed saw them after the user's last
// save), and keeping the first one's made a scan read a file with the size it had before that
// save. A less urgent request only pulls the job's schedule forward.
//
// mergeMany merges items into the pending jobs ids (one job per item; the batch holds
// each key once). PostgreSQL takes them in one statement, since each statement is a
// round trip; SQLite runs in-process, where one prepared UPDATE per job is cheaper than
// decoding arrays.
func (q *Queue) mergeMany(ctx context.Context, tx Tx, ids []int64, items []item) error {
	if len(ids) == 0 {
		return nil
	}
	if !q.d.postgres || len(ids) == 1 {
		for i, id := range ids {
			if err := q.mergeInto(ctx, tx, id, items[i]); err != nil {
				return err
			}
		}
		return nil
	}
	prios := make([]int32, len(items))
	args := make([]string, len(items))
	runAts := make([]time.Time, len(items))
	for i, it := range items {
		prios[i] = int32(it.prio)
		args[i] = string(mustEnvelope(it))
		runAts[i] = it.runAt.UTC()
	}
	_, err := tx.Exec(ctx, `UPDATE river_job AS j SET
			args = CASE WHEN m.prio <= j.priority THEN m.args ELSE j.args END,
			priority = LEAST(j.priority, m.prio),
			scheduled_at = LEAST(j.scheduled_at, m.run_at),
			state = CASE WHEN j.state IN ('scheduled', 'retryable') AND LEAST(j.scheduled_at, m.run_at) <= $5
				THEN 'available' ELSE j.state END
		FROM unnest($1::bigint[], $2::int[], $3::jsonb[], $4::timestamptz[]) AS m(id, prio, args, run_at)
		WHERE j.id = m.id AND j.state IN ('available', 'scheduled', 'retryable', 'pending')`,
		ids, prios, args, runAts, q.now().UTC())
	if err != nil {
		return fmt.Errorf("merge into %d jobs: %w", len(ids), err)
	}
	return nil
}

// mergeInto raises a pending job to the request's urgency: River's unique insert only
// skips duplicates, so the more urgent one is folded into the existing row here.
func (q *Queue) mergeInto(ctx context.Context, tx Tx, id int64, it item) error {
	l := q.d.least()
	_, err := tx.Exec(ctx, `UPDATE river_job SET
			args = CASE WHEN $2 <= priority THEN `+q.d.jsonArg(3)+` ELSE args END,
			priority = `+l+`(priority, $2),
			scheduled_at = `+l+`(scheduled_at, $4),
			state = CASE WHEN state IN ('scheduled', 'retryable') AND `+l+`(scheduled_at, $4) <= $5
				THEN 'available' ELSE state END
		WHERE id = $1 AND state IN ('available', 'scheduled', 'retryable', 'pending')`,
		id, int(it.prio), string(mustEnvelope(it)), q.d.timeArg(it.runAt), q.d.timeArg(q.now()))
	if err != nil {
		return fmt.Errorf("merge into job %d: %w", id, err)
	}
	return nil
}

func mustEnvelope(it item) []byte {
	b, _ := json.Marshal(envelope{Key: it.key, Part: it.part, Args: it.args})
	return b
}

// markRerun records that the running job id must be followed by this request; several
// requests collapse into the most urgent one, the latest among equals.
func (q *Queue) markRerun(ctx context.Context, tx Tx, id int64, it item) error {
	_, err := tx.Exec(ctx, `INSERT INTO scanqueue_rerun (job_id, kind, job_key, part, queue, args, priority, run_at, max_attempts)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (job_id) DO UPDATE SET
			args = CASE WHEN excluded.priority <= scanqueue_rerun.priority THEN excluded.args ELSE scanqueue_rerun.args END,
			priority = CASE WHEN excluded.priority < scanqueue_rerun.priority THEN excluded.priority ELSE scanqueue_rerun.priority END,
			run_at = CASE WHEN excluded.run_at < scanqueue_rerun.run_at THEN excluded.run_at ELSE scanqueue_rerun.run_at END`,
		id, it.kind, it.key, it.part, it.queue, string(it.args), int(it.prio), it.runAt.UnixMilli(), it.maxAttempts)
	if err != nil {
		return fmt.Errorf("mark rerun of job %d: %w", id, err)
	}
	return nil
}

// unknownQueues returns the batch's partitions this process has not seen yet.
func (q *Queue) unknownQueues(batch []item) map[string]item {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out map[string]item
	for _, it := range batch {
		if _, ok := q.queues[it.queue]; ok {
			continue
		}
		if out == nil {
			out = map[string]item{}
		}
		out[it.queue] = it
	}
	return out
}

// addQueues starts working new partitions (once Start has run, and for kinds this
// process handles — River fetches only those).
func (q *Queue) addQueues(newQueues map[string]item) {
	for name, it := range newQueues {
		q.addQueue(name, it.part)
	}
}

func (q *Queue) addQueue(name, part string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.queues[name] = part
	if len(q.kinds) == 0 || q.added[name] {
		return
	}
	err := q.eng.client().Queues().Add(name, river.QueueConfig{MaxWorkers: q.cfg.PartitionWorkers})
	if err != nil && !errors.Is(err, &river.QueueAlreadyAddedError{Name: name}) {
		q.log.Warn("scanqueue: add partition", "queue", name, "err", err)
		return
	}
	q.added[name] = true
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
