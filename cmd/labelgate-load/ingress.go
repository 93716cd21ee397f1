package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/box"
	"github.com/labelgate/labelgate/internal/server"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/webhooks"
)

// IngressConfig configures the in-process labelgate ingress.
type IngressConfig struct {
	Dir    string // SQLite directory; "" = a fresh temporary one, removed on Close
	Logger *slog.Logger
	// Unbatched records each notice in two transactions (dedup, then mark) instead of by
	// group commit.
	Unbatched bool
	// Linger is the group commit's wait for more notices (store.BatchOptions.Linger).
	Linger time.Duration
}

// Ingress is labelgate's real webhook ack path on a loopback listener: the Box receiver
// verifying signatures, the store recording delivery ids and changed drives durably.
type Ingress struct {
	URL   string
	Key   string
	Store *store.Store
	l     *server.Listener
	dir   string
}

// storeSink records notices the way the gateway's sink does for drives: a durable
// changed-drive mark that the change-feed worker later picks up, committed with the
// delivery's dedup key by group commit (or, unbatched, as two transactions per notice: the
// path before group commit, kept to compare against).
type storeSink struct {
	s     *store.Store
	batch *store.DeliveryBatcher
}

// Notice records a notice without a delivery key (Box always sends one).
func (k storeSink) Notice(ctx context.Context, n connectors.Notice) error {
	_, err := k.RecordNotice(ctx, "", n)
	return err
}

func (k storeSink) RecordNotice(ctx context.Context, key string, n connectors.Notice) (bool, error) {
	return k.batch.Record(ctx, store.Delivery{Key: key,
		Mark: &store.DriveMark{App: n.App, Tenant: n.Tenant, Drive: n.Drive, Reason: string(n.Kind)}})
}

// unbatchedSink has no RecordNotice, so the ingress dedups and records in separate writes.
type unbatchedSink struct{ s *store.Store }

func (k unbatchedSink) Notice(ctx context.Context, n connectors.Notice) error {
	return k.s.MarkDriveChanged(ctx, n.App, n.Tenant, n.Drive, string(n.Kind))
}

// StartIngress starts the real ingress on 127.0.0.1.
func StartIngress(ctx context.Context, cfg IngressConfig) (*Ingress, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	in := &Ingress{dir: cfg.Dir}
	if in.dir == "" {
		d, err := os.MkdirTemp("", "labelgate-load-")
		if err != nil {
			return nil, err
		}
		in.dir = d
		defer func() {
			if in.l == nil {
				os.RemoveAll(d)
			}
		}()
	}
	var k [16]byte
	_, _ = rand.Read(k[:])
	in.Key = hex.EncodeToString(k[:])
	st, err := store.Open(ctx, store.Config{URL: "sqlite:" + filepath.Join(in.dir, "labelgate.db"), Logger: log})
	if err != nil {
		return nil, err
	}
	subs := &connectors.MemSubscriptions{}
	subs.Put(connectors.AppBox, "load", connectors.Subscription{ID: DefaultWebhook, Drive: "0"})
	rcv, err := box.New(box.Config{EnterpriseID: "load", ClientID: "c", ClientSecret: "s", BaseURL: "http://127.0.0.1:1",
		PrimaryKey: in.Key, Subscriptions: subs, Logger: log})
	if err != nil {
		st.Close()
		return nil, err
	}
	var sink webhooks.Sink = storeSink{s: st, batch: st.NewDeliveryBatcher(store.BatchOptions{Linger: cfg.Linger})}
	if cfg.Unbatched {
		sink = unbatchedSink{s: st}
	}
	h := webhooks.New(webhooks.Config{
		Routes: []webhooks.Route{{Name: "box", App: connectors.AppBox, Tenant: "load", Receiver: rcv}},
		Sink:   sink, Dedup: st, Logger: log,
	})
	mux := http.NewServeMux()
	mux.Handle(webhooks.Prefix, h)
	l, err := server.Listen("webhooks", "127.0.0.1:0", mux, "", "", 10*time.Second, log)
	if err != nil {
		st.Close()
		return nil, err
	}
	go func() { _ = l.Serve() }()
	in.l, in.Store = l, st
	in.URL = l.URL() + webhooks.Prefix + "box"
	return in, nil
}

// Close stops the listener and removes a temporary database.
func (in *Ingress) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := errors.Join(in.l.Shutdown(ctx), in.Store.Close())
	if in.dir != "" {
		err = errors.Join(err, os.RemoveAll(in.dir))
	}
	return err
}

// Bare is a net/http server that only answers 202: the floor labelgate is compared with.
type Bare struct {
	URL string
	l   *server.Listener
}

// StartBare starts the bare handler on 127.0.0.1 with the same server settings as labelgate.
func StartBare() (*Bare, error) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	})
	l, err := server.Listen("bare", "127.0.0.1:0", h, "", "", 10*time.Second, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	go func() { _ = l.Serve() }()
	return &Bare{URL: l.URL() + "/webhooks/box", l: l}, nil
}

// Close stops the bare server.
func (b *Bare) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return b.l.Shutdown(ctx)
}
