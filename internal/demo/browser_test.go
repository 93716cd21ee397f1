package demo

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
)

// cardPolicy is the demo policy that labels files with card numbers; the browser test
// runs with no automatic label allowance, so its actions wait paused for the quota.
const cardPolicy = "label-card-numbers"

// browser is a headless Chromium tab on the console, with its screenshots and the page
// errors (exceptions, CSP violations) it saw.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string
	shot int

	mu   sync.Mutex
	errs []string
}

// chromiumPath finds Debian's chromium; without it the test skips locally and fails in CI,
// which installs it.
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (apt-get install chromium)")
	}
	t.Skip("chromium is not installed; the console browser tests need it (apt-get install chromium)")
	return ""
}

// screenshotDir is $LABELGATE_TEST_OUTPUT/<test> when set, so CI can keep the pictures.
func screenshotDir(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "screenshots")
	if base := os.Getenv("LABELGATE_TEST_OUTPUT"); base != "" {
		dir = filepath.Join(base, t.Name())
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	t.Logf("console screenshots: %s", dir)
	return dir
}

func newBrowser(t *testing.T, ctx context.Context, base string) *browser {
	exe := chromiumPath(t)
	// No network beyond the loopback console: background fetches would only hang or fail.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: bctx, base: strings.TrimSuffix(base, "/"), dir: screenshotDir(t)}
	require.NoError(t, chromedp.Do(bctx), "start chromium")
	require.NoError(t, chromedp.Listen(bctx, b.event))
	return b
}

// event records what a working page never produces: uncaught exceptions, console errors
// and browser log errors such as a Content-Security-Policy violation.
func (b *browser) event(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		msg = "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			msg += " " + ev.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			msg = "console.error"
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError {
			msg = fmt.Sprintf("%s: %s (%s)", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
		}
	}
	if msg != "" {
		b.mu.Lock()
		b.errs = append(b.errs, msg)
		b.mu.Unlock()
	}
}

func (b *browser) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.errs)
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	require.NoError(b.t, chromedp.Do(b.ctx, steps...))
}

// submit clicks a control that navigates (a form button) and waits for the new page.
func (b *browser) submit(sel string) {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel)))
	require.NoError(b.t, err, "submit %s", sel)
	require.Equal(b.t, int64(200), resp.Status, "submit %s: %s", sel, resp.URL)
}

func (b *browser) open(path string) {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Navigate(b.base+path))
	require.NoError(b.t, err, "open %s", path)
	require.Equal(b.t, int64(200), resp.Status, "open %s", path)
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(b.t, err, "text of %s", sel)
	return strings.TrimSpace(s)
}

func (b *browser) number(sel string) int {
	b.t.Helper()
	n, err := strconv.Atoi(b.text(sel))
	require.NoError(b.t, err, sel)
	return n
}

func (b *browser) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err, "screenshot %s", name)
	b.shot++
	require.NoError(b.t, os.WriteFile(filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.shot, name)), png, 0o644))
}

// startDemo brings up a small demo tenant whose policy actions wait for the quota (no
// automatic allowance) and returns once the first rescans have scanned every file and the
// card-number policy's actions are paused.
func startDemo(t *testing.T, ctx context.Context) (*Handle, *store.Store) {
	// The first rescans take about 10 s alone under -race and 50 s beside other packages'
	// tests; in CI's full parallel run once over 120 s. They are waited for generously, and
	// how long they took is logged.
	logs := &syncBuffer{}
	began := time.Now()
	h, err := Start(ctx, Config{Files: 40, DataDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))}, func(c *config.Config) {
		c.Quota = config.Quota{Default: 0, Manual: 50}
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, h.Close()) })
	st := h.Gateway.Store()
	if !assert.Eventually(t, func() bool {
		p := progress(ctx, st)
		return rescansDone(ctx, st, h.Rescans) && p.scanned >= int64(h.Seeded)
	}, 240*time.Second, 100*time.Millisecond, "the first rescans never scanned all %d files", h.Seeded) {
		// Say where it stood, so a failure in CI can be read without a rerun.
		t.Logf("gateway log:\n%s", logs.String())
		for name, id := range h.Rescans {
			r, err := st.GetRescan(ctx, id)
			t.Logf("rescan %s (%d): %+v %v", name, id, r, err)
		}
		_ = st.EachFile(ctx, store.FileFilter{}, func(fr store.FileRecord) error {
			if fr.LastScanned.IsZero() {
				t.Logf("not scanned: %s %s (%s)", fr.Ref.App, fr.Name, fr.Ref.ItemID)
			}
			return nil
		})
		t.FailNow()
	}
	t.Logf("first rescans scanned all %d files in %v", h.Seeded, time.Since(began).Round(time.Millisecond))
	if os.Getenv("DEMO_LOG") != "" {
		t.Logf("gateway log:\n%s", logs.String())
	}
	require.Eventually(t, func() bool {
		acts, err := st.ListActions(ctx, store.ActionFilter{PolicyID: cardPolicy, Limit: 1000})
		if err != nil || len(acts) == 0 {
			return false
		}
		for _, a := range acts {
			if a.State != store.ActionPaused {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "the card-number policy's actions never paused for the quota")
	return h, st
}

// labelTarget picks a SharePoint or OneDrive file an admin would label General from the
// drawer: readable, labelled by nobody or as Public, and with no policy action of its own.
func labelTarget(t *testing.T, ctx context.Context, st *store.Store) store.FileRecord {
	for _, app := range []connectors.App{connectors.AppSharePoint, connectors.AppOneDrive} {
		recs, _, err := st.ListFiles(ctx, store.FileFilter{App: app}, "", 100)
		require.NoError(t, err)
		for _, fr := range recs {
			if fr.Protected || fr.LabelExternal || fr.ScanError != "" || (fr.LabelID != "" && fr.LabelID != LabelPublic) {
				continue
			}
			acts, err := st.ListActions(ctx, store.ActionFilter{Ref: &fr.Ref, Limit: 10})
			require.NoError(t, err)
			if len(acts) == 0 {
				return fr
			}
		}
	}
	t.Fatal("the demo tenant has no unlabelled or Public Microsoft 365 file to label")
	return store.FileRecord{}
}

// TestConsoleInBrowser drives the admin console in headless Chromium against the demo
// tenant: sign in, the dashboard, the files filter, the label drawer down to the emulator,
// disabling a policy with waiting actions, and the quota and queue pages.
func TestConsoleInBrowser(t *testing.T) {
	t.Parallel()
	chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	h, st := startDemo(t, ctx)
	b := newBrowser(t, ctx, h.AdminURL)

	// Sign in with the demo's admin token.
	b.open("/console/")
	b.do(chromedp.WaitVisible(chromedp.CSS("#token")))
	b.screenshot("login")
	b.do(chromedp.SendKeys(chromedp.CSS("#token"), h.Token))
	b.submit("#signin")
	b.do(chromedp.WaitVisible(chromedp.CSS("#total-files")))
	b.screenshot("dashboard")
	counts, err := st.FileCounts(ctx)
	require.NoError(t, err)
	var total int64
	for _, fc := range counts {
		total += fc.N
	}
	require.Equal(t, strconv.FormatInt(total, 10), b.text("#total-files"))
	require.Contains(t, b.text("#by-label"), "Confidential")
	// Recent events name paths and labels as people read them: no "//root" paths, no ids.
	recent := b.text("main table.list")
	require.NotContains(t, recent, "//")
	require.NotContains(t, recent, LabelConfidential)

	// Files: filtering by a label lists exactly the inventory's files with it.
	b.open("/console/files")
	b.do(chromedp.SetValue(chromedp.CSS("#filter-label"), LabelConfidential))
	b.submit("#apply-filters")
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	require.NoError(t, err)
	require.Contains(t, loc, "label="+LabelConfidential)
	b.screenshot("files-confidential")
	rows, err := chromedp.Run(b.ctx, chromedp.Evaluate[[][]string](
		`Array.from(document.querySelectorAll("#files tr.file-row")).map(r => [r.dataset.id, r.querySelector("td.label").textContent.trim()])`))
	require.NoError(t, err)
	want, _, err := st.ListFiles(ctx, store.FileFilter{LabelID: LabelConfidential}, "", 100)
	require.NoError(t, err)
	require.NotEmpty(t, want)
	var wantIDs, gotIDs []string
	for _, fr := range want {
		wantIDs = append(wantIDs, admin.FileID(fr.Ref))
	}
	for _, r := range rows {
		gotIDs = append(gotIDs, r[0])
		require.Equal(t, "Confidential", r[1], "row %s", r[0])
	}
	require.ElementsMatch(t, wantIDs, gotIDs)

	// The drawer: open a file in place, apply General, and see it land in the emulator.
	target := labelTarget(t, ctx, st)
	id := admin.FileID(target.Ref)
	b.open("/console/files?app=" + string(target.Ref.App))
	b.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr[data-id=%q] a.open`, id))),
		chromedp.WaitVisible(chromedp.CSS("#drawer-body")))
	require.Contains(t, b.text("#drawer-body h2"), target.Name)
	b.screenshot("drawer")
	b.do(chromedp.SetValue(chromedp.CSS("#apply-label"), LabelGeneral),
		chromedp.SendKeys(chromedp.CSS("#apply-form input[name=justification]"), "browser test"))
	b.submit("#apply-button")
	require.Contains(t, b.text("#flash"), "queued")
	require.Eventually(t, func() bool { return h.Tenant.Graph.FileLabel(target.Ref.ItemID) == LabelGeneral },
		30*time.Second, 50*time.Millisecond, "the label never reached the Graph emulator")
	require.Eventually(t, func() bool {
		resp, err := chromedp.RunResponse(b.ctx, chromedp.Navigate(b.base+"/console/file?id="+id))
		if err != nil || resp.Status != 200 {
			return false
		}
		label, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("#drawer-label")))
		if err != nil || strings.TrimSpace(label) != "General" {
			return false
		}
		acts, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("#drawer-actions")))
		return err == nil && strings.Contains(acts, store.ActionDone) && strings.Contains(acts, store.ActionApplyLabel+" General")
	}, 30*time.Second, 200*time.Millisecond, "the drawer never showed the applied label and its done action")
	b.screenshot("drawer-applied")

	// Policies: disabling the card-number policy suspends its actions waiting on the quota.
	paused, err := st.ListActions(ctx, store.ActionFilter{PolicyID: cardPolicy, Limit: 1000})
	require.NoError(t, err)
	row := "#policy-" + cardPolicy
	b.open("/console/policies")
	require.Equal(t, "enabled", b.text(row+" td.state"))
	require.Equal(t, len(paused), b.number(row+" td.pending"))
	require.Zero(t, b.number(row+" td.suspended"))
	b.screenshot("policies")
	b.submit(row + " button.toggle")
	require.Contains(t, b.text("#flash"), "suspended")
	require.Equal(t, "disabled", b.text(row+" td.state"))
	require.Zero(t, b.number(row+" td.pending"))
	require.Equal(t, len(paused), b.number(row+" td.suspended"))
	b.screenshot("policy-disabled")
	after, err := st.ListActions(ctx, store.ActionFilter{PolicyID: cardPolicy, Limit: 1000})
	require.NoError(t, err)
	require.Len(t, after, len(paused))
	for _, a := range after {
		require.Equal(t, store.ActionSuspended, a.State, "action %d", a.ID)
	}

	// Quotas show the admin's label write; the queue page renders its stats.
	b.open("/console/quotas")
	b.do(chromedp.WaitVisible(chromedp.CSS("#quotas")))
	require.Contains(t, b.text("#quotas"), string(target.Ref.App))
	b.screenshot("quotas")
	b.open("/console/queue")
	b.do(chromedp.WaitVisible(chromedp.CSS("#queue-stats")), chromedp.WaitVisible(chromedp.CSS("#dead")))
	b.screenshot("queue")

	require.Empty(t, b.pageErrors(), "the console's pages reported errors")
}

// a11yScript checks what a keyboard or screen-reader user needs on every page: a language,
// one h1, every visible form control with an accessible name, every button named, every
// link with text, no positive tabindex, and body text with a contrast ratio of at least
// 4.5:1 (WCAG AA) against the nearest opaque background.
const a11yScript = `(() => {
  const problems = [];
  const visible = el => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  if (!document.documentElement.lang) problems.push("html has no lang");
  if (document.querySelectorAll("h1").length !== 1) problems.push("want one h1, got " + document.querySelectorAll("h1").length);
  const named = el => (el.getAttribute("aria-label") || "").trim() || (el.labels && Array.from(el.labels).some(l => l.textContent.trim())) || (el.getAttribute("title") || "").trim();
  document.querySelectorAll("input:not([type=hidden]), select, textarea").forEach(el => {
    if (visible(el) && !named(el)) problems.push("unlabelled " + el.tagName.toLowerCase() + " name=" + el.name);
  });
  document.querySelectorAll("button").forEach(b => {
    if (visible(b) && !(b.textContent.trim() || (b.getAttribute("aria-label") || "").trim())) problems.push("unnamed button");
  });
  document.querySelectorAll("a[href]").forEach(a => {
    if (visible(a) && !(a.textContent.trim() || (a.getAttribute("aria-label") || "").trim())) problems.push("empty link " + a.getAttribute("href"));
  });
  document.querySelectorAll("[tabindex]").forEach(el => { if (el.tabIndex > 0) problems.push("positive tabindex"); });
  const rgb = s => { const m = s.match(/[\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 1]; };
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const bg = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor); if (c.length < 4 || c[3] > 0.5) return c; } return [255, 255, 255]; };
  let checked = 0;
  document.querySelectorAll("main td, main th, main p, main a, main label, main dd, main dt, main li, header a, main button").forEach(el => {
    if (!visible(el) || !el.textContent.trim() || checked > 400) return;
    checked++;
    const fg = rgb(getComputedStyle(el).color), b = bg(el);
    const l1 = lum(fg), l2 = lum(b);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    if (ratio < 4.5) problems.push("contrast " + ratio.toFixed(2) + " for " + el.tagName.toLowerCase() + " '" + el.textContent.trim().slice(0, 30) + "'");
  });
  return Array.from(new Set(problems));
})()`

// checkA11y runs a11yScript on the open page.
func (b *browser) checkA11y(page string) {
	b.t.Helper()
	problems, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](a11yScript))
	require.NoError(b.t, err, "a11y script on %s", page)
	require.Empty(b.t, problems, "accessibility problems on %s", page)
}

// keyboardReaches tabs through the page and reports whether focus reached sel.
func (b *browser) keyboardReaches(sel string) bool {
	b.t.Helper()
	for i := 0; i < 80; i++ {
		b.do(chromedp.KeyEvent("\t"))
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](fmt.Sprintf(`document.activeElement && document.activeElement.matches(%q)`, sel)))
		require.NoError(b.t, err)
		if ok {
			return true
		}
	}
	return false
}

// TestConsolePagesInBrowser visits every console page of issue 23 in headless Chromium
// against the demo tenant after some churn: Alerts (ack), Activity (filter, exports),
// Actions (cancel), Rescans, Quotas, Queue, Files (count, sort, CSV) and the drawer, at a
// laptop and a phone width, with a screenshot of each and basic accessibility checks.
func TestConsolePagesInBrowser(t *testing.T) {
	t.Parallel()
	chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	h, st := startDemo(t, ctx)
	// Sharing changes, recorded and alerted (issue 23).
	for _, c := range h.Tenant.Share() {
		require.NoError(t, c.Err, c.What)
	}
	require.Eventually(t, func() bool {
		evs, err := st.ListEvents(ctx, store.EventFilter{Kind: store.EventAccessChanged}, 10)
		return err == nil && len(evs) > 0
	}, 60*time.Second, 200*time.Millisecond, "no sharing change was recorded")
	// The alerts engine tails the discovery log on its own poll: the page is looked at once
	// it has raised something (on a fast machine the test reached the page first).
	require.Eventually(t, func() bool {
		as, err := st.ListAlerts(ctx, store.AlertFilter{Limit: 1})
		return err == nil && len(as) > 0
	}, 60*time.Second, 200*time.Millisecond, "the demo raised no alert")
	b := newBrowser(t, ctx, h.AdminURL)
	b.open("/console/login")
	b.checkA11y("login")
	b.do(chromedp.SendKeys(chromedp.CSS("#token"), h.Token))
	b.submit("#signin")
	b.do(chromedp.WaitVisible(chromedp.CSS("#total-files")))
	b.checkA11y("dashboard")
	checkDashboardCharts(t, ctx, b, st)

	// Alerts: the inbox shows the demo's alerts; acknowledging one works from the page.
	b.open("/console/alerts?state=all")
	b.do(chromedp.WaitVisible(chromedp.CSS("#alerts")))
	require.NotEqual(t, "0", b.text("#alerts-count"), "the demo raised alerts")
	b.screenshot("alerts")
	b.checkA11y("alerts")
	b.open("/console/alerts")
	if n, _ := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#alerts button.ack").length`)); n > 0 {
		require.True(t, b.keyboardReaches("#alerts button.ack"), "the Acknowledge button is reachable by keyboard")
		b.submit("#alerts button.ack")
		require.Contains(t, b.text("#flash"), "acknowledged")
		b.screenshot("alert-acknowledged")
	}

	// Activity: sharing changes are there in words; filtering and both exports work.
	b.open("/console/activity")
	b.do(chromedp.WaitVisible(chromedp.CSS("#activity")))
	b.screenshot("activity")
	b.checkA11y("activity")
	b.do(chromedp.SetValue(chromedp.CSS("#filter-kind"), store.EventAccessChanged))
	b.submit("#activity-apply")
	require.Contains(t, b.text("#activity"), "Sharing changed")
	require.NotContains(t, b.text("#activity"), "File discovered")
	b.screenshot("activity-sharing")
	for _, sel := range []string{"#export-csv", "#export-jsonl"} {
		href, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).href`, sel)))
		require.NoError(t, err)
		body, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`fetch(%q).then(r => r.text())`, href), chromedp.EvalAwaitPromise))
		require.NoError(t, err)
		require.Contains(t, body, store.EventAccessChanged, sel)
		require.NotContains(t, body, store.EventDiscovered, sel)
	}

	// Actions: newest first; the card policy's paused actions say why.
	b.open("/console/actions")
	b.do(chromedp.WaitVisible(chromedp.CSS("#actions")))
	b.screenshot("actions")
	b.checkA11y("actions")
	b.open("/console/actions?state=paused")
	require.Contains(t, b.text("#actions"), "paused")
	b.submit("#actions button.danger")
	require.Contains(t, b.text("#flash"), "canceled")
	b.screenshot("action-canceled")

	for _, p := range []struct{ path, sel, name string }{
		{"/console/rescans", "#rescans", "rescans"}, {"/console/quotas", "#quotas", "quotas-readable"},
		{"/console/queue", "#queue-stats", "queue-readable"}, {"/console/policies?whatif=" + cardPolicy, "#policies", "policy-whatif"},
	} {
		b.open(p.path)
		b.do(chromedp.WaitVisible(chromedp.CSS(p.sel)))
		b.screenshot(p.name)
		b.checkA11y(p.name)
	}
	require.Contains(t, b.text("#policy-"+cardPolicy+" td.whatif"), "files match")
	require.NotContains(t, b.text("#policy-"+cardPolicy+" td.whatif"), "{", "counts, not JSON")
	checkPolicyPage(t, ctx, b, st)
	b.open("/console/rescans")
	require.Contains(t, b.text("#rescans"), "done")
	b.open("/console/quotas")
	require.Contains(t, b.text("#quota-reset"), "UTC")

	// Files: the count matches the inventory, the CSV has every row, the drawer has headers
	// and sharing details.
	b.open("/console/files")
	n, err := st.CountFiles(ctx, store.FileFilter{})
	require.NoError(t, err)
	require.Equal(t, strconv.FormatInt(n, 10), b.text("#files-count"))
	b.checkA11y("files")
	csvText, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`fetch(document.querySelector("#files-csv").href).then(r => r.text())`, chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	require.Len(t, strings.Split(strings.TrimSpace(csvText), "\n"), int(n)+1)
	b.do(chromedp.Click(chromedp.CSS("#files tr.file-row a.open")), chromedp.WaitVisible(chromedp.CSS("#drawer-body")))
	require.Contains(t, b.text("#drawer-sharing"), "Link scope")
	require.Contains(t, b.text("#drawer-history"), "When")
	b.screenshot("drawer-details")

	// A phone-width window: nothing wider than the screen but the tables' own scrollers.
	b.do(chromedp.EmulateViewport(390, 844))
	for _, p := range []string{"/console/", "/console/alerts", "/console/activity", "/console/policies"} {
		b.open(p)
		wide, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 2`))
		require.NoError(t, err)
		require.False(t, wide, "%s overflows a 390 px screen", p)
	}
	b.screenshot("phone-activity")
	require.Empty(t, b.pageErrors(), "the console's pages reported errors")
}

// checkDashboardCharts reads the dashboard's charts against the store: the sensitive
// exposure count uses the default console.sensitivePriority (2), so a Public file shared
// publicly is not in it; the coverage trend ends at the inventory; every chart colour keeps
// 3:1 contrast on white (WCAG 1.4.11).
func checkDashboardCharts(t *testing.T, ctx context.Context, b *browser, st *store.Store) {
	t.Helper()
	labels, err := st.ListLabels(ctx, store.LabelFilter{})
	require.NoError(t, err)
	prio := map[string]int{}
	for _, l := range labels {
		if !l.External {
			prio[l.ID] = l.Priority
		}
	}
	counts, err := st.FileCounts(ctx)
	require.NoError(t, err)
	var exposed, publicPublic, labelled, total int64
	for _, fc := range counts {
		total += fc.N
		if fc.LabelID != "" {
			labelled += fc.N
		}
		p, org := prio[fc.LabelID]
		outside := fc.Access == connectors.AccessExternal || fc.Access == connectors.AccessPublic
		if org && p >= 2 && outside {
			exposed += fc.N
		}
		if fc.LabelID == LabelPublic && fc.Access == connectors.AccessPublic {
			publicPublic += fc.N
		}
	}
	b.do(chromedp.ScrollIntoView(chromedp.CSS("#exposure-matrix")))
	b.screenshot("dashboard-charts")
	require.Equal(t, strconv.FormatInt(exposed, 10), b.text("#sensitive-exposed"))
	hotOutsideSensitive, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#exposure-matrix tr:not(.sensitive) td.hot").length`))
	require.NoError(t, err)
	require.Zero(t, hotOutsideSensitive, "only sensitive rows are marked")
	if publicPublic > 0 {
		pub, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll("#exposure-matrix tbody tr")).filter(r => r.querySelector("th").textContent.trim().startsWith("Public")).map(r => r.className + "|" + r.querySelector("td[data-access=public]").textContent)[0] || ""`))
		require.NoError(t, err)
		require.Equal(t, "|"+strconv.FormatInt(publicPublic, 10), pub, "Public · public is counted, and not sensitive")
	}
	last, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll("#coverage circle title")).pop().textContent`))
	require.NoError(t, err)
	require.Contains(t, last, fmt.Sprintf(": %d of %d files labelled", labelled, total))
	ticks, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#coverage text")).map(t => t.textContent)`))
	require.NoError(t, err)
	require.Contains(t, ticks, "100%")
	require.Contains(t, ticks, time.Now().UTC().Format("Jan 2"), "the x axis is dated, today last")
	low, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`(() => {
  const rgb = s => s.match(/[\d.]+/g).map(Number);
  const lum = c => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const out = [];
  document.querySelectorAll("svg.hbar rect, .swatch").forEach(el => {
    const cs = getComputedStyle(el);
    const c = rgb(el.tagName === "rect" ? cs.fill : cs.backgroundColor);
    const ratio = 1.05 / (lum(c) + 0.05);
    if (ratio < 3) out.push(el.getAttribute("class") + " " + ratio.toFixed(2));
  });
  return out;
})()`))
	require.NoError(t, err)
	require.Empty(t, low, "chart colours under 3:1 on white")
	classes, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`Array.from(new Set(Array.from(document.querySelectorAll("#by-label rect")).map(r => getComputedStyle(r).fill)))`))
	require.NoError(t, err)
	require.Greater(t, len(classes), 2, "labels are drawn in several colours")
}

// checkPolicyPage shows the stored policy set as YAML, refuses an invalid document with its
// problems inline and nothing stored, then applies a valid one from the page.
func checkPolicyPage(t *testing.T, ctx context.Context, b *browser, st *store.Store) {
	t.Helper()
	before, err := st.ListPolicies(ctx)
	require.NoError(t, err)
	b.open("/console/policies")
	b.do(chromedp.WaitVisible(chromedp.CSS("#policy-doc")))
	require.Contains(t, b.textAll("#policy-yaml"), "id: "+cardPolicy)
	b.checkA11y("policy-set")
	require.True(t, b.keyboardReaches("#policy-apply"), "Validate and apply is reachable by keyboard")

	bad := "policies:\n  - {id: browser-new, name: New, severity: low, matchAll: true, actions: [{alert: {message: m}}]}\n" +
		"  - {id: browser-bad, name: Bad, severity: low, filter: {label: {is: [No Such Label]}}, actions: [{alert: {message: m}}]}\n"
	b.do(chromedp.SetValue(chromedp.CSS("#policy-doc"), bad))
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS("#policy-apply")))
	require.NoError(t, err)
	require.Equal(t, int64(422), resp.Status, "a refused document answers 422")
	b.expectError("status of 422", "/console/policies/apply")
	b.do(chromedp.WaitVisible(chromedp.CSS("#policy-errors")))
	errs := b.text("#policy-errors")
	require.Contains(t, errs, "browser-bad")
	require.Contains(t, errs, "filter.label.is[0]")
	require.Contains(t, errs, "No Such Label")
	draft, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#policy-doc")))
	require.NoError(t, err)
	require.Contains(t, draft, "browser-bad", "the draft stays for correcting")
	b.screenshot("policy-set-invalid")
	b.checkA11y("policy-set-invalid")
	after, err := st.ListPolicies(ctx)
	require.NoError(t, err)
	require.Len(t, after, len(before), "nothing was stored")

	good := "policies:\n  - id: browser-confidential-outside\n    name: Confidential shared outside\n    severity: high\n" +
		"    filter: {all: [{label: {is: [Confidential]}}, {access: {atLeast: external}}]}\n    actions: [{alert: {message: confidential file shared outside}}]\n"
	b.do(chromedp.SetValue(chromedp.CSS("#policy-doc"), good))
	// Check and preview: the counts over the inventory, before anything is stored.
	b.submit("#policy-preview-button")
	row := "#preview-browser-confidential-outside"
	require.Contains(t, b.text(row), "new")
	var matched int64
	counts, err := st.FileCounts(ctx)
	require.NoError(t, err)
	for _, fc := range counts {
		if fc.LabelID == LabelConfidential && (fc.Access == connectors.AccessExternal || fc.Access == connectors.AccessPublic) {
			matched += fc.N
		}
	}
	require.True(t, strings.HasPrefix(b.text(row+" td.matched"), strconv.FormatInt(matched, 10)+" of "), "preview matches the inventory's Confidential files shared outside")
	_, err = st.GetPolicy(ctx, "browser-confidential-outside")
	require.ErrorIs(t, err, store.ErrNotFound, "a preview stores nothing")
	b.screenshot("policy-set-preview")
	b.checkA11y("policy-set-preview")
	b.submit("#policy-apply")
	require.Contains(t, b.text("#flash"), "applied 1 policies: browser-confidential-outside")
	require.Equal(t, "enabled", b.text("#policy-browser-confidential-outside td.state"))
	require.Contains(t, b.textAll("#policy-yaml"), "id: browser-confidential-outside")
	b.screenshot("policy-set-applied")
	p, err := st.GetPolicy(ctx, "browser-confidential-outside")
	require.NoError(t, err)
	require.Equal(t, "Confidential shared outside", p.Name)
}

// textAll is the text of an element even where it is not rendered (a closed <details>).
func (b *browser) textAll(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).textContent`, sel)))
	require.NoError(b.t, err, "text of %s", sel)
	return s
}

// expectError drops the one page error a step caused on purpose (Chromium logs every 4xx
// answer as a failed resource load), so the final check still sees any other.
func (b *browser) expectError(parts ...string) {
	b.t.Helper()
	// The log entry comes over its own event stream and may trail the page load.
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b.mu.Lock()
		for i, e := range b.errs {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(e, p)
			}
			if all {
				b.errs = slices.Delete(b.errs, i, i+1)
				b.mu.Unlock()
				return
			}
		}
		errs := slices.Clone(b.errs)
		b.mu.Unlock()
		if time.Now().After(deadline) {
			b.t.Fatalf("expected a page error with %q, got %q", parts, errs)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the gateway's goroutines to log into.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
