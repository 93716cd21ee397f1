package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"golang.org/x/sync/errgroup"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/alerts"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/labeling"
)

// rescans tracks the rescans this process is running, so they can be canceled.
type rescans struct {
	mu      sync.Mutex
	running map[int64]context.CancelFunc
	// parent is Run's background context; nil until Run starts. Rescans started before
	// then wait in pending, so none outlives a shutdown it never heard of.
	parent  context.Context
	pending []store.Rescan
	// retryBudget overrides rescanRetryBudget (tests).
	retryBudget time.Duration
}

// ErrUnknownConnector is returned for a connector name that is not configured.
var ErrUnknownConnector = errors.New("unknown connector")

// startRescans lets rescans run under ctx (Run's background context) and launches those
// started before Run.
func (g *Gateway) startRescans(ctx context.Context) {
	g.rescans.mu.Lock()
	g.rescans.parent = ctx
	pending := g.rescans.pending
	g.rescans.pending = nil
	g.rescans.mu.Unlock()
	for _, r := range pending {
		g.launchRescan(r)
	}
}

// StartRescan begins a full rescan of a connector, or of one drive when scope names it.
// Unless force is set, files whose etag and size are unchanged since their last good scan
// are skipped. It returns at once; the walk runs in the background and resumes after a
// restart from where it stopped.
func (g *Gateway) StartRescan(ctx context.Context, connector, scope string, force bool) (store.Rescan, error) {
	conn, ok := g.reg.byName[connector]
	if !ok {
		return store.Rescan{}, fmt.Errorf("%w %q", ErrUnknownConnector, connector)
	}
	r, err := g.store.CreateRescan(ctx, store.Rescan{Connector: conn.Name, App: conn.C.App(), Tenant: conn.C.Tenant(), Scope: scope, Force: force})
	if err != nil {
		return r, err
	}
	g.log.Info("rescan started", "rescan", r.ID, "connector", conn.Name, "scope", scope, "force", force)
	g.launchRescan(r)
	return r, nil
}

func (g *Gateway) launchRescan(r store.Rescan) {
	g.rescans.mu.Lock()
	defer g.rescans.mu.Unlock()
	if _, busy := g.rescans.running[r.ID]; busy {
		return
	}
	parent := g.rescans.parent
	if parent == nil {
		// The scheduler may find its own not-yet-launched rescan stale; queue it once.
		for _, p := range g.rescans.pending {
			if p.ID == r.ID {
				return
			}
		}
		g.rescans.pending = append(g.rescans.pending, r)
		return
	}
	ctx, cancel := context.WithCancel(parent)
	g.rescans.running[r.ID] = cancel
	g.markRescanStart(r)
	g.goBG(func() {
		defer func() {
			g.rescans.mu.Lock()
			delete(g.rescans.running, r.ID)
			g.rescans.mu.Unlock()
			cancel()
		}()
		err := g.RunRescan(ctx, r)
		switch {
		case err == nil:
			_, _ = g.store.FinishRescan(context.WithoutCancel(ctx), r.ID, store.RescanDone, "")
			g.log.Info("rescan done", "rescan", r.ID, "connector", r.Connector)
		case parent.Err() != nil:
			// Shutting down: the rescan stays running and resumes after the restart.
		case errors.Is(err, context.Canceled):
			_, _ = g.store.FinishRescan(context.WithoutCancel(ctx), r.ID, store.RescanCanceled, "")
		default:
			_, _ = g.store.FinishRescan(context.WithoutCancel(ctx), r.ID, store.RescanFailed, err.Error())
			g.log.Error("rescan failed", "rescan", r.ID, "connector", r.Connector, "err", err)
		}
	})
}

// CancelRescan stops a rescan.
func (g *Gateway) CancelRescan(ctx context.Context, id int64) error {
	r, err := g.store.GetRescan(ctx, id)
	if err != nil {
		return err
	}
	g.rescans.mu.Lock()
	cancel, ok := g.rescans.running[id]
	g.rescans.mu.Unlock()
	if ok {
		cancel()
	}
	if r.State == store.RescanRunning {
		_, err = g.store.FinishRescan(ctx, id, store.RescanCanceled, "canceled")
	}
	return err
}

const rescanBatch = 200

// RunRescan walks every drive in the rescan's scope, enqueueing changed supported files at
// rescan priority. Progress (the walk cursor per drive, counters, seen marks) is saved
// every batch, so after a crash the walk resumes from the last saved cursor. When a drive's
// walk completes, inventory files it did not see are marked deleted.
func (g *Gateway) RunRescan(ctx context.Context, r store.Rescan) error {
	conn, ok := g.reg.byName[r.Connector]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownConnector, r.Connector)
	}
	var err error
	var drives []connectors.Drive
	bo := g.rescanBackoff()
	for {
		if drives, err = conn.C.Drives(ctx); err == nil {
			break
		}
		if werr := g.waitRetry(ctx, bo, r, "", err); werr != nil {
			return fmt.Errorf("drives: %w", werr)
		}
	}
	kind := "rescan:" + strconv.FormatInt(r.ID, 10)
	// Drives are walked side by side: each walk is a chain of provider round trips, so
	// one at a time left a tenant's many drives waiting on one drive's latency (a walk's
	// cursor, seen marks and reconciliation are per drive, so the walks are independent).
	// The first failure stops the others; every drive resumes from its cursor next time.
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(rescanDriveWalks)
	for _, d := range drives {
		if r.Scope != "" && r.Scope != d.ID && r.Scope != d.Name {
			continue
		}
		eg.Go(func() error { return g.rescanDrive(ectx, conn, r, d.ID, kind) })
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	for _, d := range drives {
		_ = g.store.PutCursor(ctx, conn.C.App(), conn.C.Tenant(), d.ID, kind, "")
	}
	return nil
}

const walkDone = "labelgate:walk-done"

// walkAhead bounds how many of a walk's scan jobs may be due or running when it queues more:
// past it the walk waits for the scans. A walk runs faster than the scans, and a million-file walk
// queued everything at once, so scans ran up to half an hour after the walk read their
// facts: past the 15 minutes those facts are trusted (and past the download URLs the Graph
// walk keeps), a scan read the metadata again — 1.9 metadata calls per file instead of 0.6
// at 100,000 files. An app's drives are walked up to rescanDriveWalks at once, so an app
// has at most about 2,000 walk jobs due: seconds of work for its 64 scans in flight.
const walkAhead = 512

// walkPoll is how often a held walk asks again.
const walkPoll = 100 * time.Millisecond

// jobWatcher is a scan queue that tells whether a job is due or running.
type jobWatcher interface {
	JobDue(ctx context.Context, id int64) (bool, error)
}

// walkBacklog is a walk's queued batches not yet seen finished, oldest first.
type walkBacklog struct {
	batches []queuedBatch
	open    int
}

type queuedBatch struct {
	last int64 // the batch's newest job
	n    int
}

func (b *walkBacklog) add(ids []int64) {
	if len(ids) == 0 {
		return
	}
	b.batches = append(b.batches, queuedBatch{last: slices.Max(ids), n: len(ids)})
	b.open += len(ids)
}

// await holds the walk while more than walkAhead of its jobs may be waiting for a worker. A
// partition's jobs of one priority run in the order they were queued, so when the newest job
// of the oldest batch is no longer due the batch has left the backlog: one primary-key read
// per look, whatever the backlog. (Counting the app's open jobs instead read thousands of
// index entries per count, most of them dead tuples of jobs that had moved on: 48 of 113 s of
// PostgreSQL's statement time at 100,000 files.) A job retrying after a failure is not due
// until its time: it must not hold the walk behind a provider's Retry-After while the other
// scans have run. A failed read lets the walk go on: the bound spares provider calls, it is
// not a correctness rule.
func (b *walkBacklog) await(ctx context.Context, w jobWatcher) error {
	var t *time.Ticker
	for b.open > walkAhead {
		due, err := w.JobDue(ctx, b.batches[0].last)
		if err != nil {
			return nil
		}
		if !due {
			b.open -= b.batches[0].n
			b.batches = b.batches[1:]
			continue
		}
		if t == nil {
			t = time.NewTicker(walkPoll)
			defer t.Stop()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// rescanDriveWalks bounds the drives of one rescan walked at once. Provider calls stay
// paced per tenant by the connector's pacer, whatever the number of walks.
const rescanDriveWalks = 4

// batchQueue is a scan queue that takes many files in one transaction. On SQLite, where
// every write transaction takes the one write lock, a walk queueing file by file competed
// with the workers for that lock on every file (about 1 s per file under load).
type batchQueue interface {
	EnqueueScans(ctx context.Context, refs []connectors.FileRef, reason Reason) error
}

// factQueue is a scan queue whose jobs can carry the files' facts as the walk saw them; it
// returns the job each file went to.
type factQueue interface {
	EnqueueScanFacts(ctx context.Context, files []connectors.File, reason Reason, at time.Time) ([]int64, error)
}

// enqueueScans queues scans of files, returning the job each went to when the queue says
// (nil otherwise).
func (g *Gateway) enqueueScans(ctx context.Context, files []connectors.File, reason Reason) ([]int64, error) {
	if len(files) == 0 {
		return nil, nil
	}
	if fq, ok := g.queue.(factQueue); ok {
		return fq.EnqueueScanFacts(ctx, files, reason, g.now())
	}
	refs := make([]connectors.FileRef, len(files))
	for i, f := range files {
		refs[i] = f.Ref
	}
	if bq, ok := g.queue.(batchQueue); ok {
		return nil, bq.EnqueueScans(ctx, refs, reason)
	}
	for _, ref := range refs {
		if err := g.queue.EnqueueScan(ctx, ref, reason); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (g *Gateway) rescanDrive(ctx context.Context, conn *Conn, r store.Rescan, drive, kind string) error {
	app, tenant := conn.C.App(), conn.C.Tenant()
	cursor, err := g.store.GetCursor(ctx, app, tenant, drive, kind)
	if err != nil {
		return err
	}
	if cursor == walkDone {
		return nil
	}
	var seen []connectors.FileRef
	var candidates, toScan []connectors.File
	var backlog walkBacklog
	var enumerated, enqueued, skipped int64
	last := cursor
	flush := func() error {
		// The batch's files are compared with the inventory in one read (a lookup per file
		// was a fifth of a rescan's store time): an unchanged supported file is skipped, the
		// rest queued. Only files the inventory holds get a seen mark: reconciliation
		// (store.Unseen) never takes a file that entered the inventory after the rescan
		// started for gone, so marking a file with no row was a write that changed nothing —
		// one per file of a first rescan.
		var have map[connectors.FileRef]store.FileRecord
		if len(seen) > 0 {
			var err error
			if have, err = g.store.GetFiles(ctx, seen); err != nil {
				return err
			}
			known := seen[:0]
			for _, ref := range seen {
				if _, ok := have[ref]; ok {
					known = append(known, ref)
				}
			}
			seen = known
		}
		if len(candidates) > 0 {
			for _, f := range candidates {
				rec, ok := have[f.Ref]
				if r.Force || !ok || !rec.Unchanged(f) || !sameFacts(rec, f) {
					toScan = append(toScan, f)
					enqueued++
					continue
				}
				skipped++
			}
			candidates = candidates[:0]
		}
		// The batch's files are queued before its cursor is saved, so a crash can repeat a
		// batch's enqueues (merged by the queue) but never skip one.
		ids, err := g.enqueueScans(ctx, toScan, ReasonRescan)
		if err != nil {
			return err
		}
		if w, ok := g.queue.(jobWatcher); ok {
			backlog.add(ids)
			if err := backlog.await(ctx, w); err != nil {
				return err
			}
		}
		toScan = toScan[:0]
		// Seen marks, progress and cursor commit together.
		if err := g.store.RecordRescanStep(ctx, store.RescanStep{Rescan: r.ID, Seen: seen, Enumerated: enumerated,
			Enqueued: enqueued, Skipped: skipped, App: app, Tenant: tenant, Drive: drive, Kind: kind, Cursor: last}); err != nil {
			return err
		}
		seen, enumerated, enqueued, skipped = seen[:0], 0, 0, 0
		return nil
	}
	visit := func(f connectors.File, next string) error {
		last = next
		if f.Folder {
			return nil
		}
		enumerated++
		if f.Deleted {
			return nil
		}
		seen = append(seen, f.Ref)
		if labeling.IsSupported(f.Name) {
			candidates = append(candidates, f)
		}
		if len(seen) >= rescanBatch || enumerated >= rescanBatch {
			return flush()
		}
		return nil
	}
	// A throttled or briefly failing provider must not fail a night's rescan: the walk
	// resumes from the last cursor it was handed after a backoff that honours Retry-After.
	// Only the provider's errors are waited out, never visit's own (store, queue).
	bo := g.rescanBackoff()
	for {
		var visitErr error
		progressed := false
		err = conn.C.Walk(ctx, drive, last, func(f connectors.File, next string) error {
			progressed = true
			visitErr = visit(f, next)
			return visitErr
		})
		if err == nil || visitErr != nil {
			break
		}
		if progressed {
			// The budget bounds time without progress, not a long walk's total throttling.
			bo.Reset()
		}
		if werr := g.waitRetry(ctx, bo, r, drive, err); werr != nil {
			err = werr
			break
		}
	}
	if err != nil {
		return fmt.Errorf("walk %s: %w", drive, err)
	}
	if err := flush(); err != nil {
		return err
	}
	gone, err := g.store.Unseen(ctx, r.ID, app, tenant, drive)
	if err != nil {
		return err
	}
	for _, ref := range gone {
		if err := g.store.MarkDeleted(ctx, ref, "rescan"); err != nil {
			return err
		}
	}
	if len(gone) > 0 {
		g.log.Info("rescan reconciled deleted files", "rescan", r.ID, "drive", drive, "deleted", len(gone))
	}
	return g.store.PutCursor(ctx, app, tenant, drive, kind, walkDone)
}

// sameFacts says a file's facts that policies match on besides its label (sharing, owner,
// place, name) are as the inventory holds them. A file whose content is unchanged but whose
// sharing changed is scanned again, not only recorded: the scan hands its new facts to the
// policies, so a Confidential file shared outside is acted on when the rescan finds it.
// The full rescan is where such changes are found at all for some of them: Graph's delta
// and webhooks miss a person added to an existing sharing link (microsoft-graph-docs#15242)
// and, in SharePoint libraries, a new sharing link (microsoft-graph-docs#7254). Before,
// the rescan only updated the inventory (and ignored a change of the domains reached).
func sameFacts(rec store.FileRecord, f connectors.File) bool {
	return rec.Access == f.Access && rec.Owner == f.Owner && rec.Path == f.Path && rec.Name == f.Name &&
		sameSet(rec.Domains, f.Domains)
}

// sameSet compares two short lists as sets.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			return false
		}
	}
	return true
}

// rescanRetryBudget is how long a rescan keeps waiting out a throttling or failing
// provider without getting any further before it fails.
const rescanRetryBudget = 15 * time.Minute

func (g *Gateway) rescanBackoff() *backoff.ExponentialBackOff {
	g.rescans.mu.Lock()
	budget := g.rescans.retryBudget
	g.rescans.mu.Unlock()
	if budget <= 0 {
		budget = rescanRetryBudget
	}
	return backoff.NewExponentialBackOff(backoff.WithInitialInterval(time.Second), backoff.WithMaxInterval(time.Minute),
		backoff.WithMaxElapsedTime(budget))
}

// waitRetry waits before a rescan walk resumes after a provider error, honouring the
// provider's Retry-After; it returns an error when the walk should fail instead: the
// error is not transient, the budget is spent, or ctx ends.
func (g *Gateway) waitRetry(ctx context.Context, bo backoff.BackOff, r store.Rescan, drive string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if k := connectors.KindOf(err); k != connectors.KindTransient && k != connectors.KindThrottled {
		return err
	}
	d := bo.NextBackOff()
	if d == backoff.Stop {
		return fmt.Errorf("gave up retrying: %w", err)
	}
	if ra, ok := connectors.RetryAfter(err); ok && ra > d {
		d = ra
	}
	g.log.Warn("rescan walk interrupted, resuming", "rescan", r.ID, "connector", r.Connector, "drive", drive, "wait", d, "err", err)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// leaderName is the lease that makes one replica the scheduler.
const leaderName = "scheduler"

// schedulerLoop runs cron-scheduled rescans, resumes orphaned rescans and syncs the label
// catalog — on the leader only.
func (g *Gateway) schedulerLoop(ctx context.Context) {
	tick := time.NewTicker(g.opts.SchedulerTick)
	defer tick.Stop()
	for {
		if err := g.SchedulerTick(ctx); err != nil && ctx.Err() == nil {
			g.log.Error("scheduler", "err", err)
		}
		select {
		case <-ctx.Done():
			_ = g.store.ReleaseLease(context.WithoutCancel(ctx), leaderName, g.id)
			return
		case <-tick.C:
		}
	}
}

// SchedulerTick does one round of the scheduler's work if this replica holds the lease.
func (g *Gateway) SchedulerTick(ctx context.Context) error {
	lead, err := g.store.TryLease(ctx, leaderName, g.id, 3*g.opts.SchedulerTick+10*time.Second)
	if err != nil || !lead {
		return err
	}
	var errs []error
	now := g.now()
	// Rescans whose runner died (no progress for a while) are picked up here.
	running, err := g.store.ListRescans(ctx, true, 100)
	if err != nil {
		errs = append(errs, err)
	}
	for _, r := range running {
		g.rescans.mu.Lock()
		_, mine := g.rescans.running[r.ID]
		g.rescans.mu.Unlock()
		if !mine && (g.startedAt.After(r.UpdatedAt) || now.Sub(r.UpdatedAt) > g.opts.StaleRescan) {
			g.log.Info("resuming rescan", "rescan", r.ID, "connector", r.Connector)
			g.launchRescan(r)
		}
	}
	for _, c := range g.reg.list {
		expr := g.scheduleFor(c)
		if expr == "" {
			continue
		}
		if err := g.maybeScheduled(ctx, c, expr, now); err != nil {
			errs = append(errs, err)
		}
	}
	if err := g.maybeSyncCatalog(ctx, now); err != nil {
		errs = append(errs, err)
	}
	if err := g.maybePruneDeliveries(ctx, now); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (g *Gateway) scheduleFor(c *Conn) string {
	for _, cc := range g.cfg.Connectors {
		if cc.Name == c.Name && cc.Rescan != "" {
			return cc.Rescan
		}
	}
	return g.cfg.Rescan.Schedule
}

// maybeScheduled starts a connector's rescan when its cron time has come since the last
// run. The last run is stored, so a restart neither skips nor repeats a run.
func (g *Gateway) maybeScheduled(ctx context.Context, c *Conn, expr string, now time.Time) error {
	sched, err := config.ParseSchedule(expr)
	if err != nil {
		return fmt.Errorf("connector %s schedule: %w", c.Name, err)
	}
	app, tenant, kind := c.C.App(), c.C.Tenant(), "schedule"
	lastS, err := g.store.GetCursor(ctx, app, tenant, "", kind)
	if err != nil {
		return err
	}
	if lastS == "" {
		return g.store.PutCursor(ctx, app, tenant, "", kind, strconv.FormatInt(now.UnixMilli(), 10))
	}
	lastMS, _ := strconv.ParseInt(lastS, 10, 64)
	// Cron fields are read in the clock's zone, as the operator wrote them.
	if next := sched.Next(time.UnixMilli(lastMS).In(now.Location())); now.Before(next) {
		return nil
	}
	if err := g.store.PutCursor(ctx, app, tenant, "", kind, strconv.FormatInt(now.UnixMilli(), 10)); err != nil {
		return err
	}
	_, err = g.StartRescan(ctx, c.Name, "", false)
	return err
}

// maybeSyncCatalog syncs the label catalog when the sync interval has passed.
func (g *Gateway) maybeSyncCatalog(ctx context.Context, now time.Time) error {
	lastS, err := g.store.GetCursor(ctx, "", "", "", "catalog")
	if err != nil {
		return err
	}
	if lastS != "" {
		lastMS, _ := strconv.ParseInt(lastS, 10, 64)
		if now.Sub(time.UnixMilli(lastMS)) < g.cfg.Labels.SyncInterval {
			return nil
		}
	}
	if _, err := g.SyncCatalog(ctx); err != nil {
		return err
	}
	return g.store.PutCursor(ctx, "", "", "", "catalog", strconv.FormatInt(now.UnixMilli(), 10))
}

// CatalogResult counts what one catalog sync changed, per connector.
type CatalogResult struct {
	Connector string `json:"connector"`
	Labels    int    `json:"labels"`
	Changes   int    `json:"changes"`
	Error     string `json:"error,omitempty"`
}

// SyncCatalog reads every connector's label catalog into the store now.
func (g *Gateway) SyncCatalog(ctx context.Context) ([]CatalogResult, error) {
	var out []CatalogResult
	var errs []error
	for _, c := range g.reg.list {
		lab, ok := c.C.(connectors.Labeler)
		if !ok {
			continue
		}
		res := CatalogResult{Connector: c.Name}
		labels, err := lab.Catalog(ctx)
		if err == nil {
			var evs []store.Event
			evs, err = g.store.SyncLabels(ctx, c.C.App(), c.C.Tenant(), labels)
			res.Labels, res.Changes = len(labels), len(evs)
		}
		if err != nil {
			res.Error = err.Error()
			errs = append(errs, fmt.Errorf("catalog %s: %w", c.Name, err))
			if isAuthError(err) {
				// A missing permission (Graph's catalog needs SensitivityLabel.Read) leaves the
				// catalog unsynced and every label action waiting: an operator must know.
				g.emitOperational(ctx, alerts.EventConnectorAuthFailed, c.C.App(), c.C.Tenant(), c.Name+": "+err.Error())
			}
		}
		out = append(out, res)
	}
	return out, errors.Join(errs...)
}
