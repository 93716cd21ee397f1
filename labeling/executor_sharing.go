package labeling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
)

// Sharing actions (issue 24): remove_public_links, remove_external_access and make_private
// take grants off a file through the provider's native API; restore_sharing (undo) grants
// again what one of them took. They run through the same claim, quota, retry, pacing and
// completion path as label writes; only the work in between differs.

// SharingParams are the options of a sharing action (store.Action.Params). Policies write
// them (policies.ActionParams has the same JSON fields); so may other producers of sharing
// actions (label protection rules).
type SharingParams struct {
	Justification string `json:"justification,omitempty"`
	// CheckLabel asks for the condition the action was planned under to be checked again at
	// write time: the file must still carry MatchedLabel ("" = unlabelled) in the inventory.
	//
	// Why the label the policy matched rather than re-evaluating the policy: the policy may
	// have been edited, may read content, or may no longer compile, and the executor would need
	// the whole policies engine; comparing with the very label the decision saw is exact and
	// conservative. A file relabelled since costs nothing (no call, no quota): its action is
	// canceled, and the scan that saw the new label evaluated the policies again and recorded a
	// new action if one still applies. The access half of the condition is checked against the
	// provider's grants listed at write time: a file already restricted has nothing to remove.
	CheckLabel   bool   `json:"checkLabel,omitempty"`
	MatchedLabel string `json:"matchedLabel,omitempty"`
	// Undo is the sharing action a restore_sharing action undoes.
	Undo int64 `json:"undo,omitempty"`
}

// removes reports whether a sharing action of kind takes grant p away (before the inherited
// rule): removePublicLinks public grants, removeExternalAccess external and public ones,
// makePrivate every grant but the owner's. The owner's grant is never removed.
func removes(kind string, p connectors.Permission) bool {
	if p.Owner {
		return false
	}
	if kind == store.ActionMakePrivate {
		return true
	}
	return p.Access.Rank() > store.SharingLeaves(kind).Rank()
}

// describeGrant names a grant in an event's detail.
func describeGrant(p connectors.Permission) string {
	who := p.Email
	switch {
	case p.Kind == connectors.GrantLink:
		who = p.LinkScope + " link"
	case p.Kind == connectors.GrantAnyone:
		who = "anyone"
	case p.Kind == connectors.GrantDomain || who == "":
		who = string(p.Kind) + " " + p.Domain
	default:
		who = string(p.Kind) + " " + who
	}
	if p.Role != "" {
		who += " (" + p.Role + ")"
	}
	return strings.TrimSpace(who)
}

func describeGrants(ps []connectors.Permission) string {
	if len(ps) == 0 {
		return "none"
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = describeGrant(p)
	}
	return strings.Join(s, ", ")
}

func (e *Executor) exempt(owner string) bool {
	for _, o := range e.cfg.ExemptOwners {
		if owner != "" && strings.EqualFold(strings.TrimSpace(o), owner) {
			return true
		}
	}
	return false
}

// runSharing does the work of a claimed sharing action (or undo) and says how it ends.
func (e *Executor) runSharing(ctx context.Context, c store.Claim, out *Outcome) store.Completion {
	a := c.Action
	refuse := refusal(nil)
	conn, wait, ok := e.connFor(a)
	if !ok {
		return wait
	}
	sr, ok := conn.(connectors.SharingRestrictor)
	if !ok {
		// A file share's access is its ACLs, which labelgate does not manage: there is no
		// link or invitation to take back.
		return refuse("%s: nothing to restrict (the connector has no sharing to remove)", a.Ref.App)
	}
	var p SharingParams
	if len(a.Params) > 0 {
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return store.Completion{State: store.ActionFailed, Reason: fmt.Sprintf("malformed params: %v", err), ReleaseQuota: true,
				Event: store.EventActionFailed}
		}
	}
	if a.Kind == store.ActionRestoreSharing {
		return e.restoreSharing(ctx, a, conn, sr, p, out)
	}

	// The policy's label condition, again, before any provider call.
	if p.CheckLabel {
		rec, err := e.st.GetFile(ctx, a.Ref)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return store.Completion{State: store.ActionCanceled, ReleaseQuota: true,
				Reason: "file is no longer in the inventory; nothing restricted"}
		case err != nil:
			return e.failed(a, err)
		case rec.Deleted:
			return store.Completion{State: store.ActionCanceled, ReleaseQuota: true, Reason: "file was deleted; nothing restricted"}
		case !strings.EqualFold(rec.LabelID, p.MatchedLabel):
			return store.Completion{State: store.ActionCanceled, ReleaseQuota: true,
				Reason: fmt.Sprintf("file was relabelled (%s, the policy matched %s) since the policy matched; nothing restricted",
					labelOrNone(rec.LabelID), labelOrNone(p.MatchedLabel))}
		}
	}

	f, err := e.stat(ctx, conn, a.Ref)
	if connectors.KindOf(err) == connectors.KindNotFound {
		// Gone (deleted or moved out of reach): so is its exposure. Not a failure to alert on.
		return store.Completion{State: store.ActionCanceled, ReleaseQuota: true,
			Reason: fmt.Sprintf("file no longer exists at the provider; nothing restricted: %v", err)}
	}
	if err != nil {
		return e.failed(a, err)
	}
	facts := &store.FileFacts{Path: f.Path, Name: f.Name}
	refuse = refusal(facts)
	if e.exempt(f.Owner) {
		return refuse("owner %s is exempt from sharing actions (sharing.exemptOwners); sharing left as it is", f.Owner)
	}

	var perms []connectors.Permission
	if _, err := e.retry.do(ctx, a.Ref.App, a.Ref.Tenant, func() (err error) {
		perms, err = sr.Permissions(ctx, a.Ref)
		return err
	}, nil); err != nil {
		return e.failed(a, err)
	}
	var remove, inherited []connectors.Permission
	for _, g := range perms {
		switch {
		case !removes(a.Kind, g):
		case g.Inherited:
			// Removing it would change the parent folder or site for every file in it.
			inherited = append(inherited, g)
		default:
			remove = append(remove, g)
		}
	}
	// What an earlier run of this action removed (a crash before its completion, or a retry
	// after a failure part-way) belongs to this action's outcome too.
	before, err := e.st.SharingChanges(ctx, a.ID)
	if err != nil {
		return e.failed(a, err)
	}
	if len(remove) == 0 && len(before) == 0 {
		reason := "nothing to remove: no grant wider than " + string(store.SharingLeaves(a.Kind))
		if a.Kind == store.ActionMakePrivate {
			reason = "nothing to remove: only the owner has access"
		}
		if len(inherited) > 0 {
			reason += "; inherited from a parent, left: " + describeGrants(inherited)
		}
		return store.Completion{State: store.ActionDone, ReleaseQuota: true, Reason: reason, File: facts}
	}

	if len(remove) > 0 {
		// Like a label write, recorded before the first call: a run that was taken back (the
		// action is no longer running) stops here.
		if err := e.st.MarkWriteSent(ctx, a.ID, e.clock.Now()); err != nil {
			return e.failed(a, err)
		}
	}
	for _, g := range remove {
		// Stored before the provider is asked: a crash between the two loses nothing undo
		// needs. A retry lists the grant again (still there: removed once, the record kept
		// once) or not (already gone).
		if err := e.st.RecordSharingRemoval(ctx, a.ID, a.Ref, g); err != nil {
			return e.failed(a, err)
		}
		if _, err := e.retry.do(ctx, a.Ref.App, a.Ref.Tenant, func() error {
			out.Calls++
			return sr.RemovePermission(ctx, a.Ref, g)
		}, nil); err != nil {
			comp := e.failed(a, err)
			comp.File = facts
			if out.Wrote || len(before) > 0 {
				// Grants did go (recorded for undo): the unit stays counted.
				comp.ReleaseQuota = false
			}
			return comp
		}
		out.Wrote = true
	}

	changes, err := e.st.SharingChanges(ctx, a.ID)
	if err != nil {
		return e.failed(a, err)
	}
	removed := make([]connectors.Permission, len(changes))
	for i, ch := range changes {
		removed[i] = ch.Permission
	}
	detail := fmt.Sprintf("%s removed %s", a.Kind, describeGrants(removed))
	if len(inherited) > 0 {
		detail += "; inherited from a parent, left: " + describeGrants(inherited)
	}
	comp := store.Completion{State: store.ActionDone, Event: store.EventAccessRestricted, File: facts}
	// The provider's view after the change narrows the inventory's access level; a failed
	// read leaves the inventory to the next scan rather than fail what was done.
	if after, err := e.stat(ctx, conn, a.Ref); err == nil {
		comp.Access = &store.FileAccess{Access: after.Access, Domains: after.Domains}
		detail += fmt.Sprintf("; access %s -> %s", accessOrUnknown(f.Access), accessOrUnknown(after.Access))
	} else {
		e.log.Warn("reading a file after restricting its sharing", "id", a.ID, "ref", a.Ref.Key(), "err", err)
	}
	if p.Justification != "" {
		detail += "; justification: " + p.Justification
	}
	comp.Reason = detail
	return comp
}

// restoreSharing grants again what the sharing action p.Undo removed and has not been restored.
func (e *Executor) restoreSharing(ctx context.Context, a store.Action, conn connectors.Connector, sr connectors.SharingRestrictor,
	p SharingParams, out *Outcome) store.Completion {
	refuse := func(format string, args ...any) store.Completion {
		return store.Completion{State: store.ActionRefused, Reason: fmt.Sprintf(format, args...), ReleaseQuota: true, Event: store.EventActionRefused}
	}
	undone, err := e.st.GetAction(ctx, p.Undo)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return refuse("action %d to undo does not exist", p.Undo)
	case err != nil:
		return e.failed(a, err)
	case !store.SharingKind(undone.Kind) || undone.Kind == store.ActionRestoreSharing:
		return refuse("action %d is %s, not a sharing action", undone.ID, undone.Kind)
	case undone.Ref != a.Ref:
		return refuse("action %d is on another file", undone.ID)
	}
	changes, err := e.st.SharingChanges(ctx, undone.ID)
	if err != nil {
		return e.failed(a, err)
	}
	var todo []store.SharingChange
	for _, ch := range changes {
		if ch.RestoredBy == 0 {
			todo = append(todo, ch)
		}
	}
	if len(todo) == 0 {
		return store.Completion{State: store.ActionDone, ReleaseQuota: true,
			Reason: fmt.Sprintf("nothing to restore: action %d removed nothing not yet restored", undone.ID)}
	}
	f, err := e.stat(ctx, conn, a.Ref)
	if err != nil {
		return e.failed(a, err)
	}
	facts := &store.FileFacts{Path: f.Path, Name: f.Name}
	// The grants there now: one already back (a restore cut short before it was recorded, or
	// the owner re-shared by hand) is recorded as restored, not granted twice.
	var have []connectors.Permission
	if _, err := e.retry.do(ctx, a.Ref.App, a.Ref.Tenant, func() (err error) {
		have, err = sr.Permissions(ctx, a.Ref)
		return err
	}, nil); err != nil {
		return e.failed(a, err)
	}
	if err := e.st.MarkWriteSent(ctx, a.ID, e.clock.Now()); err != nil {
		return e.failed(a, err)
	}
	var restored, notes, refused []string
	for _, ch := range todo {
		var got connectors.Permission
		note := ""
		if g, ok := sameGrant(have, ch.Permission); ok {
			got, note = g, "already present"
		} else if _, err := e.retry.do(ctx, a.Ref.App, a.Ref.Tenant, func() (err error) {
			out.Calls++
			got, err = sr.RestorePermission(ctx, a.Ref, ch.Permission)
			return err
		}, nil); err != nil {
			if !grantRefused(err) {
				comp := e.failed(a, err)
				comp.File = facts
				if out.Wrote {
					comp.ReleaseQuota = false
				}
				return comp
			}
			// The provider will not take this one grant back (a guest account deleted since,
			// a link type the tenant now forbids): the others are still restored, and this one
			// is said, left unrestored so a later undo can try again.
			refused = append(refused, fmt.Sprintf("%s not restored: %v", describeGrant(ch.Permission), err))
			continue
		} else {
			out.Wrote = true
		}
		if ch.Permission.Kind == connectors.GrantLink && ch.Permission.LinkURL != "" && got.LinkURL != ch.Permission.LinkURL {
			// Every provider mints a new address for a recreated link: the old one stays dead.
			n := fmt.Sprintf("the link was recreated with a new URL (%s); the old URL %s no longer works", got.LinkURL, ch.Permission.LinkURL)
			if note != "" {
				note += "; " + n
			} else {
				note = n
			}
		}
		if err := e.st.MarkSharingRestored(ctx, ch.ID, a.ID, got.ID, note); err != nil {
			return e.failed(a, err)
		}
		restored = append(restored, describeGrant(ch.Permission))
		if note != "" {
			notes = append(notes, describeGrant(ch.Permission)+": "+note)
		}
	}
	if len(restored) == 0 {
		return store.Completion{State: store.ActionFailed, Reason: strings.Join(refused, "; "), ReleaseQuota: true,
			Event: store.EventActionFailed, File: facts}
	}
	detail := fmt.Sprintf("restored what action %d removed: %s", undone.ID, strings.Join(restored, ", "))
	if len(notes) > 0 {
		detail += "; " + strings.Join(notes, "; ")
	}
	if len(refused) > 0 {
		detail += "; " + strings.Join(refused, "; ")
	}
	comp := store.Completion{State: store.ActionDone, Event: store.EventAccessRestored, File: facts}
	if after, err := e.stat(ctx, conn, a.Ref); err == nil {
		comp.Access = &store.FileAccess{Access: after.Access, Domains: after.Domains}
		detail += fmt.Sprintf("; access %s -> %s", accessOrUnknown(f.Access), accessOrUnknown(after.Access))
	} else {
		e.log.Warn("reading a file after restoring its sharing", "id", a.ID, "ref", a.Ref.Key(), "err", err)
	}
	comp.Reason = detail
	return comp
}

// grantRefused reports whether the provider refused to restore one grant for good, as opposed
// to a failure of the provider or of the whole file (retried, or failing the undo).
func grantRefused(err error) bool {
	if errors.Is(err, connectors.ErrUnsupported) {
		return true
	}
	switch connectors.KindOf(err) {
	case connectors.KindInvalid, connectors.KindPermission:
		return true
	}
	return false
}

// sameGrant finds in have a grant giving what p gave: the same id, or the same grantee (or
// link audience) and role.
func sameGrant(have []connectors.Permission, p connectors.Permission) (connectors.Permission, bool) {
	for _, h := range have {
		if h.ID == p.ID && h.Kind == p.Kind {
			return h, true
		}
	}
	for _, h := range have {
		if h.Kind != p.Kind || !strings.EqualFold(h.Role, p.Role) || h.Inherited {
			continue
		}
		switch p.Kind {
		case connectors.GrantLink, connectors.GrantAnyone:
			if h.LinkScope == p.LinkScope {
				return h, true
			}
		case connectors.GrantDomain:
			if strings.EqualFold(h.Domain, p.Domain) {
				return h, true
			}
		default:
			if p.Email != "" && strings.EqualFold(h.Email, p.Email) {
				return h, true
			}
		}
	}
	return connectors.Permission{}, false
}

// stat reads a file's current facts through the retrier; a deleted file is not found.
func (e *Executor) stat(ctx context.Context, conn connectors.Connector, ref connectors.FileRef) (connectors.File, error) {
	var f connectors.File
	if _, err := e.retry.do(ctx, ref.App, ref.Tenant, func() (err error) {
		f, err = conn.Stat(ctx, ref)
		return err
	}, nil); err != nil {
		return f, err
	}
	if f.Deleted {
		return f, connectors.Errorf(connectors.KindNotFound, "stat", 0, 0, errors.New("file is deleted"))
	}
	return f, nil
}

func labelOrNone(id string) string {
	if id == "" {
		return "no label"
	}
	return "label " + id
}

func accessOrUnknown(a connectors.AccessLevel) string {
	if a == "" {
		return "unknown"
	}
	return string(a)
}
