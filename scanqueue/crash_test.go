package scanqueue

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The crash test re-executes this test binary as a worker process.
const crashEnv = "SCANQUEUE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(crashEnv) != "" {
		os.Exit(crashChild())
	}
	os.Exit(m.Run())
}

type crashArgs struct {
	N int `json:"n"`
}

func crashConfig(workerID string) Config {
	return Config{
		WorkerID: workerID, Workers: 8, PartitionWorkers: 8, MaxAttempts: 50,
		FetchPollInterval: 20 * time.Millisecond, FetchCooldown: time.Millisecond,
		MaintenanceInterval: 50 * time.Millisecond, JobTimeout: 30 * time.Second, Lease: time.Minute,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// crashChild works "crash" jobs until SIGTERM (or SIGKILL): each records its effect in the
// transaction that completes it.
func crashChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	id := os.Getenv(crashEnv)
	cfg := crashConfig(id)
	if path := os.Getenv("SCANQUEUE_CRASH_SQLITE"); path != "" {
		db, err := openSQLiteDB(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer db.Close()
		cfg.SQLite = db
	} else {
		pool, err := pgxpoolNew(ctx, os.Getenv("SCANQUEUE_CRASH_PG"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer pool.Close()
		cfg.Postgres = pool
	}
	q, err := Open(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	k, err := NewKind[crashArgs](q, "crash")
	if err == nil {
		err = k.Handle(func(ctx context.Context, job *Job[crashArgs]) error {
			return job.CompleteTx(ctx, func(ctx context.Context, tx Tx) error {
				_, err := tx.Exec(ctx, `INSERT INTO crash_effect (job_key, worker) VALUES ($1, $2)`, job.Key, id)
				return err
			})
		})
	}
	if err == nil {
		err = q.Start(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.Stop(stopCtx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// Worker processes killed with SIGKILL at random moments lose no job and apply none twice.
func TestCrash(t *testing.T) {
	t.Parallel()
	for _, backend := range backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			n := 3000
			if raceEnabled && backend == "sqlite" {
				n = 600 // one write transaction per job on one SQLite file: ~10x slower under -race
			}
			runCrash(t, backend, 1, n)
		})
	}
	if os.Getenv("LABELGATE_TEST_POSTGRES") != "" {
		t.Run("postgres-two-processes", func(t *testing.T) {
			t.Parallel()
			runCrash(t, "postgres", 2, 3000)
		})
	}
}

// syncBuffer collects the output of several child processes.
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

func runCrash(t *testing.T, backend string, procs, n int) {
	h := newHandles(t, backend)
	ctx := context.Background()
	cfg := crashConfig("crash-parent-" + randomName())
	cfg.SQLite, cfg.Postgres = h.sqlite, h.pg
	q, err := Open(ctx, cfg)
	require.NoError(t, err)
	// No unique key on purpose: an effect applied twice would show as two rows.
	_, err = q.eng.db().Exec(ctx, `CREATE TABLE crash_effect (job_key TEXT NOT NULL, worker TEXT NOT NULL)`)
	require.NoError(t, err)
	k, err := NewKind[crashArgs](q, "crash")
	require.NoError(t, err)
	batch := make([]Request[crashArgs], 0, 500)
	for i := range n {
		batch = append(batch, Request[crashArgs]{Args: crashArgs{N: i}, Key: fmt.Sprintf("job-%d", i),
			Partition: fmt.Sprintf("app/tenant-%d", i%4)})
		if len(batch) == cap(batch) || i == n-1 {
			res, err := k.Enqueue(ctx, batch...)
			require.NoError(t, err)
			require.Equal(t, len(batch), res.Inserted)
			batch = batch[:0]
		}
	}
	effects := func() (total, distinct int) {
		require.NoError(t, q.eng.db().QueryRow(ctx, `SELECT COUNT(*), COUNT(DISTINCT job_key) FROM crash_effect`).Scan(&total, &distinct))
		return total, distinct
	}
	var logs syncBuffer
	start := func() []*exec.Cmd {
		var cmds []*exec.Cmd
		for p := range procs {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=crash-worker-%d", crashEnv, p))
			if backend == "sqlite" {
				cmd.Env = append(cmd.Env, "SCANQUEUE_CRASH_SQLITE="+h.path)
			} else {
				cmd.Env = append(cmd.Env, "SCANQUEUE_CRASH_PG="+h.url)
			}
			cmd.Stdout, cmd.Stderr = &logs, &logs
			require.NoError(t, cmd.Start())
			cmds = append(cmds, cmd)
		}
		return cmds
	}
	began := time.Now()
	for round := range 4 {
		before, _ := effects()
		cmds := start()
		// Kill at a random moment once the workers are under way, so each kill lands
		// mid-work rather than during start-up.
		require.Eventually(t, func() bool { total, _ := effects(); return total > before },
			30*time.Second, 10*time.Millisecond, "workers made no progress; output:\n%s", &logs)
		time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
		for _, cmd := range cmds {
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			_ = cmd.Wait()
		}
		total, distinct := effects()
		t.Logf("kill %d: %d effects (%d distinct), %d jobs running", round+1, total, distinct, countJobs(t, q, "state = 'running'"))
		require.Equal(t, distinct, total, "no effect applied twice")
	}
	cmds := start()
	require.Eventually(t, func() bool {
		total, _ := effects()
		return total >= n && countJobs(t, q, "kind = 'crash' AND state <> 'completed'") == 0
	}, 120*time.Second, 50*time.Millisecond, "jobs left over; worker output:\n%s", &logs)
	for _, cmd := range cmds {
		require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
		require.NoError(t, cmd.Wait(), "graceful stop; output:\n%s", &logs)
	}
	total, distinct := effects()
	t.Logf("%s, %d process(es): %d jobs, 4 SIGKILLs, %d effects, %d distinct, in %s", backend, procs, n, total, distinct, time.Since(began).Round(time.Millisecond))
	require.Equal(t, n, distinct, "no job lost")
	require.Equal(t, n, total, "no job applied twice")
	require.Equal(t, n, countJobs(t, q, "kind = 'crash' AND state = 'completed'"))
}
