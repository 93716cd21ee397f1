package connectors

import (
	"context"
	"encoding/json"
	"time"
)

// GrantKind is what a permission grants access to: a sharing link, or a grantee.
type GrantKind string

// Grant kinds.
const (
	GrantLink   GrantKind = "link"   // a sharing link (Graph link permission, Box shared link)
	GrantUser   GrantKind = "user"   // one person (Graph user/guest, Drive user, Box user collaboration)
	GrantGroup  GrantKind = "group"  // a group
	GrantDomain GrantKind = "domain" // everyone in a domain (Drive domain permission)
	GrantAnyone GrantKind = "anyone" // anyone (Drive anyone permission)
)

// Permission is one grant on a file, as the provider reports it, with what labelgate needs
// to decide whether a sharing action removes it and to restore it afterwards (undo).
type Permission struct {
	// ID is the provider's id of the grant: a Graph or Drive permission id, a Box collaboration
	// id, or "shared_link" for Box's one shared link per item.
	ID   string    `json:"id"`
	Kind GrantKind `json:"kind"`
	// Role is the provider's role word (Graph read/write/owner, Drive reader/commenter/writer/
	// owner, Box viewer/editor/co-owner/...).
	Role string `json:"role,omitempty"`
	// Email is the grantee of a user or group grant; Domain the domain of a domain grant or
	// the grantee's domain.
	Email  string `json:"email,omitempty"`
	Domain string `json:"domain,omitempty"`
	// LinkScope is a link's audience in the provider's words (Graph anonymous/organization/
	// users, Box open/company/collaborators); Drive anyone grants use "anyone".
	LinkScope string `json:"linkScope,omitempty"`
	// LinkURL is the link's address where the provider shows it; a recreated link gets a new
	// one on every provider, which undo must say.
	LinkURL string `json:"linkUrl,omitempty"`
	// Expires is a link's or grant's expiry, zero when none.
	Expires time.Time `json:"expires,omitzero"`
	// Access is how wide this one grant makes the file on labelgate's scale: public for
	// anyone/anonymous/open, external for grantees or domains outside the organisation's
	// domains, internal otherwise.
	Access AccessLevel `json:"access"`
	// Owner marks the file owner's own grant; no sharing action removes it.
	Owner bool `json:"owner,omitempty"`
	// Inherited marks a grant the file gets from a parent folder or site (Graph
	// inheritedFrom, a Box folder collaboration): removing it would change the folder, so
	// sharing actions leave it and report it.
	Inherited bool `json:"inherited,omitempty"`
	// Wire is the provider's own record of the grant (its JSON), kept for restoring it.
	Wire json.RawMessage `json:"wire,omitempty"`
}

// SharingRestrictor is implemented by connectors that can list and remove a file's sharing
// through the provider's native API, and restore what they removed.
type SharingRestrictor interface {
	// Permissions lists the file's grants, inherited ones included and marked.
	Permissions(ctx context.Context, ref FileRef) ([]Permission, error)
	// RemovePermission removes one grant. A grant already gone is not an error (the
	// provider's 404 is success here), so a retried action never fails on its own first try.
	RemovePermission(ctx context.Context, ref FileRef, p Permission) error
	// RestorePermission grants p again (re-invites the grantee, recreates the link with its
	// scope and settings) and returns the grant as the provider now reports it: a recreated
	// link has a new id and URL.
	RestorePermission(ctx context.Context, ref FileRef, p Permission) (Permission, error)
}
