package emulator

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// triggerFor maps an event type to the webhook trigger Box fires for it on a file.
var triggerFor = map[string]string{
	"ITEM_UPLOAD":                "FILE.UPLOADED",
	"ITEM_COPY":                  "FILE.COPIED",
	"ITEM_MOVE":                  "FILE.MOVED",
	"ITEM_UNDELETE_VIA_TRASH":    "FILE.RESTORED",
	"ITEM_RENAME":                "FILE.RENAMED",
	"ITEM_TRASH":                 "FILE.TRASHED",
	"METADATA_INSTANCE_CREATE":   "METADATA_INSTANCE.CREATED",
	"METADATA_INSTANCE_UPDATE":   "METADATA_INSTANCE.UPDATED",
	"METADATA_INSTANCE_DELETE":   "METADATA_INSTANCE.DELETED",
	"ITEM_SHARED_CREATE":         "SHARED_LINK.CREATED",
	"ITEM_SHARED_UPDATE":         "SHARED_LINK.UPDATED",
	"ITEM_SHARED_UNSHARE":        "SHARED_LINK.DELETED",
	"COLLAB_ADD_COLLABORATOR":    "COLLABORATION.CREATED",
	"COLLAB_REMOVE_COLLABORATOR": "COLLABORATION.REMOVED",
	"COLLAB_ROLE_CHANGE":         "COLLABORATION.UPDATED",
}

type pendingDelivery struct {
	id      string
	hook    webhook
	trigger string
	source  map[string]any
	at      time.Time
	copies  int
	dropped bool
	delay   time.Duration // chaos: held back so later deliveries overtake it
}

// recordLocked appends an event for it to the stream and returns the webhook deliveries
// it causes; the caller sends them after unlocking.
func (e *Emulator) recordLocked(typ string, it *item) []pendingDelivery {
	now := e.now().UTC().Truncate(time.Second)
	src := e.itemJSON(it, nil)
	e.events = append(e.events, event{id: "ev-" + e.newID(), typ: typ, at: now, source: src})
	trigger, ok := triggerFor[typ]
	if !ok {
		return nil
	}
	var out []pendingDelivery
	for _, id := range e.webhookOrder {
		h := e.webhooks[id]
		if !slices.Contains(h.triggers, trigger) || !e.underLocked(it, h.targetID) {
			continue
		}
		d := pendingDelivery{id: "whe-" + e.newID(), hook: *h, trigger: trigger, source: src, at: now, copies: 1}
		if e.dropDeliveries > 0 {
			e.dropDeliveries--
			d.dropped = true
		} else if e.dupDeliveries > 0 {
			e.dupDeliveries--
			d.copies = 2
		} else {
			e.deliveryChaos(&d)
		}
		out = append(out, d)
	}
	return out
}

// underLocked reports whether it is folderID or inside it.
func (e *Emulator) underLocked(it *item, folderID string) bool {
	for cur := it; cur != nil; {
		if cur.id == folderID {
			return true
		}
		if cur.id == "0" {
			return false
		}
		cur = e.items[cur.parent]
	}
	return false
}

// deliver POSTs deliveries to their webhook addresses, signed as Box signs them. Box retries a
// delivery that is not answered 2xx within 30 seconds; each attempt carries a new
// BOX-DELIVERY-ID (and timestamp and signatures) while the payload's id stays the same
// (https://developer.box.com/guides/webhooks/v2/, "Payload headers", "Payload body" and
// "Retries"). The emulator retries Options.DeliveryRetries times, RetryDelay apart, instead of
// Box's hours; a duplicated delivery is such a retry.
func (e *Emulator) deliver(ds []pendingDelivery) {
	for _, d := range ds {
		body, _ := json.Marshal(map[string]any{
			"type": "webhook_event", "id": d.id, "created_at": d.at.Format(time.RFC3339), "trigger": d.trigger,
			"webhook": map[string]any{"id": d.hook.id, "type": "webhook"}, "created_by": userJSON(e.service),
			"source": d.source, "additional_info": []any{},
		})
		sourceID, _ := d.source["id"].(string)
		if d.dropped {
			e.record(Delivery{ID: e.deliveryID(), PayloadID: d.id, WebhookID: d.hook.id, Trigger: d.trigger, SourceID: sourceID,
				Body: body, Dropped: true})
			continue
		}
		send := func() {
			sent := 0
			for attempt := 0; attempt < 1+e.opts.DeliveryRetries+d.copies-1; attempt++ {
				if attempt > 0 && e.opts.RetryDelay > 0 {
					time.Sleep(e.opts.RetryDelay)
				}
				rec := Delivery{ID: e.deliveryID(), PayloadID: d.id, WebhookID: d.hook.id, Trigger: d.trigger, SourceID: sourceID,
					Body: body, Header: e.signedHeader(body), Attempt: attempt}
				rec.Header.Set("BOX-DELIVERY-ID", rec.ID)
				rec.Status, rec.Err = e.post(d.hook.address, rec.Header, body)
				e.record(rec)
				ok := rec.Err == "" && rec.Status >= 200 && rec.Status < 300
				if !ok {
					e.log.Debug("box emulator: delivery not accepted", "delivery", rec.ID, "address", d.hook.address, "status", rec.Status, "err", rec.Err)
				}
				if ok {
					if sent++; sent >= d.copies {
						return
					}
				}
			}
		}
		if d.delay > 0 {
			time.AfterFunc(d.delay, send)
			continue
		}
		send()
	}
}

// deliveryID is a fresh BOX-DELIVERY-ID.
func (e *Emulator) deliveryID() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return "dlv-" + e.newID()
}

// signedHeader is one delivery attempt's headers: a fresh timestamp and its signatures.
func (e *Emulator) signedHeader(body []byte) http.Header {
	e.mu.Lock()
	primary, secondary, secondaryOnly := e.primaryKey, e.secondaryKey, e.secondaryOnly
	e.mu.Unlock()
	ts := e.now().Format(time.RFC3339)
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=UTF-8")
	h.Set("BOX-DELIVERY-TIMESTAMP", ts)
	if !secondaryOnly {
		h.Set("BOX-SIGNATURE-PRIMARY", Sign(primary, body, ts))
	}
	h.Set("BOX-SIGNATURE-SECONDARY", Sign(secondary, body, ts))
	h.Set("BOX-SIGNATURE-ALGORITHM", "HmacSHA256")
	h.Set("BOX-SIGNATURE-VERSION", "1")
	h.Set("User-Agent", "Box-WH-Client/0.1")
	return h
}

func (e *Emulator) post(addr string, h http.Header, body []byte) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // Box's own delivery timeout
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, addr, bytes.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header = h.Clone()
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, ""
}

func (e *Emulator) record(d Delivery) {
	e.mu.Lock()
	e.deliveries = append(e.deliveries, d)
	e.mu.Unlock()
}

// Sign is Box's webhook signature: base64(HMAC-SHA256(key, body ‖ timestamp)).
func Sign(key string, body []byte, timestamp string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	m.Write([]byte(timestamp))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func (e *Emulator) newVersionLocked(it *item, content []byte) {
	it.versions = append(it.versions, bytes.Clone(content))
	it.etag++
	it.modified = e.now().UTC().Truncate(time.Second)
}

// ErrNoItem is returned by control methods for an unknown or trashed item.
var ErrNoItem = errors.New("box emulator: no such item")

// kind selects which items a control method accepts.
type kind int

const (
	fileKind kind = iota
	folderKind
	anyKind
)

func (e *Emulator) item(id string, k kind) (*item, error) {
	it, ok := e.items[id]
	if !ok || it.trashed || (k == fileKind && it.folder) || (k == folderKind && !it.folder) {
		return nil, fmt.Errorf("%w: %s", ErrNoItem, id)
	}
	return it, nil
}

// change runs fn on an item under the lock, records the event and sends the deliveries.
func (e *Emulator) change(id string, k kind, typ string, fn func(*item) error) error {
	e.mu.Lock()
	it, err := e.item(id, k)
	if err == nil {
		err = fn(it)
	}
	if err != nil {
		e.mu.Unlock()
		return err
	}
	pending := e.recordLocked(typ, it)
	e.mu.Unlock()
	e.deliver(pending)
	return nil
}

// AddFolder creates a folder, recording an ITEM_CREATE event for it.
func (e *Emulator) AddFolder(parent, name string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, err := e.item(parent, folderKind); err != nil {
		return "", err
	}
	now := e.now().UTC().Truncate(time.Second)
	it := &item{id: e.newID(), name: name, parent: parent, folder: true, owner: e.service, created: now, modified: now}
	e.items[it.id] = it
	e.recordLocked("ITEM_CREATE", it) // no trigger of labelgate's: nothing to deliver
	return it.id, nil
}

// EnsureFolder returns the folder at path ("/" separated) below parent, creating missing
// folders on the way.
func (e *Emulator) EnsureFolder(parent, path string) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ensureFolderLocked(parent, path, true)
}

// ensureFolderLocked is EnsureFolder under e.mu; record says whether a created folder is an
// ITEM_CREATE event (a user's change) or seeded state that existed before any reader.
func (e *Emulator) ensureFolderLocked(parent, path string, record bool) (string, error) {
	cur, err := e.item(parent, folderKind)
	if err != nil {
		return "", err
	}
	for _, name := range strings.Split(path, "/") {
		if name == "" {
			continue
		}
		i := slices.IndexFunc(e.children(cur.id), func(c *item) bool { return c.folder && c.name == name })
		if i >= 0 {
			cur = e.children(cur.id)[i]
			continue
		}
		now := e.now().UTC().Truncate(time.Second)
		next := &item{id: e.newID(), name: name, parent: cur.id, folder: true, owner: e.service, created: now, modified: now}
		e.items[next.id] = next
		if record {
			e.recordLocked("ITEM_CREATE", next)
		}
		cur = next
	}
	return cur.id, nil
}

// AddFile uploads a new file owned by ownerLogin ("" = the service account).
func (e *Emulator) AddFile(parent, name string, content []byte, ownerLogin string) (string, error) {
	e.mu.Lock()
	if _, err := e.item(parent, folderKind); err != nil {
		e.mu.Unlock()
		return "", err
	}
	now := e.now().UTC().Truncate(time.Second)
	it := &item{id: e.newID(), name: name, parent: parent, owner: e.userFor(ownerLogin), created: now, modified: now,
		versions: [][]byte{bytes.Clone(content)}}
	e.items[it.id] = it
	pending := e.recordLocked("ITEM_UPLOAD", it)
	e.mu.Unlock()
	e.deliver(pending)
	return it.id, nil
}

// ModifyFile uploads a new version.
func (e *Emulator) ModifyFile(id string, content []byte) error {
	return e.change(id, fileKind, "ITEM_UPLOAD", func(it *item) error {
		e.newVersionLocked(it, content)
		return nil
	})
}

// RenameFile renames a file.
func (e *Emulator) RenameFile(id, name string) error {
	return e.change(id, fileKind, "ITEM_RENAME", func(it *item) error {
		it.name = name
		it.etag++
		return nil
	})
}

// MoveFile moves a file to another folder.
func (e *Emulator) MoveFile(id, parent string) error {
	return e.change(id, fileKind, "ITEM_MOVE", func(it *item) error {
		if _, err := e.item(parent, folderKind); err != nil {
			return err
		}
		it.parent = parent
		it.etag++
		return nil
	})
}

// TrashFile moves a file to the trash.
func (e *Emulator) TrashFile(id string) error {
	return e.change(id, fileKind, "ITEM_TRASH", func(it *item) error {
		it.trashed = true
		return nil
	})
}

// SetSharedLink sets a file's or folder's shared link access: open, company,
// collaborators, or "" for none.
func (e *Emulator) SetSharedLink(id, access string) error {
	typ := "ITEM_SHARED_UPDATE"
	e.mu.Lock()
	if it, ok := e.items[id]; ok {
		switch {
		case it.sharedLink == "" && access != "":
			typ = "ITEM_SHARED_CREATE"
		case it.sharedLink != "" && access == "":
			typ = "ITEM_SHARED_UNSHARE"
		}
	}
	e.mu.Unlock()
	return e.change(id, anyKind, typ, func(it *item) error {
		switch access {
		case "", "open", "company", "collaborators":
		default:
			return fmt.Errorf("box emulator: shared link access %q", access)
		}
		if it.sharedLink == "" && access != "" {
			it.linkSeq++ // a new link, a new URL
		}
		it.sharedLink = access
		if access == "" {
			it.linkUnsharedAt, it.linkCanDownload = nil, nil
		}
		return nil
	})
}

// AddCollaborator adds a collaborator to a file or folder: a login, or "group:<name>".
func (e *Emulator) AddCollaborator(id, who, role string) error {
	return e.change(id, anyKind, "COLLAB_ADD_COLLABORATOR", func(it *item) error {
		it.collabs = append(it.collabs, e.newCollab(who, role))
		return nil
	})
}

// RemoveCollaborators removes every collaboration of who (a login, or "group:<name>") on a
// file or folder.
func (e *Emulator) RemoveCollaborators(id, who string) error {
	return e.change(id, anyKind, "COLLAB_REMOVE_COLLABORATOR", func(it *item) error {
		g, isGroup := strings.CutPrefix(who, "group:")
		it.collabs = slices.DeleteFunc(it.collabs, func(c collab) bool {
			return (isGroup && c.group == g) || (!isGroup && c.login == who)
		})
		return nil
	})
}

// SetClassification classifies a file as a user would in the web app ("" removes it). It
// is not counted in LabelWrites, which counts API writes only.
func (e *Emulator) SetClassification(id, key string) error {
	var typ string
	e.mu.Lock()
	if it, ok := e.items[id]; ok {
		switch {
		case key == "":
			typ = "METADATA_INSTANCE_DELETE"
		case it.classification == "":
			typ = "METADATA_INSTANCE_CREATE"
		default:
			typ = "METADATA_INSTANCE_UPDATE"
		}
	}
	ok := key == "" || e.classificationOK(key)
	e.mu.Unlock()
	if !ok {
		return fmt.Errorf("box emulator: unknown classification %q", key)
	}
	return e.change(id, fileKind, typ, func(it *item) error {
		it.classification = key
		return nil
	})
}

// Classification returns a file's classification key.
func (e *Emulator) Classification(id string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if it, ok := e.items[id]; ok {
		return it.classification
	}
	return ""
}

// Content returns a file's current content and version count.
func (e *Emulator) Content(id string) ([]byte, int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if it, ok := e.items[id]; ok {
		return bytes.Clone(it.content()), len(it.versions)
	}
	return nil, 0
}

// LabelWrites counts classification writes (create, update, delete) made through the API.
func (e *Emulator) LabelWrites(fileID string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.labelWrites[fileID]
}

// RangeReads counts download requests that carried a Range header.
func (e *Emulator) RangeReads() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.rangeReads
}

// RevokeTokens invalidates every access token issued so far, as an admin revoking the app
// (or a token expiring early) would.
func (e *Emulator) RevokeTokens() {
	e.mu.Lock()
	clear(e.tokens)
	e.mu.Unlock()
}

// TokensIssued counts access tokens issued.
func (e *Emulator) TokensIssued() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.issued
}

// FailNext injects a fault for the next matching API requests.
func (e *Emulator) FailNext(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	e.mu.Lock()
	e.faults = append(e.faults, f)
	e.mu.Unlock()
}

// NotReady makes the next download request for a file answer 202 with Retry-After.
func (e *Emulator) NotReady(fileID string, retryAfter time.Duration) {
	e.mu.Lock()
	e.notReady[fileID] = retryAfter
	e.mu.Unlock()
}

// ExpireStream drops every event recorded so far, as Box does once they are older than its
// retention. A position handed out before is still accepted (Box documents no error for it)
// and simply finds the lost events gone: a reader must tell from its cursor's age.
func (e *Emulator) ExpireStream() {
	e.mu.Lock()
	e.expiredBefore = len(e.events)
	e.mu.Unlock()
}

// SetAdminEvents says whether the service account may read admin_logs_streaming (an admin
// or co-admin, with the app's Manage enterprise properties scope); otherwise 403.
func (e *Emulator) SetAdminEvents(on bool) {
	e.mu.Lock()
	e.adminEvents = on
	e.mu.Unlock()
}

// WebhookCalls counts webhook creations and updates made through the API.
func (e *Emulator) WebhookCalls() (created, updated int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.webhookCreates, e.webhookUpdates
}

// DuplicateLastEvents appends the last n events to the stream again with their event ids,
// as Box sometimes does.
func (e *Emulator) DuplicateLastEvents(n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n = min(n, len(e.events))
	e.events = append(e.events, slices.Clone(e.events[len(e.events)-n:])...)
}

// StreamPosition is the current end of the event stream.
func (e *Emulator) StreamPosition() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.posBase + len(e.events)
}

// DropDeliveries makes the next n webhook deliveries get lost.
func (e *Emulator) DropDeliveries(n int) {
	e.mu.Lock()
	e.dropDeliveries = n
	e.mu.Unlock()
}

// DuplicateDeliveries makes the next n webhook deliveries arrive twice, the second as Box's
// retry would: a new BOX-DELIVERY-ID, the same payload id.
func (e *Emulator) DuplicateDeliveries(n int) {
	e.mu.Lock()
	e.dupDeliveries = n
	e.mu.Unlock()
}

// SignOnlySecondary leaves BOX-SIGNATURE-PRIMARY off deliveries, as while a primary key is
// being rotated.
func (e *Emulator) SignOnlySecondary(on bool) {
	e.mu.Lock()
	e.secondaryOnly = on
	e.mu.Unlock()
}

// RotateKeys replaces the signature keys deliveries are signed with.
func (e *Emulator) RotateKeys(primary, secondary string) {
	e.mu.Lock()
	e.primaryKey, e.secondaryKey = primary, secondary
	e.mu.Unlock()
}

// Deliveries returns every delivery made so far, in order.
func (e *Emulator) Deliveries() []Delivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.deliveries)
}

// Redeliver sends a recorded delivery again with its original headers (id, timestamp and
// signatures), as a replay attacker would.
func (e *Emulator) Redeliver(d Delivery, addr string) (int, error) {
	return e.replay(d, d.Header, addr)
}

// ReplayWithFreshID sends a recorded delivery again with its signed body and timestamp but a
// new BOX-DELIVERY-ID (which no signature covers), as an attacker would to dodge a receiver
// that deduplicates on the header.
func (e *Emulator) ReplayWithFreshID(d Delivery, addr string) (int, error) {
	h := d.Header.Clone()
	h.Set("BOX-DELIVERY-ID", e.deliveryID())
	return e.replay(d, h, addr)
}

func (e *Emulator) replay(d Delivery, h http.Header, addr string) (int, error) {
	status, msg := e.post(addr, h, d.Body)
	if msg != "" {
		return status, errors.New(msg)
	}
	return status, nil
}

// Webhook is a webhook as the emulator holds it.
type Webhook struct {
	ID, TargetID, Address string
	Triggers              []string
}

// Webhooks lists the webhooks.
func (e *Emulator) Webhooks() []Webhook {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Webhook
	for _, id := range e.webhookOrder {
		h := e.webhooks[id]
		out = append(out, Webhook{ID: h.id, TargetID: h.targetID, Address: h.address, Triggers: slices.Clone(h.triggers)})
	}
	return out
}

// SetWebhookAddress points a webhook at another address, as an earlier deployment with
// another publicURL would have left it.
func (e *Emulator) SetWebhookAddress(id, address string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	h, ok := e.webhooks[id]
	if ok {
		h.address = address
	}
	return ok
}

// DeleteWebhook removes a webhook, as Box does when deliveries keep failing.
func (e *Emulator) DeleteWebhook(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.webhooks[id]; !ok {
		return false
	}
	delete(e.webhooks, id)
	e.webhookOrder = slices.DeleteFunc(e.webhookOrder, func(x string) bool { return x == id })
	return true
}

// PendingFaults counts the injected faults not yet served, so a test can tell that the
// faults it injected were really met.
func (e *Emulator) PendingFaults() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, f := range e.faults {
		n += f.Times
	}
	return n
}
