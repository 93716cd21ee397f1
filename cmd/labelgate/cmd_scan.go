package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/fileshare"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/labeling"
	"github.com/labelgate/labelgate/policies"
)

const scanUsage = `usage: labelgate scan [-o table|json] [--workers N]
                      [--apply-policies FILE [--labels FILE] [--tenant GUID] [--execute] [--quota N]]
                      PATH...

Reads the sensitivity label of every Office and PDF file under each PATH (a folder or a file)
without a server, and prints a summary table, or with -o json one JSON line per file and a
final line with "summary": true.

--apply-policies evaluates a policy file against every file and reports the actions it asks
for; with --execute, label actions are carried out by rewriting the files in place (atomically),
at most --quota of them per run (default 100). Policies name labels by id, or by name when
--labels gives the catalog (a JSON list of {"id", "name", "tenant", "priority"}); --tenant is
the organisation's Entra tenant id, used for labels the catalog gives no tenant and to tell
external labels apart.

Exit status: 0 when every file was read (and every action carried out), 1 when any failed,
2 for usage errors.
`

// scanOptions shape one scan.
type scanOptions struct {
	Workers int
	// Tenant is the tenant the files are filed under; default "local".
	Tenant string
	// Policies, when set, are evaluated against every file read.
	Policies *scanPolicies
	// Progress, when set, is called about every progressEvery with the running counts.
	Progress func(s *scanSummary, elapsed time.Duration)
}

const progressEvery = 200 * time.Millisecond

// scanRecord is one file's JSON line.
type scanRecord struct {
	Path           string            `json:"path"`
	Type           labeling.FileType `json:"type"`
	Size           int64             `json:"size"`
	LabelID        string            `json:"labelId,omitempty"`
	LabelName      string            `json:"labelName,omitempty"`
	Tenant         string            `json:"tenant,omitempty"`
	Method         string            `json:"method,omitempty"`
	Protected      bool              `json:"protected"`
	ProtectionKind string            `json:"protectionKind,omitempty"`
	Protection     string            `json:"protection,omitempty"` // rms, password or none
	ParentID       string            `json:"parentId,omitempty"`
	Labels         []inspectLabel    `json:"labels,omitempty"`   // every label that applies, one per tenant
	External       bool              `json:"external,omitempty"` // the file carries another tenant's label
	BytesRead      int64             `json:"bytesRead"`
	Error          string            `json:"error,omitempty"`
	Actions        []scanAction      `json:"actions,omitempty"`
}

// scanAction is one action a policy asked for on a file, and what became of it.
type scanAction struct {
	Policy  string `json:"policy"`
	Kind    string `json:"kind"` // apply_label, remove_label, alert, notify_owner
	LabelID string `json:"labelId,omitempty"`
	Message string `json:"message,omitempty"`
	// Status is planned (no --execute), done, skipped (quota used up), failed, or reported
	// (alerts and notifications, which the one-shot scan only prints).
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

// scanSummary is the final JSON line and what the table shows.
type scanSummary struct {
	Summary     bool           `json:"summary"`
	Files       int            `json:"files"`
	ByType      map[string]int `json:"byType"`
	ByLabel     map[string]int `json:"byLabel"` // label id → files
	Labelled    int            `json:"labelled"`
	Unlabelled  int            `json:"unlabelled"`
	Protected   int            `json:"protected"`
	Unsupported int            `json:"unsupported"`
	Errors      int            `json:"errors"`
	BytesRead   int64          `json:"bytesRead"`
	Seconds     float64        `json:"seconds"`
	Interrupted bool           `json:"interrupted,omitempty"`
	// Actions counts policy actions by "kind status", e.g. "apply_label done".
	Actions       map[string]int `json:"actions,omitempty"`
	ActionsFailed int            `json:"actionsFailed,omitempty"`

	labelNames map[string]string
}

func newScanSummary() *scanSummary {
	return &scanSummary{Summary: true, ByType: map[string]int{}, ByLabel: map[string]int{}, labelNames: map[string]string{}}
}

func (s *scanSummary) add(r scanRecord) {
	s.Files++
	s.BytesRead += r.BytesRead
	if r.Type != "" {
		s.ByType[string(r.Type)]++
	}
	switch {
	case r.Error != "":
		s.Errors++
	case r.Type == labeling.TypeUnsupported:
		s.Unsupported++
	case r.LabelID != "":
		s.Labelled++
		s.ByLabel[r.LabelID]++
		if r.LabelName != "" {
			s.labelNames[r.LabelID] = r.LabelName
		}
	default:
		s.Unlabelled++
	}
	if r.Protected {
		s.Protected++
	}
	for _, a := range r.Actions {
		if s.Actions == nil {
			s.Actions = map[string]int{}
		}
		s.Actions[a.Kind+" "+a.Status]++
		if a.Status == "failed" {
			s.ActionsFailed++
		}
	}
}

// scanJob is one file to read.
type scanJob struct {
	conn *fileshare.Conn
	file connectors.File
	path string // as shown to the user
	// tenant is the organisation's tenant (--tenant): the file's label is its label when the
	// file carries one, and other tenants' labels are external.
	tenant string
}

func cmdScan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("scan", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() { fmt.Fprint(stderr, scanUsage) }
	output := fl.String("o", "table", "output: table or json")
	workers := fl.Int("workers", max(4, 2*runtime.GOMAXPROCS(0)), "files read at once")
	policyFile := fl.String("apply-policies", "", "evaluate the policies of this YAML or JSON file")
	labelsFile := fl.String("labels", "", "label catalog: a JSON list of labels (id, name, tenant, priority)")
	tenant := fl.String("tenant", "", "the organisation's Entra tenant id")
	execute := fl.Bool("execute", false, "carry out the policies' label actions (rewrites files)")
	quota := fl.Int("quota", labeling.DefaultDailyQuota, "most label writes this run")
	paths, err := scanParseArgs(fl, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if *output != "table" && *output != "json" {
		fmt.Fprintf(stderr, "labelgate scan: -o must be table or json, not %q\n", *output)
		return 2
	}
	if *workers < 1 {
		fmt.Fprintln(stderr, "labelgate scan: --workers must be at least 1")
		return 2
	}
	if len(paths) == 0 {
		fmt.Fprint(stderr, scanUsage)
		return 2
	}
	if *policyFile == "" && (*execute || *labelsFile != "") {
		fmt.Fprintln(stderr, "labelgate scan: --execute and --labels need --apply-policies")
		return 2
	}
	if *quota < 0 {
		fmt.Fprintln(stderr, "labelgate scan: --quota must not be negative")
		return 2
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			fmt.Fprintf(stderr, "labelgate scan: %s\n", safe(err.Error()))
			return 2
		}
	}

	opts := scanOptions{Workers: *workers, Tenant: *tenant}
	if *policyFile != "" {
		pol, err := loadScanPolicies(*policyFile, *labelsFile, *tenant)
		if err != nil {
			fmt.Fprintf(stderr, "labelgate scan: %v\n", err)
			return 2
		}
		pol.execute, pol.quota = *execute, int64(*quota)
		opts.Policies = pol
	}
	var progress *scanProgress
	if scanIsTerminal(stderr) {
		progress = &scanProgress{w: stderr}
		opts.Progress = progress.show
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	var failures []scanRecord
	rows := newScanRows(stdout, progress)
	sum, err := scanPaths(ctx, paths, opts, func(r scanRecord) {
		if *output == "json" {
			_ = enc.Encode(r)
			return
		}
		rows.add(r)
		if r.Error != "" || len(r.Actions) > 0 {
			failures = append(failures, r)
		}
	})
	if progress != nil {
		progress.clear()
	}
	if *output != "json" {
		rows.flush()
		fmt.Fprintln(stdout)
	}
	if err != nil && ctx.Err() == nil {
		fmt.Fprintf(stderr, "labelgate scan: %v\n", err)
		return 1
	}
	sum.Interrupted = ctx.Err() != nil
	if *output == "json" {
		_ = enc.Encode(sum)
	} else {
		printScanTable(stdout, sum, failures)
	}
	if sum.Errors > 0 || sum.ActionsFailed > 0 || sum.Interrupted {
		return 1
	}
	return 0
}

// scanParseArgs accepts flags before, between and after the paths; everything after "--" is
// a path.
func scanParseArgs(fl *flag.FlagSet, args []string) ([]string, error) {
	var tail []string
	if i := slices.Index(args, "--"); i >= 0 {
		args, tail = args[:i], args[i+1:]
	}
	var paths []string
	for {
		if err := fl.Parse(args); err != nil {
			return nil, err
		}
		args = fl.Args()
		if len(args) == 0 {
			break
		}
		paths = append(paths, args[0])
		args = args[1:]
	}
	return append(paths, tail...), nil
}

// scanPaths reads the label of every file under paths with opts.Workers readers at once,
// handing each file's record to emit (from one goroutine, in completion order) and returning
// the totals. It returns an error only when a path cannot be walked at all.
func scanPaths(ctx context.Context, paths []string, opts scanOptions, emit func(scanRecord)) (*scanSummary, error) {
	start := time.Now()
	jobs := make(chan scanJob, 2*opts.Workers)
	results := make(chan scanRecord, 2*opts.Workers)

	var walkErr error
	var producers sync.WaitGroup
	producers.Go(func() {
		defer close(jobs)
		for _, p := range paths {
			if err := scanEnumerate(ctx, p, opts.Tenant, jobs, results); err != nil {
				walkErr = err
				return
			}
		}
	})
	var readers sync.WaitGroup
	for range opts.Workers {
		readers.Go(func() {
			for j := range jobs {
				results <- scanFile(ctx, j, opts.Policies)
			}
		})
	}
	go func() {
		producers.Wait()
		readers.Wait()
		close(results)
	}()

	sum := newScanSummary()
	var tick <-chan time.Time
	if opts.Progress != nil {
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case r, ok := <-results:
			if !ok {
				sum.Seconds = time.Since(start).Seconds()
				return sum, walkErr
			}
			sum.add(r)
			emit(r)
		case <-tick:
			opts.Progress(sum, time.Since(start))
		}
	}
}

// scanEnumerate sends the files of one path (a folder or a file) to jobs; files the walk
// cannot read go straight to results as errors.
func scanEnumerate(ctx context.Context, p, tenant string, jobs chan<- scanJob, results chan<- scanRecord) error {
	info, err := os.Stat(p)
	if err != nil {
		return err
	}
	dir, item := p, ""
	if !info.IsDir() {
		dir, item = filepath.Dir(p), filepath.Base(p)
	}
	conn, err := fileshare.New(fileshare.Config{
		Roots:  []string{dir},
		Tenant: tenant,
		SkipError: func(rel string, err error) {
			results <- scanRecord{Path: filepath.Join(dir, filepath.FromSlash(rel)), Error: err.Error()}
		},
	})
	if err != nil {
		return err
	}
	drives, err := conn.Drives(ctx)
	if err != nil {
		return err
	}
	drive := drives[0].ID
	if item != "" {
		f, err := conn.Stat(ctx, conn.Ref(drive, item))
		if err != nil {
			results <- scanRecord{Path: p, Type: labeling.ReadTypeOf(item), Error: err.Error()}
			return nil
		}
		return scanSend(ctx, jobs, scanJob{conn: conn, file: f, path: p, tenant: tenant})
	}
	return conn.Walk(ctx, drive, "", func(f connectors.File, _ string) error {
		return scanSend(ctx, jobs, scanJob{conn: conn, file: f, path: filepath.Join(p, filepath.FromSlash(f.Ref.ItemID)), tenant: tenant})
	})
}

func scanSend(ctx context.Context, jobs chan<- scanJob, j scanJob) error {
	select {
	case jobs <- j:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// scanFile reads one file's label, then evaluates the policies (if any) and carries out their
// label actions; unsupported types are counted without being opened.
func scanFile(ctx context.Context, j scanJob, pol *scanPolicies) scanRecord {
	r := scanRecord{Path: j.path, Type: labeling.ReadTypeOf(j.file.Name), Size: j.file.Size}
	if r.Type == labeling.TypeUnsupported {
		return r
	}
	obj, err := j.conn.Open(ctx, j.file.Ref)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	res, err := labeling.ReadWith(ctx, obj, obj.Size(), j.file.Name, labeling.ReadOptions{Tenant: j.tenant})
	r.Size, r.BytesRead = obj.Size(), res.BytesRead
	r.Protected, r.ProtectionKind = res.Protected, res.ProtectionKind
	if res.Label != nil {
		r.LabelID, r.LabelName, r.Tenant, r.Method = res.Label.ID, res.Label.Name, res.Label.Tenant, res.Label.Method
		r.ParentID = res.Label.ParentID
	}
	if err == nil {
		r.Type, r.Protection = res.Type, res.Protection()
		ext := map[string]bool{}
		for _, x := range res.External(j.tenant) {
			ext[x.ID+"/"+x.Tenant] = true
		}
		r.External = len(ext) > 0
		for _, l := range res.Effective {
			r.Labels = append(r.Labels, inspectLabel{ID: l.ID, Name: l.Name, Tenant: l.Tenant, Method: l.Method,
				Source: l.Source, ParentID: l.ParentID, External: ext[l.ID+"/"+l.Tenant]})
		}
	}
	if err != nil {
		obj.Close()
		r.Error = err.Error()
		return r
	}
	if pol == nil {
		obj.Close()
		return r
	}
	planned, err := pol.evaluate(ctx, j.file, r, obj)
	obj.Close()
	if err != nil {
		r.Error = "policies: " + err.Error()
		return r
	}
	for _, pa := range planned {
		r.Actions = append(r.Actions, pol.carryOut(ctx, j, pa))
	}
	return r
}

// scanPolicies evaluates a policy file during a scan and carries out its label actions.
type scanPolicies struct {
	engine  *policies.Engine
	cat     policies.Catalog // nil: labels are named by id
	tenants map[string]string
	tenant  string
	execute bool
	quota   int64
	used    atomic.Int64
}

func loadScanPolicies(file, labelsFile, tenant string) (*scanPolicies, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	doc, err := policies.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	p := &scanPolicies{tenants: map[string]string{}, tenant: strings.ToLower(strings.Trim(tenant, "{}"))}
	if labelsFile != "" {
		data, err := os.ReadFile(labelsFile)
		if err != nil {
			return nil, err
		}
		var ls []connectors.Label
		if err := json.Unmarshal(data, &ls); err != nil {
			return nil, fmt.Errorf("%s: %w", labelsFile, err)
		}
		for _, l := range ls {
			p.tenants[strings.ToLower(l.ID)] = l.Tenant
		}
		p.cat = policies.NewCatalog(ls)
	}
	if p.engine, err = policies.Compile(doc.Policies, p.cat, policies.Options{}); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return p, nil
}

// evaluate runs the policies against a file just read; content conditions read from obj.
func (p *scanPolicies) evaluate(ctx context.Context, f connectors.File, r scanRecord, obj connectors.Object) ([]policies.PlannedAction, error) {
	fa := policies.NewFacts(f, connectors.LabelState{LabelID: r.LabelID, Tenant: r.Tenant, Method: r.Method, Protected: r.Protected}, p.cat)
	// "External" means the file carries a label of another tenant than the organisation's
	// (--tenant), whichever label is the file's own; without a tenant nothing is external.
	fa.LabelExternal = p.tenant != "" && r.External
	fa.Content = func(context.Context) (io.ReaderAt, int64, error) { return obj, obj.Size(), nil }
	d, err := p.engine.Evaluate(ctx, &fa)
	return d.Actions, err
}

// carryOut executes (or, without --execute, only reports) one planned action.
func (p *scanPolicies) carryOut(ctx context.Context, j scanJob, pa policies.PlannedAction) scanAction {
	a := scanAction{Policy: pa.PolicyID, Kind: pa.Kind, LabelID: pa.LabelID, Message: pa.Params.Message, Status: "planned"}
	if !store.QuotaCounted(pa.Kind) {
		a.Status = "reported"
		return a
	}
	if !p.execute {
		return a
	}
	if p.used.Add(1) > p.quota {
		p.used.Add(-1)
		a.Status, a.Error = "skipped", fmt.Sprintf("the quota of %d label writes is used up", p.quota)
		return a
	}
	if err := p.write(ctx, j, pa); err != nil {
		p.used.Add(-1)
		a.Status, a.Error = "failed", err.Error()
		return a
	}
	a.Status = "done"
	return a
}

// write rewrites the file with the label (or without any) and replaces it atomically.
func (p *scanPolicies) write(ctx context.Context, j scanJob, pa policies.PlannedAction) error {
	obj, err := j.conn.Open(ctx, j.file.Ref)
	if err != nil {
		return err
	}
	defer obj.Close()
	if obj.Size() > labeling.MaxLabelSize {
		return labeling.ErrTooLarge
	}
	if err := labeling.WriteUnsupported(j.file.Name); err != nil {
		return err // legacy binary files and pfiles are read, never rewritten
	}
	var buf bytes.Buffer
	buf.Grow(int(obj.Size()) + 4096)
	if pa.Kind == store.ActionApplyLabel {
		tenant := p.tenants[strings.ToLower(pa.LabelID)]
		if tenant == "" {
			tenant = p.tenant
		}
		if tenant == "" {
			return fmt.Errorf("label %s has no tenant: give --tenant, or --labels with tenants", pa.LabelID)
		}
		l := labeling.Label{ID: pa.LabelID, Tenant: tenant, Method: "auto", Enabled: true}
		if p.cat != nil {
			if li, ok := p.cat.Lookup(pa.LabelID); ok {
				l.Name = li.Name
			}
		}
		err = labeling.Apply(ctx, obj, obj.Size(), j.file.Name, l, &buf)
	} else if p.tenant != "" {
		// Only the organisation's label goes; other tenants' labels stay (issue 25).
		err = labeling.RemoveTenant(ctx, obj, obj.Size(), j.file.Name, p.tenant, &buf)
	} else {
		err = labeling.Remove(ctx, obj, obj.Size(), j.file.Name, &buf)
	}
	if err != nil {
		return err
	}
	return j.conn.Upload(ctx, j.file.Ref, bytes.NewReader(buf.Bytes()), int64(buf.Len()))
}

func printScanTable(w io.Writer, s *scanSummary, failures []scanRecord) {
	rate := 0.0
	if s.Seconds > 0 {
		rate = float64(s.Files) / s.Seconds
	}
	state := ""
	if s.Interrupted {
		state = " (interrupted)"
	}
	fmt.Fprintf(w, "Scanned %d files in %.1fs (%.0f files/s), %s read%s\n\n", s.Files, s.Seconds, rate, scanBytes(s.BytesRead), state)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tFILES")
	for _, t := range scanSortedKeys(s.ByType) {
		fmt.Fprintf(tw, "%s\t%d\n", safe(t), s.ByType[t])
	}
	tw.Flush()
	fmt.Fprintln(w)
	if len(s.ByLabel) > 0 {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "LABEL\tNAME\tFILES")
		for _, id := range scanSortedKeys(s.ByLabel) {
			name := s.labelNames[id]
			if name == "" {
				name = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\n", safe(id), safe(name), s.ByLabel[id])
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Labelled\t%d\n", s.Labelled)
	fmt.Fprintf(tw, "Unlabelled\t%d\n", s.Unlabelled)
	fmt.Fprintf(tw, "Protected\t%d\n", s.Protected)
	fmt.Fprintf(tw, "Unsupported\t%d\n", s.Unsupported)
	fmt.Fprintf(tw, "Errors\t%d\n", s.Errors)
	tw.Flush()
	slices.SortFunc(failures, func(a, b scanRecord) int { return strings.Compare(a.Path, b.Path) })
	const shown = 20
	var errs, acts []string
	for _, f := range failures {
		if f.Error != "" {
			errs = append(errs, fmt.Sprintf("  %s: %s", safe(f.Path), safe(f.Error)))
		}
		for _, a := range f.Actions {
			line := fmt.Sprintf("  %s: %s %s", safe(f.Path), safe(a.Policy), a.Kind)
			if a.LabelID != "" {
				line += " " + safe(a.LabelID)
			}
			line += " (" + a.Status
			if a.Error != "" {
				line += ": " + safe(a.Error)
			}
			acts = append(acts, line+")")
		}
	}
	if len(s.Actions) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "POLICY ACTION\tFILES")
		for _, k := range scanSortedKeys(s.Actions) {
			fmt.Fprintf(tw, "%s\t%d\n", k, s.Actions[k])
		}
		tw.Flush()
	}
	for _, sec := range []struct {
		title string
		lines []string
	}{{"Errors:", errs}, {"Actions:", acts}} {
		if len(sec.lines) == 0 {
			continue
		}
		fmt.Fprintln(w, "\n"+sec.title)
		for _, l := range sec.lines[:min(shown, len(sec.lines))] {
			fmt.Fprintln(w, l)
		}
		if len(sec.lines) > shown {
			fmt.Fprintf(w, "  … and %d more (use -o json for all)\n", len(sec.lines)-shown)
		}
	}
}

func scanSortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	// Most files first, then by name, so the table reads as a ranking.
	slices.SortFunc(ks, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	return ks
}

func scanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// scanIsTerminal reports whether w is a terminal, where a progress line helps instead of
// littering a log.
func scanIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&fs.ModeCharDevice != 0
}

// scanProgress redraws one status line on a terminal.
type scanProgress struct {
	w     io.Writer
	drawn bool
}

func (p *scanProgress) show(s *scanSummary, elapsed time.Duration) {
	rate := float64(s.Files) / max(elapsed.Seconds(), 1e-9)
	fmt.Fprintf(p.w, "\r\x1b[Kscanning: %d files (%.0f/s), %d labelled, %d errors", s.Files, rate, s.Labelled, s.Errors)
	p.drawn = true
}

func (p *scanProgress) clear() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

// scanRows prints the per-file table as files are read: path, type, label, tenant,
// protection and a note (the error, or what the policies asked). Rows are aligned in blocks
// of scanRowsBlock so a scan of a million files streams in bounded memory.
type scanRows struct {
	w        io.Writer
	tw       *tabwriter.Writer
	n        int
	progress *scanProgress
}

const scanRowsBlock = 200

func newScanRows(w io.Writer, p *scanProgress) *scanRows {
	return &scanRows{w: w, progress: p}
}

func (s *scanRows) add(r scanRecord) {
	if s.tw == nil {
		s.tw = tabwriter.NewWriter(s.w, 0, 4, 2, ' ', 0)
		if s.n == 0 {
			fmt.Fprintln(s.tw, "FILE\tTYPE\tLABEL\tTENANT\tPROTECTED\tNOTE")
		}
	}
	label := r.LabelName
	if label == "" {
		label = r.LabelID
	}
	prot := "no"
	if r.Protected {
		prot = r.ProtectionKind
		if prot == "" {
			prot = "yes"
		}
	}
	note := r.Error
	if note == "" && len(r.Actions) > 0 {
		var parts []string
		for _, a := range r.Actions {
			parts = append(parts, a.Kind+" "+a.Status)
		}
		note = strings.Join(parts, ", ")
	}
	fmt.Fprintf(s.tw, "%s\t%s\t%s\t%s\t%s\t%s\n", safe(r.Path), dash(string(r.Type)), dash(label), dash(r.Tenant), prot, safe(note))
	s.n++
	if s.n%scanRowsBlock == 0 {
		s.flush()
	}
}

func (s *scanRows) flush() {
	if s.tw == nil {
		return
	}
	if s.progress != nil {
		s.progress.clear()
	}
	_ = s.tw.Flush()
	s.tw = nil
}
