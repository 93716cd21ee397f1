package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/gateway"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

// Config shapes a demo run.
type Config struct {
	Files    int           // files in the generated tenant; default 300
	Duration time.Duration // how long the emulators keep changing files; default 30 s
	DataDir  string        // gateway data; "" = a temporary directory removed at the end
	Listen   string        // public (webhook) listener; default 127.0.0.1:0
	Admin    string        // admin API and console; default 127.0.0.1:0
	Exit     bool          // return after the summary instead of serving until ctx ends
	Seed     uint64        // tenant generator seed; default 1
	Tick     time.Duration // progress line interval; default 1 s
	Out      io.Writer     // progress and summary
	Logger   *slog.Logger  // gateway logs; default discard
}

// Policies are the demo's policies, adapted from testdata/policies/samples.yaml, and one
// sharing governance policy (issue 24): Confidential files shared with anyone lose the link.
const Policies = `policies:
  - id: box-confidential-external
    name: Confidential data externally shared on Box
    severity: high
    category: data-exposure
    filter:
      all:
        - app: [box]
        - label: {is: [Confidential], includeSublabels: true}
        - access: {in: [external, public]}
    actions:
      - alert:
          message: "Confidential file {{.Name}} in {{.Path}} is shared {{.Access}} on Box"
  - id: sharepoint-restricted-outside-finance
    name: Restricted data recently modified outside the Finance folder on SharePoint
    severity: critical
    category: data-placement
    filter:
      all:
        - app: [sharepoint]
        - label: {is: [Restricted]}
        - modifiedWithinDays: 7
        - not:
            folder: {under: [/Finance]}
    actions:
      - alert:
          severity: critical
          message: "Restricted file {{.Name}} was modified in {{.Path}}, outside /Finance"
  - id: label-card-numbers
    name: Label files with card numbers
    severity: medium
    category: auto-labelling
    filter:
      all:
        - fileType: [office, pdf]
        - label: {none: true}
        - content: {preset: creditCard, minCount: 1}
    actions:
      - applyLabel:
          label: Confidential
          onlyIfUnlabelled: true
  - id: confidential-public-links
    name: Confidential files shared with anyone
    severity: high
    category: data-exposure
    filter:
      all:
        - label: {is: [Confidential], includeSublabels: true}
        - access: {in: [public]}
    actions:
      - removePublicLinks:
          justification: "Confidential files may not be shared with anyone (demo policy)"
`

// Protection is the demo's labels.protection: Restricted files may be shared inside the
// organisation only; the gateway removes external access beyond that.
var Protection = config.ProtectionRules{{Label: "Restricted", MaxAccess: "internal"}}

// Summary is what the demo found and did.
type Summary struct {
	Files     map[connectors.App]map[string]int // app → label name → files
	Actions   map[string]map[string]int         // kind → state → actions
	Applied   int
	Unchanged int // label actions that found the file already in the target state
	Removed   int
	Refused   int
	// RefusedBy counts refused label actions by cause: protection, size, catalog, policy
	// condition, other. Quota-paused actions are not refused: they wait in Actions as paused.
	RefusedBy map[string]int
	Throttled int // 429s the emulators answered
	Changes   int // user changes the emulators made
	Rescans   map[string]string
	// WrittenByApp counts labels labelgate wrote, per app (Drive labels, Box
	// classifications, Graph sensitivity labels).
	WrittenByApp map[connectors.App]int
	// AccessChanged counts sharing changes logged; AccessWidened the access_widened alert
	// occurrences they raised (labelled files newly shared externally or publicly).
	AccessChanged int
	AccessWidened int
	// SharingRestricted counts access_restricted events: files whose grants a sharing action
	// (the demo's policy or its labels.protection rule) removed.
	SharingRestricted int
	AdminURL          string
	Token             string
	Discovered        int
}

// Run starts the emulated tenant and a gateway on it, rescans, churns, prints progress
// and the summary, then (unless cfg.Exit) serves the console until ctx ends.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	if cfg.Files <= 0 {
		cfg.Files = 300
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 30 * time.Second
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Admin == "" {
		cfg.Admin = "127.0.0.1:0"
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Second
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	out := cfg.Out
	var sum Summary
	dir := cfg.DataDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "labelgate-demo-")
		if err != nil {
			return sum, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return sum, fmt.Errorf("data directory: %w", err)
	}
	ten, err := NewTenant(cfg.Files, cfg.Seed, cfg.Logger)
	if err != nil {
		return sum, err
	}
	defer ten.Close()
	fmt.Fprintf(out, "emulated tenant: %d files (SharePoint %d, OneDrive %d, Google Drive %d, Box %d)\n", cfg.Files,
		ten.Seeded[connectors.AppSharePoint], ten.Seeded[connectors.AppOneDrive], ten.Seeded[connectors.AppGDrive], ten.Seeded[connectors.AppBox])

	gc := config.Default()
	gc.DataDir = dir
	gc.Server.Listen, gc.Admin.Listen = cfg.Listen, cfg.Admin
	gc.Labels.TenantID = labeltest.TenantContoso
	gc.Labels.Protection = Protection
	sum.Token = newToken()
	gc.Admin.Tokens = []config.Token{{Name: "demo", Role: "admin", Token: sum.Token}}
	if gc.Connectors, err = ten.Connectors(dir); err != nil {
		return sum, err
	}
	if errs := gc.Validate(); len(errs) > 0 {
		return sum, fmt.Errorf("demo config: %w", errs)
	}
	g, err := gateway.New(ctx, gc, gateway.Options{Logger: cfg.Logger, FeedPoll: 200 * time.Millisecond,
		SubscriptionCheck: time.Second, SchedulerTick: time.Second, ShutdownTimeout: 5 * time.Second})
	if err != nil {
		return sum, err
	}
	st := g.Store()
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- g.Run(runCtx) }()
	defer func() {
		stop()
		<-done
	}()
	sum.AdminURL = g.AdminURL()
	fmt.Fprintf(out, "console: %s/console/\nAPI:     %s  (export LABELGATE_SERVER=%s LABELGATE_TOKEN=%s)\ntoken:   %s\ndata:    %s\n",
		sum.AdminURL, sum.AdminURL, sum.AdminURL, sum.Token, sum.Token, dir)

	// The catalog first: policies name labels, which must exist.
	if _, err := g.SyncCatalog(ctx); err != nil {
		return sum, fmt.Errorf("catalog sync: %w", err)
	}
	// Through the gateway's own manager, so its scans see the policies at once.
	ids, err := g.Policies().Apply(ctx, []byte(Policies))
	if err != nil {
		return sum, fmt.Errorf("policies: %w", err)
	}
	// labels.protection's generated policies, now that the catalog names their labels (the
	// gateway retries every minute on its own; the demo cannot wait that long).
	if err := g.ApplyProtection(ctx); err != nil {
		return sum, fmt.Errorf("labels.protection: %w", err)
	}
	for _, r := range gc.Labels.Protection {
		ids = append(ids, r.PolicyID())
	}
	fmt.Fprintf(out, "policies: %s\n", strings.Join(ids, ", "))

	seeded := 0
	for _, n := range ten.Seeded {
		seeded += n
	}
	rescans := map[string]int64{}
	for _, c := range gc.Connectors {
		r, err := g.StartRescan(ctx, c.Name, "", false)
		if err != nil {
			return sum, fmt.Errorf("rescan %s: %w", c.Name, err)
		}
		rescans[c.Name] = r.ID
	}
	tick := time.NewTicker(cfg.Tick)
	defer tick.Stop()
	start := time.Now()
	// Phase 1: the first full rescan, until every connector's walk is done and the queue
	// has scanned what it found (or the duration is spent on it).
	for ctx.Err() == nil && time.Since(start) < 3*time.Minute {
		<-tick.C
		p := progress(ctx, st)
		fmt.Fprintf(out, "[%4.0fs] rescan: discovered %d, scanned %d, actions %d\n", time.Since(start).Seconds(), p.discovered, p.scanned, p.actions)
		// Discovered counts scanned files only: queued ones are not in the inventory yet.
		if rescansDone(ctx, st, rescans) && p.discovered >= int64(seeded) {
			break
		}
	}
	// Phase 2: users keep working; every change reaches labelgate as a webhook, and the
	// providers throttle now and then, which the change-feed readers must ride out.
	sum.Throttled = ten.Throttle()
	for _, c := range ten.Share() {
		if c.Err == nil {
			sum.Changes++
		} else {
			cfg.Logger.Warn("demo change", "app", c.App, "what", c.What, "err", c.Err)
		}
	}
	end := time.Now().Add(cfg.Duration)
	churn := time.NewTicker(150 * time.Millisecond)
	defer churn.Stop()
	for ctx.Err() == nil && time.Now().Before(end) {
		select {
		case <-ctx.Done():
		case <-churn.C:
			if c := ten.Churn(); c.Err == nil {
				sum.Changes++
			} else {
				cfg.Logger.Warn("demo change", "app", c.App, "what", c.What, "err", c.Err)
			}
		case <-tick.C:
			p := progress(ctx, st)
			fmt.Fprintf(out, "[%4.0fs] live:   discovered %d, scanned %d, actions %d, changes %d\n", time.Since(start).Seconds(), p.discovered, p.scanned, p.actions, sum.Changes)
		}
	}
	// Let the last webhooks and actions land (and the opening sharing changes be seen).
	settle := time.Now().Add(15 * time.Second)
	for ctx.Err() == nil && time.Now().Before(settle) {
		if p := progress(ctx, st); p.scanned >= p.discovered && p.unfinished == 0 && p.accessChanged > 0 {
			break
		}
		<-tick.C
	}
	sctx := context.WithoutCancel(ctx)
	sum.Rescans = map[string]string{}
	for name, id := range rescans {
		r, err := st.GetRescan(sctx, id)
		if err == nil {
			sum.Rescans[name] = r.State
		}
	}
	if err := summarize(sctx, st, &sum); err != nil {
		return sum, err
	}
	PrintSummary(out, sum)
	if cfg.Exit {
		return sum, nil
	}
	fmt.Fprintf(out, "\nconsole: %s/console/  token: %s\nserving until Ctrl-C\n", sum.AdminURL, sum.Token)
	<-ctx.Done()
	return sum, nil
}

type prog struct{ discovered, scanned, actions, unfinished, accessChanged int64 }

func progress(ctx context.Context, st *store.Store) prog {
	var p prog
	_ = st.EachFile(ctx, store.FileFilter{}, func(fr store.FileRecord) error {
		p.discovered++
		if !fr.LastScanned.IsZero() {
			p.scanned++
		}
		return nil
	})
	if evs, err := st.ListEvents(ctx, store.EventFilter{Kind: store.EventAccessChanged}, 1); err == nil {
		p.accessChanged = int64(len(evs))
	}
	if m, err := st.CountActions(ctx); err == nil {
		for state, n := range m {
			p.actions += n
			switch state {
			case store.ActionPending, store.ActionRunning:
				p.unfinished += n
			}
		}
	}
	return p
}

func rescansDone(ctx context.Context, st *store.Store, ids map[string]int64) bool {
	for _, id := range ids {
		r, err := st.GetRescan(ctx, id)
		if err != nil || r.State == store.RescanRunning {
			return false
		}
	}
	return true
}

func labelName(id string, external bool) string {
	switch {
	case id == "":
		return "(none)"
	case external:
		return "(other tenant)"
	case id == LabelPublic:
		return "Public"
	case id == LabelGeneral:
		return "General"
	case id == LabelConfidential:
		return "Confidential"
	case id == LabelRestricted:
		return "Restricted"
	case id == LabelRestrictedFi:
		return "Restricted - Finance"
	}
	return id
}

func summarize(ctx context.Context, st *store.Store, sum *Summary) error {
	sum.Files = map[connectors.App]map[string]int{}
	err := st.EachFile(ctx, store.FileFilter{}, func(fr store.FileRecord) error {
		m := sum.Files[fr.Ref.App]
		if m == nil {
			m = map[string]int{}
			sum.Files[fr.Ref.App] = m
		}
		name := labelName(fr.LabelID, fr.LabelExternal)
		if fr.Protected {
			m["(protected)"]++
		}
		m[name]++
		sum.Discovered++
		return nil
	})
	if err != nil {
		return err
	}
	acts, err := st.ListActions(ctx, store.ActionFilter{Limit: 100000})
	if err != nil {
		return err
	}
	sum.Actions = map[string]map[string]int{}
	for _, a := range acts {
		if sum.Actions[a.Kind] == nil {
			sum.Actions[a.Kind] = map[string]int{}
		}
		sum.Actions[a.Kind][a.State]++
		if a.State == store.ActionRefused && (a.Kind == store.ActionApplyLabel || a.Kind == store.ActionRemoveLabel) {
			if sum.RefusedBy == nil {
				sum.RefusedBy = map[string]int{}
			}
			sum.RefusedBy[refusalCause(a.Reason)]++
		}
	}
	for kind, n := range map[string]*int{store.EventLabelApplied: &sum.Applied, store.EventLabelCleared: &sum.Removed,
		store.EventActionRefused: &sum.Refused, store.EventLabelUnchanged: &sum.Unchanged, store.EventAccessChanged: &sum.AccessChanged,
		store.EventAccessRestricted: &sum.SharingRestricted} {
		evs, err := st.ListEvents(ctx, store.EventFilter{Kind: kind}, 100000)
		if err != nil {
			return err
		}
		*n = len(evs)
		if kind == store.EventLabelApplied {
			sum.WrittenByApp = map[connectors.App]int{}
			for _, e := range evs {
				sum.WrittenByApp[e.App]++
			}
		}
	}
	var before int64
	for {
		as, err := st.ListAlerts(ctx, store.AlertFilter{Rule: "access_widened", BeforeID: before, Limit: 1000})
		if err != nil {
			return err
		}
		for _, a := range as {
			sum.AccessWidened += int(a.Count)
		}
		if len(as) < 1000 {
			return nil
		}
		before = as[len(as)-1].ID
	}
}

// PrintSummary writes the end-of-demo report.
func PrintSummary(w io.Writer, s Summary) {
	fmt.Fprintf(w, "\n== labelgate demo summary ==\nfiles discovered: %d\n", s.Discovered)
	apps := make([]string, 0, len(s.Files))
	for a := range s.Files {
		apps = append(apps, string(a))
	}
	sort.Strings(apps)
	for _, a := range apps {
		m := s.Files[connectors.App(a)]
		total := 0
		var parts []string
		for _, l := range sortedKeys(m) {
			if l != "(protected)" {
				total += m[l]
			}
			parts = append(parts, fmt.Sprintf("%s %d", l, m[l]))
		}
		fmt.Fprintf(w, "  %-11s %4d  %s\n", a, total, strings.Join(parts, ", "))
	}
	fmt.Fprintln(w, "policy actions:")
	if len(s.Actions) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	for _, k := range sortedKeys(s.Actions) {
		var parts []string
		for _, st := range sortedKeys(s.Actions[k]) {
			parts = append(parts, fmt.Sprintf("%s %d", st, s.Actions[k][st]))
		}
		fmt.Fprintf(w, "  %-22s %s\n", k, strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "labels: written %d, already in place %d, removed %d, refused %d", s.Applied, s.Unchanged, s.Removed, s.Refused)
	if len(s.RefusedBy) > 0 {
		var parts []string
		for _, c := range sortedKeys(s.RefusedBy) {
			parts = append(parts, fmt.Sprintf("%s %d", c, s.RefusedBy[c]))
		}
		fmt.Fprintf(w, " (%s)", strings.Join(parts, ", "))
	}
	if n := s.Actions[store.ActionApplyLabel][store.ActionPaused]; n > 0 {
		fmt.Fprintf(w, "; %d paused by the daily quota until the 12:00 UTC reset", n)
	}
	fmt.Fprintln(w)
	if len(s.WrittenByApp) > 0 {
		// What "written" means per app: a Drive label choice, a Box classification, a
		// sensitivity label through Graph, a label inside the file.
		what := map[string]string{"gdrive": "Drive labels", "box": "classifications", "sharepoint": "sensitivity labels",
			"onedrive": "sensitivity labels", "fileshare": "embedded labels"}
		var parts []string
		for _, a := range sortedKeys(appKeys(s.WrittenByApp)) {
			parts = append(parts, fmt.Sprintf("%s %d %s", a, s.WrittenByApp[connectors.App(a)], what[a]))
		}
		fmt.Fprintf(w, "labels written by app: %s\n", strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "sharing changes recorded: %d (access_widened alerts: %d)\n", s.AccessChanged, s.AccessWidened)
	fmt.Fprintf(w, "sharing restricted: %d\n", s.SharingRestricted)
	fmt.Fprintf(w, "user changes sent as webhooks: %d\nthrottling survived: %d injected 429 answers\n", s.Changes, s.Throttled)
	var rs []string
	for _, n := range sortedKeys(s.Rescans) {
		rs = append(rs, n+" "+s.Rescans[n])
	}
	fmt.Fprintf(w, "first rescans: %s\n", strings.Join(rs, ", "))
}

// refusalCause sorts an executor refusal into the classes an admin asks about.
func refusalCause(reason string) string {
	switch r := strings.ToLower(reason); {
	case strings.Contains(r, "protect"):
		return "protection"
	case strings.Contains(r, "50 mb"):
		return "size"
	case strings.Contains(r, "catalog"):
		return "catalog"
	case strings.Contains(r, "policy"), strings.Contains(r, "priority"):
		return "policy condition"
	default:
		return "other"
	}
}

func appKeys(m map[connectors.App]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[string(k)] = v
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "demo-" + hex.EncodeToString(b[:])
}
