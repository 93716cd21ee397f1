// Package gateway assembles a running labelgate: store, listeners, connectors, webhook
// ingress, change-feed readers, the scan queue and scanner, policies and the executor.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/server"
	"github.com/labelgate/labelgate/internal/store"
)

// Options are what a caller (the binary, the demo, a test) adds to the configuration.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// ShutdownTimeout bounds the graceful stop; default 20 s.
	ShutdownTimeout time.Duration
}

// Gateway is a running labelgate.
type Gateway struct {
	cfg    config.Config
	log    *slog.Logger
	now    func() time.Time
	store  *store.Store
	reg    *prometheus.Registry
	public *server.Listener
	opts   Options

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
	st, err := store.Open(ctx, store.Config{URL: cfg.Store.URL, DataDir: cfg.DataDir, Logger: g.log, Now: g.now})
	if err != nil {
		return nil, err
	}
	g.store = st
	g.reg = server.NewRegistry()
	h := server.Handler(server.Config{
		Ready:    g.ready,
		Registry: g.reg,
		Logger:   g.log,
	})
	g.public, err = server.Listen("public", cfg.Server.Listen, h, cfg.Server.TLS.CertFile, cfg.Server.TLS.KeyFile, cfg.Server.ReadTimeout, g.log)
	if err != nil {
		st.Close()
		return nil, err
	}
	return g, nil
}

func (g *Gateway) ready(ctx context.Context) error {
	return g.store.Ready(ctx)
}

// Store is the gateway's store.
func (g *Gateway) Store() *store.Store { return g.store }

// PublicURL is the base URL of the public listener as bound.
func (g *Gateway) PublicURL() string { return g.public.URL() }

// Run serves until ctx is cancelled, then shuts down gracefully: listeners stop taking
// requests, in-flight requests and jobs finish up to the shutdown timeout, the store closes.
func (g *Gateway) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- g.public.Serve() }()
	var runErr error
	select {
	case <-ctx.Done():
	case err := <-errc:
		runErr = fmt.Errorf("public listener: %w", err)
	}
	g.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.opts.ShutdownTimeout)
	defer cancel()
	var errs []error
	if err := g.public.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, err)
	}
	g.bg.Wait()
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
