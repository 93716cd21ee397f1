package labeling

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/labelgate/labelgate/labeling/labeltest"
	"github.com/stretchr/testify/require"
)

func TestReadCorpus(t *testing.T) {
	t.Parallel()
	for _, c := range slices.Concat(labeltest.Corpus(), labeltest.ReadOnlyCorpus(), labeltest.TenantCorpus()) {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			res, err := ReadWith(context.Background(), bytes.NewReader(c.Data), int64(len(c.Data)), c.Name, ReadOptions{Tenant: c.Tenant})
			if c.WantErr {
				require.ErrorIs(t, err, ErrMalformed)
				return
			}
			require.NoError(t, err)
			want := ReadTypeOf(c.Name)
			if c.WantType != "" {
				want = FileType(c.WantType)
			}
			require.Equal(t, want, res.Type)
			if c.WantEffective > 0 {
				require.Len(t, res.Effective, c.WantEffective)
			}
			require.Len(t, res.Labels, c.WantRecords)
			require.Equal(t, c.WantProtected != "", res.Protected)
			require.Equal(t, c.WantProtected, res.ProtectionKind)
			if c.WantLabel == "" {
				require.Nil(t, res.Label)
				return
			}
			require.NotNil(t, res.Label)
			require.Equal(t, c.WantLabel, res.Label.ID)
			if c.WantTenant != "" {
				require.Equal(t, c.WantTenant, res.Label.Tenant)
			}
			if c.WantMethod != "" {
				require.Equal(t, c.WantMethod, res.Label.Method)
			}
			require.Equal(t, c.WantParent, res.Label.ParentID)
			if c.WantSource != "" {
				require.Equal(t, c.WantSource, res.Label.Source)
			}
			require.Positive(t, res.RoundTrips)
			require.Positive(t, res.BytesRead)
		})
	}
}
