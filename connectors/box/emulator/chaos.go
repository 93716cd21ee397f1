package emulator

import (
	"net/http"

	"github.com/labelgate/labelgate/connectors/internal/chaos"
)

// Chaos sets random faults: 429s with Retry-After, 5xx answers, slow answers, and lost,
// repeated or reordered webhook deliveries. The zero Chaos turns them off.
type Chaos = chaos.Config

// ChaosStats counts the faults injected.
type ChaosStats = chaos.Stats

// SetChaos turns random faults on (or off with the zero Chaos). The token endpoint is spared.
func (e *Emulator) SetChaos(c Chaos) { e.chaos.Set(c) }

// ChaosStats returns the faults injected so far.
func (e *Emulator) ChaosStats() ChaosStats { return e.chaos.Stats() }

// chaosFault decides a random fault for an authenticated API request, after any delay;
// nil means serve it.
func (e *Emulator) chaosFault(r *http.Request) *Fault {
	c := e.chaos.Request()
	c.Wait(r.Context()) // a client that gave up gets the fault too; nobody reads it
	if c.Status == 0 {
		return nil
	}
	return &Fault{Status: c.Status, RetryAfter: c.RetryAfter}
}

// deliveryChaos marks a delivery lost, repeated or held back. Callers hold e.mu.
func (e *Emulator) deliveryChaos(d *pendingDelivery) {
	c := e.chaos.Delivery()
	switch {
	case c.Drop:
		d.dropped = true
	default:
		d.copies, d.delay = c.Copies, c.Delay
	}
}
