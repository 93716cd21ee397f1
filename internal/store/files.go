package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labelgate/labelgate/connectors"
)

// FileRecord is one inventory row: the connector's facts plus what the last scan found.
type FileRecord struct {
	connectors.File
	Ext           string    `json:"ext"`
	Type          string    `json:"type"`
	LabelID       string    `json:"labelId,omitempty"`
	LabelTenant   string    `json:"labelTenant,omitempty"`
	LabelMethod   string    `json:"labelMethod,omitempty"`
	LabelSetAt    time.Time `json:"labelSetAt,omitempty"`
	LabelExternal bool      `json:"labelExternal,omitempty"`
	Protected     bool      `json:"protected,omitempty"`
	ScannedETag   string    `json:"scannedEtag,omitempty"`
	ScannedSize   int64     `json:"scannedSize,omitempty"`
	LastScanned   time.Time `json:"lastScanned,omitempty"`
	ScanError     string    `json:"scanError,omitempty"`
	BytesRead     int64     `json:"bytesRead,omitempty"`
	FirstSeen     time.Time `json:"firstSeen"`
	UpdatedAt     time.Time `json:"updatedAt"`
}

// Unchanged reports whether f has the same content as when this record was last scanned,
// so a non-forced rescan can skip it. A file whose content could not be parsed is skipped
// too: the same bytes fail the same way (provider outages are retried by the queue and
// never recorded as scan errors); a forced rescan reads it again.
func (r FileRecord) Unchanged(f connectors.File) bool {
	return !r.LastScanned.IsZero() && r.ScannedETag != "" &&
		r.ScannedETag == f.ETag && r.ScannedSize == f.Size
}

// Event kinds in the discovery log.
const (
	EventDiscovered     = "file_discovered"  // first scan of a file
	EventLabelAdded     = "label_added"      // a file gained a label outside labelgate
	EventLabelChanged   = "label_changed"    // a file's label changed outside labelgate
	EventLabelRemoved   = "label_removed"    // a file lost its label outside labelgate
	EventAccessChanged  = "access_changed"   // sharing changed
	EventFileDeleted    = "file_deleted"     // the provider no longer has the file
	EventScanFailed     = "scan_failed"      // the file could not be read
	EventLabelApplied   = "label_applied"    // labelgate applied a label
	EventLabelCleared   = "label_cleared"    // labelgate removed a label
	EventActionRefused  = "action_refused"   // a rule refused an action
	EventActionFailed   = "action_failed"    // an action failed for good
	EventCatalogAdded   = "catalog_added"    // the catalog gained a label
	EventCatalogRenamed = "catalog_renamed"  // a label's name changed
	EventCatalogState   = "catalog_disabled" // a label was disabled at the source
	EventCatalogDeleted = "catalog_deleted"  // a label was deleted at the source
	// Sharing governance (issue 24).
	EventAccessRestricted = "access_restricted" // labelgate removed grants from a file
	EventAccessRestored   = "access_restored"   // an undo granted them again
)

// Event is one discovery-log entry.
type Event struct {
	ID          int64          `json:"id"`
	At          time.Time      `json:"at"`
	Kind        string         `json:"kind"`
	App         connectors.App `json:"app,omitempty"`
	Tenant      string         `json:"tenant,omitempty"`
	Drive       string         `json:"drive,omitempty"`
	ItemID      string         `json:"itemId,omitempty"`
	Path        string         `json:"path,omitempty"`
	Name        string         `json:"name,omitempty"`
	LabelID     string         `json:"labelId,omitempty"`
	PrevLabelID string         `json:"prevLabelId,omitempty"`
	Actor       string         `json:"actor,omitempty"`
	Detail      string         `json:"detail,omitempty"`
}

// CarriedLabel is one label a file carries: at most one per tenant, with where it was found
// ("labelinfo", "custom", "pdf-info", "pdf-xmp", "ole-props", "cfb-labelinfo"; "labelgate" for a
// label labelgate wrote, "native" for a provider's own label).
type CarriedLabel struct {
	LabelID  string    `json:"labelId"`
	Tenant   string    `json:"tenant,omitempty"`
	Method   string    `json:"method,omitempty"`
	SetAt    time.Time `json:"setAt,omitempty"`
	Source   string    `json:"source,omitempty"`
	ParentID string    `json:"parentId,omitempty"`
	Name     string    `json:"name,omitempty"`
	External bool      `json:"external,omitempty"` // another tenant's than the organisation's
}

// ScanOutcome is what the scanner learnt about a file.
type ScanOutcome struct {
	File        connectors.File
	Type        string
	LabelID     string
	LabelTenant string
	LabelMethod string
	LabelSetAt  time.Time
	External    bool
	Protected   bool
	BytesRead   int64
	Err         string // non-empty when the scan failed; the label columns are then left as they were
	// Labels are all the labels the file carries (the file's label among them); they replace
	// the file's previous list. External is then true when any of them is another tenant's.
	Labels []CarriedLabel
}

const fileCols = `app, tenant, drive, item_id, path, name, ext, file_type, size, created_at, modified_at, etag,
	owner, owner_ou, groups_json, access, domains_json, web_url, deleted, label_id, label_tenant, label_method,
	label_set_at, label_external, protected, scanned_etag, scanned_size, last_scanned, scan_error, bytes_read,
	first_seen, updated_at`

func scanFile(sc interface{ Scan(...any) error }) (FileRecord, error) {
	var r FileRecord
	var app, groups, domains, access string
	var created, modified, labelSet, scanned, first, updated int64
	err := sc.Scan(&app, &r.Ref.Tenant, &r.Ref.Drive, &r.Ref.ItemID, &r.Path, &r.Name, &r.Ext, &r.Type, &r.Size,
		&created, &modified, &r.ETag, &r.Owner, &r.OwnerOU, &groups, &access, &domains, &r.WebURL, &r.Deleted,
		&r.LabelID, &r.LabelTenant, &r.LabelMethod, &labelSet, &r.LabelExternal, &r.Protected, &r.ScannedETag,
		&r.ScannedSize, &scanned, &r.ScanError, &r.BytesRead, &first, &updated)
	if err != nil {
		return r, err
	}
	r.Ref.App, r.Access = connectors.App(app), connectors.AccessLevel(access)
	r.Created, r.Modified, r.LabelSetAt = fromMS(created), fromMS(modified), fromMS(labelSet)
	r.LastScanned, r.FirstSeen, r.UpdatedAt = fromMS(scanned), fromMS(first), fromMS(updated)
	r.NativeLabel = ""
	if groups != "" {
		_ = json.Unmarshal([]byte(groups), &r.Groups)
	}
	if domains != "" {
		_ = json.Unmarshal([]byte(domains), &r.Domains)
	}
	return r, nil
}

func jsonList(v []string) string {
	if len(v) == 0 {
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Ext returns a file name's lowercase extension without the dot.
func Ext(name string) string {
	return strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
}

// GetFile returns one inventory row, ErrNotFound when absent.
func (s *Store) GetFile(ctx context.Context, ref connectors.FileRef) (FileRecord, error) {
	return getFile(ctx, s.queryRow, ref)
}

// getFilesChunk is how many files one GetFiles statement reads. Shorter lists are padded
// with their first id, so every call runs one prepared statement whatever its length.
const getFilesChunk = 64

// GetFiles reads many files at once (a rescan's walk compares each batch of the files it
// enumerates with the inventory): one statement per drive and 64 files instead of one per
// file. Files not in the inventory are absent from the map.
func (s *Store) GetFiles(ctx context.Context, refs []connectors.FileRef) (map[connectors.FileRef]FileRecord, error) {
	return getFilesIn(ctx, s.query, refs)
}

// getFilesIn is GetFiles through query (the store's, or a transaction's).
func getFilesIn(ctx context.Context, query func(context.Context, string, ...any) (*sql.Rows, error), refs []connectors.FileRef) (map[connectors.FileRef]FileRecord, error) {
	out := make(map[connectors.FileRef]FileRecord, len(refs))
	type driveKey struct {
		app          connectors.App
		tenant, drve string
	}
	byDrive := map[driveKey][]string{}
	var order []driveKey
	for _, r := range refs {
		k := driveKey{r.App, r.Tenant, r.Drive}
		if _, ok := byDrive[k]; !ok {
			order = append(order, k)
		}
		byDrive[k] = append(byDrive[k], r.ItemID)
	}
	q := `SELECT ` + fileCols + ` FROM files WHERE app = ? AND tenant = ? AND drive = ? AND item_id IN (?` +
		strings.Repeat(", ?", getFilesChunk-1) + `)`
	args := make([]any, 3+getFilesChunk)
	for _, k := range order {
		ids := byDrive[k]
		for len(ids) > 0 {
			n := min(len(ids), getFilesChunk)
			args[0], args[1], args[2] = string(k.app), k.tenant, k.drve
			for i := range getFilesChunk {
				args[3+i] = ids[0]
				if i < n {
					args[3+i] = ids[i]
				}
			}
			ids = ids[n:]
			if err := func() error {
				rows, err := query(ctx, q, args...)
				if err != nil {
					return err
				}
				defer rows.Close()
				for rows.Next() {
					r, err := scanFile(rows)
					if err != nil {
						return err
					}
					out[r.Ref] = r
				}
				return rows.Err()
			}(); err != nil {
				return nil, fmt.Errorf("store: get files: %w", err)
			}
		}
	}
	return out, nil
}

func getFile(ctx context.Context, qr func(context.Context, string, ...any) *sql.Row, ref connectors.FileRef) (FileRecord, error) {
	r, err := scanFile(qr(ctx, `SELECT `+fileCols+` FROM files WHERE app = ? AND tenant = ? AND drive = ? AND item_id = ?`,
		string(ref.App), ref.Tenant, ref.Drive, ref.ItemID))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("file %s: %w", ref.Key(), ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("store: get file: %w", err)
	}
	return r, nil
}

// The inventory's facts columns (what a listing or change says about a file), their values
// and their update on conflict: upsertFacts writes them alone, a scan with its outcome.
const (
	factsColumns = `app, tenant, drive, item_id, path, name, ext, size, created_at, modified_at, etag,
			owner, owner_ou, groups_json, access, domains_json, web_url, deleted, first_seen, updated_at`
	factsValues   = `?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?`
	factsConflict = `
		ON CONFLICT (app, tenant, drive, item_id) DO UPDATE SET path = excluded.path, name = excluded.name,
			ext = excluded.ext, size = excluded.size, created_at = excluded.created_at, modified_at = excluded.modified_at,
			etag = excluded.etag, owner = excluded.owner, owner_ou = excluded.owner_ou, groups_json = excluded.groups_json,
			access = excluded.access, domains_json = excluded.domains_json, web_url = excluded.web_url,
			deleted = excluded.deleted, updated_at = excluded.updated_at`
)

// factsArgs appends f's values for factsColumns.
func factsArgs(args []any, f connectors.File, now int64) []any {
	return append(args, string(f.Ref.App), f.Ref.Tenant, f.Ref.Drive, f.Ref.ItemID, f.Path, f.Name, Ext(f.Name), f.Size,
		ms(f.Created), ms(f.Modified), f.ETag, f.Owner, f.OwnerOU, jsonList(f.Groups), string(f.Access), jsonList(f.Domains),
		f.WebURL, f.Deleted, now, now)
}

// upsertFacts writes a connector's facts, leaving scan results alone.
func (t *Tx) upsertFacts(ctx context.Context, f connectors.File, now int64) error {
	_, err := t.exec(ctx, `INSERT INTO files (`+factsColumns+`) VALUES (`+factsValues+`)`+factsConflict, factsArgs(nil, f, now)...)
	if err != nil {
		return fmt.Errorf("store: upsert file: %w", err)
	}
	return nil
}

// scannedHead, scannedRow and scannedTail write a scanned file's facts and its scan's outcome
// in one statement (they were an upsert and an update: a statement more per scanned file).
// A failed read (a scan_error) keeps the label columns the row had; a new row then gets the
// zero values the caller passes. RecordScans sends up to upsertChunk rows in one statement.
const (
	scannedHead = `INSERT INTO files (` + factsColumns + `,
			file_type, scan_error, last_scanned, scanned_etag, scanned_size, label_id, label_tenant, label_method,
			label_set_at, label_external, protected, bytes_read) VALUES `
	scannedRow  = `(` + factsValues + `, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	scannedTail = factsConflict + `,
			file_type = excluded.file_type, scan_error = excluded.scan_error, last_scanned = excluded.last_scanned,
			scanned_etag = excluded.scanned_etag, scanned_size = excluded.scanned_size,
			label_id = CASE WHEN excluded.scan_error = '' THEN excluded.label_id ELSE files.label_id END,
			label_tenant = CASE WHEN excluded.scan_error = '' THEN excluded.label_tenant ELSE files.label_tenant END,
			label_method = CASE WHEN excluded.scan_error = '' THEN excluded.label_method ELSE files.label_method END,
			label_set_at = CASE WHEN excluded.scan_error = '' THEN excluded.label_set_at ELSE files.label_set_at END,
			label_external = CASE WHEN excluded.scan_error = '' THEN excluded.label_external ELSE files.label_external END,
			protected = CASE WHEN excluded.scan_error = '' THEN excluded.protected ELSE files.protected END,
			bytes_read = CASE WHEN excluded.scan_error = '' THEN excluded.bytes_read ELSE files.bytes_read END`
)

// scannedArgs appends o's values for one scannedRow.
func scannedArgs(args []any, o ScanOutcome, now int64) []any {
	f := o.File
	if o.Err != "" {
		o.LabelID, o.LabelTenant, o.LabelMethod, o.LabelSetAt, o.External, o.Protected, o.BytesRead = "", "", "", time.Time{}, false, false, 0
	}
	return append(factsArgs(args, f, now),
		o.Type, o.Err, now, f.ETag, f.Size, o.LabelID, o.LabelTenant, o.LabelMethod,
		ms(o.LabelSetAt), o.External, o.Protected, o.BytesRead)
}

// upsertScanned writes a scanned file's facts and its scan's outcome.
func (t *Tx) upsertScanned(ctx context.Context, o ScanOutcome, now int64) error {
	if _, err := t.exec(ctx, multiRow(scannedHead, scannedRow, scannedTail, 1), scannedArgs(nil, o, now)...); err != nil {
		return fmt.Errorf("store: record scan: %w", err)
	}
	return nil
}

// UpsertFile records a connector's facts about a file without a scan (a listing, a change).
// It returns the row as it was before, and whether there was one.
func (s *Store) UpsertFile(ctx context.Context, f connectors.File) (prev FileRecord, existed bool, err error) {
	err = s.Tx(ctx, func(tx *Tx) error {
		p, gerr := getFile(ctx, tx.queryRow, f.Ref)
		switch {
		case gerr == nil:
			prev, existed = p, true
		case !errors.Is(gerr, ErrNotFound):
			return gerr
		}
		now := s.now().UnixMilli()
		if err := tx.upsertFacts(ctx, f, now); err != nil {
			return err
		}
		if existed && p.Access != f.Access && p.Access != "" {
			return tx.addEvent(ctx, Event{Kind: EventAccessChanged, App: f.Ref.App, Tenant: f.Ref.Tenant, Drive: f.Ref.Drive,
				ItemID: f.Ref.ItemID, Path: f.Path, Name: f.Name, LabelID: p.LabelID,
				Detail: string(p.Access) + " -> " + string(f.Access)}, now)
		}
		return nil
	})
	if err == nil && !existed {
		s.insertedFiles(1)
	}
	return prev, existed, err
}

// MarkDeleted records that a file is gone at the provider (kept for history, hidden from listings).
func (s *Store) MarkDeleted(ctx context.Context, ref connectors.FileRef, actor string) error {
	return s.Tx(ctx, func(tx *Tx) error {
		p, err := getFile(ctx, tx.queryRow, ref)
		if errors.Is(err, ErrNotFound) || (err == nil && p.Deleted) {
			return nil
		}
		if err != nil {
			return err
		}
		now := s.now().UnixMilli()
		if _, err := tx.exec(ctx, `UPDATE files SET deleted = ?, updated_at = ? WHERE app = ? AND tenant = ? AND drive = ? AND item_id = ?`,
			true, now, string(ref.App), ref.Tenant, ref.Drive, ref.ItemID); err != nil {
			return fmt.Errorf("store: mark deleted: %w", err)
		}
		return tx.addEvent(ctx, Event{Kind: EventFileDeleted, App: ref.App, Tenant: ref.Tenant, Drive: ref.Drive, ItemID: ref.ItemID,
			Path: p.Path, Name: p.Name, LabelID: p.LabelID, Actor: actor}, now)
	})
}

// RecordScan stores a scan's outcome and logs what it discovered: a first sighting, a label
// added, changed or removed outside labelgate, or a failure. It returns the events written.
func (s *Store) RecordScan(ctx context.Context, o ScanOutcome) ([]Event, error) {
	var events []Event
	err := s.Tx(ctx, func(tx *Tx) error {
		var err error
		events, _, err = tx.recordScan(ctx, o, s.now().UnixMilli())
		return err
	})
	if err != nil {
		return nil, err
	}
	return events, nil
}

// ScanResult is what RecordScans did with one outcome: the events logged and the file's
// inventory row as the outcome left it (as GetFile would read it back).
type ScanResult struct {
	Events []Event
	Record FileRecord
	Err    error
}

// RecordScans records many outcomes in one transaction, each exactly as RecordScan would
// (one commit instead of one per scan: commits were about half of what recording a scan
// cost on SQLite). If the transaction fails, each outcome is recorded on its own, so one bad
// outcome costs the others nothing.
func (s *Store) RecordScans(ctx context.Context, outs []ScanOutcome) []ScanResult {
	res := make([]ScanResult, len(outs))
	if len(outs) > 1 {
		// The rows are written in key order (a stable order, so two outcomes of one file
		// keep theirs): walks mark the same rows seen meanwhile, also in key order, and on
		// PostgreSQL two writers of many rows in different orders deadlock.
		order := make([]int, len(outs))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return byRef(outs[a].File.Ref, outs[b].File.Ref) })
		distinct := true
		for j := 1; j < len(order); j++ {
			distinct = distinct && outs[order[j-1]].File.Ref != outs[order[j]].File.Ref
		}
		err := s.txRetry(ctx, func(tx *Tx) error {
			now := s.now().UnixMilli()
			if distinct {
				return tx.recordScansBatch(ctx, outs, order, res, now)
			}
			// Two outcomes of one file: the second is planned over the row the first left.
			for _, i := range order {
				o := outs[i]
				ev, rec, err := tx.recordScan(ctx, o, now)
				if err != nil {
					return err
				}
				res[i] = ScanResult{Events: ev, Record: rec}
			}
			return nil
		})
		if err == nil {
			return res
		}
	}
	for i, o := range outs {
		err := s.Tx(ctx, func(tx *Tx) error {
			ev, rec, err := tx.recordScan(ctx, o, s.now().UnixMilli())
			res[i] = ScanResult{Events: ev, Record: rec}
			return err
		})
		if err != nil {
			res[i] = ScanResult{Err: err}
		}
	}
	return res
}

// recordScan is RecordScan's work inside tx; it also returns the row it left.
func (tx *Tx) recordScan(ctx context.Context, o ScanOutcome, now int64) ([]Event, FileRecord, error) {
	p, gerr := getFile(ctx, tx.queryRow, o.File.Ref)
	existed := gerr == nil
	if gerr != nil && !errors.Is(gerr, ErrNotFound) {
		return nil, FileRecord{}, gerr
	}
	events, rec := planScan(p, existed, o, now)
	if !existed {
		tx.s.insertedFiles(1) // a rolled-back insert only brings an analysis forward
	}
	if err := tx.upsertScanned(ctx, o, now); err != nil {
		return nil, FileRecord{}, err
	}
	if o.Err == "" {
		if err := tx.replaceFileLabels(ctx, o.File.Ref, o.Labels, existed); err != nil {
			return nil, FileRecord{}, err
		}
	}
	if err := tx.addEvents(ctx, events, now); err != nil {
		return nil, FileRecord{}, err
	}
	return events, rec, nil
}

// planScan is what recording o over the row p (existed says there was one) logs, and the
// row it leaves.
func planScan(p FileRecord, existed bool, o ScanOutcome, now int64) ([]Event, FileRecord) {
	var events []Event
	f := o.File
	rec := scannedRecord(p, existed, o, now)
	base := Event{At: time.UnixMilli(now).UTC(), App: f.Ref.App, Tenant: f.Ref.Tenant, Drive: f.Ref.Drive, ItemID: f.Ref.ItemID,
		Path: f.Path, Name: f.Name, Actor: "scanner"}
	// A webhook-triggered scan carries the provider's current sharing: a change is
	// logged here exactly as UpsertFile logs it (issue 23: the demo's sharing changes
	// went unrecorded), so access_widened alerts fire whichever path saw it first. The
	// event names the label the file carries now (the one just read, or the stored one
	// when the read failed).
	if existed && p.Access != "" && p.Access != f.Access {
		e := base
		e.Kind, e.LabelID, e.Detail = EventAccessChanged, o.LabelID, string(p.Access)+" -> "+string(f.Access)
		if o.Err != "" {
			e.LabelID = p.LabelID
		}
		events = append(events, e)
	}
	if o.Err != "" {
		e := base
		e.Kind, e.Detail = EventScanFailed, o.Err
		return append(events, e), rec
	}
	e := base
	e.LabelID, e.PrevLabelID = o.LabelID, p.LabelID
	switch {
	case !existed || p.LastScanned.IsZero():
		e.Kind = EventDiscovered
		e.PrevLabelID = ""
		if o.Protected {
			e.Detail = "protected"
		}
	case p.LabelID == o.LabelID:
		return events, rec // the access change, if any
	case p.LabelID == "":
		e.Kind = EventLabelAdded
	case o.LabelID == "":
		e.Kind = EventLabelRemoved
	default:
		e.Kind = EventLabelChanged
	}
	return append(events, e), rec
}

// scannedRecord is the row recordScan leaves, built from the row before it (p, when
// existed) and what it writes, at the store's millisecond precision: the scanner hands it
// to the policies instead of reading the row back (a read per scan, 7 % of a rescan's CPU).
// TestRecordScansReturnTheRow holds it to what GetFile reads.
func scannedRecord(p FileRecord, existed bool, o ScanOutcome, now int64) FileRecord {
	f := o.File
	r := p
	if !existed {
		r = FileRecord{FirstSeen: fromMS(now)}
	}
	r.File = connectors.File{Ref: f.Ref, Path: f.Path, Name: f.Name, Size: f.Size,
		Created: fromMS(ms(f.Created)), Modified: fromMS(ms(f.Modified)), ETag: f.ETag, Owner: f.Owner,
		OwnerOU: f.OwnerOU, Groups: listOf(f.Groups), Access: f.Access, Domains: listOf(f.Domains),
		Deleted: f.Deleted, WebURL: f.WebURL}
	r.Ext, r.Type, r.UpdatedAt = Ext(f.Name), o.Type, fromMS(now)
	r.ScannedETag, r.ScannedSize, r.LastScanned = f.ETag, f.Size, fromMS(now)
	r.ScanError = o.Err
	if o.Err != "" {
		return r
	}
	r.LabelID, r.LabelTenant, r.LabelMethod, r.LabelSetAt = o.LabelID, o.LabelTenant, o.LabelMethod, fromMS(ms(o.LabelSetAt))
	r.LabelExternal, r.Protected, r.BytesRead = o.External, o.Protected, o.BytesRead
	return r
}

// listOf is l as the store gives it back: nil when empty.
func listOf(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return slices.Clone(l)
}

// replaceFileLabels makes ls the file's list of labels; existed false (a file new to the
// inventory, with no list yet) saves the delete, one statement less per first scan.
func (t *Tx) replaceFileLabels(ctx context.Context, ref connectors.FileRef, ls []CarriedLabel, existed bool) error {
	if existed {
		if err := t.deleteFileLabels(ctx, ref); err != nil {
			return err
		}
	}
	rows := make([]fileLabelRow, len(ls))
	for i, l := range ls {
		rows[i] = fileLabelRow{ref, i, l}
	}
	return t.insertFileLabels(ctx, rows)
}

func (t *Tx) deleteFileLabels(ctx context.Context, ref connectors.FileRef) error {
	if _, err := t.exec(ctx, `DELETE FROM file_labels WHERE app = ? AND tenant = ? AND drive = ? AND item_id = ?`,
		string(ref.App), ref.Tenant, ref.Drive, ref.ItemID); err != nil {
		return fmt.Errorf("store: file labels: %w", err)
	}
	return nil
}

// fileLabelRow is one row of file_labels: a label a file carries, at its place in the list.
type fileLabelRow struct {
	ref connectors.FileRef
	seq int
	l   CarriedLabel
}

// insertFileLabels writes rows, a chunk per statement.
func (t *Tx) insertFileLabels(ctx context.Context, rows []fileLabelRow) error {
	args := make([]any, 0, 13*min(len(rows), upsertChunk))
	if err := chunked(len(rows), func(from, k int) error {
		args = args[:0]
		for _, r := range rows[from : from+k] {
			args = append(args, string(r.ref.App), r.ref.Tenant, r.ref.Drive, r.ref.ItemID, r.seq, r.l.LabelID, r.l.Tenant,
				r.l.Method, ms(r.l.SetAt), r.l.Source, r.l.ParentID, r.l.Name, r.l.External)
		}
		_, err := t.exec(ctx, multiRow(fileLabelsHead, fileLabelsRow, "", k), args...)
		return err
	}); err != nil {
		return fmt.Errorf("store: file labels: %w", err)
	}
	return nil
}

// FileLabels returns every label the file carries, in the order its last scan found them (or
// the one label labelgate set with SetFileLabel since). A label the executor wrote is in
// files.label_id at once and in this list after the file's next scan.
func (s *Store) FileLabels(ctx context.Context, ref connectors.FileRef) ([]CarriedLabel, error) {
	rows, err := s.query(ctx, `SELECT label_id, label_tenant, method, set_at, source, parent_id, name, external
		FROM file_labels WHERE app = ? AND tenant = ? AND drive = ? AND item_id = ? ORDER BY seq`,
		string(ref.App), ref.Tenant, ref.Drive, ref.ItemID)
	if err != nil {
		return nil, fmt.Errorf("store: file labels: %w", err)
	}
	defer rows.Close()
	out := []CarriedLabel{}
	for rows.Next() {
		var l CarriedLabel
		var set int64
		if err := rows.Scan(&l.LabelID, &l.Tenant, &l.Method, &set, &l.Source, &l.ParentID, &l.Name, &l.External); err != nil {
			return nil, fmt.Errorf("store: file labels: %w", err)
		}
		l.SetAt = fromMS(set)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: file labels: %w", err)
	}
	return out, nil
}

// SetFileLabel records a label labelgate itself wrote (or removed) and logs it.
func (s *Store) SetFileLabel(ctx context.Context, ref connectors.FileRef, labelID, labelTenant, method, actor, detail string) error {
	return s.Tx(ctx, func(tx *Tx) error {
		p, err := getFile(ctx, tx.queryRow, ref)
		if err != nil {
			return err
		}
		now := s.now().UnixMilli()
		if _, err := tx.exec(ctx, `UPDATE files SET label_id = ?, label_tenant = ?, label_method = ?, label_set_at = ?, label_external = ?, updated_at = ?
			WHERE app = ? AND tenant = ? AND drive = ? AND item_id = ?`, labelID, labelTenant, method, now, false, now,
			string(ref.App), ref.Tenant, ref.Drive, ref.ItemID); err != nil {
			return fmt.Errorf("store: set file label: %w", err)
		}
		// labelgate's write leaves the file with exactly this label (or none).
		var ls []CarriedLabel
		if labelID != "" {
			ls = []CarriedLabel{{LabelID: labelID, Tenant: labelTenant, Method: method, SetAt: time.UnixMilli(now), Source: "labelgate"}}
		}
		if err := tx.replaceFileLabels(ctx, ref, ls, true); err != nil {
			return err
		}
		kind := EventLabelApplied
		if labelID == "" {
			kind = EventLabelCleared
		}
		return tx.addEvent(ctx, Event{Kind: kind, App: ref.App, Tenant: ref.Tenant, Drive: ref.Drive, ItemID: ref.ItemID,
			Path: p.Path, Name: p.Name, LabelID: labelID, PrevLabelID: p.LabelID, Actor: actor, Detail: detail}, now)
	})
}

// FileFilter selects inventory rows. Zero fields do not filter.
type FileFilter struct {
	App            connectors.App
	Tenant         string
	Drive          string
	LabelID        string
	NoLabel        bool
	External       bool
	Protected      bool
	Access         connectors.AccessLevel
	Owner          string
	PathPrefix     string
	ModifiedSince  time.Time
	IncludeDeleted bool
}

func (f FileFilter) where() (string, []any) {
	var conds []string
	var args []any
	add := func(c string, a ...any) { conds = append(conds, c); args = append(args, a...) }
	if f.App != "" {
		add("app = ?", string(f.App))
	}
	if f.Tenant != "" {
		add("tenant = ?", f.Tenant)
	}
	if f.Drive != "" {
		add("drive = ?", f.Drive)
	}
	if f.LabelID != "" {
		add("label_id = ?", f.LabelID)
	}
	if f.NoLabel {
		add("label_id = ''")
	}
	if f.External {
		add("label_external = ?", true)
	}
	if f.Protected {
		add("protected = ?", true)
	}
	if f.Access != "" {
		add("access = ?", string(f.Access))
	}
	if f.Owner != "" {
		add("owner = ?", f.Owner)
	}
	if f.PathPrefix != "" {
		// substr counts characters on both SQLite (TEXT is UTF-8) and PostgreSQL (UTF8
		// encoding), not bytes: a byte length cut a non-ASCII prefix short and matched nothing.
		add("substr(path, 1, ?) = ?", utf8.RuneCountInString(f.PathPrefix), f.PathPrefix)
	}
	if !f.ModifiedSince.IsZero() {
		add("modified_at >= ?", f.ModifiedSince.UnixMilli())
	}
	if !f.IncludeDeleted {
		add("deleted = ?", false)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " AND " + strings.Join(conds, " AND "), args
}

// ListFiles returns one page of matching files in key order and the token of the next page
// ("" at the end). Keyset paging keeps deep pages as cheap as the first.
func (s *Store) ListFiles(ctx context.Context, f FileFilter, pageToken string, limit int) ([]FileRecord, string, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	after, err := decodePageToken(pageToken)
	if err != nil {
		return nil, "", err
	}
	recs, err := s.filesAfter(ctx, f, after, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(recs) > limit {
		recs = recs[:limit]
		next = encodePageToken(recs[len(recs)-1].Ref)
	}
	return recs, next, nil
}

// EachFile streams every matching file to fn in key order, in chunks, without holding a
// transaction open across fn.
func (s *Store) EachFile(ctx context.Context, f FileFilter, fn func(FileRecord) error) error {
	var after connectors.FileRef
	for {
		recs, err := s.filesAfter(ctx, f, after, 2000)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if err := fn(r); err != nil {
				return err
			}
		}
		if len(recs) < 2000 {
			return nil
		}
		after = recs[len(recs)-1].Ref
	}
}

// CountFiles counts matching files.
func (s *Store) CountFiles(ctx context.Context, f FileFilter) (int64, error) {
	w, args := f.where()
	var n int64
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM files WHERE 1=1`+w, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count files: %w", err)
	}
	return n, nil
}

func (s *Store) filesAfter(ctx context.Context, f FileFilter, after connectors.FileRef, limit int) ([]FileRecord, error) {
	w, args := f.where()
	cond, afterArgs := keysetAfter(f, after)
	q := `SELECT ` + fileCols + ` FROM files WHERE ` + cond + w +
		` ORDER BY app, tenant, drive, item_id LIMIT ?`
	all := append(afterArgs, args...)
	all = append(all, limit)
	rows, err := s.query(ctx, q, all...)
	if err != nil {
		return nil, fmt.Errorf("store: list files: %w", err)
	}
	defer rows.Close()
	var out []FileRecord
	for rows.Next() {
		r, err := scanFile(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list files: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// keysetAfter is the condition "after the page token's key" of a listing with filter f.
// Where the filter fixes the key's leading columns (app; app and tenant; app, tenant and
// drive) to the token's own values, those columns leave the row comparison: with
// "app = ? AND (app, tenant, drive, item_id) > (…)" SQLite ranges over the primary key on
// app alone and reads the app's files from its first on every page, so listing one app's
// files was quadratic (a million-file inventory listed by app cost 84 µs per file against
// 17 at 100,000). "app = ? AND (tenant, drive, item_id) > (…)" ranges over the key from the
// token. A first page has no condition; a token from another filter keeps the full comparison.
func keysetAfter(f FileFilter, after connectors.FileRef) (string, []any) {
	if after == (connectors.FileRef{}) {
		return "1=1", nil
	}
	cols := []string{"app", "tenant", "drive", "item_id"}
	vals := []any{string(after.App), after.Tenant, after.Drive, after.ItemID}
	k := 0 // leading key columns the filter fixes to the token's values
	for _, fixed := range []string{string(f.App), f.Tenant, f.Drive} {
		if fixed == "" || fixed != vals[k] {
			break
		}
		k++
	}
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(cols)-k), ", ")
	return "(" + strings.Join(cols[k:], ", ") + ") > (" + ph + ")", vals[k:]
}

func encodePageToken(ref connectors.FileRef) string {
	b, _ := json.Marshal(ref)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodePageToken(tok string) (connectors.FileRef, error) {
	var ref connectors.FileRef
	if tok == "" {
		return ref, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err == nil {
		err = json.Unmarshal(b, &ref)
	}
	if err != nil {
		return ref, fmt.Errorf("bad page token: %w", err)
	}
	return ref, nil
}

func (t *Tx) addEvent(ctx context.Context, e Event, now int64) error {
	return t.addEvents(ctx, []Event{e}, now)
}

// addEvents appends es to the discovery log, a chunk of rows per statement; an event without
// a time gets now (set in es, so the caller sees it).
func (t *Tx) addEvents(ctx context.Context, es []Event, now int64) error {
	for i := range es {
		if es[i].At.IsZero() {
			es[i].At = time.UnixMilli(now).UTC()
		}
	}
	args := make([]any, 0, 12*min(len(es), upsertChunk))
	if err := chunked(len(es), func(from, k int) error {
		args = args[:0]
		for _, e := range es[from : from+k] {
			args = append(args, e.At.UnixMilli(), e.Kind, string(e.App), e.Tenant, e.Drive, e.ItemID,
				e.Path, e.Name, e.LabelID, e.PrevLabelID, e.Actor, e.Detail)
		}
		_, err := t.exec(ctx, multiRow(eventsHead, eventsRow, "", k), args...)
		return err
	}); err != nil {
		return fmt.Errorf("store: add event: %w", err)
	}
	return nil
}

// AddEvent appends to the discovery log.
func (s *Store) AddEvent(ctx context.Context, e Event) error {
	return s.Tx(ctx, func(tx *Tx) error { return tx.addEvent(ctx, e, s.now().UnixMilli()) })
}

// EventFilter selects discovery-log entries.
type EventFilter struct {
	App     connectors.App
	Tenant  string
	Kind    string
	LabelID string
	ItemRef *connectors.FileRef
	Since   time.Time
	Until   time.Time
	AfterID int64 // paging: entries with a larger id
}

// ListEvents returns events oldest first, at most limit.
func (s *Store) ListEvents(ctx context.Context, f EventFilter, limit int) ([]Event, error) {
	if limit <= 0 || limit > 10000 {
		limit = 100
	}
	q := `SELECT id, at, kind, app, tenant, drive, item_id, path, name, label_id, prev_label_id, actor, detail FROM events WHERE id > ?`
	args := []any{f.AfterID}
	if f.App != "" {
		q += ` AND app = ?`
		args = append(args, string(f.App))
	}
	if f.Tenant != "" {
		q += ` AND tenant = ?`
		args = append(args, f.Tenant)
	}
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, f.Kind)
	}
	if f.LabelID != "" {
		q += ` AND (label_id = ? OR prev_label_id = ?)`
		args = append(args, f.LabelID, f.LabelID)
	}
	if f.ItemRef != nil {
		q += ` AND app = ? AND tenant = ? AND drive = ? AND item_id = ?`
		args = append(args, string(f.ItemRef.App), f.ItemRef.Tenant, f.ItemRef.Drive, f.ItemRef.ItemID)
	}
	if !f.Since.IsZero() {
		q += ` AND at >= ?`
		args = append(args, f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		q += ` AND at < ?`
		args = append(args, f.Until.UnixMilli())
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, limit)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var at int64
		var app string
		if err := rows.Scan(&e.ID, &at, &e.Kind, &app, &e.Tenant, &e.Drive, &e.ItemID, &e.Path, &e.Name, &e.LabelID,
			&e.PrevLabelID, &e.Actor, &e.Detail); err != nil {
			return nil, fmt.Errorf("store: list events: %w", err)
		}
		e.At, e.App = fromMS(at), connectors.App(app)
		out = append(out, e)
	}
	return out, rows.Err()
}
