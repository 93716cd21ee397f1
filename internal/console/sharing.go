package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
)

// permissionsTimeout bounds the live permissions call the drawer makes, so a slow provider
// costs the drawer a message, not the page.
const permissionsTimeout = 10 * time.Second

// drawerSharing is the drawer's sharing governance part (issue 24): the file's grants as the
// provider reports them now, and what sharing actions removed and undo restored.
type drawerSharing struct {
	// Live is false when the deployment cannot list permissions (no Sharing wired).
	Live  bool
	Perms []connectors.Permission
	// PermsErr is why the provider's permissions could not be read; shown as a message.
	PermsErr string
	// PermsNote says the file's app has no sharing to list (a file share).
	PermsNote string
	Changes   []sharingActionView
}

// sharingActionView is one sharing action's before/after: the grants it removed, each with
// its restoration when an undo restored it.
type sharingActionView struct {
	ActionID int64
	Kind     string
	State    string
	By       string
	At       time.Time
	Removed  []store.SharingChange
	// CanUndo: an admin may undo it now (some grant not yet restored, no undo under way).
	CanUndo bool
}

// grantWho is the grantee of a permission as people read it.
func grantWho(p connectors.Permission) string {
	switch {
	case p.Email != "":
		return p.Email
	case p.Kind == connectors.GrantDomain && p.Domain != "":
		return "everyone at " + p.Domain
	case p.Kind == connectors.GrantAnyone:
		return "anyone with the link"
	case p.Kind == connectors.GrantLink && p.LinkScope != "":
		return p.LinkScope + " link"
	case p.Domain != "":
		return p.Domain
	}
	return string(p.Kind)
}

// sharingFor builds the drawer's sharing part. A provider error is kept as a message.
func (c *Console) sharingFor(ctx context.Context, ref connectors.FileRef, acts []store.Action, isAdmin bool) (drawerSharing, error) {
	var ds drawerSharing
	if c.cfg.Sharing != nil {
		ds.Live = true
		pctx, cancel := context.WithTimeout(ctx, permissionsTimeout)
		perms, err := c.cfg.Sharing.Permissions(pctx, ref)
		cancel()
		switch {
		case errors.Is(err, admin.ErrSharingUnavailable):
			// A file share: nothing to list, which is not a failure.
			ds.PermsNote = fmt.Sprintf("%s has no sharing labelgate can list or restrict.", ref.App)
		case err != nil:
			c.log.Warn("console: live permissions", "app", ref.App, "err", err)
			ds.PermsErr = fmt.Sprintf("The permissions could not be read from %s now: %v", ref.App, err)
		}
		ds.Perms = perms
	}
	changes, err := c.cfg.Store.FileSharingChanges(ctx, ref)
	if err != nil {
		return ds, err
	}
	byAction := map[int64]int{}
	for _, ch := range changes {
		i, ok := byAction[ch.ActionID]
		if !ok {
			i = len(ds.Changes)
			byAction[ch.ActionID] = i
			ds.Changes = append(ds.Changes, sharingActionView{ActionID: ch.ActionID, At: ch.RemovedAt})
		}
		ds.Changes[i].Removed = append(ds.Changes[i].Removed, ch)
	}
	for _, a := range acts {
		if i, ok := byAction[a.ID]; ok {
			v := &ds.Changes[i]
			v.Kind, v.State, v.By = a.Kind, a.State, a.PolicyID
			if v.By == "" {
				v.By = a.RequestedBy
			}
		}
	}
	for i := range ds.Changes {
		v := &ds.Changes[i]
		if v.Kind == "" { // older than the drawer's action list: read it
			if a, err := c.cfg.Store.GetAction(ctx, v.ActionID); err == nil {
				v.Kind, v.State, v.By = a.Kind, a.State, a.PolicyID
			}
		}
		if isAdmin && c.cfg.Sharing != nil {
			_, err := admin.CheckUndoable(ctx, c.cfg.Store, v.ActionID)
			v.CanUndo = err == nil
		}
	}
	return ds, nil
}

// undoAction queues the undo of a sharing action, from the actions page or the drawer
// (which sends the file's id to come back to).
func (c *Console) undoAction(w http.ResponseWriter, r *http.Request, d pageData) {
	id, err := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	if err != nil || id <= 0 {
		http.Error(w, "bad action id", http.StatusBadRequest)
		return
	}
	back := "/console/actions"
	if f := r.PostFormValue("file"); f != "" {
		if _, ok := parseID(f); !ok {
			http.Error(w, "bad file id", http.StatusBadRequest)
			return
		}
		back = "/console/file?id=" + f
	}
	if c.cfg.Sharing == nil {
		c.redirectNote(w, r, d, back, "Sharing undo is not available in this deployment.", true)
		return
	}
	if _, err := admin.CheckUndoable(r.Context(), c.cfg.Store, id); err != nil {
		c.redirectNote(w, r, d, back, undoMessage(id, err), true)
		return
	}
	nid, err := c.cfg.Sharing.Undo(r.Context(), id, "console:"+d.User)
	if err != nil {
		if _, cerr := admin.CheckUndoable(r.Context(), c.cfg.Store, id); cerr != nil {
			err = cerr // the gateway refused for a reason the check now sees (a race): say that one
		}
		c.redirectNote(w, r, d, back, undoMessage(id, err), true)
		return
	}
	c.redirectNote(w, r, d, back, fmt.Sprintf("action %d queued to undo action %d: it restores the grants action %d removed (a recreated link gets a new URL)",
		nid, id, id), false)
}

func undoMessage(id int64, err error) string {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Sprintf("action %d: not found", id)
	}
	return "Not undone: " + err.Error()
}

// ---- Labels

type labelRow struct {
	store.CatalogLabel
	Sharing *config.LabelProtection
}

func (c *Console) labels(w http.ResponseWriter, r *http.Request, d pageData) {
	ls, err := c.cfg.Store.ListLabels(r.Context(), store.LabelFilter{})
	if err != nil {
		c.fail(w, err)
		return
	}
	prot := admin.LabelProtections(c.cfg.Protection, ls)
	rows := make([]labelRow, len(ls))
	for i, l := range ls {
		rows[i] = labelRow{CatalogLabel: l, Sharing: prot[i]}
	}
	d.Title, d.Page = "Labels", "labels"
	d.Content = struct {
		Rows  []labelRow
		Rules int
		Names map[string]string
	}{rows, len(c.cfg.Protection), c.labelNames(r.Context())}
	c.render(w, "labels", d)
}
