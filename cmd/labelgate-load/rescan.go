package main

// The rescan benchmark (issue 21): the emulators in this process, the real `labelgate serve`
// binary as a child against them, and the first full rescan (and with -again an incremental
// one where nothing changed) timed from outside, so the figures are the gateway's.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

// RescanConfig is one benchmark run.
type RescanConfig struct {
	Files   int
	Store   string // sqlite or postgres
	PGURL   string // server URL for -store postgres; a database is created and dropped
	Apps    []connectors.App
	Again   bool
	Bin     string // a built labelgate binary; "" = build one
	Workers int    // queue.workers of the child; 0 = the default
	// CPUProfile, when set, makes the child write a CPU profile of its whole run there.
	CPUProfile string
	Timeout    time.Duration
	Log        *slog.Logger
	Progress   io.Writer // progress lines; nil = none
}

// AppResult is one app's share of a rescan.
type AppResult struct {
	Files int `json:"files"`
	// Scanned is the files the gateway's inventory shows scanned since the rescan started
	// (the rescan status); after a first rescan it equals Files.
	Scanned int64 `json:"scanned"`
	// Inventory is the app's files in the gateway's inventory with a completed scan, read
	// when the rescan ended.
	Inventory            int64   `json:"inventory"`
	Seconds              float64 `json:"seconds"`
	FilesPerSecond       float64 `json:"filesPerSecond"`
	MetadataCallsPerFile float64 `json:"metadataCallsPerFile"`
	ContentReadsPerFile  float64 `json:"contentReadsPerFile"`
	MetadataCalls        int64   `json:"metadataCalls"`
	ContentReads         int64   `json:"contentReads"`
	Throttled            int64   `json:"throttled"`
}

// TotalResult is the whole rescan, with the gateway process's cost.
type TotalResult struct {
	AppResult
	CPUSeconds float64 `json:"cpuSeconds"`
	PeakRSSMiB float64 `json:"peakRSSMiB"`
}

// RescanResult is what one measured rescan found.
type RescanResult struct {
	Apps  map[string]AppResult `json:"apps"`
	Total TotalResult          `json:"total"`
}

// RescanReport is the benchmark's output: the first full rescan, and with -again the
// incremental one.
type RescanReport struct {
	Store   string               `json:"store"`
	Files   int                  `json:"files"`
	Apps    map[string]AppResult `json:"apps"`
	Total   TotalResult          `json:"total"`
	Again   *RescanResult        `json:"again,omitempty"`
	Command string               `json:"command,omitempty"`
}

func rescanMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("labelgate-load rescan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg RescanConfig
	fs.IntVar(&cfg.Files, "files", 10000, "files in the emulated tenant, dealt evenly over the apps")
	fs.StringVar(&cfg.Store, "store", "sqlite", "sqlite or postgres")
	fs.StringVar(&cfg.PGURL, "pg", "", "PostgreSQL server URL for -store postgres (default $LABELGATE_TEST_POSTGRES, then /tmp/pgurl)")
	apps := fs.String("apps", "all", "apps to emulate: all, or a comma-separated list of sharepoint, onedrive, gdrive, box")
	asJSON := fs.Bool("json", false, "print one JSON object")
	fs.BoolVar(&cfg.Again, "again", false, "after the first rescan, measure a second one with nothing changed")
	fs.StringVar(&cfg.Bin, "bin", "", "labelgate binary to run (default: build ./cmd/labelgate into a temporary directory)")
	fs.IntVar(&cfg.Workers, "workers", 0, "queue.workers for the gateway (default: the configuration default)")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "make the gateway write a CPU profile of its run to this file")
	fs.DurationVar(&cfg.Timeout, "timeout", time.Hour, "give up after this long")
	verbose := fs.Bool("v", false, "progress lines on stderr")
	emuProfile := fs.String("emuprofile", "", "write a CPU profile of this process (the emulators) to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *emuProfile != "" {
		f, err := os.Create(*emuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "labelgate-load:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "labelgate-load:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	var err error
	if cfg.Apps, err = parseApps(*apps); err != nil {
		fmt.Fprintln(stderr, "labelgate-load:", err)
		return 2
	}
	if cfg.Store != "sqlite" && cfg.Store != "postgres" {
		fmt.Fprintln(stderr, "labelgate-load: -store must be sqlite or postgres")
		return 2
	}
	if *verbose {
		cfg.Progress = stderr
	}
	cfg.Log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	rep, err := RunRescan(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "labelgate-load:", err)
		return 1
	}
	rep.Command = "labelgate-load rescan " + strings.Join(args, " ")
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
		return 0
	}
	printRescan(stdout, "first full rescan", RescanResult{Apps: rep.Apps, Total: rep.Total}, rep.Store)
	if rep.Again != nil {
		printRescan(stdout, "incremental rescan, nothing changed", *rep.Again, rep.Store)
	}
	return 0
}

func printRescan(w io.Writer, title string, r RescanResult, store string) {
	fmt.Fprintf(w, "%s (%s)\n", title, store)
	fmt.Fprintf(w, "%-11s %9s %9s %9s %11s %11s %9s %9s\n", "app", "files", "seconds", "files/s", "meta/file", "reads/file", "cpu s", "rss MiB")
	names := make([]string, 0, len(r.Apps))
	for n := range r.Apps {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := r.Apps[n]
		fmt.Fprintf(w, "%-11s %9d %9.1f %9.1f %11.2f %11.2f %9s %9s\n", n, a.Files, a.Seconds, a.FilesPerSecond,
			a.MetadataCallsPerFile, a.ContentReadsPerFile, "-", "-")
	}
	t := r.Total
	fmt.Fprintf(w, "%-11s %9d %9.1f %9.1f %11.2f %11.2f %9.1f %9.1f\n", "total", t.Files, t.Seconds, t.FilesPerSecond,
		t.MetadataCallsPerFile, t.ContentReadsPerFile, t.CPUSeconds, t.PeakRSSMiB)
}

const benchToken = "bench-admin-token-0123456789abcdef"

// RunRescan runs the benchmark.
func RunRescan(ctx context.Context, cfg RescanConfig) (RescanReport, error) {
	rep := RescanReport{Store: cfg.Store, Files: cfg.Files}
	if cfg.Files <= 0 {
		return rep, errors.New("-files must be positive")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Hour
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "labelgate-bench-")
	if err != nil {
		return rep, err
	}
	defer os.RemoveAll(dir)
	bin := cfg.Bin
	if bin == "" {
		if bin, err = buildLabelgate(ctx, dir); err != nil {
			return rep, err
		}
	}
	progress(cfg, "seeding %d files", cfg.Files)
	ten, err := newBenchTenant(cfg.Files, cfg.Apps, cfg.Log)
	if err != nil {
		return rep, err
	}
	defer ten.Close()
	storeURL := ""
	if cfg.Store == "postgres" {
		u, drop, err := benchDatabase(ctx, cfg.PGURL)
		if err != nil {
			return rep, err
		}
		defer drop()
		storeURL = u
	}
	conns, err := ten.connectors(dir, cfg.Apps)
	if err != nil {
		return rep, err
	}
	publicAddr, adminAddr, err := freeAddr(), freeAddr(), error(nil)
	if publicAddr == "" || adminAddr == "" {
		return rep, errors.New("no free port")
	}
	cfgPath := filepath.Join(dir, "labelgate.yaml")
	if err := writeBenchConfig(cfgPath, dir, publicAddr, adminAddr, storeURL, cfg.Workers, conns); err != nil {
		return rep, err
	}
	child, err := startChild(ctx, bin, cfgPath, dir, cfg.CPUProfile)
	if err != nil {
		return rep, err
	}
	defer child.stop()
	api := &benchAPI{base: "http://" + adminAddr, metrics: "http://" + publicAddr + "/metrics"}
	if err := waitReady(ctx, "http://"+publicAddr+"/readyz", child); err != nil {
		return rep, err
	}
	first, err := measureRescan(ctx, cfg, api, child, ten, conns)
	if err != nil {
		return rep, err
	}
	rep.Apps, rep.Total = first.Apps, first.Total
	if cfg.Again {
		again, err := measureRescan(ctx, cfg, api, child, ten, conns)
		if err != nil {
			return rep, fmt.Errorf("again: %w", err)
		}
		rep.Again = &again
	}
	if err := child.stop(); err != nil {
		return rep, fmt.Errorf("gateway exit: %w", err)
	}
	return rep, nil
}

func progress(cfg RescanConfig, format string, args ...any) {
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
}

// measureRescan starts an unforced rescan of every connector, waits until every walk is done
// and the scan queue holds nothing of the apps, and reads the provider calls the gateway
// counted meanwhile from its /metrics.
func measureRescan(ctx context.Context, cfg RescanConfig, api *benchAPI, child *child, ten *benchTenant, conns []config.Connector) (RescanResult, error) {
	res := RescanResult{Apps: map[string]AppResult{}}
	before, err := api.providerCalls(ctx)
	if err != nil {
		return res, err
	}
	cpu0 := child.cpuSeconds()
	start := time.Now()
	ids := map[string]int64{}
	for _, c := range conns {
		id, err := api.startRescan(ctx, c.Name)
		if err != nil {
			return res, err
		}
		ids[c.Name] = id
	}
	doneAt := map[string]time.Time{}
	scanned := map[string]int64{}
	walked := map[string]benchRescan{} // connectors whose walk is done
	lastLog := time.Now()
	for len(doneAt) < len(conns) {
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("rescan not finished: %w", ctx.Err())
		case err := <-child.exited:
			return res, fmt.Errorf("gateway exited during the rescan: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		// Polling is work for the gateway, charged to the figures: walks are watched through
		// the rescan list (rows only; one rescan's status also counts its scanned files,
		// read once at the end), the queue by queue/pending.
		list, err := api.rescans(ctx)
		if err != nil {
			return res, err
		}
		for _, c := range conns {
			if _, ok := walked[c.Name]; ok {
				continue
			}
			r, ok := list[ids[c.Name]]
			if !ok {
				return res, fmt.Errorf("rescan %d of %s not listed", ids[c.Name], c.Name)
			}
			switch r.State {
			case "running":
				continue
			case "done":
				walked[c.Name] = r
			default:
				return res, fmt.Errorf("rescan of %s %s: %s", c.Name, r.State, r.Error)
			}
		}
		// Whether an app's jobs are all done is one index probe per partition (queue/pending);
		// the full counts read every open job, so only the verbose progress line asks for them.
		for _, c := range conns {
			if _, done := doneAt[c.Name]; done {
				continue
			}
			if _, ok := walked[c.Name]; !ok {
				continue
			}
			pending, err := api.pending(ctx, c.App)
			if err != nil {
				return res, err
			}
			if !pending {
				doneAt[c.Name] = time.Now()
				r, err := api.rescan(ctx, ids[c.Name]) // its scanned count, now the queue is empty
				if err != nil {
					return res, err
				}
				scanned[c.Name] = r.Scanned
			}
		}
		if cfg.Progress != nil && time.Since(lastLog) > 5*time.Second {
			lastLog = time.Now()
			open, err := api.openJobs(ctx)
			if err != nil {
				return res, err
			}
			progress(cfg, "%d of %d connectors done; open scan jobs %v; gateway rss %.0f MiB", len(doneAt), len(conns), open, child.peakRSSMiB())
		}
	}
	after, err := api.providerCalls(ctx)
	if err != nil {
		return res, err
	}
	end := time.Now()
	// The gateway's cost ends here: counting the inventory below is the tool's work.
	cpu, rss := child.cpuSeconds()-cpu0, child.peakRSSMiB()
	var tot TotalResult
	for _, c := range conns {
		app := connectors.App(c.App)
		a := AppResult{Files: ten.seeded[app], Scanned: scanned[c.Name], Seconds: doneAt[c.Name].Sub(start).Seconds()}
		a.MetadataCalls = after[c.App].metadata - before[c.App].metadata
		a.ContentReads = after[c.App].content - before[c.App].content
		a.Throttled = after[c.App].throttled - before[c.App].throttled
		if a.Inventory, err = api.scannedFiles(ctx, c.App); err != nil {
			return res, err
		}
		a.finish()
		res.Apps[c.App] = a
		tot.Files += a.Files
		tot.MetadataCalls += a.MetadataCalls
		tot.ContentReads += a.ContentReads
		tot.Throttled += a.Throttled
		tot.Scanned += a.Scanned
		tot.Inventory += a.Inventory
	}
	tot.Seconds = end.Sub(start).Seconds()
	tot.AppResult.finish()
	tot.CPUSeconds, tot.PeakRSSMiB = cpu, rss
	res.Total = tot
	return res, nil
}

func (a *AppResult) finish() {
	if a.Seconds > 0 {
		a.FilesPerSecond = float64(a.Files) / a.Seconds
	}
	if a.Files > 0 {
		a.MetadataCallsPerFile = float64(a.MetadataCalls) / float64(a.Files)
		a.ContentReadsPerFile = float64(a.ContentReads) / float64(a.Files)
	}
}

// ---- the child process ----

type child struct {
	cmd    *exec.Cmd
	exited chan error
	done   bool
	err    error
	peak   float64
}

func buildLabelgate(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "labelgate")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/labelgate")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building labelgate: %v\n%s", err, out)
	}
	return bin, nil
}

func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run from inside the labelgate module (or pass -bin)")
	}
	return filepath.Dir(mod), nil
}

func startChild(ctx context.Context, bin, cfgPath, dir, cpuprofile string) (*child, error) {
	cmd := exec.Command(bin, "serve", "-config", cfgPath)
	cmd.Env = append(os.Environ(), "LABELGATE_CONFIG=", "LABELGATE_STORE_URL=", "LABELGATE_DATA_DIR=")
	if cpuprofile != "" {
		abs, err := filepath.Abs(cpuprofile)
		if err != nil {
			return nil, err
		}
		cmd.Env = append(cmd.Env, "LABELGATE_CPUPROFILE="+abs)
	}
	logf, err := os.Create(filepath.Join(dir, "gateway.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting labelgate: %w", err)
	}
	c := &child{cmd: cmd, exited: make(chan error, 1)}
	go func() {
		err := cmd.Wait()
		logf.Close()
		c.exited <- err
	}()
	return c, nil
}

// stop ends the gateway with SIGTERM (a graceful shutdown) and waits for it.
func (c *child) stop() error {
	if c.done {
		return c.err
	}
	c.peakRSSMiB()
	c.done = true
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case c.err = <-c.exited:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		c.err = <-c.exited
	}
	return c.err
}

// cpuSeconds is the child's user and system CPU time so far, from /proc/PID/stat.
func (c *child) cpuSeconds() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces, inside parentheses).
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

// peakRSSMiB is the child's peak resident set (VmHWM) in MiB.
func (c *child) peakRSSMiB() float64 {
	if c.done {
		return c.peak
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return c.peak
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			c.peak = max(c.peak, kb/1024)
		}
	}
	return c.peak
}

func waitReady(ctx context.Context, u string, c *child) error {
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gateway not ready: %w", ctx.Err())
		case err := <-c.exited:
			c.done, c.err = true, err
			return fmt.Errorf("gateway exited before it was ready: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return ""
	}
	defer l.Close()
	return l.Addr().String()
}

func writeBenchConfig(path, dir, public, admin, storeURL string, workers int, conns []config.Connector) error {
	queue := map[string]any{}
	if workers > 0 {
		queue["workers"] = workers
	}
	doc := map[string]any{
		"dataDir": filepath.Join(dir, "data"),
		"log":     map[string]any{"level": "warn", "format": "json"},
		"server":  map[string]any{"listen": public},
		"admin":   map[string]any{"listen": admin, "tokens": []map[string]string{{"name": "bench", "role": "admin", "token": benchToken}}},
		"store":   map[string]any{"url": storeURL},
		"queue":   queue,
		"labels":  map[string]any{"tenantId": labeltest.TenantContoso},
	}
	var cs []map[string]any
	for _, c := range conns {
		m := map[string]any{"name": c.Name, "app": c.App, "tenant": c.Tenant, "baseURL": c.BaseURL, "authURL": c.AuthURL,
			"domains": c.Domains}
		set := func(k string, v any, ok bool) {
			if ok {
				m[k] = v
			}
		}
		set("uploadURL", c.UploadURL, c.UploadURL != "")
		set("clientID", c.ClientID, c.ClientID != "")
		set("clientSecret", c.ClientSecret, c.ClientSecret != "")
		set("serviceAccountKey", c.ServiceAccountKey, c.ServiceAccountKey != "")
		set("adminEmail", c.AdminEmail, c.AdminEmail != "")
		set("users", c.Users, len(c.Users) > 0)
		set("primaryKey", c.PrimaryKey, c.PrimaryKey != "")
		set("secondaryKey", c.SecondaryKey, c.SecondaryKey != "")
		set("labelMode", c.LabelMode, c.LabelMode != "")
		set("labelMap", c.LabelMap, len(c.LabelMap) > 0)
		cs = append(cs, m)
	}
	doc["connectors"] = cs
	b, err := yaml.Marshal(doc)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// benchDatabase creates a fresh PostgreSQL database for the run and returns its URL and a
// function dropping it.
func benchDatabase(ctx context.Context, server string) (string, func(), error) {
	if server == "" {
		server = os.Getenv("LABELGATE_TEST_POSTGRES")
	}
	if server == "" {
		if b, err := os.ReadFile("/tmp/pgurl"); err == nil {
			server = strings.TrimSpace(string(b))
		}
	}
	if server == "" {
		return "", nil, errors.New("-store postgres needs -pg or $LABELGATE_TEST_POSTGRES")
	}
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		return "", nil, fmt.Errorf("postgres: %w", err)
	}
	name := fmt.Sprintf("labelgate_bench_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		conn.Close(ctx)
		return "", nil, fmt.Errorf("postgres: %w", err)
	}
	u, err := url.Parse(server)
	if err != nil {
		conn.Close(ctx)
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = conn.Exec(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		conn.Close(dctx)
	}
	return u.String(), drop, nil
}

// ---- the admin API and metrics ----

type benchAPI struct {
	base, metrics string
}

func (a *benchAPI) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+benchToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(raw)))
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

type benchRescan struct {
	ID      int64  `json:"id"`
	State   string `json:"state"`
	Error   string `json:"error"`
	Scanned int64  `json:"scanned"`
}

func (a *benchAPI) startRescan(ctx context.Context, connector string) (int64, error) {
	var r benchRescan
	err := a.do(ctx, http.MethodPost, "/api/v1/rescans", map[string]any{"connector": connector}, &r)
	return r.ID, err
}

func (a *benchAPI) rescan(ctx context.Context, id int64) (benchRescan, error) {
	var r benchRescan
	err := a.do(ctx, http.MethodGet, "/api/v1/rescans/"+strconv.FormatInt(id, 10), nil, &r)
	return r, err
}

// rescans lists the gateway's recent rescans by id (rows only, no per-rescan counts).
func (a *benchAPI) rescans(ctx context.Context) (map[int64]benchRescan, error) {
	var page struct {
		Items []benchRescan `json:"items"`
	}
	if err := a.do(ctx, http.MethodGet, "/api/v1/rescans", nil, &page); err != nil {
		return nil, err
	}
	out := make(map[int64]benchRescan, len(page.Items))
	for _, r := range page.Items {
		out[r.ID] = r
	}
	return out, nil
}

// pending asks whether any scan job of app is still open.
func (a *benchAPI) pending(ctx context.Context, app string) (bool, error) {
	var st struct {
		Pending bool `json:"pending"`
	}
	err := a.do(ctx, http.MethodGet, "/api/v1/queue/pending?app="+url.QueryEscape(app), nil, &st)
	return st.Pending, err
}

// openJobs counts scan jobs due, scheduled, retrying or running, per app.
func (a *benchAPI) openJobs(ctx context.Context) (map[string]int64, error) {
	var st struct {
		ByApp map[string]int64 `json:"byApp"`
	}
	err := a.do(ctx, http.MethodGet, "/api/v1/queue/stats", nil, &st)
	return st.ByApp, err
}

// scannedFiles pages through the inventory of app and counts files with a completed scan.
func (a *benchAPI) scannedFiles(ctx context.Context, app string) (int64, error) {
	var n int64
	tok := ""
	for {
		var page struct {
			Items []struct {
				LastScanned time.Time `json:"lastScanned"`
			} `json:"items"`
			Next string `json:"nextPageToken"`
		}
		q := url.Values{"app": {app}, "limit": {"1000"}}
		if tok != "" {
			q.Set("pageToken", tok)
		}
		if err := a.do(ctx, http.MethodGet, "/api/v1/files?"+q.Encode(), nil, &page); err != nil {
			return n, err
		}
		for _, it := range page.Items {
			if !it.LastScanned.IsZero() {
				n++
			}
		}
		if page.Next == "" || len(page.Items) == 0 {
			return n, nil
		}
		tok = page.Next
	}
}

type callCounts struct{ metadata, content, throttled int64 }

// providerCalls reads labelgate_provider_calls_total and labelgate_provider_throttled_total
// per app from the gateway's /metrics.
func (a *benchAPI) providerCalls(ctx context.Context) (map[string]callCounts, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.metrics, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]callCounts{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var name string
		switch {
		case strings.HasPrefix(line, "labelgate_provider_calls_total{"):
			name = "calls"
		case strings.HasPrefix(line, "labelgate_provider_throttled_total{"):
			name = "throttled"
		default:
			continue
		}
		labels := promLabels(line)
		sp := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		c := out[labels["app"]]
		switch {
		case name == "throttled":
			c.throttled = int64(v)
		case labels["kind"] == "metadata":
			c.metadata = int64(v)
		case labels["kind"] == "content":
			c.content = int64(v)
		}
		out[labels["app"]] = c
	}
	return out, sc.Err()
}

func promLabels(line string) map[string]string {
	out := map[string]string{}
	i, j := strings.IndexByte(line, '{'), strings.IndexByte(line, '}')
	if i < 0 || j < i {
		return out
	}
	for _, kv := range strings.Split(line[i+1:j], ",") {
		k, v, ok := strings.Cut(kv, "=")
		if ok {
			out[k] = strings.Trim(v, `"`)
		}
	}
	return out
}
