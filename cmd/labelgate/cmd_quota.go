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
	rep, err := labeling.BuildQuotaReport(ctx, st, cfg, st.Now(), *tenant, connectors.App(*app))
	if err != nil {
		fmt.Fprintf(stderr, "labelgate quota: %v\n", err)
		return 1
	}
	return printQuota(stdout, stderr, *out, rep, st.Now())
}

// printQuota prints a quota report, from the local store or the admin API.
func printQuota(stdout, _ io.Writer, out string, rep labeling.QuotaReport, now time.Time) int {
	if out == "json" {
		printJSON(stdout, rep)
		return 0
	}
	fmt.Fprintf(stdout, "window %s, resets %s = %s (in %s)\n", rep.WindowStart.Format(time.RFC3339), rep.ResetsAt.Format(time.RFC3339),
		rep.ResetsAt.Local().Format("15:04 MST"), rep.ResetsAt.Sub(now).Round(time.Minute))
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
