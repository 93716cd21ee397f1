package gateway

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/policies"
)

// protectionCategory marks the policies generated from labels.protection in listings.
const protectionCategory = "label-protection"

// ProtectionPolicies turns labels.protection into the policies that enforce it (issue 24):
// for each rule, "label is L (with its sublabels unless includeSublabels: false) and access
// at least the level beyond maxAccess" → the rule's sharing action. The admin writes no
// policy; the gateway keeps these in step with the configuration (applyProtection).
func ProtectionPolicies(rules config.ProtectionRules) []policies.Policy {
	out := make([]policies.Policy, 0, len(rules))
	for _, r := range rules {
		why := fmt.Sprintf("labels.protection: %s allows at most %s access", r.Label, r.MaxAccess)
		sa := &policies.SharingAction{Justification: why}
		var act policies.Action
		switch r.EffectiveAction() {
		case config.ActionRemovePublicLinks:
			act.RemovePublicLinks = sa
		case config.ActionRemoveExternalAccess:
			act.RemoveExternalAccess = sa
		default:
			act.MakePrivate = sa
		}
		scope := ""
		if r.Sublabels() {
			scope = " and its sublabels"
		}
		out = append(out, policies.Policy{
			ID:       r.PolicyID(),
			Name:     fmt.Sprintf("Label protection: %s at most %s", r.Label, r.MaxAccess),
			Severity: policies.SeverityHigh,
			Category: protectionCategory,
			Description: fmt.Sprintf("Generated from labels.protection in the configuration: files labelled %s%s shared wider than %s get %s. "+
				"Edit the configuration, not this policy: the gateway rewrites it at start.", r.Label, scope, r.MaxAccess, r.EffectiveAction()),
			Filter: &policies.Node{All: []policies.Node{
				{Label: &policies.LabelCond{Is: []string{r.Label}, IncludeSublabels: r.Sublabels()}},
				{Access: &policies.AccessCond{AtLeast: r.WiderThan()}},
			}},
			Actions: []policies.Action{act},
		})
	}
	return out
}

// protectionRetry is how often the gateway tries again to apply protection policies that
// did not apply (a label not in the catalog before its first sync), and puts back a
// generated policy an admin deleted or changed.
const protectionRetry = time.Minute

// protectionLoop keeps the generated policies in step with labels.protection: at start
// and then every protectionRetry, so a rule naming a label the catalog learns later is
// enforced from then on.
func (g *Gateway) protectionLoop(ctx context.Context) {
	for {
		if err := g.applyProtection(ctx); err != nil && ctx.Err() == nil {
			g.log.Warn("labels.protection: not every rule is enforced yet; retrying", "err", err, "retry", protectionRetry)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(protectionRetry):
		}
	}
}

// applyProtection makes the stored generated policies exactly those of labels.protection:
// each rule's policy is created or updated through the policies manager (validated against
// the catalog like any policy), and a generated policy whose rule left the configuration is
// deleted, which cancels its unfinished actions. A rule that does not apply (its label is
// not in the catalog) does not stop the others; the error names it.
func (g *Gateway) applyProtection(ctx context.Context) error {
	want := ProtectionPolicies(g.cfg.Labels.Protection)
	keep := map[string]bool{}
	var errs []error
	for _, p := range want {
		keep[p.ID] = true
		same, enabled := g.protectionCurrent(ctx, p)
		if same {
			continue
		}
		// An admin who disabled the policy (the console's emergency stop) keeps it disabled
		// through a rule change; removing the rule is how it goes away.
		p.Enabled = &enabled
		doc, err := policies.MarshalYAML(policies.Document{Policies: []policies.Policy{p}})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := g.policies.Apply(ctx, doc); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.ID, err))
			continue
		}
		g.log.Info("labels.protection: policy applied", "policy", p.ID)
	}
	stored, err := g.store.ListPolicies(ctx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, sp := range stored {
		if !strings.HasPrefix(sp.ID, config.ProtectionPolicyPrefix) || keep[sp.ID] {
			continue
		}
		if err := g.policies.Delete(ctx, sp.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			errs = append(errs, fmt.Errorf("%s: %w", sp.ID, err))
			continue
		}
		g.log.Info("labels.protection: rule removed from the configuration; its policy deleted", "policy", sp.ID)
	}
	return errors.Join(errs...)
}

// protectionCurrent reports whether the stored policy already says what p says (then nothing
// is written, so restarts and retries neither churn it nor recompile the engine), and whether
// it is enabled (true when absent).
func (g *Gateway) protectionCurrent(ctx context.Context, p policies.Policy) (same, enabled bool) {
	doc, err := g.policies.ExportDoc(ctx, p.ID)
	if err != nil || len(doc.Policies) != 1 {
		// Absent, or a stored document that no longer decodes: written anew.
		return false, true
	}
	got := doc.Policies[0]
	enabled = got.IsEnabled()
	got.Enabled = p.Enabled
	return reflect.DeepEqual(got, p), enabled
}

// ApplyProtection applies labels.protection now (the gateway also does at start and every
// minute): for a caller that has just synced the catalog the rules name, like the demo.
func (g *Gateway) ApplyProtection(ctx context.Context) error { return g.applyProtection(ctx) }
