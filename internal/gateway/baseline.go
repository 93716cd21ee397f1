package gateway

import (
	"context"
	"fmt"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
)

// baseline takes a drive's first change cursor and makes sure a rescan of its connector
// covers everything that was there before. The walk is a rescan rather than a walk of its
// own here: it is resumable, reports progress, skips unchanged files, reconciles deletions,
// and — the reason for issue 21 — is not done twice when an admin or the benchmark starts
// the connector's first full rescan at the same moment the gateway first hears of its drives
// (both used to walk every drive, doubling the provider calls of a first rescan). A running
// rescan of the whole connector, or of this drive, covers it; otherwise one rescan of the
// whole connector starts, which the connector's other drives, arriving next, find running.
// Two replicas taking baselines of two drives at the same moment may each start one.
func (g *Gateway) baseline(ctx context.Context, conn *Conn, drive string) error {
	fresh, err := conn.C.Changes(ctx, drive, "", func(connectors.File) error { return nil })
	if err != nil {
		return fmt.Errorf("baseline %s: new cursor: %w", drive, err)
	}
	if err := g.store.PutCursor(ctx, conn.C.App(), conn.C.Tenant(), drive, store.CursorChanges, fresh); err != nil {
		return err
	}
	r, started, err := g.ensureRescan(ctx, conn.Name, drive)
	if err != nil {
		return fmt.Errorf("baseline %s: %w", drive, err)
	}
	if started {
		g.log.Info("baseline rescan started", "connector", conn.Name, "drive", drive, "rescan", r.ID)
	}
	return nil
}

// ensureRescan returns a running, unforced rescan of connector that covers scope (the whole
// connector, or the drive scope names), starting one of the whole connector when none does.
func (g *Gateway) ensureRescan(ctx context.Context, connector, scope string) (store.Rescan, bool, error) {
	if r, ok, err := g.runningRescan(ctx, connector, scope); err != nil || ok {
		return r, false, err
	}
	r, err := g.StartRescan(ctx, connector, "", false)
	return r, err == nil, err
}

// runningRescan finds a running rescan of connector covering scope ("" = the whole
// connector, which only a whole-connector rescan covers).
func (g *Gateway) runningRescan(ctx context.Context, connector, scope string) (store.Rescan, bool, error) {
	running, err := g.store.ListRescans(ctx, true, 1000)
	if err != nil {
		return store.Rescan{}, false, err
	}
	for _, r := range running {
		if r.Connector == connector && r.State == store.RescanRunning && (r.Scope == "" || (scope != "" && r.Scope == scope)) {
			return r, true, nil
		}
	}
	return store.Rescan{}, false, nil
}
