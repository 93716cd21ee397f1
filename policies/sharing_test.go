package policies

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
)

// The sharing actions (issue 24) in policies: compiled, planned only for files shared wider
// than the action leaves, recorded with what the executor checks again at write time, and
// counted per kind by what-if.

const sharingPolicy = `
policies:
  - id: conf-shared
    name: Confidential shared outside
    severity: high
    filter:
      all:
        - label: {is: [Confidential], includeSublabels: true}
        - access: {atLeast: internal}
    actions:
      - removePublicLinks: {justification: "no public links on confidential files"}
      - removeExternalAccess: {}
      - makePrivate: {}
`

func TestSharingActionsPlanned(t *testing.T) {
	t.Parallel()
	e := setup(t)
	eng := e.compile(t, sharingPolicy)
	plan := func(access connectors.AccessLevel) []PlannedAction {
		f := e.file("box", "/Deals", "plan.docx", idConfAll)
		f.File.Access = access
		d, err := eng.Evaluate(context.Background(), &f)
		require.NoError(t, err)
		return d.Actions
	}
	kinds := func(as []PlannedAction) []string {
		out := []string{}
		for _, a := range as {
			out = append(out, a.Kind)
		}
		return out
	}
	require.Equal(t, []string{store.ActionRemovePublicLinks, store.ActionRemoveExternalAccess, store.ActionMakePrivate},
		kinds(plan(connectors.AccessPublic)))
	require.Equal(t, []string{store.ActionRemoveExternalAccess, store.ActionMakePrivate}, kinds(plan(connectors.AccessExternal)))
	require.Equal(t, []string{store.ActionMakePrivate}, kinds(plan(connectors.AccessInternal)))

	as := plan(connectors.AccessPublic)
	pub := as[0]
	require.Equal(t, "policy:conf-shared|box/"+tenant+"/d1//Deals/plan.docx|remove_public_links", pub.Key, "one unfinished action per policy, file and kind")
	require.True(t, pub.Params.CheckLabel)
	require.Equal(t, idConfAll, pub.Params.MatchedLabel, "the label the decision saw, checked again at write time")
	require.Equal(t, "external", pub.Params.MaxAccess)
	require.Equal(t, "no public links on confidential files", pub.Params.Justification)
	require.Equal(t, "private", as[2].Params.MaxAccess)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(pub.MarshalParams(), &raw))
	require.Equal(t, map[string]any{"checkLabel": true, "matchedLabel": idConfAll, "maxAccess": "external",
		"justification": "no public links on confidential files"}, raw)
}

func TestSharingActionsValidated(t *testing.T) {
	t.Parallel()
	e := setup(t)
	doc, err := Parse([]byte(`
policies:
  - id: two
    name: Two in one
    severity: low
    matchAll: true
    actions:
      - {makePrivate: {}, removePublicLinks: {}}
`))
	require.NoError(t, err)
	_, err = Compile(doc.Policies, e.cat, e.opt)
	require.ErrorIs(t, err, ErrInvalid)
	require.ErrorContains(t, err, "give exactly one of applyLabel, removeLabel, alert, notifyOwner, removePublicLinks, removeExternalAccess or makePrivate")
}

func TestSharingWhatIfAndRecord(t *testing.T) {
	t.Parallel()
	m := setupManager(t)
	ctx := context.Background()
	_, err := m.mgr.Apply(ctx, []byte(sharingPolicy))
	require.NoError(t, err)
	levels := []connectors.AccessLevel{connectors.AccessPrivate, connectors.AccessInternal, connectors.AccessExternal, connectors.AccessPublic}
	for i := range 12 {
		label := idConf
		if i%3 == 2 {
			label = idGeneral
		}
		f := m.file("box", "/Deals", fmt.Sprintf("f%02d.docx", i), label)
		f.File.Access = levels[i%4]
		m.record(t, f)
	}
	rep, err := m.mgr.WhatIfReport(ctx, "conf-shared")
	require.NoError(t, err)
	// Confidential files (i%3 != 2) by access: i=0 private (not matched), 1 internal, 3 public, 4 private, 5 (general),
	// 6 external, 7 public, 9 internal, 10 external.
	require.EqualValues(t, 12, rep.Files)
	require.EqualValues(t, 6, rep.Matched)
	require.Equal(t, map[string]int64{store.ActionRemovePublicLinks: 2, store.ActionRemoveExternalAccess: 4, store.ActionMakePrivate: 6},
		rep.Actions, "per kind, the files it would change")

	f := m.file("box", "/Deals", "f03.docx", idConf)
	f.File.Access = connectors.AccessPublic
	rec := m.record(t, f)
	require.NoError(t, m.mgr.Decide(ctx, rec, nil))
	require.NoError(t, m.mgr.Decide(ctx, rec, nil), "no duplicate while unfinished")
	as, err := m.st.ListActions(ctx, store.ActionFilter{PolicyID: "conf-shared"})
	require.NoError(t, err)
	require.Len(t, as, 3)
	for _, a := range as {
		require.Equal(t, "policy:conf-shared", a.RequestedBy)
		require.Equal(t, store.ActionPending, a.State)
		require.Contains(t, string(a.Params), `"matchedLabel":"`+idConf+`"`)
	}
}
