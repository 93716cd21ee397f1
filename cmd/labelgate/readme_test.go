package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readmeCLIBlock returns the command lines of the README's admin CLI example.
func readmeCLIBlock(t *testing.T) []string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "no go.mod above the test")
		dir = parent
	}
	raw, err := os.ReadFile(filepath.Join(dir, "README.md"))
	require.NoError(t, err)
	doc := string(raw)
	i := strings.Index(doc, "The CLI calls the same API")
	require.GreaterOrEqual(t, i, 0, "README lost its CLI section")
	doc = doc[i:]
	start := strings.Index(doc, "```sh\n")
	require.GreaterOrEqual(t, start, 0)
	doc = doc[start+len("```sh\n"):]
	end := strings.Index(doc, "```")
	require.GreaterOrEqual(t, end, 0)
	return strings.Split(strings.TrimSpace(doc[:end]), "\n")
}

// shellWords splits a command the way sh would for these examples: spaces, double quotes,
// a trailing "# comment" and a "> file" redirection.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inQ, have := false, false
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch {
		case ch == '"':
			inQ, have = !inQ, true
		case ch == '#' && !inQ && (i == 0 || line[i-1] == ' '):
			i = len(line)
		case ch == ' ' && !inQ:
			if have {
				words = append(words, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(ch)
			have = true
		}
	}
	if have {
		words = append(words, cur.String())
	}
	for i, w := range words {
		if w == ">" {
			return words[:i]
		}
	}
	return words
}

// TestREADMECommandsRun runs every command of the README's CLI example, as written (with
// the placeholders FILE-ID and the connector name filled in), against a running gateway.
// It sets the process environment, so it cannot run in parallel.
func TestREADMECommandsRun(t *testing.T) {
	adminURL, cfgPath, _ := startCLIServer(t)
	t.Setenv("LABELGATE_SERVER", adminURL)
	t.Setenv("LABELGATE_CONFIG", cfgPath)
	t.Setenv("LABELGATE_TOKEN", cliAdminToken)

	r := runCLI(t, "rescan", "shares", "-wait")
	require.Zero(t, r.code, r.stderr)
	r = runCLI(t, "files", "-o", "json")
	require.Zero(t, r.code, r.stderr)
	var f apiFile
	require.NoError(t, json.Unmarshal([]byte(strings.SplitN(r.stdout, "\n", 2)[0]), &f))

	ran := 0
	for _, line := range readmeCLIBlock(t) {
		for _, part := range strings.Split(line, "&&") {
			words := shellWords(strings.TrimSpace(part))
			if len(words) == 0 || words[0] == "export" {
				continue
			}
			require.Equal(t, "labelgate", words[0], line)
			args := words[1:]
			for i, a := range args {
				switch a {
				case "FILE-ID":
					args[i] = f.ID
				case "contoso-sp":
					args[i] = "shares"
				}
			}
			r := runCLI(t, args...)
			require.Zero(t, r.code, "README: %s\nstdout: %s\nstderr: %s", line, r.stdout, r.stderr)
			t.Logf("$ labelgate %s\n%s", strings.Join(args, " "), firstLines(r.stdout, 4))
			ran++
		}
	}
	require.GreaterOrEqual(t, ran, 10, "the README block lost commands")
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
