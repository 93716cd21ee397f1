package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
)

// e2eAdminToken is the bearer token the end-to-end tests configure for the admin API.
const e2eAdminToken = "e2e-admin-token-0123456789abcdef"

func withAdminToken(c *config.Config) {
	c.Admin.Tokens = []config.Token{{Name: "e2e", Role: "admin", Token: e2eAdminToken}}
}

// postJSON sends body to url with the e2e admin token and returns the status and response body.
func postJSON(t *testing.T, url string, body any) (int, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e2eAdminToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, out
}

// applyLabelViaAdmin asks the admin API to label ref and waits for the action to finish.
func applyLabelViaAdmin(t *testing.T, h *harness, ref connectors.FileRef, labelID string) store.Action {
	t.Helper()
	status, body := postJSON(t, h.g.AdminURL()+"/api/v1/files/"+admin.FileID(ref)+"/label",
		map[string]string{"labelId": labelID, "justification": "e2e"})
	require.Equal(t, http.StatusAccepted, status, string(body))
	var res struct {
		ActionID int64 `json:"actionId"`
	}
	require.NoError(t, json.Unmarshal(body, &res))
	var act store.Action
	require.Eventually(t, func() bool {
		var err error
		act, err = h.g.Store().GetAction(context.Background(), res.ActionID)
		return err == nil && (act.State == store.ActionDone || act.State == store.ActionFailed || act.State == store.ActionRefused)
	}, 30*time.Second, 20*time.Millisecond)
	return act
}

// rawPost posts a raw body (as a provider would) and returns the status.
func rawPost(t *testing.T, url string, body []byte, header http.Header) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// fileByName finds a file of app in the inventory by name.
func fileByName(st *store.Store, app connectors.App, name string) (store.FileRecord, bool) {
	var rec store.FileRecord
	found := false
	_ = st.EachFile(context.Background(), store.FileFilter{App: app}, func(fr store.FileRecord) error {
		if fr.Name == name {
			rec, found = fr, true
		}
		return nil
	})
	return rec, found
}

// scannedCount counts files of app with a completed scan.
func scannedCount(st *store.Store, app connectors.App) int {
	n := 0
	_ = st.EachFile(context.Background(), store.FileFilter{App: app}, func(fr store.FileRecord) error {
		if !fr.LastScanned.IsZero() {
			n++
		}
		return nil
	})
	return n
}
