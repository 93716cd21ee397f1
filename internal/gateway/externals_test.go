package gateway

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
)

// The scanner records an external label in the catalog once per externalFresh, per app,
// tenant and label, and the set it keeps for that stays bounded whatever labels files carry.
func TestExternalLabelsRecordedOncePerWhile(t *testing.T) {
	t.Parallel()
	var e externalLabels
	now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	require.False(t, e.fresh(connectors.AppBox, "E1", "L1", now))
	e.recorded(connectors.AppBox, "E1", "L1", now)
	require.True(t, e.fresh(connectors.AppBox, "E1", "L1", now.Add(externalFresh-time.Second)))
	require.False(t, e.fresh(connectors.AppBox, "E1", "L1", now.Add(externalFresh)), "recorded again after a while")
	require.False(t, e.fresh(connectors.AppBox, "E2", "L1", now), "per tenant")
	require.False(t, e.fresh(connectors.AppGDrive, "E1", "L1", now), "per app")
	require.False(t, e.fresh(connectors.AppBox, "E1\x00L1", "", now), "keys do not run into each other")
	for i := range 3 * externalMax {
		e.recorded(connectors.AppBox, "E1", fmt.Sprintf("hostile-%d", i), now)
	}
	require.LessOrEqual(t, len(e.seen), externalMax)
}
