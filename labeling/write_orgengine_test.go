package labeling

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The executor weighs the organisation's own label: a file carrying only a partner's label is
// unlabelled for it, and a file carrying both shows ours.
func TestOrgEngineReadsTheOrganisationsLabel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const org, partner = "72f988bf-86f1-41af-91ab-2d7cd011db47", "db1e96a8-a3da-442a-930b-235cac24cd5c"
	src, err := os.ReadFile(filepath.Join(wrSharedSamples(t), "poi_bug66675.xlsx"))
	require.NoError(t, err) // LabelInfo.xml: d0cb1e24… of the partner tenant only
	e := OrgEngine{Tenant: func() string { return org }}
	res, err := e.Read(ctx, bytes.NewReader(src), int64(len(src)), "poi_bug66675.xlsx")
	require.NoError(t, err)
	require.Nil(t, res.Label, "the partner's label is not the organisation's")
	require.NotEmpty(t, res.Effective, "the partner's label is still reported")

	var out bytes.Buffer
	require.NoError(t, e.Apply(ctx, bytes.NewReader(src), int64(len(src)), "poi_bug66675.xlsx",
		Label{ID: "f42aa342-8706-4288-bd11-ebb85995028c", Tenant: org, Method: "Standard", Enabled: true}, &out))
	res, err = e.Read(ctx, bytes.NewReader(out.Bytes()), int64(out.Len()), "poi_bug66675.xlsx")
	require.NoError(t, err)
	require.NotNil(t, res.Label)
	require.Equal(t, "f42aa342-8706-4288-bd11-ebb85995028c", res.Label.ID)
	require.Len(t, res.External(org), 1)
	require.Equal(t, partner, res.External(org)[0].Tenant)

	plain, err := OrgEngine{}.Read(ctx, bytes.NewReader(src), int64(len(src)), "poi_bug66675.xlsx")
	require.NoError(t, err)
	require.NotNil(t, plain.Label, "with no organisation tenant the precedence of a single read stays")
}
