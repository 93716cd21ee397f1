package emulator_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors/graph/emulator"
)

func setup(t *testing.T, opts emulator.Options) *emulator.Server {
	t.Helper()
	m, err := emulator.LoadManifest("../../../testdata/graph/manifest.json")
	require.NoError(t, err)
	opts.Manifest = m
	s, err := emulator.New(opts)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func TestTokenEndpointGuardsTheAPI(t *testing.T) {
	t.Parallel()
	s := setup(t, emulator.Options{ClientID: "app", ClientSecret: "pw"})
	resp, err := http.Get(s.GraphURL() + "/drives/b!hr-docs")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"wrong"}, "scope": {"https://graph.microsoft.com/.default"}}
	resp, err = http.Post(s.TokenURL(), "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}

func TestManifestSeedsContent(t *testing.T) {
	t.Parallel()
	s := setup(t, emulator.Options{})
	resp, err := http.Get(s.GraphURL() + "/drives/b!nope/items/root/children")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	require.Equal(t, 1, s.Requests("GET /v1.0/drives/b!nope"))
}
