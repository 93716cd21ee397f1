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

// TestInspectTenantsSublabelsProtection: every label a file carries is listed with its source,
// --tenant picks the organisation's label, a sublabel reports its parent, protection is named.
func TestInspectTenantsSublabelsProtection(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	g := labeltest.General()
	fab := labeltest.Label{ID: labeltest.LabelPublic, Tenant: labeltest.TenantFabrikam, Method: "Standard", SetDate: "2030-01-01T00:00:00Z"}
	child := labeltest.Label{ID: labeltest.LabelChild, Tenant: labeltest.TenantContoso, Method: "Standard", SetDate: g.SetDate}
	files := map[string][]byte{
		"two.docx": labeltest.Docx(labeltest.Options{LabelInfo: []labeltest.Label{g}, Custom: []labeltest.Label{fab}}),
		"sub.xlsx": labeltest.Xlsx(labeltest.Options{Custom: labeltest.Sublabel(child, g)}),
		"old.xls":  labeltest.Legacy("excel", labeltest.LegacyOptions{Props: []labeltest.Label{g}, Password: true}),
	}
	var args []string
	for name, data := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o644))
		args = append(args, p)
	}
	run := func(tenant string) map[string]inspectLine {
		var out, errb bytes.Buffer
		a := append([]string{"-o", "json"}, args...)
		if tenant != "" {
			a = append([]string{"--tenant", tenant}, a...)
		}
		require.Equal(t, 0, cmdInspect(context.Background(), a, &out, &errb), errb.String())
		got := map[string]inspectLine{}
		sc := bufio.NewScanner(&out)
		for sc.Scan() {
			var l inspectLine
			require.NoError(t, json.Unmarshal(sc.Bytes(), &l))
			got[filepath.Base(l.File)] = l
		}
		return got
	}
	got := run(labeltest.TenantContoso)
	two := got["two.docx"]
	require.Equal(t, labeltest.LabelGeneral, two.LabelID)
	require.Equal(t, "none", two.Protection)
	require.Len(t, two.Labels, 2)
	require.Equal(t, "labelinfo", two.Labels[0].Source)
	require.False(t, two.Labels[0].External)
	require.Equal(t, "custom", two.Labels[1].Source)
	require.True(t, two.Labels[1].External)
	require.Equal(t, labeltest.LabelChild, got["sub.xlsx"].LabelID)
	require.Equal(t, labeltest.LabelGeneral, got["sub.xlsx"].ParentID)
	old := got["old.xls"]
	require.Equal(t, "password", old.Protection)
	require.Equal(t, labeltest.LabelGeneral, old.LabelID)
	require.Equal(t, "ole-props", old.Labels[0].Source)
	// Without a tenant the most recently set label is the file's; with Fabrikam's, Fabrikam's.
	require.Equal(t, labeltest.LabelPublic, run("")["two.docx"].LabelID)
	require.Equal(t, labeltest.LabelPublic, run(labeltest.TenantFabrikam)["two.docx"].LabelID)
}
