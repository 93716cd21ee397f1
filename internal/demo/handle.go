package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/gateway"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

// Handle is a started demo tenant without the churn and the summary: the emulators, a
// running gateway on them with the catalog synced, the demo policies applied and the
// first rescans started. Tests drive it (the console browser tests do) and Close it.
type Handle struct {
	Tenant   *Tenant
	Gateway  *gateway.Gateway
	AdminURL string
	Token    string // admin-role console and API token
	DataDir  string
	Rescans  map[string]int64 // connector name → first rescan id
	Seeded   int              // files generated over all apps

	stop    context.CancelFunc
	done    chan error
	cleanup []func()
}

// Start brings up the demo tenant and its gateway and returns once the first rescans are
// started. Only Files, Seed, DataDir, Listen, Admin and Logger of cfg apply; tune, when
// not nil, adjusts the gateway configuration before the gateway is built (a test may set
// quotas, say).
func Start(ctx context.Context, cfg Config, tune func(*config.Config)) (h *Handle, err error) {
	if cfg.Files <= 0 {
		cfg.Files = 300
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Admin == "" {
		cfg.Admin = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h = &Handle{DataDir: cfg.DataDir, Rescans: map[string]int64{}}
	defer func() {
		if err != nil {
			_ = h.Close()
		}
	}()
	if h.DataDir == "" {
		tmp, err := os.MkdirTemp("", "labelgate-demo-")
		if err != nil {
			return nil, err
		}
		h.cleanup = append(h.cleanup, func() { os.RemoveAll(tmp) })
		h.DataDir = tmp
	}
	if h.Tenant, err = NewTenant(cfg.Files, cfg.Seed, cfg.Logger); err != nil {
		return nil, err
	}
	h.cleanup = append(h.cleanup, h.Tenant.Close)
	for _, n := range h.Tenant.Seeded {
		h.Seeded += n
	}

	gc := config.Default()
	gc.DataDir = h.DataDir
	gc.Server.Listen, gc.Admin.Listen = cfg.Listen, cfg.Admin
	gc.Labels.TenantID = labeltest.TenantContoso
	gc.Labels.Protection = Protection
	h.Token = newToken()
	gc.Admin.Tokens = []config.Token{{Name: "demo", Role: "admin", Token: h.Token}}
	if gc.Connectors, err = h.Tenant.Connectors(h.DataDir); err != nil {
		return nil, err
	}
	if tune != nil {
		tune(&gc)
	}
	if errs := gc.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("demo config: %w", errs)
	}
	g, err := gateway.New(ctx, gc, gateway.Options{Logger: cfg.Logger, FeedPoll: 200 * time.Millisecond,
		SubscriptionCheck: time.Second, SchedulerTick: time.Second, ShutdownTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	h.Gateway = g
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	h.stop, h.done = stop, make(chan error, 1)
	go func() { h.done <- g.Run(runCtx) }()
	h.AdminURL = g.AdminURL()

	// The catalog first: policies name labels, which must exist.
	if _, err := g.SyncCatalog(ctx); err != nil {
		return nil, fmt.Errorf("catalog sync: %w", err)
	}
	// Through the gateway's own manager, so its scans see the policies at once.
	if _, err := g.Policies().Apply(ctx, []byte(Policies)); err != nil {
		return nil, fmt.Errorf("policies: %w", err)
	}
	if err := g.ApplyProtection(ctx); err != nil {
		return nil, fmt.Errorf("labels.protection: %w", err)
	}
	for _, c := range gc.Connectors {
		r, err := g.StartRescan(ctx, c.Name, "", false)
		if err != nil {
			return nil, fmt.Errorf("rescan %s: %w", c.Name, err)
		}
		h.Rescans[c.Name] = r.ID
	}
	return h, nil
}

// Close stops the gateway, then the emulators, and removes a temporary data directory.
func (h *Handle) Close() error {
	var err error
	if h.stop != nil {
		h.stop()
		if rerr := <-h.done; rerr != nil && !errors.Is(rerr, context.Canceled) {
			err = rerr
		}
		h.stop = nil
	}
	for i := len(h.cleanup) - 1; i >= 0; i-- {
		h.cleanup[i]()
	}
	h.cleanup = nil
	return err
}
