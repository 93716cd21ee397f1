package emulator_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors/gdrive/emulator"
)

func setup(t *testing.T) *emulator.Server {
	t.Helper()
	m, err := emulator.LoadManifest("../../../testdata/gdrive/tenant.json")
	require.NoError(t, err)
	s, err := emulator.New(emulator.Options{Manifest: m})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func assertion(claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims) + ".c2ln"
}

func grant(t *testing.T, s *emulator.Server, assertion string) (int, map[string]any) {
	t.Helper()
	res, err := http.PostForm(s.TokenURL(), url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion}})
	require.NoError(t, err)
	defer res.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
	return res.StatusCode, body
}

func TestTokenGrant(t *testing.T) {
	t.Parallel()
	s := setup(t)
	ok := map[string]any{"iss": "sa@p.iam.gserviceaccount.com", "sub": "alice@example.com",
		"scope": "https://www.googleapis.com/auth/drive", "iat": 1, "exp": 3601}
	code, body := grant(t, s, assertion(ok))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "Bearer", body["token_type"])
	require.NotEmpty(t, body["access_token"])
	require.Equal(t, []string{"https://www.googleapis.com/auth/drive"}, s.TokenScopes("alice@example.com"))

	ok["sub"] = "eve@elsewhere.org"
	code, body = grant(t, s, assertion(ok))
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, "invalid_grant", body["error"])

	code, _ = grant(t, s, "not-a-jwt")
	require.Equal(t, http.StatusBadRequest, code)

	// The Drive API wants the issued bearer token.
	res, err := http.Get(s.DriveEndpoint() + "files")
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
}

func TestManifestMustBeConsistent(t *testing.T) {
	t.Parallel()
	for name, m := range map[string]*emulator.Manifest{
		"unknown owner": {Users: []emulator.User{{Email: "a@example.com"}},
			Files: []emulator.FileSpec{{ID: "f", Name: "f", Owner: "b@example.com"}}},
		"unknown shared drive": {Files: []emulator.FileSpec{{ID: "f", Name: "f", Drive: "sd"}}},
		"unknown label": {Users: []emulator.User{{Email: "a@example.com"}},
			Files: []emulator.FileSpec{{ID: "f", Name: "f", Owner: "a@example.com",
				Labels: []emulator.AppliedLabel{{LabelID: "l", FieldID: "f", ChoiceID: "c"}}}}},
		"duplicate id": {Users: []emulator.User{{Email: "a@example.com"}},
			Files: []emulator.FileSpec{{ID: "f", Owner: "a@example.com"}, {ID: "f", Owner: "a@example.com"}}},
	} {
		_, err := emulator.New(emulator.Options{Manifest: m})
		require.Error(t, err, name)
	}
	_, err := emulator.LoadManifest("../../../testdata/gdrive/missing.json")
	require.Error(t, err)
}

func TestControls(t *testing.T) {
	t.Parallel()
	s := setup(t)
	require.Equal(t, "example.com", s.Domain())
	id, err := s.AddFile(emulator.FileSpec{Name: "x.txt", Owner: "alice@example.com", Content: "x"})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(id, "gen"))
	got, ok := s.Content(id)
	require.True(t, ok)
	require.Equal(t, "x", string(got))
	require.NoError(t, s.ModifyFile(id, []byte("y")))
	got, _ = s.Content(id)
	require.Equal(t, "y", string(got))
	require.NoError(t, s.DeleteFile(id))
	_, ok = s.Content(id)
	require.False(t, ok)
	require.Error(t, s.ModifyFile(id, nil))
	require.Error(t, s.SetPermissions(id, nil))
	require.Error(t, s.TrashFile(id))
	require.Empty(t, s.Channels())
	require.Zero(t, s.LabelWrites("f-private"))
}

func TestMediaRangeAnswers206(t *testing.T) {
	t.Parallel()
	s := setup(t)
	t.Cleanup(s.Close) // closing twice is harmless
	_, body := grant(t, s, assertion(map[string]any{"iss": "sa", "sub": "alice@example.com", "scope": "x", "iat": 1, "exp": 2}))
	get := func(rng string) *http.Response {
		req, err := http.NewRequest(http.MethodGet, s.DriveEndpoint()+"files/f-private?alt=media", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+body["access_token"].(string))
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	res := get("bytes=8-12")
	require.Equal(t, http.StatusPartialContent, res.StatusCode)
	require.Equal(t, "bytes 8-12/22", res.Header.Get("Content-Range"))
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, "notes", string(b))
	require.Equal(t, http.StatusOK, get("").StatusCode)
	require.Equal(t, 2, s.MediaRequests())
}
