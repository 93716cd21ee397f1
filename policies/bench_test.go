package policies

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
)

// fiftyPolicies builds 50 policies without content conditions, mixing every cheap condition
// kind, none of which match the benchmark file until the last check (the costly case).
func fiftyPolicies() string {
	var b strings.Builder
	b.WriteString("policies:\n")
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&b, `  - id: p%d
    name: P%d
    severity: medium
    filter:
      all:
        - app: [sharepoint, onedrive, box]
        - fileType: [office, pdf]
        - any:
            - name: ["*budget*%d*", "*.docx"]
            - folder: {glob: ["/Sites/**/Shared"]}
        - not: {folder: {under: [/Finance, /Legal/%d]}}
        - owner: {email: [a%d@example.com], group: [staff], ouPrefix: [/Sales]}
        - access: {atLeast: internal}
        - label: {isNot: [Restricted], includeSublabels: true}
        - modifiedWithinDays: 60
        - size: {max: 100MB}
        - sharedWithDomain: [partner%d.com]
    actions:
      - alert: {message: "{{.Name}}"}
`, i, i, i, i, i, i)
	}
	return b.String()
}

func BenchmarkEvaluate50Policies(b *testing.B) {
	e := setup(b)
	eng := e.compile(b, fiftyPolicies())
	f := e.file("sharepoint", "/Sites/HR/Shared", "Report 2025.docx", idConf)
	f.File.Domains = []string{"example.org"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		d, err := eng.Evaluate(ctx, &f)
		if err != nil || len(d.Matched) != 0 {
			b.Fatal(err, d.Matched)
		}
	}
}

// inventory returns n inventory rows: a mix of apps, labels, folders and sharing.
func inventory(n int) []store.FileRecord {
	apps := []connectors.App{"box", "sharepoint", "gdrive", "onedrive"}
	labels := []string{"", idGeneral, idConf, idConfAll, idRestr}
	access := []connectors.AccessLevel{"private", "internal", "external", "public"}
	out := make([]store.FileRecord, n)
	for i := range out {
		r := &out[i]
		r.Ref = connectors.FileRef{App: apps[i%4], Tenant: tenant, Drive: "d" + strconv.Itoa(i%7), ItemID: "item" + strconv.Itoa(i)}
		r.Path = []string{"/Deals", "/Finance/2025", "/Projects/X", "/"}[i%4]
		r.Name = "file" + strconv.Itoa(i) + []string{".docx", ".xlsx", ".pdf", ".pptx", ".txt"}[i%5]
		r.Ext = extOf(r.Name)
		r.Size = int64(i%1000) << 10
		r.Modified = testNow.Add(-time.Duration(i%30) * 24 * time.Hour)
		r.Owner = "user" + strconv.Itoa(i%100) + "@example.com"
		r.Access = access[(i/3)%4]
		r.LabelID = labels[(i/2)%5]
		if r.LabelID != "" {
			r.LabelTenant = tenant
		}
	}
	return out
}

// BenchmarkWhatIfMemory1M evaluates the Box sample policy over 1M in-memory inventory rows
// per op, the way WhatIf does per row (facts from the record, then the policy).
func BenchmarkWhatIfMemory1M(b *testing.B) {
	e := setup(b)
	data, err := os.ReadFile("../testdata/policies/samples.yaml")
	require.NoError(b, err)
	eng := e.compile(b, string(data))
	recs := inventory(20000) // cycled 50 times: 1M evaluations without 1M rows' worth of RAM
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		var matched, actions int
		for i := 0; i < 1_000_000; i++ {
			f := FactsFromRecord(recs[i%len(recs)], e.cat)
			d, err := eng.EvaluatePolicy(ctx, &f, "box-confidential-external")
			if err != nil {
				b.Fatal(err)
			}
			matched += len(d.Matched)
			actions += len(d.Actions)
		}
		if matched == 0 {
			b.Fatal("nothing matched")
		}
	}
}

// BenchmarkWhatIfSQLite100k runs Manager.WhatIf over a 100k-row SQLite inventory; multiply
// by 10 for 1M rows (EachFile pages by key, so the cost per row is flat).
func BenchmarkWhatIfSQLite100k(b *testing.B) {
	m := setupManager(b)
	ctx := context.Background()
	_, err := m.mgr.Apply(ctx, readSamples(b))
	require.NoError(b, err)
	n := 100_000
	if s := os.Getenv("LABELGATE_BENCH_ROWS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	for _, r := range inventory(n) {
		_, err := m.st.RecordScan(ctx, store.ScanOutcome{File: r.File, Type: "word", LabelID: r.LabelID, LabelTenant: r.LabelTenant})
		require.NoError(b, err)
	}
	b.ResetTimer()
	for b.Loop() {
		rep, err := m.mgr.WhatIfReport(ctx, "box-confidential-external")
		require.NoError(b, err)
		require.Equal(b, int64(n), rep.Files)
		require.NotZero(b, rep.Matched)
	}
}
