package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/fileshare"
	"github.com/labelgate/labelgate/labeling"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

const sampleDocx = "../../testdata/labels/samples/LabeledGeneral.docx"

// scanCorpus builds the label engine's corpus once for the scan tests: its compression bomb
// takes seconds to build under the race detector.
var scanCorpus = sync.OnceValue(labeltest.Corpus)

// scanTree is a folder of files with what a correct scan reports for each.
type scanTree struct {
	dir  string
	want map[string]scanRecord // by path as the scan prints it
	sum  *scanSummary
}

func setupScan(t *testing.T, malformed bool) *scanTree {
	t.Helper()
	tr := &scanTree{dir: t.TempDir(), want: map[string]scanRecord{}, sum: newScanSummary()}
	add := func(rel string, data []byte, r scanRecord) {
		p := filepath.Join(tr.dir, filepath.FromSlash(rel))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, data, 0o644))
		r.Path, r.Size = p, int64(len(data))
		tr.want[p] = r
		tr.sum.add(r)
	}
	for i, c := range scanCorpus() {
		if c.WantErr && !malformed {
			continue
		}
		r := scanRecord{Type: labeling.ReadTypeOf(c.Name), LabelID: c.WantLabel, Tenant: c.WantTenant,
			Method: c.WantMethod, Protected: c.WantProtected != "", ProtectionKind: c.WantProtected}
		if c.WantErr {
			r.Error = "malformed"
		}
		add([]string{"", "Finance/", "Finance/2024/", "HR/"}[i%4]+c.Name, c.Data, r)
	}
	sample, err := os.ReadFile(sampleDocx)
	require.NoError(t, err)
	add("Legal/LabeledGeneral.docx", sample, scanRecord{Type: labeling.TypeWord,
		LabelID: labeltest.LabelGeneral, Tenant: labeltest.TenantContoso})
	add("Legal/notes.txt", []byte("not a document"), scanRecord{Type: labeling.TypeUnsupported})
	if malformed {
		add("Legal/empty.pdf", nil, scanRecord{Type: labeling.TypePDF, Error: "malformed"})
	}
	return tr
}

func runScan(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cmdScan(t.Context(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestScanJSONLines(t *testing.T) {
	t.Parallel()
	tr := setupScan(t, true)
	code, out, errOut := runScan(t, "-o", "json", "--workers", "3", tr.dir)
	require.Equal(t, 1, code, "malformed files make the scan fail")
	require.Empty(t, errOut, "no progress line when stderr is not a terminal")

	lines := bufio.NewScanner(strings.NewReader(out))
	lines.Buffer(nil, 1<<20)
	seen := map[string]bool{}
	var sum map[string]any
	for lines.Scan() {
		var raw map[string]any
		require.NoError(t, json.Unmarshal(lines.Bytes(), &raw), lines.Text())
		if raw["summary"] == true {
			require.Nil(t, sum, "one summary line")
			sum = raw
			continue
		}
		require.Nil(t, sum, "the summary line comes last")
		var r scanRecord
		require.NoError(t, json.Unmarshal(lines.Bytes(), &r))
		w, ok := tr.want[r.Path]
		require.True(t, ok, "unexpected path %s", r.Path)
		require.False(t, seen[r.Path], "reported twice: %s", r.Path)
		seen[r.Path] = true
		require.Equal(t, w.Type, r.Type, r.Path)
		require.Equal(t, w.Size, r.Size, r.Path)
		require.Equal(t, w.LabelID, r.LabelID, r.Path)
		if w.Tenant != "" {
			require.Equal(t, w.Tenant, r.Tenant, r.Path)
		}
		if w.Method != "" {
			require.Equal(t, w.Method, r.Method, r.Path)
		}
		require.Equal(t, w.Protected, r.Protected, r.Path)
		require.Equal(t, w.ProtectionKind, r.ProtectionKind, r.Path)
		if w.Error != "" {
			require.Contains(t, r.Error, w.Error, r.Path)
		} else {
			require.Empty(t, r.Error, r.Path)
		}
		if r.Type != labeling.TypeUnsupported && r.Error == "" {
			require.Positive(t, r.BytesRead, r.Path)
		}
	}
	require.Len(t, seen, len(tr.want))
	require.NotNil(t, sum)

	var got scanSummary
	b, err := json.Marshal(sum)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, tr.sum.Files, got.Files)
	require.Equal(t, tr.sum.ByType, got.ByType)
	require.Equal(t, tr.sum.ByLabel, got.ByLabel)
	require.Equal(t, tr.sum.Labelled, got.Labelled)
	require.Equal(t, tr.sum.Unlabelled, got.Unlabelled)
	require.Equal(t, tr.sum.Protected, got.Protected)
	require.Equal(t, tr.sum.Unsupported, got.Unsupported)
	require.Equal(t, tr.sum.Errors, got.Errors)
	require.Positive(t, got.Errors)
	require.Positive(t, got.Protected)
	require.Len(t, got.ByLabel, 4) // General, its sublabel, Confidential, Fabrikam's Public
}

// TestScanTenant: --tenant makes the organisation's label the file's label, lists every label
// with where it was found, and marks other tenants' labels external.
func TestScanTenant(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var cases []labeltest.Case
	for _, c := range labeltest.TenantCorpus() {
		if c.Tenant != "" {
			cases = append(cases, c)
			// Each tenant-dependent file goes in its own folder: files with the same bytes
			// under different names expect different tenants.
			d := filepath.Join(dir, strings.TrimSuffix(c.Name, filepath.Ext(c.Name)))
			require.NoError(t, os.MkdirAll(d, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(d, c.Name), c.Data, 0o644))
		}
	}
	require.NotEmpty(t, cases)
	for _, c := range cases {
		p := filepath.Join(dir, strings.TrimSuffix(c.Name, filepath.Ext(c.Name)), c.Name)
		code, out, errOut := runScan(t, "-o", "json", "--tenant", c.Tenant, p)
		require.Equal(t, 0, code, errOut)
		var r scanRecord
		require.NoError(t, json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &r))
		require.Equal(t, c.WantLabel, r.LabelID, c.Name)
		require.Equal(t, c.WantTenant, r.Tenant, c.Name)
		require.Equal(t, "none", r.Protection, c.Name)
		if c.WantEffective > 0 {
			require.Len(t, r.Labels, c.WantEffective, c.Name)
		}
		external := 0
		for _, l := range r.Labels {
			require.NotEmpty(t, l.Source)
			if l.External {
				external++
				require.NotEqual(t, c.Tenant, l.Tenant)
			}
		}
		require.Equal(t, external > 0, r.External, c.Name)
		require.Equal(t, len(r.Labels)-external, map[bool]int{true: 1, false: 0}[c.WantTenant == c.Tenant], c.Name)
	}
}

func TestScanTable(t *testing.T) {
	t.Parallel()
	tr := setupScan(t, false)
	// Flags may follow the paths; a single file is a path too.
	extra := filepath.Join(t.TempDir(), "single.docx")
	sample, err := os.ReadFile(sampleDocx)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(extra, sample, 0o600))
	code, out, errOut := runScan(t, tr.dir, extra, "--workers", "2")
	require.Equal(t, 0, code, "%s%s", out, errOut)
	require.Empty(t, errOut)

	want := tr.sum
	want.add(scanRecord{Type: labeling.TypeWord, LabelID: labeltest.LabelGeneral})
	require.Contains(t, out, fmt.Sprintf("Scanned %d files in ", want.Files))
	row := func(cells ...any) {
		t.Helper()
		parts := make([]string, len(cells))
		for i, c := range cells {
			parts[i] = regexp.QuoteMeta(fmt.Sprint(c))
		}
		require.Regexp(t, `(?m)^`+strings.Join(parts, ` +`)+`$`, out)
	}
	for typ, n := range want.ByType {
		row(typ, n)
	}
	for id, n := range want.ByLabel {
		require.Regexp(t, `(?m)^`+id+` +\S+ +`+fmt.Sprint(n)+`$`, out)
	}
	row("Labelled", want.Labelled)
	row("Unlabelled", want.Unlabelled)
	row("Protected", want.Protected)
	row("Unsupported", want.Unsupported)
	row("Errors", 0)
	require.NotContains(t, out, "Errors:")
	require.Regexp(t, `(?m)^`+labeltest.LabelGeneral+` +General +\d+$`, out)
}

func TestScanTableListsErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "broken.docx"), []byte("PK\x03\x04 not really"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "fine.txt"), []byte("x"), 0o644))
	code, out, _ := runScan(t, dir)
	require.Equal(t, 1, code)
	require.Regexp(t, `(?m)^Errors +1$`, out)
	require.Contains(t, out, "Errors:\n  "+filepath.Join(dir, "broken.docx")+": ")
	require.Regexp(t, `(?m)^Unsupported +1$`, out)
}

func TestScanUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, args := range [][]string{
		{},
		{"-o", "xml", dir},
		{"--workers", "0", dir},
		{"--no-such-flag", dir},
		{filepath.Join(dir, "missing")},
	} {
		code, out, errOut := runScan(t, args...)
		require.Equal(t, 2, code, "%v", args)
		require.Empty(t, out)
		require.NotEmpty(t, errOut)
	}
	code, out, _ := runScan(t, "-o", "json", "--", dir)
	require.Equal(t, 0, code)
	require.Contains(t, out, `"summary":true`)
}

// BenchmarkScan compares the scan (ranged reads of the label parts) with reading every file
// whole, over 10,000 Office and PDF documents of 16 KB to 2 MB. The 10,000 names are hard
// links to 40 generated documents, to spare the shared disk; each is opened and read as a
// separate file, from the page cache in both variants.
func BenchmarkScan(b *testing.B) {
	const files = 10_000
	dir := b.TempDir()
	g := labeltest.General()
	var templates []string
	names := []string{"docx", "xlsx", "pptx", "pdf"}
	pads := []int{16 << 10, 96 << 10, 512 << 10, 2 << 20}
	for i := range 40 {
		pad := pads[(i/4)%4] + i*512
		o := labeltest.Options{Custom: []labeltest.Label{g}, LabelInfo: []labeltest.Label{g}, Text: []string{"Quarterly numbers"},
			Padding: pad}
		var data []byte
		switch names[i%4] {
		case "docx":
			data = labeltest.Docx(o)
		case "xlsx":
			data = labeltest.Xlsx(o)
		case "pptx":
			data = labeltest.Pptx(o)
		default:
			data = labeltest.PDF(labeltest.PDFOptions{Info: []labeltest.Label{g}, XMP: []labeltest.Label{g},
				Text: []string{"Quarterly numbers"}, Padding: pad})
		}
		p := filepath.Join(dir, fmt.Sprintf("template%02d.%s", i, names[i%4]))
		require.NoError(b, os.WriteFile(p, data, 0o644))
		templates = append(templates, p)
	}
	tree := filepath.Join(dir, "share")
	var total int64
	for i := range files {
		sub := filepath.Join(tree, fmt.Sprintf("dept%02d", i%50), fmt.Sprintf("team%d", i%7))
		require.NoError(b, os.MkdirAll(sub, 0o755))
		t := templates[i%len(templates)]
		info, err := os.Stat(t)
		require.NoError(b, err)
		total += info.Size()
		require.NoError(b, os.Link(t, filepath.Join(sub, fmt.Sprintf("doc%05d%s", i, filepath.Ext(t)))))
	}
	dir = tree
	workers := max(4, 2*runtime.GOMAXPROCS(0))
	b.Logf("%d files, %.1f MB, average %d bytes, %d workers", files, float64(total)/1e6, total/files, workers)

	b.Run("labelgate-scan", func(b *testing.B) {
		var n int
		var read int64
		for b.Loop() {
			sum, err := scanPaths(b.Context(), []string{dir}, scanOptions{Workers: workers}, func(scanRecord) {})
			require.NoError(b, err)
			require.Equal(b, files, sum.Files)
			require.Equal(b, files, sum.ByLabel[labeltest.LabelGeneral])
			n += sum.Files
			read += sum.BytesRead
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "files/s")
		b.ReportMetric(float64(read)/float64(n), "bytes-read/file")
	})
	b.Run("read-whole", func(b *testing.B) {
		var n atomic.Int64
		var read atomic.Int64
		conn, err := fileshare.New(fileshare.Config{Roots: []string{dir}})
		require.NoError(b, err)
		drives, err := conn.Drives(b.Context())
		require.NoError(b, err)
		for b.Loop() {
			jobs := make(chan connectors.File, 2*workers)
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for f := range jobs {
						obj, err := conn.Open(b.Context(), f.Ref)
						if err != nil {
							b.Error(err)
							continue
						}
						m, err := io.Copy(io.Discard, io.NewSectionReader(obj, 0, obj.Size()))
						obj.Close()
						if err != nil {
							b.Error(err)
						}
						read.Add(m)
						n.Add(1)
					}
				})
			}
			err := conn.Walk(b.Context(), drives[0].ID, "", func(f connectors.File, _ string) error {
				jobs <- f
				return nil
			})
			close(jobs)
			wg.Wait()
			require.NoError(b, err)
		}
		b.ReportMetric(float64(n.Load())/b.Elapsed().Seconds(), "files/s")
		b.ReportMetric(float64(read.Load())/float64(n.Load()), "bytes-read/file")
	})
}

// setupPolicyScan lays out Word files in and out of /Finance, a policy labelling unlabelled
// Word files there as Confidential (with an alert), and the label catalog.
func setupPolicyScan(t *testing.T) (dir, policyFile, labelsFile string, eligible []string) {
	t.Helper()
	dir = t.TempDir()
	write := func(rel string, data []byte) string {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, data, 0o640))
		return p
	}
	plain := labeltest.Docx(labeltest.Options{Text: []string{"budget"}})
	for _, rel := range []string{"Finance/a.docx", "Finance/2024/b.docx", "Finance/c.docx"} {
		eligible = append(eligible, write(rel, plain))
	}
	write("Finance/labelled.docx", labeltest.Docx(labeltest.Options{LabelInfo: []labeltest.Label{labeltest.General()}}))
	write("Finance/sheet.xlsx", labeltest.Xlsx(labeltest.Options{}))
	write("HR/d.docx", plain)
	policyFile = filepath.Join(t.TempDir(), "policies.yaml")
	require.NoError(t, os.WriteFile(policyFile, []byte(`policies:
  - id: finance-word
    name: Label Word files in Finance
    severity: medium
    filter:
      all:
        - fileType: [word]
        - folder: {under: [/Finance]}
        - label: {none: true}
    actions:
      - applyLabel:
          label: Confidential
          onlyIfUnlabelled: true
      - alert:
          message: "{{.Name}} in {{.Path}} is unlabelled"
`), 0o644))
	labelsFile = filepath.Join(t.TempDir(), "labels.json")
	labels, err := json.Marshal([]connectors.Label{
		{ID: labeltest.LabelGeneral, Name: "General", Tenant: labeltest.TenantContoso, Priority: 1},
		{ID: labeltest.LabelConfidential, Name: "Confidential", Tenant: labeltest.TenantContoso, Priority: 2},
	})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(labelsFile, labels, 0o644))
	return dir, policyFile, labelsFile, eligible
}

// scanJSON runs a JSON scan and returns its records by path and its summary.
func scanJSON(t *testing.T, args ...string) (int, map[string]scanRecord, scanSummary) {
	t.Helper()
	code, out, errOut := runScan(t, append([]string{"-o", "json"}, args...)...)
	recs := map[string]scanRecord{}
	var sum scanSummary
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(line, `"summary":true`) {
			require.NoError(t, json.Unmarshal([]byte(line), &sum))
			continue
		}
		var r scanRecord
		require.NoError(t, json.Unmarshal([]byte(line), &r), line)
		recs[r.Path] = r
	}
	require.True(t, sum.Summary, "%s%s", out, errOut)
	return code, recs, sum
}

func TestScanPoliciesDryRun(t *testing.T) {
	t.Parallel()
	dir, pol, labels, eligible := setupPolicyScan(t)
	code, recs, sum := scanJSON(t, "--apply-policies", pol, "--labels", labels, dir)
	require.Equal(t, 0, code)
	for p, r := range recs {
		if !slices.Contains(eligible, p) {
			require.Empty(t, r.Actions, p)
			continue
		}
		require.Equal(t, []scanAction{
			{Policy: "finance-word", Kind: "apply_label", LabelID: labeltest.LabelConfidential, Status: "planned"},
			{Policy: "finance-word", Kind: "alert", Message: filepath.Base(p) + " in " + "/" + filepath.ToSlash(filepath.Dir(strings.TrimPrefix(p, dir+"/"))) + " is unlabelled", Status: "reported"},
		}, r.Actions, p)
	}
	require.Equal(t, map[string]int{"apply_label planned": 3, "alert reported": 3}, sum.Actions)
	// Nothing was written.
	_, recs, _ = scanJSON(t, dir)
	for _, p := range eligible {
		require.Empty(t, recs[p].LabelID)
	}
}

func TestScanPoliciesExecuteWithinQuota(t *testing.T) {
	t.Parallel()
	dir, pol, labels, eligible := setupPolicyScan(t)
	code, out, _ := runScan(t, "--apply-policies", pol, "--labels", labels, "--execute", "--quota", "2", dir)
	require.Equal(t, 0, code, out)
	require.Regexp(t, `(?m)^apply_label done +2$`, out)
	require.Regexp(t, `(?m)^apply_label skipped +1$`, out)
	require.Contains(t, out, "the quota of 2 label writes is used up")

	_, recs, sum := scanJSON(t, dir)
	labelled := 0
	for _, p := range eligible {
		r := recs[p]
		if r.LabelID == "" {
			continue
		}
		labelled++
		require.Equal(t, labeltest.LabelConfidential, r.LabelID)
		require.Equal(t, labeltest.TenantContoso, r.Tenant)
		// A policy's write is automatic, which MIP records as the Standard method.
		require.Equal(t, "standard", r.Method)
		info, err := os.Stat(p)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o640), info.Mode().Perm(), "the rewrite keeps the permissions")
	}
	require.Equal(t, 2, labelled)
	require.Equal(t, 3, sum.Labelled, "two new labels and the one already there")
	require.Zero(t, sum.Errors)

	// The next run labels the last one and then finds nothing left to do.
	code, _, sum = scanJSON(t, "--apply-policies", pol, "--labels", labels, "--execute", dir)
	require.Equal(t, 0, code)
	require.Equal(t, 1, sum.Actions["apply_label done"])
	_, _, sum = scanJSON(t, "--apply-policies", pol, "--labels", labels, "--execute", dir)
	require.Empty(t, sum.Actions)
}

func TestScanPolicyUsageErrors(t *testing.T) {
	t.Parallel()
	dir, pol, labels, _ := setupPolicyScan(t)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("policies:\n  - id: x\n    filter: {label: {is: [Nope]}}\n    actions: [{applyLabel: {label: Nope}}]\n"), 0o644))
	for _, args := range [][]string{
		{"--execute", dir},
		{"--labels", labels, dir},
		{"--apply-policies", filepath.Join(dir, "missing.yaml"), dir},
		{"--apply-policies", bad, "--labels", labels, dir},
		{"--apply-policies", pol, "--quota", "-1", dir},
	} {
		code, _, errOut := runScan(t, args...)
		require.Equal(t, 2, code, "%v", args)
		require.NotEmpty(t, errOut)
	}
	// Label writes need a tenant: by name without a catalog there is none.
	code, recs, sum := scanJSON(t, "--apply-policies", pol, "--execute", dir)
	require.Equal(t, 1, code)
	require.Equal(t, 3, sum.ActionsFailed)
	for _, r := range recs {
		for _, a := range r.Actions {
			if a.Kind == "apply_label" {
				require.Equal(t, "failed", a.Status)
				require.Contains(t, a.Error, "no tenant")
			}
		}
	}
}
