package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

// TestCLIForAnAdmin covers what issue 23 found wrong with the CLI against a running
// gateway: store-side commands ignoring the server, flags after arguments, label names,
// unchecked enums, silent truncation, oldest-first actions. It sets the process
// environment, so it cannot run in parallel.
func TestCLIForAnAdmin(t *testing.T) {
	adminURL, cfgPath, files := startCLIServer(t)
	t.Setenv("LABELGATE_CONFIG", cfgPath)
	t.Setenv("LABELGATE_TOKEN", cliAdminToken)
	t.Setenv("LABELGATE_SERVER", "")

	// Flags after the argument.
	r := runCLI(t, "rescan", "shares", "-wait", "-server", adminURL)
	require.Zero(t, r.code, r.stderr)
	t.Setenv("LABELGATE_SERVER", adminURL)

	// Store-side commands go through the API when a server is named…
	for _, args := range [][]string{{"quota"}, {"queue", "stats"}, {"policy", "list"}, {"alerts"}} {
		r = runCLI(t, args...)
		require.Zero(t, r.code, "%v: %s", args, r.stderr)
		require.NotContains(t, r.stderr, "local store", args)
	}
	var page struct {
		Items []struct{ ID int64 } `json:"items"`
	}
	// The alerts engine follows the discovery log: its alerts come a moment after the scans.
	require.Eventually(t, func() bool {
		r = runCLI(t, "alerts", "-o", "json")
		return r.code == 0 && json.Unmarshal([]byte(r.stdout), &page) == nil && len(page.Items) > 0
	}, 20*time.Second, 200*time.Millisecond, "the gateway's alerts, not an empty local inbox: %s", r.stderr)
	r = runCLI(t, "alerts", "ack", itoa(int(page.Items[0].ID)), "-o", "json")
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, "acknowledged")
	// …and say which store they read when none is.
	t.Setenv("LABELGATE_SERVER", "")
	r = runCLI(t, "policy", "list")
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stderr, "reading the local store")
	t.Setenv("LABELGATE_SERVER", adminURL)

	// Label names, any case, wherever an id goes; unknown names refused with the list.
	r = runCLI(t, "files", "-label", "general", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, labeltest.LabelGeneral)
	r = runCLI(t, "files", "-label", "Nope")
	require.Equal(t, 1, r.code)
	require.Contains(t, r.stderr, `unknown label "Nope"`)
	require.Contains(t, r.stderr, "Confidential")

	// Enums checked, with the allowed values.
	for _, tc := range []struct{ args []string }{
		{[]string{"events", "-kind", "bogus"}}, {[]string{"files", "-access", "world"}},
		{[]string{"actions", "-state", "pending,nope"}}, {[]string{"files", "-app", "dropbox"}},
	} {
		r = runCLI(t, tc.args...)
		require.Equal(t, 2, r.code, tc.args)
		require.Contains(t, r.stderr, "want one of", tc.args)
	}
	require.Contains(t, runCLI(t, "events", "-kind", "bogus").stderr, "label_removed")

	// Counts and how to see more.
	r = runCLI(t, "files", "-limit", "2")
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, "2 files shown; there are more (-all")
	r = runCLI(t, "files", "-all")
	require.Contains(t, r.stdout, itoa(files)+" files\n")

	// A new action is at the top of actions.
	r = runCLI(t, "files", "-o", "json", "-limit", "1")
	var f apiFile
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(r.stdout)), &f))
	for i := 0; i < 3; i++ {
		r = runCLI(t, "label", "apply", f.ID, "CONFIDENTIAL", "-justification", "test")
		require.Zero(t, r.code, r.stderr)
	}
	// The short handle works like the id.
	require.Len(t, f.Handle, 10)
	r = runCLI(t, "file", f.Handle)
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, f.Name)
	require.Contains(t, runCLI(t, "files").stdout, f.Handle)
	r = runCLI(t, "actions", "-o", "json", "-limit", "2")
	require.Zero(t, r.code, r.stderr)
	var acts []apiAction
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &acts))
	require.Len(t, acts, 2)
	require.Greater(t, acts[0].ID, acts[1].ID, "newest first")
	require.Equal(t, labeltest.LabelConfidential, acts[0].LabelID, "the name was resolved to the id")
	r = runCLI(t, "actions", "-limit", "1")
	require.Contains(t, r.stdout, "newest 1 of ")
}

func TestServeWarnsAboutMissingSetUp(t *testing.T) {
	t.Parallel()
	ws := serveWarnings(config.Default())
	require.Len(t, ws, 2)
	require.Contains(t, ws[0], "no connectors")
	require.Contains(t, ws[1], "no admin token")
	cfg := config.Default()
	cfg.Connectors = []config.Connector{{Name: "s", App: "fileshare", Roots: []string{"/tmp"}}}
	cfg.Admin.Tokens = []config.Token{{Name: "a", Role: "admin", Token: "x"}}
	require.Empty(t, serveWarnings(cfg))
}

func TestVersionFromBuildInfo(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "version")
	require.Zero(t, r.code)
	require.NotContains(t, r.stdout, " dev\n")
	require.Contains(t, r.stdout, "go1.", "the Go version from debug.ReadBuildInfo")
}
