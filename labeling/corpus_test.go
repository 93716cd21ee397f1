package labeling

import (
	"bytes"
	"context"
	"testing"

	"github.com/labelgate/labelgate/labeling/labeltest"
	"github.com/stretchr/testify/require"
)

func TestReadCorpus(t *testing.T) {
	t.Parallel()
	for _, c := range labeltest.Corpus() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			res, err := Read(context.Background(), bytes.NewReader(c.Data), int64(len(c.Data)), c.Name)
			if c.WantErr {
				require.ErrorIs(t, err, ErrMalformed)
				return
			}
			require.NoError(t, err)
			require.Equal(t, TypeOf(c.Name), res.Type)
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
			require.Positive(t, res.RoundTrips)
			require.Positive(t, res.BytesRead)
		})
	}
}
