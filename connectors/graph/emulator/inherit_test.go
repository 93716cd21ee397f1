package emulator_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors/graph/emulator"
)

type wireItem struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Shared          json.RawMessage `json:"shared"`
	ParentReference struct {
		ID   string `json:"id"`
		Path string `json:"path"`
	} `json:"parentReference"`
}

func getJSON(t *testing.T, req *http.Request, v any) http.Header {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, req.URL.String())
	require.NoError(t, json.NewDecoder(resp.Body).Decode(v))
	return resp.Header
}

func delta(t *testing.T, s *emulator.Server, prefer string) (map[string]wireItem, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.GraphURL()+"/drives/b!hr-documents/root/delta", nil)
	require.NoError(t, err)
	if prefer != "" {
		req.Header.Set("Prefer", prefer)
	}
	var page struct{ Value []wireItem }
	h := getJSON(t, req, &page)
	out := map[string]wireItem{}
	for _, it := range page.Value {
		require.Empty(t, it.ParentReference.Path, "delta carries no parent path")
		out[it.Name] = it
	}
	return out, h
}

// TestFolderGrantsAreInherited: a manifest folder's grant applies to the files below it:
// their permissions list it with inheritedFrom, it cannot be deleted on them, and delta's
// shared facet follows "Scanning permissions hierarchies" with Prefer: hierarchicalsharing
// (other preferences beside it tolerated) and marks every shared item without it.
func TestFolderGrantsAreInherited(t *testing.T) {
	t.Parallel()
	m := emulator.DefaultManifest()
	m.Files = []emulator.ManifestFile{{Drive: "b!hr-documents", Path: "/Team/x.docx", Owner: "adele@contoso.com"}}
	m.Folders = []emulator.ManifestFolder{{Drive: "b!hr-documents", Path: "/Team", Sharing: []emulator.Share{{Link: "anonymous"}}}}
	s, err := emulator.New(emulator.Options{Manifest: m})
	require.NoError(t, err)
	t.Cleanup(s.Close)

	items, h := delta(t, s, "deltashowremovedasdeleted, hierarchicalsharing")
	require.Equal(t, "hierarchicalsharing", h.Get("Preference-Applied"))
	require.JSONEq(t, `{}`, string(items["root"].Shared), "the unshared root establishes the scope")
	require.Contains(t, string(items["Team"].Shared), `"scope":"anonymous"`)
	require.Empty(t, items["x.docx"].Shared, "an inheriting item carries no facet")
	folder, file := items["Team"].ID, items["x.docx"].ID

	items, h = delta(t, s, "")
	require.Empty(t, h.Get("Preference-Applied"))
	require.Empty(t, items["root"].Shared)
	require.Contains(t, string(items["x.docx"].Shared), `"scope":"anonymous"`, "by default every shared item")

	req, err := http.NewRequest(http.MethodGet, s.GraphURL()+"/drives/b!hr-documents/items/"+file+"/permissions", nil)
	require.NoError(t, err)
	var perms struct {
		Value []struct {
			ID            string `json:"id"`
			InheritedFrom *struct {
				ID string `json:"id"`
			} `json:"inheritedFrom"`
			Link *struct {
				Scope string `json:"scope"`
			} `json:"link"`
		}
	}
	getJSON(t, req, &perms)
	require.Len(t, perms.Value, 2, "the owner's and the folder's link")
	link := perms.Value[1]
	require.Equal(t, "anonymous", link.Link.Scope)
	require.NotNil(t, link.InheritedFrom)
	require.Equal(t, folder, link.InheritedFrom.ID)

	req, err = http.NewRequest(http.MethodDelete, s.GraphURL()+"/drives/b!hr-documents/items/"+file+"/permissions/"+link.ID, nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "an inherited grant is deleted where it was granted")
}

// TestHierarchicalSharingNeedsFullControl: with client credentials, the preference is
// honoured only for a token carrying Sites.FullControl.All.
func TestHierarchicalSharingNeedsFullControl(t *testing.T) {
	t.Parallel()
	for _, full := range []bool{false, true} {
		roles := emulator.DefaultRoles()
		if full {
			roles = append(roles, emulator.RoleSitesFullControl)
		}
		s, err := emulator.New(emulator.Options{ClientID: "app", ClientSecret: "pw", Roles: roles})
		require.NoError(t, err)
		t.Cleanup(s.Close)
		resp, err := http.Post(s.TokenURL(), "application/x-www-form-urlencoded", strings.NewReader(
			"grant_type=client_credentials&client_id=app&client_secret=pw&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"))
		require.NoError(t, err)
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
		resp.Body.Close()
		req, err := http.NewRequest(http.MethodGet, s.GraphURL()+"/drives/b!hr-documents/root/delta", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Prefer", "hierarchicalsharing")
		var page struct{ Value []wireItem }
		h := getJSON(t, req, &page)
		if full {
			require.Equal(t, "hierarchicalsharing", h.Get("Preference-Applied"))
		} else {
			require.Empty(t, h.Get("Preference-Applied"), "declined without Sites.FullControl.All")
		}
	}
}
