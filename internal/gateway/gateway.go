// Package gateway assembles a running labelgate: store, listeners, connectors, webhook
// ingress, change-feed readers, the scan queue and scanner, policies and the executor.
package gateway

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/provmetrics"
	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/alerts"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/server"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/labeling"
	"github.com/labelgate/labelgate/policies"
	"github.com/labelgate/labelgate/scanqueue"
	"github.com/labelgate/labelgate/webhooks"
)

// Options are what a caller (the binary, the demo, a test) adds to the configuration.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// ShutdownTimeout bounds the graceful stop; default 20 s.
	ShutdownTimeout time.Duration
	// Connectors are ready-made connectors (tests, the demo); they are used in addition to
	// those built from the configuration.
	Connectors []*Conn
	// FeedPoll is how often change-feed marks made by other replicas are looked for; 2 s.
	FeedPoll time.Duration
	// SubscriptionCheck is how often subscriptions are checked for renewal; 1 min.
	SubscriptionCheck time.Duration
	// Decider, when set, evaluates policies after each scan.
	Decider Decider
	// SchedulerTick is how often the leader looks at schedules; 30 s.
	SchedulerTick time.Duration
	// StaleRescan is how long a running rescan may go without progress before the leader
	// takes it over (its runner died); 2 min.
	StaleRescan time.Duration
	// QueueTuning adjusts the scan queue's configuration (tests: short polls and leases).
	QueueTuning func(*scanqueue.Config)
}

// scanGroupCommit bounds the scan outcomes recorded in one transaction. With multi-row
// statements a bigger group costs little more to write, and on SQLite every commit queues for
// the one write lock: a 100,000-file first rescan on SQLite ran at 1,064–1,259 files/s with
// 256 against 909–1,135 with 64.
const scanGroupCommit = 256

// Gateway is a running labelgate.
type Gateway struct {
	cfg   config.Config
	log   *slog.Logger
	now   func() time.Time
	store *store.Store
	// scans records scan outcomes by group commit (the queue runs many scans at once).
	scans  *store.ScanRecorder
	prom   *prometheus.Registry
	public *server.Listener
	admin  *server.Listener
	opts   Options

	// adminHooks lets later wiring (queue, executor, policies, quotas) add to the admin API.
	adminHooks func(*admin.Config)

	reg       *registry
	policies  *policies.Manager
	queue     ScanQueue
	externals externalLabels
	sq        *scanqueue.Queue
	exec      *labeling.Executor
	dispatch  *labeling.QueueDispatcher
	alerts    *alerts.Engine
	decider   Decider
	metrics   *scanMetrics
	dedup     *dedupMetrics
	prov      *provmetrics.Recorder // provider requests of the connectors built from the configuration
	feedWake  chan struct{}
	subWake   chan struct{}
	rescans   rescans
	baselines rescanBaselines
	id        string // this replica, for leases
	// pacers pace each provider tenant's requests; replicas share their budgets (pacerLoop).
	pacers    pacers
	startedAt time.Time

	mu      sync.Mutex
	bg      sync.WaitGroup
	stopped bool
}

// New opens the store (applying migrations) and binds the listeners. Nothing runs until Run.
func New(ctx context.Context, cfg config.Config, opts Options) (*Gateway, error) {
	g := &Gateway{cfg: cfg, log: opts.Logger, now: opts.Now, opts: opts}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.opts.ShutdownTimeout <= 0 {
		g.opts.ShutdownTimeout = 20 * time.Second
	}
	if g.opts.FeedPoll <= 0 {
		g.opts.FeedPoll = 2 * time.Second
	}
	if g.opts.SubscriptionCheck <= 0 {
		g.opts.SubscriptionCheck = time.Minute
	}
	if g.opts.SchedulerTick <= 0 {
		g.opts.SchedulerTick = cmp.Or(cfg.Rescan.SchedulerTick, 30*time.Second)
	}
	if g.opts.StaleRescan <= 0 {
		g.opts.StaleRescan = cmp.Or(cfg.Rescan.StaleAfter, 2*time.Minute)
	}
	g.feedWake, g.subWake = make(chan struct{}, 1), make(chan struct{}, 1)
	g.rescans.running = map[int64]context.CancelFunc{}
	g.startedAt = g.now()
	g.decider = opts.Decider
	st, err := store.Open(ctx, store.Config{URL: cfg.Store.URL, DataDir: cfg.DataDir, Logger: g.log, Now: g.now})
	if err != nil {
		return nil, err
	}
	g.store = st
	g.scans = st.NewScanRecorder(scanGroupCommit)
	g.policies = policies.NewManager(policies.ManagerConfig{Store: st, Now: g.now, Logger: g.logger("policies")})
	if g.decider == nil {
		g.decider = g.policies
	}
	g.prom = server.NewRegistry()
	g.metrics = newScanMetrics(g.prom)
	g.registerDedupMetrics(g.prom)
	g.prov = provmetrics.New(g.prom)
	conns := append([]*Conn(nil), opts.Connectors...)
	built, err := buildConnectors(cfg, st, g.log, g.prov, &g.pacers)
	if err != nil {
		st.Close()
		return nil, err
	}
	conns = append(conns, built...)
	if g.reg, err = newRegistry(conns); err != nil {
		st.Close()
		return nil, err
	}
	g.wireFileShareLabels()
	var routes []webhooks.Route
	for _, c := range g.reg.list {
		if r, ok := c.C.(connectors.WebhookReceiver); ok {
			routes = append(routes, webhooks.Route{Name: c.Name, App: c.C.App(), Tenant: c.C.Tenant(), Receiver: r})
		}
	}
	ingress := webhooks.New(webhooks.Config{Routes: routes, Sink: newSink(g), Dedup: st, MaxBodyBytes: cfg.Server.MaxBodyBytes,
		Logger: g.logger("webhooks"), Registerer: g.prom, Now: g.now})
	h := server.Handler(server.Config{
		Ready:    g.ready,
		Registry: g.prom,
		Webhooks: ingress,
		Logger:   g.log,
	})
	g.public, err = server.Listen("public", cfg.Server.Listen, h, cfg.Server.TLS.CertFile, cfg.Server.TLS.KeyFile, cfg.Server.ReadTimeout, g.log)
	if err != nil {
		st.Close()
		return nil, err
	}
	g.id = replicaID(g.public.Addr())
	if g.sq, err = g.openQueue(ctx); err != nil {
		g.public.Shutdown(ctx)
		st.Close()
		return nil, err
	}
	g.queue = riverQueue{g.sq}
	g.adminHooks = func(c *admin.Config) { c.Queue = queueAdmin{q: g.sq, g: g} }
	if err := g.openGovernance(); err != nil {
		g.public.Shutdown(ctx)
		st.Close()
		return nil, err
	}
	if err := g.startAdmin(); err != nil {
		g.public.Shutdown(ctx)
		st.Close()
		return nil, err
	}
	return g, nil
}

// startAdmin binds the admin listener; it runs after the pipeline is assembled so every
// part is wired into the API.
func (g *Gateway) startAdmin() error {
	ah, err := g.adminHandler()
	if err != nil {
		return err
	}
	g.admin, err = server.Listen("admin", g.cfg.Admin.Listen, ah, g.cfg.Admin.TLS.CertFile, g.cfg.Admin.TLS.KeyFile, g.cfg.Server.ReadTimeout, g.log)
	return err
}

func (g *Gateway) ready(ctx context.Context) error {
	return g.store.Ready(ctx)
}

// Store is the gateway's store.
func (g *Gateway) Store() *store.Store { return g.store }

// Policies is the gateway's policy manager. Change policies through it (or the admin API): the
// scanner evaluates the policies this manager compiled, and another manager's changes reach it
// only at its next reload, up to ten seconds later.
func (g *Gateway) Policies() *policies.Manager { return g.policies }

// AdminURL is the base URL of the admin listener as bound ("" before Run).
func (g *Gateway) AdminURL() string {
	if g.admin == nil {
		return ""
	}
	return g.admin.URL()
}

// PublicURL is the base URL of the public listener as bound.
func (g *Gateway) PublicURL() string { return g.public.URL() }

// Run serves until ctx is cancelled, then shuts down gracefully: listeners stop taking
// requests, in-flight requests and jobs finish up to the shutdown timeout, the store closes.
func (g *Gateway) Run(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() { errc <- g.public.Serve() }()
	go func() { errc <- g.admin.Serve() }()
	// Background work stops before the listeners so nothing half-done is left behind by a
	// loop that outlived the store.
	bgCtx, stopBG := context.WithCancel(ctx)
	defer stopBG()
	// The queue gets its own lifetime: a signal must not cancel running jobs mid-write; Stop
	// below lets them finish within the shutdown window.
	if err := g.sq.Start(context.WithoutCancel(bgCtx)); err != nil {
		return fmt.Errorf("scan queue: %w", err)
	}
	g.startRescans(bgCtx)
	g.goBG(func() { g.feedLoop(bgCtx) })
	g.goBG(func() { g.subLoop(bgCtx) })
	g.goBG(func() { g.pollFeeds(bgCtx) })
	g.goBG(func() { g.schedulerLoop(bgCtx) })
	g.goBG(func() { g.protectionLoop(bgCtx) }) // labels.protection as policies (issue 24)
	g.goBG(func() { g.pacerLoop(bgCtx) })
	g.goBG(func() {
		if err := g.dispatch.Run(bgCtx); err != nil {
			g.log.Error("executor", "err", err)
		}
	})
	g.goBG(func() {
		if err := g.alerts.Run(bgCtx); err != nil {
			g.log.Error("alerts", "err", err)
		}
	})
	g.watchLoops(bgCtx)
	var runErr error
	select {
	case <-ctx.Done():
	case err := <-errc:
		runErr = fmt.Errorf("listener: %w", err)
	}
	g.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.opts.ShutdownTimeout)
	defer cancel()
	// Running jobs get the shutdown window to finish; what does not finish is left to its
	// lease (and reclaimed at once by this replica's next start), never half-committed.
	if err := g.sq.Stop(sctx); err != nil {
		g.log.Warn("scan queue stop", "err", err)
	}
	stopBG()
	var errs []error
	for _, l := range []*server.Listener{g.public, g.admin} {
		if err := l.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	g.bg.Wait()
	// The queue's own connection pool (SQLite statement cache) goes before the store.
	_ = g.sq.Close(sctx)
	_ = g.exec.Close()
	if err := g.store.Close(); err != nil {
		errs = append(errs, err)
	}
	if runErr != nil {
		errs = append(errs, runErr)
	}
	g.log.Info("stopped")
	return errors.Join(errs...)
}

func trimSlash(s string) string { return strings.TrimRight(s, "/") }

func (g *Gateway) goBG(fn func()) {
	g.bg.Add(1)
	go func() {
		defer g.bg.Done()
		fn()
	}()
}

// replicaID names this replica for leases: host and public address, like the queue's
// worker id. It is stable across restarts, so a replica killed while holding the scheduler
// lease takes it back at once when it comes up again (and resumes its orphaned rescans)
// instead of waiting out the dead holder's lease; replicas on one host differ by address.
func replicaID(addr string) string {
	host, _ := os.Hostname()
	return host + "@" + addr
}
