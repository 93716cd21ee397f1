package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors/graph/emulator"
	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

const (
	crashSPDrive = "b!crash-sp-docs"
	crashODDrive = "b!crash-od-adele"
	// crashSPQuota is SharePoint's daily label-write quota: below the number of files the
	// policy wants to label there, so the quota binds while processes die.
	crashSPQuota = 5
	crashCard    = "4111 1111 1111 1111"
	// crashSharingQuota is SharePoint's daily allowance of remove_public_links (issue 24):
	// below its four General files shared by an anonymous link, so it binds too.
	crashSharingQuota = 2
)

// crashPolicy labels unlabelled files holding a card number.
const crashPolicy = `policies:
  - id: label-card-numbers
    name: Label files with card numbers
    severity: medium
    category: auto-labelling
    filter:
      all:
        - fileType: [office]
        - label: {none: true}
        - content: {preset: creditCard, minCount: 1}
    actions:
      - applyLabel:
          label: Confidential
          onlyIfUnlabelled: true
  - id: general-public-links
    name: No anonymous links on General files
    severity: high
    category: sharing
    filter:
      all:
        - label: {is: [General]}
        - access: {atLeast: public}
    actions:
      - removePublicLinks: {justification: "General files are not for anyone with a link"}
`

// crashTenant is a Graph emulator with a SharePoint library and a OneDrive, seeded with
// files of which some carry card numbers (the policy's targets).
type crashTenant struct {
	em      *emulator.Server
	ids     map[string]string // item id → drive
	targets map[string]bool   // unlabelled files with card numbers, as seeded
	// shared are the General files shared by an anonymous link and with a guest: the
	// sharing policy's targets, whose link (only) it removes.
	shared map[string]bool
}

func newCrashTenant(t *testing.T, spFiles, odFiles int) *crashTenant {
	t.Helper()
	m := &emulator.Manifest{
		Tenant: emulator.Tenant{ID: labeltest.TenantContoso, Domains: []string{"contoso.com"}},
		Users:  []emulator.User{{ID: "u-adele", UPN: "adele@contoso.com", DisplayName: "Adele Vance", Drive: crashODDrive}},
		Sites: []emulator.Site{{ID: "contoso.sharepoint.com,crash,web", Name: "crash", WebURL: "https://contoso.sharepoint.com/sites/crash",
			Libraries: []emulator.Library{{ID: crashSPDrive, Name: "Documents"}}}},
		Labels: []emulator.Label{
			{ID: labeltest.LabelPublic, Name: "Public", DisplayName: "Public", Priority: 0},
			{ID: labeltest.LabelGeneral, Name: "General", DisplayName: "General", Priority: 1},
			{ID: labeltest.LabelConfidential, Name: "Confidential", DisplayName: "Confidential", Priority: 2},
		},
	}
	// Label writes finish on the second monitor poll, a second apart: kills land mid-write.
	em, err := emulator.New(emulator.Options{Manifest: m, ClientID: "crash-app", ClientSecret: "crash-secret", PageSize: 4, MeteredBilling: true,
		MonitorPolls: 2, MonitorRetryAfter: time.Second})
	require.NoError(t, err)
	t.Cleanup(em.Close)
	ct := &crashTenant{em: em, ids: map[string]string{}, targets: map[string]bool{}, shared: map[string]bool{}}
	add := func(drive string, n int) {
		for i := range n {
			name := fmt.Sprintf("doc-%02d.docx", i)
			var data []byte
			label := ""
			switch i % 4 {
			case 0, 2:
				data = labeltest.Docx(labeltest.Options{Text: []string{"Customer payment", "Card: " + crashCard}})
			case 1:
				label = labeltest.LabelGeneral
				data = labeltest.Docx(labeltest.Options{LabelInfo: []labeltest.Label{labeltest.General()}, Text: []string{"Card: " + crashCard}})
			default:
				data = labeltest.Docx(labeltest.Options{Text: []string{"nothing to see"}})
			}
			id, err := em.AddFile(drive, "/Shared", name, "", data)
			require.NoError(t, err)
			if label != "" {
				require.NoError(t, em.SetLabel(id, label, false))
				require.NoError(t, em.AddShare(id, emulator.Share{Link: "anonymous"}))
				require.NoError(t, em.AddShare(id, emulator.Share{Email: "eve@fabrikam.com", Guest: true}))
				ct.shared[id] = true
			}
			switch i % 4 {
			case 0, 2:
				ct.targets[id] = true
			}
			ct.ids[id] = drive
		}
	}
	add(crashSPDrive, spFiles)
	add(crashODDrive, odFiles)
	// Every download and item call takes a little while, so the busy window is wide enough
	// for kills to land in scans, delta reads and label writes.
	em.Slow("/_download/", 100*time.Millisecond, 1<<20)
	return ct
}

// writeCrashConfig writes labelgate.yaml for one replica and returns its path.
func writeCrashConfig(t *testing.T, dir, storeURL string, ct *crashTenant, publicPort, adminPort int) string {
	t.Helper()
	conn := func(name, app string) string {
		return fmt.Sprintf(`  - name: %s
    app: %s
    tenant: %s
    baseURL: %s
    authURL: %s
    clientID: crash-app
    clientSecret: crash-secret
    domains: [contoso.com]
`, name, app, ct.em.TenantID(), ct.em.GraphURL(), ct.em.URL())
	}
	storeLine := ""
	if storeURL != "" {
		storeLine = "store:\n  url: " + strconv.Quote(storeURL) + "\n"
	}
	cfg := fmt.Sprintf(`dataDir: %s
log:
  level: info
  format: text
server:
  listen: 127.0.0.1:%d
admin:
  listen: 127.0.0.1:%d
  tokens:
    - {name: crash, role: admin, token: %s}
%squeue:
  workers: 4
  maxAttempts: 25
  lease: 10s
rescan:
  # A replica that dies leaves its running rescans behind: a short tick and stale bound let
  # the survivor lead and resume them within the test's wait (defaults 30s and 2m).
  schedulerTick: 2s
  staleAfter: 5s
quota:
  perApp:
    sharepoint: %d
  sharing:
    perApp:
      sharepoint: %d
connectors:
%s%s`, strconv.Quote(dir), publicPort, adminPort, crashToken, storeLine, crashSPQuota, crashSharingQuota,
		conn("sp", "sharepoint"), conn("od", "onedrive"))
	path := filepath.Join(dir, "labelgate.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	return path
}

// crashSeed is the kill schedule's seed: $LABELGATE_CRASH_SEED replays a failed run.
func crashSeed(t *testing.T) uint64 {
	if s := os.Getenv("LABELGATE_CRASH_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err)
		return n
	}
	return uint64(time.Now().UnixNano())
}

// kickOff makes the catalog and the policy known and starts a forced rescan of both
// connectors: the first change-feed resync may have scanned files before the policy existed.
func kickOff(t *testing.T, p *serveProc) {
	t.Helper()
	p.mustCall(t, http.MethodPost, "/api/v1/labels/sync", map[string]any{}, nil)
	_, err := p.call(http.MethodPost, "/api/v1/policies", "application/yaml", crashPolicy, nil)
	require.NoError(t, err)
	startRescans(t, p)
}

// startRescans starts a forced rescan of both connectors on p.
func startRescans(t *testing.T, p *serveProc) {
	t.Helper()
	for _, c := range []string{"sp", "od"} {
		p.mustCall(t, http.MethodPost, "/api/v1/rescans", map[string]any{"connector": c, "force": true}, nil)
	}
}

// snapshot says what a process was doing, for the log line of a kill.
func snapshot(p *serveProc) string {
	var qs queueStats
	if _, err := p.get("/api/v1/queue/stats", &qs); err != nil {
		return "stats: " + err.Error()
	}
	var acts struct{ Items []store.Action }
	_, _ = p.get("/api/v1/actions?limit=1000", &acts)
	states := map[string]int{}
	for _, a := range acts.Items {
		states[a.State]++
	}
	var rs struct{ Items []store.Rescan }
	_, _ = p.get("/api/v1/rescans", &rs)
	running := 0
	for _, r := range rs.Items {
		if r.State == store.RescanRunning {
			running++
		}
	}
	return fmt.Sprintf("jobs %v by kind %v, actions %v, rescans running %d", qs.ByState, qs.ByKind, states, running)
}

// quiescent reports whether nothing is left to do: no due or running jobs, no pending or
// running actions, no running rescans.
func quiescent(p *serveProc) (bool, string) {
	var qs queueStats
	if _, err := p.get("/api/v1/queue/stats", &qs); err != nil {
		return false, err.Error()
	}
	if qs.busy() {
		return false, fmt.Sprintf("queue busy: %v", qs.ByState)
	}
	var acts struct{ Items []store.Action }
	if _, err := p.get("/api/v1/actions?state=pending,running&limit=1000", &acts); err != nil {
		return false, err.Error()
	}
	if len(acts.Items) > 0 {
		return false, fmt.Sprintf("%d actions pending or running, first %+v", len(acts.Items), acts.Items[0])
	}
	var rs struct{ Items []store.Rescan }
	if _, err := p.get("/api/v1/rescans", &rs); err != nil {
		return false, err.Error()
	}
	for _, r := range rs.Items {
		if r.State == store.RescanRunning {
			return false, fmt.Sprintf("rescan %d (%s) running", r.ID, r.Connector)
		}
	}
	return true, ""
}

// waitQuiet waits until p has nothing left to do, twice in a row a moment apart (a scan
// finishing may still record an action).
func waitQuiet(t *testing.T, p *serveProc, ct *crashTenant) {
	t.Helper()
	var why string
	quietSince := time.Time{}
	ok := assertEventually(func() bool {
		q, w := quiescent(p)
		why = w
		if !q || !allScanned(p, ct) {
			quietSince = time.Time{}
			return false
		}
		if quietSince.IsZero() {
			quietSince = time.Now()
		}
		return time.Since(quietSince) > time.Second
	}, 60*time.Second)
	if !ok {
		t.Fatalf("%s never went quiet: %s\n%s", p.name, why, tail(p.log, 60))
	}
}

func assertEventually(cond func() bool, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type fileItem struct {
	store.FileRecord
}

// inventory lists every file the binary knows, by item id.
func inventory(p *serveProc) (map[string]store.FileRecord, error) {
	out := map[string]store.FileRecord{}
	token := ""
	for {
		var page struct {
			Items []fileItem `json:"items"`
			Next  string     `json:"nextPageToken"`
		}
		path := "/api/v1/files?limit=500"
		if token != "" {
			path += "&pageToken=" + token
		}
		if _, err := p.get(path, &page); err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			out[it.Ref.ItemID] = it.FileRecord
		}
		if page.Next == "" {
			return out, nil
		}
		token = page.Next
	}
}

// allScanned reports whether every file of the tenant is in the inventory with a scan of
// its current version.
func allScanned(p *serveProc, ct *crashTenant) bool {
	inv, err := inventory(p)
	if err != nil {
		return false
	}
	for id := range ct.ids {
		rec, ok := inv[id]
		if !ok || rec.LastScanned.IsZero() {
			return false
		}
	}
	return true
}

// assertEndState checks the inventory, the emulator and the quotas against each other after
// all work is done.
func assertEndState(t *testing.T, p *serveProc, ct *crashTenant, targets map[string]bool) {
	t.Helper()
	var qs queueStats
	p.mustCall(t, http.MethodGet, "/api/v1/queue/stats", nil, &qs)
	require.Zero(t, qs.Dead, "dead jobs: %v", qs)

	inv, err := inventory(p)
	require.NoError(t, err)
	labels := map[string]string{} // item id → label in the inventory
	for id, drive := range ct.ids {
		rec, ok := inv[id]
		require.True(t, ok, "file %s of %s never reached the inventory", id, drive)
		require.False(t, rec.LastScanned.IsZero(), "file %s never scanned", id)
		require.Empty(t, rec.ScanError, id)
		labels[id] = rec.LabelID
	}

	var acts struct{ Items []store.Action }
	p.mustCall(t, http.MethodGet, "/api/v1/actions?limit=1000", nil, &acts)
	done := map[string]int{}   // app → done label actions that wrote
	paused := map[string]int{} // app → actions waiting for the quota
	acted := map[string]bool{} // item id → has a done apply action that wrote
	unchanged := func(a store.Action) bool {
		return a.State == store.ActionDone && strings.Contains(a.Reason, "already in the target state")
	}
	var sharing []store.Action
	labelActs := acts.Items[:0:0]
	for _, a := range acts.Items {
		if a.Kind == store.ActionRemovePublicLinks {
			sharing = append(sharing, a)
		} else {
			labelActs = append(labelActs, a)
		}
	}
	assertSharingEndState(t, p, ct, sharing)
	acts.Items = labelActs
	for _, a := range acts.Items {
		require.Equal(t, store.ActionApplyLabel, a.Kind, "action %d", a.ID)
		require.True(t, targets[a.Ref.ItemID], "action %d on a file that is no target", a.ID)
		if a.State == store.ActionDone && !unchanged(a) {
			require.False(t, acted[a.Ref.ItemID], "file %s written by two actions", a.Ref.ItemID)
			acted[a.Ref.ItemID] = true
			done[string(a.Ref.App)]++
		}
	}
	asked := map[string]bool{}
	for _, a := range acts.Items {
		asked[a.Ref.ItemID] = true
		if a.State == store.ActionDone && !unchanged(a) {
			continue
		}
		// The rescan after a label write reads content without the label (the emulator gap
		// below), so the policy may ask again for a written file: the executor then finds
		// the label there, or the quota pauses the request. Nothing else may be left.
		switch {
		case unchanged(a):
			require.True(t, acted[a.Ref.ItemID], "file %s: action %d found a label nobody wrote", a.Ref.ItemID, a.ID)
		case a.State == store.ActionPaused:
			paused[string(a.Ref.App)]++
		default:
			t.Fatalf("action %d ended %s: %s", a.ID, a.State, a.Reason)
		}
	}
	wantTargets := map[string]int{}
	for id := range targets {
		require.True(t, asked[id], "target %s got no action", id)
		if ct.ids[id] == crashSPDrive {
			wantTargets["sharepoint"]++
		} else {
			wantTargets["onedrive"]++
		}
	}
	// Every intended write happened exactly once; nothing else was written.
	for id := range ct.ids {
		want := 0
		if acted[id] {
			want = 1
			require.Equal(t, labeltest.LabelConfidential, ct.em.FileLabel(id))
		} else {
			// Files labelgate wrote are left out: the Graph emulator's assignSensitivityLabel
			// changes the label metadata, not the content, and the rescan its notification
			// causes reads the content (a known emulator gap, reported, not a crash effect).
			require.Equal(t, ct.em.FileLabel(id), labels[id], "inventory and provider disagree on %s", id)
		}
		require.Equal(t, want, ct.em.LabelWrites(id), "label writes of %s", id)
	}
	require.Equal(t, min(wantTargets["sharepoint"], crashSPQuota), done["sharepoint"])
	require.GreaterOrEqual(t, paused["sharepoint"], wantTargets["sharepoint"]-done["sharepoint"])
	require.Equal(t, wantTargets["onedrive"], done["onedrive"])

	var quotas struct {
		Items []struct {
			App       string `json:"app"`
			Allowance string `json:"allowance"`
			Limit     int    `json:"limit"`
			Used      int64  `json:"used"`
			Paused    int64  `json:"paused"`
		} `json:"items"`
	}
	p.mustCall(t, http.MethodGet, "/api/v1/quotas", nil, &quotas)
	used := map[string]int64{}
	for _, q := range quotas.Items {
		if q.Allowance != "auto" {
			continue
		}
		used[q.App] += q.Used
		if q.App == "sharepoint" {
			require.Equal(t, crashSPQuota, q.Limit)
			require.LessOrEqual(t, q.Used, int64(q.Limit))
			require.Equal(t, int64(paused["sharepoint"]), q.Paused)
		}
	}
	require.Equal(t, int64(done["sharepoint"]), used["sharepoint"], "quota used equals label writes done: %+v", quotas.Items)
	require.Equal(t, int64(done["onedrive"]), used["onedrive"], "quota used equals label writes done: %+v", quotas.Items)
}

// assertSharingEndState checks the sharing policy's work after the kills (issue 24): every
// General file's anonymous link removed at most once and only by a finished action, the guest
// left, one removal record and one access_restricted event per finished action, the
// SharePoint allowance never exceeded and the rest paused for the reset, nothing failed.
func assertSharingEndState(t *testing.T, p *serveProc, ct *crashTenant, acts []store.Action) {
	t.Helper()
	byFile := map[string][]store.Action{}
	for _, a := range acts {
		require.True(t, ct.shared[a.Ref.ItemID], "sharing action %d on a file with no anonymous link", a.ID)
		byFile[a.Ref.ItemID] = append(byFile[a.Ref.ItemID], a)
	}
	done := map[string]int{}
	pausedSP := 0
	for id := range ct.shared {
		as := byFile[id]
		require.NotEmpty(t, as, "shared General file %s got no sharing action", id)
		removed, paused := 0, false
		for _, a := range as {
			switch a.State {
			case store.ActionDone:
				var file struct {
					SharingChanges []store.SharingChange `json:"sharingChanges"`
				}
				p.mustCall(t, http.MethodGet, "/api/v1/files/"+admin.FileID(a.Ref), nil, &file)
				n := 0
				for _, c := range file.SharingChanges {
					if c.ActionID == a.ID {
						n++
						require.Equal(t, "anonymous", c.Permission.LinkScope, "only the link is removed")
					}
				}
				// A scan that read the file before its link went may ask again; that action
				// finds nothing left to remove and records nothing.
				require.LessOrEqual(t, n, 1, "file %s: one record of the removed link", id)
				removed += n
			case store.ActionPaused:
				require.Equal(t, crashSPDrive, ct.ids[id], "only SharePoint's allowance binds")
				paused = true
			default:
				t.Fatalf("sharing action %d ended %s: %s", a.ID, a.State, a.Reason)
			}
		}
		require.LessOrEqual(t, removed, 1, "file %s restricted by two actions", id)
		shares, err := ct.em.Shares(id)
		require.NoError(t, err)
		if removed == 1 {
			done[ct.ids[id]]++
			require.Equal(t, 1, ct.em.GrantRemovals(id), "file %s: the link removed exactly once", id)
			require.Len(t, shares, 1, "file %s: the guest stays", id)
			require.Equal(t, "eve@fabrikam.com", shares[0].Email)
		} else {
			require.True(t, paused, "file %s: neither restricted nor waiting for the reset", id)
			pausedSP++
			require.Zero(t, ct.em.GrantRemovals(id), "file %s: paused, untouched", id)
			require.Len(t, shares, 2)
		}
	}
	require.Equal(t, crashSharingQuota, done[crashSPDrive], "SharePoint's allowance used to the full, never beyond")
	require.Equal(t, len(ct.shared)-crashSharingQuota-done[crashODDrive], pausedSP)
	var quotas struct {
		Items []struct {
			App       string `json:"app"`
			Allowance string `json:"allowance"`
			Limit     int    `json:"limit"`
			Used      int64  `json:"used"`
		} `json:"items"`
	}
	p.mustCall(t, http.MethodGet, "/api/v1/quotas", nil, &quotas)
	seen := false
	for _, q := range quotas.Items {
		if q.App == "sharepoint" && q.Allowance == store.ActionRemovePublicLinks {
			seen = true
			require.Equal(t, crashSharingQuota, q.Limit)
			require.EqualValues(t, done[crashSPDrive], q.Used, "one unit per link removed, none for an action that found nothing")
		}
	}
	require.True(t, seen, "the sharing allowance is reported: %+v", quotas.Items)
	var evs struct{ Items []store.Event }
	p.mustCall(t, http.MethodGet, "/api/v1/events?kind="+store.EventAccessRestricted+"&limit=1000", nil, &evs)
	require.Len(t, evs.Items, done[crashSPDrive]+done[crashODDrive], "one access_restricted per finished action")
}

// initialTargets are the files the policy should label before any change.
func initialTargets(ct *crashTenant) map[string]bool {
	out := map[string]bool{}
	for id := range ct.targets {
		out[id] = true
	}
	return out
}

// TestServeCrashRecovery kills `labelgate serve` with SIGKILL at random moments while it
// rescans, reads change feeds, scans and writes labels under a binding quota, restarting it
// each time; after the last restart the same end state must hold as without crashes.
func TestServeCrashRecovery(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			seed := crashSeed(t)
			t.Logf("kill schedule seed %d (LABELGATE_CRASH_SEED=%d replays it)", seed, seed)
			rng := rand.New(rand.NewPCG(seed, 0x6b696c6c))
			ct := newCrashTenant(t, 16, 8)
			targets := initialTargets(ct)
			dir := t.TempDir()
			url := ""
			if b.Name == store.Postgres {
				url = b.OpenURL(t)
			}
			pub, adm := freePort(t), freePort(t)
			cfg := writeCrashConfig(t, dir, url, ct, pub, adm)
			logPath := filepath.Join(dir, "serve.log")
			start := time.Now()

			kills := 3 + rng.IntN(3)
			p := startServe(t, "serve#0", cfg, adm, logPath)
			kickOff(t, p)
			for i := range kills {
				delay := time.Duration(200+rng.IntN(2500)) * time.Millisecond
				time.Sleep(delay)
				t.Logf("kill %d after %v: %s", i+1, delay, snapshot(p))
				p.kill()
				p = startServe(t, fmt.Sprintf("serve#%d", i+1), cfg, adm, logPath)
			}
			waitQuiet(t, p, ct)
			t.Logf("%s: quiet %v after the first start, %d kills", b.Name, time.Since(start), kills)
			assertEndState(t, p, ct, targets)
		})
	}
}

// leaseHolder reads who holds the scheduler lease on a PostgreSQL store.
func leaseHolder(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var holder string
	err = conn.QueryRow(ctx, `SELECT holder FROM leases WHERE name = 'scheduler'`).Scan(&holder)
	if errors.Is(err, pgx.ErrNoRows) {
		return ""
	}
	require.NoError(t, err)
	return holder
}

// TestServeReplicaFailover runs two `labelgate serve` replicas on one PostgreSQL database
// and SIGKILLs the one holding the scheduler lease while both work: the survivor takes over
// the dead one's scan and label jobs once their leases lapse and finishes with the quota exact.
func TestServeReplicaFailover(t *testing.T) {
	t.Parallel()
	if os.Getenv(storetest.EnvPostgres) == "" {
		t.Skip(storetest.EnvPostgres + " is not set: replicas need PostgreSQL")
	}
	seed := crashSeed(t)
	t.Logf("kill seed %d (LABELGATE_CRASH_SEED=%d replays it)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0x72706c))
	ct := newCrashTenant(t, 16, 8)
	url := storetest.FreshPostgres(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	pubA, admA, pubB, admB := freePort(t), freePort(t), freePort(t), freePort(t)
	cfgA := writeCrashConfig(t, dirA, url, ct, pubA, admA)
	cfgB := writeCrashConfig(t, dirB, url, ct, pubB, admB)
	a := startServe(t, "replica-a", cfgA, admA, filepath.Join(dirA, "serve.log"))
	// The first replica up leads: the scheduler lease is its.
	require.Eventually(t, func() bool { return strings.HasSuffix(leaseHolder(t, url), fmt.Sprintf(":%d", pubA)) },
		30*time.Second, 50*time.Millisecond)
	// Policies are applied before the second replica starts: a running replica reloads them
	// only every little while, and this test is about failover, not that delay.
	a.mustCall(t, http.MethodPost, "/api/v1/labels/sync", map[string]any{}, nil)
	_, err := a.call(http.MethodPost, "/api/v1/policies", "application/yaml", crashPolicy, nil)
	require.NoError(t, err)
	b := startServe(t, "replica-b", cfgB, admB, filepath.Join(dirB, "serve.log"))
	startRescans(t, b)
	delay := time.Duration(300+rng.IntN(2000)) * time.Millisecond
	time.Sleep(delay)
	t.Logf("killing the leader after %v: %s", delay, snapshot(a))
	a.kill()
	waitQuiet(t, b, ct)
	require.True(t, b.alive())
	assertEndState(t, b, ct, initialTargets(ct))
}
