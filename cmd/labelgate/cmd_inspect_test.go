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

	"github.com/labelgate/labelgate/labeling/labeltest"
	"github.com/stretchr/testify/require"
)

func setupInspect(t *testing.T) (docx, pdf, bad string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o644))
		return p
	}
	l := []labeltest.Label{labeltest.General()}
	return write("a.docx", labeltest.Docx(labeltest.Options{Custom: l, LabelInfo: l})),
		write("b.pdf", labeltest.PDF(labeltest.PDFOptions{Info: l, Encrypt: "rms"})),
		write("c.xlsx", []byte("not a workbook"))
}

func TestInspectTable(t *testing.T) {
	t.Parallel()
	docx, pdf, _ := setupInspect(t)
	var out, errb bytes.Buffer
	code := cmdInspect(context.Background(), []string{docx, pdf}, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 3)
	require.Contains(t, lines[0], "ROUND TRIPS")
	require.Contains(t, lines[1], labeltest.LabelGeneral)
	require.Contains(t, lines[1], "General")
	require.Contains(t, lines[1], "privileged")
	require.Contains(t, lines[1], "2024-01-01T12:00:00Z")
	require.Contains(t, lines[2], "rms")
}

func TestInspectJSONAndFailures(t *testing.T) {
	t.Parallel()
	docx, _, bad := setupInspect(t)
	var out, errb bytes.Buffer
	code := cmdInspect(context.Background(), []string{"-o", "json", docx, bad, filepath.Join(t.TempDir(), "missing.pptx")}, &out, &errb)
	require.Equal(t, 1, code)
	var got []inspectLine
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var l inspectLine
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l))
		got = append(got, l)
	}
	require.Len(t, got, 3)
	require.Equal(t, labeltest.LabelGeneral, got[0].LabelID)
	require.Equal(t, labeltest.TenantContoso, got[0].Tenant)
	require.Equal(t, 2, got[0].Records)
	require.Equal(t, 1, got[0].RoundTrips)
	require.Positive(t, got[0].BytesRead)
	require.Contains(t, got[1].Error, "malformed")
	require.NotEmpty(t, got[2].Error)
	require.Contains(t, errb.String(), "c.xlsx")
	require.Equal(t, 2, cmdInspect(context.Background(), nil, &out, &errb))
	require.Equal(t, 2, cmdInspect(context.Background(), []string{"-o", "yaml", docx}, &out, &errb))
}
