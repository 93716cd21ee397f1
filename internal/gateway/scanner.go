package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/provmetrics"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/labeling"
	"github.com/labelgate/labelgate/policies"
)

// Decider evaluates policies for a freshly scanned file and records the actions they ask
// for. content opens the file again only if a content condition needs it.
type Decider interface {
	Decide(ctx context.Context, rec store.FileRecord, content policies.ContentSource) error
}

type scanMetrics struct {
	scans      *prometheus.CounterVec
	bytes      prometheus.Histogram
	roundTrips prometheus.Histogram
	// calls is what one scan cost at the provider: metadata calls and content reads.
	calls *prometheus.HistogramVec
}

func newScanMetrics(reg prometheus.Registerer) *scanMetrics {
	m := &scanMetrics{
		scans: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "labelgate_scans_total",
			Help: "File scans by app and result."}, []string{"app", "result"}),
		bytes: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "labelgate_scan_bytes_read",
			Help: "Bytes read from the provider per scan.", Buckets: prometheus.ExponentialBuckets(512, 4, 10)}),
		roundTrips: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "labelgate_scan_round_trips",
			Help: "Ranged reads per scan.", Buckets: []float64{1, 2, 3, 4, 6, 8, 12, 16}}),
		calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "labelgate_scan_provider_requests",
			Help:    "Provider requests one scan made, by app and kind (metadata calls, content reads).",
			Buckets: []float64{0, 1, 2, 3, 4, 6, 8, 12}}, []string{"app", "kind"}),
	}
	if reg != nil {
		reg.MustRegister(m.scans, m.bytes, m.roundTrips, m.calls)
	}
	return m
}

// Scan reads one file's label through its connector and records it in the inventory, then
// lets the policies decide. An error is returned only when a retry may help (provider
// throttling or an outage); a file that cannot be read is recorded as a failed scan.
func (g *Gateway) Scan(ctx context.Context, ref connectors.FileRef) error {
	return g.ScanWith(ctx, ref, nil, time.Time{})
}

// factsMaxAge is how old the facts a job carries may be and still stand in for a Stat. A
// change after the walk reaches the gateway as a webhook and queues a scan without facts;
// this bound covers a change whose notice was lost until the change feed catches up.
const factsMaxAge = 15 * time.Minute

// ScanWith is Scan with the file's facts as a walk or change feed read them at seen (nil
// when none): fresh facts stand in for the Stat call (issue 21: at most one metadata call
// per scanned file), and a connector that can open from facts saves the call Open makes.
func (g *Gateway) ScanWith(ctx context.Context, ref connectors.FileRef, facts *connectors.File, seen time.Time) error {
	if facts != nil && (facts.Ref != ref || g.now().Sub(seen) > factsMaxAge || facts.Deleted || facts.Folder) {
		facts = nil
	}
	ctx, tally := provmetrics.Track(ctx)
	err := g.scan(ctx, ref, facts)
	g.metrics.calls.WithLabelValues(string(ref.App), string(provmetrics.Metadata)).Observe(float64(tally.Metadata()))
	g.metrics.calls.WithLabelValues(string(ref.App), string(provmetrics.Content)).Observe(float64(tally.Content()))
	return err
}

func (g *Gateway) scan(ctx context.Context, ref connectors.FileRef, facts *connectors.File) error {
	conn, ok := g.reg.lookup(ref.App, ref.Tenant)
	if !ok {
		return connectors.Errorf(connectors.KindInvalid, "scan", 0, 0, fmt.Errorf("no connector for %s/%s", ref.App, ref.Tenant))
	}
	if fo, ok := conn.C.(connectors.FactOpener); ok && facts != nil && labeling.IsSupported(facts.Name) {
		obj, err := fo.OpenFile(ctx, *facts)
		switch {
		case err == nil:
			// Opening from facts may make no provider call at all (Drive), so a file deleted
			// or rewritten since the walk shows only when its bytes are read: a 404, or a
			// body that no longer matches the walk's size. Such a read falls back to Stat
			// and Open below, which tell a gone or changed file from a bad one, rather than
			// recording the file live with a failed scan (TestChaos caught a Drive file
			// deleted under a queued scan and kept live this way).
			err = g.readAs(ctx, conn, *facts, obj, true)
			if !errors.Is(err, errFactsStale) {
				return err
			}
		case connectors.KindOf(err) == connectors.KindNotFound:
			g.metrics.scans.WithLabelValues(string(ref.App), "gone").Inc()
			return g.store.MarkDeleted(ctx, ref, "scanner")
		case connectors.KindOf(err) != connectors.KindChanged:
			return g.scanFailed(ctx, *facts, "", fmt.Errorf("open: %w", err))
		}
		// Changed since the walk saw it, or gone: read the facts afresh.
	}
	f, err := conn.C.Stat(ctx, ref)
	if connectors.KindOf(err) == connectors.KindNotFound || (err == nil && f.Deleted) {
		g.metrics.scans.WithLabelValues(string(ref.App), "gone").Inc()
		return g.store.MarkDeleted(ctx, ref, "scanner")
	}
	if err != nil {
		g.metrics.scans.WithLabelValues(string(ref.App), "retry").Inc()
		return fmt.Errorf("stat %s: %w", ref.Key(), err)
	}
	if f.Folder || !labeling.IsSupported(f.Name) {
		_, _, err := g.store.UpsertFile(ctx, f)
		g.metrics.scans.WithLabelValues(string(ref.App), "unsupported").Inc()
		return err
	}
	obj, err := conn.C.Open(ctx, ref)
	if err != nil {
		return g.scanFailed(ctx, f, "", fmt.Errorf("open: %w", err))
	}
	return g.read(ctx, conn, f, obj)
}

// errFactsStale marks a read from a walk's facts that failed in a way a fresh Stat may
// explain (the file is gone or changed); nothing was recorded.
var errFactsStale = errors.New("gateway: read from facts failed; stat again")

// read reads the label of an opened file, records the scan and lets the policies decide.
func (g *Gateway) read(ctx context.Context, conn *Conn, f connectors.File, obj connectors.Object) error {
	return g.readAs(ctx, conn, f, obj, false)
}

// readAs is read; fromFacts says f came from a walk or feed rather than a Stat just made, so
// a failed read that is not the provider's passing trouble returns errFactsStale unrecorded.
func (g *Gateway) readAs(ctx context.Context, conn *Conn, f connectors.File, obj connectors.Object, fromFacts bool) error {
	ref := f.Ref
	// The organisation's tenant (labels.tenantId) picks the file's label among the tenants'
	// labels it carries; the others are external (issue 20).
	org := g.orgTenant(conn)
	res, err := labeling.ReadWith(ctx, obj, obj.Size(), f.Name, labeling.ReadOptions{Tenant: org})
	obj.Close()
	if err != nil {
		if fromFacts && !providerTrouble(err) && ctx.Err() == nil {
			return fmt.Errorf("%w: %w", errFactsStale, err)
		}
		return g.scanFailed(ctx, f, string(res.Type), err)
	}
	g.metrics.bytes.Observe(float64(res.BytesRead))
	g.metrics.roundTrips.Observe(float64(res.RoundTrips))
	out := store.ScanOutcome{File: f, Type: string(res.Type), Protected: res.Protected, BytesRead: res.BytesRead}
	isExternal := func(tenant string) bool {
		return org != "" && tenant != "" && !strings.EqualFold(tenant, org)
	}
	for _, l := range res.Effective {
		ext := isExternal(l.Tenant)
		if ext && g.cfg.Labels.OnlyThisTenant {
			continue
		}
		out.Labels = append(out.Labels, store.CarriedLabel{LabelID: l.ID, Tenant: l.Tenant, Method: l.Method, SetAt: l.SetDate,
			Source: l.Source, ParentID: l.ParentID, Name: l.Name, External: ext})
		if ext {
			out.External = true
			if !g.externals.fresh(ref.App, ref.Tenant, l.ID, g.now()) {
				if err := g.store.RecordExternalLabel(ctx, ref.App, ref.Tenant, l.ID, l.Tenant); err != nil {
					return err
				}
				g.externals.recorded(ref.App, ref.Tenant, l.ID, g.now())
			}
		}
	}
	if l := res.Label; l != nil && !(isExternal(l.Tenant) && g.cfg.Labels.OnlyThisTenant) {
		out.LabelID, out.LabelTenant, out.LabelMethod, out.LabelSetAt = l.ID, l.Tenant, l.Method, l.SetDate
	} else if l == nil && f.NativeLabel != "" {
		out.LabelID, out.LabelTenant, out.LabelMethod = f.NativeLabel, conn.C.Tenant(), "native"
		out.Labels = append(out.Labels, store.CarriedLabel{LabelID: f.NativeLabel, Tenant: conn.C.Tenant(), Method: "native", Source: "native"})
	}
	_, rec, err := g.scans.Record(ctx, out)
	if err != nil {
		return err
	}
	g.metrics.scans.WithLabelValues(string(ref.App), "ok").Inc()
	if g.decider == nil {
		return nil
	}
	defer g.exec.Wake() // actions the policies recorded run now, not at the next sweep
	return g.decider.Decide(ctx, rec, func(ctx context.Context) (io.ReaderAt, int64, error) {
		o, err := conn.C.Open(ctx, ref)
		if err != nil {
			return nil, 0, err
		}
		// The content reader lives as long as the evaluation; the connector's objects hold
		// no resources beyond their HTTP client, so closing is not needed for correctness.
		return o, o.Size(), nil
	})
}

// scanFailed records an unreadable file, or returns the error for a retry when the provider
// is the problem rather than the file.
func (g *Gateway) scanFailed(ctx context.Context, f connectors.File, typ string, err error) error {
	if providerTrouble(err) {
		g.metrics.scans.WithLabelValues(string(f.Ref.App), "retry").Inc()
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	g.metrics.scans.WithLabelValues(string(f.Ref.App), "failed").Inc()
	g.log.Warn("scan failed", "file", f.Ref.Key(), "name", f.Name, "err", err)
	_, _, rerr := g.scans.Record(ctx, store.ScanOutcome{File: f, Type: typ, Err: err.Error()})
	return rerr
}

// providerTrouble says err is the provider's passing trouble (throttling, an outage), which a
// retry of the job may cure, rather than something about the file. Only a typed connector
// error counts: KindOf calls an untyped error transient, and a parse error is not.
func providerTrouble(err error) bool {
	var ce *connectors.Error
	return errors.As(err, &ce) && connectors.Retryable(err)
}

// orgTenant is the organisation's own MIP tenant, against which external labels are told.
func (g *Gateway) orgTenant(c *Conn) string {
	if g.cfg.Labels.TenantID != "" {
		return g.cfg.Labels.TenantID
	}
	for _, x := range g.reg.list {
		if x.C.App() == connectors.AppSharePoint || x.C.App() == connectors.AppOneDrive {
			return x.C.Tenant()
		}
	}
	return ""
}

// externalLabels remembers the external labels the scanner recorded in the catalog lately:
// files of another tenant's labels come by the thousand, and recording one was a write per
// scanned file (a quarter of the files in the benchmark tenant) that changed nothing after
// the first. Entries last externalFresh, so a catalog that lost the row gets it back; the
// set is bounded, as label ids come from files.
type externalLabels struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

const (
	externalFresh = 10 * time.Minute
	externalMax   = 4096
)

func externalKey(app connectors.App, tenant, id string) string {
	return string(app) + "\x00" + tenant + "\x00" + id
}

func (e *externalLabels) fresh(app connectors.App, tenant, id string, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	at, ok := e.seen[externalKey(app, tenant, id)]
	return ok && now.Sub(at) < externalFresh
}

func (e *externalLabels) recorded(app connectors.App, tenant, id string, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.seen == nil || len(e.seen) >= externalMax {
		e.seen = map[string]time.Time{}
	}
	e.seen[externalKey(app, tenant, id)] = now
}
