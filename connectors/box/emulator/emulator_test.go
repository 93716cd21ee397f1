package emulator_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors/box/emulator"
)

// These tests pin the wire behaviour the emulator promises beyond what the connector tests
// reach: it must refuse what Box refuses, so client mistakes show up.

func setup(t *testing.T) (*emulator.Emulator, string) {
	t.Helper()
	emu, err := emulator.New(emulator.Options{Manifest: "../../../testdata/box/manifest.json"})
	require.NoError(t, err)
	t.Cleanup(emu.Close)
	resp, err := http.PostForm(emu.TokenURL(), url.Values{"grant_type": {"client_credentials"}, "client_id": {"client"},
		"client_secret": {"secret"}, "box_subject_type": {"enterprise"}, "box_subject_id": {emu.EnterpriseID()}})
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	return emu, tok.AccessToken
}

func do(t *testing.T, method, u, token, contentType string, body io.Reader) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestTokenNeedsEnterpriseSubject(t *testing.T) {
	t.Parallel()
	emu, _ := setup(t)
	resp, err := http.PostForm(emu.TokenURL(), url.Values{"grant_type": {"client_credentials"}, "client_id": {"client"},
		"client_secret": {"secret"}, "box_subject_type": {"enterprise"}, "box_subject_id": {"other"}})
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 400, resp.StatusCode)

	status, _ := do(t, "GET", emu.APIURL()+"/files/1001", "", "", nil)
	require.Equal(t, 401, status)
}

func TestFieldsAreHonoured(t *testing.T) {
	t.Parallel()
	emu, tok := setup(t)
	status, body := do(t, "GET", emu.APIURL()+"/files/1001?fields=name,size", tok, "", nil)
	require.Equal(t, 200, status)
	require.Equal(t, "budget.docx", body["name"])
	require.Contains(t, body, "size")
	require.NotContains(t, body, "owned_by", "fields not asked for are left out")
	require.NotContains(t, body, "metadata")

	_, body = do(t, "GET", emu.APIURL()+"/files/1001?fields=metadata.enterprise.securityClassification-6VMVochwUWo", tok, "", nil)
	md := body["metadata"].(map[string]any)["enterprise"].(map[string]any)[emulator.TemplateKey].(map[string]any)
	require.Equal(t, "Confidential", md[emulator.FieldKey])
}

func TestMetadataUpdateNeedsJSONPatch(t *testing.T) {
	t.Parallel()
	emu, tok := setup(t)
	u := emu.APIURL() + "/files/1001/metadata/enterprise/" + emulator.TemplateKey
	patch := `[{"op":"replace","path":"/` + emulator.FieldKey + `","value":"Public"}]`
	status, _ := do(t, "PUT", u, tok, "application/json", strings.NewReader(patch))
	require.Equal(t, 415, status)
	status, body := do(t, "PUT", u, tok, "application/json-patch+json", strings.NewReader(patch))
	require.Equal(t, 200, status)
	require.Equal(t, "Public", body[emulator.FieldKey])
	require.Equal(t, 1, emu.LabelWrites("1001"))

	status, body = do(t, "POST", u, tok, "application/json", strings.NewReader(`{"`+emulator.FieldKey+`":"General"}`))
	require.Equal(t, 409, status)
	require.Equal(t, "tuple_already_exists", body["code"])
	require.Equal(t, 1, emu.LabelWrites("1001"))
}

func TestUploadNeedsAttributesFirst(t *testing.T) {
	t.Parallel()
	emu, tok := setup(t)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "x")
	_, _ = fw.Write([]byte("content"))
	_ = mw.WriteField("attributes", "{}")
	require.NoError(t, mw.Close())
	status, body := do(t, "POST", emu.UploadURL()+"/files/1001/content", tok, mw.FormDataContentType(), &buf)
	require.Equal(t, 400, status)
	require.Equal(t, "bad_request", body["code"])
	_, versions := emu.Content("1001")
	require.Equal(t, 1, versions)
}

func TestStreamPositions(t *testing.T) {
	t.Parallel()
	emu, tok := setup(t)
	events := func(pos string) (int, map[string]any) {
		return do(t, "GET", emu.APIURL()+"/events?stream_type=changes&stream_position="+pos, tok, "", nil)
	}
	_, now := events("now")
	require.Equal(t, float64(emu.StreamPosition()), now["next_stream_position"])
	require.Zero(t, now["chunk_size"])
	start := strconv.Itoa(emu.StreamPosition())

	require.NoError(t, emu.ModifyFile("1001", []byte("v2")))
	emu.DuplicateLastEvents(1)
	status, page := events(start)
	require.Equal(t, 200, status)
	entries := page["entries"].([]any)
	require.Len(t, entries, 2)
	first, second := entries[0].(map[string]any), entries[1].(map[string]any)
	require.Equal(t, first["event_id"], second["event_id"], "a duplicated event keeps its id")
	require.Equal(t, "ITEM_UPLOAD", first["event_type"])
	require.Equal(t, "1001", first["source"].(map[string]any)["id"])

	emu.ExpireStream()
	status, body := events(start)
	require.Equal(t, 400, status)
	require.Equal(t, "bad_request", body["code"], "a code Box's ClientError has; Box documents no expired-position error")
	status, _ = events(strconv.Itoa(emu.StreamPosition()))
	require.Equal(t, 200, status, "positions handed out after the expiry work")
}
