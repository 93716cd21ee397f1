package policies

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/policies/content"
)

// ManagerConfig wires a Manager.
type ManagerConfig struct {
	Store *store.Store
	// Catalog returns the label catalog policies are validated against; default: the
	// store's enabled labels of this organisation.
	Catalog func(ctx context.Context) (Catalog, error)
	// Now is the evaluation clock; default time.Now.
	Now func() time.Time
	// Reload bounds how stale the compiled policies may be after changes made around the
	// manager (enable/disable through the store); default 10s.
	Reload time.Duration
	Limits content.Limits
	Logger *slog.Logger
}

// Manager keeps policies in the store, evaluates them for scanned files and records the
// actions they ask for. It implements the gateway's Decider and the admin API's Policies.
type Manager struct {
	cfg    ManagerConfig
	mu     sync.Mutex
	eng    *Engine
	cat    Catalog
	loaded time.Time
}

// NewManager returns a Manager; policies are loaded on first use.
func NewManager(cfg ManagerConfig) *Manager {
	if cfg.Catalog == nil {
		st := cfg.Store
		cfg.Catalog = func(ctx context.Context) (Catalog, error) { return StoreCatalog(ctx, st) }
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Reload <= 0 {
		cfg.Reload = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Manager{cfg: cfg}
}

func (m *Manager) opts() Options {
	return Options{Now: m.cfg.Now, Limits: m.cfg.Limits, Logger: m.cfg.Logger}
}

// Apply validates a YAML or JSON document and stores every policy in it (created or
// replaced), or none when any is invalid. It returns the ids applied.
func (m *Manager) Apply(ctx context.Context, data []byte) ([]string, error) {
	doc, err := Parse(data)
	if err != nil {
		return nil, err
	}
	if len(doc.Policies) == 0 {
		return nil, Errors{{Field: "policies", Msg: "no policies in the document"}}
	}
	cat, err := m.cfg.Catalog(ctx)
	if err != nil {
		return nil, fmt.Errorf("policies: load label catalog: %w", err)
	}
	if _, err := Compile(doc.Policies, cat, m.opts()); err != nil {
		return nil, err
	}
	// The store writes one policy per transaction, so a failure half-way puts back what was
	// there before: all or nothing.
	type prev struct {
		p      store.Policy
		existe bool
	}
	var done []prev
	undo := func() {
		for i := len(done) - 1; i >= 0; i-- {
			var err error
			if done[i].existe {
				err = m.cfg.Store.PutPolicy(ctx, done[i].p)
			} else {
				err = m.cfg.Store.DeletePolicy(ctx, done[i].p.ID)
			}
			if err != nil {
				m.cfg.Logger.Error("policies: undo a partial apply", "policy", done[i].p.ID, "err", err)
			}
		}
	}
	ids := make([]string, 0, len(doc.Policies))
	for _, p := range doc.Policies {
		old, err := m.cfg.Store.GetPolicy(ctx, p.ID)
		existed := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			undo()
			return nil, err
		}
		if !existed {
			old = store.Policy{ID: p.ID}
		}
		b, err := encodeDoc(p)
		if err != nil {
			undo()
			return nil, err
		}
		sp := store.Policy{ID: p.ID, Name: p.Name, Enabled: p.IsEnabled(), Severity: string(p.Severity), Category: p.Category, Doc: b}
		if err := m.cfg.Store.PutPolicy(ctx, sp); err != nil {
			undo()
			return nil, fmt.Errorf("policies: store %s: %w", p.ID, err)
		}
		done = append(done, prev{old, existed})
		ids = append(ids, p.ID)
	}
	m.invalidate()
	m.cfg.Logger.Info("policies applied", "ids", ids)
	return ids, nil
}

// SetEnabled enables or disables a policy; the store suspends or resumes its pending actions.
func (m *Manager) SetEnabled(ctx context.Context, id string, enabled bool) error {
	defer m.invalidate()
	return m.cfg.Store.SetPolicyEnabled(ctx, id, enabled)
}

// Delete removes a policy; the store cancels its unfinished actions.
func (m *Manager) Delete(ctx context.Context, id string) error {
	defer m.invalidate()
	return m.cfg.Store.DeletePolicy(ctx, id)
}

func (m *Manager) invalidate() {
	m.mu.Lock()
	m.eng = nil
	m.mu.Unlock()
}

// Load returns the stored policies, with the store's enabled flag.
func (m *Manager) Load(ctx context.Context) ([]Policy, error) {
	rows, err := m.cfg.Store.ListPolicies(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Policy, 0, len(rows))
	for _, r := range rows {
		p, err := decodeDoc(r.Doc)
		if err != nil {
			return nil, fmt.Errorf("policies: stored policy %s: %w", r.ID, err)
		}
		enabled := r.Enabled
		p.Enabled = &enabled
		out = append(out, p)
	}
	return out, nil
}

// Engine returns the compiled stored policies, recompiled after changes or when older than
// the Reload interval. A stored policy that no longer compiles (a label deleted from the
// catalog) is left out and logged, so one stale policy does not stop the others.
func (m *Manager) Engine(ctx context.Context) (*Engine, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.eng != nil && m.cfg.Now().Sub(m.loaded) < m.cfg.Reload {
		return m.eng, nil
	}
	ps, err := m.Load(ctx)
	if err != nil {
		return nil, err
	}
	cat, err := m.cfg.Catalog(ctx)
	if err != nil {
		return nil, fmt.Errorf("policies: load label catalog: %w", err)
	}
	var ok []Policy
	for _, p := range ps {
		if _, err := Compile([]Policy{p}, cat, m.opts()); err != nil {
			m.cfg.Logger.Error("policies: stored policy no longer valid; skipped", "policy", p.ID, "err", err)
			continue
		}
		ok = append(ok, p)
	}
	eng, err := Compile(ok, cat, m.opts())
	if err != nil {
		return nil, err
	}
	m.eng, m.cat, m.loaded = eng, cat, m.cfg.Now()
	return eng, nil
}

// Export returns stored policies as a YAML document (all of them when no id is given).
func (m *Manager) Export(ctx context.Context, ids ...string) ([]byte, error) {
	doc, err := m.ExportDoc(ctx, ids...)
	if err != nil {
		return nil, err
	}
	return MarshalYAML(doc)
}

// ExportDoc returns stored policies as a Document.
func (m *Manager) ExportDoc(ctx context.Context, ids ...string) (Document, error) {
	var doc Document
	if len(ids) == 0 {
		ps, err := m.Load(ctx)
		doc.Policies = ps
		return doc, err
	}
	for _, id := range ids {
		r, err := m.cfg.Store.GetPolicy(ctx, id)
		if err != nil {
			return doc, err
		}
		p, err := decodeDoc(r.Doc)
		if err != nil {
			return doc, fmt.Errorf("policies: stored policy %s: %w", id, err)
		}
		enabled := r.Enabled
		p.Enabled = &enabled
		doc.Policies = append(doc.Policies, p)
	}
	return doc, nil
}

// Decide evaluates the enabled policies for a freshly scanned file and records the actions
// they ask for. content is opened only if a content condition is reached.
func (m *Manager) Decide(ctx context.Context, rec store.FileRecord, src ContentSource) error {
	eng, err := m.Engine(ctx)
	if err != nil {
		return err
	}
	m.mu.Lock()
	cat := m.cat
	m.mu.Unlock()
	f := FactsFromRecord(rec, cat)
	f.Content = src
	d, err := eng.Evaluate(ctx, &f)
	if err != nil {
		return err
	}
	_, err = m.Record(ctx, d)
	return err
}

// Record stores a decision's actions; an action whose key already has an unfinished action
// is not added again. It returns how many were created.
func (m *Manager) Record(ctx context.Context, d Decision) (int, error) {
	created := 0
	for _, a := range d.Actions {
		_, ok, err := m.cfg.Store.AddAction(ctx, store.Action{Key: a.Key, PolicyID: a.PolicyID, Kind: a.Kind, Ref: a.Ref,
			LabelID: a.LabelID, Params: a.MarshalParams(), RequestedBy: "policy:" + a.PolicyID})
		if err != nil {
			return created, fmt.Errorf("policies: record action %s: %w", a.Key, err)
		}
		if ok {
			created++
		}
	}
	return created, nil
}

// WhatIfReport says what a policy would do over the current inventory.
type WhatIfReport struct {
	PolicyID string           `json:"policyId"`
	Enabled  bool             `json:"enabled"`
	Files    int64            `json:"files"`   // inventory files evaluated
	Matched  int64            `json:"matched"` // files the filter matches
	Touched  int64            `json:"touched"` // files that would get at least one action
	Actions  map[string]int64 `json:"actions"` // by kind
	// ContentConditions is true when the policy inspects content: what-if never reads
	// files, so those conditions count as not matching and the figures are a lower bound.
	ContentConditions bool            `json:"contentConditions,omitempty"`
	Samples           []PlannedAction `json:"samples,omitempty"` // the first few actions
	Elapsed           time.Duration   `json:"elapsedNs"`
}

// WhatIf evaluates one stored policy (enabled or not) over the whole inventory and reports
// what it would do, recording nothing.
func (m *Manager) WhatIf(ctx context.Context, id string) (any, error) {
	return m.WhatIfReport(ctx, id)
}

// WhatIfReport is WhatIf with its concrete type.
func (m *Manager) WhatIfReport(ctx context.Context, id string) (WhatIfReport, error) {
	start := time.Now()
	rep := WhatIfReport{PolicyID: id, Actions: map[string]int64{}}
	row, err := m.cfg.Store.GetPolicy(ctx, id)
	if err != nil {
		return rep, err
	}
	p, err := decodeDoc(row.Doc)
	if err != nil {
		return rep, fmt.Errorf("policies: stored policy %s: %w", id, err)
	}
	rep.Enabled = row.Enabled
	cat, err := m.cfg.Catalog(ctx)
	if err != nil {
		return rep, fmt.Errorf("policies: load label catalog: %w", err)
	}
	eng, err := Compile([]Policy{p}, cat, m.opts())
	if err != nil {
		return rep, err
	}
	rep.ContentConditions = len(eng.matchers) > 0
	err = m.cfg.Store.EachFile(ctx, store.FileFilter{}, func(r store.FileRecord) error {
		f := FactsFromRecord(r, cat)
		d, err := eng.EvaluatePolicy(ctx, &f, id)
		if err != nil {
			return err
		}
		rep.Files++
		if len(d.Matched) > 0 {
			rep.Matched++
		}
		if len(d.Actions) > 0 {
			rep.Touched++
		}
		for _, a := range d.Actions {
			rep.Actions[a.Kind]++
			if len(rep.Samples) < 20 {
				rep.Samples = append(rep.Samples, a)
			}
		}
		return nil
	})
	rep.Elapsed = time.Since(start)
	return rep, err
}

// SortedKinds lists a report's action kinds in order, for printing.
func (r WhatIfReport) SortedKinds() []string {
	ks := make([]string, 0, len(r.Actions))
	for k := range r.Actions {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
