package gateway

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling/labeltest"
	"github.com/labelgate/labelgate/policies"
)

func protectionRules() config.ProtectionRules {
	no := false
	return config.ProtectionRules{
		{Label: "Confidential", MaxAccess: "internal"},
		{Label: "Highly Confidential", MaxAccess: "private", IncludeSublabels: &no},
		{Label: "General", MaxAccess: "external"},
	}
}

func protectionCatalog() []connectors.Label {
	return []connectors.Label{
		{ID: "11111111-0000-4000-8000-000000000001", Name: "General", Priority: 1},
		{ID: "11111111-0000-4000-8000-000000000002", Name: "Confidential", Priority: 2},
		{ID: "11111111-0000-4000-8000-000000000003", Name: "Finance", DisplayName: "Confidential/Finance", Parent: "11111111-0000-4000-8000-000000000002", Priority: 3},
		{ID: "11111111-0000-4000-8000-000000000004", Name: "Highly Confidential", Priority: 4},
	}
}

// Each rule becomes one policy: label (with sublabels unless told otherwise) and access
// beyond maxAccess, acted on by the rule's action or the narrowest one that suffices.
func TestProtectionPoliciesShape(t *testing.T) {
	t.Parallel()
	ps := ProtectionPolicies(protectionRules())
	require.Len(t, ps, 3)
	want := []struct {
		id, atLeast string
		sub         bool
		action      func(policies.Action) *policies.SharingAction
	}{
		{"label-protection-confidential", "external", true, func(a policies.Action) *policies.SharingAction { return a.RemoveExternalAccess }},
		{"label-protection-highly-confidential", "internal", false, func(a policies.Action) *policies.SharingAction { return a.MakePrivate }},
		{"label-protection-general", "public", true, func(a policies.Action) *policies.SharingAction { return a.RemovePublicLinks }},
	}
	for i, w := range want {
		p := ps[i]
		require.Equal(t, w.id, p.ID)
		require.True(t, p.IsEnabled())
		require.Equal(t, policies.SeverityHigh, p.Severity)
		require.NotNil(t, p.Filter)
		require.Len(t, p.Filter.All, 2)
		require.Equal(t, []string{protectionRules()[i].Label}, p.Filter.All[0].Label.Is)
		require.Equal(t, w.sub, p.Filter.All[0].Label.IncludeSublabels)
		require.Equal(t, w.atLeast, p.Filter.All[1].Access.AtLeast)
		require.Len(t, p.Actions, 1)
		sa := w.action(p.Actions[0])
		require.NotNil(t, sa, w.id)
		require.Contains(t, sa.Justification, "labels.protection")
	}
	// The documents survive YAML as policies are stored and exported.
	doc, err := policies.MarshalYAML(policies.Document{Policies: ps})
	require.NoError(t, err)
	back, err := policies.Parse(doc)
	require.NoError(t, err)
	require.Equal(t, ps, back.Policies)
}

// The generated documents are valid policies against a catalog holding the labels. This
// needs the compiler to accept the sharing actions (share-exec's policies work, issue 24);
// until that is merged it fails on "give exactly one of applyLabel, …".
func TestProtectionPoliciesValidate(t *testing.T) {
	t.Parallel()
	_, err := policies.Compile(ProtectionPolicies(protectionRules()), policies.NewCatalog(protectionCatalog()), policies.Options{})
	require.NoError(t, err)
}

// At start and on each retry the gateway makes the stored generated policies those of
// labels.protection: created, left alone when unchanged, kept disabled when an admin
// disabled one, deleted when their rule leaves the configuration; other policies untouched.
// Applying goes through the policies manager, so this too needs share-exec's compiler.
func TestApplyProtectionReconciles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := startGateway(t, storetest.Backends()[0], func(c *config.Config) { c.Labels.Protection = protectionRules() })
	g := h.g
	_, err := g.store.SyncLabels(ctx, connectors.AppSharePoint, labeltest.TenantContoso, protectionCatalog())
	require.NoError(t, err)
	_, err = g.policies.Apply(ctx, []byte(`
policies:
  - id: admin-own
    name: Admin's own
    severity: low
    matchAll: true
    actions:
      - alert: {message: "x"}
`))
	require.NoError(t, err)

	require.NoError(t, g.applyProtection(ctx))
	stored := storedPolicies(t, g)
	for _, id := range []string{"label-protection-confidential", "label-protection-highly-confidential", "label-protection-general", "admin-own"} {
		require.Contains(t, stored, id)
		require.True(t, stored[id].Enabled, id)
	}
	before := stored["label-protection-confidential"].UpdatedAt

	// Unchanged: nothing rewritten.
	require.NoError(t, g.applyProtection(ctx))
	require.Equal(t, before, storedPolicies(t, g)["label-protection-confidential"].UpdatedAt)

	// An admin's emergency stop holds through a rule change.
	require.NoError(t, g.policies.SetEnabled(ctx, "label-protection-general", false))
	g.cfg.Labels.Protection = config.ProtectionRules{
		{Label: "Confidential", MaxAccess: "private"},
		{Label: "General", MaxAccess: "internal"},
	}
	require.NoError(t, g.applyProtection(ctx))
	stored = storedPolicies(t, g)
	require.NotContains(t, stored, "label-protection-highly-confidential", "a rule removed from the configuration removes its policy")
	require.Contains(t, stored, "admin-own", "policies the admin wrote are not touched")
	require.False(t, stored["label-protection-general"].Enabled)
	doc, err := g.policies.ExportDoc(ctx, "label-protection-confidential")
	require.NoError(t, err)
	require.NotNil(t, doc.Policies[0].Actions[0].MakePrivate, "the changed rule's action")
	require.Equal(t, "internal", doc.Policies[0].Filter.All[1].Access.AtLeast)
}

func storedPolicies(t *testing.T, g *Gateway) map[string]store.Policy {
	t.Helper()
	ps, err := g.store.ListPolicies(context.Background())
	require.NoError(t, err)
	out := map[string]store.Policy{}
	for _, p := range ps {
		out[p.ID] = p
	}
	return out
}
