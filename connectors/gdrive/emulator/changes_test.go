package emulator_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/api/drive/v3"
)

// A change to a shared drive itself is listed as Drive lists it: changeType "drive", the
// drive's id and resource, no fileId (the Change schema of drive-api.json).
func TestDriveLevelChangeEntry(t *testing.T) {
	t.Parallel()
	s := setup(t)
	_, tok := grant(t, s, assertion(map[string]any{"iss": "sa", "sub": "admin@example.com", "scope": "x", "iat": 1, "exp": 2}))
	list := func(query string) drive.ChangeList {
		req, err := http.NewRequest(http.MethodGet, s.DriveEndpoint()+query, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		var cl drive.ChangeList
		require.NoError(t, json.NewDecoder(res.Body).Decode(&cl))
		return cl
	}
	req, err := http.NewRequest(http.MethodGet, s.DriveEndpoint()+"changes/startPageToken?driveId=sd-finance&supportsAllDrives=true", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var st drive.StartPageToken
	require.NoError(t, json.NewDecoder(res.Body).Decode(&st))
	res.Body.Close()

	require.NoError(t, s.RenameSharedDrive("sd-finance", "Finance (archive)"))
	require.Error(t, s.RenameSharedDrive("sd-nope", "x"))
	cl := list("changes?pageToken=" + st.StartPageToken + "&driveId=sd-finance&includeItemsFromAllDrives=true&supportsAllDrives=true")
	require.Len(t, cl.Changes, 1)
	c := cl.Changes[0]
	require.Equal(t, "drive", c.ChangeType)
	require.Empty(t, c.FileId)
	require.Nil(t, c.File)
	require.Equal(t, "sd-finance", c.DriveId)
	require.Equal(t, "Finance (archive)", c.Drive.Name)
}
