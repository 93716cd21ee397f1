package emulator

import (
	"net/http"
	"time"

	"github.com/labelgate/labelgate/connectors/internal/chaos"
)

// Chaos sets random faults: 429s with Retry-After, 5xx answers, slow answers, and lost,
// repeated or reordered channel notifications. The zero Chaos turns them off.
type Chaos = chaos.Config

// ChaosStats counts the faults injected.
type ChaosStats = chaos.Stats

// SetChaos turns random faults on (or off with the zero Chaos). The token endpoint is spared.
func (s *Server) SetChaos(c Chaos) { s.chaos.Set(c) }

// ChaosStats returns the faults injected so far.
func (s *Server) ChaosStats() ChaosStats { return s.chaos.Stats() }

// chaosRequest applies a random fault to r; it reports whether it answered r.
func (s *Server) chaosRequest(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Path == "/token" {
		return false
	}
	c := s.chaos.Request()
	if !c.Wait(r.Context()) {
		return true
	}
	if c.Status == 0 {
		return false
	}
	reason := "backendError"
	if c.Status == http.StatusTooManyRequests {
		reason = "rateLimitExceeded"
		w.Header().Set("Retry-After", c.RetryAfterHeader())
	}
	writeErr(w, c.Status, reason, "injected chaos", "")
	return true
}

// enqueueChaos queues a notification subject to chaos: it may be lost, sent twice, or held
// back so later ones overtake it. Callers hold s.mu.
func (s *Server) enqueueChaos(d delivery) {
	c := s.chaos.Delivery()
	if c.Drop {
		return
	}
	if c.Delay > 0 {
		time.AfterFunc(c.Delay, func() {
			select {
			case <-s.done:
				return
			default:
			}
			for range c.Copies {
				s.enqueue(d)
			}
		})
		return
	}
	for range c.Copies {
		s.enqueue(d)
	}
}
