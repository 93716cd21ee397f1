package scanqueue

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// statsEvery paces the gauge refresh, which counts the open and dead jobs.
const statsEvery = 15 * time.Second

// completedStatsEvery is how often the queue gauge counts completed jobs.
const completedStatsEvery = 5 * time.Minute

func (q *Queue) nudge() {
	select {
	case q.maintCh <- struct{}{}:
	default:
	}
}

func (q *Queue) maintain(ctx context.Context) {
	defer close(q.maintOut)
	t := time.NewTicker(q.cfg.MaintenanceInterval)
	defer t.Stop()
	var lastStats, lastCompleted time.Time
	var completedN int64
	for {
		if err := q.refreshPartitions(ctx); err != nil && ctx.Err() == nil {
			q.log.Warn("scanqueue: refresh partitions", "err", err)
		}
		if _, err := q.sweepReruns(ctx); err != nil && ctx.Err() == nil {
			q.log.Warn("scanqueue: rerun changed files", "err", err)
		}
		if time.Since(lastStats) >= statsEvery {
			lastStats = time.Now()
			// Completed jobs are counted every completedStatsEvery only: their count grows
			// with the tenant (a million after a million-file rescan), the others' with the
			// backlog. In between the gauge keeps the last completed count.
			withCompleted := time.Since(lastCompleted) >= completedStatsEvery
			if st, err := q.stats(ctx, withCompleted); err == nil {
				if withCompleted {
					lastCompleted, completedN = lastStats, st.ByState["completed"]
				} else if completedN > 0 {
					st.ByState["completed"] = completedN
				}
				q.metrics.setGauges(st)
			} else if ctx.Err() == nil {
				q.log.Warn("scanqueue: stats", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-q.maintCh:
		}
	}
}

// refreshPartitions works the partitions other processes (or this one before Start)
// enqueued to.
func (q *Queue) refreshPartitions(ctx context.Context) error {
	rows, err := q.eng.db().Query(ctx, `SELECT queue, part FROM scanqueue_partition`)
	if err != nil {
		return err
	}
	type qp struct{ name, part string }
	var all []qp
	for rows.Next() {
		var p qp
		if err := rows.Scan(&p.name, &p.part); err != nil {
			rows.Close()
			return err
		}
		all = append(all, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, p := range all {
		q.addQueue(p.name, p.part)
	}
	return nil
}

// sweepReruns queues again the requests that arrived while their key's job was running,
// once that job has left the running state (completed, failed, dead, or rescued). It
// returns how many it settled.
func (q *Queue) sweepReruns(ctx context.Context) (int, error) {
	rows, err := q.eng.db().Query(ctx, `SELECT r.job_id FROM scanqueue_rerun r
		LEFT JOIN river_job j ON j.id = r.job_id
		WHERE j.id IS NULL OR j.state <> 'running'
		ORDER BY r.job_id LIMIT 500`)
	if err != nil {
		return 0, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		done, err := q.rerun(ctx, id)
		if err != nil {
			return n, fmt.Errorf("rerun after job %d: %w", id, err)
		}
		if done {
			n++
		}
	}
	return n, nil
}

func (q *Queue) rerun(ctx context.Context, id int64) (bool, error) {
	done := false
	var it item
	err := q.eng.inTx(ctx, func(ctx context.Context, tx Tx, ins inserter) error {
		done = false
		// Lock the job first: an enqueuer holds this lock while it adds to the mark, so
		// reading the mark after it sees every request made while the job ran.
		var state string
		err := tx.QueryRow(ctx, `SELECT state FROM river_job WHERE id = $1`+q.d.forUpdate(), id).Scan(&state)
		if err != nil && !isNoRows(err) {
			return err
		}
		if state == "running" {
			return nil
		}
		var args string
		var prio int
		var runAt int64
		err = tx.QueryRow(ctx, `DELETE FROM scanqueue_rerun WHERE job_id = $1
			RETURNING kind, job_key, part, queue, args, priority, run_at, max_attempts`, id).
			Scan(&it.kind, &it.key, &it.part, &it.queue, &args, &prio, &runAt, &it.maxAttempts)
		if isNoRows(err) {
			return nil
		}
		if err != nil {
			return err
		}
		it.args, it.prio, it.runAt = []byte(args), Priority(prio), time.UnixMilli(runAt)
		ids := make([]int64, 1)
		var a, b, c int
		if err := q.insertTx(ctx, tx, ins, []item{it}, ids, &a, &b, &c); err != nil {
			return err
		}
		done = true
		return nil
	})
	if done {
		q.metrics.enqueuedTotal.WithLabelValues(it.kind, "rerun").Inc()
	}
	return done, err
}

func isNoRows(err error) bool {
	return err != nil && (errors.Is(err, errNoRowsSQL) || errors.Is(err, errNoRowsPgx))
}
