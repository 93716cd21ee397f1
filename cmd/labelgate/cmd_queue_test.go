package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/scanqueue"
)

// setupQueue opens a queue on a fresh SQLite database with one dead scan and one pending.
func setupQueue(t *testing.T) (*scanqueue.Queue, int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "labelgate.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_txlock=immediate")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	q, err := scanqueue.Open(ctx, scanqueue.Config{SQLite: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		WorkerID: "cmd-test", FetchPollInterval: 20 * time.Millisecond, MaintenanceInterval: 20 * time.Millisecond})
	require.NoError(t, err)
	t.Cleanup(func() { _ = q.Stop(context.Background()) })
	gone := connectors.FileRef{App: connectors.AppBox, Tenant: "acme", Drive: "d", ItemID: "gone"}
	require.NoError(t, q.Scans().Handle(func(ctx context.Context, job *scanqueue.ScanJob) error {
		if job.Args.Ref == gone {
			return connectors.Errorf(connectors.KindNotFound, "box get", 404, 0, errors.New("item\nvanished"))
		}
		return nil
	}))
	res, err := q.EnqueueScans(ctx, scanqueue.Scan(gone, scanqueue.ReasonAdmin))
	require.NoError(t, err)
	later := scanqueue.Scan(connectors.FileRef{App: connectors.AppGDrive, Tenant: "acme", Drive: "d", ItemID: "x"}, scanqueue.ReasonRescan)
	later.RunAt = time.Now().Add(time.Hour)
	_, err = q.EnqueueScans(ctx, later)
	require.NoError(t, err)
	require.NoError(t, q.Start(ctx))
	require.Eventually(t, func() bool {
		dead, err := q.Dead(ctx, 10)
		return err == nil && len(dead) == 1
	}, 10*time.Second, 10*time.Millisecond)
	return q, res.IDs[0]
}

func runQueue(q queueAdmin, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := cmdQueue(context.Background(), q, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCmdQueue(t *testing.T) {
	t.Parallel()
	q, deadID := setupQueue(t)

	code, out, _ := runQueue(q, "stats")
	require.Equal(t, 0, code)
	require.Contains(t, out, "cancelled")
	require.Contains(t, out, "gdrive")
	require.Contains(t, out, "dead letter: 1")

	code, out, _ = runQueue(q, "stats", "-o", "json")
	require.Equal(t, 0, code)
	var st scanqueue.Stats
	require.NoError(t, json.Unmarshal([]byte(out), &st))
	require.Equal(t, int64(1), st.Dead)
	require.Equal(t, int64(1), st.ByApp["gdrive"])
	require.Equal(t, int64(1), st.ByPriority[4])

	code, out, _ = runQueue(q, "dead")
	require.Equal(t, 0, code)
	require.Contains(t, out, strconv.FormatInt(deadID, 10))
	require.Contains(t, out, "box/acme/d/gone")
	require.Contains(t, out, "item vanished", "errors print on one line")

	code, out, _ = runQueue(q, "dead", "list", "-o", "json")
	require.Equal(t, 0, code)
	var dead []scanqueue.DeadJob
	require.NoError(t, json.Unmarshal([]byte(out), &dead))
	require.Len(t, dead, 1)
	require.Equal(t, deadID, dead[0].ID)
	require.Equal(t, "cancelled", dead[0].State)

	code, _, errOut := runQueue(q, "dead", "requeue", "999999")
	require.Equal(t, 2, code)
	require.Contains(t, errOut, "no such job")

	code, out, _ = runQueue(q, "dead", "requeue", strconv.FormatInt(deadID, 10), "-o", "json")
	require.Equal(t, 0, code, out)
	require.JSONEq(t, `{"requeued": `+strconv.FormatInt(deadID, 10)+`}`, out)

	for _, bad := range [][]string{{}, {"nope"}, {"stats", "-o", "xml"}, {"dead", "requeue"}, {"dead", "requeue", "abc"}} {
		code, _, _ := runQueue(q, bad...)
		require.Equal(t, 2, code, "%v", bad)
	}
}
