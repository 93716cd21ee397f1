package store

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/labelgate/labelgate/connectors"
)

// A group commit of scan outcomes writes its rows with multi-row statements: per scanned
// file the store sent a read of the row before, an upsert, an insert into the discovery log
// and one per label the file carries, each a round trip and, on PostgreSQL, a statement the
// server parses, plans and runs (pg_stat_statements over a 100,000-file rescan: 633,000
// statements, about 6 per file). upsertChunk bounds a statement's rows (32 columns × 64 =
// 2,048 parameters, within SQLite's and PostgreSQL's limits); chunks come in a few fixed
// sizes so the prepared-statement cache holds a few texts, not one per batch size.
const upsertChunk = 64

var chunkSizes = []int{64, 16, 4, 1}

// chunked calls fn for consecutive runs of n items, in sizes from chunkSizes.
func chunked(n int, fn func(from, k int) error) error {
	for from := 0; from < n; {
		k := 1
		for _, c := range chunkSizes {
			if c <= n-from {
				k = c
				break
			}
		}
		if err := fn(from, k); err != nil {
			return err
		}
		from += k
	}
	return nil
}

var multiRows sync.Map // multiRowKey → string

type multiRowKey struct {
	head, row string
	k         int
}

// multiRow is head, k copies of row separated by commas, and tail.
func multiRow(head, row, tail string, k int) string {
	key := multiRowKey{head + tail, row, k}
	if q, ok := multiRows.Load(key); ok {
		return q.(string)
	}
	var b strings.Builder
	b.WriteString(head)
	for i := range k {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	b.WriteString(tail)
	q, _ := multiRows.LoadOrStore(key, b.String())
	return q.(string)
}

const (
	eventsHead     = `INSERT INTO events (at, kind, app, tenant, drive, item_id, path, name, label_id, prev_label_id, actor, detail) VALUES `
	eventsRow      = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	fileLabelsHead = `INSERT INTO file_labels (app, tenant, drive, item_id, seq, label_id, label_tenant, method,
				set_at, source, parent_id, name, external) VALUES `
	fileLabelsRow = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// recordScansBatch is RecordScans' work inside tx for outcomes of distinct files, in the
// order given (key order): one read of the rows before, then multi-row writes.
func (tx *Tx) recordScansBatch(ctx context.Context, outs []ScanOutcome, order []int, res []ScanResult, now int64) error {
	refs := make([]connectors.FileRef, len(order))
	for j, i := range order {
		refs[j] = outs[i].File.Ref
	}
	prev, err := getFilesIn(ctx, tx.query, refs)
	if err != nil {
		return err
	}
	var events []Event
	var labels []fileLabelRow
	var replaced []connectors.FileRef
	inserted := 0
	for _, i := range order {
		o := outs[i]
		p, existed := prev[o.File.Ref]
		ev, rec := planScan(p, existed, o, now)
		res[i] = ScanResult{Events: ev, Record: rec}
		events = append(events, ev...)
		if !existed {
			inserted++
		}
		if o.Err == "" {
			if existed {
				replaced = append(replaced, o.File.Ref)
			}
			for seq, l := range o.Labels {
				labels = append(labels, fileLabelRow{o.File.Ref, seq, l})
			}
		}
	}
	tx.s.insertedFiles(inserted) // a rolled-back insert only brings an analysis forward
	args := make([]any, 0, upsertChunk*32)
	if err := chunked(len(order), func(from, k int) error {
		args = args[:0]
		for _, i := range order[from : from+k] {
			args = scannedArgs(args, outs[i], now)
		}
		_, err := tx.exec(ctx, multiRow(scannedHead, scannedRow, scannedTail, k), args...)
		return err
	}); err != nil {
		return fmt.Errorf("store: record scans: %w", err)
	}
	for _, ref := range replaced {
		if err := tx.deleteFileLabels(ctx, ref); err != nil {
			return err
		}
	}
	if err := tx.insertFileLabels(ctx, labels); err != nil {
		return err
	}
	return tx.addEvents(ctx, events, now)
}
