package labeling

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/scanqueue"
)

// ActionJobKind is the queue job kind that runs one label action.
const ActionJobKind = "label_action"

// ActionJob is a label_action job's arguments.
type ActionJob struct {
	ActionID int64 `json:"actionId"`
}

// QueueDispatcher runs label actions as jobs of the durable queue: one job per action, unique
// by action id, admins' actions at PriorityAdmin above policy actions at PriorityPolicy, each
// app+tenant its own partition. The queue brings retries of store failures, leases for dead
// workers and fairness between tenants; the store's action row stays the record of truth, so
// running a job twice does nothing the second time.
type QueueDispatcher struct {
	e    *Executor
	kind *scanqueue.Kind[ActionJob]
}

// OnQueue declares the label_action kind on q and handles it with this executor. Call it
// before q.Start.
func (e *Executor) OnQueue(q *scanqueue.Queue) (*QueueDispatcher, error) {
	k, err := scanqueue.NewKind[ActionJob](q, ActionJobKind)
	if err != nil {
		return nil, err
	}
	d := &QueueDispatcher{e: e, kind: k}
	if err := k.Handle(d.handle); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *QueueDispatcher) handle(ctx context.Context, job *scanqueue.Job[ActionJob]) error {
	out, err := d.e.Execute(ctx, job.Args.ActionID)
	if err == nil && !out.Claimed && out.State == store.ActionRunning {
		// A job is its action's only one (unique by action id, running included), so an
		// action already running when its job starts was left so by an earlier run of this
		// job that died: the process was killed, or the run outlived its lease and was
		// rescued after its context had ended. Take it back now instead of after StaleAfter
		// (only swept at start); the executor re-reads the file before writing, so a write
		// that did land is not repeated.
		err = d.e.st.CompleteAction(ctx, store.Completion{ID: job.Args.ActionID, State: store.ActionPending,
			Reason: "requeued: the previous run of its job stopped while running"})
		if err != nil && !errors.Is(err, store.ErrNotRunning) {
			return err
		}
		out, err = d.e.Execute(ctx, job.Args.ActionID)
	}
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil // the action is gone: nothing to do
	case err != nil:
		return err // a store failure: the queue retries with backoff
	}
	// Paused for the quota, or to be tried again later: the job sleeps until then instead of
	// counting a failure; the action row says why.
	if (out.State == store.ActionPaused || out.State == store.ActionPending) && !out.NotBefore.IsZero() {
		return scanqueue.SnoozeUntil(out.NotBefore)
	}
	return nil
}

func jobRequest(a store.Action) scanqueue.Request[ActionJob] {
	prio := scanqueue.PriorityPolicy
	if a.Manual {
		prio = scanqueue.PriorityAdmin
	}
	return scanqueue.Request[ActionJob]{
		Args:      ActionJob{ActionID: a.ID},
		Key:       "action:" + strconv.FormatInt(a.ID, 10),
		Partition: string(a.Ref.App) + "/" + a.Ref.Tenant,
		Priority:  prio,
		RunAt:     a.NotBefore,
	}
}

// Enqueue queues jobs for actions just recorded (by the policies engine or the admin API),
// so they run without waiting for the next sweep.
func (d *QueueDispatcher) Enqueue(ctx context.Context, actions ...store.Action) error {
	reqs := make([]scanqueue.Request[ActionJob], 0, len(actions))
	for _, a := range actions {
		if store.ExecutorKind(a.Kind) {
			reqs = append(reqs, jobRequest(a))
		}
	}
	if len(reqs) == 0 {
		return nil
	}
	if _, err := d.kind.Enqueue(ctx, reqs...); err != nil {
		return fmt.Errorf("labeling: enqueue actions: %w", err)
	}
	return nil
}

// Sweep resumes paused actions whose quota window reset and queues a job for every due
// pending label action, oldest first; an action that already has a pending job merges into
// it. It catches actions nobody enqueued, and those a re-enabled policy released.
func (d *QueueDispatcher) Sweep(ctx context.Context) (int, error) {
	now := d.e.clock.Now()
	if _, err := d.e.st.ResumePaused(ctx, now); err != nil {
		return 0, err
	}
	var after int64
	n := 0
	for {
		due, err := d.e.st.RunnableActions(ctx, store.RunnableFilter{Now: now, AfterID: after, Limit: 1000})
		if err != nil {
			return n, err
		}
		if len(due) == 0 {
			return n, nil
		}
		if err := d.Enqueue(ctx, due...); err != nil {
			return n, err
		}
		n += len(due)
		after = due[len(due)-1].ID
	}
}

// Run sweeps every PollInterval (or when the executor is woken) until ctx ends; the queue's
// own workers run the jobs. At start it requeues actions left running by a dead worker.
func (d *QueueDispatcher) Run(ctx context.Context) error {
	return d.e.loop(ctx, func(ctx context.Context) error {
		_, err := d.Sweep(ctx)
		return err
	})
}
