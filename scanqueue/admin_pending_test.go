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

// OpenUpTo counts an app's open jobs and stops at its limit; JobOpen tells one job's state.
func TestOpenUpTo(t *testing.T) {
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
			open, err := q.JobOpen(ctx, res.IDs[0])
			require.NoError(t, err)
			require.True(t, open, "a scheduled job is open")
			open, err = q.JobOpen(ctx, res.IDs[len(res.IDs)-1]+1000)
			require.NoError(t, err)
			require.False(t, open, "a job that is not there is not")
			_, err = q.eng.db().Exec(ctx, `UPDATE river_job SET state = 'completed', finalized_at = scheduled_at WHERE id = $1`, res.IDs[1])
			require.NoError(t, err)
			open, err = q.JobOpen(ctx, res.IDs[1])
			require.NoError(t, err)
			require.False(t, open, "a finished job is not")
			_, err = q.eng.db().Exec(ctx, `UPDATE river_job SET state = 'scheduled', finalized_at = NULL WHERE id = $1`, res.IDs[1])
			require.NoError(t, err)
			for _, c := range []struct {
				app   string
				limit int
				want  int
			}{{"box", 3, 3}, {"box", 10, 5}, {"gdrive", 10, 0}, {"", 10, 5}} {
				n, err := q.OpenUpTo(ctx, c.app, c.limit)
				require.NoError(t, err)
				require.Equal(t, c.want, n, "app %q limit %d", c.app, c.limit)
			}
		})
	}
}
