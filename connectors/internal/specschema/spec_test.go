package specschema

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func problems(t *testing.T, s *Schema, body string) []string {
	t.Helper()
	v, err := Decode([]byte(body))
	require.NoError(t, err)
	var out []string
	for _, p := range Validate(v, s) {
		out = append(out, p.String())
	}
	return out
}

func TestDriveDiscovery(t *testing.T) {
	t.Parallel()
	d, err := Drive()
	require.NoError(t, err)
	r, err := d.Resolve(http.MethodGet, "/drive/v3/files/abc")
	require.NoError(t, err)
	require.Equal(t, "drive.files.get", r.Resource)
	r2, err := d.Resolve(http.MethodGet, "/drive/v3/changes/startPageToken")
	require.NoError(t, err)
	require.Equal(t, "drive.changes.getStartPageToken", r2.Resource)
	up, err := d.Resolve(http.MethodPatch, "/upload/drive/v3/files/abc")
	require.NoError(t, err)
	require.Equal(t, "drive.files.update", up.Resource, "media upload paths resolve to their method")
	_, err = d.Resolve(http.MethodDelete, "/drive/v3/nothing/here")
	require.Error(t, err)
	require.ElementsMatch(t, []string{
		"property /size (schema File.size): JSON number, the description says string",
		"property /sizeInBytes (schema File): property the description does not have",
		"property /owners/0/me (schema User.me): JSON string, the description says boolean",
	}, problems(t, r.Response, `{"id":"a","size":12,"sizeInBytes":"1","owners":[{"me":"yes"}],"version":"3"}`))
	require.Equal(t, []string{`property /version (schema File.version): "x3" is not the numeric string the description says`},
		problems(t, r.Response, `{"version":"x3"}`))

	l, err := DriveLabels()
	require.NoError(t, err)
	lr, err := l.Resolve(http.MethodGet, "/v2/labels")
	require.NoError(t, err)
	require.Equal(t, "drivelabels.labels.list", lr.Resource)
}

func TestBoxOpenAPI(t *testing.T) {
	t.Parallel()
	o, err := Box()
	require.NoError(t, err)
	r, err := o.Resolve(http.MethodGet, "/files/12/metadata/enterprise/securityClassification-6VMVochwUWo", "")
	require.NoError(t, err)
	require.Equal(t, "GET /files/{file_id}/metadata/enterprise/securityClassification-6VMVochwUWo", r.Resource, "the most literal template wins")
	r, err = o.Resolve(http.MethodGet, "/files/12", "")
	require.NoError(t, err)
	s, ok := r.ResponseFor(200)
	require.True(t, ok)
	require.Empty(t, problems(t, s, `{"type":"file","id":"12","etag":"1","shared_link":null}`), "nullable through allOf")
	require.ElementsMatch(t, []string{
		"property /bogus (schema File--Full): property the description does not have",
		"property /size (schema inline): JSON string, the description says integer",
		`property /item_status (schema inline): "gone" is not one of the described values [active trashed deleted]`,
	}, problems(t, s, `{"type":"file","id":"12","size":"3","bogus":1,"item_status":"gone"}`))
	errSchema, ok := r.ResponseFor(418)
	require.True(t, ok, "default answers every other status")
	require.Equal(t, "ClientError", errSchema.Name)
	wh, err := o.Schema("Webhooks")
	require.NoError(t, err)
	require.NotEmpty(t, problems(t, wh, `{"entries":[{"id":"1","type":"webhook","address":"https://x"}]}`), "list entries are Webhook--Mini")
}
