// Package scanqueue provides labelgate's durable job queue — file scans and other job
// kinds with per-key dedup and merge, priorities, leases, retries with backoff, snoozes,
// a dead letter and per-tenant fairness — built on River over SQLite or PostgreSQL.
package scanqueue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
)

// Config configures a Queue. Exactly one of SQLite and Postgres is set.
type Config struct {
	// SQLite is the store's database (modernc.org/sqlite, WAL, busy timeout). For a
	// database file the queue opens its own small pool on the same file with the same
	// settings, whose connections keep prepared statements; Close releases it.
	SQLite *sql.DB
	// Postgres is the store's pool.
	Postgres *pgxpool.Pool
	Logger   *slog.Logger
	// Clock is the time source for retry and snooze arithmetic and statistics.
	Clock func() time.Time
	// Registerer receives the queue's Prometheus metrics; nil registers none.
	Registerer prometheus.Registerer

	// WorkerID names this process. It must be unique among live processes sharing the
	// database and stable across restarts: on Start, jobs this ID still held when it died
	// are made available at once instead of waiting out the lease. Default: the hostname.
	WorkerID string
	// Workers bounds the jobs run at once by this process (default 128).
	Workers int
	// PartitionWorkers bounds the jobs of one partition (one app+tenant) run at once by
	// this process (default half of Workers, at most 64). Keeping it below Workers is what
	// keeps one tenant from taking every worker.
	PartitionWorkers int
	// MaxAttempts is how often a failing job is tried before it goes to the dead letter
	// (default 10).
	MaxAttempts int
	// RetryBase and RetryMax shape the exponential, jittered retry delay (defaults 5s, 1h).
	RetryBase, RetryMax time.Duration
	// JobTimeout cancels a handler running longer (default 10m).
	JobTimeout time.Duration
	// Lease is how long a job may stay running before it is presumed abandoned by a dead
	// worker and made available again (default 30m; at least JobTimeout).
	Lease time.Duration
	// FetchPollInterval is how often idle partitions look for due work (default 1s);
	// FetchCooldown is the least time between two fetches of one partition (default 50ms).
	// A fetch is River's largest statement (on SQLite re-planned whenever the number of free
	// workers it asks for changes), so a busy partition should fetch many jobs at a time,
	// not one per finished job: with 16 partition workers and a 50 ms cooldown a partition
	// can start 320 jobs a second in at most 20 fetches. In a 10,000-file rescan with 4
	// workers and a 10 ms cooldown the fetches were 15-17 % of the gateway's CPU.
	FetchPollInterval, FetchCooldown time.Duration
	// MaintenanceInterval paces re-running files changed while being processed,
	// picking up partitions created by other processes and refreshing gauges (default 1s).
	MaintenanceInterval time.Duration
	// CompletedRetention is how long finished jobs are kept (default 24h). Dead jobs are
	// kept until requeued or DeadRetention passes (default 0: forever).
	CompletedRetention, DeadRetention time.Duration
}

func (c *Config) setDefaults() error {
	if (c.SQLite == nil) == (c.Postgres == nil) {
		return errors.New("scanqueue: exactly one of Config.SQLite and Config.Postgres must be set")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.WorkerID == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "labelgate"
		}
		c.WorkerID = host
	}
	if len(c.WorkerID) > 100 {
		return fmt.Errorf("scanqueue: WorkerID longer than 100 characters")
	}
	// A scan is a few round trips, each waiting on the provider, the pacer or the database,
	// so a tenant needs many in flight to use its budget: at 16 per partition a 100,000-file
	// rescan ran at 670-760 files/s with the two cores a third idle, at 64 at 1,044 files/s
	// using less CPU (bigger group commits and queue batches; issue 21's benchmark). Against
	// a real provider, whose round trips take 100-300 ms, 16 would cap a tenant near 50
	// scans a second whatever its pacer allowed.
	setDefault(&c.Workers, 128)
	// Half the workers, at most 64: one tenant cannot take them all, and a partition's
	// fetched jobs never wait long for a free worker (each holds a lease while it waits).
	setDefault(&c.PartitionWorkers, max(1, min(64, c.Workers/2)))
	setDefault(&c.MaxAttempts, 10)
	setDefault(&c.RetryBase, 5*time.Second)
	setDefault(&c.RetryMax, time.Hour)
	setDefault(&c.JobTimeout, 10*time.Minute)
	setDefault(&c.Lease, 30*time.Minute)
	if c.Lease < c.JobTimeout {
		return fmt.Errorf("scanqueue: Lease %s shorter than JobTimeout %s", c.Lease, c.JobTimeout)
	}
	setDefault(&c.FetchPollInterval, time.Second)
	setDefault(&c.FetchCooldown, 50*time.Millisecond)
	if c.FetchCooldown > c.FetchPollInterval {
		c.FetchCooldown = c.FetchPollInterval
	}
	setDefault(&c.MaintenanceInterval, time.Second)
	setDefault(&c.CompletedRetention, 24*time.Hour)
	if c.DeadRetention == 0 {
		c.DeadRetention = -1 // River: keep forever
	}
	return nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Queue is the durable job queue. Open it, register handlers with NewKind/Handle (and
// Scans().Handle), then Start it; enqueueing works before Start and without it.
type Queue struct {
	cfg     Config
	log     *slog.Logger
	eng     engine
	d       dialect
	workers *river.Workers
	metrics *metrics
	sem     chan struct{}

	mu       sync.Mutex
	kinds    map[string]bool   // registered kinds (with a handler)
	names    map[string]bool   // kinds created with NewKind
	queues   map[string]string // River queue name → partition, recorded in scanqueue_partition
	added    map[string]bool   // River queues this process works
	started  bool
	stopping atomic.Bool
	maintCh  chan struct{}
	maintOut chan struct{}
	cancel   context.CancelFunc

	retryAfter sync.Map // job id → time.Duration a provider asked for
	// own is the queue's SQLite pool on the store's file, with a statement cache (see
	// openCachedSQLite); nil on PostgreSQL or an in-memory database.
	own   *sql.DB
	scans *Kind[ScanArgs]
}

// Open connects the queue to the store's database and applies River's migrations and the
// queue's own tables; it is safe to call from several processes at once.
func Open(ctx context.Context, cfg Config) (*Queue, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	q := &Queue{
		cfg:     cfg,
		log:     cfg.Logger,
		workers: river.NewWorkers(),
		sem:     make(chan struct{}, cfg.Workers),
		kinds:   map[string]bool{},
		names:   map[string]bool{},
		queues:  map[string]string{river.QueueDefault: ""},
		added:   map[string]bool{river.QueueDefault: true},
		maintCh: make(chan struct{}, 1),
	}
	if cfg.SQLite != nil {
		own, err := openCachedSQLite(ctx, cfg.SQLite)
		if err != nil {
			return nil, fmt.Errorf("scanqueue: sqlite: %w", err)
		}
		db := cfg.SQLite
		if own != nil {
			q.own, db = own, own
		}
		q.eng = newSQLiteEngine(db)
	} else {
		q.eng = newPostgresEngine(cfg.Postgres)
	}
	q.d = q.eng.dialect()
	ddl := q.ddl()
	if cfg.SQLite == nil {
		for _, n := range droppedIndexes {
			ddl = append(ddl, `DROP INDEX IF EXISTS `+n)
		}
	}
	if err := q.eng.migrate(ctx, ddl); err != nil {
		q.closeOwn()
		return nil, fmt.Errorf("scanqueue: migrate: %w", err)
	}
	rcfg := &river.Config{
		ID:                          cfg.WorkerID,
		Logger:                      riverLogger(cfg.Logger),
		MaxAttempts:                 cfg.MaxAttempts,
		RetryPolicy:                 &backoffPolicy{base: cfg.RetryBase, max: cfg.RetryMax, now: cfg.Clock},
		RescueStuckJobsAfter:        cfg.Lease,
		JobTimeout:                  cfg.JobTimeout,
		FetchCooldown:               cfg.FetchCooldown,
		FetchPollInterval:           cfg.FetchPollInterval,
		Queues:                      map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.PartitionWorkers}},
		Workers:                     q.workers,
		SkipUnknownJobCheck:         true,
		FetchOnlyKnownKinds:         true,
		CompletedJobRetentionPeriod: cfg.CompletedRetention,
		DiscardedJobRetentionPeriod: cfg.DeadRetention,
		CancelledJobRetentionPeriod: cfg.DeadRetention,
		// The indexes dropped above are not River's to rebuild.
		ReindexerIndexNames: reindexIndexes(),
	}
	if err := q.eng.newClient(rcfg); err != nil {
		q.closeOwn()
		return nil, fmt.Errorf("scanqueue: river client: %w", err)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		q.closeOwn()
		return nil, fmt.Errorf("scanqueue: metrics: %w", err)
	}
	q.metrics = m
	scans, err := NewKind[ScanArgs](q, ScanKind)
	if err != nil {
		q.closeOwn()
		return nil, err
	}
	q.scans = scans
	return q, nil
}

// River's PostgreSQL schema indexes every job's args and metadata with GIN (jsonb_ops), for
// searching jobs by argument in River's UI; nothing of labelgate or River's own queries reads
// them (River's uniqueness has used unique_key since v0.12), and scan jobs carry the file's
// facts, so each insert added dozens of GIN entries. Measured with pg_stat_statements on a
// 20,000-file first rescan: River's insert, fetch and completion statements took 16.4 s with
// them and 4.7 s without (3,567 against 2,071 buffers per insert batch). River's SQLite
// schema has no such indexes. They are dropped after River's migrations, every start, and
// left out of River's reindexer.
var droppedIndexes = []string{"river_job_args_index", "river_job_metadata_index"}

// reindexIndexes is River's reindexer's default list without droppedIndexes.
func reindexIndexes() []string {
	return slices.DeleteFunc(river.ReindexerIndexNamesDefault(), func(n string) bool {
		return slices.Contains(droppedIndexes, n)
	})
}

// ddl is the queue's own tables, the same SQL on both databases. Times are Unix
// milliseconds so no dialect's time type leaks in.
func (q *Queue) ddl() []string {
	return []string{
		// Partitions ever enqueued to, so every process works every partition, including
		// ones other processes created.
		`CREATE TABLE IF NOT EXISTS scanqueue_partition (
			queue TEXT PRIMARY KEY,
			kind TEXT NOT NULL,
			part TEXT NOT NULL
		)`,
		// A request that arrived while the job for its key was running: it is queued
		// again once that job has left the running state.
		`CREATE TABLE IF NOT EXISTS scanqueue_rerun (
			job_id BIGINT PRIMARY KEY,
			kind TEXT NOT NULL,
			job_key TEXT NOT NULL,
			part TEXT NOT NULL,
			queue TEXT NOT NULL,
			args TEXT NOT NULL,
			priority INTEGER NOT NULL,
			run_at BIGINT NOT NULL,
			max_attempts INTEGER NOT NULL
		)`,
	}
}

// Scans is the file scan job kind.
func (q *Queue) Scans() *Kind[ScanArgs] { return q.scans }

func (q *Queue) now() time.Time { return q.cfg.Clock() }

// Start begins working the registered kinds. Jobs this WorkerID held when it last died
// are made available first.
func (q *Queue) Start(ctx context.Context) error {
	q.mu.Lock()
	if q.started {
		q.mu.Unlock()
		return errors.New("scanqueue: already started")
	}
	if len(q.kinds) == 0 {
		q.mu.Unlock()
		return errors.New("scanqueue: no handler registered")
	}
	q.started = true
	q.mu.Unlock()
	if n, err := q.reclaim(ctx); err != nil {
		return fmt.Errorf("scanqueue: reclaim: %w", err)
	} else if n > 0 {
		q.log.Info("scanqueue: reclaimed jobs held by this worker before a restart", "jobs", n, "worker", q.cfg.WorkerID)
	}
	if err := q.refreshPartitions(ctx); err != nil {
		return fmt.Errorf("scanqueue: partitions: %w", err)
	}
	if err := q.eng.client().Start(ctx); err != nil {
		return fmt.Errorf("scanqueue: start: %w", err)
	}
	mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	q.cancel = cancel
	q.maintOut = make(chan struct{})
	go q.maintain(mctx)
	return nil
}

// Stop stops taking new jobs and waits for running ones to finish. When ctx ends first,
// running handlers are cancelled: their uncommitted work rolls back and their jobs are
// made available again without counting an attempt.
func (q *Queue) Stop(ctx context.Context) error {
	q.mu.Lock()
	started := q.started
	q.started = false // a second Stop (Close after Stop) has nothing left to wait for
	q.mu.Unlock()
	if !started {
		return nil
	}
	q.stopping.Store(true)
	err := q.eng.client().Stop(ctx)
	if err != nil && ctx.Err() != nil {
		hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = q.eng.client().StopAndCancel(hard)
		cancel()
		if err == nil {
			err = fmt.Errorf("scanqueue: stop: running jobs cancelled: %w", ctx.Err())
		}
	}
	if q.cancel != nil {
		q.cancel()
		<-q.maintOut
	}
	return err
}

// Close stops the queue like Stop and releases its database connections (the store's
// own handle stays open). The queue cannot be used afterwards.
func (q *Queue) Close(ctx context.Context) error {
	err := q.Stop(ctx)
	q.closeOwn()
	return err
}

func (q *Queue) closeOwn() {
	if q.own != nil {
		_ = q.own.Close()
	}
}

// reclaim makes available the jobs this worker held when its previous process died.
func (q *Queue) reclaim(ctx context.Context) (int64, error) {
	last := `json_extract(attempted_by, '$[#-1]')`
	if q.d.postgres {
		last = `attempted_by[array_length(attempted_by, 1)]`
	}
	return q.eng.db().Exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = $1
		WHERE state = 'running' AND attempt < max_attempts AND `+last+` = $2`,
		q.d.timeArg(q.now()), q.cfg.WorkerID)
}

var queueNameRe = regexp.MustCompile(`[^a-z0-9]+`)

// queueName maps a kind's partition to a River queue; one queue per partition is what
// makes the partitions take turns.
func queueName(kind, part string) string {
	if part == "" {
		return river.QueueDefault
	}
	s := strings.Trim(queueNameRe.ReplaceAllString(strings.ToLower(kind+"-"+part), "-"), "-")
	if len(s) > 45 {
		s = strings.TrimRight(s[:45], "-")
	}
	h := fnv32(kind + "\x00" + part)
	if s == "" {
		return fmt.Sprintf("p-%08x", h)
	}
	return fmt.Sprintf("%s-%08x", s, h)
}

func fnv32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// riverLogger keeps River's own chatter to warnings and errors.
func riverLogger(l *slog.Logger) *slog.Logger {
	return slog.New(levelFilter{min: slog.LevelWarn, Handler: l.Handler()})
}

type levelFilter struct {
	min slog.Level
	slog.Handler
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}

func (f levelFilter) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFilter{f.min, f.Handler.WithAttrs(a)}
}

func (f levelFilter) WithGroup(g string) slog.Handler {
	return levelFilter{f.min, f.Handler.WithGroup(g)}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
