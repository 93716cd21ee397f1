package main

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/alerts"
	"github.com/labelgate/labelgate/internal/store"
)

// The values the enum filters accept; a typo is refused with this list instead of an empty
// table and exit 0 (issue 23).
var (
	appValues    = []string{string(connectors.AppSharePoint), string(connectors.AppOneDrive), string(connectors.AppGDrive), string(connectors.AppBox), string(connectors.AppFileShare)}
	accessValues = []string{string(connectors.AccessPrivate), string(connectors.AccessInternal), string(connectors.AccessExternal), string(connectors.AccessPublic)}
	stateValues  = []string{store.ActionPending, store.ActionSuspended, store.ActionRunning, store.ActionPaused, store.ActionDone,
		store.ActionFailed, store.ActionRefused, store.ActionCanceled}
	kindValues = []string{store.EventDiscovered, store.EventLabelAdded, store.EventLabelChanged, store.EventLabelRemoved,
		store.EventAccessChanged, store.EventFileDeleted, store.EventScanFailed, store.EventLabelApplied, store.EventLabelCleared,
		store.EventLabelUnchanged, store.EventActionRefused, store.EventActionFailed, store.EventCatalogAdded, store.EventCatalogRenamed,
		store.EventCatalogState, store.EventCatalogDeleted, alerts.EventQuotaExhausted, alerts.EventSubscriptionFailed,
		alerts.EventConnectorAuthFailed, store.EventAccessRestricted, store.EventAccessRestored}
)

// checkEnum refuses a value outside allowed (comma-separated lists when multi), naming them.
func checkEnum(flagName, v string, allowed []string, multi bool) error {
	if v == "" {
		return nil
	}
	vals := []string{v}
	if multi {
		vals = strings.Split(v, ",")
	}
	for _, x := range vals {
		if !slices.Contains(allowed, strings.TrimSpace(x)) {
			return fmt.Errorf("-%s %q: want one of %s", flagName, x, strings.Join(allowed, ", "))
		}
	}
	return nil
}

type apiLabel struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Parent   string `json:"parent"`
	App      string `json:"app"`
	Tenant   string `json:"tenant"`
	State    string `json:"state"`
	Priority int    `json:"priority"`
	External bool   `json:"external"`
}

var guidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// labelResolver turns what a person types for a label — its id, its name in any case, or
// "Parent/Child" for a sublabel — into the label id, from the server's catalog.
type labelResolver struct {
	c      *apiClient
	labels []apiLabel
	loaded bool
}

func (r *labelResolver) load(ctx context.Context) error {
	if r.loaded {
		return nil
	}
	var v struct {
		Items []apiLabel `json:"items"`
	}
	if err := r.c.do(ctx, "GET", "/api/v1/labels", nil, &v); err != nil {
		return err
	}
	r.labels, r.loaded = v.Items, true
	return nil
}

// names maps label ids to display names ("Parent/Child" for sublabels).
func (r *labelResolver) names(ctx context.Context) map[string]string {
	out := map[string]string{}
	if r.load(ctx) != nil {
		return out
	}
	byID := map[string]apiLabel{}
	for _, l := range r.labels {
		byID[strings.ToLower(l.ID)] = l
	}
	for _, l := range r.labels {
		if l.Name == "" {
			continue
		}
		n := l.Name
		if p, ok := byID[strings.ToLower(l.Parent)]; ok && l.Parent != "" && p.Name != "" {
			n = p.Name + "/" + l.Name
		}
		out[strings.ToLower(l.ID)] = n
	}
	return out
}

// resolve finds the one label id s names; an id the catalog does not know is kept when it
// has the shape of a label id (another tenant's label seen only in files).
func (r *labelResolver) resolve(ctx context.Context, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if err := r.load(ctx); err != nil {
		return "", err
	}
	want := strings.ToLower(strings.TrimSpace(s))
	names := r.names(ctx)
	ids := map[string]bool{}
	for _, l := range r.labels {
		id := strings.ToLower(l.ID)
		if id == want || strings.ToLower(l.Name) == want || strings.ToLower(names[id]) == want {
			ids[l.ID] = true
		}
	}
	switch len(ids) {
	case 1:
		for id := range ids {
			return id, nil
		}
	case 0:
		if guidRe.MatchString(s) || strings.Count(s, "/") == 2 {
			return s, nil
		}
		var known []string
		for _, l := range r.labels {
			if n := names[strings.ToLower(l.ID)]; n != "" && !slices.Contains(known, n) {
				known = append(known, n)
			}
		}
		sort.Strings(known)
		return "", fmt.Errorf("unknown label %q; labels: %s (see labelgate labels)", s, strings.Join(known, ", "))
	}
	var list []string
	for id := range ids {
		list = append(list, id)
	}
	sort.Strings(list)
	return "", fmt.Errorf("label %q is ambiguous: %s; give the id", s, strings.Join(list, ", "))
}
