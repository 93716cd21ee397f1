package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/box"
	"github.com/labelgate/labelgate/connectors/box/emulator"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
	"github.com/labelgate/labelgate/labeling/labeltest"
)

const (
	boxPrimaryKey   = "e2e-primary-key"
	boxSecondaryKey = "e2e-secondary-key"
	boxHRRoot       = "100"
	boxFinanceRoot  = "200"
	boxOutsideRoot  = "300"
)

// boxLabelMap ties the MIP labels labeltest writes into files to the enterprise's Box
// classifications, so embedded and native labels land on the same ids.
var boxLabelMap = map[string]string{
	labeltest.LabelPublic:       "Public",
	labeltest.LabelGeneral:      "General",
	labeltest.LabelConfidential: "Confidential",
}

type boxFile struct {
	id, parent, name string
	data             []byte
	sharedLink       string
	collaborators    []string
	classification   string
	label            string // the label the scan must find
	access           connectors.AccessLevel
}

func boxFiles() []boxFile {
	general := []labeltest.Label{labeltest.General()}
	conf := []labeltest.Label{{ID: labeltest.LabelConfidential, Tenant: labeltest.TenantContoso, Method: "Standard"}}
	return []boxFile{
		{id: "1001", parent: boxHRRoot, name: "Handbook.docx", data: labeltest.Docx(labeltest.Options{LabelInfo: general}),
			sharedLink: "open", label: labeltest.LabelGeneral, access: connectors.AccessPublic},
		{id: "1002", parent: "110", name: "Salaries.docx", data: labeltest.Docx(labeltest.Options{Text: []string{"pay"}}),
			sharedLink: "company", classification: "Confidential", label: labeltest.LabelConfidential, access: connectors.AccessInternal},
		{id: "1003", parent: boxHRRoot, name: "Notes.pptx", data: labeltest.Pptx(labeltest.Options{}),
			access: connectors.AccessPrivate},
		{id: "2001", parent: boxFinanceRoot, name: "Plan.xlsx", data: labeltest.Xlsx(labeltest.Options{LabelInfo: conf}),
			collaborators: []string{"auditor@partner.example"}, label: labeltest.LabelConfidential, access: connectors.AccessExternal},
		{id: "2002", parent: boxFinanceRoot, name: "unlabelled.docx", data: labeltest.Docx(labeltest.Options{Text: []string{"plain"}}),
			access: connectors.AccessPrivate},
	}
}

// boxSeed writes the files' content next to a manifest of two configured root folders (HR
// with a subfolder, Finance) and one folder outside them, which must stay out of the inventory.
func boxSeed(t *testing.T, files []boxFile) (*emulator.Manifest, string) {
	t.Helper()
	dir := t.TempDir()
	m := &emulator.Manifest{
		Users: []emulator.ManifestUser{{ID: "11", Login: "alice@contoso.com", Name: "Alice"}},
		Classifications: []emulator.ManifestClassification{
			{Key: "Public", Definition: "Anyone"}, {Key: "General", Definition: "Staff"}, {Key: "Confidential", Definition: "Need to know"},
		},
		Folders: []emulator.ManifestItem{
			{ID: boxHRRoot, Name: "HR", Owner: "alice@contoso.com"},
			{ID: "110", Name: "Pay", Parent: boxHRRoot, Owner: "alice@contoso.com"},
			{ID: boxFinanceRoot, Name: "Finance", Owner: "alice@contoso.com"},
			{ID: boxOutsideRoot, Name: "Elsewhere", Owner: "alice@contoso.com"},
		},
	}
	add := func(f boxFile) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f.id), f.data, 0o644))
		m.Files = append(m.Files, emulator.ManifestItem{ID: f.id, Name: f.name, Parent: f.parent, Owner: "alice@contoso.com",
			SharedLink: f.sharedLink, Collaborators: f.collaborators, Classification: f.classification, ContentFile: f.id})
	}
	for _, f := range files {
		add(f)
	}
	add(boxFile{id: "3001", parent: boxOutsideRoot, name: "Outside.docx", data: labeltest.Docx(labeltest.Options{})})
	return m, dir
}

// boxEmulator starts a Box emulator seeded by boxSeed.
func boxEmulator(t *testing.T, files []boxFile) *emulator.Emulator {
	t.Helper()
	seed, dir := boxSeed(t, files)
	em, err := emulator.New(emulator.Options{Seed: seed, SeedDir: dir, ClientID: "e2e-app", ClientSecret: "e2e-secret",
		PrimaryKey: boxPrimaryKey, SecondaryKey: boxSecondaryKey})
	require.NoError(t, err)
	t.Cleanup(em.Close)
	return em
}

// boxConnector configures the gateway's Box connector "box" against em over roots; the event
// stream is read every eventPoll without a notice (0: the default).
func boxConnector(em *emulator.Emulator, roots []string, eventPoll time.Duration) config.Connector {
	return config.Connector{Name: "box", App: "box", Tenant: em.EnterpriseID(), ClientID: "e2e-app", ClientSecret: "e2e-secret",
		BaseURL: em.APIURL(), UploadURL: em.UploadURL(), AuthURL: em.TokenURL(), Roots: roots,
		Domains: []string{"contoso.com"}, PrimaryKey: boxPrimaryKey, SecondaryKey: boxSecondaryKey, LabelMap: boxLabelMap,
		EventPoll: eventPoll}
}

// boxJobs counts the scan jobs the queue holds in any state (completed ones are retained),
// so a count that does not move means nothing was enqueued.
func boxJobs(t *testing.T, h *harness) int64 {
	t.Helper()
	stats, err := h.g.sq.Stats(context.Background())
	require.NoError(t, err)
	var n int64
	for _, c := range stats.ByState {
		n += c
	}
	return n
}

// signedBoxDelivery builds a webhook delivery as Box sends it, signed with key at ts.
func signedBoxDelivery(t *testing.T, id, webhookID, trigger string, source map[string]any, ts time.Time, key string) ([]byte, http.Header) {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"type": "webhook_event", "id": id, "created_at": ts.UTC().Format(time.RFC3339), "trigger": trigger,
		"webhook": map[string]any{"id": webhookID, "type": "webhook"}, "source": source, "additional_info": []any{},
	})
	require.NoError(t, err)
	stamp := ts.Format(time.RFC3339)
	return body, http.Header{
		"Content-Type":               {"application/json; charset=UTF-8"},
		box.HeaderDeliveryID:         {id},
		box.HeaderDeliveryTimestamp:  {stamp},
		box.HeaderSignaturePrimary:   {box.Sign(key, body, stamp)},
		box.HeaderSignatureAlgorithm: {"HmacSHA256"},
		box.HeaderSignatureVersion:   {"1"},
	}
}

// boxPosition is the Box stream position inside a stored change cursor
// ("s1.<stream>.<unix seconds>.<position>").
func boxPosition(cursor string) string {
	parts := strings.SplitN(cursor, ".", 4)
	return parts[len(parts)-1]
}

// deliveryFor returns the last delivery the emulator made for a file.
func deliveryFor(em *emulator.Emulator, fileID string) (emulator.Delivery, bool) {
	ds := em.Deliveries()
	for i := len(ds) - 1; i >= 0; i-- {
		if ds[i].SourceID == fileID {
			return ds[i], true
		}
	}
	return emulator.Delivery{}, false
}

// TestBoxEndToEnd drives the Box connector through the real gateway against the Box
// emulator: webhooks on the configured roots, a baseline walk that finds embedded MIP labels,
// Box classifications and sharing, signed deliveries → scans under 429s, a lost delivery
// recovered from the event stream at the stored stream position, key rotation, forged,
// stale and replayed deliveries that change nothing, and an admin apply-label that becomes
// one classification write.
func TestBoxEndToEnd(t *testing.T) {
	t.Parallel()
	for _, b := range storetest.Backends() {
		t.Run(string(b.Name), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			files := boxFiles()
			seed, dir := boxSeed(t, files)
			em, err := emulator.New(emulator.Options{Seed: seed, SeedDir: dir, ClientID: "e2e-app", ClientSecret: "e2e-secret",
				PrimaryKey: boxPrimaryKey, SecondaryKey: boxSecondaryKey})
			require.NoError(t, err)
			t.Cleanup(em.Close)
			tenant := em.EnterpriseID()
			// Throttling from the first requests on: root lookups, the stream position, file
			// reads and downloads answer 429 with Retry-After a few times.
			for _, p := range []string{"/folders/", "/events", "/files/"} {
				em.FailNext(emulator.Fault{Path: p, Status: http.StatusTooManyRequests, RetryAfter: time.Second, Times: 1})
			}

			start := time.Now()
			h := startGateway(t, b, func(c *config.Config) {
				withAdminToken(c)
				c.Connectors = []config.Connector{{Name: "box", App: "box", Tenant: tenant, ClientID: "e2e-app", ClientSecret: "e2e-secret",
					BaseURL: em.APIURL(), UploadURL: em.UploadURL(), AuthURL: em.TokenURL(), Roots: []string{boxHRRoot, boxFinanceRoot},
					Domains: []string{"contoso.com"}, PrimaryKey: boxPrimaryKey, SecondaryKey: boxSecondaryKey, LabelMap: boxLabelMap,
					// This test is about deliveries: no timed event-stream reads to blur what they did.
					EventPoll: time.Hour}}
			})
			st := h.g.Store()
			hookURL := h.g.PublicURL() + "/webhooks/box"

			// Webhooks: one per root, pointing at the gateway, with every trigger it needs.
			require.Eventually(t, func() bool {
				subs, err := st.Subscriptions(ctx, connectors.AppBox, tenant)
				return err == nil && len(subs) == 2 && len(em.Webhooks()) == 2
			}, 30*time.Second, 20*time.Millisecond)
			hookOf := map[string]string{}
			for _, w := range em.Webhooks() {
				require.Equal(t, hookURL, w.Address)
				require.Subset(t, w.Triggers, box.Triggers)
				hookOf[w.TargetID] = w.ID
			}
			require.Contains(t, hookOf, boxHRRoot)
			require.Contains(t, hookOf, boxFinanceRoot)

			// The baseline walk scans every file under the roots despite the 429s, and stores
			// the stream position it started from.
			ok := assertEventually(func() bool { return scannedCount(st, connectors.AppBox) == len(files) }, 45*time.Second)
			if !ok {
				stats, _ := h.g.sq.Stats(ctx)
				dead, _ := h.g.sq.Dead(ctx, 10)
				t.Fatalf("not all files scanned: %d of %d; queue %+v; dead %+v", scannedCount(st, connectors.AppBox), len(files), stats, dead)
			}
			t.Logf("%s: webhooks created and %d files scanned through 3 injected 429s in %v", b.Name, len(files), time.Since(start))
			require.Zero(t, em.PendingFaults(), "every injected 429 was met")
			require.Eventually(t, func() bool {
				cds, err := st.ChangedDrives(ctx, 10)
				return err == nil && len(cds) == 0
			}, 30*time.Second, 20*time.Millisecond)
			for _, root := range []string{boxHRRoot, boxFinanceRoot} {
				cur, err := st.GetCursor(ctx, connectors.AppBox, tenant, root, store.CursorChanges)
				require.NoError(t, err)
				require.Equal(t, strconv.Itoa(em.StreamPosition()), boxPosition(cur), "root %s", root)
			}
			byName := map[string]boxFile{}
			for _, f := range files {
				byName[f.name] = f
				rec, found := fileByName(st, connectors.AppBox, f.name)
				require.True(t, found, f.name)
				require.Empty(t, rec.ScanError, f.name)
				require.Equal(t, f.id, rec.Ref.ItemID, f.name)
				require.Equal(t, f.label, rec.LabelID, f.name)
				require.Equal(t, f.access, rec.Access, f.name)
			}
			_, found := fileByName(st, connectors.AppBox, "Outside.docx")
			require.False(t, found, "a file outside the configured roots stays out of the inventory")

			// A change in Box: the emulator stores a labelled version and POSTs a delivery
			// signed with both keys; the gateway rescans the file through more 429s.
			em.FailNext(emulator.Fault{Path: "/files/", Status: http.StatusTooManyRequests, RetryAfter: time.Second, Times: 2})
			notes, _ := fileByName(st, connectors.AppBox, "Notes.pptx")
			require.NoError(t, em.ModifyFile(byName["Notes.pptx"].id,
				labeltest.Pptx(labeltest.Options{LabelInfo: []labeltest.Label{labeltest.General()}})))
			require.Eventually(t, func() bool {
				rec, err := st.GetFile(ctx, notes.Ref)
				return err == nil && rec.LabelID == labeltest.LabelGeneral && rec.LastScanned.After(notes.LastScanned)
			}, 30*time.Second, 20*time.Millisecond)
			require.Zero(t, em.PendingFaults(), "the rescan met both 429s")
			d, ok := deliveryFor(em, byName["Notes.pptx"].id)
			require.True(t, ok)
			require.Equal(t, http.StatusAccepted, d.Status, "signed with the primary key")
			require.NotEmpty(t, d.Header.Get(box.HeaderSignaturePrimary))
			primaryDelivery := d

			// A lost delivery is caught up from the event stream: the next signed delivery for
			// the root (a folder-level one, signed with the primary key) makes the gateway read
			// the stream from the stored position, find the change and rescan the file.
			plan, _ := fileByName(st, connectors.AppBox, "Plan.xlsx")
			em.DropDeliveries(1)
			require.NoError(t, em.ModifyFile(byName["Plan.xlsx"].id,
				labeltest.Xlsx(labeltest.Options{LabelInfo: []labeltest.Label{labeltest.General()}})))
			body, hdr := signedBoxDelivery(t, "dlv-folder-1", hookOf[boxFinanceRoot], "METADATA_INSTANCE.UPDATED",
				map[string]any{"type": "folder", "id": boxFinanceRoot, "name": "Finance"}, time.Now(), boxPrimaryKey)
			require.Equal(t, http.StatusAccepted, rawPost(t, hookURL, body, hdr))
			require.Eventually(t, func() bool {
				rec, err := st.GetFile(ctx, plan.Ref)
				cur, cerr := st.GetCursor(ctx, connectors.AppBox, tenant, boxFinanceRoot, store.CursorChanges)
				return err == nil && cerr == nil && rec.LabelID == labeltest.LabelGeneral && rec.LastScanned.After(plan.LastScanned) &&
					boxPosition(cur) == strconv.Itoa(em.StreamPosition())
			}, 30*time.Second, 20*time.Millisecond)

			// Key rotation: deliveries signed only with the secondary key are accepted.
			handbook, _ := fileByName(st, connectors.AppBox, "Handbook.docx")
			em.SignOnlySecondary(true)
			require.NoError(t, em.ModifyFile(byName["Handbook.docx"].id, labeltest.Docx(labeltest.Options{LabelInfo: []labeltest.Label{
				{ID: labeltest.LabelConfidential, Tenant: labeltest.TenantContoso, Method: "Standard"}}})))
			em.SignOnlySecondary(false)
			require.Eventually(t, func() bool {
				rec, err := st.GetFile(ctx, handbook.Ref)
				return err == nil && rec.LabelID == labeltest.LabelConfidential && rec.LastScanned.After(handbook.LastScanned)
			}, 30*time.Second, 20*time.Millisecond)
			d, ok = deliveryFor(em, byName["Handbook.docx"].id)
			require.True(t, ok)
			require.Empty(t, d.Header.Get(box.HeaderSignaturePrimary))
			require.Equal(t, http.StatusAccepted, d.Status, "signed with the secondary key only")

			// Rejections: once everything has settled, a tampered body, a stale timestamp and a
			// replayed delivery id enqueue nothing, mark nothing and rescan nothing.
			require.Eventually(t, func() bool {
				cds, err := st.ChangedDrives(ctx, 10)
				stats, serr := h.g.sq.Stats(ctx)
				return err == nil && serr == nil && len(cds) == 0 && stats.ByApp[string(connectors.AppBox)] == 0
			}, 30*time.Second, 20*time.Millisecond)
			jobs := boxJobs(t, h)
			before := map[string]time.Time{}
			for _, f := range files {
				rec, _ := fileByName(st, connectors.AppBox, f.name)
				before[f.id] = rec.LastScanned
			}

			// Tampered: an accepted delivery's body pointed at another file, with a fresh id.
			unlabelledID := byName["unlabelled.docx"].id
			tampered := bytes.ReplaceAll(primaryDelivery.Body, []byte(`"`+primaryDelivery.SourceID+`"`), []byte(`"`+unlabelledID+`"`))
			require.NotEqual(t, primaryDelivery.Body, tampered)
			th := primaryDelivery.Header.Clone()
			th.Set(box.HeaderDeliveryID, "dlv-tampered-1")
			require.Equal(t, http.StatusUnauthorized, rawPost(t, hookURL, tampered, th), "tampered body")

			// Stale: correctly signed with the primary key, but eleven minutes old.
			body, hdr = signedBoxDelivery(t, "dlv-stale-1", hookOf[boxFinanceRoot], "FILE.UPLOADED",
				map[string]any{"type": "file", "id": unlabelledID, "name": "unlabelled.docx"}, time.Now().Add(-box.MaxDeliveryAge-time.Minute), boxPrimaryKey)
			require.Equal(t, http.StatusUnauthorized, rawPost(t, hookURL, body, hdr), "stale timestamp")

			// Replayed: a delivery already accepted, sent again byte for byte. It is
			// acknowledged, so Box would stop retrying, but dropped.
			status, err := em.Redeliver(primaryDelivery, hookURL)
			require.NoError(t, err)
			require.Equal(t, http.StatusAccepted, status, "replayed delivery id")
			// Replayed with a fresh BOX-DELIVERY-ID (which no signature covers), as Box's own
			// retries arrive: the signed payload id is the same, so it is dropped too.
			status, err = em.ReplayWithFreshID(primaryDelivery, hookURL)
			require.NoError(t, err)
			require.Equal(t, http.StatusAccepted, status, "replayed with a fresh delivery id")

			require.Never(t, func() bool {
				cds, err := st.ChangedDrives(ctx, 10)
				if err != nil || len(cds) > 0 || boxJobs(t, h) != jobs {
					return true
				}
				for _, f := range files {
					rec, found := fileByName(st, connectors.AppBox, f.name)
					if !found || !rec.LastScanned.Equal(before[f.id]) {
						return true
					}
				}
				return false
			}, 750*time.Millisecond, 25*time.Millisecond)

			// Admin apply-label: the catalog comes from the classification template, and the
			// action becomes exactly one classification write.
			_, err = h.g.SyncCatalog(ctx)
			require.NoError(t, err)
			un, _ := fileByName(st, connectors.AppBox, "unlabelled.docx")
			act := applyLabelViaAdmin(t, h, un.Ref, labeltest.LabelConfidential)
			require.Equal(t, store.ActionDone, act.State, act.Reason)
			require.Equal(t, "Confidential", em.Classification(unlabelledID))
			require.Equal(t, 1, em.LabelWrites(unlabelledID))
			t.Logf("%s: whole flow took %v", b.Name, time.Since(start))
		})
	}
}

// TestBoxEndToEndRootZero runs the default and demo configuration, roots ["0"], the way a
// real tenant allows it: Box refuses a V2 webhook on "0", so each top-level folder gets one;
// a file directly in "0" is found by the gateway reading the event stream on a timer; a new
// top-level folder seen in the stream gets its webhook; and after publicURL changes the
// existing webhooks are updated in place rather than created again (Box answers 409).
func TestBoxEndToEndRootZero(t *testing.T) {
	t.Parallel()
	b := storetest.Backends()[0]
	ctx := context.Background()
	files := boxFiles()
	seed, dir := boxSeed(t, files)
	em, err := emulator.New(emulator.Options{Seed: seed, SeedDir: dir, ClientID: "e2e-app", ClientSecret: "e2e-secret",
		PrimaryKey: boxPrimaryKey, SecondaryKey: boxSecondaryKey})
	require.NoError(t, err)
	t.Cleanup(em.Close)
	tenant := em.EnterpriseID()
	h := startGateway(t, b, func(c *config.Config) {
		c.Connectors = []config.Connector{{Name: "box", App: "box", Tenant: tenant, ClientID: "e2e-app", ClientSecret: "e2e-secret",
			BaseURL: em.APIURL(), UploadURL: em.UploadURL(), AuthURL: em.TokenURL(), Roots: []string{"0"},
			Domains: []string{"contoso.com"}, PrimaryKey: boxPrimaryKey, SecondaryKey: boxSecondaryKey, LabelMap: boxLabelMap,
			EventPoll: 200 * time.Millisecond}}
	})
	st := h.g.Store()
	hookURL := h.g.PublicURL() + "/webhooks/box"
	targets := func() []string {
		var out []string
		for _, w := range em.Webhooks() {
			out = append(out, w.TargetID)
		}
		return out
	}
	require.Eventually(t, func() bool {
		subs, err := st.Subscriptions(ctx, connectors.AppBox, tenant)
		return err == nil && len(subs) == 1 && len(em.Webhooks()) == 3
	}, 30*time.Second, 20*time.Millisecond)
	require.ElementsMatch(t, []string{boxHRRoot, boxFinanceRoot, boxOutsideRoot}, targets(), "every top-level folder, never 0")
	require.Eventually(t, func() bool { return scannedCount(st, connectors.AppBox) == len(files)+1 }, 45*time.Second, 20*time.Millisecond)

	// A file directly in "0": no webhook can tell, the polled event stream does.
	rootID, err := em.AddFile("0", "AtTheRoot.docx", labeltest.Docx(labeltest.Options{LabelInfo: []labeltest.Label{labeltest.General()}}), "alice@contoso.com")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		rec, found := fileByName(st, connectors.AppBox, "AtTheRoot.docx")
		return found && rec.Ref.ItemID == rootID && rec.LabelID == labeltest.LabelGeneral
	}, 30*time.Second, 20*time.Millisecond)

	// A new top-level folder gets its webhook from the event stream; its files then arrive
	// by webhook.
	legal, err := em.AddFolder("0", "Legal")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(em.Webhooks()) == 4 }, 30*time.Second, 20*time.Millisecond)
	require.Contains(t, targets(), legal)
	contractID, err := em.AddFile(legal, "Contract.docx", labeltest.Docx(labeltest.Options{}), "alice@contoso.com")
	require.NoError(t, err)
	d, ok := deliveryFor(em, contractID)
	require.True(t, ok)
	require.Equal(t, http.StatusAccepted, d.Status)
	require.Eventually(t, func() bool {
		_, found := fileByName(st, connectors.AppBox, "Contract.docx")
		return found
	}, 30*time.Second, 20*time.Millisecond)

	// Sharing: a file given a public link is rescanned at once (SHARED_LINK.CREATED).
	notes, _ := fileByName(st, connectors.AppBox, "Notes.pptx")
	require.Equal(t, connectors.AccessPrivate, notes.Access)
	require.NoError(t, em.SetSharedLink(notes.Ref.ItemID, "open"))
	require.Eventually(t, func() bool {
		rec, err := st.GetFile(ctx, notes.Ref)
		return err == nil && rec.Access == connectors.AccessPublic
	}, 30*time.Second, 20*time.Millisecond)

	// A trash whose delivery is lost: the event stream's entry (path_collection: the Trash)
	// still marks the file deleted.
	salaries, _ := fileByName(st, connectors.AppBox, "Salaries.docx")
	em.DropDeliveries(1)
	require.NoError(t, em.TrashFile(salaries.Ref.ItemID))
	require.Eventually(t, func() bool {
		rec, err := st.GetFile(ctx, salaries.Ref)
		return err == nil && rec.Deleted
	}, 30*time.Second, 20*time.Millisecond)

	// publicURL moved: Box still has the old address and so does the store. The upkeep
	// loop updates the webhooks in place (no new ones: Box would answer 409).
	subs, err := st.Subscriptions(ctx, connectors.AppBox, tenant)
	require.NoError(t, err)
	old := subs[0]
	old.NotifyURL = "https://old.example/webhooks/box"
	require.NoError(t, st.PutSubscription(ctx, connectors.AppBox, tenant, old))
	for _, w := range em.Webhooks() {
		require.True(t, em.SetWebhookAddress(w.ID, old.NotifyURL))
	}
	created, _ := em.WebhookCalls()
	require.Eventually(t, func() bool {
		for _, w := range em.Webhooks() {
			if w.Address != hookURL {
				return false
			}
		}
		subs, err := st.Subscriptions(ctx, connectors.AppBox, tenant)
		return err == nil && len(subs) == 1 && subs[0].NotifyURL == hookURL
	}, 30*time.Second, 20*time.Millisecond)
	after, updated := em.WebhookCalls()
	require.Equal(t, created, after, "no webhook created again")
	require.GreaterOrEqual(t, updated, 4)
	require.Len(t, em.Webhooks(), 4)
}

// TestBoxEnterpriseStreamNeedsAdmin: with eventStream admin_logs_streaming and a service
// account that is no admin, Box answers 403; the gateway records an operational event naming
// the set-up step and waits minutes, not a second, before reading again.
func TestBoxEnterpriseStreamNeedsAdmin(t *testing.T) {
	t.Parallel()
	b := storetest.Backends()[0]
	ctx := context.Background()
	seed, dir := boxSeed(t, boxFiles())
	em, err := emulator.New(emulator.Options{Seed: seed, SeedDir: dir, ClientID: "e2e-app", ClientSecret: "e2e-secret",
		PrimaryKey: boxPrimaryKey, SecondaryKey: boxSecondaryKey})
	require.NoError(t, err)
	t.Cleanup(em.Close)
	tenant := em.EnterpriseID()
	h := startGateway(t, b, func(c *config.Config) {
		c.Connectors = []config.Connector{{Name: "box", App: "box", Tenant: tenant, ClientID: "e2e-app", ClientSecret: "e2e-secret",
			BaseURL: em.APIURL(), UploadURL: em.UploadURL(), AuthURL: em.TokenURL(), Roots: []string{boxHRRoot},
			PrimaryKey: boxPrimaryKey, SecondaryKey: boxSecondaryKey, EventStream: "admin_logs_streaming"}}
	})
	st := h.g.Store()
	var evs []store.Event
	require.Eventually(t, func() bool {
		evs, err = st.ListEvents(ctx, store.EventFilter{App: connectors.AppBox, Tenant: tenant, Kind: "connector_auth_failed"}, 10)
		return err == nil && len(evs) > 0
	}, 30*time.Second, 20*time.Millisecond)
	require.Contains(t, evs[0].Detail, "admin_logs_streaming")
	require.Contains(t, evs[0].Detail, "Manage enterprise properties")
	require.Never(t, func() bool {
		evs, err := st.ListEvents(ctx, store.EventFilter{App: connectors.AppBox, Tenant: tenant, Kind: "connector_auth_failed"}, 10)
		return err != nil || len(evs) > 1
	}, 2*time.Second, 50*time.Millisecond, "no second attempt within seconds")
}
