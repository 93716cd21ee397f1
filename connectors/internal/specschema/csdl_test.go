package specschema

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGraphResolve(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c, err := Graph()
	require.NoError(t, err)
	t.Logf("graph CSDL parsed in %v", time.Since(start))
	cases := []struct{ method, path, resource, response string }{
		{"GET", "/drives/b!x", "microsoft.graph.drive", "microsoft.graph.drive"},
		{"GET", "/drives/b!x/root", "microsoft.graph.driveItem", "microsoft.graph.driveItem"},
		{"GET", "/drives/b!x/items/01/children", "Collection(microsoft.graph.driveItem)", "Collection(microsoft.graph.driveItem)"},
		{"GET", "/drives/b!x/root/delta", "delta bound to microsoft.graph.driveItem", "Collection(microsoft.graph.driveItem)"},
		{"GET", "/drives/b!x/root/delta(token='abc')", "delta bound to microsoft.graph.driveItem", "Collection(microsoft.graph.driveItem)"},
		{"GET", "/drives/b!x/items/01/permissions", "Collection(microsoft.graph.permission)", "Collection(microsoft.graph.permission)"},
		{"POST", "/drives/b!x/items/01/extractSensitivityLabels", "extractSensitivityLabels bound to microsoft.graph.driveItem", "microsoft.graph.extractSensitivityLabelsResult"},
		{"GET", "/sites/getAllSites()", "getAllSites bound to Collection(microsoft.graph.site)", "Collection(microsoft.graph.site)"},
		{"GET", "/users/u/drive", "microsoft.graph.drive", "microsoft.graph.drive"},
		{"GET", "/security/dataSecurityAndGovernance/sensitivityLabels", "Collection(microsoft.graph.sensitivityLabel)", "Collection(microsoft.graph.sensitivityLabel)"},
		{"POST", "/subscriptions", "Collection(microsoft.graph.subscription)", "microsoft.graph.subscription"},
	}
	for _, tc := range cases {
		r, err := c.Resolve(tc.method, tc.path)
		require.NoError(t, err, tc.path)
		require.Equal(t, tc.resource, r.Resource, tc.path)
		require.NotNil(t, r.Response, tc.path)
		require.Equal(t, tc.response, r.Response.Name, tc.path)
	}
	r, err := c.Resolve(http.MethodPost, "/drives/d/items/i/assignSensitivityLabel")
	require.NoError(t, err)
	require.Nil(t, r.Response)
	require.Contains(t, r.Request.Props, "sensitivityLabelId")
	r, err = c.Resolve(http.MethodPut, "/drives/d/items/i/content")
	require.NoError(t, err)
	require.Equal(t, "microsoft.graph.driveItem", r.Response.Name)
	_, err = c.Resolve(http.MethodGet, "/drives/d/items/i/nosuch")
	require.Error(t, err)
}

func TestValidateGraphDriveItem(t *testing.T) {
	t.Parallel()
	c, err := Graph()
	require.NoError(t, err)
	s, err := c.ResultOf("Collection(microsoft.graph.driveItem)")
	require.NoError(t, err)
	v, err := Decode([]byte(`{"value":[{"id":"1","name":"a","size":"12","isActive":true,"createdBy":{"user":{"email":"a@b"},"bogus":{}},
		"file":{"mimeType":"x"},"@microsoft.graph.downloadUrl":"u","@odata.bogus":1,
		"deleted":{"state":"deleted"},"parentReference":{"driveId":"d","driveType":"business"}}],
		"@odata.deltaLink":"l"}`))
	require.NoError(t, err)
	var msgs []string
	for _, p := range Validate(v, s) {
		msgs = append(msgs, p.String())
	}
	require.ElementsMatch(t, []string{
		"property /value/0/@odata.bogus (schema microsoft.graph.driveItem): instance annotation the description and the allowed list do not have",
		"property /value/0/size (schema Edm.Int64): JSON string, the description says integer",
		"property /value/0/createdBy/bogus (schema microsoft.graph.identitySet): dynamic property of an open type, not declared by the description",
		"property /value/0/createdBy/user/email (schema microsoft.graph.identity): dynamic property of an open type, not declared by the description",
		"property /value/0/isActive (schema microsoft.graph.driveItem): dynamic property of an open type, not declared by the description",
	}, msgs)
}
