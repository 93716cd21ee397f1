package gdrive

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/api/drive/v3"
	"google.golang.org/api/drivelabels/v2"
	"google.golang.org/api/option"

	"github.com/labelgate/labelgate/connectors"
)

// mapping ties a MIP label to a Drive label selection value.
type mapping struct {
	mip                  string
	label, field, choice string
}

func (m mapping) native() string { return m.label + "/" + m.field + "/" + m.choice }

func parseNative(s string) (mapping, bool) {
	p := strings.Split(s, "/")
	if len(p) != 3 || p[0] == "" || p[1] == "" || p[2] == "" {
		return mapping{}, false
	}
	return mapping{label: p[0], field: p[1], choice: p[2]}, true
}

func parseLabelMap(m map[string]string) ([]mapping, error) {
	var out []mapping
	for mip, native := range m {
		n, ok := parseNative(native)
		if !ok || mip == "" {
			return nil, fmt.Errorf("gdrive: labelMap %q: want \"driveLabelId/fieldId/choiceId\", got %q", mip, native)
		}
		n.mip = mip
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b mapping) int { return strings.Compare(a.mip, b.mip) })
	return out, nil
}

// labelIDs are the Drive labels labelgate manages, for includeLabels.
func (c *Conn) labelIDs() string {
	var ids []string
	for _, m := range c.labels {
		if !slices.Contains(ids, m.label) {
			ids = append(ids, m.label)
		}
	}
	return strings.Join(ids, ",")
}

// managed says whether a Drive label is one labelgate reads and writes: every mapped label,
// or every label when there is no mapping.
func (c *Conn) managed(labelID string) bool {
	return len(c.labels) == 0 || slices.ContainsFunc(c.labels, func(m mapping) bool { return m.label == labelID })
}

// mipID names a Drive selection value the way labelgate does: its MIP label id when mapped,
// else "label/field/choice".
func (c *Conn) mipID(native string) string {
	for _, m := range c.labels {
		if m.native() == native {
			return m.mip
		}
	}
	return native
}

// target finds the Drive selection value to write for a MIP label id (or a native triple).
func (c *Conn) target(labelID string) (mapping, bool) {
	for _, m := range c.labels {
		if m.mip == labelID {
			return m, true
		}
	}
	return parseNative(labelID)
}

func (c *Conn) labelsSvc() (*drivelabels.Service, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lsvc != nil {
		return c.lsvc, nil
	}
	subject := c.cfg.AdminEmail
	if subject == "" && len(c.cfg.Users) > 0 {
		subject = c.cfg.Users[0]
	}
	hc, err := c.client(subject)
	if err != nil {
		return nil, err
	}
	opts := []option.ClientOption{option.WithHTTPClient(hc)}
	if c.cfg.LabelsEndpoint != "" {
		opts = append(opts, option.WithEndpoint(c.cfg.LabelsEndpoint))
	}
	s, err := drivelabels.NewService(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("gdrive: drive labels service: %w", err)
	}
	c.lsvc = s
	return s, nil
}

// Catalog implements connectors.Labeler: every choice of every selection field of the
// published Drive labels. Drive has no label priority, so a choice's position in its field
// stands in for it (list choices from least to most sensitive).
func (c *Conn) Catalog(ctx context.Context) ([]connectors.Label, error) {
	s, err := c.labelsSvc()
	if err != nil {
		return nil, err
	}
	var out []connectors.Label
	tok := ""
	for {
		var res *drivelabels.GoogleAppsDriveLabelsV2ListLabelsResponse
		err := c.call(ctx, "gdrive labels.list", func() error {
			var err error
			res, err = s.Labels.List().View("LABEL_VIEW_FULL").PublishedOnly(true).PageSize(200).PageToken(tok).
				Context(ctx).Do()
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, l := range res.Labels {
			if !c.managed(l.Id) {
				continue
			}
			title := l.Id
			if l.Properties != nil && l.Properties.Title != "" {
				title = l.Properties.Title
			}
			for _, f := range l.Fields {
				if f.SelectionOptions == nil {
					continue
				}
				for i, ch := range f.SelectionOptions.Choices {
					native := l.Id + "/" + f.Id + "/" + ch.Id
					name := ch.Id
					if ch.Properties != nil && ch.Properties.DisplayName != "" {
						name = ch.Properties.DisplayName
					}
					out = append(out, connectors.Label{ID: c.mipID(native), Name: name, DisplayName: title + ": " + name,
						Priority: i, Tenant: c.cfg.Tenant, Native: native,
						Disabled: ch.Lifecycle != nil && ch.Lifecycle.State == "DISABLED"})
				}
			}
		}
		if tok = res.NextPageToken; tok == "" {
			return out, nil
		}
	}
}

// stateOf finds labelgate's label among a file's Drive labels.
func (c *Conn) stateOf(labels []*drive.Label) connectors.LabelState {
	for _, l := range labels {
		if !c.managed(l.Id) {
			continue
		}
		fields := make([]string, 0, len(l.Fields))
		for id := range l.Fields {
			fields = append(fields, id)
		}
		slices.Sort(fields)
		for _, fid := range fields {
			for _, choice := range l.Fields[fid].Selection {
				id := c.mipID(l.Id + "/" + fid + "/" + choice)
				if len(c.labels) > 0 && strings.Contains(id, "/") {
					continue // a value of a managed label that maps to no MIP label
				}
				return connectors.LabelState{LabelID: id, Tenant: c.cfg.Tenant, Method: "standard"}
			}
		}
	}
	return connectors.LabelState{}
}

func (c *Conn) fileLabels(ctx context.Context, s *drive.Service, id string) ([]*drive.Label, error) {
	var out []*drive.Label
	tok := ""
	for {
		var ll *drive.LabelList
		err := c.call(ctx, "gdrive files.listLabels", func() error {
			var err error
			ll, err = s.Files.ListLabels(id).MaxResults(100).PageToken(tok).Context(ctx).Do()
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, ll.Labels...)
		if tok = ll.NextPageToken; tok == "" {
			return out, nil
		}
	}
}

// ReadLabel implements connectors.Labeler.
func (c *Conn) ReadLabel(ctx context.Context, ref connectors.FileRef) (connectors.LabelState, error) {
	s, _, _, err := c.svcFor(ref.Drive)
	if err != nil {
		return connectors.LabelState{}, err
	}
	ls, err := c.fileLabels(ctx, s, ref.ItemID)
	if err != nil {
		return connectors.LabelState{}, err
	}
	return c.stateOf(ls), nil
}

// ApplyLabel implements connectors.Labeler with files.modifyLabels, setting the mapped
// selection value. labelID is a MIP label id from LabelMap, or a "label/field/choice" triple.
func (c *Conn) ApplyLabel(ctx context.Context, ref connectors.FileRef, labelID string, _ connectors.ApplyOptions) error {
	if c.cfg.LabelMode == LabelEmbedded {
		return connectors.Errorf(connectors.KindInvalid, "gdrive apply label", 0, 0,
			fmt.Errorf("label mode is embedded: %w", connectors.ErrUnsupported))
	}
	m, ok := c.target(labelID)
	if !ok {
		return connectors.Errorf(connectors.KindInvalid, "gdrive apply label", 0, 0,
			fmt.Errorf("label %s has no Drive label in labelMap", labelID))
	}
	return c.modify(ctx, ref, []*drive.LabelModification{{LabelId: m.label,
		FieldModifications: []*drive.LabelFieldModification{{FieldId: m.field, SetSelectionValues: []string{m.choice}}}}})
}

// RemoveLabel implements connectors.Labeler: every managed Drive label on the file is removed.
func (c *Conn) RemoveLabel(ctx context.Context, ref connectors.FileRef, _ connectors.ApplyOptions) error {
	if c.cfg.LabelMode == LabelEmbedded {
		return connectors.Errorf(connectors.KindInvalid, "gdrive remove label", 0, 0,
			fmt.Errorf("label mode is embedded: %w", connectors.ErrUnsupported))
	}
	s, _, _, err := c.svcFor(ref.Drive)
	if err != nil {
		return err
	}
	ls, err := c.fileLabels(ctx, s, ref.ItemID)
	if err != nil {
		return err
	}
	var mods []*drive.LabelModification
	for _, l := range ls {
		if !c.managed(l.Id) {
			continue
		}
		// With no labelMap every Drive label counts as managed for reading, but removing
		// "the label" must not strip the file's other Drive labels (a project or retention
		// label): only the one the file's label is read from (stateOf's pick) goes.
		if len(c.labels) == 0 && c.stateOf([]*drive.Label{l}).LabelID == "" {
			continue
		}
		mods = append(mods, &drive.LabelModification{LabelId: l.Id, RemoveLabel: true})
		if len(c.labels) == 0 {
			break
		}
	}
	if len(mods) == 0 {
		return nil
	}
	return c.modify(ctx, ref, mods)
}

func (c *Conn) modify(ctx context.Context, ref connectors.FileRef, mods []*drive.LabelModification) error {
	s, _, _, err := c.svcFor(ref.Drive)
	if err != nil {
		return err
	}
	return c.call(ctx, "gdrive files.modifyLabels", func() error {
		_, err := s.Files.ModifyLabels(ref.ItemID, &drive.ModifyLabelsRequest{LabelModifications: mods}).
			Context(ctx).Do()
		return err
	})
}
