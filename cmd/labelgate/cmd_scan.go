package main

import (
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
	"github.com/labelgate/labelgate/labeling"
)

const scanUsage = `usage: labelgate scan [-o table|json] [--workers N] PATH...

Reads the sensitivity label of every Office and PDF file under each PATH (a folder or a file)
without a server, and prints a summary table, or with -o json one JSON line per file and a
final line with "summary": true. Exit status: 0 when every file was read, 1 when any failed,
2 for usage errors.
`

// scanOptions shape one scan.
type scanOptions struct {
	Workers int
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
	BytesRead      int64             `json:"bytesRead"`
	Error          string            `json:"error,omitempty"`
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
}

// scanJob is one file to read.
type scanJob struct {
	conn *fileshare.Conn
	file connectors.File
	path string // as shown to the user
}

func cmdScan(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("scan", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() { fmt.Fprint(stderr, scanUsage) }
	output := fl.String("o", "table", "output: table or json")
	workers := fl.Int("workers", max(4, 2*runtime.GOMAXPROCS(0)), "files read at once")
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
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			fmt.Fprintf(stderr, "labelgate scan: %v\n", err)
			return 2
		}
	}

	opts := scanOptions{Workers: *workers}
	var progress *scanProgress
	if scanIsTerminal(stderr) {
		progress = &scanProgress{w: stderr}
		opts.Progress = progress.show
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	var failures []scanRecord
	sum, err := scanPaths(ctx, paths, opts, func(r scanRecord) {
		if *output == "json" {
			_ = enc.Encode(r)
		} else if r.Error != "" {
			failures = append(failures, r)
		}
	})
	if progress != nil {
		progress.clear()
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
	if sum.Errors > 0 || sum.Interrupted {
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
			if err := scanEnumerate(ctx, p, jobs, results); err != nil {
				walkErr = err
				return
			}
		}
	})
	var readers sync.WaitGroup
	var inflight atomic.Int64
	for range opts.Workers {
		readers.Go(func() {
			for j := range jobs {
				inflight.Add(1)
				results <- scanFile(ctx, j)
				inflight.Add(-1)
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
func scanEnumerate(ctx context.Context, p string, jobs chan<- scanJob, results chan<- scanRecord) error {
	info, err := os.Stat(p)
	if err != nil {
		return err
	}
	dir, item := p, ""
	if !info.IsDir() {
		dir, item = filepath.Dir(p), filepath.Base(p)
	}
	conn, err := fileshare.New(fileshare.Config{
		Roots: []string{dir},
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
			results <- scanRecord{Path: p, Type: labeling.TypeOf(item), Error: err.Error()}
			return nil
		}
		return scanSend(ctx, jobs, scanJob{conn: conn, file: f, path: p})
	}
	return conn.Walk(ctx, drive, "", func(f connectors.File, _ string) error {
		return scanSend(ctx, jobs, scanJob{conn: conn, file: f, path: filepath.Join(p, filepath.FromSlash(f.Ref.ItemID))})
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

// scanFile reads one file's label; unsupported types are counted without being opened.
func scanFile(ctx context.Context, j scanJob) scanRecord {
	r := scanRecord{Path: j.path, Type: labeling.TypeOf(j.file.Name), Size: j.file.Size}
	if r.Type == labeling.TypeUnsupported {
		return r
	}
	obj, err := j.conn.Open(ctx, j.file.Ref)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer obj.Close()
	res, err := labeling.Read(ctx, obj, obj.Size(), j.file.Name)
	r.Size, r.BytesRead = obj.Size(), res.BytesRead
	r.Protected, r.ProtectionKind = res.Protected, res.ProtectionKind
	if res.Label != nil {
		r.LabelID, r.LabelName, r.Tenant, r.Method = res.Label.ID, res.Label.Name, res.Label.Tenant, res.Label.Method
	}
	if err != nil {
		r.Error = err.Error()
	}
	return r
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
	for _, t := range sortedKeys(s.ByType) {
		fmt.Fprintf(tw, "%s\t%d\n", t, s.ByType[t])
	}
	tw.Flush()
	fmt.Fprintln(w)
	if len(s.ByLabel) > 0 {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "LABEL\tNAME\tFILES")
		for _, id := range sortedKeys(s.ByLabel) {
			name := s.labelNames[id]
			if name == "" {
				name = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\n", id, name, s.ByLabel[id])
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
	if len(failures) == 0 {
		return
	}
	const shown = 20
	fmt.Fprintln(w, "\nErrors:")
	slices.SortFunc(failures, func(a, b scanRecord) int { return strings.Compare(a.Path, b.Path) })
	for _, f := range failures[:min(shown, len(failures))] {
		fmt.Fprintf(w, "  %s: %s\n", f.Path, f.Error)
	}
	if len(failures) > shown {
		fmt.Fprintf(w, "  … and %d more (use -o json for all)\n", len(failures)-shown)
	}
}

func sortedKeys(m map[string]int) []string {
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
