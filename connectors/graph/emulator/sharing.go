package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Sharing: GET …/permissions, DELETE …/permissions/{id}, POST …/createLink and POST …/invite
// on a driveItem, shaped by the v1.0 CSDL (permission, sharingLink, driveRecipient, the
// createLink and invite actions) and the API reference's rules
// (learn.microsoft.com/graph/api/driveitem-list-permissions, permission-delete,
// driveitem-createlink, driveitem-invite). Every write changes the item's sharing, so its
// permissions (and the connector's access) read narrowed or widened at once, and is a change
// of the item: it shows in delta and raises a notification, as Graph's do.

// withShareIDs copies shares, giving each share without an id a fresh permission id.
func (s *Server) withShareIDs(shares []Share) []Share {
	out := slices.Clone(shares)
	for i := range out {
		if out[i].ID == "" {
			out[i].ID = "perm-" + randomID()[:12]
		}
	}
	s.noteGuests(out)
	return out
}

// wireShare renders one grant as a permission.
func (s *Server) wireShare(it *item, sh Share) wPermission {
	role := sh.Role
	if role == "" {
		role = "read"
	}
	p := wPermission{ID: sh.ID, Roles: []string{role}}
	if !sh.Expires.IsZero() {
		p.ExpirationDateTime = graphTime(sh.Expires)
	}
	if sh.InheritedFrom != "" {
		p.InheritedFrom = &wParentRef{DriveID: it.drive, ID: sh.InheritedFrom}
	}
	switch {
	case sh.Link != "":
		kind := "view"
		if role == "write" {
			kind = "edit"
		}
		// The link's address carries the permission id: a link created again has a new one.
		p.Link = &wLink{Scope: sh.Link, Type: kind, WebURL: "https://" + s.domain() + "/:w:/s/" + it.id + "/" + sh.ID}
		if sh.Email != "" {
			p.GrantedToIdentitiesV2 = []wIdentitySet{{User: &wIdentity{Email: sh.Email, DisplayName: sh.Email}}}
		}
	case sh.Guest || !s.inTenant(sh.Email):
		p.Invitation = &wInvitation{Email: sh.Email, SignInRequired: true}
		p.GrantedToV2 = &wIdentitySet{User: &wIdentity{Email: sh.Email, DisplayName: sh.Email}}
	default:
		p.GrantedToV2 = &wIdentitySet{User: &wIdentity{ID: "id-" + sh.Email, Email: sh.Email, DisplayName: sh.Email}}
	}
	return p
}

// ownerPermission is the owner's grant, which Graph lists first with the owner role.
func ownerPermission(it *item) wPermission {
	return wPermission{ID: "owner", Roles: []string{"owner"}, GrantedToV2: &wIdentitySet{User: &wIdentity{ID: "id-" + it.owner, DisplayName: it.owner, Email: it.owner}}}
}

func (s *Server) handlePermissions(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.lookup(w, r)
	if it == nil {
		return
	}
	out := []wPermission{ownerPermission(it)}
	for _, g := range s.effectiveGrants(it) {
		p := s.wireShare(g.on, g.share)
		if g.on != it && p.InheritedFrom == nil {
			p.InheritedFrom = &wParentRef{DriveID: it.drive, ID: g.on.id}
		}
		out = append(out, p)
	}
	writeJSON(w, 200, collection(out, ""))
}

// sharingChanged records a sharing change of it and notifies its drive. Callers hold s.mu and
// call the returned function after unlocking.
func (s *Server) sharingChanged(it *item) func() {
	s.touch(it)
	d := it.drive
	return func() { s.notifyDrive(d, false) }
}

// handleDeletePermission is DELETE …/permissions/{perm-id}: 204 No Content; 404 itemNotFound
// for a permission the item does not have; "Only sharing permissions that are not inherited
// can be deleted" (permission-delete), so an inherited one is refused with 400; the owner's
// with 403 accessDenied (the emulator's answer: the reference does not say what Graph
// answers for the owner's permission).
func (s *Server) handleDeletePermission(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	it := s.lookup(w, r)
	if it == nil {
		s.mu.Unlock()
		return
	}
	id := r.PathValue("p")
	if id == "owner" {
		s.mu.Unlock()
		writeErr(w, 403, "accessDenied", "The owner's permission cannot be removed.")
		return
	}
	i := slices.IndexFunc(it.shares, func(sh Share) bool { return sh.ID == id })
	inherited := slices.ContainsFunc(s.effectiveGrants(it), func(g grant) bool { return g.on != it && g.share.ID == id })
	if i < 0 && !inherited {
		s.mu.Unlock()
		writeErr(w, 404, "itemNotFound", "The permission could not be found.")
		return
	}
	if inherited || it.shares[i].InheritedFrom != "" {
		s.mu.Unlock()
		writeErr(w, 400, "invalidRequest", "Only sharing permissions that are not inherited can be deleted.")
		return
	}
	it.shares = slices.Delete(it.shares, i, i+1)
	it.unique = true // removing its last grant leaves the item's permissions unique, not inherited
	s.grantRemovals[it.id]++
	notify := s.sharingChanged(it)
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
	notify()
}

// parseExpiry reads an expirationDateTime that must lie ahead.
func (s *Server) parseExpiry(v *string) (time.Time, error) {
	if v == nil || *v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, *v)
	if err != nil {
		return time.Time{}, fmt.Errorf("expirationDateTime %q is not a date and time", *v)
	}
	if !t.After(s.opts.Now()) {
		return time.Time{}, fmt.Errorf("expirationDateTime %s is not in the future", *v)
	}
	return t.UTC().Truncate(time.Second), nil
}

// handleCreateLink is the createLink action: type view or edit (embed is for OneDrive personal
// only), scope anonymous, organization or users (users links need recipients). An existing
// link of the same type and scope is returned as it is with 200; a new one with 201 Created
// (driveitem-createlink, "Response").
func (s *Server) handleCreateLink(w http.ResponseWriter, r *http.Request) {
	var in wCreateLink
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeErr(w, 400, "invalidRequest", "Invalid request body: "+err.Error())
		return
	}
	role := map[string]string{"view": "read", "edit": "write"}[in.Type]
	switch {
	case role == "":
		writeErr(w, 400, "invalidRequest", fmt.Sprintf("Invalid link type %q.", in.Type))
		return
	case in.Scope != "anonymous" && in.Scope != "organization" && in.Scope != "users":
		writeErr(w, 400, "invalidRequest", fmt.Sprintf("Invalid link scope %q.", in.Scope))
		return
	case in.Scope == "users" && (len(in.Recipients) != 1 || in.Recipients[0].Email == ""):
		// The emulator models a specific-people link for one person.
		writeErr(w, 400, "invalidRequest", "A link for specific people needs one recipient with an email.")
		return
	}
	exp, err := s.parseExpiry(in.ExpirationDateTime)
	if err != nil {
		writeErr(w, 400, "invalidRequest", err.Error())
		return
	}
	s.mu.Lock()
	it := s.lookup(w, r)
	if it == nil {
		s.mu.Unlock()
		return
	}
	email := ""
	if in.Scope == "users" {
		email = strings.ToLower(in.Recipients[0].Email)
	}
	retain := in.RetainInheritedPermissions == nil || *in.RetainInheritedPermissions
	s.breakInheritance(it, retain)
	for _, sh := range it.shares {
		shRole := sh.Role
		if shRole == "" {
			shRole = "read"
		}
		if sh.Link == in.Scope && shRole == role && sh.InheritedFrom == "" && strings.EqualFold(sh.Email, email) {
			out := s.wireShare(it, sh)
			s.mu.Unlock()
			writeJSON(w, 200, out)
			return
		}
	}
	sh := s.withShareIDs([]Share{{Link: in.Scope, Role: role, Email: email, Expires: exp}})[0]
	it.shares = append(it.shares, sh)
	out := s.wireShare(it, sh)
	notify := s.sharingChanged(it)
	s.mu.Unlock()
	writeJSON(w, 201, out)
	notify()
}

// handleInvite is the invite action: recipients by email, roles read or write; it answers 200
// with the collection of permissions granted. "New guests can't be invited using app-only
// access. Existing guests can be invited" (driveitem-invite): an address outside the tenant
// that is not a guest of it is refused.
func (s *Server) handleInvite(w http.ResponseWriter, r *http.Request) {
	var in wInvite
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeErr(w, 400, "invalidRequest", "Invalid request body: "+err.Error())
		return
	}
	if len(in.Recipients) == 0 {
		writeErr(w, 400, "invalidRequest", "At least one recipient is required.")
		return
	}
	if len(in.Roles) != 1 || (in.Roles[0] != "read" && in.Roles[0] != "write") {
		writeErr(w, 400, "invalidRequest", fmt.Sprintf("Invalid roles %v: one of read or write.", in.Roles))
		return
	}
	exp, err := s.parseExpiry(in.ExpirationDateTime)
	if err != nil {
		writeErr(w, 400, "invalidRequest", err.Error())
		return
	}
	s.mu.Lock()
	it := s.lookup(w, r)
	if it == nil {
		s.mu.Unlock()
		return
	}
	var added []Share
	for _, rc := range in.Recipients {
		email := strings.ToLower(rc.Email)
		if email == "" {
			s.mu.Unlock()
			writeErr(w, 400, "invalidRequest", "Recipients need an email.")
			return
		}
		guest := !s.inTenant(email)
		if guest && !s.guests[email] {
			s.mu.Unlock()
			writeErr(w, 400, "invalidRequest", "New guests can't be invited using app-only access: "+email)
			return
		}
		added = append(added, Share{Email: email, Role: in.Roles[0], Guest: guest, Expires: exp})
	}
	s.breakInheritance(it, true)
	var out []wPermission
	for _, sh := range s.withShareIDs(added) {
		// Inviting someone who already has a direct grant changes that grant.
		it.shares = slices.DeleteFunc(it.shares, func(x Share) bool {
			return x.Link == "" && x.InheritedFrom == "" && strings.EqualFold(x.Email, sh.Email)
		})
		it.shares = append(it.shares, sh)
		out = append(out, s.wireShare(it, sh))
	}
	notify := s.sharingChanged(it)
	s.mu.Unlock()
	writeJSON(w, 200, collection(out, ""))
	notify()
}

// AddShare adds one grant to a file, as a user sharing it would, and notifies. A grant to an
// address outside the tenant makes that address a guest of the tenant.
func (s *Server) AddShare(id string, sh Share) error {
	s.mu.Lock()
	it, err := s.liveFile(id)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	sh = s.withShareIDs([]Share{sh})[0]
	if sh.InheritedFrom == "" {
		s.breakInheritance(it, true)
	}
	it.shares = append(it.shares, sh)
	notify := s.sharingChanged(it)
	s.mu.Unlock()
	notify()
	return nil
}

// Shares returns a file's grants as the emulator holds them (the owner's left out).
func (s *Server) Shares(id string) ([]Share, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, err := s.liveFile(id)
	if err != nil {
		return nil, err
	}
	return slices.Clone(it.shares), nil
}

// noteGuests remembers the outside addresses of direct grants as guests of the tenant: a
// guest account stays when the grant that brought it is removed. Callers hold s.mu.
func (s *Server) noteGuests(shares []Share) {
	for _, sh := range shares {
		if sh.Link == "" && sh.Email != "" && (sh.Guest || !s.inTenant(sh.Email)) {
			s.guests[strings.ToLower(sh.Email)] = true
		}
	}
}

// GrantRemovals counts the grants removed from item id through DELETE .../permissions/{id}:
// a test's check that no grant was removed twice.
func (s *Server) GrantRemovals(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.grantRemovals[id]
}
