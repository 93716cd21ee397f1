package box

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/labelgate/labelgate/connectors"
)

// Triggers labelgate subscribes to: every way a file's content, place, sharing-relevant
// state or classification can change.
var Triggers = []string{
	"FILE.UPLOADED", "FILE.COPIED", "FILE.MOVED", "FILE.RESTORED", "FILE.RENAMED", "FILE.TRASHED",
	"METADATA_INSTANCE.CREATED", "METADATA_INSTANCE.UPDATED", "METADATA_INSTANCE.DELETED",
}

// Webhook delivery headers.
const (
	HeaderDeliveryID         = "BOX-DELIVERY-ID"
	HeaderDeliveryTimestamp  = "BOX-DELIVERY-TIMESTAMP"
	HeaderSignaturePrimary   = "BOX-SIGNATURE-PRIMARY"
	HeaderSignatureSecondary = "BOX-SIGNATURE-SECONDARY"
	HeaderSignatureAlgorithm = "BOX-SIGNATURE-ALGORITHM"
	HeaderSignatureVersion   = "BOX-SIGNATURE-VERSION"
)

// Delivery age limits: Box documents ten minutes; a little future skew is tolerated.
const (
	MaxDeliveryAge  = 10 * time.Minute
	MaxDeliverySkew = 5 * time.Minute
)

// Sign computes a Box webhook signature: base64(HMAC-SHA256(key, body ‖ timestamp)).
func Sign(key string, body []byte, timestamp string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	m.Write([]byte(timestamp))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Subscribe implements connectors.Subscriber with a V2 webhook on the drive's root folder.
// Box allows one webhook per target and address, so an existing one is adopted.
func (c *Conn) Subscribe(ctx context.Context, drive connectors.Drive, notifyURL string) (connectors.Subscription, error) {
	w, err := c.api.createWebhook(ctx, wireWebhook{
		Target:   wireTarget{ID: drive.ID, Type: "folder"},
		Address:  notifyURL,
		Triggers: Triggers,
	})
	if ae, ok := apiErr(err); ok && ae.Status == http.StatusConflict {
		all, lerr := c.api.webhooks(ctx)
		if lerr != nil {
			return connectors.Subscription{}, lerr
		}
		for _, x := range all {
			// The list holds Webhook--Mini entries (id, type, target; no address), so
			// the address is read from the webhook itself.
			if x.Target.ID != drive.ID || x.Target.Type != "folder" {
				continue
			}
			full, gerr := c.api.webhook(ctx, x.ID)
			if gerr != nil {
				return connectors.Subscription{}, gerr
			}
			if full.Address == notifyURL {
				w, err = full, nil
				break
			}
		}
	}
	if err != nil {
		return connectors.Subscription{}, fmt.Errorf("box: webhook on folder %s: %w", drive.ID, err)
	}
	now := c.now()
	return connectors.Subscription{
		ID:        w.ID,
		Drive:     drive.ID,
		Resource:  "folder:" + drive.ID,
		CreatedAt: now,
		NotifyURL: notifyURL,
		Provider:  string(connectors.AppBox),
	}, nil
}

// Renew implements connectors.Subscriber. Box webhooks do not expire, so renewal is a health
// check: the webhook is recreated when Box has dropped it (Box deletes webhooks whose
// deliveries keep failing or whose target is gone).
func (c *Conn) Renew(ctx context.Context, sub connectors.Subscription) (connectors.Subscription, error) {
	_, err := c.api.webhook(ctx, sub.ID)
	if connectors.KindOf(err) == connectors.KindNotFound {
		c.log.WarnContext(ctx, "box: webhook gone, recreating", "webhook", sub.ID, "folder", sub.Drive)
		fresh, err := c.Subscribe(ctx, connectors.Drive{ID: sub.Drive, Tenant: c.Tenant()}, sub.NotifyURL)
		if err != nil {
			return sub, err
		}
		fresh.RenewedAt = fresh.CreatedAt
		return fresh, nil
	}
	if err != nil {
		return sub, err
	}
	sub.RenewedAt = c.now()
	sub.LastError = ""
	return sub, nil
}

// Unsubscribe implements connectors.Subscriber; a webhook already gone is fine.
func (c *Conn) Unsubscribe(ctx context.Context, sub connectors.Subscription) error {
	err := c.api.deleteWebhook(ctx, sub.ID)
	if connectors.KindOf(err) == connectors.KindNotFound {
		return nil
	}
	return err
}

// RenewBefore implements connectors.Subscriber. Webhooks never expire; the value is how often
// Renew checks that they still exist.
func (c *Conn) RenewBefore() time.Duration { return 24 * time.Hour }

// Receive implements connectors.WebhookReceiver. It fails closed: a delivery is accepted only
// when a signature header matches the raw body and timestamp under one of the configured
// keys, and the timestamp is recent.
func (c *Conn) Receive(ctx context.Context, req connectors.Request) (connectors.Reply, []connectors.Notice, error) {
	if err := c.verify(req); err != nil {
		return connectors.Reply{}, nil, err
	}
	var ev wireWebhookEvent
	if err := json.Unmarshal(req.Body, &ev); err != nil {
		return connectors.Reply{}, nil, fmt.Errorf("box: webhook body: %w: %w", connectors.ErrMalformed, err)
	}
	if ev.Webhook.ID == "" || ev.Trigger == "" {
		return connectors.Reply{}, nil, fmt.Errorf("box: webhook body without webhook id or trigger: %w", connectors.ErrMalformed)
	}
	n := connectors.Notice{
		Kind:           connectors.NoticeChanged,
		App:            connectors.AppBox,
		Tenant:         c.Tenant(),
		SubscriptionID: ev.Webhook.ID,
		DedupKey:       "box:" + req.Header.Get(HeaderDeliveryID),
	}
	if ev.Source != nil && ev.Source.Type == "file" {
		n.ItemID = ev.Source.ID
	}
	if c.cfg.Subscriptions != nil {
		sub, ok, err := c.cfg.Subscriptions.Subscription(ctx, connectors.AppBox, c.Tenant(), ev.Webhook.ID)
		if err != nil {
			return connectors.Reply{}, nil, fmt.Errorf("box: look up webhook %s: %w", ev.Webhook.ID, err)
		}
		if ok {
			n.Drive = sub.Drive
		}
	}
	if n.Drive == "" && ev.Source != nil {
		// A webhook labelgate has no record of (its store was reset): place the file by its
		// path under the configured roots.
		for _, root := range c.cfg.Roots {
			if inDrive(root, *ev.Source) {
				n.Drive = root
				break
			}
		}
	}
	if n.Drive == "" {
		c.log.WarnContext(ctx, "box: signed delivery for an unknown webhook outside every root", "webhook", ev.Webhook.ID, "trigger", ev.Trigger)
		return connectors.Reply{}, nil, nil
	}
	return connectors.Reply{}, []connectors.Notice{n}, nil
}

func (c *Conn) verify(req connectors.Request) error {
	h := req.Header
	id, ts := h.Get(HeaderDeliveryID), h.Get(HeaderDeliveryTimestamp)
	primary, secondary := h.Get(HeaderSignaturePrimary), h.Get(HeaderSignatureSecondary)
	if id == "" || ts == "" || (primary == "" && secondary == "") {
		return fmt.Errorf("box: delivery without id, timestamp or signature: %w", connectors.ErrForged)
	}
	if alg := h.Get(HeaderSignatureAlgorithm); alg != "" && alg != "HmacSHA256" {
		return fmt.Errorf("box: signature algorithm %q: %w", alg, connectors.ErrForged)
	}
	if v := h.Get(HeaderSignatureVersion); v != "" && v != "1" {
		return fmt.Errorf("box: signature version %q: %w", v, connectors.ErrForged)
	}
	at, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return fmt.Errorf("box: delivery timestamp %q: %w", ts, connectors.ErrForged)
	}
	now := req.Now
	if now.IsZero() {
		now = c.now()
	}
	if age := now.Sub(at); age > MaxDeliveryAge || age < -MaxDeliverySkew {
		return fmt.Errorf("box: delivery timestamp %s is %s from now: %w", ts, age.Round(time.Second), connectors.ErrForged)
	}
	// Either header may match under either key: after a key is regenerated in the console,
	// the header Box signs with it and the key labelgate holds line up only crosswise.
	ok := 0
	for _, key := range []string{c.cfg.PrimaryKey, c.cfg.SecondaryKey} {
		if key == "" {
			continue
		}
		want := []byte(Sign(key, req.Body, ts))
		for _, got := range []string{primary, secondary} {
			if got != "" {
				ok |= subtle.ConstantTimeCompare(want, []byte(got))
			}
		}
	}
	if ok != 1 {
		return fmt.Errorf("box: delivery signature: %w", connectors.ErrForged)
	}
	return nil
}
