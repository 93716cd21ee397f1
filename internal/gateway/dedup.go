package gateway

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/labelgate/labelgate/connectors"
)

// How long a webhook delivery key must be remembered: as long as the provider may deliver
// the same key again. After that a key cannot come back, so its record is dead weight
// (issue 22: the table was never pruned).
const (
	// Box retries a delivery "up to 12 times over a period of 2 hours"
	// (https://developer.box.com/guides/webhooks/v2, "Retries"), and every delivery is
	// refused once its BOX-DELIVERY-TIMESTAMP is 10 minutes old (../shared/providers.md,
	// webhooks.Box replay window): 2 h + 10 min, with margin for clock skew and late retries.
	boxDedupRetention = 3 * time.Hour
	// Drive message numbers are per channel, and a channel lives at most 7 days for the
	// changes resource ("Drive caps at 7", gdrive.Config.ChannelTTL; Drive API push
	// notifications: expiration of a changes channel ≤ 604800 s); renewal creates a channel
	// with a new id, so no key of an expired channel recurs.
	driveDedupRetention = 7*24*time.Hour + time.Hour
	// maxDedupRetention covers every other key (apps without keys today, connectors removed
	// from the configuration): the longest window above.
	maxDedupRetention = driveDedupRetention
	// dedupPruneEvery is how often the leader prunes.
	dedupPruneEvery = 10 * time.Minute
	// dedupCountEvery bounds how often /metrics counts the table.
	dedupCountEvery = 30 * time.Second
)

// dedupRetention is how long the keys of a connector of app are kept.
func dedupRetention(app connectors.App) time.Duration {
	switch app {
	case connectors.AppBox:
		return boxDedupRetention
	case connectors.AppGDrive:
		return driveDedupRetention
	}
	return maxDedupRetention
}

// maybePruneDeliveries drops expired webhook dedup records, at most every dedupPruneEvery; the
// scheduler runs it on the leader only, so replicas do not race each other's deletes.
func (g *Gateway) maybePruneDeliveries(ctx context.Context, now time.Time) error {
	const cursor = "dedup-prune"
	lastS, err := g.store.GetCursor(ctx, "", "", "", cursor)
	if err != nil {
		return err
	}
	if lastS != "" {
		lastMS, _ := strconv.ParseInt(lastS, 10, 64)
		if now.Sub(time.UnixMilli(lastMS)) < dedupPruneEvery {
			return nil
		}
	}
	_, err = g.PruneDeliveries(ctx, now)
	if err != nil {
		return err
	}
	return g.store.PutCursor(ctx, "", "", "", cursor, strconv.FormatInt(now.UnixMilli(), 10))
}

// PruneDeliveries drops every webhook dedup record past its connector's retention, and any
// record past the longest retention, and returns how many it dropped.
func (g *Gateway) PruneDeliveries(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for _, c := range g.reg.list {
		// Keys are "<route name>|<provider key>" (webhooks.Handler).
		n, err := g.store.ForgetDeliveriesWithPrefix(ctx, c.Name+"|", now.Add(-dedupRetention(c.C.App())))
		total += n
		if err != nil {
			return total, err
		}
	}
	n, err := g.store.ForgetDeliveries(ctx, now.Add(-maxDedupRetention))
	total += n
	if err != nil {
		return total, err
	}
	if total > 0 {
		g.dedup.pruned.Add(float64(total))
		g.dedup.mu.Lock()
		g.dedup.at = time.Time{} // the next scrape counts afresh
		g.dedup.mu.Unlock()
		g.log.Info("pruned webhook dedup records", "count", total)
	}
	return total, nil
}

// dedupMetrics shows the dedup table's size and pruning in /metrics.
type dedupMetrics struct {
	pruned prometheus.Counter
	mu     sync.Mutex
	at     time.Time
	rows   float64
}

func (g *Gateway) registerDedupMetrics(reg prometheus.Registerer) {
	m := &dedupMetrics{pruned: prometheus.NewCounter(prometheus.CounterOpts{Name: "labelgate_webhook_dedup_pruned_total",
		Help: "Webhook dedup records dropped after their provider's retry window."})}
	rows := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "labelgate_webhook_dedup_records",
		Help: "Webhook delivery keys remembered for deduplication (rows of webhook_deliveries)."}, func() float64 {
		m.mu.Lock()
		defer m.mu.Unlock()
		if now := g.now(); !m.at.IsZero() && now.Sub(m.at) < dedupCountEvery && !now.Before(m.at) {
			return m.rows
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if n, err := g.store.CountDeliveries(ctx); err == nil {
			m.rows, m.at = float64(n), g.now()
		}
		return m.rows
	})
	reg.MustRegister(m.pruned, rows)
	g.dedup = m
}
