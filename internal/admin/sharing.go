package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
)

// Sharing is the sharing governance (issue 24) as the admin API and console use it.
type Sharing interface {
	// Undo queues a restore_sharing action granting again what sharing action id removed,
	// and returns its id.
	Undo(ctx context.Context, id int64, by string) (int64, error)
	// Permissions lists a file's grants live from its provider.
	Permissions(ctx context.Context, ref connectors.FileRef) ([]connectors.Permission, error)
}

// ErrNotUndoable is wrapped by the reason an action cannot be undone; the API answers it
// with 409.
var ErrNotUndoable = errors.New("cannot be undone")

// IsSharingKind reports the sharing action kinds, the ones undo restores.
func IsSharingKind(kind string) bool {
	return store.SharingKind(kind) && kind != store.ActionRestoreSharing
}

// IsFinished reports the states an action ends in.
func IsFinished(state string) bool {
	switch state {
	case store.ActionDone, store.ActionFailed, store.ActionRefused, store.ActionCanceled:
		return true
	}
	return false
}

// CheckUndoable returns action id if it is a finished sharing action with grants left to
// restore and no undo of it under way; otherwise an error wrapping ErrNotUndoable that says
// why (or store.ErrNotFound). The gateway's undo checks again when it runs; this makes the
// common refusals clear before anything is queued.
func CheckUndoable(ctx context.Context, st *store.Store, id int64) (store.Action, error) {
	a, err := Undoable(ctx, st, id)
	if err != nil {
		return a, err
	}
	open, err := st.ListActions(ctx, store.ActionFilter{Kind: store.ActionRestoreSharing, Ref: &a.Ref,
		States: []string{store.ActionPending, store.ActionSuspended, store.ActionRunning, store.ActionPaused}})
	if err != nil {
		return a, err
	}
	for _, u := range open {
		var p struct {
			Undo int64 `json:"undo"`
		}
		if json.Unmarshal(u.Params, &p) == nil && p.Undo == id {
			return a, fmt.Errorf("action %d is being undone already by action %d (%s); it %w twice", id, u.ID, u.State, ErrNotUndoable)
		}
	}
	return a, nil
}

// Undoable is CheckUndoable without the look for an undo under way: the one check of what
// can be undone, which the gateway's UndoAction makes too (it answers a repeated request with
// the undo already queued).
func Undoable(ctx context.Context, st *store.Store, id int64) (store.Action, error) {
	a, err := st.GetAction(ctx, id)
	if err != nil {
		return a, err
	}
	if !IsSharingKind(a.Kind) {
		return a, fmt.Errorf("action %d is %s, not a sharing action: %w", id, a.Kind, ErrNotUndoable)
	}
	// A failed, refused or canceled action may have removed some grants before it stopped:
	// undo puts those back too. An unfinished one is still changing the file.
	if !IsFinished(a.State) {
		return a, fmt.Errorf("action %d is still %s; undo it once it has finished: it %w yet", id, a.State, ErrNotUndoable)
	}
	changes, err := st.SharingChanges(ctx, id)
	if err != nil {
		return a, err
	}
	left := 0
	for _, c := range changes {
		if c.RestoredBy == 0 {
			left++
		}
	}
	switch {
	case len(changes) == 0:
		return a, fmt.Errorf("action %d removed no grant, so there is nothing to restore: it %w", id, ErrNotUndoable)
	case left == 0:
		return a, fmt.Errorf("action %d was undone already (by action %d): it %w again", id, changes[0].RestoredBy, ErrNotUndoable)
	}
	return a, nil
}

// ErrSharingUnavailable is wrapped by a Sharing whose deployment cannot undo or list
// sharing; the API answers it with 501.
var ErrSharingUnavailable = errors.New("sharing governance is not available in this deployment")

// errUndoUnavailable answers an undo when the deployment has no sharing governance.
var errUndoUnavailable = &httpError{status: http.StatusNotImplemented, msg: "sharing undo is not available in this deployment"}

func (a *API) undoAction(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Sharing == nil {
		return errUndoUnavailable
	}
	id, err := idParam(r)
	if err != nil {
		return err
	}
	if _, err := CheckUndoable(r.Context(), a.cfg.Store, id); err != nil {
		return undoError(err)
	}
	nid, err := a.cfg.Sharing.Undo(r.Context(), id, actor(r.Context()))
	if err != nil {
		return undoError(recheckUndo(r.Context(), a.cfg.Store, id, err))
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"actionId": nid, "undoes": id})
	return nil
}

// recheckUndo explains a refusal by the gateway's own check: when the action has become not
// undoable since CheckUndoable (another admin's undo won the race), that reason, wrapping
// ErrNotUndoable; otherwise err as it is.
func recheckUndo(ctx context.Context, st *store.Store, id int64, err error) error {
	if errors.Is(err, ErrNotUndoable) || errors.Is(err, ErrSharingUnavailable) {
		return err
	}
	if _, cerr := CheckUndoable(ctx, st, id); errors.Is(cerr, ErrNotUndoable) {
		return cerr
	}
	return err
}

// undoError maps an undo failure: a refusal is 409 with its reason, a missing action 404.
func undoError(err error) error {
	if errors.Is(err, ErrNotUndoable) {
		return &httpError{status: http.StatusConflict, msg: err.Error()}
	}
	if errors.Is(err, ErrSharingUnavailable) {
		return &httpError{status: http.StatusNotImplemented, msg: err.Error()}
	}
	return err
}

// labelView is a catalog label with the labels.protection rule that governs it.
type labelView struct {
	store.CatalogLabel
	// Sharing is the label's sharing protection: the widest access it allows and the
	// action taken beyond it (absent when no rule covers the label). It is not the label's
	// own Protection (encryption).
	Sharing *config.LabelProtection `json:"sharing,omitempty"`
}

// LabelProtections pairs each label with the labels.protection rule governing it (its own,
// or its parent's through includeSublabels), looking parents up among labels of the same
// app and tenant.
func LabelProtections(rules config.ProtectionRules, ls []store.CatalogLabel) []*config.LabelProtection {
	out := make([]*config.LabelProtection, len(ls))
	if len(rules) == 0 {
		return out
	}
	byID := map[string]config.CatalogEntry{}
	for _, l := range ls {
		byID[string(l.App)+"/"+l.Tenant+"/"+l.ID] = entry(l)
	}
	for i, l := range ls {
		parent := func(id string) (config.CatalogEntry, bool) {
			e, ok := byID[string(l.App)+"/"+l.Tenant+"/"+id]
			return e, ok
		}
		if p, ok := rules.For(entry(l), parent); ok {
			out[i] = &p
		}
	}
	return out
}

func entry(l store.CatalogLabel) config.CatalogEntry {
	return config.CatalogEntry{ID: l.ID, Name: l.Name, DisplayName: l.DisplayName, Parent: l.Parent}
}
