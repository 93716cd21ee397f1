package gateway

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	boxemu "github.com/labelgate/labelgate/connectors/box/emulator"
	gdriveemu "github.com/labelgate/labelgate/connectors/gdrive/emulator"
	graphemu "github.com/labelgate/labelgate/connectors/graph/emulator"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

// The chaos test runs small in CI; `go test -run Chaos ./internal/gateway -chaos.files=3000`
// runs it at size, and -chaos.seed replays a run's faults.
var (
	chaosFiles = flag.Int("chaos.files", 0, "files per app in TestChaos; 0 = 40 on PostgreSQL, 20 on SQLite")
	chaosSeed  = flag.Uint64("chaos.seed", 20261123, "seed of TestChaos's faults and changes")
	chaosWait  = flag.Duration("chaos.wait", 90*time.Second, "how long TestChaos waits for each phase to settle")
)

const (
	chaosDomain  = "contoso.com"
	chaosSPDrive = "b!chaos-sp"
	chaosODDrive = "b!chaos-od-adele"
	chaosAlice   = "alice@" + chaosDomain
	chaosCard    = "4111 1111 1111 1111" // a valid (Luhn) test card number
)

// chaosPolicy labels unlabelled Office files holding card numbers, as the demo does.
const chaosPolicy = `policies:
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
`

var (
	chaosLabels   = []string{"", labeltest.LabelPublic, labeltest.LabelGeneral, labeltest.LabelConfidential}
	chaosBoxKeys  = map[string]string{labeltest.LabelPublic: "Public", labeltest.LabelGeneral: "General", labeltest.LabelConfidential: "Confidential"}
	chaosDriveMap = map[string]string{
		labeltest.LabelPublic:       "lbl-sens/fld-level/ch-public",
		labeltest.LabelGeneral:      "lbl-sens/fld-level/ch-general",
		labeltest.LabelConfidential: "lbl-sens/fld-level/ch-conf",
	}
)

// chaosFile is the test's record of one file it put in an emulator.
type chaosFile struct {
	app     connectors.App
	id      string
	name    string
	label   string // the label the user set ("" none)
	card    bool   // content holds a card number
	deleted bool
}

// chaosTenant is the four apps served by the three emulators, and what the test did to them.
type chaosTenant struct {
	graph *graphemu.Server
	drive *gdriveemu.Server
	box   *boxemu.Emulator
	boxID map[string]string // folder name → id

	mu    sync.Mutex
	rng   *rand.Rand
	files []*chaosFile
	seq   int
	ops   map[string]int
}

func chaosContent(name, label string, card bool, seq int) []byte {
	text := []string{fmt.Sprintf("Contoso document %d.", seq)}
	if card {
		text = append(text, "Customer payment details", "Card: "+chaosCard, "Exp 12/29")
	}
	var ls []labeltest.Label
	if label != "" {
		ls = []labeltest.Label{{ID: label, Tenant: labeltest.TenantContoso, Method: "Standard", SetDate: "2026-01-05T09:00:00Z"}}
	}
	o := labeltest.Options{LabelInfo: ls, Text: text}
	switch {
	case strings.HasSuffix(name, ".xlsx"):
		return labeltest.Xlsx(o)
	case strings.HasSuffix(name, ".pptx"):
		return labeltest.Pptx(o)
	}
	return labeltest.Docx(o)
}

func newChaosTenant(t *testing.T, seed uint64) *chaosTenant {
	t.Helper()
	ct := &chaosTenant{rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), boxID: map[string]string{}, ops: map[string]int{}}
	var err error
	ct.graph, err = graphemu.New(graphemu.Options{MeteredBilling: true, Manifest: &graphemu.Manifest{
		Tenant: graphemu.Tenant{ID: labeltest.TenantContoso, Domains: []string{chaosDomain}},
		Users:  []graphemu.User{{ID: "u-adele", UPN: "adele@" + chaosDomain, DisplayName: "Adele", Drive: chaosODDrive}},
		Sites: []graphemu.Site{{ID: "contoso.sharepoint.com,chaos,web", Name: "chaos", WebURL: "https://contoso.sharepoint.com/sites/chaos",
			Libraries: []graphemu.Library{{ID: chaosSPDrive, Name: "Documents"}}}},
		Labels: []graphemu.Label{
			{ID: labeltest.LabelPublic, Name: "Public", DisplayName: "Public", Priority: 0},
			{ID: labeltest.LabelGeneral, Name: "General", DisplayName: "General", Priority: 1},
			{ID: labeltest.LabelConfidential, Name: "Confidential", DisplayName: "Confidential", Priority: 2},
		},
	}, ClientID: "chaos-app", ClientSecret: "chaos-secret", PageSize: 25, Seed: seed})
	require.NoError(t, err)
	t.Cleanup(ct.graph.Close)
	ct.drive, err = gdriveemu.New(gdriveemu.Options{PageSize: 25, Manifest: &gdriveemu.Manifest{
		Domain: chaosDomain,
		Users:  []gdriveemu.User{{Email: chaosAlice}, {Email: "admin@" + chaosDomain}},
		Labels: []gdriveemu.LabelSpec{{ID: "lbl-sens", Title: "Sensitivity", Fields: []gdriveemu.FieldSpec{{ID: "fld-level", Name: "Level",
			Choices: []gdriveemu.ChoiceSpec{{ID: "ch-public", Name: "Public"}, {ID: "ch-general", Name: "General"}, {ID: "ch-conf", Name: "Confidential"}}}}}},
	}})
	require.NoError(t, err)
	t.Cleanup(ct.drive.Close)
	ct.box, err = boxemu.New(boxemu.Options{ClientID: "chaos-app", ClientSecret: "chaos-secret", Seed: &boxemu.Manifest{
		Users:           []boxemu.ManifestUser{{ID: "2001", Login: "adele@" + chaosDomain, Name: "Adele"}},
		Classifications: []boxemu.ManifestClassification{{Key: "Public"}, {Key: "General"}, {Key: "Confidential"}},
	}})
	require.NoError(t, err)
	t.Cleanup(ct.box.Close)
	for _, dir := range []string{"Finance", "Sales"} {
		ct.boxID[dir], err = ct.box.EnsureFolder("0", dir)
		require.NoError(t, err)
	}
	return ct
}

// connectors configures the gateway's four connectors against the emulators.
func (ct *chaosTenant) connectors(t *testing.T) []config.Connector {
	g := config.Connector{App: "sharepoint", Tenant: ct.graph.TenantID(), BaseURL: ct.graph.GraphURL(), AuthURL: ct.graph.URL(),
		ClientID: "chaos-app", ClientSecret: "chaos-secret", Domains: []string{chaosDomain}}
	sp, od := g, g
	sp.Name, od.Name, od.App = "sp", "od", "onedrive"
	gd := config.Connector{Name: "gd", App: "gdrive", Tenant: chaosDomain, Domains: []string{chaosDomain}, Users: []string{chaosAlice},
		AdminEmail: "admin@" + chaosDomain, ServiceAccountKey: gdriveKey(t), BaseURL: ct.drive.URL(), AuthURL: ct.drive.TokenURL(),
		LabelMap: chaosDriveMap}
	bx := config.Connector{Name: "bx", App: "box", Tenant: ct.box.EnterpriseID(), ClientID: "chaos-app", ClientSecret: "chaos-secret",
		BaseURL: ct.box.APIURL(), UploadURL: ct.box.UploadURL(), AuthURL: ct.box.TokenURL(), Domains: []string{chaosDomain},
		PrimaryKey: "primary-key", SecondaryKey: "secondary-key", LabelMap: chaosBoxKeys}
	return []config.Connector{sp, od, gd, bx}
}

var chaosApps = []connectors.App{connectors.AppSharePoint, connectors.AppOneDrive, connectors.AppGDrive, connectors.AppBox}

// add creates a file as a user would: its label in the content and, where the provider
// keeps one, in the provider's own label field too.
func (ct *chaosTenant) add(app connectors.App, label string, card bool) (*chaosFile, error) {
	ct.mu.Lock()
	ct.seq++
	seq := ct.seq
	ext := []string{".docx", ".xlsx", ".pptx"}[ct.rng.IntN(3)]
	ct.mu.Unlock()
	f := &chaosFile{app: app, name: fmt.Sprintf("%s-%05d%s", app, seq, ext), label: label, card: card}
	data := chaosContent(f.name, label, card, seq)
	var err error
	switch app {
	case connectors.AppSharePoint, connectors.AppOneDrive:
		drive := chaosSPDrive
		if app == connectors.AppOneDrive {
			drive = chaosODDrive
		}
		f.id, err = ct.graph.AddFile(drive, []string{"/", "/Finance", "/Sales/2026"}[seq%3], f.name, "", data)
		if err == nil && label != "" {
			err = ct.graph.SetLabel(f.id, label, false)
		}
	case connectors.AppGDrive:
		f.id, err = ct.drive.AddFile(gdriveemu.FileSpec{Name: f.name, Owner: chaosAlice, Data: data})
	case connectors.AppBox:
		dir := "Finance"
		if seq%2 == 0 {
			dir = "Sales"
		}
		f.id, err = ct.box.AddFile(ct.boxID[dir], f.name, data, "adele@"+chaosDomain)
		if err == nil && label != "" {
			err = ct.box.SetClassification(f.id, chaosBoxKeys[label])
		}
	}
	if err != nil {
		return nil, fmt.Errorf("add %s: %w", f.name, err)
	}
	ct.mu.Lock()
	ct.files = append(ct.files, f)
	ct.mu.Unlock()
	return f, nil
}

// rewrite changes a file's content (label and card text) as a user saving it would.
func (ct *chaosTenant) rewrite(f *chaosFile, label string, card bool) error {
	ct.mu.Lock()
	ct.seq++
	seq := ct.seq
	ct.mu.Unlock()
	data := chaosContent(f.name, label, card, seq)
	var err error
	switch f.app {
	case connectors.AppSharePoint, connectors.AppOneDrive:
		err = ct.graph.ModifyFile(f.id, data)
		if err == nil {
			err = ct.graph.SetLabel(f.id, label, false)
		}
	case connectors.AppGDrive:
		err = ct.drive.ModifyFile(f.id, data)
	case connectors.AppBox:
		err = ct.box.ModifyFile(f.id, data)
		if key := chaosBoxKeys[label]; err == nil && key != ct.box.Classification(f.id) {
			err = ct.box.SetClassification(f.id, key)
		}
	}
	if err == nil {
		ct.mu.Lock()
		f.label, f.card = label, card
		ct.mu.Unlock()
	}
	return err
}

func (ct *chaosTenant) remove(f *chaosFile) error {
	var err error
	switch f.app {
	case connectors.AppSharePoint, connectors.AppOneDrive:
		err = ct.graph.DeleteFile(f.id)
	case connectors.AppGDrive:
		err = ct.drive.DeleteFile(f.id)
	case connectors.AppBox:
		err = ct.box.TrashFile(f.id)
	}
	if err == nil {
		ct.mu.Lock()
		f.deleted = true
		ct.mu.Unlock()
	}
	return err
}

// seed adds n files per app: a fifth unlabelled with card numbers (the policy's targets),
// the rest a mix of labels, some labelled files holding card numbers too.
func (ct *chaosTenant) seed(n int) error {
	for _, app := range chaosApps {
		for i := range n {
			label, card := chaosLabels[i%len(chaosLabels)], i%5 == 0
			if card && i%10 == 0 {
				label = ""
			}
			if _, err := ct.add(app, label, card); err != nil {
				return err
			}
		}
	}
	return nil
}

// mutate makes one random user change in a random app: relabel, new file, delete, or card
// numbers pasted into a file.
func (ct *chaosTenant) mutate() error {
	ct.mu.Lock()
	op, app := ct.rng.IntN(4), chaosApps[ct.rng.IntN(len(chaosApps))]
	label, card := chaosLabels[ct.rng.IntN(len(chaosLabels))], ct.rng.IntN(2) == 0
	var live []*chaosFile
	for _, f := range ct.files {
		if f.app == app && !f.deleted {
			live = append(live, f)
		}
	}
	var f *chaosFile
	if len(live) > 0 {
		f = live[ct.rng.IntN(len(live))]
	}
	ct.mu.Unlock()
	if f == nil {
		op = 1
	}
	var err error
	switch op {
	case 0:
		err = ct.rewrite(f, label, f.card)
		ct.count("relabel")
	case 1:
		if card {
			label = ""
		}
		_, err = ct.add(app, label, card)
		ct.count("add")
	case 2:
		err = ct.remove(f)
		ct.count("delete")
	default:
		err = ct.rewrite(f, f.label, true)
		ct.count("card pasted")
	}
	return err
}

func (ct *chaosTenant) count(op string) {
	ct.mu.Lock()
	ct.ops[op]++
	ct.mu.Unlock()
}

// truth is the label a file carries in its emulator: the label in its content when there is
// one (what Office reads first), else the provider's own label field.
func (ct *chaosTenant) truth(ctx context.Context, f *chaosFile) (string, error) {
	var data []byte
	native := ""
	switch f.app {
	case connectors.AppSharePoint, connectors.AppOneDrive:
		data, native = ct.graph.Content(f.id), ct.graph.FileLabel(f.id)
	case connectors.AppGDrive:
		data, _ = ct.drive.Content(f.id)
		if ch := ct.drive.FileLabels(f.id)["lbl-sens"]["fld-level"]; len(ch) == 1 {
			for id, v := range chaosDriveMap {
				if v == "lbl-sens/fld-level/"+ch[0] {
					native = id
				}
			}
		}
	case connectors.AppBox:
		data, _ = ct.box.Content(f.id)
		for id, key := range chaosBoxKeys {
			if key == ct.box.Classification(f.id) {
				native = id
			}
		}
	}
	res, err := labeling.Read(ctx, bytes.NewReader(data), int64(len(data)), f.name)
	if err != nil {
		return "", fmt.Errorf("truth of %s: %w", f.name, err)
	}
	if res.Label != nil {
		return res.Label.ID, nil
	}
	return native, nil
}

func (ct *chaosTenant) labelWrites(f *chaosFile) int {
	switch f.app {
	case connectors.AppSharePoint, connectors.AppOneDrive:
		return ct.graph.LabelWrites(f.id)
	case connectors.AppGDrive:
		return ct.drive.LabelWrites(f.id)
	}
	return ct.box.LabelWrites(f.id)
}

func (ct *chaosTenant) setChaos(c graphemu.Chaos) {
	ct.graph.SetChaos(c)
	ct.drive.SetChaos(c)
	ct.box.SetChaos(c)
}

func (ct *chaosTenant) chaosStats() graphemu.ChaosStats {
	return ct.graph.ChaosStats().Add(ct.drive.ChaosStats()).Add(ct.box.ChaosStats())
}

func (ct *chaosTenant) snapshot() []*chaosFile {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	out := make([]*chaosFile, len(ct.files))
	for i, f := range ct.files {
		c := *f
		out[i] = &c
	}
	return out
}

// chaosMismatches lists files whose inventory record disagrees with the emulators.
func chaosMismatches(ctx context.Context, st *store.Store, ct *chaosTenant) ([]string, error) {
	recs := map[string]store.FileRecord{}
	err := st.EachFile(ctx, store.FileFilter{IncludeDeleted: true}, func(fr store.FileRecord) error {
		recs[string(fr.Ref.App)+"|"+fr.Ref.ItemID] = fr
		return nil
	})
	if err != nil {
		return nil, err
	}
	var bad []string
	for _, f := range ct.snapshot() {
		rec, ok := recs[string(f.app)+"|"+f.id]
		switch {
		case f.deleted:
			if ok && !rec.Deleted {
				bad = append(bad, fmt.Sprintf("%s %s: deleted, inventory says live", f.app, f.name))
			}
		case !ok:
			bad = append(bad, fmt.Sprintf("%s %s: not in the inventory", f.app, f.name))
		case rec.Deleted:
			bad = append(bad, fmt.Sprintf("%s %s: live, inventory says deleted", f.app, f.name))
		case rec.ScanError != "":
			bad = append(bad, fmt.Sprintf("%s %s: scan error %s", f.app, f.name, rec.ScanError))
		default:
			want, err := ct.truth(ctx, f)
			if err != nil {
				return nil, err
			}
			if rec.LabelID != want {
				bad = append(bad, fmt.Sprintf("%s %s: inventory label %q, emulator %q", f.app, f.name, rec.LabelID, want))
			}
		}
	}
	return bad, nil
}

// chaosQuiet reports whether the gateway has nothing left to do: rescans finished, no drive
// waiting for a feed read, no scan job open, no label action pending or running.
func chaosQuiet(ctx context.Context, h *harness) (bool, string) {
	st := h.g.Store()
	cds, err := st.ChangedDrives(ctx, 10)
	if err != nil || len(cds) > 0 {
		return false, fmt.Sprintf("changed drives %v %v", cds, err)
	}
	stats, err := h.g.sq.Stats(ctx)
	if err != nil {
		return false, err.Error()
	}
	if n := stats.ByKind["scan"]; n > 0 {
		return false, fmt.Sprintf("queue %+v", stats)
	}
	acts, err := st.CountActions(ctx)
	if err != nil {
		return false, err.Error()
	}
	if acts[store.ActionPending]+acts[store.ActionRunning] > 0 {
		return false, fmt.Sprintf("actions %v", acts)
	}
	return true, ""
}

// TestChaos runs all four apps through faults: 20 % of API requests throttled with
// Retry-After, 5 % server errors, slow answers, lost, repeated and reordered webhooks, and
// expired delta/page tokens and stream positions, while users change files. Once the faults
// stop and the gateway is quiet, the inventory must equal the emulators, every policy label
// write must have happened exactly once, and no daily quota may be exceeded.
func TestChaos(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			n := *chaosFiles
			if n <= 0 {
				// SQLite's single writer is what bounds the CI run: every scan, enqueue and
				// queue poll takes its lock, so it gets the smaller tenant.
				n = 40
				if b.Name == store.SQLite {
					n = 20
				}
			}
			runChaos(t, b, n, *chaosSeed)
		})
	}
}

func runChaos(t *testing.T, b storetest.Backend, n int, seed uint64) {
	ctx := context.Background()
	t.Logf("chaos seed %d (replay with -chaos.seed=%d), %d files per app", seed, seed, n)
	start := time.Now()
	ct := newChaosTenant(t, seed)
	require.NoError(t, ct.seed(n))

	// Box may label only a part of its targets today: the rest must wait for the reset.
	boxTargets := 0
	for _, f := range ct.snapshot() {
		if f.app == connectors.AppBox && f.card && f.label == "" {
			boxTargets++
		}
	}
	boxLimit := max(1, boxTargets/2)
	h := startGateway(t, b, func(c *config.Config) {
		c.Connectors = ct.connectors(t)
		c.Quota = config.Quota{Default: 1 << 20, Manual: 50, PerApp: map[string]int{"box": boxLimit}}
	})
	st := h.g.Store()
	require.Eventually(t, func() bool {
		_, err := h.g.SyncCatalog(ctx)
		return err == nil
	}, *chaosWait, 100*time.Millisecond, "catalog sync through the faults")
	_, err := h.g.policies.Apply(ctx, []byte(chaosPolicy))
	require.NoError(t, err)

	// Phase 1: the first rescan of every connector. Its walks run on a healthy provider (a
	// sequential walk waits out every Retry-After, so under 20 % throttling it would take the
	// whole test); the faults start as soon as the walks end, under the scans and the
	// policy's label writes they queued.
	rescan := func(force bool) map[string]store.Rescan {
		ids := map[string]int64{}
		for _, c := range []string{"sp", "od", "gd", "bx"} {
			r, err := h.g.StartRescan(ctx, c, "", force)
			require.NoError(t, err)
			ids[c] = r.ID
		}
		out := map[string]store.Rescan{}
		if !assertEventually(func() bool {
			done := true
			for c, id := range ids {
				r, err := st.GetRescan(ctx, id)
				out[c] = r
				done = done && err == nil && r.State != store.RescanRunning
			}
			return done
		}, *chaosWait) {
			stats, _ := h.g.sq.Stats(ctx)
			t.Fatalf("%s: rescans not finished: %+v; queue %+v", b.Name, out, stats)
		}
		var took []string
		for c, r := range out {
			require.Equal(t, store.RescanDone, r.State, "%s: %s", c, r.Error)
			took = append(took, fmt.Sprintf("%s %v", c, r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond)))
		}
		sort.Strings(took)
		t.Logf("%s: rescan walks took %s", b.Name, strings.Join(took, ", "))
		return out
	}
	rescan(false)
	t.Logf("%s: first rescans walked in %v", b.Name, time.Since(start))
	ct.setChaos(graphemu.Chaos{Seed: seed, Throttle: 0.20, ServerError: 0.05, Slow: 0.10, Latency: 150 * time.Millisecond,
		Drop: 0.10, Duplicate: 0.10, Reorder: 0.10})

	// Phase 2: users change files while the faults go on and tokens expire under the feeds.
	changes := max(n, 20)
	for i := range changes {
		require.NoError(t, ct.mutate())
		switch i {
		case changes / 3:
			ct.graph.ExpireDeltaTokens()
			ct.drive.ExpirePageTokens()
			ct.box.ExpireStream()
		case 2 * changes / 3:
			ct.graph.ExpireDeltaTokens()
		}
		time.Sleep(10 * time.Millisecond) // users do not all save in the same millisecond
	}
	injected := ct.chaosStats()
	t.Logf("%s: %d changes %v made under faults by %v", b.Name, changes, ct.ops, time.Since(start))

	// Phase 3: the faults stop. Lost webhooks are what the periodic rescan is for: run it
	// (unforced: only files whose etag changed are read), then wait for quiet.
	ct.setChaos(graphemu.Chaos{})
	healed := rescan(false)
	var quiet bool
	var why string
	var bad []string
	ok := assertEventually(func() bool {
		if quiet, why = chaosQuiet(ctx, h); !quiet {
			return false
		}
		bad, err = chaosMismatches(ctx, st, ct)
		return err == nil && len(bad) == 0
	}, *chaosWait)
	require.NoError(t, err)
	if !ok {
		dead, _ := h.g.sq.Dead(ctx, 10)
		if len(bad) > 20 {
			bad = bad[:20]
		}
		t.Fatalf("%s: not converged (quiet %v: %s); dead jobs %+v; mismatches:\n%s", b.Name, quiet, why, dead, strings.Join(bad, "\n"))
	}
	elapsed := time.Since(start)
	qs, err := h.g.sq.Stats(ctx)
	require.NoError(t, err)
	enq := int64(0)
	for _, r := range healed {
		enq += r.Enqueued
	}

	// Every label write the emulators counted is one the gateway logged as applied, per file:
	// no action wrote twice and nothing wrote behind the log's back.
	applied := map[string]int{}
	evs, err := st.ListEvents(ctx, store.EventFilter{Kind: store.EventLabelApplied}, 10000)
	require.NoError(t, err)
	for _, ev := range evs {
		applied[string(ev.App)+"|"+ev.ItemID]++
	}
	writes, policyLabelled := 0, map[connectors.App]int{}
	for _, f := range ct.snapshot() {
		w := ct.labelWrites(f)
		writes += w
		require.Equal(t, applied[string(f.app)+"|"+f.id], w, "%s %s: label writes vs applied events", f.app, f.name)
		policyLabelled[f.app] += w
	}
	require.Len(t, evs, writes)

	// Quotas: no app used more than its allowance; Box's overflow waits, paused, for the reset.
	usage, err := st.ListQuotaUsage(ctx, store.QuotaWindow(time.Now()))
	require.NoError(t, err)
	for _, u := range usage {
		limit := 1 << 20
		if u.App == connectors.AppBox {
			limit = boxLimit
		}
		require.LessOrEqual(t, u.Used, int64(limit), "%s/%s %s quota", u.App, u.Tenant, u.Allowance)
	}
	require.Equal(t, boxLimit, policyLabelled[connectors.AppBox], "Box labels exactly its allowance")
	acts, err := st.ListActions(ctx, store.ActionFilter{Limit: 100000})
	require.NoError(t, err)
	paused := map[connectors.App]int{}
	for _, a := range acts {
		if a.State == store.ActionPaused {
			paused[a.Ref.App]++
		}
	}
	require.Positive(t, paused[connectors.AppBox], "Box targets beyond the quota wait for the reset")
	for _, app := range chaosApps[:3] {
		require.Zero(t, paused[app], "%s has quota to spare", app)
		require.Positive(t, policyLabelled[app], "%s: the policy labelled its targets", app)
	}
	live := 0
	for _, f := range ct.snapshot() {
		if !f.deleted {
			live++
		}
	}
	keys := make([]string, 0, len(policyLabelled))
	for a, n := range policyLabelled {
		keys = append(keys, fmt.Sprintf("%s %d", a, n))
	}
	sort.Strings(keys)
	t.Logf("%s: converged in %v: %d files (%d live), %d label writes (%s), Box paused %d (limit %d), heal rescan re-read %d, dead jobs %d; injected %+v",
		b.Name, elapsed, len(ct.snapshot()), live, writes, strings.Join(keys, ", "), paused[connectors.AppBox], boxLimit, enq, qs.Dead, injected)
}
