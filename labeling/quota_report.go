package labeling

import (
	"context"
	"time"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
)

// QuotaRow is one allowance of one app in one tenant.
type QuotaRow struct {
	Tenant    string         `json:"tenant"`
	App       connectors.App `json:"app"`
	Allowance string         `json:"allowance"`
	Limit     int            `json:"limit"` // -1: unlimited
	Used      int64          `json:"used"`
	Remaining int64          `json:"remaining"` // -1: unlimited
	Paused    int64          `json:"paused"`    // actions waiting for the reset
}

// QuotaReport is quota use in the current window, for `labelgate quota`, the API and the console.
type QuotaReport struct {
	WindowStart time.Time  `json:"windowStart"`
	ResetsAt    time.Time  `json:"resetsAt"`
	Rows        []QuotaRow `json:"rows"`
}

// BuildQuotaReport reports use of every app and tenant's allowances at now; tenant and app
// filter when set.
func BuildQuotaReport(ctx context.Context, st *store.Store, cfg QuotaConfig, now time.Time, tenant string, app connectors.App) (QuotaReport, error) {
	rep := QuotaReport{WindowStart: store.QuotaWindow(now), ResetsAt: store.NextQuotaReset(now), Rows: []QuotaRow{}}
	scopes, err := st.QuotaScopes(ctx, rep.WindowStart)
	if err != nil {
		return rep, err
	}
	usage, err := st.ListQuotaUsage(ctx, rep.WindowStart)
	if err != nil {
		return rep, err
	}
	used := make(map[string]int64, len(usage))
	for _, u := range usage {
		used[string(u.App)+"/"+u.Tenant+"/"+u.Allowance] = u.Used
	}
	paused, err := st.PausedActions(ctx)
	if err != nil {
		return rep, err
	}
	for _, sc := range scopes {
		if (tenant != "" && sc.Tenant != tenant) || (app != "" && sc.App != app) {
			continue
		}
		for _, allowance := range append([]string{store.AllowanceAuto, store.AllowanceManual}, store.SharingKinds[:]...) {
			key := string(sc.App) + "/" + sc.Tenant + "/" + allowance
			if store.SharingKind(allowance) && used[key] == 0 && paused[key] == 0 {
				// A sharing allowance is reported once used in the window, so tenants that
				// write no sharing policy see only their label rows.
				continue
			}
			r := QuotaRow{Tenant: sc.Tenant, App: sc.App, Allowance: allowance, Used: used[key], Paused: paused[key],
				Limit: cfg.LimitOf(allowance, string(sc.App), sc.Tenant, allowance == store.AllowanceManual), Remaining: -1}
			if r.Limit >= 0 {
				r.Remaining = max(int64(r.Limit)-r.Used, 0)
			}
			rep.Rows = append(rep.Rows, r)
		}
	}
	return rep, nil
}
