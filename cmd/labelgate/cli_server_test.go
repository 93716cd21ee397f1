package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/gateway"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

const (
	cliAdminToken  = "cli-admin-token-0123456789abcdef"
	cliViewerToken = "cli-viewer-token-0123456789abcdef"
)

// cliResult is one CLI run's exit code and output.
type cliResult struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	code := run(ctx, args, &out, &errb)
	return cliResult{code, out.String(), errb.String()}
}

// startCLIServer runs a real gateway with a file share holding the label corpus, and writes
// a configuration file the store-side commands (policy, queue) read.
func startCLIServer(t *testing.T) (adminURL, cfgPath string, files int) {
	t.Helper()
	dir := t.TempDir()
	share := filepath.Join(dir, "share")
	require.NoError(t, os.MkdirAll(share, 0o755))
	cases := labeltest.Corpus()
	for _, c := range cases {
		require.NoError(t, os.WriteFile(filepath.Join(share, c.Name), c.Data, 0o644))
	}
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Server.Listen, cfg.Admin.Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Store.URL = storetest.Backends()[0].OpenURL(t)
	cfg.Labels.TenantID = labeltest.TenantContoso
	cfg.Admin.Tokens = []config.Token{{Name: "ops", Role: "admin", Token: cliAdminToken}, {Name: "audit", Role: "viewer", Token: cliViewerToken}}
	cfg.Connectors = []config.Connector{{Name: "shares", App: "fileshare", Roots: []string{share}}}
	require.Empty(t, cfg.Validate())
	g, err := gateway.New(context.Background(), cfg, gateway.Options{Logger: slog.New(slog.DiscardHandler), ShutdownTimeout: 5 * time.Second})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Error("gateway did not stop")
		}
	})
	require.Eventually(t, func() bool { return g.AdminURL() != "" }, 10*time.Second, 10*time.Millisecond)
	// The organisation's catalog for the share, as a label source would give it, so label
	// names resolve (the file share has no label API of its own).
	_, err = g.Store().SyncLabels(context.Background(), connectors.AppFileShare, "local", []connectors.Label{
		{ID: labeltest.LabelGeneral, Name: "General", Priority: 1, Tenant: labeltest.TenantContoso},
		{ID: labeltest.LabelConfidential, Name: "Confidential", Priority: 2, Tenant: labeltest.TenantContoso}})
	require.NoError(t, err)
	cfgPath = filepath.Join(dir, "labelgate.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte("dataDir: "+cfg.DataDir+"\nstore:\n  url: "+cfg.Store.URL+"\n"), 0o600))
	return g.AdminURL(), cfgPath, len(cases)
}

// TestCLIAgainstRunningServer runs the CLI's commands against a real gateway. It sets the
// process environment ($LABELGATE_TOKEN, $LABELGATE_SERVER, $LABELGATE_CONFIG, which is how
// the CLI takes them), so it cannot run in parallel with other tests.
func TestCLIAgainstRunningServer(t *testing.T) {
	adminURL, cfgPath, files := startCLIServer(t)
	t.Setenv("LABELGATE_SERVER", adminURL)
	t.Setenv("LABELGATE_CONFIG", cfgPath)
	t.Setenv("LABELGATE_TOKEN", cliAdminToken)

	// A rescan followed to the end: the walk and the scans of what it queued.
	r := runCLI(t, "rescan", "-wait", "shares")
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, "done:")
	require.Contains(t, r.stdout, itoa(files)+" enumerated")
	require.Contains(t, r.stdout, itoa(files)+" queued for scanning")
	require.Contains(t, r.stdout, itoa(files)+" scanned")
	require.NotContains(t, r.stdout, "not scanned yet")
	t.Logf("rescan --wait: %s", strings.TrimSpace(r.stdout))

	r = runCLI(t, "rescans")
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, "shares")
	require.Contains(t, r.stdout, "done")

	// files: a table for people, JSON for scripts, both listing the corpus.
	r = runCLI(t, "files", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	// JSON lines, one file each.
	var target apiFile
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, files)
	for _, l := range lines {
		var f apiFile
		require.NoError(t, json.Unmarshal([]byte(l), &f), l)
		if f.Name == "unlabelled.docx" {
			target = f
		}
	}
	require.NotEmpty(t, target.ID, "unlabelled.docx listed")
	r = runCLI(t, "files")
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, "unlabelled.docx")

	r = runCLI(t, "file", target.ID)
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, "unlabelled.docx")

	r = runCLI(t, "labels")
	require.Zero(t, r.code, r.stderr)

	// apply-label through the CLI queues an action that the actions list shows.
	r = runCLI(t, "label", "apply", "-justification", "cli test", target.ID, labeltest.LabelConfidential)
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, "queued")
	r = runCLI(t, "actions", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	require.Contains(t, r.stdout, target.Ref.ItemID)

	r = runCLI(t, "events")
	require.Zero(t, r.code, r.stderr)
	require.NotEmpty(t, strings.TrimSpace(r.stdout))

	r = runCLI(t, "queue", "stats")
	require.Zero(t, r.code, r.stderr)
	require.NotEmpty(t, strings.TrimSpace(r.stdout))
	r = runCLI(t, "policy", "list")
	require.Zero(t, r.code, r.stderr)

	// A viewer may read but not change things.
	t.Setenv("LABELGATE_TOKEN", cliViewerToken)
	r = runCLI(t, "files")
	require.Zero(t, r.code, r.stderr)
	r = runCLI(t, "rescan", "shares")
	require.NotZero(t, r.code)
	require.Contains(t, r.stderr, "403")
	t.Logf("viewer starting a rescan: %s", strings.TrimSpace(r.stderr))

	// No token, and a server that is not there: non-zero, and a message saying so.
	t.Setenv("LABELGATE_TOKEN", "")
	r = runCLI(t, "files")
	require.NotZero(t, r.code)
	require.Contains(t, r.stderr, "401")
	t.Logf("no token: %s", strings.TrimSpace(r.stderr))
	t.Setenv("LABELGATE_TOKEN", cliAdminToken)
	r = runCLI(t, "files", "-server", "http://127.0.0.1:1")
	require.NotZero(t, r.code)
	require.Contains(t, r.stderr, "labelgate:")
	require.Contains(t, r.stderr, "127.0.0.1:1")
	t.Logf("no server: %s", strings.TrimSpace(r.stderr))
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
