package box

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/labelgate/labelgate/connectors"
)

// Labels are Box classifications: options of the enterprise's securityClassification
// template. A classification is reported under the MIP label id mapped to it (Config.LabelMap),
// or under its own key when unmapped.

func (c *Conn) labelID(key string) string {
	if id, ok := c.idFor[key]; ok {
		return id
	}
	return key
}

func (c *Conn) classificationKey(labelID string) string {
	if k, ok := c.keyFor[labelID]; ok {
		return k
	}
	return labelID
}

// Catalog implements connectors.Labeler. Options are listed least sensitive first in the Box
// admin console, so their order is the priority.
func (c *Conn) Catalog(ctx context.Context) ([]connectors.Label, error) {
	t, err := c.api.classificationSchema(ctx)
	if err != nil {
		if connectors.KindOf(err) == connectors.KindNotFound {
			return nil, nil // the enterprise has no classifications set up
		}
		return nil, err
	}
	var out []connectors.Label
	for _, f := range t.Fields {
		if f.Key != classificationField {
			continue
		}
		for i, o := range f.Options {
			l := connectors.Label{
				ID:       c.labelID(o.Key),
				Name:     o.Key,
				Priority: i,
				Tenant:   c.Tenant(),
				Native:   o.Key,
			}
			if o.StaticConfig != nil && o.StaticConfig.Classification != nil {
				l.DisplayName = o.StaticConfig.Classification.Definition
			}
			out = append(out, l)
		}
	}
	return out, nil
}

// ReadLabel implements connectors.Labeler.
func (c *Conn) ReadLabel(ctx context.Context, ref connectors.FileRef) (connectors.LabelState, error) {
	inst, err := c.api.getClassification(ctx, ref.ItemID)
	if err != nil {
		if ae, ok := apiErr(err); ok && ae.Status == http.StatusNotFound && ae.Code != "not_found" {
			return connectors.LabelState{}, nil // instance_not_found: the file has no classification
		}
		if connectors.KindOf(err) == connectors.KindNotFound {
			// Box answers 404 both for "no instance" and "no file"; tell them apart.
			if _, serr := c.api.file(ctx, ref.ItemID, "id"); serr != nil {
				return connectors.LabelState{}, serr
			}
			return connectors.LabelState{}, nil
		}
		return connectors.LabelState{}, err
	}
	if inst.Key == "" {
		return connectors.LabelState{}, nil
	}
	return connectors.LabelState{LabelID: c.labelID(inst.Key), Tenant: c.Tenant(), Method: "standard"}, nil
}

// ApplyLabel implements connectors.Labeler: create the classification instance, or replace
// the key when the file already has one (Box answers 409 to the create).
func (c *Conn) ApplyLabel(ctx context.Context, ref connectors.FileRef, labelID string, _ connectors.ApplyOptions) error {
	if err := c.nativeWrites(); err != nil {
		return err
	}
	key := c.classificationKey(labelID)
	if key == "" {
		return connectors.Errorf(connectors.KindInvalid, "box apply label", 0, 0, errors.New("empty label id"))
	}
	err := c.api.createClassification(ctx, ref.ItemID, key)
	if ae, ok := apiErr(err); ok && ae.Status == http.StatusConflict {
		err = c.api.replaceClassification(ctx, ref.ItemID, key)
	}
	if err != nil {
		return fmt.Errorf("box: classify %s as %s: %w", ref.ItemID, key, err)
	}
	return nil
}

// RemoveLabel implements connectors.Labeler; removing an absent classification succeeds.
func (c *Conn) RemoveLabel(ctx context.Context, ref connectors.FileRef, _ connectors.ApplyOptions) error {
	if err := c.nativeWrites(); err != nil {
		return err
	}
	err := c.api.deleteClassification(ctx, ref.ItemID)
	if ae, ok := apiErr(err); ok && ae.Status == http.StatusNotFound && ae.Code != "not_found" {
		return nil
	}
	return err
}

// nativeWrites refuses classification writes when labels only go into files.
func (c *Conn) nativeWrites() error {
	if c.cfg.LabelMode == LabelEmbedded {
		return fmt.Errorf("box: label mode %s: %w", c.cfg.LabelMode, connectors.ErrUnsupported)
	}
	return nil
}
