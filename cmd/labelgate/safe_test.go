package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/labeling/labeltest"
)

// hostile holds what a share user or another tenant can put in a name: an OSC title change,
// a CSI colour and cursor move, a C1 CSI (U+009B), a bidi override (Trojan Source) and an
// isolate, a newline and a tab that would split a table row, and a byte that is not UTF-8.
const hostile = "evil\x1b]0;owned\x07\x1b[31m\x1b[2A\u009b6n\u202egpj.exe\u2066x\u2069\nrow\tcell\xff"

// requireInert fails if any terminal control survived into people-facing output.
func requireInert(t *testing.T, out string) {
	t.Helper()
	for _, bad := range []string{"\x1b", "\x07", "\u009b", "\u202e", "\u2066", "\u2069", "\xff", "\nrow", "row\tcell"} {
		require.NotContains(t, out, bad, "raw control %q in output", bad)
	}
}

func TestSafeEscapesTerminalControls(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain Confidential/HR – café": "plain Confidential/HR – café",
		"\x1b[31mred":                  `\x1b[31mred`,
		"\x1b]0;title\x07":             `\x1b]0;title\x07`,
		"c1\u009b2J\u0085":             `c1\u009b2J\u0085`,
		"abc\u202etxt.exe":             `abc\u202etxt.exe`,
		"\u2066iso\u2069\u200f\u061c":  `\u2066iso\u2069\u200f\u061c`,
		"a\nb\tc\rd\x7f":               `a\x0ab\x09c\x0dd\x7f`,
		"bad\xffutf8\xc3":              `bad\xffutf8\xc3`,
		"replacement \uFFFD kept":      "replacement \uFFFD kept",
	} {
		require.Equal(t, want, safe(in), "%q", in)
	}
	requireInert(t, safe(hostile))
}

// The hostile name and a PDF whose label name carries escapes, through inspect and scan:
// tables are inert, JSON keeps the exact bytes.
func TestInspectAndScanPrintHostileNamesEscaped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	name := strings.ReplaceAll(hostile, "\xff", "") // a name the JSON check can compare exactly
	evilLabel := labeltest.General()
	evilLabel.Name = "Gen\x1b[2Keral\u202e"
	p := filepath.Join(dir, name+".pdf")
	require.NoError(t, os.WriteFile(p, labeltest.PDF(labeltest.PDFOptions{Info: []labeltest.Label{evilLabel}}), 0o644))
	raw := filepath.Join(dir, "raw\xff\x1b[0m.docx")
	require.NoError(t, os.WriteFile(raw, []byte("not a document"), 0o644))

	var out, errb bytes.Buffer
	cmdInspect(context.Background(), []string{p, raw}, &out, &errb)
	requireInert(t, out.String())
	requireInert(t, errb.String())
	require.Contains(t, out.String(), `\x1b]0;owned\x07`)
	// A PDF Info string is PDFDocEncoding: the override's UTF-8 bytes decode as "â", a C1
	// control and "®" — the C1 control is escaped all the same.
	require.Contains(t, out.String(), `Gen\x1b[2Keral`)

	out.Reset()
	errb.Reset()
	require.Equal(t, 0, cmdInspect(context.Background(), []string{"-o", "json", p}, &out, &errb), errb.String())
	var line inspectLine
	require.NoError(t, json.Unmarshal(out.Bytes(), &line))
	require.Equal(t, p, line.File, "JSON keeps the exact path")
	require.True(t, strings.HasPrefix(line.LabelName, "Gen\x1b[2Keral"), "JSON keeps the label name as read: %q", line.LabelName)

	out.Reset()
	errb.Reset()
	cmdScan(context.Background(), []string{dir}, &out, &errb)
	requireInert(t, out.String())
	requireInert(t, errb.String())
	require.Contains(t, out.String(), `evil\x1b]0;owned`)

	out.Reset()
	cmdScan(context.Background(), []string{"-o", "json", dir}, &out, &errb)
	found := false
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var r scanRecord
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Path == p {
			found = true
		}
	}
	require.True(t, found, "scan JSON names the file exactly: %s", out.String())
}
