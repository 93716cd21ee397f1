package box

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/labelgate/labelgate/connectors"
)

// Triggers labelgate subscribes to: every way a file's content, place, sharing or
// classification can change. Sharing has triggers of its own (SHARED_LINK.*, COLLABORATION.*;
// https://developer.box.com/guides/webhooks/triggers/ and the trigger enum of POST /webhooks in
// box-openapi.json), so a file shared publicly is rescanned at once, not at the next rescan.
var Triggers = []string{
	"FILE.UPLOADED", "FILE.COPIED", "FILE.MOVED", "FILE.RESTORED", "FILE.RENAMED", "FILE.TRASHED",
	"METADATA_INSTANCE.CREATED", "METADATA_INSTANCE.UPDATED", "METADATA_INSTANCE.DELETED",
	"SHARED_LINK.CREATED", "SHARED_LINK.UPDATED", "SHARED_LINK.DELETED",
	"COLLABORATION.CREATED", "COLLABORATION.ACCEPTED", "COLLABORATION.REMOVED", "COLLABORATION.UPDATED",
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

// Webhook limits Box documents (https://developer.box.com/guides/webhooks/v2/limitations-v2/):
// no V2 webhook on the root folder "0", one webhook per item per application per user, and
// at most 1,000 webhooks per application per user.
const (
	RootFolder  = "0"
	MaxWebhooks = 1000
)

// rootSubscriptionID names the one subscription that stands for the webhooks on every
// top-level folder when "0" is a root; Box gives it no id of its own.
const rootSubscriptionID = "box-root-0"

// Sign computes a Box webhook signature: base64(HMAC-SHA256(key, body ‖ timestamp)).
func Sign(key string, body []byte, timestamp string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	m.Write([]byte(timestamp))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Subscribe implements connectors.Subscriber with a V2 webhook on the drive's root folder.
// The root folder "0" takes no V2 webhook, so for it every top-level folder gets one
// (subscribeRoot); root-level files and new top-level folders come from the event stream.
func (c *Conn) Subscribe(ctx context.Context, drive connectors.Drive, notifyURL string) (connectors.Subscription, error) {
	c.notifyURL.Store(&notifyURL)
	if drive.ID == RootFolder {
		return c.subscribeRoot(ctx, notifyURL)
	}
	w, err := c.ensureWebhook(ctx, drive.ID, notifyURL, nil)
	if err != nil {
		return connectors.Subscription{}, fmt.Errorf("box: webhook on folder %s: %w", drive.ID, err)
	}
	now := c.now()
	return connectors.Subscription{
		ID:        w.ID,
		Drive:     drive.ID,
		Resource:  "folder:" + drive.ID,
		CreatedAt: now,
		Expires:   c.recheck(now),
		NotifyURL: notifyURL,
		Provider:  string(connectors.AppBox),
	}, nil
}

// ensureWebhook makes sure folder has labelgate's webhook pointing at notifyURL with the
// current triggers. Box allows one webhook per item per app per user whatever its address
// and answers 409 to a second, so an existing one (e.g. still pointing at an old publicURL)
// is updated in place with PUT /webhooks/{id} rather than created again. known, when not
// nil, is the app's webhooks by target folder, listed once by the caller.
func (c *Conn) ensureWebhook(ctx context.Context, folder, notifyURL string, known map[string]wireWebhook) (wireWebhook, error) {
	w, ok := known[folder]
	if !ok {
		var err error
		w, err = c.api.createWebhook(ctx, wireWebhook{Target: wireTarget{ID: folder, Type: "folder"}, Address: notifyURL, Triggers: Triggers})
		ae, isAPI := apiErr(err)
		if err == nil || !isAPI || ae.Status != http.StatusConflict {
			return w, err
		}
		all, lerr := c.api.webhooks(ctx)
		if lerr != nil {
			return wireWebhook{}, lerr
		}
		i := slices.IndexFunc(all, func(x wireWebhook) bool { return x.Target.ID == folder && x.Target.Type == "folder" })
		if i < 0 {
			return wireWebhook{}, err // the 409's webhook is not ours to see; nothing to update
		}
		w = all[i]
	}
	if w.Address == "" {
		// GET /webhooks lists Webhook--Mini entries (id, type, target: no address, no
		// triggers; Box OpenAPI), so the webhook itself says where it points.
		full, err := c.api.webhook(ctx, w.ID)
		if err != nil {
			return wireWebhook{}, err
		}
		w = full
	}
	if w.Address == notifyURL && sameTriggers(w.Triggers, Triggers) {
		return w, nil
	}
	c.log.InfoContext(ctx, "box: updating webhook", "webhook", w.ID, "folder", folder, "from", w.Address, "to", notifyURL)
	return c.api.updateWebhook(ctx, w.ID, wireWebhookUpdate{Address: notifyURL, Triggers: Triggers})
}

func sameTriggers(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// topFolders lists the folders directly in "0".
func (c *Conn) topFolders(ctx context.Context) ([]string, error) {
	var out []string
	marker := ""
	for {
		page, err := c.api.folderItems(ctx, RootFolder, marker, 1000, "type,id,name")
		if err != nil {
			return nil, err
		}
		for _, it := range page.Entries {
			if it.Type == "folder" {
				out = append(out, it.ID)
			}
		}
		if page.NextMarker == "" || len(page.Entries) == 0 {
			return out, nil
		}
		marker = page.NextMarker
	}
}

// subscribeRoot gives every top-level folder of "0" a webhook (or brings an existing one to
// notifyURL), within Box's 1,000 webhooks per app per user. Folders past the limit, and files
// lying directly in "0", are covered by the event stream, which the gateway reads on a timer
// (FeedPollInterval). The returned subscription stands for the whole set.
func (c *Conn) subscribeRoot(ctx context.Context, notifyURL string) (connectors.Subscription, error) {
	folders, err := c.topFolders(ctx)
	if err != nil {
		return connectors.Subscription{}, fmt.Errorf("box: top-level folders: %w", err)
	}
	all, err := c.api.webhooks(ctx)
	if err != nil {
		return connectors.Subscription{}, fmt.Errorf("box: list webhooks: %w", err)
	}
	known := map[string]wireWebhook{}
	for _, w := range all {
		if w.Target.Type == "folder" {
			known[w.Target.ID] = w
		}
	}
	count, hooked, skipped := len(all), 0, 0
	var errs []error
	for _, id := range folders {
		if _, ok := known[id]; !ok && count >= MaxWebhooks {
			skipped++
			continue
		}
		if _, err := c.ensureWebhook(ctx, id, notifyURL, known); err != nil {
			if connectors.KindOf(err) == connectors.KindNotFound {
				continue // trashed since it was listed
			}
			errs = append(errs, fmt.Errorf("folder %s: %w", id, err))
			continue
		}
		if _, ok := known[id]; !ok {
			count++
		}
		hooked++
	}
	if skipped > 0 {
		c.log.WarnContext(ctx, "box: webhook limit reached; the event stream covers the remaining top-level folders",
			"limit", MaxWebhooks, "hooked", hooked, "uncovered", skipped)
	}
	if len(errs) > 0 && hooked == 0 && len(folders) > 0 {
		return connectors.Subscription{}, fmt.Errorf("box: webhooks on top-level folders: %w", errors.Join(errs...))
	}
	now := c.now()
	expires := c.recheck(now)
	if len(errs) > 0 {
		// Retry the missing ones in about an hour rather than at the daily check (the
		// gateway renews once less than RenewBefore is left); the event stream covers them
		// meanwhile.
		expires = now.Add(c.RenewBefore() + time.Hour)
		c.log.WarnContext(ctx, "box: some top-level folders got no webhook", "err", errors.Join(errs...))
	}
	return connectors.Subscription{
		ID:        rootSubscriptionID,
		Drive:     RootFolder,
		Resource:  fmt.Sprintf("folders:%d/%d", hooked, len(folders)),
		CreatedAt: now,
		Expires:   expires,
		NotifyURL: notifyURL,
		Provider:  string(connectors.AppBox),
	}, nil
}

// rootNotifyURL is the address the top-level webhooks point at: the one Subscribe was last
// given in this process, else the one stored with the root subscription.
func (c *Conn) rootNotifyURL(ctx context.Context) string {
	if p := c.notifyURL.Load(); p != nil && *p != "" {
		return *p
	}
	if c.cfg.Subscriptions == nil {
		return ""
	}
	sub, ok, err := c.cfg.Subscriptions.Subscription(ctx, connectors.AppBox, c.Tenant(), rootSubscriptionID)
	if err != nil || !ok {
		return ""
	}
	return sub.NotifyURL
}

// hookNewTopFolder gives a top-level folder seen in the event stream its webhook.
func (c *Conn) hookNewTopFolder(ctx context.Context, folder string) {
	addr := c.rootNotifyURL(ctx)
	if addr == "" {
		return // not subscribed (yet): Subscribe will hook it
	}
	all, err := c.api.webhooks(ctx)
	if err == nil && len(all) >= MaxWebhooks && !slices.ContainsFunc(all, func(w wireWebhook) bool { return w.Target.ID == folder }) {
		c.log.WarnContext(ctx, "box: webhook limit reached; new top-level folder covered by the event stream only", "folder", folder)
		return
	}
	if _, err := c.ensureWebhook(ctx, folder, addr, nil); err != nil && connectors.KindOf(err) != connectors.KindNotFound {
		c.log.WarnContext(ctx, "box: webhook on new top-level folder", "folder", folder, "err", err)
		return
	}
	c.log.InfoContext(ctx, "box: new top-level folder hooked", "folder", folder)
}

// Renew implements connectors.Subscriber. Box webhooks do not expire, so renewal is a health
// check: the webhook is recreated when Box has dropped it (Box deletes webhooks whose
// deliveries keep failing or whose target is gone), and for "0" the top-level folders are
// reconciled with their webhooks.
func (c *Conn) Renew(ctx context.Context, sub connectors.Subscription) (connectors.Subscription, error) {
	if sub.ID == rootSubscriptionID || sub.Drive == RootFolder {
		fresh, err := c.Subscribe(ctx, connectors.Drive{ID: RootFolder, Tenant: c.Tenant()}, sub.NotifyURL)
		if err != nil {
			return sub, err
		}
		fresh.CreatedAt, fresh.RenewedAt = sub.CreatedAt, fresh.CreatedAt
		return fresh, nil
	}
	w, err := c.api.webhook(ctx, sub.ID)
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
	if w.Address != sub.NotifyURL || !sameTriggers(w.Triggers, Triggers) {
		if _, err := c.api.updateWebhook(ctx, w.ID, wireWebhookUpdate{Address: sub.NotifyURL, Triggers: Triggers}); err != nil {
			return sub, err
		}
	}
	sub.RenewedAt = c.now()
	sub.Expires = c.recheck(sub.RenewedAt)
	sub.LastError = ""
	return sub, nil
}

// recheck is the Expires Box subscriptions carry. Box webhooks do not expire; it is when the
// gateway next calls Renew, which checks the webhook still exists at the right address (and
// for "0" reconciles the top-level folders with their webhooks).
func (c *Conn) recheck(now time.Time) time.Time { return now.Add(2 * c.RenewBefore()) }

// Unsubscribe implements connectors.Subscriber; a webhook already gone is fine. For "0" it
// removes the webhooks of every top-level folder.
func (c *Conn) Unsubscribe(ctx context.Context, sub connectors.Subscription) error {
	if sub.ID == rootSubscriptionID {
		folders, err := c.topFolders(ctx)
		if err != nil {
			return err
		}
		all, err := c.api.webhooks(ctx)
		if err != nil {
			return err
		}
		var errs []error
		for _, w := range all {
			if w.Target.Type == "folder" && slices.Contains(folders, w.Target.ID) {
				if err := c.api.deleteWebhook(ctx, w.ID); err != nil && connectors.KindOf(err) != connectors.KindNotFound {
					errs = append(errs, err)
				}
			}
		}
		return errors.Join(errs...)
	}
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
		DedupKey:       dedupKey(ev.ID, req.Body),
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
		// A webhook with no subscription of its own (a top-level folder's under "0", or one
		// from before the store was reset): place the item by its path under the roots.
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

// dedupKey identifies a delivery by what Box signs: the payload's id, which stays the same
// when Box retries a delivery (the BOX-DELIVERY-ID header changes on every attempt, and is not
// signed, so a captured delivery replayed with a fresh header is caught too). A payload
// without an id (the SDKs' test payloads have none) is keyed by its body's hash.
func dedupKey(payloadID string, body []byte) string {
	if payloadID != "" {
		return "box:" + payloadID
	}
	sum := sha256.Sum256(body)
	return "box:sha256:" + hex.EncodeToString(sum[:])
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
	// Box signs the body as it sends it, PHP-encoded (non-ASCII as \uXXXX, "/" as "\/"); a
	// body that reached us decoded (a proxy re-encoding it) is checked in that form too, as
	// Box's SDKs do (box-python-sdk escape_unicode, box-node-sdk
	// jsonStringifyWithEscapedUnicode).
	bodies := [][]byte{req.Body}
	if esc, changed := phpEscape(req.Body); changed {
		bodies = append(bodies, esc)
	}
	ok := 0
	for _, key := range []string{c.cfg.PrimaryKey, c.cfg.SecondaryKey} {
		if key == "" {
			continue
		}
		for _, body := range bodies {
			want := []byte(Sign(key, body, ts))
			for _, got := range []string{primary, secondary} {
				if got != "" {
					ok |= subtle.ConstantTimeCompare(want, []byte(got))
				}
			}
		}
	}
	if ok != 1 {
		return fmt.Errorf("box: delivery signature: %w", connectors.ErrForged)
	}
	return nil
}

// phpEscape re-encodes a JSON text the way Box's webhook sender does: every non-ASCII
// character inside a string as a lowercase \uXXXX escape (a surrogate pair above U+FFFF) and
// every bare "/" as "\/". It reports whether anything changed. Invalid UTF-8 is left alone.
func phpEscape(b []byte) ([]byte, bool) {
	need := false
	for _, c := range b {
		if c >= 0x80 || c == '/' {
			need = true
			break
		}
	}
	if !need || !utf8.Valid(b) {
		return nil, false
	}
	out := make([]byte, 0, len(b)+len(b)/4)
	inString, escaped, changed := false, false, false
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		switch {
		case escaped:
			escaped = false
		case inString && r == '\\':
			escaped = true
		case r == '"':
			inString = !inString
		case inString && r == '/':
			out = append(out, '\\', '/')
			i += n
			changed = true
			continue
		case inString && r >= 0x80:
			for _, u := range utf16.Encode([]rune{r}) {
				out = fmt.Appendf(out, "\\u%04x", u)
			}
			i += n
			changed = true
			continue
		}
		out = append(out, b[i:i+n]...)
		i += n
	}
	return out, changed
}
