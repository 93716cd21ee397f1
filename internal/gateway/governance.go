package gateway

import (
	"context"
	"net/http"
	"strings"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/alerts"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/labeling"
)

// openGovernance builds the executor (label actions as queue jobs) and the alerts engine,
// and adds both to the admin API. Call before the queue starts.
func (g *Gateway) openGovernance() error {
	ex, err := labeling.NewExecutor(labeling.ExecutorConfig{
		Store: g.store,
		Connectors: func(app connectors.App, tenant string) (connectors.Connector, bool) {
			c, ok := g.reg.lookup(app, tenant)
			if !ok {
				return nil, false
			}
			return c.C, true
		},
		Quota:  labeling.QuotaConfig(g.cfg.Quota),
		Logger: g.logger("executor"),
		// Owners whose files no sharing action touches (issue 24).
		ExemptOwners: g.cfg.Sharing.ExemptOwners,
		// Removals written into files take away only the organisation's label (issue 25).
		Codec: labeling.OrgEngine{Tenant: func() string { return g.orgTenant(nil) }},
	})
	if err != nil {
		return err
	}
	disp, err := ex.OnQueue(g.sq)
	if err != nil {
		return err
	}
	g.exec, g.dispatch = ex, disp
	eng, err := alerts.New(g.cfg.Alerts, g.store, alerts.Options{
		Logger: g.logger("alerts"),
		Now:    g.now,
		Holder: g.id,
		DeadLetters: func(ctx context.Context) (int, error) {
			n, err := g.sq.DeadCount(ctx)
			return int(n), err
		},
	})
	if err != nil {
		return err
	}
	g.alerts = eng
	prev := g.adminHooks
	g.adminHooks = func(c *admin.Config) {
		if prev != nil {
			prev(c)
		}
		c.Executor = execAdmin{g}
		c.Quotas = quotaAdmin{g}
		c.Alerts = eng.Inbox().Handler(alerts.HandlerOptions{Actor: func(r *http.Request) string { return "admin" }})
	}
	return nil
}

// execAdmin takes admins' label requests: recorded as actions, then queued at admin priority.
type execAdmin struct{ g *Gateway }

func (e execAdmin) Submit(ctx context.Context, a store.Action) (int64, error) {
	id, _, err := e.g.store.AddAction(ctx, a)
	if err != nil {
		return 0, err
	}
	act, err := e.g.store.GetAction(ctx, id)
	if err != nil {
		return 0, err
	}
	if err := e.g.dispatch.Enqueue(ctx, act); err != nil {
		return 0, err
	}
	return id, nil
}

// quotaAdmin reports quota use per app and tenant.
type quotaAdmin struct{ g *Gateway }

func (q quotaAdmin) Quotas(ctx context.Context) (any, error) {
	rep, err := labeling.BuildQuotaReport(ctx, q.g.store, labeling.QuotaConfig(q.g.cfg.Quota), q.g.now(), "", "")
	return rep.Rows, err
}

// emitOperational records an operational condition in the discovery log, where the alerts
// engine picks it up.
func (g *Gateway) emitOperational(ctx context.Context, kind string, app connectors.App, tenant, detail string) {
	if err := g.store.AddEvent(ctx, store.Event{Kind: kind, App: app, Tenant: tenant, Actor: "gateway", Detail: detail}); err != nil {
		g.log.Error("recording operational event", "kind", kind, "err", err)
	}
}

func isAuthError(err error) bool {
	return connectors.KindOf(err) == connectors.KindPermission || strings.Contains(err.Error(), "oauth2")
}
