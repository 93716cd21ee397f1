package gateway

import (
	"context"
	"time"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/alerts"
	"github.com/labelgate/labelgate/internal/store"
)

// feedPoller is implemented by connectors whose change feed must be read on a timer as well
// as after notices. Box: files directly in the root folder "0" (and top-level folders past
// the 1,000-webhook limit) have no webhook, so only the event stream reports them; reading
// it regularly also keeps the stored position younger than Box's event retention.
type feedPoller interface {
	FeedPollInterval() time.Duration
}

// pollFeeds marks the drives of every polled connector changed at its interval, so the feed
// loop reads them. Drives without a baseline cursor are left to MaintainSubscriptions.
func (g *Gateway) pollFeeds(ctx context.Context) {
	type polled struct {
		c     *Conn
		every time.Duration
		next  time.Time
	}
	var ps []*polled
	tick := time.Hour
	for _, c := range g.reg.list {
		if p, ok := c.C.(feedPoller); ok && p.FeedPollInterval() > 0 {
			ps = append(ps, &polled{c: c, every: p.FeedPollInterval(), next: g.now().Add(p.FeedPollInterval())})
			tick = min(tick, p.FeedPollInterval())
		}
	}
	if len(ps) == 0 {
		return
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := g.now()
		for _, p := range ps {
			if now.Before(p.next) {
				continue
			}
			p.next = now.Add(p.every)
			if err := g.pollConnector(ctx, p.c); err != nil && ctx.Err() == nil {
				g.log.Warn("change feed poll", "connector", p.c.Name, "err", err)
			}
		}
	}
}

func (g *Gateway) pollConnector(ctx context.Context, c *Conn) error {
	app, tenant := c.C.App(), c.C.Tenant()
	drives, err := c.C.Drives(ctx)
	if err != nil {
		return err
	}
	marked := false
	for _, d := range drives {
		cur, err := g.store.GetCursor(ctx, app, tenant, d.ID, store.CursorChanges)
		if err != nil {
			return err
		}
		if cur == "" {
			continue
		}
		if err := g.store.MarkDriveChanged(ctx, app, tenant, d.ID, "poll"); err != nil {
			return err
		}
		marked = true
	}
	if marked {
		g.poke(g.feedWake)
	}
	return nil
}

// boxAddressMoved reports whether a stored Box subscription points at another address than
// the gateway's current one (publicURL changed). Box keeps one webhook per item per app per
// user whatever its address, so the webhook is not created again but updated in place: the
// subscription is renewed at once with the new address, and the connector's Renew sends
// PUT /webhooks/{id}.
func boxAddressMoved(c *Conn, s connectors.Subscription, notifyURL string) bool {
	return c.C.App() == connectors.AppBox && s.NotifyURL != "" && s.NotifyURL != notifyURL
}

// feedAdminRetry is how long a change feed refused for want of an administrator's set-up step
// (Box's admin_logs_streaming without admin rights or scope) waits before it is tried again:
// retrying every second cannot help.
const feedAdminRetry = 5 * time.Minute

// feedNeedsAdmin reports whether a change-feed error needs an administrator's set-up step.
func feedNeedsAdmin(err error) bool { return connectors.KindOf(err) == connectors.KindNotConfigured }

// feedNeedsAdmin records the refusal as an operational event, which the alert rules turn
// into an alert for the operator.
func (g *Gateway) feedNeedsAdmin(ctx context.Context, d store.ChangedDrive, err error) {
	name := string(d.App)
	if c, ok := g.reg.lookup(d.App, d.Tenant); ok {
		name = c.Name
	}
	g.emitOperational(context.WithoutCancel(ctx), alerts.EventConnectorAuthFailed, d.App, d.Tenant,
		name+" change feed of drive "+d.Drive+": "+err.Error())
}
