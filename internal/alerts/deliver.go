package alerts

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/labelgate/labelgate/internal/store"
)

// Delivery kinds in the outbox.
const (
	kindWebhook = "webhook"
	kindSMTP    = "smtp"
	kindJSONL   = "jsonl"
)

// Webhook headers. The signature is "v1=" + hex(HMAC-SHA256(secret, timestamp + "." + body))
// where timestamp is the X-Labelgate-Timestamp value (unix seconds).
const (
	HeaderTimestamp = "X-Labelgate-Timestamp"
	HeaderSignature = "X-Labelgate-Signature"
	HeaderDelivery  = "X-Labelgate-Delivery"
	HeaderEvent     = "X-Labelgate-Event"
)

// WebhookBody is the JSON a webhook sink receives (and one line of the JSON-lines sink):
// Type "alert" carries Alert, Type "digest" carries Recipient, Kind and Notices.
type WebhookBody struct {
	Type       string         `json:"type"`
	DeliveryID int64          `json:"deliveryId"`
	SentAt     time.Time      `json:"sentAt"`
	Alert      *store.Alert   `json:"alert,omitempty"`
	Recipient  string         `json:"recipient,omitempty"`
	Kind       string         `json:"kind,omitempty"`
	Notices    []store.Notice `json:"notices,omitempty"`
}

// Sign returns the signature header value for body sent at timestamp (unix seconds, as text).
func Sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is returned by Verify for a missing, stale or wrong signature.
var ErrBadSignature = errors.New("alerts: bad webhook signature")

// Verify checks a received delivery's signature and that its timestamp is within tolerance
// of now, for receivers written in Go (and the tests).
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts := h.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q", ErrBadSignature, ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp %s is outside the %s tolerance", ErrBadSignature, ts, tolerance)
	}
	want := Sign(secret, ts, body)
	for _, got := range strings.Split(h.Get(HeaderSignature), ",") {
		if hmac.Equal([]byte(strings.TrimSpace(got)), []byte(want)) {
			return nil
		}
	}
	return ErrBadSignature
}

// deliverDue claims up to limit due deliveries and attempts each once.
func (e *Engine) deliverDue(ctx context.Context, limit int) (int, error) {
	now := e.now()
	items, err := e.st.ClaimOutbox(ctx, now, 2*e.cfg.Delivery.Timeout+30*time.Second, limit)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, it := range items {
		errs = append(errs, e.deliverOne(ctx, it))
	}
	return len(items), errors.Join(errs...)
}

// retryError carries a receiver's Retry-After.
type retryError struct {
	err   error
	after time.Duration
}

func (r *retryError) Error() string { return r.err.Error() }
func (r *retryError) Unwrap() error { return r.err }

func (e *Engine) deliverOne(ctx context.Context, it store.OutboxItem) error {
	sendCtx, cancel := context.WithTimeout(ctx, e.cfg.Delivery.Timeout)
	err := e.send(sendCtx, it)
	cancel()
	if err == nil {
		e.log.Debug("alert delivered", "delivery", it.ID, "alert", it.AlertID, "sink", it.Sink)
		return e.st.FinishOutbox(ctx, it.ID, store.OutboxDone, time.Time{}, "")
	}
	if ctx.Err() != nil {
		// Shutting down: the lease runs out and another worker repeats the attempt.
		return nil
	}
	attempts := it.Attempts + 1
	var perm *permanentError
	if errors.As(err, &perm) || attempts >= e.cfg.Delivery.MaxAttempts {
		e.log.Error("alert delivery failed for good", "delivery", it.ID, "alert", it.AlertID, "sink", it.Sink, "attempts", attempts, "err", err)
		return e.st.FinishOutbox(ctx, it.ID, store.OutboxFailed, time.Time{}, err.Error())
	}
	delay := e.retryDelay(attempts)
	var re *retryError
	if errors.As(err, &re) && re.after > delay {
		delay = min(re.after, e.cfg.Delivery.MaxBackoff)
	}
	e.log.Warn("alert delivery failed; will retry", "delivery", it.ID, "alert", it.AlertID, "sink", it.Sink, "attempts", attempts,
		"retryIn", delay, "err", err)
	return e.st.FinishOutbox(ctx, it.ID, store.OutboxPending, e.now().Add(delay), err.Error())
}

// retryDelay is the exponential backoff (with jitter) before attempt n+1. The state lives
// in the outbox row (attempts, next_at), so the schedule survives restarts.
func (e *Engine) retryDelay(n int) time.Duration {
	b := &backoff.ExponentialBackOff{
		InitialInterval: e.cfg.Delivery.InitialBackoff, RandomizationFactor: 0.2, Multiplier: 2,
		MaxInterval: e.cfg.Delivery.MaxBackoff, MaxElapsedTime: 0, Stop: backoff.Stop, Clock: backoff.SystemClock,
	}
	b.Reset()
	d := b.NextBackOff()
	for i := 1; i < n; i++ {
		d = b.NextBackOff()
	}
	return d
}

// send renders and sends one delivery.
func (e *Engine) send(ctx context.Context, it store.OutboxItem) error {
	body := WebhookBody{DeliveryID: it.ID, SentAt: e.now().UTC().Truncate(time.Second)}
	if it.AlertID != 0 {
		a, err := e.st.GetAlert(ctx, it.AlertID)
		if errors.Is(err, store.ErrNotFound) {
			return permanent("alert %d is gone", it.AlertID)
		}
		if err != nil {
			return err
		}
		body.Type, body.Alert = "alert", &a
	} else {
		var d digestPayload
		if err := json.Unmarshal(it.Payload, &d); err != nil {
			return permanent("bad digest payload: %v", err)
		}
		body.Type, body.Recipient, body.Kind, body.Notices = "digest", d.Recipient, d.Kind, d.Notices
	}
	switch it.Kind {
	case kindWebhook:
		w, ok := e.hooks[it.Sink]
		if !ok {
			return permanent("webhook sink %q: %w", it.Sink, errNoSink)
		}
		return e.postWebhook(ctx, w, it, body)
	case kindSMTP:
		if e.mail == nil {
			return permanent("smtp sink: %w", errNoSink)
		}
		return e.mail.send(ctx, it, body)
	case kindJSONL:
		if e.jsonl == nil {
			return permanent("jsonl sink: %w", errNoSink)
		}
		return e.jsonl.write(body)
	}
	return permanent("unknown delivery kind %q", it.Kind)
}

func (e *Engine) postWebhook(ctx context.Context, w WebhookSink, it store.OutboxItem, body WebhookBody) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return permanent("encode: %v", err)
	}
	ts := strconv.FormatInt(e.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(raw))
	if err != nil {
		return permanent("webhook %s: %v", w.Name, err)
	}
	for k, v := range w.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "labelgate-alerts/1")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(w.Secret, ts, raw))
	req.Header.Set(HeaderDelivery, strconv.FormatInt(it.ID, 10))
	req.Header.Set(HeaderEvent, body.Type)
	resp, err := e.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", w.Name, err)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	resp.Body.Close()
	if resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("webhook %s answered %d: %s", w.Name, resp.StatusCode, strings.TrimSpace(string(msg)))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		if s, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && s > 0 {
			return &retryError{err: err, after: time.Duration(s) * time.Second}
		}
		return err
	case resp.StatusCode == http.StatusRequestTimeout:
		return err
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		// The receiver refuses this request as it is; sending it again cannot help.
		return &permanentError{err: err}
	}
	return err
}

// jsonlWriter appends one JSON object per line. The file is opened for each line so that
// log rotation by rename needs no signal.
type jsonlWriter struct {
	mu     sync.Mutex
	path   string
	stdout io.Writer
}

func (j *jsonlWriter) write(body WebhookBody) error {
	line, err := json.Marshal(body)
	if err != nil {
		return permanent("encode: %v", err)
	}
	line = append(line, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.path == "-" {
		_, err := j.stdout.Write(line)
		return err
	}
	f, err := os.OpenFile(j.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("jsonl sink: %w", err)
	}
	if _, err := f.Write(line); err != nil {
		f.Close()
		return fmt.Errorf("jsonl sink: %w", err)
	}
	return f.Close()
}
