package scanqueue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Stats is a snapshot of the queue.
type Stats struct {
	// ByState counts jobs in each state (available, scheduled, retryable, running,
	// completed — while retained — discarded, cancelled).
	ByState map[string]int64 `json:"byState"`
	// ByPriority, ByApp and ByKind count open jobs: due, scheduled, retrying or running.
	ByPriority map[int]int64    `json:"byPriority"`
	ByApp      map[string]int64 `json:"byApp"`
	ByKind     map[string]int64 `json:"byKind"`
	// Dead counts the dead letter: discarded after the last attempt, or cancelled as not
	// retryable.
	Dead int64 `json:"dead"`
	// OldestPendingSeconds is how long the longest-waiting due job has been due.
	OldestPendingSeconds float64 `json:"oldestPendingSeconds"`
}

func openState(s string) bool {
	switch s {
	case "available", "scheduled", "retryable", "running", "pending":
		return true
	}
	return false
}

// Stats counts jobs by state, priority, app and kind.
func (q *Queue) Stats(ctx context.Context) (Stats, error) { return q.stats(ctx, true) }

// DeadCount counts the dead letter (discarded and cancelled jobs) alone. The alerts engine
// asks it every few seconds; the full Stats counts the completed jobs too, kept a day, whose
// count grows with the tenant: at a million files it was a dozen seconds of a rescan's CPU.
func (q *Queue) DeadCount(ctx context.Context) (int64, error) {
	var n int64
	err := q.eng.db().QueryRow(ctx, `SELECT COUNT(*) FROM river_job WHERE state IN ('discarded', 'cancelled')`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("scanqueue: dead letter count: %w", err)
	}
	return n, nil
}

// stats is Stats; with completed false, completed jobs are not counted (ByState has no
// "completed"), which costs in proportion to the open and dead jobs only.
func (q *Queue) stats(ctx context.Context, completed bool) (Stats, error) {
	parts := map[string]string{}
	rows, err := q.eng.db().Query(ctx, `SELECT queue, part FROM scanqueue_partition`)
	if err != nil {
		return Stats{}, fmt.Errorf("scanqueue: stats: %w", err)
	}
	for rows.Next() {
		var name, part string
		if err := rows.Scan(&name, &part); err != nil {
			rows.Close()
			return Stats{}, fmt.Errorf("scanqueue: stats: %w", err)
		}
		parts[name] = part
	}
	rows.Close()
	st := Stats{ByState: map[string]int64{}, ByPriority: map[int]int64{}, ByApp: map[string]int64{}, ByKind: map[string]int64{}}
	// Finished jobs (kept a day) far outnumber open ones after a rescan, and reading their
	// rows, arguments and all, made each call cost milliseconds (a tenth of the gateway's CPU
	// in a rescan polled for progress): they are counted by state alone, from River's index
	// that leads with state, and only open jobs are read for the breakdown.
	finished := `'completed', 'discarded', 'cancelled'`
	if !completed {
		finished = `'discarded', 'cancelled'`
	}
	rows, err = q.eng.db().Query(ctx, `SELECT state, COUNT(*) FROM river_job
		WHERE state IN (`+finished+`) GROUP BY state`)
	if err != nil {
		return Stats{}, fmt.Errorf("scanqueue: stats: %w", err)
	}
	for rows.Next() {
		var state string
		var n int64
		if err := rows.Scan(&state, &n); err != nil {
			rows.Close()
			return Stats{}, fmt.Errorf("scanqueue: stats: %w", err)
		}
		st.ByState[state] += n
		if state == "discarded" || state == "cancelled" {
			st.Dead += n
		}
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return Stats{}, fmt.Errorf("scanqueue: stats: %w", err)
	}
	rows.Close()
	rows, err = q.eng.db().Query(ctx, `SELECT kind, queue, state, priority, COUNT(*),
			MIN(CASE WHEN state = 'available' THEN scheduled_at END)
		FROM river_job WHERE state IN ('available', 'scheduled', 'retryable', 'running', 'pending')
		GROUP BY kind, queue, state, priority`)
	if err != nil {
		return Stats{}, fmt.Errorf("scanqueue: stats: %w", err)
	}
	defer rows.Close()
	var oldest time.Time
	for rows.Next() {
		var kind, queue, state string
		var prio int
		var n int64
		var due any
		if err := rows.Scan(&kind, &queue, &state, &prio, &n, &due); err != nil {
			return Stats{}, fmt.Errorf("scanqueue: stats: %w", err)
		}
		st.ByState[state] += n
		if openState(state) {
			st.ByPriority[prio] += n
			st.ByKind[kind] += n
			app, _, _ := strings.Cut(parts[queue], "/")
			if app == "" {
				app = "-"
			}
			st.ByApp[app] += n
		}
		if t, ok := parseTime(due); ok && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	if err := rows.Err(); err != nil {
		return Stats{}, fmt.Errorf("scanqueue: stats: %w", err)
	}
	if !oldest.IsZero() {
		st.OldestPendingSeconds = max(q.now().Sub(oldest).Seconds(), 0)
	}
	return st, nil
}

// JobDue reports whether job id is due or running: it will run (again) as soon as a worker
// takes it. A job waiting for its time (scheduled, or retrying after a failure), finished, dead
// or gone from the table is not. It is one primary-key read: a rescan's walk asks it about
// the newest job of its oldest queued batch to stay at most so far ahead of the scans
// (counting an app's open jobs read thousands of index entries, most of them dead tuples of
// jobs that had moved on: 6,351 buffers a count at 100,000 files). A job waiting out a
// provider's Retry-After must not hold the walk: the scans behind it are not waiting for it.
func (q *Queue) JobDue(ctx context.Context, id int64) (bool, error) {
	var state string
	err := q.eng.db().QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`, id).Scan(&state)
	if isNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("scanqueue: job %d: %w", id, err)
	}
	switch state {
	case "available", "running", "pending":
		return true, nil
	}
	return false, nil
}

// appQueues names the River queues of app's partitions (every queue when app is "").
func (q *Queue) appQueues(ctx context.Context, app string) ([]string, error) {
	rows, err := q.eng.db().Query(ctx, `SELECT queue, part FROM scanqueue_partition`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var queues []string
	for rows.Next() {
		var name, part string
		if err := rows.Scan(&name, &part); err != nil {
			return nil, err
		}
		if a, _, _ := strings.Cut(part, "/"); app == "" || a == app {
			queues = append(queues, name)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if app == "" {
		queues = append(queues, river.QueueDefault)
	}
	return queues, nil
}

// Pending reports whether any job of app (all apps when app is "") is due, scheduled,
// retrying or running. Unlike Stats it reads no jobs: one index probe per partition, so it
// can be polled while a rescan's hundred thousand jobs are open (Stats then read them all,
// a fifth of the gateway's CPU in a 100,000-file rescan polled by the load tool).
func (q *Queue) Pending(ctx context.Context, app string) (bool, error) {
	queues, err := q.appQueues(ctx, app)
	if err != nil {
		return false, fmt.Errorf("scanqueue: pending: %w", err)
	}
	q1 := `SELECT 1 FROM river_job WHERE state IN ('available', 'scheduled', 'retryable', 'running', 'pending')
		AND queue = $1 LIMIT 1`
	for _, name := range queues {
		var one int
		err := q.eng.db().QueryRow(ctx, q1, name).Scan(&one)
		if err == nil {
			return true, nil
		}
		if !isNoRows(err) {
			return false, fmt.Errorf("scanqueue: pending: %w", err)
		}
	}
	return false, nil
}

// DeadJob is a job in the dead letter.
type DeadJob struct {
	ID          int64           `json:"id"`
	Kind        string          `json:"kind"`
	Key         string          `json:"key,omitempty"`
	Partition   string          `json:"partition,omitempty"`
	State       string          `json:"state"` // discarded (attempts used up) or cancelled (not retryable)
	Attempt     int             `json:"attempt"`
	MaxAttempts int             `json:"maxAttempts"`
	Error       string          `json:"error"`
	FailedAt    time.Time       `json:"failedAt"`
	Args        json.RawMessage `json:"args"`
}

// ErrNotDead is returned by Requeue for a job that is not in the dead letter.
var ErrNotDead = errors.New("scanqueue: job is not in the dead letter")

// ErrNotFound is returned for an unknown job id.
var ErrNotFound = errors.New("scanqueue: no such job")

// MaxDeadList is the most dead jobs one Dead call lists: River's JobList refuses (panics
// on) more than 10,000, and callers page instead.
const MaxDeadList = 10000

// Dead lists the dead letter, most recent first; limit is clamped to 1..MaxDeadList.
func (q *Queue) Dead(ctx context.Context, limit int) ([]DeadJob, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, MaxDeadList)
	res, err := q.eng.client().JobList(ctx, river.NewJobListParams().
		States(rivertype.JobStateDiscarded, rivertype.JobStateCancelled).
		OrderBy(river.JobListOrderByFinalizedAt, river.SortOrderDesc).
		First(limit))
	if err != nil {
		return nil, fmt.Errorf("scanqueue: dead: %w", err)
	}
	out := make([]DeadJob, 0, len(res.Jobs))
	for _, r := range res.Jobs {
		out = append(out, deadJob(r))
	}
	return out, nil
}

func deadJob(r *rivertype.JobRow) DeadJob {
	var env envelope
	_ = json.Unmarshal(r.EncodedArgs, &env) // foreign rows just show without key
	d := DeadJob{ID: r.ID, Kind: r.Kind, Key: env.Key, Partition: env.Part, State: string(r.State),
		Attempt: r.Attempt, MaxAttempts: r.MaxAttempts, Args: env.Args}
	if n := len(r.Errors); n > 0 {
		d.Error = r.Errors[n-1].Error
		d.FailedAt = r.Errors[n-1].At
	}
	if r.FinalizedAt != nil {
		d.FailedAt = *r.FinalizedAt
	}
	return d
}

// Requeue gives a dead job another run now. If a job for the same key is already queued
// or running, the dead one is folded into it instead.
func (q *Queue) Requeue(ctx context.Context, id int64) error {
	c := q.eng.client()
	row, err := c.JobGet(ctx, id)
	if errors.Is(err, river.ErrNotFound) {
		return fmt.Errorf("%w: %d", ErrNotFound, id)
	}
	if err != nil {
		return fmt.Errorf("scanqueue: requeue %d: %w", id, err)
	}
	if row.State != rivertype.JobStateDiscarded && row.State != rivertype.JobStateCancelled {
		return fmt.Errorf("%w: job %d is %s", ErrNotDead, id, row.State)
	}
	if _, err := c.JobRetry(ctx, id); err == nil {
		return nil
	} else if row.UniqueKey == nil {
		return fmt.Errorf("scanqueue: requeue %d: %w", id, err)
	}
	// The retry collided with a live job for the same key: merge into that one.
	var env envelope
	if err := json.Unmarshal(row.EncodedArgs, &env); err != nil {
		return fmt.Errorf("scanqueue: requeue %d: %w", id, err)
	}
	it := item{kind: row.Kind, key: env.Key, part: env.Part, args: env.Args, prio: Priority(row.Priority)}
	q.normalize(&it)
	err = q.eng.inTx(ctx, func(ctx context.Context, tx Tx, ins inserter) error {
		var a, b, c int
		if err := q.insertTx(ctx, tx, ins, []item{it}, make([]int64, 1), &a, &b, &c); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM river_job WHERE id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("scanqueue: requeue %d: %w", id, err)
	}
	return nil
}
