package policies

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/policies/content"
)

// Options configure an Engine.
type Options struct {
	// Now is the clock for the "within N days" conditions; default time.Now.
	Now func() time.Time
	// Limits cap content inspection; zero fields take content.DefaultLimits.
	Limits content.Limits
	Logger *slog.Logger
}

// Engine evaluates a set of compiled policies. It is immutable and safe for concurrent use.
type Engine struct {
	pols     []*cpolicy
	matchers []*content.Matcher
	targets  []int
	now      func() time.Time
	limits   content.Limits
	log      *slog.Logger
}

// Validate checks a document against the catalog (nil skips label checks) and returns every
// problem found as Errors.
func Validate(doc Document, cat Catalog) error {
	_, err := Compile(doc.Policies, cat, Options{})
	return err
}

// Compile validates and pre-compiles policies: globs checked, regexes compiled, labels
// resolved to ids, condition lists ordered cheap first.
func Compile(ps []Policy, cat Catalog, o Options) (*Engine, error) {
	c := &compiler{cat: cat, mindex: map[string]int{}}
	e := &Engine{now: o.Now, limits: o.Limits, log: o.Logger}
	if e.now == nil {
		e.now = time.Now
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	seen := map[string]bool{}
	for i, p := range ps {
		e.pols = append(e.pols, c.policy(i, p, seen))
	}
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	e.matchers, e.targets = c.matchers, c.targets
	return e, nil
}

// Policies returns the compiled policies' definitions.
func (e *Engine) Policies() []Policy {
	out := make([]Policy, len(e.pols))
	for i, p := range e.pols {
		out[i] = p.p
	}
	return out
}

// PlannedAction is one governance action a policy asks for on one file.
type PlannedAction struct {
	// Key is the dedup key: one per (policy, file, action).
	Key        string             `json:"key"`
	PolicyID   string             `json:"policyId"`
	PolicyName string             `json:"policyName"`
	Kind       string             `json:"kind"` // store.ActionApplyLabel, ActionRemoveLabel, ActionAlert, ActionNotifyOwner, or a sharing kind
	Ref        connectors.FileRef `json:"ref"`
	LabelID    string             `json:"labelId,omitempty"`
	Params     ActionParams       `json:"params"`
}

// ActionParams are the kind-specific options stored with an action (store.Action.Params).
type ActionParams struct {
	Severity            Severity `json:"severity,omitempty"`
	Subject             string   `json:"subject,omitempty"`
	Message             string   `json:"message,omitempty"`
	Recipient           string   `json:"recipient,omitempty"`
	Justification       string   `json:"justification,omitempty"`
	OnlyIfUnlabelled    bool     `json:"onlyIfUnlabelled,omitempty"`
	OnlyIfLowerPriority bool     `json:"onlyIfLowerPriority,omitempty"`
	// Sharing actions (labeling.SharingParams reads the same fields): the executor checks at
	// write time that the file still carries MatchedLabel ("" = unlabelled), the label this
	// decision saw. MaxAccess is the widest access the action leaves, for display: the
	// executor derives the same from the kind when it picks the grants to remove.
	CheckLabel   bool   `json:"checkLabel,omitempty"`
	MatchedLabel string `json:"matchedLabel,omitempty"`
	MaxAccess    string `json:"maxAccess,omitempty"`
}

// Decision is what the policies ask for one file.
type Decision struct {
	Ref     connectors.FileRef `json:"ref"`
	Matched []string           `json:"matched,omitempty"` // ids of the matching policies
	Actions []PlannedAction    `json:"actions,omitempty"`
	// ContentRead says whether the file's content was inspected.
	ContentRead bool `json:"contentRead"`
	// ContentError says why the inspection stopped short, e.g. "content inspection budget
	// exceeded: …" (content.ErrBudgetExceeded); content conditions then saw only the text read
	// before. Empty when the inspection completed or never ran.
	ContentError string `json:"contentError,omitempty"`
	// ContentBudgetExceeded is set when ContentError is the budget's.
	ContentBudgetExceeded bool `json:"contentBudgetExceeded,omitempty"`
}

// evalState is one evaluation: the facts, the clock reading and content counts once read.
type evalState struct {
	ctx    context.Context
	e      *Engine
	f      *Facts
	now    time.Time
	counts []int
	read   bool // content conditions were reached
	opened bool // the content was opened
	err    error
	// cerr is why the inspection stopped short (it does not fail the evaluation).
	cerr error
}

// Evaluate runs every enabled policy against f.
func (e *Engine) Evaluate(ctx context.Context, f *Facts) (Decision, error) {
	return e.evaluate(ctx, f, "")
}

// EvaluatePolicy runs one policy, enabled or not (what-if).
func (e *Engine) EvaluatePolicy(ctx context.Context, f *Facts, id string) (Decision, error) {
	return e.evaluate(ctx, f, id)
}

func (e *Engine) evaluate(ctx context.Context, f *Facts, only string) (Decision, error) {
	st := evalState{ctx: ctx, e: e, f: f, now: e.now()}
	d := Decision{Ref: f.File.Ref}
	for _, p := range e.pols {
		if only != "" {
			if p.p.ID != only {
				continue
			}
		} else if !p.p.IsEnabled() {
			continue
		}
		if p.root != nil && !st.eval(p.root) {
			if st.err != nil {
				return d, st.err
			}
			continue
		}
		if st.err != nil {
			return d, st.err
		}
		d.Matched = append(d.Matched, p.p.ID)
		for i := range p.actions {
			if pa, ok := e.plan(p, &p.actions[i], f); ok {
				d.Actions = append(d.Actions, pa)
			}
		}
	}
	d.ContentRead = st.opened
	if st.cerr != nil {
		d.ContentError = st.cerr.Error()
		d.ContentBudgetExceeded = errors.Is(st.cerr, content.ErrBudgetExceeded)
	}
	return d, nil
}

// plan turns a matched policy's action into a planned action, dropping label writes the
// file does not need or the action's options forbid.
func (e *Engine) plan(p *cpolicy, a *caction, f *Facts) (PlannedAction, bool) {
	pa := PlannedAction{PolicyID: p.p.ID, PolicyName: p.p.Name, Kind: a.kind, Ref: f.File.Ref, LabelID: a.labelID,
		Params: ActionParams{Severity: a.severity, Justification: a.justification, OnlyIfUnlabelled: a.onlyUnl, OnlyIfLowerPriority: a.onlyLower}}
	switch a.kind {
	case "apply_label":
		switch {
		case strings.EqualFold(f.LabelID, a.labelID):
			return pa, false
		case a.onlyUnl && f.LabelID != "":
			return pa, false
		case a.onlyLower && f.LabelID != "" && (f.LabelPriority < 0 || f.LabelPriority >= a.priority):
			// An unknown (e.g. external) label's priority cannot be compared: leave it.
			return pa, false
		}
	case "remove_label":
		if f.LabelID == "" {
			return pa, false
		}
	case "notify_owner":
		pa.Params.Recipient = f.File.Owner
		if f.File.Owner == "" {
			return pa, false
		}
	case store.ActionRemovePublicLinks, store.ActionRemoveExternalAccess, store.ActionMakePrivate:
		// Planned only for a file shared wider than the action leaves, so what-if counts the
		// files each sharing action would change and a restricted file gets no action.
		leaves := store.SharingLeaves(a.kind)
		if f.File.Access.Rank() <= leaves.Rank() {
			return pa, false
		}
		pa.Params.CheckLabel, pa.Params.MatchedLabel, pa.Params.MaxAccess = true, f.LabelID, string(leaves)
	}
	if a.msg != nil || a.subject != nil {
		data := TemplateData{Name: f.File.Name, Path: f.File.Path, URL: f.File.WebURL, Owner: f.File.Owner,
			App: string(f.File.Ref.App), Tenant: f.File.Ref.Tenant, Label: f.LabelName, LabelID: f.LabelID,
			Access: string(f.File.Access), Policy: p.p.ID, PolicyName: p.p.Name, Severity: string(a.severity)}
		if data.Label == "" {
			data.Label = f.LabelID
		}
		var b bytes.Buffer
		if a.msg != nil {
			if err := a.msg.Execute(&b, data); err != nil {
				e.log.Warn("policy message template failed", "policy", p.p.ID, "err", err)
			}
			pa.Params.Message = b.String()
		}
		if a.subject != nil {
			b.Reset()
			if err := a.subject.Execute(&b, data); err != nil {
				e.log.Warn("policy subject template failed", "policy", p.p.ID, "err", err)
			}
			pa.Params.Subject = b.String()
		}
	}
	pa.Key = "policy:" + p.p.ID + "|" + f.File.Ref.Key() + "|" + a.kind
	if a.labelID != "" {
		pa.Key += ":" + a.labelID
	}
	return pa, true
}

// MarshalParams encodes an action's params for store.Action.Params.
func (pa PlannedAction) MarshalParams() []byte {
	b, _ := json.Marshal(pa.Params)
	return b
}

func (st *evalState) eval(n *cnode) bool {
	f := st.f
	switch n.kind {
	case kAll:
		for i := range n.kids {
			if !st.eval(&n.kids[i]) || st.err != nil {
				return false
			}
		}
		return true
	case kAny:
		for i := range n.kids {
			if st.eval(&n.kids[i]) {
				return true
			}
			if st.err != nil {
				return false
			}
		}
		return false
	case kNot:
		return !st.eval(&n.kids[0])
	case kApp:
		return inFold(n.strs, string(f.File.Ref.App))
	case kTenant:
		return inFold(n.strs, f.File.Ref.Tenant)
	case kFileType:
		return n.mask&familyOf(f.Ext) != 0 || inFold(n.strs, f.Ext)
	case kName:
		for i := range n.globs {
			if n.globs[i].match(f.File.Name, true) {
				return true
			}
		}
		return false
	case kFolder:
		return n.folder.match(f.File.Path, f.File.Ref.App != connectors.AppFileShare)
	case kOwner:
		if inFold(n.strs, f.File.Owner) {
			return true
		}
		for _, g := range f.File.Groups {
			if inFold(n.groups, g) {
				return true
			}
		}
		for _, p := range n.ous {
			if underPrefix(f.File.OwnerOU, p, true) {
				return true
			}
		}
		return false
	case kAccessIn:
		return n.mask&(1<<f.File.Access.Rank()) != 0 && (f.File.Access != "" || n.mask&1 != 0)
	case kDomain:
		for _, d := range f.File.Domains {
			for _, want := range n.strs {
				if strings.EqualFold(d, want) || (len(d) > len(want) && d[len(d)-len(want)-1] == '.' && strings.EqualFold(d[len(d)-len(want):], want)) {
					return true
				}
			}
		}
		return false
	case kLabelIs, kLabelIsNot:
		is := f.LabelID != "" && (in(n.strs, f.LabelID) || (n.b && f.LabelParent != "" && in(n.strs, f.LabelParent)))
		return is == (n.kind == kLabelIs)
	case kLabelNone:
		return (f.LabelID == "") == n.b
	case kLabelExternal:
		return (f.LabelID != "" && f.LabelExternal) == n.b
	case kProtected:
		return f.Protected == n.b
	case kModified:
		return !f.File.Modified.IsZero() && st.now.Sub(f.File.Modified) <= n.dur
	case kCreated:
		return !f.File.Created.IsZero() && st.now.Sub(f.File.Created) <= n.dur
	case kSize:
		return f.File.Size >= n.lo && f.File.Size <= n.hi
	case kContent:
		if !st.read {
			st.readContent()
		}
		return st.counts != nil && st.counts[n.matcher] >= n.minCount
	}
	return false
}

// readContent inspects the file once for every matcher of the engine, stopping early once
// each has reached the largest count any policy asks of it.
func (st *evalState) readContent() {
	st.read = true
	f := st.f
	if f.Content == nil || content.KindOf(f.File.Name) == content.KindNone {
		return
	}
	st.opened = true
	r, size, err := f.Content(st.ctx)
	if err != nil {
		st.err = fmt.Errorf("policies: open content of %s: %w", f.File.Ref.Key(), err)
		return
	}
	counts, err := content.Count(st.ctx, r, size, f.File.Name, st.e.matchers, st.e.targets, st.e.limits)
	if errors.Is(err, content.ErrBudgetExceeded) && st.ctx.Err() == nil {
		// A file built (or large enough) to exhaust the budget: what was found before the
		// budget ran out is real and counts; the decision says the inspection stopped short.
		st.e.log.Warn("content inspection budget exceeded", "file", f.File.Ref.Key(), "err", err)
		st.cerr = err
		st.counts = counts
		return
	}
	if err != nil {
		st.cerr = err
		// A file whose text cannot be extracted (damaged, encrypted) has no matching content.
		st.e.log.Debug("content inspection failed", "file", f.File.Ref.Key(), "err", err)
		if st.ctx.Err() != nil {
			st.err = st.ctx.Err()
		}
		return
	}
	st.counts = counts
}

func in(set []string, s string) bool {
	for _, v := range set {
		if v == s {
			return true
		}
	}
	return false
}

func inFold(set []string, s string) bool {
	for _, v := range set {
		if v == s || (len(v) == len(s) && strings.EqualFold(v, s)) {
			return true
		}
	}
	return false
}

// underPrefix reports whether path is prefix or inside it, on "/" boundaries.
func underPrefix(path, prefix string, fold bool) bool {
	if prefix == "/" {
		return strings.HasPrefix(path, "/")
	}
	if len(path) < len(prefix) {
		return false
	}
	head := path[:len(prefix)]
	if fold {
		if !strings.EqualFold(head, prefix) {
			return false
		}
	} else if head != prefix {
		return false
	}
	return len(path) == len(prefix) || path[len(prefix)] == '/'
}

func (cf *cfolder) match(path string, fold bool) bool {
	if path == "" {
		path = "/"
	}
	in := len(cf.under) == 0 && len(cf.glob) == 0
	for _, p := range cf.under {
		if in = underPrefix(path, p, fold); in {
			break
		}
	}
	if !in {
		for i := range cf.glob {
			if in = cf.glob[i].match(path, fold); in {
				break
			}
		}
	}
	if !in {
		return false
	}
	for _, p := range cf.exUnder {
		if underPrefix(path, p, fold) {
			return false
		}
	}
	for i := range cf.exGlob {
		if cf.exGlob[i].match(path, fold) {
			return false
		}
	}
	return true
}
