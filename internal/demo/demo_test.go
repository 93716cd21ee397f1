package demo

import (
	"bytes"
	"context"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

func TestGenerateHasTheSetPieces(t *testing.T) {
	t.Parallel()
	specs := generate(mrand.New(mrand.NewPCG(1, 2)), 300)
	require.Len(t, specs, 300)
	var external, protected, cards int
	access := map[connectors.AccessLevel]int{}
	for _, f := range specs {
		if f.label.Tenant == labeltest.TenantFabrikam {
			external++
		}
		if f.protected {
			protected++
		}
		for _, l := range f.text {
			if bytes.Contains([]byte(l), []byte(CardNumber)) {
				cards++
			}
		}
		access[f.access]++
	}
	require.Positive(t, external)
	require.Positive(t, protected)
	require.Positive(t, cards)
	for _, a := range []connectors.AccessLevel{connectors.AccessPrivate, connectors.AccessInternal, connectors.AccessExternal, connectors.AccessPublic} {
		require.Positive(t, access[a], a)
	}
}

// The demo tenant's Box files always include a Confidential one shared with anyone, the
// sharing policy's target, without giving up the external-share and card-number set pieces.
func TestBoxFilesIncludeAPublicConfidentialOne(t *testing.T) {
	t.Parallel()
	for _, n := range []int{8, 40, 300} {
		for seed := uint64(1); seed <= 5; seed++ {
			specs := generate(mrand.New(mrand.NewPCG(seed, seed^0x5eed)), n)
			var box []fileSpec
			for i, f := range specs {
				if i%4 == 3 {
					box = append(box, f)
				}
			}
			exposePublicly(box)
			public := 0
			for _, f := range box {
				if f.label.ID == LabelConfidential && f.label.Tenant == labeltest.TenantContoso && !f.protected && f.access == connectors.AccessPublic {
					public++
				}
			}
			require.Positive(t, public, "files %d seed %d", n, seed)
		}
	}
}

func TestRunEndToEnd(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sum, err := Run(ctx, Config{Files: 40, Duration: 2 * time.Second, DataDir: t.TempDir(), Exit: true, Out: &out})
	require.NoError(t, err, out.String())
	for _, app := range []connectors.App{connectors.AppSharePoint, connectors.AppOneDrive, connectors.AppGDrive, connectors.AppBox} {
		require.NotEmpty(t, sum.Files[app], "no %s files discovered:\n%s", app, out.String())
	}
	require.GreaterOrEqual(t, sum.Discovered, 40)
	// The seeded card numbers are found and labelled, and Box's confidential shares alerted.
	require.Positive(t, sum.Actions[store.ActionApplyLabel][store.ActionDone], out.String())
	require.Positive(t, sum.Applied, out.String())
	require.Positive(t, sum.Actions[store.ActionAlert][store.ActionDone], out.String())
	require.Positive(t, sum.Changes)
	// Issue 23: Drive labels are written (not left waiting on a catalog), and sharing
	// changes made by users are recorded and alerted.
	require.Positive(t, sum.WrittenByApp[connectors.AppGDrive], "no Drive labels written:\n%s", out.String())
	require.Zero(t, sum.RefusedBy["catalog"], out.String())
	require.Positive(t, sum.AccessChanged, "no sharing change recorded:\n%s", out.String())
	require.Contains(t, out.String(), "gdrive ")
	require.Contains(t, out.String(), "Drive labels")
	require.Contains(t, out.String(), "sharing changes recorded: ")
	// Issue 24: the demo's sharing policy closes the seeded public link on a Confidential Box
	// file (and labels.protection narrows Restricted files).
	require.Contains(t, out.String(), "sharing restricted: ")
	require.Positive(t, sum.SharingRestricted, "no access_restricted event:\n%s", out.String())
	for name, state := range sum.Rescans {
		require.Equal(t, store.RescanDone, state, name)
	}
	require.Contains(t, out.String(), "== labelgate demo summary ==")
	require.Contains(t, out.String(), "/console/")
}
