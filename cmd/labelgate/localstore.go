package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/scanqueue"
)

// withStore runs fn with the store named by the configuration ($LABELGATE_CONFIG or
// ./labelgate.yaml, else the defaults): the commands that manage local state (policies,
// quotas, the queue, alerts) work on a laptop without a running server, and on the same
// PostgreSQL database the replicas share.
func withStore(ctx context.Context, stderr io.Writer, fn func(cfg config.Config, st *store.Store) int) int {
	cfg, ok := loadConfig(configPath(""), stderr)
	if !ok {
		return 2
	}
	st, err := store.Open(ctx, store.Config{URL: cfg.Store.URL, DataDir: cfg.DataDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Fprintf(stderr, "labelgate: %v\n", err)
		return 1
	}
	defer st.Close()
	localStoreNote(stderr, st)
	return fn(cfg, st)
}

// openQueueOn opens the job queue on the store's database (not started: only looked at).
func openQueueOn(ctx context.Context, st *store.Store) (*scanqueue.Queue, error) {
	cfg := scanqueue.Config{Logger: slog.New(slog.DiscardHandler)}
	if st.Dialect() == store.Postgres {
		cfg.Postgres = st.Pool()
	} else {
		cfg.SQLite = st.DB()
	}
	return scanqueue.Open(ctx, cfg)
}
