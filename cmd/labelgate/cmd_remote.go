package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/labelgate/labelgate/internal/alerts"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/labeling"
	"github.com/labelgate/labelgate/policies"
	"github.com/labelgate/labelgate/scanqueue"
)

// splitServer takes -server URL (or --server, -server=URL) out of args; without one,
// $LABELGATE_SERVER names the server. ok says a server is named: the store-side commands
// (quota, queue, policy, alerts) then go through its admin API instead of a local store,
// so against a running gateway they show what it sees (issue 23).
func splitServer(args []string) (server string, rest []string, ok bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			rest = append(rest, args[i:]...)
			i = len(args)
		case a == "-server" || a == "--server":
			if i+1 < len(args) {
				server, ok = args[i+1], true
				i++
			}
		case strings.HasPrefix(a, "-server=") || strings.HasPrefix(a, "--server="):
			_, server, _ = strings.Cut(a, "=")
			ok = true
		default:
			rest = append(rest, a)
		}
	}
	if !ok {
		if v := os.Getenv("LABELGATE_SERVER"); v != "" {
			return v, rest, true
		}
	}
	return server, rest, ok
}

// localStoreNote says on stderr which store a command reads when no server is named, so an
// empty answer is not mistaken for the gateway's.
func localStoreNote(stderr io.Writer, st *store.Store) {
	where := "PostgreSQL (store.url)"
	if st.Dialect() != store.Postgres {
		where = "SQLite " + st.Path()
	}
	fmt.Fprintf(stderr, "labelgate: reading the local store, %s; for a running gateway use -server URL or $LABELGATE_SERVER\n", where)
}

// cmdQuotaAPI is `labelgate quota` through the admin API.
func cmdQuotaAPI(ctx context.Context, server string, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("quota", stderr)
	out := fs.String("o", "table", "output format: table or json")
	tenant := fs.String("tenant", "", "only this tenant")
	app := fs.String("app", "", "only this app")
	if _, ok := parseAnywhere(fs, args); !ok {
		return 2
	}
	var v struct {
		Items []labeling.QuotaRow `json:"items"`
	}
	if err := newAPIClient(server).do(ctx, "GET", "/api/v1/quotas", nil, &v); err != nil {
		return apiFail(stderr, err)
	}
	now := time.Now()
	rep := labeling.QuotaReport{WindowStart: store.QuotaWindow(now), ResetsAt: store.NextQuotaReset(now), Rows: []labeling.QuotaRow{}}
	for _, r := range v.Items {
		if (*tenant == "" || r.Tenant == *tenant) && (*app == "" || string(r.App) == *app) {
			rep.Rows = append(rep.Rows, r)
		}
	}
	return printQuota(stdout, stderr, *out, rep, now)
}

// apiQueue is the scan queue through the admin API, for cmdQueue.
type apiQueue struct{ c *apiClient }

func (q apiQueue) Stats(ctx context.Context) (scanqueue.Stats, error) {
	var st scanqueue.Stats
	err := q.c.do(ctx, "GET", "/api/v1/queue/stats", nil, &st)
	return st, err
}

func (q apiQueue) Dead(ctx context.Context, limit int) ([]scanqueue.DeadJob, error) {
	var v struct {
		Items []scanqueue.DeadJob `json:"items"`
	}
	err := q.c.do(ctx, "GET", "/api/v1/queue/dead?limit="+strconv.Itoa(min(max(limit, 1), 1000)), nil, &v)
	return v.Items, err
}

func (q apiQueue) Requeue(ctx context.Context, id int64) error {
	return q.c.do(ctx, "POST", "/api/v1/queue/dead/"+strconv.FormatInt(id, 10)+"/requeue", nil, nil)
}

// apiInbox is the alert inbox through the admin API, for cmdAlertsOn.
type apiInbox struct{ c *apiClient }

func (a apiInbox) List(ctx context.Context, f alerts.ListFilter) (alerts.Page, error) {
	q := url.Values{}
	for k, v := range map[string]string{"state": f.State, "rule": f.Rule, "severity": f.Severity, "app": string(f.App), "pageToken": f.PageToken} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var p alerts.Page
	err := a.c.do(ctx, "GET", "/api/v1/alerts?"+q.Encode(), nil, &p)
	return p, err
}

func (a apiInbox) change(ctx context.Context, verb string, id int64, by string) (store.Alert, error) {
	var al store.Alert
	err := a.c.do(ctx, "POST", "/api/v1/alerts/"+strconv.FormatInt(id, 10)+"/"+verb, map[string]string{"by": by}, &al)
	return al, err
}

func (a apiInbox) Ack(ctx context.Context, id int64, by string) (store.Alert, error) {
	return a.change(ctx, "ack", id, by)
}

func (a apiInbox) Resolve(ctx context.Context, id int64, by string) (store.Alert, error) {
	return a.change(ctx, "resolve", id, by)
}

// cmdPolicyAPI is `labelgate policy` through the admin API.
func cmdPolicyAPI(ctx context.Context, server string, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, policyUsage)
		return 2
	}
	sub := args[0]
	fs := newFlags("policy "+sub, stderr)
	out := fs.String("o", "", "output format: json")
	file := fs.String("f", "", "policy file (apply); - for stdin")
	pos, ok := parseAnywhere(fs, args[1:])
	if !ok {
		return 2
	}
	if *out != "" && *out != "json" {
		fmt.Fprintf(stderr, "policy %s: unknown output format %q (want json)\n", sub, *out)
		return 2
	}
	asJSON := *out == "json"
	c := newAPIClient(server)
	needID := func() (string, bool) {
		if len(pos) != 1 {
			fmt.Fprintf(stderr, "usage: labelgate policy %s ID\n", sub)
			return "", false
		}
		return pos[0], true
	}
	switch sub {
	case "apply":
		if *file == "" || len(pos) != 0 {
			fmt.Fprintln(stderr, "usage: labelgate policy apply -f FILE [-o json]")
			return 2
		}
		var data []byte
		var err error
		if *file == "-" {
			data, err = io.ReadAll(io.LimitReader(os.Stdin, 16<<20))
		} else {
			data, err = os.ReadFile(*file)
		}
		if err != nil {
			return apiFail(stderr, err)
		}
		var res struct {
			Applied []string `json:"applied"`
		}
		if err := c.do(ctx, "POST", "/api/v1/policies", data, &res); err != nil {
			return apiFail(stderr, err)
		}
		if asJSON {
			return policyJSON(stdout, stderr, map[string]any{"applied": res.Applied})
		}
		for _, id := range res.Applied {
			fmt.Fprintf(stdout, "applied %s\n", safe(id))
		}
		return 0
	case "list":
		var v struct {
			Items []store.Policy `json:"items"`
		}
		if err := c.do(ctx, "GET", "/api/v1/policies", nil, &v); err != nil {
			return apiFail(stderr, err)
		}
		if asJSON {
			if v.Items == nil {
				v.Items = []store.Policy{}
			}
			return policyJSON(stdout, stderr, map[string]any{"items": v.Items})
		}
		rows := make([][]string, 0, len(v.Items))
		for _, p := range v.Items {
			rows = append(rows, []string{p.ID, strconv.FormatBool(p.Enabled), p.Severity, p.Category, p.Name})
		}
		table(stdout, "ID\tENABLED\tSEVERITY\tCATEGORY\tNAME", rows)
		return 0
	case "export":
		ids := pos
		if len(ids) == 0 {
			var v struct {
				Items []store.Policy `json:"items"`
			}
			if err := c.do(ctx, "GET", "/api/v1/policies", nil, &v); err != nil {
				return apiFail(stderr, err)
			}
			for _, p := range v.Items {
				ids = append(ids, p.ID)
			}
		}
		for i, id := range ids {
			var raw json.RawMessage
			if asJSON {
				if err := c.do(ctx, "GET", "/api/v1/policies/"+url.PathEscape(id), nil, &raw); err != nil {
					return apiFail(stderr, err)
				}
				fmt.Fprintln(stdout, string(raw))
				continue
			}
			y, err := c.raw(ctx, "GET", "/api/v1/policies/"+url.PathEscape(id)+"?format=yaml")
			if err != nil {
				return apiFail(stderr, err)
			}
			if i > 0 {
				fmt.Fprintln(stdout, "---")
			}
			_, _ = stdout.Write(y)
		}
		return 0
	case "enable", "disable", "delete":
		id, ok := needID()
		if !ok {
			return 2
		}
		var err error
		if sub == "delete" {
			err = c.do(ctx, "DELETE", "/api/v1/policies/"+url.PathEscape(id), nil, nil)
		} else {
			err = c.do(ctx, "POST", "/api/v1/policies/"+url.PathEscape(id)+"/"+sub, nil, nil)
		}
		if err != nil {
			return apiFail(stderr, err)
		}
		if asJSON {
			return policyJSON(stdout, stderr, map[string]any{"id": id, "done": sub})
		}
		fmt.Fprintf(stdout, "%sd %s\n", sub, safe(id))
		return 0
	case "test":
		id, ok := needID()
		if !ok {
			return 2
		}
		var rep policies.WhatIfReport
		if err := c.do(ctx, "GET", "/api/v1/policies/"+url.PathEscape(id)+"/whatif", nil, &rep); err != nil {
			return apiFail(stderr, err)
		}
		if asJSON {
			return policyJSON(stdout, stderr, rep)
		}
		printWhatIf(stdout, rep)
		return 0
	}
	fmt.Fprintf(stderr, "policy: unknown subcommand %q\n%s", sub, policyUsage)
	return 2
}
