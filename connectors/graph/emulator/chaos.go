package emulator

import (
	"net/http"
	"strings"
	"time"

	"github.com/labelgate/labelgate/connectors/internal/chaos"
)

// Chaos sets random faults: 429s with Retry-After, 5xx answers, slow answers, and lost,
// repeated or reordered change notifications. The zero Chaos turns them off.
type Chaos = chaos.Config

// ChaosStats counts the faults injected.
type ChaosStats = chaos.Stats

// SetChaos turns random faults on (or off with the zero Chaos). Token requests are spared:
// they are not what the chaos tests are about.
func (s *Server) SetChaos(c Chaos) { s.chaos.Set(c) }

// ChaosStats returns the faults injected so far.
func (s *Server) ChaosStats() ChaosStats { return s.chaos.Stats() }

// chaosRequest applies a random fault to r; it reports whether it answered r.
func (s *Server) chaosRequest(w http.ResponseWriter, r *http.Request) bool {
	if strings.HasSuffix(r.URL.Path, "/oauth2/v2.0/token") {
		return false
	}
	c := s.chaos.Request()
	if !c.Wait(r.Context()) {
		return true
	}
	if c.Status == 0 {
		return false
	}
	if c.RetryAfter > 0 {
		w.Header().Set("Retry-After", c.RetryAfterHeader())
	}
	code := map[int]string{429: "TooManyRequests", 503: "serviceNotAvailable"}[c.Status]
	if code == "" {
		code = "generalException"
	}
	writeErr(w, c.Status, code, "injected chaos")
	return true
}

// sendNotification posts a change notification, subject to chaos: it may be lost, sent
// twice, or held back so later ones overtake it. async posts in the background.
func (s *Server) sendNotification(u string, subIDs []string, body wNotifications, async bool) {
	d := s.chaos.Delivery()
	if d.Drop {
		s.mu.Lock()
		s.deliveries = append(s.deliveries, Delivery{Subscription: subIDs[0], Subscriptions: subIDs, URL: u, Dropped: true})
		s.mu.Unlock()
		return
	}
	send := func() {
		if d.Delay > 0 {
			time.Sleep(d.Delay)
		}
		for range d.Copies {
			s.post(u, subIDs, "", body)
		}
	}
	if async || d.Delay > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			send()
		}()
		return
	}
	send()
}
