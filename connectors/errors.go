package connectors

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies a provider error so the queue and the executor can branch on it.
type Kind int

// Error kinds.
const (
	KindTransient  Kind = iota // retry with backoff (5xx, network)
	KindThrottled              // retry after RetryAfter (429, 503 with Retry-After, rate-limit 403)
	KindNotFound               // the file or drive is gone: do not retry
	KindPermission             // the app lacks access: do not retry
	KindInvalid                // the request is wrong (unknown label, bad argument): do not retry
	KindLocked                 // the file cannot be changed (423, protected): do not retry
	KindFatalToday             // a daily provider limit: retry after the provider's day turns
	// KindChanged: a conditional write was refused because the file changed since it was read
	// (HTTP 412 to If-Match). Re-read the file and decide again; never overwrite blindly.
	KindChanged
	// KindNotConfigured: the tenant or app lacks a set-up step only an administrator can do
	// (e.g. Graph's metered assignSensitivityLabel before the app is linked to an Azure
	// subscription). Retrying cannot help: pause the work and alert the operator.
	KindNotConfigured
)

func (k Kind) String() string {
	switch k {
	case KindTransient:
		return "transient"
	case KindThrottled:
		return "throttled"
	case KindNotFound:
		return "not found"
	case KindPermission:
		return "permission"
	case KindInvalid:
		return "invalid"
	case KindLocked:
		return "locked"
	case KindFatalToday:
		return "fatal for today"
	case KindChanged:
		return "changed since read"
	case KindNotConfigured:
		return "not configured"
	}
	return "unknown"
}

// Error is a classified provider error.
type Error struct {
	Kind       Kind
	Op         string        // what labelgate was doing, e.g. "graph delta"
	Status     int           // HTTP status where there was one
	RetryAfter time.Duration // from Retry-After, when the provider said
	Err        error
}

func (e *Error) Error() string {
	s := e.Op + ": " + e.Kind.String()
	if e.Status != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.Status)
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(", retry after %s", e.RetryAfter)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds a classified error.
func Errorf(kind Kind, op string, status int, retryAfter time.Duration, err error) *Error {
	return &Error{Kind: kind, Op: op, Status: status, RetryAfter: retryAfter, Err: err}
}

// KindOf returns the kind of err, KindTransient for unclassified errors.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindTransient
}

// RetryAfter returns the provider's requested wait, if err carries one.
func RetryAfter(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return e.RetryAfter, true
	}
	return 0, false
}

// Retryable reports whether an operation that failed with err may succeed later.
func Retryable(err error) bool {
	switch KindOf(err) {
	case KindTransient, KindThrottled, KindFatalToday:
		return true
	}
	return false
}

// Sentinel errors.
var (
	// ErrCursorExpired means a change-feed cursor is no longer valid: run a full resync.
	ErrCursorExpired = errors.New("change cursor expired, full resync needed")
	// ErrForged means a webhook request failed verification.
	ErrForged = errors.New("notification failed verification")
	// ErrMalformed means a webhook request could not be parsed.
	ErrMalformed = errors.New("malformed notification")
	// ErrUnsupported means the connector cannot do what was asked.
	ErrUnsupported = errors.New("not supported by this connector")
)

// ParseRetryAfter reads a Retry-After header value (seconds or an HTTP date).
func ParseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var secs int
	if _, err := fmt.Sscanf(v, "%d", &secs); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := time.Parse(time.RFC1123, v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// ClassifyHTTP maps an HTTP status to a kind; providers refine it with their error bodies.
func ClassifyHTTP(status int) Kind {
	switch {
	case status == 429:
		return KindThrottled
	case status == 404 || status == 410:
		return KindNotFound
	case status == 401 || status == 403:
		return KindPermission
	case status == 423:
		return KindLocked
	case status >= 500:
		return KindTransient
	case status >= 400:
		return KindInvalid
	}
	return KindTransient
}
