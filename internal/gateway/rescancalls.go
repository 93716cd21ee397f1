package gateway

import (
	"sync"

	"github.com/labelgate/labelgate/connectors/provmetrics"
	"github.com/labelgate/labelgate/internal/store"
)

// RescanCalls is what a rescan has cost at the provider so far, as this replica counted it:
// the metadata calls and content reads its connector sent since the rescan started here (or
// since this replica started, for a rescan it resumed), for the walk and for every scan and
// any other work of that connector in the window — so on a busy tenant it is an upper bound.
type RescanCalls struct {
	MetadataCalls int64 `json:"metadataCalls"`
	ContentReads  int64 `json:"contentReads"`
	Throttled     int64 `json:"throttled"`
	// Per file enumerated by the walk; 0 until the walk has seen a file.
	MetadataPerFile float64 `json:"metadataCallsPerFile"`
	ContentPerFile  float64 `json:"contentReadsPerFile"`
}

// rescanBaselines remembers each running rescan's provider totals at its start.
type rescanBaselines struct {
	mu   sync.Mutex
	base map[int64]provmetrics.Totals
}

func (g *Gateway) markRescanStart(r store.Rescan) {
	if g.prov == nil {
		return
	}
	g.baselines.mu.Lock()
	defer g.baselines.mu.Unlock()
	if g.baselines.base == nil {
		g.baselines.base = map[int64]provmetrics.Totals{}
	}
	if _, ok := g.baselines.base[r.ID]; !ok {
		g.baselines.base[r.ID] = g.prov.Totals(string(r.App))
	}
}

// rescanCalls reports r's provider calls so far.
func (g *Gateway) rescanCalls(r store.Rescan) *RescanCalls {
	if g.prov == nil {
		return nil
	}
	now := g.prov.Totals(string(r.App))
	g.baselines.mu.Lock()
	base := g.baselines.base[r.ID]
	g.baselines.mu.Unlock()
	c := &RescanCalls{MetadataCalls: now.Metadata - base.Metadata, ContentReads: now.Content - base.Content,
		Throttled: now.Throttled - base.Throttled}
	if r.Enumerated > 0 {
		c.MetadataPerFile = float64(c.MetadataCalls) / float64(r.Enumerated)
		c.ContentPerFile = float64(c.ContentReads) / float64(r.Enumerated)
	}
	return c
}
