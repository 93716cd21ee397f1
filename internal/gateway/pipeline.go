package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/alerts"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/labeling"
	"github.com/labelgate/labelgate/webhooks"
)

// Reason says why a file was queued for scanning; it sets the job's priority.
type Reason string

// Reasons, most urgent first.
const (
	ReasonAdmin   Reason = "admin"
	ReasonWebhook Reason = "webhook"
	ReasonPolicy  Reason = "policy"
	ReasonRescan  Reason = "rescan"
)

// ScanQueue is what the pipeline needs of the scan queue.
type ScanQueue interface {
	EnqueueScan(ctx context.Context, ref connectors.FileRef, reason Reason) error
}

// Conn is a configured connector.
type Conn struct {
	Name string
	C    connectors.Connector
}

// registry finds connectors by route name and by (app, tenant).
type registry struct {
	byName map[string]*Conn
	byApp  map[string]*Conn
	list   []*Conn
}

func newRegistry(conns []*Conn) (*registry, error) {
	r := &registry{byName: map[string]*Conn{}, byApp: map[string]*Conn{}}
	for _, c := range conns {
		if _, dup := r.byName[c.Name]; dup {
			return nil, fmt.Errorf("connector %q configured twice", c.Name)
		}
		key := string(c.C.App()) + "/" + c.C.Tenant()
		if _, dup := r.byApp[key]; dup {
			return nil, fmt.Errorf("two connectors for app %s tenant %s", c.C.App(), c.C.Tenant())
		}
		r.byName[c.Name], r.byApp[key] = c, c
		r.list = append(r.list, c)
	}
	return r, nil
}

func (r *registry) lookup(app connectors.App, tenant string) (*Conn, bool) {
	c, ok := r.byApp[string(app)+"/"+tenant]
	return c, ok
}

// sink turns verified notices into durable work: a named file goes straight to the scan
// queue, a changed drive is marked for a change-feed read, and lifecycle notices flag the
// subscription for upkeep.
type sink struct {
	g     *Gateway
	batch *store.DeliveryBatcher
}

// newSink returns the gateway's sink. Its batcher needs no closing: every caller waits for
// its own commit, so once the webhook listener has drained nothing is left queued.
func newSink(g *Gateway) sink {
	return sink{g: g, batch: g.store.NewDeliveryBatcher(store.BatchOptions{Linger: store.DefaultLinger})}
}

var _ webhooks.Recorder = sink{}

// RecordNotice implements webhooks.Recorder. A drive-change notice is recorded by group
// commit: its delivery key and the drive mark share one transaction with the other notices
// arriving together, so the ack waits for one commit instead of two per notice. Other notices
// (a named file for the scan queue, subscription lifecycle) write elsewhere: their key is
// recorded first, as before, so a replay never repeats their work.
func (s sink) RecordNotice(ctx context.Context, key string, n connectors.Notice) (bool, error) {
	if _, ok := s.g.reg.lookup(n.App, n.Tenant); !ok {
		return false, fmt.Errorf("notice for unknown connector %s/%s", n.App, n.Tenant)
	}
	if n.Kind == connectors.NoticeMissed || (n.Kind == connectors.NoticeChanged && n.ItemID == "") {
		first, err := s.batch.Record(ctx, store.Delivery{Key: key,
			Mark: &store.DriveMark{App: n.App, Tenant: n.Tenant, Drive: n.Drive, Reason: string(n.Kind)}})
		if err != nil || !first {
			return false, err
		}
		s.g.poke(s.g.feedWake)
		return true, nil
	}
	first, err := s.batch.FirstDelivery(ctx, key)
	if err != nil || !first {
		return false, err
	}
	return true, s.Notice(ctx, n)
}

func (s sink) Notice(ctx context.Context, n connectors.Notice) error {
	g := s.g
	conn, ok := g.reg.lookup(n.App, n.Tenant)
	if !ok {
		return fmt.Errorf("notice for unknown connector %s/%s", n.App, n.Tenant)
	}
	switch n.Kind {
	case connectors.NoticeChanged, connectors.NoticeMissed:
		if n.ItemID != "" && n.Kind == connectors.NoticeChanged {
			return g.queue.EnqueueScan(ctx, connectors.FileRef{App: n.App, Tenant: n.Tenant, Drive: n.Drive, ItemID: n.ItemID}, ReasonWebhook)
		}
		// Unkeyed notices (Graph's) share the group commit too.
		if _, err := s.batch.Record(ctx, store.Delivery{
			Mark: &store.DriveMark{App: n.App, Tenant: n.Tenant, Drive: n.Drive, Reason: string(n.Kind)}}); err != nil {
			return err
		}
		g.poke(g.feedWake)
	case connectors.NoticeReauthorize, connectors.NoticeRemoved:
		sub, found, err := g.store.Subscription(ctx, n.App, n.Tenant, n.SubscriptionID)
		if err != nil {
			return err
		}
		if found {
			// Expiring it now makes the upkeep loop renew (or recreate) it at once.
			sub.Expires, sub.LastError = time.Unix(0, 0), string(n.Kind)
			if err := g.store.PutSubscription(ctx, n.App, n.Tenant, sub); err != nil {
				return err
			}
		}
		// Changes may have been missed while the subscription was unwell.
		if n.Drive != "" {
			if err := g.store.MarkDriveChanged(ctx, n.App, n.Tenant, n.Drive, string(n.Kind)); err != nil {
				return err
			}
			g.poke(g.feedWake)
		}
		g.poke(g.subWake)
	default:
		g.log.Warn("ignoring notice of unknown kind", "kind", n.Kind, "connector", conn.Name)
	}
	return nil
}

func (g *Gateway) poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// feedLoop reads the change feed of every drive marked changed, enqueueing each changed
// supported file, until ctx ends. It also polls, so marks made by other replicas are seen.
func (g *Gateway) feedLoop(ctx context.Context) {
	tick := time.NewTicker(g.opts.FeedPoll)
	defer tick.Stop()
	for {
		for {
			n, err := g.readChangedDrives(ctx)
			if err != nil && ctx.Err() == nil {
				g.log.Error("change feed", "err", err)
			}
			if n == 0 || ctx.Err() != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-g.feedWake:
		case <-tick.C:
		}
	}
}

// readChangedDrives claims a batch of changed drives and reads their feeds; it returns how
// many it claimed.
func (g *Gateway) readChangedDrives(ctx context.Context) (int, error) {
	drives, err := g.store.ClaimChangedDrives(ctx, 5*time.Minute, 16)
	if err != nil || len(drives) == 0 {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, d := range drives {
		wg.Add(1)
		go func(d store.ChangedDrive) {
			defer wg.Done()
			err := g.ReadChanges(ctx, d.App, d.Tenant, d.Drive)
			if err == nil {
				err = g.store.ClearDriveChanged(ctx, d)
				if err != nil {
					g.log.Error("change feed: clear", "drive", d.Drive, "err", err)
				}
				return
			}
			delay := time.Second
			if ra, ok := connectors.RetryAfter(err); ok {
				delay = ra
			}
			if feedNeedsAdmin(err) {
				delay = feedAdminRetry
				g.feedNeedsAdmin(ctx, d, err)
			}
			g.log.Warn("change feed read failed; will retry", "app", d.App, "tenant", d.Tenant, "drive", d.Drive, "retryIn", delay, "err", err)
			if rerr := g.store.ReleaseDriveChanged(context.WithoutCancel(ctx), d, delay); rerr != nil {
				g.log.Error("change feed: release", "drive", d.Drive, "err", rerr)
			}
		}(d)
	}
	wg.Wait()
	return len(drives), nil
}

// ReadChanges reads one drive's change feed from its stored cursor and enqueues each changed
// supported file. An expired cursor triggers a full resync of the drive: a fresh cursor is
// taken first (so nothing changing during the walk is missed), then every file is enqueued.
func (g *Gateway) ReadChanges(ctx context.Context, app connectors.App, tenant, drive string) error {
	conn, ok := g.reg.lookup(app, tenant)
	if !ok {
		return fmt.Errorf("no connector for %s/%s", app, tenant)
	}
	cursor, err := g.store.GetCursor(ctx, app, tenant, drive, store.CursorChanges)
	if err != nil {
		return err
	}
	if cursor == "" {
		// No baseline yet: this notice is the first we hear of the drive. Take a cursor and
		// have a rescan walk the connector once, so nothing that changed before is missed.
		return g.baseline(ctx, conn, drive)
	}
	enqueued := 0
	next, err := conn.C.Changes(ctx, drive, cursor, func(f connectors.File) error {
		n, err := g.fileChanged(ctx, f, ReasonWebhook)
		enqueued += n
		return err
	})
	if errors.Is(err, connectors.ErrCursorExpired) {
		g.log.Warn("change cursor expired; resyncing drive", "connector", conn.Name, "drive", drive)
		return g.resync(ctx, conn, drive)
	}
	if err != nil {
		return err
	}
	g.log.Debug("change feed read", "connector", conn.Name, "drive", drive, "enqueued", enqueued)
	return g.store.PutCursor(ctx, app, tenant, drive, store.CursorChanges, next)
}

func (g *Gateway) resync(ctx context.Context, conn *Conn, drive string) error {
	fresh, err := conn.C.Changes(ctx, drive, "", func(connectors.File) error { return nil })
	if err != nil {
		return fmt.Errorf("resync %s: new cursor: %w", drive, err)
	}
	n := 0
	err = conn.C.Walk(ctx, drive, "", func(f connectors.File, _ string) error {
		k, err := g.fileChanged(ctx, f, ReasonWebhook)
		n += k
		return err
	})
	if err != nil {
		return fmt.Errorf("resync %s: walk: %w", drive, err)
	}
	g.log.Info("drive resynced", "connector", conn.Name, "drive", drive, "enqueued", n)
	return g.store.PutCursor(ctx, conn.C.App(), conn.C.Tenant(), drive, store.CursorChanges, fresh)
}

// fileChanged records a changed file: deleted ones are marked so, supported ones are
// queued for a scan. It returns 1 when it enqueued.
func (g *Gateway) fileChanged(ctx context.Context, f connectors.File, reason Reason) (int, error) {
	if f.Folder {
		return 0, nil
	}
	if f.Deleted {
		return 0, g.store.MarkDeleted(ctx, f.Ref, "change feed")
	}
	if !labeling.IsSupported(f.Name) {
		return 0, nil
	}
	if fq, ok := g.queue.(factQueue); ok {
		// The feed just read the file's facts: the scan need not read them again.
		_, err := fq.EnqueueScanFacts(ctx, []connectors.File{f}, reason, g.now())
		return 1, err
	}
	return 1, g.queue.EnqueueScan(ctx, f.Ref, reason)
}

// subLoop keeps every drive subscribed: it creates missing subscriptions, renews those close
// to expiry (or flagged by a lifecycle notice) and records each in the store.
func (g *Gateway) subLoop(ctx context.Context) {
	tick := time.NewTicker(g.opts.SubscriptionCheck)
	defer tick.Stop()
	for {
		for _, c := range g.reg.list {
			if err := g.MaintainSubscriptions(ctx, c); err != nil && ctx.Err() == nil {
				g.log.Error("subscriptions", "connector", c.Name, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-g.subWake:
		case <-tick.C:
		}
	}
}

// MaintainSubscriptions brings one connector's subscriptions in line with its drives.
func (g *Gateway) MaintainSubscriptions(ctx context.Context, c *Conn) error {
	sub, ok := c.C.(connectors.Subscriber)
	if !ok {
		return nil
	}
	app, tenant := c.C.App(), c.C.Tenant()
	drives, err := c.C.Drives(ctx)
	if err != nil {
		if isAuthError(err) {
			g.emitOperational(ctx, alerts.EventConnectorAuthFailed, app, tenant, c.Name+": "+err.Error())
		}
		return fmt.Errorf("drives: %w", err)
	}
	have, err := g.store.Subscriptions(ctx, app, tenant)
	if err != nil {
		return err
	}
	byDrive := map[string]connectors.Subscription{}
	for _, s := range have {
		byDrive[s.Drive] = s
	}
	notifyURL := g.notifyBase() + "/webhooks/" + c.Name
	var errs []error
	for _, d := range drives {
		// A baseline cursor first, so the first notification has something to read from.
		if cur, err := g.store.GetCursor(ctx, app, tenant, d.ID, store.CursorChanges); err == nil && cur == "" {
			if err := g.store.MarkDriveChanged(ctx, app, tenant, d.ID, "baseline"); err != nil {
				errs = append(errs, err)
			}
			g.poke(g.feedWake)
		}
		s, exists := byDrive[d.ID]
		now := g.now()
		if exists && boxAddressMoved(c, s, notifyURL) {
			s.NotifyURL, s.Expires = notifyURL, now // renew now, at the new address (boxfeed.go)
		}
		switch {
		case !exists:
			ns, err := sub.Subscribe(ctx, d, notifyURL)
			if err != nil {
				g.subscriptionFailed(ctx, c, d.ID, err)
				errs = append(errs, fmt.Errorf("subscribe %s: %w", d.ID, err))
				continue
			}
			if err := g.store.PutSubscription(ctx, app, tenant, ns); err != nil {
				errs = append(errs, err)
				continue
			}
			g.log.Info("subscribed", "connector", c.Name, "drive", d.ID, "subscription", ns.ID, "expires", ns.Expires)
		case !s.Expires.IsZero() && s.Expires.Sub(now) < sub.RenewBefore():
			ns, err := sub.Renew(ctx, s)
			// A different id back from Renew: the connector found the subscription gone and
			// made a new one (Graph), or replaced it as it always does (Drive channels). Either
			// way notifications may have fallen between the two, so the feed is read once.
			recreated := err == nil && ns.ID != s.ID
			if err != nil {
				// Lost at the provider: make a new one.
				if connectors.KindOf(err) == connectors.KindNotFound {
					ns, err = sub.Subscribe(ctx, d, notifyURL)
					recreated = err == nil
				}
				if err != nil {
					s.LastError = err.Error()
					_ = g.store.PutSubscription(ctx, app, tenant, s)
					g.subscriptionFailed(ctx, c, d.ID, err)
					errs = append(errs, fmt.Errorf("renew %s: %w", s.ID, err))
					continue
				}
			}
			ns.LastError = ""
			if ns.RenewedAt.IsZero() {
				ns.RenewedAt = now
			}
			if err := g.store.PutSubscription(ctx, app, tenant, ns); err != nil {
				errs = append(errs, err)
				continue
			}
			if ns.ID != s.ID {
				if err := g.store.DeleteSubscription(ctx, app, tenant, s.ID); err != nil {
					errs = append(errs, err)
				}
				if recreated {
					// A Graph driveItem subscription the provider dropped vanishes without any
					// lifecycle notification (its renewal answers 404), so notifications may have
					// been lost meanwhile: read the drive's change feed from the stored cursor,
					// which still covers every change since the last read.
					g.log.Info("subscription replaced; reading the drive's change feed", "connector", c.Name,
						"drive", d.ID, "old", s.ID, "new", ns.ID)
					if err := g.store.MarkDriveChanged(ctx, app, tenant, d.ID, "resubscribed"); err != nil {
						errs = append(errs, err)
					}
					g.poke(g.feedWake)
				}
			}
			g.log.Info("subscription renewed", "connector", c.Name, "drive", d.ID, "subscription", ns.ID, "expires", ns.Expires)
		}
	}
	return errors.Join(errs...)
}

func (g *Gateway) notifyBase() string {
	if g.cfg.Server.PublicURL != "" {
		return trimSlash(g.cfg.Server.PublicURL)
	}
	return g.public.URL()
}

// logger returns the gateway's logger with a component name.
func (g *Gateway) logger(component string) *slog.Logger { return g.log.With("component", component) }

// Watcher is implemented by connectors whose change feed is a local watch rather than
// provider webhooks (file shares).
type Watcher interface {
	Watch(ctx context.Context, drive string, fn func(connectors.File)) error
}

// watchLoops runs every watcher connector's watch on each of its drives until ctx ends.
func (g *Gateway) watchLoops(ctx context.Context) {
	for _, c := range g.reg.list {
		w, ok := c.C.(Watcher)
		if !ok {
			continue
		}
		drives, err := c.C.Drives(ctx)
		if err != nil {
			g.log.Error("watch: drives", "connector", c.Name, "err", err)
			continue
		}
		for _, d := range drives {
			c, d := c, d
			g.goBG(func() {
				for ctx.Err() == nil {
					err := w.Watch(ctx, d.ID, func(f connectors.File) {
						if _, err := g.fileChanged(ctx, f, ReasonWebhook); err != nil && ctx.Err() == nil {
							g.log.Error("watch: enqueue", "connector", c.Name, "file", f.Ref.Key(), "err", err)
						}
					})
					if ctx.Err() != nil {
						return
					}
					g.log.Warn("watch stopped; restarting", "connector", c.Name, "drive", d.ID, "err", err)
					select {
					case <-ctx.Done():
					case <-time.After(5 * time.Second):
					}
				}
			})
		}
	}
}

func (g *Gateway) subscriptionFailed(ctx context.Context, c *Conn, drive string, err error) {
	g.emitOperational(ctx, alerts.EventSubscriptionFailed, c.C.App(), c.C.Tenant(), c.Name+" drive "+drive+": "+err.Error())
	if isAuthError(err) {
		g.emitOperational(ctx, alerts.EventConnectorAuthFailed, c.C.App(), c.C.Tenant(), c.Name+": "+err.Error())
	}
}
