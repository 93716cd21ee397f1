package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
)

func setupPolicyCmd(t *testing.T) (*store.Store, func(args ...string) (int, string, string)) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{URL: "sqlite:" + filepath.Join(t.TempDir(), "lg.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	_, err = st.SyncLabels(ctx, connectors.AppBox, "t1", []connectors.Label{
		{ID: "00000000-0000-0000-0000-000000000003", Name: "Confidential", Priority: 2, Tenant: "t1"},
		{ID: "00000000-0000-0000-0000-000000000005", Name: "Restricted", Priority: 5, Tenant: "t1"},
		{ID: "00000000-0000-0000-0000-000000000006", Name: "Restricted - Finance", Parent: "00000000-0000-0000-0000-000000000005", Priority: 6, Tenant: "t1"},
	})
	require.NoError(t, err)
	return st, func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := cmdPolicy(ctx, st, args, &out, &errb)
		return code, out.String(), errb.String()
	}
}

func TestCmdPolicy(t *testing.T) {
	t.Parallel()
	st, run := setupPolicyCmd(t)
	ctx := context.Background()

	code, out, errs := run("apply", "-f", "../../testdata/policies/samples.yaml")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "applied box-confidential-external")

	code, out, _ = run("list")
	require.Equal(t, 0, code)
	require.Contains(t, out, "label-card-numbers")
	require.Contains(t, out, "ENABLED")

	code, out, _ = run("list", "-o", "json")
	require.Equal(t, 0, code)
	var list struct{ Items []store.Policy }
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	require.Len(t, list.Items, 3)

	code, out, _ = run("export", "box-confidential-external")
	require.Equal(t, 0, code)
	require.Contains(t, out, "policies:")
	require.Contains(t, out, "includeSublabels: true")

	// Inventory for the what-if: one Confidential file shared externally on Box.
	f := connectors.File{Ref: connectors.FileRef{App: connectors.AppBox, Tenant: "t1", Drive: "d", ItemID: "1"}, Path: "/", Name: "a.docx",
		Owner: "o@x.com", Access: connectors.AccessExternal}
	_, err := st.RecordScan(ctx, store.ScanOutcome{File: f, Type: "word", LabelID: "00000000-0000-0000-0000-000000000003", LabelTenant: "t1"})
	require.NoError(t, err)
	code, out, _ = run("test", "box-confidential-external")
	require.Equal(t, 0, code)
	require.Contains(t, out, "over 1 files: 1 match, 1 would be touched")
	require.Contains(t, out, "notify_owner")
	code, out, _ = run("test", "-o", "json", "box-confidential-external")
	require.Equal(t, 0, code)
	var rep struct {
		Matched int64
		Actions map[string]int64
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Equal(t, int64(1), rep.Matched)
	require.Equal(t, int64(1), rep.Actions["alert"])

	code, out, _ = run("disable", "box-confidential-external")
	require.Equal(t, 0, code)
	require.Equal(t, "disabled box-confidential-external\n", out)
	p, err := st.GetPolicy(ctx, "box-confidential-external")
	require.NoError(t, err)
	require.False(t, p.Enabled)
	code, _, _ = run("enable", "box-confidential-external")
	require.Equal(t, 0, code)
	code, _, _ = run("delete", "box-confidential-external")
	require.Equal(t, 0, code)
	code, _, errs = run("delete", "box-confidential-external")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "not found")
}

func TestCmdPolicyErrors(t *testing.T) {
	t.Parallel()
	st, run := setupPolicyCmd(t)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(`policies:
  - {id: a, name: A, severity: low, filter: {label: {is: [Secret]}}, actions: [{alert: {message: m}}]}
  - {id: b, name: B, severity: low, filter: {app: [box], colour: red}, actions: [{alert: {message: m}}]}
`), 0o600))
	code, _, errs := run("apply", "-f", bad)
	require.Equal(t, 1, code)
	require.Contains(t, errs, `policy b: filter.colour: line 3: unknown condition kind "colour"`)
	rows, err := st.ListPolicies(context.Background())
	require.NoError(t, err)
	require.Empty(t, rows)

	code, _, errs = run("apply", "-f", filepath.Join(t.TempDir(), "missing.yaml"))
	require.Equal(t, 1, code)
	require.Contains(t, errs, "no such file")
	for _, args := range [][]string{{}, {"apply"}, {"enable"}, {"frobnicate"}, {"list", "-o", "xml"}} {
		code, _, _ = run(args...)
		require.Equal(t, 2, code, "%v", args)
	}
	code, _, errs = run("test", "nope")
	require.Equal(t, 1, code)
	require.Contains(t, errs, "not found")
}
