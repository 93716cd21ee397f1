package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// apiClient calls the admin API for the CLI subcommands.
type apiClient struct {
	server string
	token  string
	http   *http.Client
}

// apiFlags adds the flags every API subcommand shares.
func apiFlags(fs *flag.FlagSet) (*string, *string) {
	server := fs.String("server", envOr("LABELGATE_SERVER", "http://127.0.0.1:8081"), "admin API base URL ($LABELGATE_SERVER)")
	out := fs.String("o", "table", "output: table or json")
	return server, out
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func newAPIClient(server string) *apiClient {
	return &apiClient{server: strings.TrimRight(server, "/"), token: os.Getenv("LABELGATE_TOKEN"), http: &http.Client{Timeout: 60 * time.Second}}
}

// apiError is an error answer from the server.
type apiError struct {
	Status int
	Msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("server answered %d: %s", e.Status, e.Msg) }

func (c *apiClient) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		if raw, ok := body.([]byte); ok {
			rd = bytes.NewReader(raw)
		} else {
			b, err := json.Marshal(body)
			if err != nil {
				return err
			}
			rd = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, rd)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach %s: %w", c.server, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		if json.Unmarshal(raw, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(raw))
		}
		if resp.StatusCode == http.StatusUnauthorized && c.token == "" {
			e.Error += " (set LABELGATE_TOKEN)"
		}
		return &apiError{Status: resp.StatusCode, Msg: e.Error}
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("unexpected answer from server: %w", err)
		}
	}
	return nil
}

// raw is a GET whose answer is not JSON (a policy as YAML).
func (c *apiClient) raw(ctx context.Context, method, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, nil)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %w", c.server, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(b))
		}
		return nil, &apiError{Status: resp.StatusCode, Msg: e.Error}
	}
	return b, nil
}

// newFlags is a flag set that reports to stderr.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseAnywhere parses flags before, between and after the positional arguments (the
// README writes "label apply ID LABEL -justification …" and "rescan NAME -wait");
// everything after "--" is positional.
func parseAnywhere(fs *flag.FlagSet, args []string) ([]string, bool) {
	var pos, tail []string
	for i, a := range args {
		if a == "--" {
			args, tail = args[:i], args[i+1:]
			break
		}
	}
	for {
		if err := fs.Parse(args); err != nil {
			return nil, false
		}
		if fs.NArg() == 0 {
			break
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	return append(pos, tail...), true
}

// printJSON writes v indented.
func printJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func table(w io.Writer, header string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		// Cells are escaped here, once, so no table can print a provider's string raw.
		fmt.Fprintln(tw, strings.Join(safeAll(r), "\t"))
	}
	tw.Flush()
}

func apiFail(stderr io.Writer, err error) int {
	// Server messages may quote a file name or label: escaped like any table cell.
	fmt.Fprintf(stderr, "labelgate: %s\n", safe(err.Error()))
	return 1
}

type apiFile struct {
	ID            string                                      `json:"id"`
	Handle        string                                      `json:"handle"`
	Ref           struct{ App, Tenant, Drive, ItemID string } `json:"ref"`
	Path          string                                      `json:"path"`
	Name          string                                      `json:"name"`
	Size          int64                                       `json:"size"`
	Owner         string                                      `json:"owner"`
	Access        string                                      `json:"access"`
	Type          string                                      `json:"type"`
	LabelID       string                                      `json:"labelId"`
	LabelExternal bool                                        `json:"labelExternal"`
	Protected     bool                                        `json:"protected"`
	Modified      time.Time                                   `json:"modified"`
	ScanError     string                                      `json:"scanError"`
}

func cmdFiles(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("files", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server, out := apiFlags(fs)
	q := url.Values{}
	for _, name := range []string{"app", "tenant", "label", "access", "owner", "path-prefix", "modified-since"} {
		name := name
		fs.Func(name, "filter by "+name, func(v string) error {
			key := map[string]string{"path-prefix": "pathPrefix", "modified-since": "modifiedSince"}[name]
			if key == "" {
				key = name
			}
			q.Set(key, v)
			return nil
		})
	}
	noLabel := fs.Bool("no-label", false, "only unlabelled files")
	external := fs.Bool("external", false, "only files labelled by another tenant")
	protected := fs.Bool("protected", false, "only protected files")
	limit := fs.Int("limit", 100, "files per page")
	all := fs.Bool("all", false, "fetch every page")
	if pos, ok := parseAnywhere(fs, args); !ok {
		return 2
	} else if len(pos) > 0 {
		fmt.Fprintf(stderr, "labelgate files: unexpected %q (filters are flags, e.g. -label NAME)\n", pos[0])
		return 2
	}
	for k, v := range map[string]bool{"noLabel": *noLabel, "external": *external, "protected": *protected} {
		if v {
			q.Set(k, "true")
		}
	}
	if err := errorsJoin(checkEnum("app", q.Get("app"), appValues, false), checkEnum("access", q.Get("access"), accessValues, false)); err != nil {
		fmt.Fprintf(stderr, "labelgate files: %v\n", err)
		return 2
	}
	q.Set("limit", fmt.Sprint(*limit))
	c := newAPIClient(*server)
	res := &labelResolver{c: c}
	if l := q.Get("label"); l != "" {
		id, err := res.resolve(ctx, l)
		if err != nil {
			return apiFail(stderr, err)
		}
		q.Set("label", id)
	}
	more := false
	var files []apiFile
	for {
		var page struct {
			Items []apiFile `json:"items"`
			Next  string    `json:"nextPageToken"`
		}
		if err := c.do(ctx, "GET", "/api/v1/files?"+q.Encode(), nil, &page); err != nil {
			return apiFail(stderr, err)
		}
		files = append(files, page.Items...)
		if !*all || page.Next == "" {
			more = page.Next != ""
			break
		}
		q.Set("pageToken", page.Next)
	}
	if *out == "json" {
		for _, f := range files {
			b, _ := json.Marshal(f)
			fmt.Fprintln(stdout, string(b))
		}
		return 0
	}
	names := res.names(ctx)
	rows := make([][]string, len(files))
	for i, f := range files {
		label := labelShown(names, f.LabelID, f.LabelExternal)
		flags := ""
		if f.Protected {
			flags = "protected"
		}
		if f.ScanError != "" {
			flags = "error: " + f.ScanError
		}
		id := f.Handle // short and stable; the full id works too (-o json shows both)
		if id == "" {
			id = f.ID
		}
		rows[i] = []string{f.Ref.App, strings.TrimSuffix(f.Path, "/") + "/" + f.Name, label, f.Access, f.Owner, flags, id}
	}
	table(stdout, "APP\tFILE\tLABEL\tACCESS\tOWNER\tNOTE\tHANDLE", rows)
	countLine(stdout, len(files), "file", more, "-all, or -limit up to 1000")
	return 0
}

// countLine says how many rows a list showed and how to see the rest.
func countLine(w io.Writer, n int, noun string, more bool, how string) {
	s := "s"
	if n == 1 {
		s = ""
	}
	if more {
		fmt.Fprintf(w, "%d %s%s shown; there are more (%s)\n", n, noun, s, how)
		return
	}
	fmt.Fprintf(w, "%d %s%s\n", n, noun, s)
}

// labelShown is a label as people read it: its catalog name, "external:" for another
// tenant's, the id when the catalog does not know it.
func labelShown(names map[string]string, id string, external bool) string {
	if id == "" {
		return "-"
	}
	n := names[strings.ToLower(id)]
	if n == "" {
		n = id
	}
	if external && !strings.HasPrefix(n, "external:") {
		n = "external:" + n
	}
	return n
}

func errorsJoin(errs ...error) error { return errors.Join(errs...) }

func cmdFile(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("file", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server, out := apiFlags(fs)
	pos, ok := parseAnywhere(fs, args)
	if !ok {
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: labelgate file [-o json] FILE-ID")
		return 2
	}
	var v struct {
		File    apiFile           `json:"file"`
		History []json.RawMessage `json:"history"`
		Actions []json.RawMessage `json:"actions"`
	}
	c := newAPIClient(*server)
	if err := c.do(ctx, "GET", "/api/v1/files/"+url.PathEscape(pos[0]), nil, &v); err != nil {
		return apiFail(stderr, err)
	}
	if *out == "json" {
		printJSON(stdout, v)
		return 0
	}
	f := v.File
	names := (&labelResolver{c: c}).names(ctx)
	fmt.Fprintf(stdout, "%s/%s\n  app %s, tenant %s, drive %s\n  label %s (%s) external=%v protected=%v\n  access %s, owner %s\n",
		safe(strings.TrimSuffix(f.Path, "/")), safe(f.Name), safe(string(f.Ref.App)), safe(f.Ref.Tenant), safe(f.Ref.Drive),
		safe(labelShown(names, f.LabelID, f.LabelExternal)), safe(f.LabelID), f.LabelExternal, f.Protected, safe(f.Access), safe(f.Owner))
	fmt.Fprintf(stdout, "history:\n")
	for _, h := range v.History {
		var e struct {
			At                    time.Time
			Kind, LabelID, Detail string
			Actor                 string
		}
		_ = json.Unmarshal(h, &e)
		fmt.Fprintf(stdout, "  %s  %-16s %s %s %s\n", e.At.Format(time.RFC3339), safe(e.Kind), safe(e.LabelID), safe(e.Actor), safe(e.Detail))
	}
	return 0
}

func cmdLabel(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	usage := "usage: labelgate label apply FILE-ID LABEL-ID [-justification TEXT] | labelgate label remove FILE-ID [-justification TEXT]"
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("label", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server, out := apiFlags(fs)
	just := fs.String("justification", "", "why (required by some providers to remove or downgrade)")
	pos, ok := parseAnywhere(fs, args[1:])
	if !ok {
		return 2
	}
	c := newAPIClient(*server)
	var res struct {
		ActionID int64 `json:"actionId"`
	}
	var err error
	switch {
	case args[0] == "apply" && len(pos) == 2:
		// A name ("Confidential", "Highly Confidential/Finance") or an id.
		labelID, rerr := (&labelResolver{c: c}).resolve(ctx, pos[1])
		if rerr != nil {
			return apiFail(stderr, rerr)
		}
		err = c.do(ctx, "POST", "/api/v1/files/"+url.PathEscape(pos[0])+"/label", map[string]string{"labelId": labelID, "justification": *just}, &res)
	case args[0] == "remove" && len(pos) == 1:
		var body any
		if *just != "" {
			body = map[string]string{"justification": *just}
		}
		err = c.do(ctx, "DELETE", "/api/v1/files/"+url.PathEscape(pos[0])+"/label", body, &res)
	default:
		fmt.Fprintln(stderr, usage)
		return 2
	}
	if err != nil {
		return apiFail(stderr, err)
	}
	if *out == "json" {
		printJSON(stdout, res)
	} else {
		fmt.Fprintf(stdout, "action %d queued (see: labelgate actions)\n", res.ActionID)
	}
	return 0
}

type apiAction struct {
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"`
	State     string    `json:"state"`
	LabelID   string    `json:"labelId"`
	PolicyID  string    `json:"policyId"`
	Reason    string    `json:"reason"`
	By        string    `json:"requestedBy"`
	CreatedAt time.Time `json:"createdAt"`
	Ref       struct{ App, Tenant, Drive, ItemID string }
}

func cmdActions(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("actions", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server, out := apiFlags(fs)
	state := fs.String("state", "", "comma-separated states: "+strings.Join(stateValues, ", "))
	policy := fs.String("policy", "", "policy id")
	limit := fs.Int("limit", 100, "show the newest N")
	all := fs.Bool("all", false, "show every action")
	pos, ok := parseAnywhere(fs, args)
	if !ok {
		return 2
	}
	c := newAPIClient(*server)
	if len(pos) == 2 && pos[0] == "cancel" {
		var a json.RawMessage
		if err := c.do(ctx, "POST", "/api/v1/actions/"+url.PathEscape(pos[1])+"/cancel", nil, &a); err != nil {
			return apiFail(stderr, err)
		}
		fmt.Fprintf(stdout, "action %s canceled\n", safe(pos[1]))
		return 0
	}
	if len(pos) == 2 && pos[0] == "undo" {
		return actionsUndo(ctx, c, pos[1], *out, stdout, stderr)
	}
	if len(pos) != 0 {
		fmt.Fprintln(stderr, "usage: labelgate actions [-state S] [-policy ID] [-limit N | -all] | actions cancel ID | actions undo ID")
		return 2
	}
	if err := checkEnum("state", *state, stateValues, true); err != nil {
		fmt.Fprintf(stderr, "labelgate actions: %v\n", err)
		return 2
	}
	// The API lists oldest first from a cursor: read every page and keep the newest, so
	// an action just queued is always in the list.
	q := url.Values{"state": {*state}, "policy": {*policy}, "limit": {"1000"}}
	var acts []apiAction
	total := 0
	for {
		var v struct {
			Items []apiAction `json:"items"`
		}
		if err := c.do(ctx, "GET", "/api/v1/actions?"+q.Encode(), nil, &v); err != nil {
			return apiFail(stderr, err)
		}
		total += len(v.Items)
		acts = append(acts, v.Items...)
		if !*all && len(acts) > *limit {
			acts = acts[len(acts)-*limit:]
		}
		if len(v.Items) < 1000 {
			break
		}
		q.Set("after", strconv.FormatInt(v.Items[len(v.Items)-1].ID, 10))
	}
	slices.Reverse(acts)
	if *out == "json" {
		printJSON(stdout, acts)
		return 0
	}
	names := (&labelResolver{c: c}).names(ctx)
	var rows [][]string
	for _, a := range acts {
		by := a.PolicyID
		if by == "" {
			by = a.By
		}
		rows = append(rows, []string{fmt.Sprint(a.ID), localTime(a.CreatedAt), a.Kind, a.State, labelShown(names, a.LabelID, false), a.Ref.App, a.Ref.ItemID, by, a.Reason})
	}
	table(stdout, "ID\tCREATED\tKIND\tSTATE\tLABEL\tAPP\tITEM\tBY\tREASON", rows)
	if len(acts) < total {
		fmt.Fprintf(stdout, "newest %d of %d actions shown (-all for every one, -state to filter)\n", len(acts), total)
	} else {
		countLine(stdout, len(acts), "action", false, "")
	}
	return 0
}

// actionsUndo is `labelgate actions undo ID`: the server queues a restore_sharing action
// granting again what sharing action ID removed (issue 24).
func actionsUndo(ctx context.Context, c *apiClient, id, out string, stdout, stderr io.Writer) int {
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		fmt.Fprintf(stderr, "labelgate actions undo: %q is not an action id (a number; see labelgate actions)\n", id)
		return 2
	}
	var res struct {
		ActionID int64 `json:"actionId"`
		Undoes   int64 `json:"undoes"`
	}
	if err := c.do(ctx, "POST", "/api/v1/actions/"+url.PathEscape(id)+"/undo", nil, &res); err != nil {
		return apiFail(stderr, err)
	}
	if out == "json" {
		printJSON(stdout, res)
		return 0
	}
	fmt.Fprintf(stdout, "action %d queued to undo action %d (see: labelgate actions; the file's grants are restored as the provider allows, and a recreated link gets a new URL)\n",
		res.ActionID, res.Undoes)
	return 0
}

// localTime shows a time in the local zone with the zone named.
func localTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05 MST")
}

type apiRescan struct {
	ID         int64     `json:"id"`
	Connector  string    `json:"connector"`
	State      string    `json:"state"`
	Enumerated int64     `json:"enumerated"`
	Enqueued   int64     `json:"enqueued"`
	Skipped    int64     `json:"skipped"`
	Scanned    int64     `json:"scanned"`
	Labelled   int64     `json:"labelled"`
	Error      string    `json:"error"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	// Provider is what the rescan cost at the provider so far (issue 21).
	Provider *struct {
		MetadataCalls   int64   `json:"metadataCalls"`
		ContentReads    int64   `json:"contentReads"`
		Throttled       int64   `json:"throttled"`
		MetadataPerFile float64 `json:"metadataCallsPerFile"`
		ContentPerFile  float64 `json:"contentReadsPerFile"`
	} `json:"provider,omitempty"`
}

func cmdRescan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rescan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server, out := apiFlags(fs)
	scope := fs.String("scope", "", "one drive (id or name) instead of the whole connector")
	force := fs.Bool("force", false, "rescan files even when unchanged since their last scan")
	wait := fs.Bool("wait", false, "follow the rescan with a progress bar until it ends")
	pos, ok := parseAnywhere(fs, args)
	if !ok {
		return 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: labelgate rescan [-scope DRIVE] [-force] [-wait] CONNECTOR")
		return 2
	}
	c := newAPIClient(*server)
	var r apiRescan
	if err := c.do(ctx, "POST", "/api/v1/rescans", map[string]any{"connector": pos[0], "scope": *scope, "force": *force}, &r); err != nil {
		return apiFail(stderr, err)
	}
	if !*wait {
		if *out == "json" {
			printJSON(stdout, r)
		} else {
			fmt.Fprintf(stdout, "rescan %d started for %s\n", r.ID, r.Connector)
		}
		return 0
	}
	tty := isTTY(stderr)
	start := time.Now()
	// The rescan is finished for a person when its walk is done and what it queued has
	// been scanned; scans that stall (dead jobs) end the wait with a note instead.
	lastScanned, lastMove := r.Scanned, time.Now()
	for r.State == "running" || (r.State == "done" && r.Scanned < r.Enqueued && time.Since(lastMove) < scanStall) {
		select {
		case <-ctx.Done():
			fmt.Fprintln(stderr)
			return 1
		case <-time.After(500 * time.Millisecond):
		}
		if err := c.do(ctx, "GET", fmt.Sprintf("/api/v1/rescans/%d", r.ID), nil, &r); err != nil {
			return apiFail(stderr, err)
		}
		if r.Scanned != lastScanned || r.State == "running" {
			lastScanned, lastMove = r.Scanned, time.Now()
		}
		if tty {
			fmt.Fprintf(stderr, "\r%s", progressLine(r, time.Since(start)))
		}
	}
	if tty {
		fmt.Fprintln(stderr)
	}
	if *out == "json" {
		printJSON(stdout, r)
	} else {
		fmt.Fprintf(stdout, "rescan %d %s: %d enumerated, %d queued for scanning, %d unchanged skipped, %d scanned, %d labelled in %s\n",
			r.ID, r.State, r.Enumerated, r.Enqueued, r.Skipped, r.Scanned, r.Labelled, time.Since(start).Round(time.Millisecond))
		if p := r.Provider; p != nil {
			fmt.Fprintf(stdout, "provider: %d metadata calls (%.2f per file), %d content reads (%.2f per file), %d throttled\n",
				p.MetadataCalls, p.MetadataPerFile, p.ContentReads, p.ContentPerFile, p.Throttled)
		}
		if r.State == "done" && r.Scanned < r.Enqueued {
			fmt.Fprintf(stdout, "%d queued files not scanned yet (see labelgate queue)\n", r.Enqueued-r.Scanned)
		}
	}
	if r.State != "done" {
		if r.Error != "" {
			fmt.Fprintf(stderr, "labelgate: rescan %s: %s\n", r.State, r.Error)
		}
		return 1
	}
	return 0
}

// scanStall is how long --wait keeps waiting for queued scans that make no progress.
const scanStall = 2 * time.Minute

// progressLine shows the walk and the scans behind it: the rate is scans per second and
// the ETA is for the files queued so far (more may come while the walk runs).
func progressLine(r apiRescan, took time.Duration) string {
	secs := took.Seconds()
	if secs <= 0 {
		secs = 1
	}
	rate := float64(r.Scanned) / secs
	eta := "?"
	if left := r.Enqueued - r.Scanned; left <= 0 {
		eta = "0s"
	} else if rate > 0 {
		eta = time.Duration(float64(left) / rate * float64(time.Second)).Round(time.Second).String()
	}
	walk := "walking"
	if r.State != "running" {
		walk = "walked"
	}
	return fmt.Sprintf("%s %d files, %d queued, %d skipped | %d scanned, %d labelled | %.1f scans/s, ETA %s ",
		walk, r.Enumerated, r.Enqueued, r.Skipped, r.Scanned, r.Labelled, rate, eta)
}

func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func cmdRescans(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rescans", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server, out := apiFlags(fs)
	pos, ok := parseAnywhere(fs, args)
	if !ok {
		return 2
	}
	c := newAPIClient(*server)
	if len(pos) == 2 && pos[0] == "cancel" {
		if err := c.do(ctx, "POST", "/api/v1/rescans/"+url.PathEscape(pos[1])+"/cancel", nil, nil); err != nil {
			return apiFail(stderr, err)
		}
		fmt.Fprintf(stdout, "rescan %s canceled\n", safe(pos[1]))
		return 0
	}
	if len(pos) != 0 {
		fmt.Fprintln(stderr, "usage: labelgate rescans [cancel ID]")
		return 2
	}
	var v struct {
		Items []apiRescan `json:"items"`
	}
	if err := c.do(ctx, "GET", "/api/v1/rescans", nil, &v); err != nil {
		return apiFail(stderr, err)
	}
	if *out == "json" {
		printJSON(stdout, v.Items)
		return 0
	}
	var rows [][]string
	for _, r := range v.Items {
		rows = append(rows, []string{fmt.Sprint(r.ID), r.Connector, r.State, fmt.Sprint(r.Enumerated), fmt.Sprint(r.Enqueued), fmt.Sprint(r.Skipped), localTime(r.StartedAt)})
	}
	table(stdout, "ID\tCONNECTOR\tSTATE\tFILES\tQUEUED\tSKIPPED\tSTARTED", rows)
	countLine(stdout, len(rows), "rescan", false, "")
	return 0
}

func cmdLabels(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("labels", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server, out := apiFlags(fs)
	pos, ok := parseAnywhere(fs, args)
	if !ok {
		return 2
	}
	c := newAPIClient(*server)
	if len(pos) == 1 && pos[0] == "sync" {
		var v json.RawMessage
		if err := c.do(ctx, "POST", "/api/v1/labels/sync", nil, &v); err != nil {
			return apiFail(stderr, err)
		}
		if *out == "json" {
			fmt.Fprintln(stdout, string(v))
		} else {
			fmt.Fprintln(stdout, "label catalog synced")
		}
		return 0
	}
	if len(pos) != 0 {
		fmt.Fprintln(stderr, "usage: labelgate labels [sync] [-o json]")
		return 2
	}
	var v struct {
		Items []struct {
			ID, Name, Tenant, App, State string
			Priority                     int
			Protection, External         bool
			// Sharing is the labels.protection rule governing the label (issue 24).
			Sharing *struct {
				Rule, MaxAccess, Action, PolicyID string
				Inherited                         bool
			} `json:"sharing,omitempty"`
		} `json:"items"`
	}
	if err := c.do(ctx, "GET", "/api/v1/labels", nil, &v); err != nil {
		return apiFail(stderr, err)
	}
	if *out == "json" {
		printJSON(stdout, v.Items)
		return 0
	}
	var rows [][]string
	for _, l := range v.Items {
		note := l.State
		if l.External {
			note = "external"
		}
		maxAccess, action := "-", "-"
		if sh := l.Sharing; sh != nil {
			maxAccess, action = sh.MaxAccess, sh.Action
			if sh.Inherited {
				action += " (parent's rule)"
			}
		}
		rows = append(rows, []string{l.App, l.ID, l.Name, fmt.Sprint(l.Priority), fmt.Sprint(l.Protection), note, maxAccess, action})
	}
	// PROTECTION is the label's encryption; MAX ACCESS and SHARING ACTION its labels.protection
	// rule: the widest sharing allowed and what labelgate does beyond it.
	table(stdout, "APP\tID\tNAME\tPRIORITY\tPROTECTION\tSTATE\tMAX ACCESS\tSHARING ACTION", rows)
	countLine(stdout, len(rows), "label", false, "")
	return 0
}

func cmdEvents(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server, out := apiFlags(fs)
	q := url.Values{}
	for _, name := range []string{"app", "tenant", "kind", "label", "since", "until"} {
		name := name
		fs.Func(name, "filter by "+name, func(v string) error { q.Set(name, v); return nil })
	}
	limit := fs.Int("limit", 1000, "at most this many events in the table (1..1000; -o json streams them all)")
	pos, ok := parseAnywhere(fs, args)
	if !ok {
		return 2
	}
	if len(pos) != 0 {
		fmt.Fprintf(stderr, "labelgate events: unexpected %q (filters are flags, e.g. -kind label_removed)\n", pos[0])
		return 2
	}
	if err := errorsJoin(checkEnum("kind", q.Get("kind"), kindValues, false), checkEnum("app", q.Get("app"), appValues, false)); err != nil {
		fmt.Fprintf(stderr, "labelgate events: %v\n", err)
		return 2
	}
	for _, k := range []string{"since", "until"} {
		if v := q.Get(k); v != "" {
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				fmt.Fprintf(stderr, "labelgate events: -%s %q: want an RFC 3339 time, e.g. 2026-11-01T00:00:00Z\n", k, v)
				return 2
			}
		}
	}
	if *limit < 1 || *limit > 1000 {
		fmt.Fprintln(stderr, "labelgate events: -limit: want 1..1000")
		return 2
	}
	c := newAPIClient(*server)
	res := &labelResolver{c: c}
	if l := q.Get("label"); l != "" {
		id, err := res.resolve(ctx, l)
		if err != nil {
			return apiFail(stderr, err)
		}
		q.Set("label", id)
	}
	if *out == "json" {
		q.Set("format", "jsonl")
		req, err := http.NewRequestWithContext(ctx, "GET", c.server+"/api/v1/events?"+q.Encode(), nil)
		if err != nil {
			return apiFail(stderr, err)
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := c.http.Do(req)
		if err != nil {
			return apiFail(stderr, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			return apiFail(stderr, &apiError{Status: resp.StatusCode, Msg: strings.TrimSpace(string(b))})
		}
		_, err = io.Copy(stdout, resp.Body)
		if err != nil {
			return apiFail(stderr, err)
		}
		return 0
	}
	q.Set("limit", strconv.Itoa(*limit))
	var v struct {
		Items []struct {
			ID                                                         int64
			At                                                         time.Time
			Kind, App, Path, Name, LabelID, PrevLabelID, Actor, Detail string
		} `json:"items"`
		Next string `json:"next"`
	}
	if err := c.do(ctx, "GET", "/api/v1/events?"+q.Encode(), nil, &v); err != nil {
		return apiFail(stderr, err)
	}
	names := res.names(ctx)
	var rows [][]string
	for _, e := range v.Items {
		label := labelShown(names, e.LabelID, false)
		if e.PrevLabelID != "" {
			label = labelShown(names, e.PrevLabelID, false) + " -> " + label
		}
		file := strings.TrimSuffix(e.Path, "/") + "/" + e.Name
		if e.Name == "" {
			file = "-"
		}
		rows = append(rows, []string{localTime(e.At), e.Kind, e.App, file, label, e.Actor, e.Detail})
	}
	table(stdout, "AT\tKIND\tAPP\tFILE\tLABEL\tBY\tDETAIL", rows)
	how := "-o json streams every event as JSON lines; or narrow with -since/-until/-kind"
	countLine(stdout, len(rows), "event", v.Next != "", how)
	return 0
}
