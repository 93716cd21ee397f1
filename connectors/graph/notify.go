package graph

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/labelgate/labelgate/connectors"
)

// Subscription lifetimes: Graph allows up to 42,300 minutes for driveItem; labelgate asks for
// 29 days and renews 3 days before expiry.
const (
	subscriptionLifetime = 29 * 24 * time.Hour
	maxSubscription      = 42300 * time.Minute
	renewBefore          = 3 * 24 * time.Hour
)

// RenewBefore implements connectors.Subscriber.
func (c *Conn) RenewBefore() time.Duration { return renewBefore }

func (c *Conn) expiry() time.Time {
	d := min(subscriptionLifetime, maxSubscription-time.Minute)
	return c.cfg.Now().Add(d).UTC().Truncate(time.Second)
}

// Subscribe registers for changes on the drive's root; Graph validates notifyURL (and the
// lifecycle URL) with a handshake before answering.
func (c *Conn) Subscribe(ctx context.Context, drive connectors.Drive, notifyURL string) (connectors.Subscription, error) {
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return connectors.Subscription{}, fmt.Errorf("graph subscribe: clientState: %w", err)
	}
	state := base64.RawURLEncoding.EncodeToString(secret[:])
	resource := "/drives/" + drive.ID + "/root"
	lifecycle := c.cfg.LifecycleURL
	if lifecycle == "" {
		lifecycle = notifyURL
	}
	exp := c.expiry()
	body := models.NewSubscription()
	body.SetResource(&resource)
	ct := "updated"
	body.SetChangeType(&ct)
	body.SetNotificationUrl(&notifyURL)
	body.SetLifecycleNotificationUrl(&lifecycle)
	body.SetClientState(&state)
	body.SetExpirationDateTime(&exp)
	var out models.Subscriptionable
	err := c.call(ctx, "graph subscribe", func(ctx context.Context) (err error) {
		out, err = c.subscriptions().Post(ctx, body, nil)
		return err
	})
	if err != nil {
		return connectors.Subscription{}, err
	}
	now := c.cfg.Now()
	s := connectors.Subscription{
		ID: str(out.GetId()), Drive: drive.ID, Resource: resource, Secret: state,
		Expires: exp, CreatedAt: now, NotifyURL: notifyURL, Provider: "graph",
	}
	if e := out.GetExpirationDateTime(); e != nil {
		s.Expires = *e
	}
	c.log.InfoContext(ctx, "graph subscription created", "subscription", s.ID, "drive", drive.ID, "expires", s.Expires)
	return s, nil
}

// Renew reauthorizes the subscription when a lifecycle event asked for it, then extends it.
// A subscription Graph no longer knows is recreated; the returned one is the one to keep.
func (c *Conn) Renew(ctx context.Context, sub connectors.Subscription) (connectors.Subscription, error) {
	if sub.Lifecycled {
		err := c.call(ctx, "graph reauthorize", func(ctx context.Context) error {
			return c.subscriptions().BySubscriptionId(sub.ID).Reauthorize().Post(ctx, nil)
		})
		if err != nil && connectors.KindOf(err) != connectors.KindNotFound {
			return sub, err
		}
	}
	exp := c.expiry()
	body := models.NewSubscription()
	body.SetExpirationDateTime(&exp)
	var out models.Subscriptionable
	err := c.call(ctx, "graph renew", func(ctx context.Context) (err error) {
		out, err = c.subscriptions().BySubscriptionId(sub.ID).Patch(ctx, body, nil)
		return err
	})
	if connectors.KindOf(err) == connectors.KindNotFound {
		c.log.WarnContext(ctx, "graph subscription gone, recreating", "subscription", sub.ID, "drive", sub.Drive)
		return c.Subscribe(ctx, connectors.Drive{ID: sub.Drive, Tenant: c.Tenant()}, sub.NotifyURL)
	}
	if err != nil {
		return sub, err
	}
	sub.Expires = exp
	if e := out.GetExpirationDateTime(); e != nil {
		sub.Expires = *e
	}
	sub.RenewedAt = c.cfg.Now()
	sub.Lifecycled = false
	sub.LastError = ""
	return sub, nil
}

// Unsubscribe deletes the subscription; one already gone is not an error.
func (c *Conn) Unsubscribe(ctx context.Context, sub connectors.Subscription) error {
	err := c.call(ctx, "graph unsubscribe", func(ctx context.Context) error {
		return c.subscriptions().BySubscriptionId(sub.ID).Delete(ctx, nil)
	})
	if connectors.KindOf(err) == connectors.KindNotFound {
		return nil
	}
	return err
}

// notification is one entry of a Graph change or lifecycle notification.
type notification struct {
	SubscriptionID string `json:"subscriptionId"`
	ClientState    string `json:"clientState"`
	ChangeType     string `json:"changeType"`
	Resource       string `json:"resource"`
	TenantID       string `json:"tenantId"`
	LifecycleEvent string `json:"lifecycleEvent"`
}

type notificationBody struct {
	Value []json.RawMessage `json:"value"`
}

// Receive answers validation handshakes and verifies notifications entry by entry: Graph may
// put notifications of several subscriptions in one POST (../shared/specs/README.md), so one
// entry naming a subscription this connector does not know (another app's, one deleted a
// moment ago, a forgery) must not cost the others. Each entry must name a known subscription
// of this connector and carry its clientState (compared in constant time); entries that do
// not are dropped and logged, never turned into notices. The POST is accepted when at least
// one entry verifies; when none does it is refused (ErrForged, or ErrMalformed when no entry
// could even be read), so Graph does not keep retrying a real batch for a stranger's entry.
func (c *Conn) Receive(ctx context.Context, req connectors.Request) (connectors.Reply, []connectors.Notice, error) {
	if tok := req.Query.Get("validationToken"); tok != "" {
		return connectors.Reply{Status: http.StatusOK, ContentType: "text/plain", Body: []byte(tok)}, nil, nil
	}
	var body notificationBody
	if err := json.Unmarshal(req.Body, &body); err != nil {
		return connectors.Reply{}, nil, fmt.Errorf("graph notification: %w: %v", connectors.ErrMalformed, err)
	}
	if len(body.Value) == 0 {
		return connectors.Reply{}, nil, fmt.Errorf("graph notification: %w: no value entries", connectors.ErrMalformed)
	}
	if c.cfg.Subscriptions == nil {
		return connectors.Reply{}, nil, fmt.Errorf("graph notification: %w: no subscription store configured", connectors.ErrForged)
	}
	notices := make([]connectors.Notice, 0, len(body.Value))
	forged, malformed := 0, 0
	for i, raw := range body.Value {
		var n notification
		if err := json.Unmarshal(raw, &n); err != nil || n.SubscriptionID == "" {
			malformed++
			c.log.WarnContext(ctx, "graph notification entry dropped: unreadable", "entry", i)
			continue
		}
		sub, ok, err := c.cfg.Subscriptions.Subscription(ctx, c.app, c.Tenant(), n.SubscriptionID)
		if err != nil {
			// The store could not answer: refuse the whole POST so Graph delivers it again.
			return connectors.Reply{}, nil, fmt.Errorf("graph notification: look up subscription: %w", err)
		}
		if why := verify(n, sub, ok, c.Tenant()); why != "" {
			forged++
			c.log.WarnContext(ctx, "graph notification entry dropped: failed verification", "entry", i,
				"subscription", n.SubscriptionID, "reason", why)
			continue
		}
		kind := connectors.NoticeChanged
		switch n.LifecycleEvent {
		case "":
		case "reauthorizationRequired":
			kind = connectors.NoticeReauthorize
		default:
			// driveItem subscriptions get no other lifecycle event (missed and
			// subscriptionRemoved are Outlook's and Teams'); should one come, reading the
			// change feed is the safe answer.
			c.log.WarnContext(ctx, "graph unexpected lifecycle event for a drive, reading the change feed", "event", n.LifecycleEvent)
			kind = connectors.NoticeMissed
		}
		// No DedupKey: driveItem notifications carry no per-change id, so two real changes
		// post identical bodies and a delivery key would drop the second. A duplicate
		// delivery is harmless instead: it only re-marks a drive that is already marked.
		notices = append(notices, connectors.Notice{
			Kind: kind, App: c.app, Tenant: c.Tenant(), Drive: sub.Drive, SubscriptionID: n.SubscriptionID,
		})
	}
	switch {
	case len(notices) > 0:
		if forged+malformed > 0 {
			c.log.InfoContext(ctx, "graph notification accepted in part", "verified", len(notices), "dropped", forged+malformed)
		}
		return connectors.Reply{}, notices, nil
	case forged > 0:
		return connectors.Reply{}, nil, fmt.Errorf("graph notification: %w: none of %d entries verified", connectors.ErrForged, len(body.Value))
	}
	return connectors.Reply{}, nil, fmt.Errorf("graph notification: %w: no readable entry", connectors.ErrMalformed)
}

// dummySecret is compared against when a notification names no known subscription, so that
// the time taken does not tell a prober whether a subscription id exists.
var dummySecret = []byte("labelgate-graph-unknown-subscription-0000000")

// verify says why a notification entry fails verification against the stored subscription,
// "" when it passes.
func verify(n notification, sub connectors.Subscription, found bool, tenant string) string {
	secret := []byte(sub.Secret)
	if !found || sub.Secret == "" {
		secret = dummySecret
	}
	match := subtle.ConstantTimeCompare([]byte(n.ClientState), secret) == 1
	switch {
	case !found || sub.Secret == "":
		return "unknown subscription"
	case !match:
		return "clientState mismatch"
	case n.TenantID != "" && !strings.EqualFold(n.TenantID, tenant):
		return "tenant mismatch"
	}
	return ""
}
