package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// ProtectionRule is one entry of labels.protection (issue 24): the widest sharing a label
// allows, and the sharing action that narrows a file labelled with it when it is shared
// wider. The gateway turns each rule into a policy (PolicyID) enforced on every scan.
type ProtectionRule struct {
	// Label is a label id or catalog name (Parent/Child for a sublabel's name), as policies
	// name labels.
	Label string `yaml:"label"`
	// MaxAccess is the widest access allowed: private, internal or external.
	MaxAccess string `yaml:"maxAccess"`
	// Action is removePublicLinks, removeExternalAccess or makePrivate; empty: the narrowest
	// action that brings access within MaxAccess (DefaultAction).
	Action string `yaml:"action"`
	// IncludeSublabels extends the rule to the label's sublabels; default true.
	IncludeSublabels *bool `yaml:"includeSublabels"`
}

// Errors in a rule name labels.protection[], not the Go type (decode's sections). Registered
// here, beside the type, so the key lives with the rule it names.
func init() { sections["ProtectionRule"] = "labels.protection[]" }

// ProtectionRules is labels.protection.
type ProtectionRules []ProtectionRule

// Sharing action names as policies spell them.
const (
	ActionRemovePublicLinks    = "removePublicLinks"
	ActionRemoveExternalAccess = "removeExternalAccess"
	ActionMakePrivate          = "makePrivate"
)

// accessRank orders the access levels a rule may name; public is the top of the scale and
// no rule's maxAccess (a label allowing public access needs no rule).
var accessRank = map[string]int{"private": 0, "internal": 1, "external": 2, "public": 3}

var accessByRank = []string{"private", "internal", "external", "public"}

// actionLeaves is the widest access a file can still have after each sharing action:
// removing public links leaves external grants, removing external access leaves internal
// ones, making the file private leaves the owner alone.
var actionLeaves = map[string]int{ActionRemovePublicLinks: 2, ActionRemoveExternalAccess: 1, ActionMakePrivate: 0}

// DefaultAction is the narrowest sharing action that brings a file within maxAccess
// ("" for an unknown level): removing less would leave the file too widely shared, removing
// more would take away sharing the label allows.
func DefaultAction(maxAccess string) string {
	switch maxAccess {
	case "external":
		return ActionRemovePublicLinks
	case "internal":
		return ActionRemoveExternalAccess
	case "private":
		return ActionMakePrivate
	}
	return ""
}

// EffectiveAction is the rule's action with its default applied.
func (r ProtectionRule) EffectiveAction() string {
	if r.Action != "" {
		return r.Action
	}
	return DefaultAction(r.MaxAccess)
}

// Sublabels reports includeSublabels with its default (true).
func (r ProtectionRule) Sublabels() bool { return r.IncludeSublabels == nil || *r.IncludeSublabels }

// WiderThan is the narrowest access level beyond MaxAccess: the rule acts on files shared at
// least this widely ("" for an unknown or top level).
func (r ProtectionRule) WiderThan() string {
	rank, ok := accessRank[r.MaxAccess]
	if !ok || rank+1 >= len(accessByRank) {
		return ""
	}
	return accessByRank[rank+1]
}

// labelKey is how a rule's label compares with another's and with the catalog: case-
// insensitive, GUID braces dropped, as the policies catalog looks labels up.
func labelKey(s string) string { return strings.ToLower(strings.Trim(strings.TrimSpace(s), "{}")) }

// PolicyID is the id of the policy the gateway generates for the rule:
// label-protection-<slug of the label>. It depends on the label as written only, so the
// policy keeps its id (and its actions their history) across restarts and edits of the
// rule's other fields.
func (r ProtectionRule) PolicyID() string {
	var b strings.Builder
	dash := false
	for _, c := range labelKey(r.Label) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	slug := strings.TrimRight(b.String(), "-")
	// A name in another script slugs to nothing, and a very long one past the policy id
	// limit (128); a hash of the label keeps those stable and distinct.
	if slug == "" || len(slug) > 80 {
		sum := sha256.Sum256([]byte(labelKey(r.Label)))
		if len(slug) > 80 {
			slug = strings.TrimRight(slug[:64], "-") + "-" + hex.EncodeToString(sum[:4])
		} else {
			slug = hex.EncodeToString(sum[:8])
		}
	}
	return ProtectionPolicyPrefix + slug
}

// ProtectionPolicyPrefix starts the id of every policy generated from labels.protection; the
// gateway removes a policy with this prefix whose rule left the configuration.
const ProtectionPolicyPrefix = "label-protection-"

// validate reports every problem of labels.protection, each naming its key.
func (rs ProtectionRules) validate(bad func(key, format string, args ...any)) {
	seen := map[string]int{}
	ids := map[string]int{}
	for i, r := range rs {
		key := fmt.Sprintf("labels.protection[%d]", i)
		if strings.TrimSpace(r.Label) == "" {
			bad(key+".label", "must be set: a label id or catalog name")
		} else {
			if j, dup := seen[labelKey(r.Label)]; dup {
				bad(key+".label", "label %q already has a rule (labels.protection[%d]); give each label one rule", r.Label, j)
			} else if j, dup := ids[r.PolicyID()]; dup {
				bad(key+".label", "label %q and labels.protection[%d] (%q) would both generate policy %s; name one of them by id",
					r.Label, j, rs[j].Label, r.PolicyID())
			}
			seen[labelKey(r.Label)] = i
			if _, dup := ids[r.PolicyID()]; !dup {
				ids[r.PolicyID()] = i
			}
		}
		rank, ok := accessRank[r.MaxAccess]
		switch {
		case r.MaxAccess == "":
			bad(key+".maxAccess", "must be set: private, internal or external")
			continue
		case !ok:
			bad(key+".maxAccess", "unknown access level %q (want private, internal or external)", r.MaxAccess)
			continue
		case r.MaxAccess == "public":
			bad(key+".maxAccess", "public allows every kind of sharing, so the rule would never act; remove the rule or choose private, internal or external")
			continue
		}
		if r.Action == "" {
			continue
		}
		leaves, ok := actionLeaves[r.Action]
		if !ok {
			bad(key+".action", "unknown action %q (want %s, %s or %s)", r.Action, ActionRemovePublicLinks, ActionRemoveExternalAccess, ActionMakePrivate)
			continue
		}
		if leaves > rank {
			bad(key+".action", "%s leaves a file shared up to %s, wider than maxAccess %s; use %s (or omit action for it)",
				r.Action, accessByRank[leaves], r.MaxAccess, DefaultAction(r.MaxAccess), DefaultAction(r.MaxAccess))
		}
	}
}

// LabelProtection is the rule that governs one catalog label, as listings show it.
type LabelProtection struct {
	// Rule is the label as the rule names it; for a sublabel covered through its parent's
	// rule, the parent's.
	Rule      string `json:"rule"`
	MaxAccess string `json:"maxAccess"`
	Action    string `json:"action"`
	PolicyID  string `json:"policyId"`
	// Inherited is set when the rule is the parent label's (includeSublabels).
	Inherited bool `json:"inherited,omitempty"`
}

// CatalogEntry is what matching a rule needs to know of a catalog label.
type CatalogEntry struct {
	ID, Name, DisplayName, Parent string
}

func (r ProtectionRule) names(l CatalogEntry) bool {
	k := labelKey(r.Label)
	if k == "" {
		return false
	}
	for _, n := range []string{l.ID, l.Name, l.DisplayName} {
		if n != "" && labelKey(n) == k {
			return true
		}
	}
	return false
}

func (r ProtectionRule) view(inherited bool) LabelProtection {
	return LabelProtection{Rule: r.Label, MaxAccess: r.MaxAccess, Action: r.EffectiveAction(), PolicyID: r.PolicyID(), Inherited: inherited}
}

// For is the rule governing label l: its own rule, else (includeSublabels) its parent's,
// which parent finds by id in the catalog. ok is false for a label no rule covers.
func (rs ProtectionRules) For(l CatalogEntry, parent func(id string) (CatalogEntry, bool)) (LabelProtection, bool) {
	for _, r := range rs {
		if r.names(l) {
			return r.view(false), true
		}
	}
	if l.Parent == "" || parent == nil {
		return LabelProtection{}, false
	}
	p, ok := parent(l.Parent)
	if !ok {
		p = CatalogEntry{ID: l.Parent}
	}
	for _, r := range rs {
		if r.Sublabels() && r.names(p) {
			return r.view(true), true
		}
	}
	return LabelProtection{}, false
}
