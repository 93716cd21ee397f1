package gdrive

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"google.golang.org/api/drive/v3"

	"github.com/labelgate/labelgate/connectors"
)

// recentTTL is how long Receive trusts channels this process created before the store has
// them: Google posts the sync message right after changes.watch returns.
const recentTTL = 10 * time.Minute

// Subscribe implements connectors.Subscriber with changes.watch from the drive's current
// start page token. The channel token is 32 random bytes, kept in Subscription.Secret.
func (c *Conn) Subscribe(ctx context.Context, d connectors.Drive, notifyURL string) (connectors.Subscription, error) {
	s, _, shared, err := c.svcFor(d.ID)
	if err != nil {
		return connectors.Subscription{}, err
	}
	start, err := c.startToken(ctx, s, shared)
	if err != nil {
		return connectors.Subscription{}, err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return connectors.Subscription{}, fmt.Errorf("gdrive: channel token: %w", err)
	}
	now := c.now()
	req := &drive.Channel{Id: uuid.NewString(), Type: "web_hook", Address: notifyURL,
		Token: base64.RawURLEncoding.EncodeToString(secret), Expiration: now.Add(c.cfg.ChannelTTL).UnixMilli()}
	// Google may post the sync message before changes.watch has answered: remember the
	// channel (without its resource id, unknown yet) before asking.
	sub := connectors.Subscription{ID: req.Id, Drive: d.ID, Secret: req.Token, Expires: time.UnixMilli(req.Expiration).UTC(),
		CreatedAt: now, NotifyURL: notifyURL, Provider: string(connectors.AppGDrive)}
	c.remember(sub)
	var ch *drive.Channel
	err = c.call(ctx, "gdrive changes.watch", func() error {
		call := s.Changes.Watch(start, req).SupportsAllDrives(true).Context(ctx)
		if shared != "" {
			call = call.DriveId(shared).IncludeItemsFromAllDrives(true)
		} else {
			call = call.RestrictToMyDrive(true)
		}
		var err error
		ch, err = call.Do()
		return err
	})
	if err != nil {
		c.forget(sub.ID)
		return connectors.Subscription{}, err
	}
	sub.Resource = ch.ResourceId
	if ch.Expiration != 0 {
		sub.Expires = time.UnixMilli(ch.Expiration).UTC()
	}
	c.remember(sub)
	return sub, nil
}

func (c *Conn) remember(sub connectors.Subscription) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for id, s := range c.recent {
		if now.Sub(s.CreatedAt) > recentTTL {
			delete(c.recent, id)
		}
	}
	c.recent[sub.ID] = sub
}

func (c *Conn) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.recent, id)
}

// Renew implements connectors.Subscriber. Drive channels cannot be extended, so Renew opens
// a new channel (a new id and token) and then stops the old one; keep the returned one.
func (c *Conn) Renew(ctx context.Context, old connectors.Subscription) (connectors.Subscription, error) {
	sub, err := c.Subscribe(ctx, connectors.Drive{ID: old.Drive, Tenant: c.cfg.Tenant}, old.NotifyURL)
	if err != nil {
		return old, err
	}
	sub.RenewedAt = sub.CreatedAt
	if err := c.Unsubscribe(ctx, old); err != nil && connectors.KindOf(err) != connectors.KindNotFound {
		// The old channel expires by itself; notifications on it stay valid until then.
		c.log.Warn("gdrive: stopping the replaced channel", "channel", old.ID, "drive", old.Drive, "err", err)
		sub.LastError = err.Error()
	}
	return sub, nil
}

// Unsubscribe implements connectors.Subscriber with channels.stop.
func (c *Conn) Unsubscribe(ctx context.Context, sub connectors.Subscription) error {
	s, _, _, err := c.svcFor(sub.Drive)
	if err != nil {
		return err
	}
	c.forget(sub.ID)
	return c.call(ctx, "gdrive channels.stop", func() error {
		return s.Channels.Stop(&drive.Channel{Id: sub.ID, ResourceId: sub.Resource}).Context(ctx).Do()
	})
}

// RenewBefore implements connectors.Subscriber.
func (c *Conn) RenewBefore() time.Duration { return c.cfg.RenewBefore }

// Receive implements connectors.WebhookReceiver. Drive notifications have no body and no
// signature: the channel token echoed in X-Goog-Channel-Token is the only proof, so it is
// compared in constant time with the stored one, and the resource id must match too.
func (c *Conn) Receive(ctx context.Context, req connectors.Request) (connectors.Reply, []connectors.Notice, error) {
	h := req.Header
	id, state, num := h.Get("X-Goog-Channel-ID"), h.Get("X-Goog-Resource-State"), h.Get("X-Goog-Message-Number")
	if id == "" || state == "" || num == "" {
		return connectors.Reply{}, nil, fmt.Errorf("gdrive: missing X-Goog channel headers: %w", connectors.ErrMalformed)
	}
	if _, err := strconv.ParseUint(num, 10, 64); err != nil {
		return connectors.Reply{}, nil, fmt.Errorf("gdrive: message number %q: %w", num, connectors.ErrMalformed)
	}
	sub, ok, err := c.lookup(ctx, id)
	if err != nil {
		return connectors.Reply{}, nil, fmt.Errorf("gdrive: looking up channel %s: %w", id, err)
	}
	if !ok {
		return connectors.Reply{}, nil, fmt.Errorf("gdrive: unknown channel %q: %w", id, connectors.ErrForged)
	}
	tok := h.Get("X-Goog-Channel-Token")
	if tok == "" || sub.Secret == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(sub.Secret)) != 1 {
		return connectors.Reply{}, nil, fmt.Errorf("gdrive: channel %s: token mismatch: %w", id, connectors.ErrForged)
	}
	if sub.Resource != "" && h.Get("X-Goog-Resource-ID") != sub.Resource {
		return connectors.Reply{}, nil, fmt.Errorf("gdrive: channel %s: resource mismatch: %w", id, connectors.ErrForged)
	}
	ok200 := connectors.Reply{Status: http.StatusOK}
	if state == "sync" {
		return ok200, nil, nil
	}
	return ok200, []connectors.Notice{{Kind: connectors.NoticeChanged, App: connectors.AppGDrive, Tenant: c.cfg.Tenant,
		Drive: sub.Drive, SubscriptionID: sub.ID, DedupKey: "gdrive/" + id + "/" + num}}, nil
}

func (c *Conn) lookup(ctx context.Context, id string) (connectors.Subscription, bool, error) {
	if c.cfg.Subscriptions != nil {
		sub, ok, err := c.cfg.Subscriptions.Subscription(ctx, connectors.AppGDrive, c.cfg.Tenant, id)
		if err != nil || ok {
			return sub, ok, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	sub, ok := c.recent[id]
	if ok && c.now().Sub(sub.CreatedAt) > recentTTL {
		return connectors.Subscription{}, false, nil
	}
	return sub, ok, nil
}
