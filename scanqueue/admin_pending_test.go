package scanqueue

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Pending sees an app's open job, scheduled or due, and nothing of other apps.
func TestPending(t *testing.T) {
	t.Parallel()
	for _, backend := range backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			q, _ := setup(t, backend, nil)
			ctx := context.Background()
			for _, app := range []string{"", "box", "gdrive"} {
				p, err := q.Pending(ctx, app)
				require.NoError(t, err)
				require.False(t, p, "empty queue, app %q", app)
			}
			req := Scan(ref("acme", "f1"), ReasonRescan)
			req.RunAt = time.Now().Add(time.Hour)
			_, err := q.EnqueueScans(ctx, req)
			require.NoError(t, err)
			for app, want := range map[string]bool{"": true, "box": true, "gdrive": false} {
				p, err := q.Pending(ctx, app)
				require.NoError(t, err)
				require.Equal(t, want, p, "app %q", app)
			}
			st, err := q.Stats(ctx)
			require.NoError(t, err)
			require.Equal(t, int64(1), st.ByApp["box"])
			require.Equal(t, int64(1), st.ByState["scheduled"])
		})
	}
}

// JobDue tells whether one job is due or running, by its state.
func TestJobDue(t *testing.T) {
	t.Parallel()
	for _, backend := range backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			q, _ := setup(t, backend, nil)
			ctx := context.Background()
			var reqs []Request[ScanArgs]
			for i := range 5 {
				req := Scan(ref("acme", fmt.Sprintf("f%d", i)), ReasonRescan)
				req.RunAt = time.Now().Add(time.Hour)
				reqs = append(reqs, req)
			}
			res, err := q.EnqueueScans(ctx, reqs...)
			require.NoError(t, err)
			jobIn := func(id int64, state string) {
				t.Helper()
				fin := "NULL"
				if state == "completed" {
					fin = "scheduled_at"
				}
				_, err := q.eng.db().Exec(ctx, `UPDATE river_job SET state = $1, finalized_at = `+fin+` WHERE id = $2`, state, id)
				require.NoError(t, err)
			}
			for state, due := range map[string]bool{"scheduled": false, "retryable": false, "available": true,
				"running": true, "completed": false} {
				jobIn(res.IDs[1], state)
				got, err := q.JobDue(ctx, res.IDs[1])
				require.NoError(t, err)
				require.Equal(t, due, got, "a %s job", state)
			}
			jobIn(res.IDs[1], "scheduled")
			due, err := q.JobDue(ctx, res.IDs[len(res.IDs)-1]+1000)
			require.NoError(t, err)
			require.False(t, due, "a job that is not there is not due")
		})
	}
}
