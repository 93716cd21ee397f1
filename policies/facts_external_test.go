package policies

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/internal/store"
)

// TestExternalMeansAnotherTenantsLabel: label.external and label.is read a file carrying
// labels of several tenants consistently, from the inventory row the scanner wrote.
func TestExternalMeansAnotherTenantsLabel(t *testing.T) {
	t.Parallel()
	e := setup(t)
	base := e.file("sharepoint", "/Deals", "plan.docx", "")
	rec := func(id, ten string, external bool) store.FileRecord {
		r := store.FileRecord{File: base.File, Ext: "docx", LabelID: id, LabelTenant: ten, LabelExternal: external}
		return r
	}
	both := rec(idGeneral, tenant, true)         // its own General and another tenant's label
	foreign := rec(idForeign, foreignTent, true) // only another tenant's label
	own := rec(idGeneral, tenant, false)
	none := rec("", "", false)
	for _, tc := range []struct {
		cond string
		rec  store.FileRecord
		want bool
	}{
		{`{label: {external: true}}`, both, true},
		{`{label: {is: [General]}}`, both, true},
		{`{all: [{label: {is: [General]}}, {label: {external: true}}]}`, both, true},
		{`{label: {none: true}}`, both, false},
		{`{label: {external: true}}`, foreign, true},
		{`{label: {is: [General]}}`, foreign, false},
		{`{label: {isNot: [General]}}`, foreign, true},
		{`{label: {external: true}}`, own, false},
		{`{label: {external: false}}`, own, true},
		{`{label: {external: true}}`, none, false},
		{`{label: {none: true}}`, none, true},
	} {
		eng := e.compile(t, `policies: [{id: p, name: p, filter: `+tc.cond+`, severity: low, actions: [{alert: {message: m}}]}]`)
		f := FactsFromRecord(tc.rec, e.cat)
		d, err := eng.Evaluate(context.Background(), &f)
		require.NoError(t, err)
		require.Equal(t, tc.want, len(d.Actions) > 0, "%s on %+v", tc.cond, tc.rec.LabelID)
	}
}
