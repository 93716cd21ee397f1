// Package storetest opens fresh stores for tests: a SQLite file per test always, and a new
// PostgreSQL database per test when LABELGATE_TEST_POSTGRES names a server.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/internal/store"
)

// EnvPostgres names the environment variable holding the PostgreSQL server URL for tests.
const EnvPostgres = "LABELGATE_TEST_POSTGRES"

// Backend is one database a suite runs against.
type Backend struct {
	Name    store.Dialect
	OpenURL func(t testing.TB) string // a fresh, empty database's URL
}

// Backends lists SQLite and, when configured, PostgreSQL. Run a suite once per backend:
//
//	for _, b := range storetest.Backends() { t.Run(string(b.Name), func(t *testing.T) { ... }) }
func Backends() []Backend {
	bs := []Backend{{Name: store.SQLite, OpenURL: func(t testing.TB) string {
		return "sqlite:" + filepath.Join(t.TempDir(), "labelgate.db")
	}}}
	if os.Getenv(EnvPostgres) != "" {
		bs = append(bs, Backend{Name: store.Postgres, OpenURL: FreshPostgres})
	}
	return bs
}

// FreshPostgres creates an empty database on the test server, dropped when the test ends.
func FreshPostgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Skip(EnvPostgres + " is not set")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "lgtest_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	require.NoError(t, err)
	conn.Close(ctx)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, base); err == nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			c.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	require.NoError(t, err)
	u.Path = "/" + name
	return u.String()
}

// Open opens a fresh store on backend b, closed when the test ends.
func Open(t testing.TB, b Backend, opts ...func(*store.Config)) *store.Store {
	t.Helper()
	cfg := store.Config{URL: b.OpenURL(t), Logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := store.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// OpenSQLite opens a fresh SQLite store, the common case for package tests.
func OpenSQLite(t testing.TB, opts ...func(*store.Config)) *store.Store {
	return Open(t, Backends()[0], opts...)
}
