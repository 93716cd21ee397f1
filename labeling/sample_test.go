package labeling

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestReadRealSample(t *testing.T) {
	t.Parallel()
	data := readSample(t)
	res, err := Read(context.Background(), bytes.NewReader(data), int64(len(data)), "LabeledGeneral.docx")
	require.NoError(t, err)
	require.Equal(t, TypeWord, res.Type)
	require.NotNil(t, res.Label)
	require.Equal(t, "f42aa342-8706-4288-bd11-ebb85995028c", res.Label.ID)
	require.Equal(t, "72f988bf-86f1-41af-91ab-2d7cd011db47", res.Label.Tenant)
	require.Equal(t, "privileged", res.Label.Method)
	require.Equal(t, "General", res.Label.Name)
	require.True(t, res.Label.Enabled)
	require.Equal(t, time.Date(2017, 9, 5, 10, 44, 33, 659236300, time.UTC), res.Label.SetDate)
	require.Equal(t, "custom", res.Label.Source)
	require.False(t, res.Protected)
	require.Equal(t, 1, res.RoundTrips, "a small file is fetched whole in one read")
	require.Equal(t, int64(len(data)), res.BytesRead)
}

func readSample(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("../testdata/labels/samples/LabeledGeneral.docx")
	require.NoError(t, err)
	return data
}
