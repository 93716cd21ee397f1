package scanqueue

import (
	"context"

	"github.com/labelgate/labelgate/connectors"
)

// ScanKind is the River job kind of file scans.
const ScanKind = "scan"

// Reason says why a file was queued; it sets the scan's priority.
type Reason string

// Reasons, most urgent first.
const (
	ReasonAdmin   Reason = "admin"
	ReasonWebhook Reason = "webhook"
	ReasonPolicy  Reason = "policy"
	ReasonRescan  Reason = "rescan"
)

// Priority maps a reason onto the queue's priorities; unknown reasons rank as rescans.
func (r Reason) Priority() Priority {
	switch r {
	case ReasonAdmin:
		return PriorityAdmin
	case ReasonWebhook:
		return PriorityWebhook
	case ReasonPolicy:
		return PriorityPolicy
	}
	return PriorityRescan
}

// ScanArgs are a scan job's arguments.
type ScanArgs struct {
	Ref    connectors.FileRef `json:"ref"`
	Reason Reason             `json:"reason"`
	// Facts, when set, are the file as the walk or change feed that queued it saw it at
	// FactsAt (Unix ms), so the scan can skip a provider call to read them again (issue 21).
	Facts   *connectors.File `json:"facts,omitempty"`
	FactsAt int64            `json:"factsAt,omitempty"`
}

// ScanJob is a scan handed to a ScanHandler.
type ScanJob = Job[ScanArgs]

// ScanHandler scans one file.
type ScanHandler = Handler[ScanArgs]

// Scan is the request to scan ref: deduplicated by the file, partitioned by app and
// tenant, prioritised by reason.
func Scan(ref connectors.FileRef, reason Reason) Request[ScanArgs] {
	return Request[ScanArgs]{
		Args:      ScanArgs{Ref: ref, Reason: reason},
		Key:       ref.Key(),
		Partition: Partition(ref.App, ref.Tenant),
		Priority:  reason.Priority(),
	}
}

// ScanFacts is Scan carrying the facts the caller already has of the file, seen at.
func ScanFacts(f connectors.File, reason Reason, at int64) Request[ScanArgs] {
	r := Scan(f.Ref, reason)
	r.Args.Facts, r.Args.FactsAt = &f, at
	return r
}

// Partition is the conventional fairness partition of an app's tenant.
func Partition(app connectors.App, tenant string) string {
	return string(app) + "/" + tenant
}

// EnqueueScans queues scans; see Kind.Enqueue.
func (q *Queue) EnqueueScans(ctx context.Context, reqs ...Request[ScanArgs]) (EnqueueResult, error) {
	return q.scans.Enqueue(ctx, reqs...)
}
