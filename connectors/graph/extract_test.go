package graph

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestExtractSensitivityLabelsParse: both answer shapes parse; an answer with neither is an
// error, never "no label".
func TestExtractSensitivityLabelsParse(t *testing.T) {
	t.Parallel()
	want := []labelAssignment{{SensitivityLabelID: "l1", AssignmentMethod: "standard", TenantID: "t"}}
	for name, body := range map[string]string{
		"bare (v1.0 CSDL)":       `{"labels":[{"sensitivityLabelId":"l1","assignmentMethod":"standard","tenantId":"t"}]}`,
		"wrapped (docs example)": `{"@odata.context":"x","value":{"labels":[{"sensitivityLabelId":"l1","assignmentMethod":"standard","tenantId":"t"}]}}`,
	} {
		got, err := extractSensitivityLabels([]byte(body))
		require.NoError(t, err, name)
		require.Equal(t, want, got, name)
	}
	got, err := extractSensitivityLabels([]byte(`{"labels":[]}`))
	require.NoError(t, err)
	require.Empty(t, got, "an empty collection is a real 'unlabelled'")
	got, err = extractSensitivityLabels([]byte(`{"value":{"labels":[]}}`))
	require.NoError(t, err)
	require.Empty(t, got)
	for _, bad := range []string{`{}`, `{"value":[]}`, `{"value":{}}`, `[`, `null`} {
		_, err := extractSensitivityLabels([]byte(bad))
		require.Error(t, err, bad)
	}
}
