package scanqueue

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// River's JobList panics on a page over 10,000 (issue 22: GET /queue/dead?limit=10001
// dropped the connection); Dead clamps instead.
func TestDeadClampsHugeLimits(t *testing.T) {
	t.Parallel()
	for _, backend := range backends() {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			q, _ := setup(t, backend, nil)
			for _, limit := range []int{MaxDeadList + 1, 1 << 30, -5, 0} {
				require.NotPanics(t, func() {
					dead, err := q.Dead(context.Background(), limit)
					require.NoError(t, err)
					require.Empty(t, dead)
				}, "limit %d", limit)
			}
		})
	}
}
