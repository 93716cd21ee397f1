package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/labeling"
)

// quotaRow is one allowance of one app in one tenant, as `labelgate quota` reports it.
type quotaRow struct {
	Tenant    string         `json:"tenant"`
	App       connectors.App `json:"app"`
	Allowance string         `json:"allowance"`
	Limit     int            `json:"limit"` // -1: unlimited
	Used      int64          `json:"used"`
	Remaining int64          `json:"remaining"` // -1: unlimited
	Paused    int64          `json:"paused"`    // actions waiting for the reset
}

type quotaReport struct {
	WindowStart time.Time  `json:"windowStart"`
	ResetsAt    time.Time  `json:"resetsAt"`
	Rows        []quotaRow `json:"rows"`
}

// cmdQuota prints the daily label-write quota of every app and tenant: used, remaining, the
// actions paused until the reset, and when the window resets (12:00 UTC).
func cmdQuota(ctx context.Context, st *store.Store, cfg labeling.QuotaConfig, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("quota", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "table", "output format: table or json")
	tenant := fs.String("tenant", "", "only this tenant")
	app := fs.String("app", "", "only this app")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out != "table" && *out != "json" {
		fmt.Fprintf(stderr, "labelgate quota: -o %q: want table or json\n", *out)
		return 2
	}
	rep, err := buildQuotaReport(ctx, st, cfg, *tenant, connectors.App(*app))
	if err != nil {
		fmt.Fprintf(stderr, "labelgate quota: %v\n", err)
		return 1
	}
	if *out == "json" {
		printJSON(stdout, rep)
		return 0
	}
	now := st.Now()
	fmt.Fprintf(stdout, "window %s, resets %s (in %s)\n", rep.WindowStart.Format(time.RFC3339), rep.ResetsAt.Format(time.RFC3339),
		rep.ResetsAt.Sub(now).Round(time.Minute))
	if len(rep.Rows) == 0 {
		fmt.Fprintln(stdout, "no apps or tenants with label actions yet")
		return 0
	}
	rows := make([][]string, 0, len(rep.Rows))
	for _, r := range rep.Rows {
		limit, remaining := strconv.Itoa(r.Limit), strconv.FormatInt(r.Remaining, 10)
		if r.Limit < 0 {
			limit, remaining = "unlimited", "unlimited"
		}
		rows = append(rows, []string{r.Tenant, string(r.App), r.Allowance, limit, strconv.FormatInt(r.Used, 10), remaining,
			strconv.FormatInt(r.Paused, 10)})
	}
	table(stdout, "TENANT\tAPP\tALLOWANCE\tLIMIT\tUSED\tREMAINING\tPAUSED", rows)
	return 0
}

func buildQuotaReport(ctx context.Context, st *store.Store, cfg labeling.QuotaConfig, tenant string, app connectors.App) (quotaReport, error) {
	now := st.Now()
	rep := quotaReport{WindowStart: store.QuotaWindow(now), ResetsAt: store.NextQuotaReset(now), Rows: []quotaRow{}}
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
		for _, allowance := range []string{store.AllowanceAuto, store.AllowanceManual} {
			key := string(sc.App) + "/" + sc.Tenant + "/" + allowance
			r := quotaRow{Tenant: sc.Tenant, App: sc.App, Allowance: allowance, Used: used[key], Paused: paused[key],
				Limit: cfg.Limit(string(sc.App), sc.Tenant, allowance == store.AllowanceManual), Remaining: -1}
			if r.Limit >= 0 {
				r.Remaining = max(int64(r.Limit)-r.Used, 0)
			}
			rep.Rows = append(rep.Rows, r)
		}
	}
	return rep, nil
}
