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
	"sync/atomic"
	"testing"
	"time"

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
	require.Equal(t, strconv.Itoa(emu.StreamPosition()), now["next_stream_position"])
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

	// Box documents no error for a position past its retention: the events are just gone.
	emu.ExpireStream()
	status, page = events(start)
	require.Equal(t, 200, status)
	require.Empty(t, page["entries"])
	require.Equal(t, strconv.Itoa(emu.StreamPosition()), page["next_stream_position"])
	status, _ = events("not-a-number")
	require.Equal(t, 400, status)
}

func TestEventsAgeOutAfterRetention(t *testing.T) {
	t.Parallel()
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	emu, err := emulator.New(emulator.Options{Manifest: "../../../testdata/box/manifest.json", Retention: 21 * 24 * time.Hour,
		Now: func() time.Time { return time.Unix(now.Load(), 0) }})
	require.NoError(t, err)
	t.Cleanup(emu.Close)
	start := emu.StreamPosition()
	require.NoError(t, emu.ModifyFile("1001", []byte("old")))
	now.Add(int64(20 * 24 * time.Hour / time.Second))
	require.NoError(t, emu.ModifyFile("1002", []byte("newer")))
	now.Add(int64(2 * 24 * time.Hour / time.Second)) // the first event is 22 days old now
	tok := token(t, emu)
	status, page := do(t, "GET", emu.APIURL()+"/events?stream_type=changes&stream_position="+strconv.Itoa(start), tok, "", nil)
	require.Equal(t, 200, status)
	entries := page["entries"].([]any)
	require.Len(t, entries, 1)
	require.Equal(t, "1002", entries[0].(map[string]any)["source"].(map[string]any)["id"])
}

func TestWebhookRulesFollowBox(t *testing.T) {
	t.Parallel()
	emu, err := emulator.New(emulator.Options{Manifest: "../../../testdata/box/manifest.json", MaxWebhooks: 2})
	require.NoError(t, err)
	t.Cleanup(emu.Close)
	tok := token(t, emu)
	create := func(target, addr string) (int, map[string]any) {
		body := `{"target":{"id":"` + target + `","type":"folder"},"address":"` + addr + `","triggers":["FILE.UPLOADED"]}`
		return do(t, "POST", emu.APIURL()+"/webhooks", tok, "application/json", strings.NewReader(body))
	}
	status, body := create("0", "https://a.example/h")
	require.Equal(t, 400, status, "no V2 webhook on the root folder")
	require.Contains(t, body["message"], "root folder")
	status, first := create("100", "https://a.example/h")
	require.Equal(t, 201, status)
	status, body = create("100", "https://b.example/other")
	require.Equal(t, 409, status, "one webhook per item per app per user, whatever the address")
	require.Equal(t, "conflict", body["code"])
	status, _ = create("200", "https://a.example/h")
	require.Equal(t, 201, status)
	status, _ = create("110", "https://a.example/h")
	require.Equal(t, 400, status, "past the per-app-per-user limit")

	id := first["id"].(string)
	status, upd := do(t, "PUT", emu.APIURL()+"/webhooks/"+id, tok, "application/json",
		strings.NewReader(`{"address":"https://b.example/other","triggers":["FILE.UPLOADED","SHARED_LINK.CREATED"]}`))
	require.Equal(t, 200, status)
	require.Equal(t, "https://b.example/other", upd["address"])
	require.Equal(t, []any{"FILE.UPLOADED", "SHARED_LINK.CREATED"}, upd["triggers"])
	status, _ = do(t, "PUT", emu.APIURL()+"/webhooks/"+id, tok, "application/json", strings.NewReader(`{"target":{"id":"0","type":"folder"}}`))
	require.Equal(t, 400, status)
	status, _ = do(t, "PUT", emu.APIURL()+"/webhooks/nope", tok, "application/json", strings.NewReader(`{}`))
	require.Equal(t, 404, status)
	status, _ = do(t, "POST", emu.APIURL()+"/webhooks", tok, "application/json",
		strings.NewReader(`{"target":{"id":"110","type":"folder"},"address":"https://a","triggers":["FILE.NOPE"]}`))
	require.Equal(t, 400, status)
}

func TestTrashedItemPathIsTheTrash(t *testing.T) {
	t.Parallel()
	emu, tok := setup(t)
	start := strconv.Itoa(emu.StreamPosition())
	require.NoError(t, emu.TrashFile("1101"))
	_, page := do(t, "GET", emu.APIURL()+"/events?stream_type=changes&stream_position="+start, tok, "", nil)
	entries := page["entries"].([]any)
	require.Len(t, entries, 1)
	src := entries[0].(map[string]any)["source"].(map[string]any)
	require.Equal(t, "trashed", src["item_status"])
	pc := src["path_collection"].(map[string]any)["entries"].([]any)
	require.Len(t, pc, 1)
	require.Equal(t, "Trash", pc[0].(map[string]any)["name"])
	require.Equal(t, "1", pc[0].(map[string]any)["id"])
}

func TestAdminLogsStreamingNeedsAdminAndHasEventSources(t *testing.T) {
	t.Parallel()
	emu, tok := setup(t)
	get := func(pos string) (int, map[string]any) {
		return do(t, "GET", emu.APIURL()+"/events?stream_type=admin_logs_streaming&stream_position="+pos, tok, "", nil)
	}
	status, body := get("now")
	require.Equal(t, 403, status)
	require.Equal(t, "access_denied_insufficient_permissions", body["code"])
	emu.SetAdminEvents(true)
	start := strconv.Itoa(emu.StreamPosition())
	require.NoError(t, emu.TrashFile("1002"))
	status, page := get(start)
	require.Equal(t, 200, status)
	ev := page["entries"].([]any)[0].(map[string]any)
	require.Equal(t, "DELETE", ev["event_type"])
	src := ev["source"].(map[string]any)
	require.Equal(t, map[string]any{"item_type": "file", "item_id": "1002", "item_name": "press-release.txt"},
		map[string]any{"item_type": src["item_type"], "item_id": src["item_id"], "item_name": src["item_name"]})
	require.NotContains(t, src, "path_collection")
}

func TestUploadIfMatch(t *testing.T) {
	t.Parallel()
	emu, tok := setup(t)
	upload := func(ifMatch string) int {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		require.NoError(t, mw.WriteField("attributes", `{}`))
		fw, err := mw.CreateFormFile("file", "content")
		require.NoError(t, err)
		_, _ = fw.Write([]byte("new"))
		require.NoError(t, mw.Close())
		req, err := http.NewRequest("POST", emu.UploadURL()+"/files/1001/content", &buf)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	_, f := do(t, "GET", emu.APIURL()+"/files/1001?fields=etag", tok, "", nil)
	etag := f["etag"].(string)
	require.Equal(t, 200, upload(etag))
	require.Equal(t, 412, upload(etag), "the etag moved with the new version")
	_, versions := emu.Content("1001")
	require.Equal(t, 2, versions)
	require.Equal(t, 200, upload(""), "without If-Match the upload is unconditional")
}

func token(t *testing.T, emu *emulator.Emulator) string {
	t.Helper()
	resp, err := http.PostForm(emu.TokenURL(), url.Values{"grant_type": {"client_credentials"}, "client_id": {"client"},
		"client_secret": {"secret"}, "box_subject_type": {"enterprise"}, "box_subject_id": {emu.EnterpriseID()}})
	require.NoError(t, err)
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&tok))
	return tok.AccessToken
}
