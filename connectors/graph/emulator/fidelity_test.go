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

	"github.com/labelgate/labelgate/connectors/graph/emulator"
)

func token(t *testing.T, s *emulator.Server) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"pw"}, "scope": {"https://graph.microsoft.com/.default"}}
	resp, err := http.Post(s.TokenURL(), "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	return tok.AccessToken
}

func call(t *testing.T, method, u, tok string, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, resp.Header
}

// TestTokensCarryRolesAndEndpointsCheckThem: the access token is a JWT whose "roles" claim
// holds the granted application permissions; an endpoint whose permission is missing answers
// 403 accessDenied; assignSensitivityLabel answers 402 paymentRequired until billing is linked.
func TestTokensCarryRolesAndEndpointsCheckThem(t *testing.T) {
	t.Parallel()
	s := setup(t, emulator.Options{ClientID: "app", ClientSecret: "pw",
		Roles: []string{emulator.RoleSitesRead, emulator.RoleFilesReadWrite, emulator.RoleInfoProtPolicyRd}})
	tok := token(t, s)
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 3)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims struct {
		Roles []string `json:"roles"`
		Tid   string   `json:"tid"`
	}
	require.NoError(t, json.Unmarshal(payload, &claims))
	require.Equal(t, s.TenantID(), claims.Tid)
	require.ElementsMatch(t, []string{emulator.RoleSitesRead, emulator.RoleFilesReadWrite, emulator.RoleInfoProtPolicyRd}, claims.Roles)

	status, body, _ := call(t, http.MethodGet, s.GraphURL()+"/security/dataSecurityAndGovernance/sensitivityLabels", tok, "")
	require.Equal(t, http.StatusForbidden, status)
	require.Equal(t, "accessDenied", body["error"].(map[string]any)["code"])
	status, _, _ = call(t, http.MethodGet, s.GraphURL()+"/users", tok, "")
	require.Equal(t, http.StatusForbidden, status, "User.Read.All not granted")
	status, _, _ = call(t, http.MethodGet, s.GraphURL()+"/drives/b!hr-docs/root/children", tok, "")
	require.Equal(t, http.StatusOK, status)

	status, body, _ = call(t, http.MethodPost, s.GraphURL()+"/drives/b!hr-docs/items/root/assignSensitivityLabel", tok, `{"sensitivityLabelId":""}`)
	require.Equal(t, http.StatusPaymentRequired, status)
	require.Equal(t, "paymentRequired", body["error"].(map[string]any)["code"])

	s.SetRoles(emulator.DefaultRoles()...)
	tok = token(t, s)
	status, body, _ = call(t, http.MethodGet, s.GraphURL()+"/security/dataSecurityAndGovernance/sensitivityLabels", tok, "")
	require.Equal(t, http.StatusOK, status)
	for _, l := range body["value"].([]any) {
		lab := l.(map[string]any)
		require.Contains(t, lab, "isEnabled")
		require.Contains(t, lab, "hasProtection")
		require.NotContains(t, lab, "isActive")
		require.NotContains(t, lab, "parent", "the CSDL has no parent property: sublabels nest")
	}
}

// TestDeltaGoneCarriesCodeAndLocation: an expired delta token answers 410 with a resync code
// and a Location holding a fresh link that works.
func TestDeltaGoneCarriesCodeAndLocation(t *testing.T) {
	t.Parallel()
	s := setup(t, emulator.Options{})
	status, body, _ := call(t, http.MethodGet, s.GraphURL()+"/drives/b!fin-docs/root/delta", "", "")
	require.Equal(t, http.StatusOK, status)
	link := body["@odata.deltaLink"].(string)
	s.ExpireDeltaTokensWith(emulator.ResyncUploadDifferences)
	status, body, hdr := call(t, http.MethodGet, link, "", "")
	require.Equal(t, http.StatusGone, status)
	require.Equal(t, emulator.ResyncUploadDifferences, body["error"].(map[string]any)["code"])
	fresh := hdr.Get("Location")
	require.NotEmpty(t, fresh)
	status, body, _ = call(t, http.MethodGet, fresh, "", "")
	require.Equal(t, http.StatusOK, status)
	require.NotEmpty(t, body["value"], "the fresh link enumerates the drive")
}
