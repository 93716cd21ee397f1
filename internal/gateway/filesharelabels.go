package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/fileshare"
	"github.com/labelgate/labelgate/labeling"
)

// fileShareLabels makes a file share a label-writing app like the others (issue 22: its
// actions waited forever on "label catalog of fileshare/local not synced yet").
//
// A file share has no label service of its own: the labels written into its files are the
// organisation's sensitivity (MIP) labels, so its catalog is the catalog of the organisation's
// Microsoft Graph connectors (SharePoint, OneDrive), read live at each catalog sync. Each label
// keeps its MIP tenant (SiteId) here, since the file needs it, while the catalog row is the
// share's own (not "external"). Writes go through the same label engine and atomic,
// root-confined upload as `labelgate scan --execute`; the executor drives them like any
// native label API (quota, rules, protection, retries, re-reads).
type fileShareLabels struct {
	*fileshare.Conn
	org   func(ctx context.Context) ([]connectors.Label, error)
	clock func() time.Time

	mu    sync.Mutex
	known map[string]connectors.Label // lower-case id → label with its MIP tenant
}

var (
	_ connectors.Labeler  = (*fileShareLabels)(nil)
	_ connectors.Uploader = (*fileShareLabels)(nil)
	_ Watcher             = (*fileShareLabels)(nil)
)

// errNoOrgCatalog is the catalog sync's answer when no connector provides MIP labels.
var errNoOrgCatalog = errors.New("file shares take the organisation's label catalog from a SharePoint or OneDrive connector; none is configured")

// wireFileShareLabels wraps every file-share connector with the organisation's catalog.
func (g *Gateway) wireFileShareLabels() {
	var sources []connectors.Labeler
	for _, c := range g.reg.list {
		switch c.C.App() {
		case connectors.AppSharePoint, connectors.AppOneDrive:
			if l, ok := c.C.(connectors.Labeler); ok {
				sources = append(sources, l)
			}
		}
	}
	if len(sources) == 0 {
		// Nothing to take the catalog from: the shares stay read-only (their label actions wait
		// for a catalog, as the executor says), and the operator is told why once.
		for _, c := range g.reg.list {
			if _, ok := c.C.(*fileshare.Conn); ok {
				g.log.Warn("file share cannot write labels", "connector", c.Name, "reason", errNoOrgCatalog.Error())
			}
		}
		return
	}
	org := func(ctx context.Context) ([]connectors.Label, error) {
		seen := map[string]bool{}
		var out []connectors.Label
		for _, s := range sources {
			ls, err := s.Catalog(ctx)
			if err != nil {
				// A partial catalog would mark the missing labels deleted: wait for a whole one.
				return nil, err
			}
			for _, l := range ls {
				id := strings.ToLower(l.ID)
				if seen[id] || l.Tenant == "" && g.cfg.Labels.TenantID == "" {
					continue
				}
				if l.Tenant == "" {
					l.Tenant = g.cfg.Labels.TenantID
				}
				if g.cfg.Labels.TenantID != "" && !strings.EqualFold(l.Tenant, g.cfg.Labels.TenantID) {
					continue // another tenant's label: never written by this organisation
				}
				seen[id] = true
				out = append(out, l)
			}
		}
		return out, nil
	}
	for _, c := range g.reg.list {
		if fs, ok := c.C.(*fileshare.Conn); ok {
			c.C = &fileShareLabels{Conn: fs, org: org, clock: g.now, known: map[string]connectors.Label{}}
		}
	}
}

// Catalog implements connectors.Labeler: the organisation's labels, as the share's own.
func (f *fileShareLabels) Catalog(ctx context.Context) ([]connectors.Label, error) {
	ls, err := f.org(ctx)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]connectors.Label, 0, len(ls))
	for _, l := range ls {
		f.known[strings.ToLower(l.ID)] = l
		own := l
		own.Tenant = "" // the share's tenant: its catalog row is its own, not external
		out = append(out, own)
	}
	return out, nil
}

// label finds a label's MIP tenant and name, reading the catalog again when it is unknown
// (after a restart the executor may run before the next sync).
func (f *fileShareLabels) label(ctx context.Context, id string) (connectors.Label, error) {
	key := strings.ToLower(id)
	f.mu.Lock()
	l, ok := f.known[key]
	f.mu.Unlock()
	if ok {
		return l, nil
	}
	if _, err := f.Catalog(ctx); err != nil {
		return connectors.Label{}, err
	}
	f.mu.Lock()
	l, ok = f.known[key]
	f.mu.Unlock()
	if !ok {
		return connectors.Label{}, fmt.Errorf("label %s is not in the organisation's catalog: %w", id, labeling.ErrInvalidLabel)
	}
	return l, nil
}

// ReadLabel implements connectors.Labeler by reading the label inside the file.
func (f *fileShareLabels) ReadLabel(ctx context.Context, ref connectors.FileRef) (connectors.LabelState, error) {
	obj, err := f.Open(ctx, ref)
	if err != nil {
		return connectors.LabelState{}, err
	}
	defer obj.Close()
	res, err := labeling.Read(ctx, obj, obj.Size(), ref.ItemID)
	if err != nil {
		return connectors.LabelState{}, err
	}
	s := connectors.LabelState{Protected: res.Protected}
	if res.Label != nil {
		s.LabelID, s.Tenant, s.Method = res.Label.ID, res.Label.Tenant, res.Label.Method
	}
	return s, nil
}

// ApplyLabel implements connectors.Labeler by writing the label into the file.
func (f *fileShareLabels) ApplyLabel(ctx context.Context, ref connectors.FileRef, labelID string, opts connectors.ApplyOptions) error {
	l, err := f.label(ctx, labelID)
	if err != nil {
		return err
	}
	return f.rewrite(ctx, ref, &labeling.Label{ID: l.ID, Tenant: l.Tenant, Method: opts.Method, Name: l.Name, Enabled: true,
		SetDate: f.clock().UTC()})
}

// RemoveLabel implements connectors.Labeler by rewriting the file without its label.
func (f *fileShareLabels) RemoveLabel(ctx context.Context, ref connectors.FileRef, _ connectors.ApplyOptions) error {
	return f.rewrite(ctx, ref, nil)
}

// rewrite writes the file with label l (nil: none) and replaces it atomically in the share.
func (f *fileShareLabels) rewrite(ctx context.Context, ref connectors.FileRef, l *labeling.Label) error {
	obj, err := f.Open(ctx, ref)
	if err != nil {
		return err
	}
	defer obj.Close()
	if obj.Size() > labeling.MaxLabelSize {
		return labeling.ErrTooLarge
	}
	var buf bytes.Buffer
	buf.Grow(int(obj.Size()) + 4096)
	if l != nil {
		err = labeling.Apply(ctx, obj, obj.Size(), ref.ItemID, *l, &buf)
	} else {
		err = labeling.Remove(ctx, obj, obj.Size(), ref.ItemID, &buf)
	}
	if err != nil {
		return err
	}
	return f.Upload(ctx, ref, bytes.NewReader(buf.Bytes()), int64(buf.Len()))
}
