package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/alerts"
	"github.com/labelgate/labelgate/internal/store"
)

const alertsUsage = `usage: labelgate alerts [list] [-state S] [-rule R] [-severity S] [-app A] [-limit N] [-o table|json]
       labelgate alerts ack ID [-by WHO] [-o table|json]
       labelgate alerts resolve ID [-by WHO] [-o table|json]
list shows unresolved alerts (open and acknowledged) newest first; -state open, acknowledged,
resolved or all changes that.`

// alertInbox is the inbox as the CLI uses it: the local store's, or the admin API's.
type alertInbox interface {
	List(ctx context.Context, f alerts.ListFilter) (alerts.Page, error)
	Ack(ctx context.Context, id int64, by string) (store.Alert, error)
	Resolve(ctx context.Context, id int64, by string) (store.Alert, error)
}

// cmdAlerts lists, acknowledges and resolves alerts in the local store's inbox.
func cmdAlerts(ctx context.Context, st *store.Store, args []string, stdout, stderr io.Writer) int {
	return cmdAlertsOn(ctx, alerts.NewInbox(st), args, stdout, stderr)
}

// cmdAlertsOn lists, acknowledges and resolves alerts in inbox.
func cmdAlertsOn(ctx context.Context, inbox alertInbox, args []string, stdout, stderr io.Writer) int {
	sub := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("alerts "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, alertsUsage) }
	out := fs.String("o", "table", "output format: table or json")
	state := fs.String("state", "", "open, acknowledged, resolved, unresolved (default) or all")
	rule := fs.String("rule", "", "only this rule")
	severity := fs.String("severity", "", "only this severity")
	app := fs.String("app", "", "only this app")
	limit := fs.Int("limit", 100, "at most this many alerts")
	by := fs.String("by", "", "who acknowledges or resolves (default $USER)")
	// Flags may come before or after the alert id.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if *out != "table" && *out != "json" {
		fmt.Fprintf(stderr, "labelgate alerts: -o %q: want table or json\n", *out)
		return 2
	}
	switch sub {
	case "list":
		if len(pos) > 0 {
			fmt.Fprintln(stderr, alertsUsage)
			return 2
		}
		page, err := inbox.List(ctx, alerts.ListFilter{State: *state, Rule: *rule, Severity: *severity, App: connectors.App(*app), Limit: *limit})
		if errors.Is(err, alerts.ErrBadRequest) {
			fmt.Fprintf(stderr, "labelgate alerts: %v\n", err)
			return 2
		}
		if err != nil {
			fmt.Fprintf(stderr, "labelgate alerts: %v\n", err)
			return 1
		}
		if *out == "json" {
			printJSON(stdout, page)
			return 0
		}
		if len(page.Items) == 0 {
			fmt.Fprintln(stdout, "no alerts")
			return 0
		}
		printAlerts(stdout, page.Items)
		if page.NextPageToken != "" {
			fmt.Fprintf(stdout, "(more: raise -limit)\n")
		}
		return 0
	case "ack", "resolve":
		if len(pos) != 1 {
			fmt.Fprintln(stderr, alertsUsage)
			return 2
		}
		id, err := strconv.ParseInt(pos[0], 10, 64)
		if err != nil || id <= 0 {
			fmt.Fprintf(stderr, "labelgate alerts %s: %q is not an alert id\n", sub, pos[0])
			return 2
		}
		who := *by
		if who == "" {
			who = os.Getenv("USER")
		}
		if who == "" {
			who = "cli"
		}
		do := inbox.Ack
		if sub == "resolve" {
			do = inbox.Resolve
		}
		a, err := do(ctx, id, who)
		if err != nil {
			fmt.Fprintf(stderr, "labelgate alerts %s: %v\n", sub, err)
			return 1
		}
		if *out == "json" {
			printJSON(stdout, a)
			return 0
		}
		fmt.Fprintf(stdout, "alert %d is %s\n", a.ID, a.State)
		return 0
	}
	fmt.Fprintf(stderr, "labelgate alerts: unknown subcommand %q\n%s\n", sub, alertsUsage)
	return 2
}

func printAlerts(w io.Writer, as []store.Alert) {
	rows := make([][]string, 0, len(as))
	for _, a := range as {
		where := string(a.Ref.App)
		if a.Name != "" {
			where += ":" + strings.TrimSuffix(a.Path, "/") + "/" + a.Name
		} else if a.Ref.Tenant != "" {
			where += "/" + a.Ref.Tenant
		}
		rows = append(rows, []string{strconv.FormatInt(a.ID, 10), a.State, a.Severity, a.Rule, strconv.FormatInt(a.Count, 10),
			localTime(a.LastAt), where, a.Title})
	}
	table(w, "ID\tSTATE\tSEVERITY\tRULE\tCOUNT\tLAST SEEN\tWHERE\tTITLE", rows)
}
