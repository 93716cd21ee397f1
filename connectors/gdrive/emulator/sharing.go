package emulator

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/api/drive/v3"
)

// Sharing routes: permissions.list, permissions.create and permissions.delete of Drive v3
// (drive-api.json resources.permissions), with the file's sharing changed in place so files.get
// and files.list report it narrowed or widened, and a change (with its push notification)
// recorded for every write, as Drive records one for a sharing change.

// permID derives a permission's id from its grantee: Drive's permission id "is a unique
// identifier for the grantee" (drive-api.json Permission.id), so granting the same user again
// gives the same id; an anyone grant is "anyoneWithLink" (or "anyone" when discoverable).
func permID(p Permission) string {
	switch p.Type {
	case "anyone":
		if p.AllowFileDiscovery {
			return "anyone"
		}
		return "anyoneWithLink"
	case "domain":
		return "d" + hashID(strings.ToLower(p.Domain))
	}
	return hashID(strings.ToLower(p.Email))
}

func hashID(s string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return strconv.FormatUint(h.Sum64()%1e17, 10)
}

// withIDs copies perms, giving each permission without an id the grantee's id.
func withIDs(perms []Permission) []Permission {
	out := slices.Clone(perms)
	for i := range out {
		if out[i].ID == "" {
			out[i].ID = permID(out[i])
		}
	}
	return out
}

// ownerPermission is the owner's grant of a My Drive file.
func ownerPermission(f *file) Permission {
	p := Permission{Type: "user", Role: "owner", Email: f.owner}
	p.ID = permID(p)
	return p
}

// allPermissions are the file's grants as Drive lists them: the owner's first.
func allPermissions(f *file) []Permission {
	var out []Permission
	if f.owner != "" {
		out = append(out, ownerPermission(f))
	}
	return append(out, f.perms...)
}

func (s *Server) wirePermission(f *file, p Permission) *drive.Permission {
	wp := &drive.Permission{Kind: "drive#permission", Id: p.ID, Type: p.Type, Role: p.Role, EmailAddress: p.Email,
		Domain: p.Domain, AllowFileDiscovery: p.AllowFileDiscovery}
	if p.Type == "user" || p.Type == "group" {
		wp.Domain = domainOf(p.Email)
	}
	if !p.Expiration.IsZero() {
		wp.ExpirationTime = p.Expiration.UTC().Format(time.RFC3339)
	}
	// permissionDetails: "inherited ... is always populated"; inheritedFrom "is only populated
	// for items in shared drives" (drive-api.json Permission.permissionDetails).
	d := &drive.PermissionPermissionDetails{PermissionType: "file", Role: p.Role, Inherited: p.InheritedFrom != "",
		ForceSendFields: []string{"Inherited"}}
	if p.InheritedFrom != "" && f.driveID != "" {
		d.InheritedFrom = p.InheritedFrom
	}
	wp.PermissionDetails = []*drive.PermissionPermissionDetails{d}
	return wp
}

func (s *Server) wirePermissions(f *file) []*drive.Permission {
	var out []*drive.Permission
	for _, p := range allPermissions(f) {
		out = append(out, s.wirePermission(f, p))
	}
	return out
}

// canShare says whether user may change f's sharing: its owner, a writer, or a member of its
// shared drive.
func (s *Server) canShare(user string, f *file) bool {
	if f.driveID != "" {
		return s.isMember(user, f.driveID)
	}
	if f.owner == user {
		return true
	}
	return slices.ContainsFunc(f.perms, func(p Permission) bool {
		return p.Type == "user" && strings.EqualFold(p.Email, user) && p.Role == "writer"
	})
}

func permNotFound(w http.ResponseWriter, id string) {
	writeErr(w, http.StatusNotFound, "notFound", "Permission not found: "+id+".", "permissionId")
}

// listPermissions is permissions.list: pages of pageSize (default 100, Drive's for files not in
// a shared drive).
func (s *Server) listPermissions(w http.ResponseWriter, r *http.Request, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.lookup(r, user, r.PathValue("id"))
	if !ok {
		notFound(w, r.PathValue("id"))
		return
	}
	size := 100
	if v := r.URL.Query().Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeErr(w, http.StatusBadRequest, "invalid", "Invalid value for pageSize", "pageSize")
			return
		}
		size = n
	}
	off := 0
	if tok := r.URL.Query().Get("pageToken"); tok != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(tok, "perm-"))
		if err != nil || !strings.HasPrefix(tok, "perm-") || n < 0 {
			badPageToken(w)
			return
		}
		off = n
	}
	all := s.wirePermissions(f)
	out := &drive.PermissionList{Kind: "drive#permissionList", Permissions: []*drive.Permission{}}
	end := min(off+size, len(all))
	if off < end {
		out.Permissions = all[off:end]
	}
	if end < len(all) {
		out.NextPageToken = "perm-" + strconv.Itoa(end)
	}
	writeJSON(w, out)
}

// createPermission is permissions.create. Drive's rules that the emulator enforces: user and
// group grants need emailAddress, domain grants a domain; expirationTime only on user and group
// grants and only in the future, at most a year ahead; sendNotificationEmail "defaults to true
// for users and groups, and is not allowed for other requests"; owner needs transferOwnership;
// allowFileDiscovery applies to domain and anyone grants. A grant to a grantee that already
// has one replaces it (same id).
func (s *Server) createPermission(w http.ResponseWriter, r *http.Request, user string) {
	var in drive.Permission
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		writeErr(w, http.StatusBadRequest, "parseError", "Parse Error", "")
		return
	}
	q := r.URL.Query()
	p := Permission{Type: in.Type, Role: in.Role, Email: strings.ToLower(in.EmailAddress), Domain: strings.ToLower(in.Domain),
		AllowFileDiscovery: in.AllowFileDiscovery}
	bad := func(msg, loc string) { writeErr(w, http.StatusBadRequest, "invalid", msg, loc) }
	switch p.Type {
	case "user", "group":
		if p.Email == "" {
			writeErr(w, http.StatusBadRequest, "required", "Required: emailAddress", "permission.emailAddress")
			return
		}
		p.Domain, p.AllowFileDiscovery = "", false
	case "domain":
		if p.Domain == "" {
			writeErr(w, http.StatusBadRequest, "required", "Required: domain", "permission.domain")
			return
		}
		p.Email = ""
	case "anyone":
		p.Email, p.Domain = "", ""
	default:
		bad(fmt.Sprintf("Invalid permission type %q.", p.Type), "permission.type")
		return
	}
	switch p.Role {
	case "reader", "commenter", "writer":
	case "owner":
		if !boolParam(r, "transferOwnership") {
			writeErr(w, http.StatusForbidden, "forbidden", "The transferOwnership parameter must be enabled when the permission role is 'owner'.", "transferOwnership")
			return
		}
		bad("The emulator does not transfer ownership.", "permission.role")
		return
	default:
		bad(fmt.Sprintf("Invalid permission role %q.", p.Role), "permission.role")
		return
	}
	if q.Has("sendNotificationEmail") && p.Type != "user" && p.Type != "group" {
		bad("sendNotificationEmail is only allowed for user and group permissions.", "sendNotificationEmail")
		return
	}
	if in.ExpirationTime != "" {
		t, err := time.Parse(time.RFC3339, in.ExpirationTime)
		switch {
		case err != nil:
			bad("Invalid expirationTime.", "permission.expirationTime")
			return
		case p.Type != "user" && p.Type != "group":
			bad("Expiration dates can only be set on user and group permissions.", "permission.expirationTime")
			return
		case !t.After(s.now()) || t.After(s.now().AddDate(1, 0, 0)):
			bad("The expiration time must be in the future and at most a year ahead.", "permission.expirationTime")
			return
		}
		p.Expiration = t.UTC()
	}
	p.ID = permID(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.lookup(r, user, r.PathValue("id"))
	if !ok {
		notFound(w, r.PathValue("id"))
		return
	}
	if !s.canShare(user, f) {
		writeErr(w, http.StatusForbidden, "insufficientFilePermissions",
			"The user does not have sufficient permissions for this file.", "")
		return
	}
	if f.owner != "" && p.ID == ownerPermission(f).ID {
		bad("The owner already has access.", "permission.emailAddress")
		return
	}
	f.perms = slices.DeleteFunc(f.perms, func(x Permission) bool { return x.ID == p.ID && x.InheritedFrom == "" })
	f.perms = append(f.perms, p)
	s.recordChange(f, false)
	writeJSON(w, s.wirePermission(f, p))
}

// deletePermission is permissions.delete: 204; 404 for a permission the file does not have;
// 403 for the owner's (only ownership transfer moves it) and for an inherited one, which
// belongs to the folder it comes from. The reasons of those two 403s (cannotRemoveOwner,
// cannotDeletePermission) are the emulator's words: drive-api.json does not list error
// reasons, and Drive's error guide does not name these refusals.
func (s *Server) deletePermission(w http.ResponseWriter, r *http.Request, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.lookup(r, user, r.PathValue("id"))
	if !ok {
		notFound(w, r.PathValue("id"))
		return
	}
	if !s.canShare(user, f) {
		writeErr(w, http.StatusForbidden, "insufficientFilePermissions",
			"The user does not have sufficient permissions for this file.", "")
		return
	}
	id := r.PathValue("perm")
	if f.owner != "" && id == ownerPermission(f).ID {
		writeErr(w, http.StatusForbidden, "cannotRemoveOwner", "The owner of a file cannot be removed.", "permissionId")
		return
	}
	i := slices.IndexFunc(f.perms, func(p Permission) bool { return p.ID == id })
	if i < 0 {
		permNotFound(w, id)
		return
	}
	if f.perms[i].InheritedFrom != "" {
		writeErr(w, http.StatusForbidden, "cannotDeletePermission",
			"The permission is inherited from "+f.perms[i].InheritedFrom+" and cannot be removed from this item.", "permissionId")
		return
	}
	f.perms = slices.Delete(f.perms, i, i+1)
	s.grantRemovals[f.id]++
	s.recordChange(f, false)
	w.WriteHeader(http.StatusNoContent)
}

// Permissions returns a file's grants as the emulator holds them (the owner's left out).
func (s *Server) Permissions(id string) ([]Permission, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[id]
	if !ok {
		return nil, fmt.Errorf("emulator: no file %s", id)
	}
	return slices.Clone(f.perms), nil
}

// AddPermission adds one grant to a file, as a user sharing it in the web app would, and
// records the change.
func (s *Server) AddPermission(id string, p Permission) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[id]
	if !ok {
		return fmt.Errorf("emulator: no file %s", id)
	}
	f.perms = append(f.perms, withIDs([]Permission{p})...)
	s.recordChange(f, false)
	return nil
}

// GrantRemovals counts the grants removed from file id through permissions.delete: a test's
// check that no grant was removed twice.
func (s *Server) GrantRemovals(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.grantRemovals[id]
}
