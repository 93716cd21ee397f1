package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// loadYAML writes text to a file and loads it as the configuration.
func loadYAML(t *testing.T, text string) (Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "labelgate.yaml")
	require.NoError(t, os.WriteFile(p, []byte(text), 0o600))
	return Load(p)
}

// errsByKey maps each key named by a load's errors to its problems.
func errsByKey(t *testing.T, err error) map[string]string {
	t.Helper()
	var es Errors
	require.ErrorAs(t, err, &es)
	out := map[string]string{}
	for _, e := range es {
		out[e.Key] += e.Problem + "\n"
	}
	return out
}

func TestProtectionRulesLoadWithDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := loadYAML(t, `
labels:
  protection:
    - label: Confidential
      maxAccess: internal
    - label: "{5D3B3C4E-0000-4000-8000-00000000AB12}"
      maxAccess: private
      includeSublabels: false
    - label: Highly Confidential/Finance
      maxAccess: external
    - label: General
      maxAccess: external
      action: removeExternalAccess
`)
	require.NoError(t, err)
	rs := cfg.Labels.Protection
	require.Len(t, rs, 4)
	// Each level's default is the narrowest action bringing a file within it.
	require.Equal(t, ActionRemoveExternalAccess, rs[0].EffectiveAction())
	require.Equal(t, ActionMakePrivate, rs[1].EffectiveAction())
	require.Equal(t, ActionRemovePublicLinks, rs[2].EffectiveAction())
	require.Equal(t, ActionRemoveExternalAccess, rs[3].EffectiveAction(), "a stricter action than needed is allowed")
	require.True(t, rs[0].Sublabels(), "sublabels are included by default")
	require.False(t, rs[1].Sublabels())
	require.Equal(t, "external", rs[0].WiderThan())
	require.Equal(t, "internal", rs[1].WiderThan())
	require.Equal(t, "public", rs[2].WiderThan())
	// Policy ids are stable slugs of the label as written.
	require.Equal(t, "label-protection-confidential", rs[0].PolicyID())
	require.Equal(t, "label-protection-5d3b3c4e-0000-4000-8000-00000000ab12", rs[1].PolicyID())
	require.Equal(t, "label-protection-highly-confidential-finance", rs[2].PolicyID())
	require.Equal(t, rs[0].PolicyID(), ProtectionRule{Label: " CONFIDENTIAL ", MaxAccess: "private"}.PolicyID())
}

func TestProtectionRulesValidation(t *testing.T) {
	t.Parallel()
	_, err := loadYAML(t, `
labels:
  protection:
    - label: Confidential
      maxAccess: internal
    - label: confidential
      maxAccess: private
    - label: Secret
      maxAccess: internl
    - label: Public-ish
      maxAccess: public
    - label: Restricted
      maxAccess: internal
      action: removePublicLinks
    - label: Internal only
      maxAccess: private
      action: removeExternalAccess
    - label: Partner
      maxAccess: external
      action: deleteEverything
    - maxAccess: internal
    - label: Team
    - label: Highly Confidential
      maxAccess: internal
    - label: highly-confidential
      maxAccess: internal
`)
	got := errsByKey(t, err)
	want := map[string]string{
		"labels.protection[1].label":     `label "confidential" already has a rule (labels.protection[0])`,
		"labels.protection[2].maxAccess": `unknown access level "internl" (want private, internal or external)`,
		"labels.protection[3].maxAccess": "public allows every kind of sharing",
		"labels.protection[4].action":    "removePublicLinks leaves a file shared up to external, wider than maxAccess internal; use removeExternalAccess",
		"labels.protection[5].action":    "removeExternalAccess leaves a file shared up to internal, wider than maxAccess private; use makePrivate",
		"labels.protection[6].action":    `unknown action "deleteEverything" (want removePublicLinks, removeExternalAccess or makePrivate)`,
		"labels.protection[7].label":     "must be set",
		"labels.protection[8].maxAccess": "must be set",
		"labels.protection[10].label":    "would both generate policy label-protection-highly-confidential",
	}
	for k, msg := range want {
		require.Contains(t, got[k], msg, k)
	}
	require.Len(t, got, len(want), "no other key reported: %v", got)
	for _, k := range []string{"labels.protection[0].label", "labels.protection[0].maxAccess", "labels.protection[9].label"} {
		require.NotContains(t, got, k)
	}
}

func TestProtectionRuleUnknownKeyNamed(t *testing.T) {
	t.Parallel()
	_, err := loadYAML(t, "labels:\n  protection:\n    - label: Confidential\n      maxAccess: internal\n      acton: makePrivate\n")
	got := errsByKey(t, err)
	require.Contains(t, got["labels.protection[].acton"], "unknown key (line 5)")
}

func TestProtectionForLabelAndSublabels(t *testing.T) {
	t.Parallel()
	no := false
	rs := ProtectionRules{
		{Label: "Confidential", MaxAccess: "internal"},
		{Label: "secret-id", MaxAccess: "private", IncludeSublabels: &no},
		{Label: "Confidential/Finance", MaxAccess: "private"},
	}
	cat := map[string]CatalogEntry{
		"conf-id":   {ID: "conf-id", Name: "Confidential"},
		"fin-id":    {ID: "fin-id", Name: "Finance", DisplayName: "Confidential/Finance", Parent: "conf-id"},
		"hr-id":     {ID: "hr-id", Name: "HR", Parent: "conf-id"},
		"secret-id": {ID: "secret-id", Name: "Secret"},
		"ops-id":    {ID: "ops-id", Name: "Ops", Parent: "secret-id"},
		"pub-id":    {ID: "pub-id", Name: "Public"},
	}
	parent := func(id string) (CatalogEntry, bool) { e, ok := cat[id]; return e, ok }
	got := func(id string) (LabelProtection, bool) { return rs.For(cat[id], parent) }

	p, ok := got("conf-id")
	require.True(t, ok)
	require.Equal(t, LabelProtection{Rule: "Confidential", MaxAccess: "internal", Action: ActionRemoveExternalAccess,
		PolicyID: "label-protection-confidential"}, p)
	p, ok = got("hr-id")
	require.True(t, ok, "a sublabel is covered by its parent's rule")
	require.True(t, p.Inherited)
	require.Equal(t, "internal", p.MaxAccess)
	p, ok = got("fin-id")
	require.True(t, ok)
	require.False(t, p.Inherited, "a sublabel's own rule wins over its parent's")
	require.Equal(t, ActionMakePrivate, p.Action)
	p, ok = got("secret-id")
	require.True(t, ok, "a rule naming the label by id")
	require.Equal(t, "private", p.MaxAccess)
	_, ok = got("ops-id")
	require.False(t, ok, "includeSublabels: false keeps the parent's rule to itself")
	_, ok = got("pub-id")
	require.False(t, ok)
	require.True(t, strings.HasPrefix(rs[2].PolicyID(), ProtectionPolicyPrefix))
}
