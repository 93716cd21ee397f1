package policies

import (
	"context"
	"strings"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
)

// LabelInfo is what policies need to know about a catalog label.
type LabelInfo struct {
	ID, Name, Parent string
	Priority         int
}

// Catalog resolves a label reference (an id, or a name) to the catalog's label.
type Catalog interface {
	Lookup(ref string) (LabelInfo, bool)
}

// MemCatalog is a Catalog over a list of labels; ids and names match case-insensitively.
type MemCatalog struct {
	byID   map[string]LabelInfo
	byName map[string]LabelInfo
}

// NewCatalog indexes labels (disabled ones excluded: policies cannot target them).
func NewCatalog(labels []connectors.Label) *MemCatalog {
	c := &MemCatalog{byID: map[string]LabelInfo{}, byName: map[string]LabelInfo{}}
	for _, l := range labels {
		if l.Disabled {
			continue
		}
		li := LabelInfo{ID: l.ID, Name: l.Name, Parent: l.Parent, Priority: l.Priority}
		if li.Name == "" {
			li.Name = l.DisplayName
		}
		c.byID[strings.ToLower(l.ID)] = li
		for _, n := range []string{l.Name, l.DisplayName} {
			if n != "" {
				c.byName[strings.ToLower(n)] = li
			}
		}
	}
	return c
}

// Lookup implements Catalog.
func (c *MemCatalog) Lookup(ref string) (LabelInfo, bool) {
	if l, ok := c.byID[ref]; ok {
		return l, true
	}
	k := strings.ToLower(strings.Trim(ref, "{}"))
	if l, ok := c.byID[k]; ok {
		return l, true
	}
	l, ok := c.byName[k]
	return l, ok
}

// StoreCatalog loads every enabled label of this organisation from the store's catalog.
func StoreCatalog(ctx context.Context, st *store.Store) (*MemCatalog, error) {
	ls, err := st.ListLabels(ctx, store.LabelFilter{OnlyThisTenant: true})
	if err != nil {
		return nil, err
	}
	out := make([]connectors.Label, 0, len(ls))
	for _, l := range ls {
		if l.State == store.LabelEnabled && !l.External {
			out = append(out, l.Label)
		}
	}
	return NewCatalog(out), nil
}
