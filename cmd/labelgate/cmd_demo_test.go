package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDemoCommandRunsToASummary(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"demo", "--files", "40", "--duration", "3s", "--exit", "--data", t.TempDir()}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	out := stdout.String()
	for _, app := range []string{"box", "gdrive", "onedrive", "sharepoint"} {
		require.Regexp(t, regexp.MustCompile(`(?m)^  `+app+` +[1-9][0-9]* `), out, "no %s files in the summary", app)
	}
	require.Regexp(t, `(?m)^  (alert|apply_label) +.*done [1-9]`, out, "no policy action done")
	require.Contains(t, out, "/console/")
}

func TestDemoRejectsBadFlags(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	require.Equal(t, 2, run(context.Background(), []string{"demo", "--files", "0"}, &stdout, &stderr))
}
