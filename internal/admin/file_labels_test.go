package admin_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/store"
)

// TestFileViewListsEveryLabel: the file view returns all of a file's labels.
func TestFileViewListsEveryLabel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.st.RecordScan(ctx, store.ScanOutcome{File: connectors.File{Ref: b.ref, Name: "plan.docx", Path: "/Finance", ETag: "e2",
		Access: connectors.AccessExternal}, Type: "word", LabelID: "L1", LabelTenant: "org", External: true,
		Labels: []store.CarriedLabel{{LabelID: "L1", Tenant: "org", Source: "labelinfo"},
			{LabelID: "X9", Tenant: "other", Source: "custom", Name: "Amber", External: true}}})
	require.NoError(t, err)
	code, body := b.do(t, "GET", "/api/v1/files/"+admin.FileID(b.ref), viewerTok, "")
	require.Equal(t, 200, code)
	var got struct {
		File struct {
			LabelID       string `json:"labelId"`
			LabelExternal bool   `json:"labelExternal"`
		} `json:"file"`
		Labels []store.CarriedLabel `json:"labels"`
	}
	require.NoError(t, json.Unmarshal(body, &got))
	require.Equal(t, "L1", got.File.LabelID)
	require.True(t, got.File.LabelExternal)
	require.Len(t, got.Labels, 2)
	require.Equal(t, "custom", got.Labels[1].Source)
	require.True(t, got.Labels[1].External)
}
