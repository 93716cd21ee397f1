package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Permission inheritance, as SharePoint and OneDrive keep it: an item inherits its parent's
// grants unless it has unique permissions (its own permission scope). The drive's root is
// always a scope of its own; an item with grants of its own (a link or invitation on it) has
// broken inheritance, and so has one an administrator made unique without sharing it.
// GET …/permissions lists an item's own grants and, while it inherits, the grants of the
// scope it inherits from with inheritedFrom naming the item they were granted on
// (learn.microsoft.com/graph/api/driveitem-list-permissions; graph-v1.0.csdl permission:
// inheritedFrom is an itemReference).

// ownScope says whether it has unique permissions. Callers hold mu.
func ownScope(it *item) bool { return it.parent == "" || it.unique || len(it.shares) > 0 }

// grant is one effective grant of an item and the item it was granted on.
type grant struct {
	share Share
	on    *item
}

// effectiveGrants are the grants that apply to it: its own, then, while it inherits, those of
// its nearest ancestor with unique permissions. Callers hold mu.
func (s *Server) effectiveGrants(it *item) []grant {
	var out []grant
	for x := it; x != nil; x = s.items[x.parent] {
		for _, sh := range x.shares {
			out = append(out, grant{share: sh, on: x})
		}
		if ownScope(x) {
			break
		}
	}
	return out
}

// breakInheritance gives an inheriting item a scope of its own before a grant is added to
// it, as sharing an item does in SharePoint; with retain (createLink and invite's
// retainInheritedPermissions, true by default) the grants it inherited are copied onto it
// (learn.microsoft.com/graph/api/driveitem-createlink, retainInheritedPermissions). Callers
// hold mu.
func (s *Server) breakInheritance(it *item, retain bool) {
	if ownScope(it) {
		return
	}
	if retain {
		var copied []Share
		for _, g := range s.effectiveGrants(it) {
			sh := g.share
			sh.ID, sh.InheritedFrom = "", ""
			copied = append(copied, sh)
		}
		it.shares = s.withShareIDs(copied)
	}
	it.unique = true
}

// wShared is the driveItem's shared facet (graph-v1.0.csdl ComplexType shared: owner, scope,
// sharedBy, sharedDateTime).
type wShared struct {
	Owner *wIdentitySet `json:"owner,omitempty"`
	Scope string        `json:"scope,omitempty"`
}

// sharedFacet is it's shared facet. By default Graph returns sharing information for every
// shared item, including those that only inherit their sharing. With Prefer:
// hierarchicalsharing, delta returns it only for the root of each permissions hierarchy: a
// non-empty facet where the root is shared, an empty one where it has unique permissions but
// no sharing (also on the drive root, to establish the initial scope), none on items that
// inherit (learn.microsoft.com/graph/api/driveitem-delta, "Scanning permissions
// hierarchies"). Callers hold mu.
func (s *Server) sharedFacet(it *item, hierarchical bool) *wShared {
	if it.deleted {
		return nil
	}
	if hierarchical && !ownScope(it) {
		return nil
	}
	gs := s.effectiveGrants(it)
	if len(gs) == 0 {
		if hierarchical {
			return &wShared{}
		}
		return nil
	}
	scope := "users"
	for _, g := range gs {
		switch g.share.Link {
		case "anonymous":
			scope = "anonymous"
		case "organization":
			if scope != "anonymous" {
				scope = "organization"
			}
		}
	}
	return &wShared{Owner: &wIdentitySet{User: &wIdentity{DisplayName: it.owner, Email: it.owner}}, Scope: scope}
}

// hierarchicalSharing reports whether a delta request asked for Prefer: hierarchicalsharing
// and may have it. The header may carry other documented preferences beside it
// (deltashowremovedasdeleted, deltatraversepermissiongaps, deltashowsharingchanges), which
// the emulator tolerates. "In order to process permissions correctly your application will
// need to request Sites.FullControl.All permissions" (driveitem-delta, "Scanning permissions
// hierarchies"); without it the service declines the preference and sends no
// Preference-Applied (RFC 7240), as observed against tenants. An anonymous emulator (no
// client credentials) checks no roles, as need does.
func (s *Server) hierarchicalSharing(r *http.Request) bool {
	asked := false
	for _, v := range r.Header.Values("Prefer") {
		for _, p := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(p), "hierarchicalsharing") {
				asked = true
			}
		}
	}
	if !asked {
		return false
	}
	if s.opts.ClientID == "" {
		return true
	}
	have, _ := r.Context().Value(ctxRoles{}).([]string)
	return slices.Contains(have, RoleSitesFullControl)
}

// depth is how many folders lie above it. Callers hold mu.
func (s *Server) depth(it *item) int {
	n := 0
	for x := it; x != nil && x.parent != ""; x = s.items[x.parent] {
		n++
	}
	return n
}

// ManifestFolder seeds a folder's permissions: grants on the folder, which everything below
// it inherits unless an item has unique permissions, or (Unique without grants) a folder that
// broke inheritance and is shared with no one.
type ManifestFolder struct {
	Drive   string  `json:"drive"`
	Path    string  `json:"path"` // "/a/b"
	Owner   string  `json:"owner,omitempty"`
	Sharing []Share `json:"sharing,omitempty"`
	Unique  bool    `json:"unique,omitempty"`
}

// setFolder applies a ManifestFolder; callers hold mu (or are in New).
func (s *Server) setFolder(f ManifestFolder) (*item, error) {
	if _, ok := s.drives[f.Drive]; !ok {
		return nil, fmt.Errorf("emulator: unknown drive %q", f.Drive)
	}
	owner := f.Owner
	if owner == "" {
		owner = s.defaultOwner(f.Drive)
	}
	it := s.items[s.mkdirs(f.Drive, f.Path, owner)]
	it.shares = s.withShareIDs(f.Sharing)
	it.unique = it.parent != "" && (f.Unique || len(f.Sharing) > 0)
	s.touch(it)
	return it, nil
}

// ShareFolder sets a folder's own grants (creating the folders on the way) and notifies:
// everything below it that does not have unique permissions inherits them. unique without
// grants makes the folder a scope of its own that is shared with no one. It returns the
// folder's id.
func (s *Server) ShareFolder(driveID, folder string, unique bool, shares ...Share) (string, error) {
	s.mu.Lock()
	it, err := s.setFolder(ManifestFolder{Drive: driveID, Path: folder, Sharing: shares, Unique: unique})
	if err != nil {
		s.mu.Unlock()
		return "", err
	}
	s.mu.Unlock()
	s.notifyDrive(driveID, false)
	return it.id, nil
}

// SetUnique gives a file unique permissions without grants (true), or makes it inherit its
// folder's again, dropping its own grants (false).
func (s *Server) SetUnique(id string, unique bool) error {
	s.mu.Lock()
	it, err := s.liveFile(id)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	it.unique = unique
	if !unique {
		it.shares = nil
	}
	notify := s.sharingChanged(it)
	s.mu.Unlock()
	notify()
	return nil
}
