package store_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/internal/store"
)

// syncBuffer is a log sink safe for the store's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The SQLite database holds Graph clientState values and Drive channel tokens: it is 0600 and
// the folders created for it 0700 whatever the umask, an existing data folder or an existing
// database file say; an existing data folder open to others is warned about.
func TestSQLiteFilesArePrivate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		prepare    func(t *testing.T, dataDir string) // before Open
		sub        string                             // the database's folder below dataDir
		warnShared bool
	}{
		{name: "existing world-readable data folder", warnShared: true,
			prepare: func(t *testing.T, d string) { require.NoError(t, os.Chmod(d, 0o755)) }},
		{name: "existing database file 0644", warnShared: false,
			prepare: func(t *testing.T, d string) {
				require.NoError(t, os.Chmod(d, 0o700))
				require.NoError(t, os.WriteFile(filepath.Join(d, "labelgate.db"), nil, 0o644))
				require.NoError(t, os.Chmod(filepath.Join(d, "labelgate.db"), 0o644))
			}},
		{name: "folders created for it", sub: "a/b",
			prepare: func(t *testing.T, d string) { require.NoError(t, os.Chmod(d, 0o700)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			tc.prepare(t, base)
			dir := filepath.Join(base, filepath.FromSlash(tc.sub))
			var logs syncBuffer
			s, err := store.Open(context.Background(), store.Config{DataDir: dir,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			require.NoError(t, err)
			first, err := s.FirstDelivery(context.Background(), "box:perm") // writes: WAL and shm exist now
			require.NoError(t, err)
			require.True(t, first)
			for _, name := range []string{"labelgate.db", "labelgate.db-wal", "labelgate.db-shm"} {
				info, err := os.Stat(filepath.Join(dir, name))
				require.NoError(t, err, name)
				require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), name)
			}
			require.NoError(t, s.Close())
			if tc.sub != "" {
				for d := dir; d != base; d = filepath.Dir(d) {
					info, err := os.Stat(d)
					require.NoError(t, err)
					require.Equal(t, os.FileMode(0o700), info.Mode().Perm(), d)
				}
			}
			require.Equal(t, tc.warnShared, bytes.Contains([]byte(logs.String()), []byte("data directory is open to other accounts")), logs.String())
		})
	}
}

// A path prefix with non-ASCII characters matches: substr counts characters, not bytes.
func TestPathPrefixNonASCII(t *testing.T) {
	t.Parallel()
	forEachBackend(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		for i, p := range []string{"/Équipe/Paie", "/Équipe/Paie/2024", "/Équipe", "/Ventes", "/日本語/資料", "/Ecole"} {
			f := file(fmt.Sprintf("n%d", i), fmt.Sprintf("f%d.docx", i))
			f.Path = p
			_, err := s.RecordScan(ctx, store.ScanOutcome{File: f, Type: "word"})
			require.NoError(t, err)
		}
		count := func(prefix string) int64 {
			n, err := s.CountFiles(ctx, store.FileFilter{PathPrefix: prefix})
			require.NoError(t, err)
			return n
		}
		require.EqualValues(t, 2, count("/Équipe/Paie"))
		require.EqualValues(t, 3, count("/Équipe"))
		require.EqualValues(t, 1, count("/日本語"))
		require.EqualValues(t, 1, count("/E"))
		require.EqualValues(t, 6, count("/"))
	})
}
