package gdrive

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/googleapi"

	"github.com/labelgate/labelgate/connectors"
)

// pacer spaces API calls evenly so one connector stays under Google's per-user rate limits
// instead of discovering them through 403s.
type pacer struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

func newPacer(perSecond float64) *pacer {
	return &pacer{interval: time.Duration(float64(time.Second) / perSecond)}
}

func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := time.Now()
	at := p.next
	if at.Before(now) {
		at = now
	}
	p.next = at.Add(p.interval)
	p.mu.Unlock()
	d := at.Sub(now)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// call runs one API request through the pacer and classifies its error. It does not retry:
// the scan queue and the executor retry from the typed error.
func (c *Conn) call(ctx context.Context, op string, fn func() error) error {
	if err := c.pace.wait(ctx); err != nil {
		return err
	}
	err := fn()
	if err == nil {
		return nil
	}
	return c.classify(op, err)
}

// classify turns a Drive API error into a connectors.Error.
func (c *Conn) classify(op string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil {
		// The token endpoint refused: 400/401 mean the delegation or the key is wrong.
		status := re.Response.StatusCode
		kind := connectors.ClassifyHTTP(status)
		if status == http.StatusBadRequest || status == http.StatusUnauthorized {
			kind = connectors.KindPermission
		}
		retry := connectors.ParseRetryAfter(re.Response.Header.Get("Retry-After"), c.now())
		if kind == connectors.KindThrottled && retry <= 0 {
			retry = c.cfg.ThrottleWait
		}
		return connectors.Errorf(kind, op+" (token)", status, retry, err)
	}
	var ge *googleapi.Error
	if !errors.As(err, &ge) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return connectors.Errorf(connectors.KindTransient, op, 0, 0, err)
	}
	retry := connectors.ParseRetryAfter(ge.Header.Get("Retry-After"), c.now())
	throttled := func() error {
		if retry <= 0 {
			retry = c.cfg.ThrottleWait
		}
		return connectors.Errorf(connectors.KindThrottled, op, ge.Code, retry, err)
	}
	switch {
	case hasReason(ge, "dailyLimitExceeded", "quotaExceeded", "dailyLimitExceededUnreg"):
		return connectors.Errorf(connectors.KindFatalToday, op, ge.Code, retry, err)
	case ge.Code == http.StatusTooManyRequests,
		ge.Code == http.StatusForbidden && hasReason(ge, "userRateLimitExceeded", "rateLimitExceeded"):
		return throttled()
	case ge.Code == http.StatusNotFound:
		return connectors.Errorf(connectors.KindNotFound, op, ge.Code, 0, err)
	case ge.Code == http.StatusForbidden && hasReason(ge, "cannotRemoveOwner", "cannotDeletePermission"):
		// Drive refuses to remove the owner's or an inherited grant: the request is wrong for
		// this grant, not a lack of access, and asking again cannot help. (The reasons are the
		// emulator's; other 403s stay KindPermission below.)
		return connectors.Errorf(connectors.KindInvalid, op, ge.Code, 0, err)
	case ge.Code == http.StatusUnauthorized || ge.Code == http.StatusForbidden:
		return connectors.Errorf(connectors.KindPermission, op, ge.Code, 0, err)
	case ge.Code == http.StatusBadRequest && badPageToken(ge):
		return connectors.Errorf(connectors.KindInvalid, op, ge.Code, 0,
			fmt.Errorf("%w: %w", connectors.ErrCursorExpired, err))
	case ge.Code >= 500:
		return connectors.Errorf(connectors.KindTransient, op, ge.Code, retry, err)
	}
	return connectors.Errorf(connectors.ClassifyHTTP(ge.Code), op, ge.Code, 0, err)
}

func hasReason(ge *googleapi.Error, reasons ...string) bool {
	for _, e := range ge.Errors {
		for _, r := range reasons {
			if e.Reason == r {
				return true
			}
		}
	}
	return false
}

// badPageToken recognises Drive's answer to a stale or foreign page token: 400 "Invalid
// Value" on the pageToken parameter (googleapi keeps the location only in the raw body).
func badPageToken(ge *googleapi.Error) bool {
	return strings.Contains(ge.Body, `"pageToken"`) || strings.Contains(strings.ToLower(ge.Message), "page token")
}
