// Package server runs labelgate's HTTP listeners: webhooks, health, metrics and the admin API.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Checker reports readiness: the store reachable and migrated, and anything else that must
// be up before traffic is taken.
type Checker func(ctx context.Context) error

// Config configures the public listener.
type Config struct {
	Listen      string
	CertFile    string
	KeyFile     string
	ReadTimeout time.Duration
	Ready       Checker
	Webhooks    http.Handler // mounted at /webhooks/
	Extra       map[string]http.Handler
	Registry    *prometheus.Registry
	Logger      *slog.Logger
}

// NewRegistry returns a metrics registry with the Go and process collectors.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Handler builds the public mux.
func Handler(cfg Config) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain")
		if cfg.Ready != nil {
			if err := cfg.Ready(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = fmt.Fprintf(w, "not ready: %v\n", err)
				return
			}
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	if cfg.Registry != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Registry, promhttp.HandlerOpts{}))
	}
	if cfg.Webhooks != nil {
		mux.Handle("/webhooks/", cfg.Webhooks)
	}
	for p, h := range cfg.Extra {
		mux.Handle(p, h)
	}
	// nosniff on every answer of the public listener too (issue 22): health and metrics
	// are text a browser must not reinterpret.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		mux.ServeHTTP(w, r)
	})
}

// Listener is a bound HTTP server.
type Listener struct {
	srv  *http.Server
	ln   net.Listener
	tls  bool
	log  *slog.Logger
	name string
}

// Listen binds addr now (so the caller learns the port, and a busy port fails at start).
func Listen(name, addr string, h http.Handler, certFile, keyFile string, readTimeout time.Duration, log *slog.Logger) (*Listener, error) {
	if readTimeout <= 0 {
		readTimeout = 10 * time.Second
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s listener: %w", name, err)
	}
	srv := &http.Server{
		Handler: h,
		// Slow clients (slow-loris) are cut off: headers within 5 s, the whole body within readTimeout.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       readTimeout,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	l := &Listener{srv: srv, ln: ln, log: log, name: name}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("%s tls: %w", name, err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		l.tls = true
	}
	return l, nil
}

// Addr is the bound address.
func (l *Listener) Addr() string { return l.ln.Addr().String() }

// URL is the listener's base URL.
func (l *Listener) URL() string {
	if l.tls {
		return "https://" + l.Addr()
	}
	return "http://" + l.Addr()
}

// Serve serves until Shutdown.
func (l *Listener) Serve() error {
	l.log.Info("listening", "listener", l.name, "url", l.URL())
	var err error
	if l.tls {
		err = l.srv.ServeTLS(l.ln, "", "")
	} else {
		err = l.srv.Serve(l.ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting and waits for requests in flight, up to ctx.
func (l *Listener) Shutdown(ctx context.Context) error { return l.srv.Shutdown(ctx) }
