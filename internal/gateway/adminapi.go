package gateway

import (
	"context"
	"fmt"
	"net/http"

	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/console"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/policies"
)

// rescanAdmin exposes rescans to the admin API.
type rescanAdmin struct{ g *Gateway }

func (r rescanAdmin) Start(ctx context.Context, connector, scope string, force bool) (int64, error) {
	if !force {
		// One walk at a time: an unforced rescan already running over the same ground (the
		// baseline's, another admin's) is the one asked for (issue 21: the first full rescan
		// and the gateway's own baseline walked every drive twice).
		if res, ok, err := r.g.runningRescan(ctx, connector, scope); err != nil || ok {
			return res.ID, err
		}
	}
	res, err := r.g.StartRescan(ctx, connector, scope, force)
	if err != nil {
		if _, ok := r.g.reg.byName[connector]; !ok {
			return 0, fmt.Errorf("connector %q: %w", connector, store.ErrNotFound)
		}
		return 0, err
	}
	return res.ID, nil
}

// rescanStatus is a rescan with what followed its walk, so a watcher sees scanning and
// labelling progress, not just enumeration.
type rescanStatus struct {
	store.Rescan
	store.RescanOutcome
	Provider *RescanCalls `json:"provider,omitempty"`
}

func (r rescanAdmin) Get(ctx context.Context, id int64) (any, error) {
	res, err := r.g.store.GetRescan(ctx, id)
	if err != nil {
		return nil, err
	}
	out, err := r.g.store.RescanOutcome(ctx, res)
	return rescanStatus{res, out, r.g.rescanCalls(res)}, err
}

func (r rescanAdmin) List(ctx context.Context) (any, error) {
	rs, err := r.g.store.ListRescans(ctx, false, 100)
	if rs == nil {
		rs = []store.Rescan{}
	}
	return rs, err
}

func (r rescanAdmin) Cancel(ctx context.Context, id int64) error { return r.g.CancelRescan(ctx, id) }

type catalogAdmin struct{ g *Gateway }

func (c catalogAdmin) Sync(ctx context.Context) (any, error) {
	res, err := c.g.SyncCatalog(ctx)
	if err != nil {
		return map[string]any{"connectors": res, "error": err.Error()}, nil
	}
	return map[string]any{"connectors": res}, nil
}

// policyAdmin exposes the policies manager to the admin API.
type policyAdmin struct{ m *policies.Manager }

func (p policyAdmin) Apply(ctx context.Context, doc []byte) ([]string, error) {
	return p.m.Apply(ctx, doc)
}
func (p policyAdmin) Export(ctx context.Context, id string) ([]byte, error) {
	return p.m.Export(ctx, id)
}
func (p policyAdmin) WhatIf(ctx context.Context, id string) (any, error) { return p.m.WhatIf(ctx, id) }

// adminHandler builds the admin API over this gateway.
func (g *Gateway) adminHandler() (http.Handler, error) {
	var toks []admin.Token
	for i, t := range g.cfg.Admin.Tokens {
		role := admin.ParseRole(t.Role)
		if t.Token != "" {
			toks = append(toks, admin.NewToken(t.Name, role, t.Token))
			continue
		}
		tok, ok := admin.NewHashedToken(t.Name, role, t.SHA256)
		if !ok {
			return nil, fmt.Errorf("admin.tokens[%d].sha256: must be 64 hex digits", i)
		}
		toks = append(toks, tok)
	}
	limiter := admin.NewAuthLimiter() // one budget of failed tokens for the API and the console
	cfg := admin.Config{
		Store:          g.store,
		Tokens:         toks,
		Limiter:        limiter,
		Rescans:        rescanAdmin{g},
		Catalog:        catalogAdmin{g},
		Policies:       policyAdmin{g.policies},
		Sharing:        sharingAdmin{g},
		Protection:     g.cfg.Labels.Protection,
		Logger:         g.logger("admin"),
		OnlyThisTenant: g.cfg.Labels.OnlyThisTenant,
	}
	if g.adminHooks != nil {
		g.adminHooks(&cfg)
	}
	con, err := console.New(console.Config{Store: g.store, Tokens: toks, Executor: cfg.Executor, Queue: cfg.Queue,
		Policies: cfg.Policies, Quotas: cfg.Quotas, Logger: g.logger("console"), Now: g.now,
		SecureCookies: g.cfg.Admin.CookiesSecure(), Limiter: limiter, Rescans: rescanAdmin{g},
		SensitivePriority: &g.cfg.Console.SensitivePriority, Sharing: cfg.Sharing, Protection: cfg.Protection})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", admin.New(cfg))
	mux.Handle("/console/", con)
	mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusFound))
	return admin.NoSniff(admin.Recover(g.logger("admin"), mux)), nil
}
