package policies

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
)

type mgrEnv struct {
	env
	st  *store.Store
	mgr *Manager
}

func setupManager(t testing.TB) mgrEnv {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Config{URL: "sqlite:" + filepath.Join(t.TempDir(), "lg.db"), Now: func() time.Time { return testNow }})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	for _, app := range []connectors.App{connectors.AppBox, connectors.AppSharePoint} {
		_, err = st.SyncLabels(ctx, app, tenant, testLabels())
		require.NoError(t, err)
	}
	e := setup(t)
	return mgrEnv{env: e, st: st, mgr: NewManager(ManagerConfig{Store: st, Now: e.opt.Now})}
}

func readSamples(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/policies/samples.yaml")
	require.NoError(t, err)
	return b
}

func (m mgrEnv) record(t testing.TB, f Facts) store.FileRecord {
	t.Helper()
	ctx := context.Background()
	_, err := m.st.RecordScan(ctx, store.ScanOutcome{File: f.File, Type: "word", LabelID: f.LabelID, LabelTenant: f.LabelTenant,
		External: f.LabelExternal, Protected: f.Protected})
	require.NoError(t, err)
	r, err := m.st.GetFile(ctx, f.File.Ref)
	require.NoError(t, err)
	return r
}

func TestManagerApplyAllOrNothing(t *testing.T) {
	t.Parallel()
	m := setupManager(t)
	ctx := context.Background()
	ids, err := m.mgr.Apply(ctx, readSamples(t))
	require.NoError(t, err)
	require.Equal(t, []string{"box-confidential-external", "sharepoint-restricted-outside-finance", "label-card-numbers"}, ids)
	rows, err := m.st.ListPolicies(ctx)
	require.NoError(t, err)
	require.Len(t, rows, 3)
	require.Equal(t, "high", rows[0].Severity)

	// One bad policy in a document stores nothing, not even the good one next to it.
	bad := `policies:
  - {id: new-one, name: N, severity: low, matchAll: true, actions: [{alert: {message: m}}]}
  - {id: box-confidential-external, name: changed, severity: low, filter: {label: {is: [Nope]}}, actions: [{alert: {message: m}}]}
`
	_, err = m.mgr.Apply(ctx, []byte(bad))
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorContains(t, err, `policy box-confidential-external: filter.label.is[0]: unknown label "Nope"`)
	_, err = m.st.GetPolicy(ctx, "new-one")
	require.ErrorIs(t, err, store.ErrNotFound)
	p, err := m.st.GetPolicy(ctx, "box-confidential-external")
	require.NoError(t, err)
	require.Equal(t, "Confidential data externally shared on Box", p.Name)

	// Export gives back a document that applies again unchanged.
	y, err := m.mgr.Export(ctx)
	require.NoError(t, err)
	doc, err := Parse(y)
	require.NoError(t, err)
	require.Len(t, doc.Policies, 3)
	_, err = m.mgr.Apply(ctx, y)
	require.NoError(t, err)
}

func TestManagerActionsFollowPolicyState(t *testing.T) {
	t.Parallel()
	m := setupManager(t)
	ctx := context.Background()
	_, err := m.mgr.Apply(ctx, readSamples(t))
	require.NoError(t, err)

	f := m.file("box", "/Deals", "plan.docx", idConf)
	f.File.Access = connectors.AccessExternal
	rec := m.record(t, f)
	require.NoError(t, m.mgr.Decide(ctx, rec, nil))
	require.NoError(t, m.mgr.Decide(ctx, rec, nil), "a second decision adds no duplicate")
	const pol = "box-confidential-external"
	states := func() []string {
		as, err := m.st.ListActions(ctx, store.ActionFilter{PolicyID: pol})
		require.NoError(t, err)
		var out []string
		for _, a := range as {
			out = append(out, a.Kind+"="+a.State)
		}
		return out
	}
	require.Equal(t, []string{"alert=pending", "notify_owner=pending"}, states())

	require.NoError(t, m.mgr.SetEnabled(ctx, pol, false))
	require.Equal(t, []string{"alert=suspended", "notify_owner=suspended"}, states())
	require.NoError(t, m.mgr.Decide(ctx, rec, nil))
	require.Len(t, states(), 2, "a disabled policy asks for nothing")

	require.NoError(t, m.mgr.SetEnabled(ctx, pol, true))
	require.Equal(t, []string{"alert=pending", "notify_owner=pending"}, states())

	require.NoError(t, m.mgr.Delete(ctx, pol))
	require.Equal(t, []string{"alert=canceled", "notify_owner=canceled"}, states())
	require.NoError(t, m.mgr.Decide(ctx, rec, nil))
	require.Len(t, states(), 2, "a deleted policy asks for nothing")
}

func TestManagerWhatIf(t *testing.T) {
	t.Parallel()
	m := setupManager(t)
	ctx := context.Background()
	_, err := m.mgr.Apply(ctx, readSamples(t))
	require.NoError(t, err)
	const pol = "box-confidential-external"
	require.NoError(t, m.mgr.SetEnabled(ctx, pol, false))
	for i := 0; i < 30; i++ {
		f := m.file("box", "/Deals", fmt.Sprintf("f%02d.docx", i), []string{idConf, idConfAll, idGeneral}[i%3])
		f.File.Access = []connectors.AccessLevel{connectors.AccessExternal, connectors.AccessInternal}[i%2]
		m.record(t, f)
	}
	rep, err := m.mgr.WhatIfReport(ctx, pol)
	require.NoError(t, err)
	// Confidential or its sublabel (i%3 != 2) and external (i even): i in {0, 4, 6, 10, ...}.
	want := int64(0)
	for i := 0; i < 30; i++ {
		if i%3 != 2 && i%2 == 0 {
			want++
		}
	}
	require.False(t, rep.Enabled)
	require.Equal(t, int64(30), rep.Files)
	require.Equal(t, want, rep.Matched)
	require.Equal(t, want, rep.Touched)
	require.Equal(t, map[string]int64{"alert": want, "notify_owner": want}, rep.Actions)
	require.NotEmpty(t, rep.Samples)
	as, err := m.st.ListActions(ctx, store.ActionFilter{})
	require.NoError(t, err)
	require.Empty(t, as, "what-if records nothing")

	rep, err = m.mgr.WhatIfReport(ctx, "label-card-numbers")
	require.NoError(t, err)
	require.True(t, rep.ContentConditions)
	require.Zero(t, rep.Matched)
	_, err = m.mgr.WhatIfReport(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)
}
