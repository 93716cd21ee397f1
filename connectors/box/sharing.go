package box

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/labelgate/labelgate/connectors"
)

var _ connectors.SharingRestrictor = (*Conn)(nil)

// sharedLinkID is the Permission id of a file's one shared link (Box has no id for it).
const sharedLinkID = "shared_link"

// sharingFields is what Permissions reads of the file: its link, its owner (whose domain is
// internal when no domains are configured) and its folders (whose collaborations it inherits).
const sharingFields = "shared_link,owned_by,path_collection,has_collaborations"

// Permissions implements connectors.SharingRestrictor: the file's shared link, its own
// collaborations, and the collaborations of every folder above it (inherited). Each grant's
// Access is what access() makes of it alone, so removing every grant above a level leaves
// Stat().Access at most that level.
func (c *Conn) Permissions(ctx context.Context, ref connectors.FileRef) ([]connectors.Permission, error) {
	it, err := c.api.file(ctx, ref.ItemID, sharingFields)
	if err != nil {
		return nil, err
	}
	ownerDomain := ""
	if it.OwnedBy != nil {
		ownerDomain = domainOf(it.OwnedBy.Login)
	}
	var out []connectors.Permission
	if it.SharedLink != nil {
		p, err := linkPermission(*it.SharedLink)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	collabs, err := c.api.collaborations(ctx, "files", it.ID)
	if err != nil {
		return nil, err
	}
	for _, cb := range collabs {
		p, err := c.collabPermission(cb, ownerDomain, false)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if it.PathCollection != nil {
		for _, e := range it.PathCollection.Entries {
			if e.ID == "0" {
				continue
			}
			fc, err := c.api.collaborations(ctx, "folders", e.ID)
			if err != nil && connectors.KindOf(err) != connectors.KindNotFound {
				return nil, err
			}
			for _, cb := range fc {
				p, err := c.collabPermission(cb, ownerDomain, true)
				if err != nil {
					return nil, err
				}
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// linkPermission maps a shared link, weighed by linkAccess as access() weighs it.
func linkPermission(l wireSharedLink) (connectors.Permission, error) {
	raw, err := json.Marshal(l)
	if err != nil {
		return connectors.Permission{}, fmt.Errorf("box: shared link: %w", err)
	}
	p := connectors.Permission{ID: sharedLinkID, Kind: connectors.GrantLink, LinkScope: l.Access, LinkURL: l.URL,
		Access: linkAccess(l.Access), Wire: raw}
	if l.UnsharedAt != nil {
		p.Expires = *l.UnsharedAt
	}
	return p, nil
}

// collabPermission maps a collaboration, weighed by collabAccess as access() weighs it.
func (c *Conn) collabPermission(cb wireCollaboration, ownerDomain string, inherited bool) (connectors.Permission, error) {
	raw, err := json.Marshal(cb)
	if err != nil {
		return connectors.Permission{}, fmt.Errorf("box: collaboration %s: %w", cb.ID, err)
	}
	p := connectors.Permission{ID: cb.ID, Kind: connectors.GrantUser, Role: cb.Role,
		Owner: cb.Role == "owner", Inherited: inherited, Wire: raw}
	p.Access, _ = c.collabAccess(cb, ownerDomain)
	if cb.ExpiresAt != nil {
		p.Expires = *cb.ExpiresAt
	}
	if cb.AccessibleBy != nil && cb.AccessibleBy.Type == "group" {
		p.Kind = connectors.GrantGroup
		return p, nil
	}
	p.Email = cb.InviteEmail
	if cb.AccessibleBy != nil && cb.AccessibleBy.Login != "" {
		p.Email = cb.AccessibleBy.Login
	}
	p.Domain = domainOf(p.Email)
	return p, nil
}

// RemovePermission implements connectors.SharingRestrictor: the shared link is removed with
// PUT /files/{id} {"shared_link": null}, a collaboration with DELETE /collaborations/{id}.
// Box's 404 (file or collaboration gone) means the grant is gone: success. Inherited grants
// belong to a folder and owner grants to the owner: neither is removed here.
func (c *Conn) RemovePermission(ctx context.Context, ref connectors.FileRef, p connectors.Permission) error {
	if err := refuseProtected("box remove permission", p); err != nil {
		return err
	}
	var err error
	if p.ID == sharedLinkID {
		_, err = c.api.setSharedLink(ctx, ref.ItemID, nil)
	} else {
		err = c.api.deleteCollaboration(ctx, p.ID)
	}
	if connectors.KindOf(err) == connectors.KindNotFound {
		return nil
	}
	return err
}

// refuseProtected keeps sharing actions off grants they must leave alone.
func refuseProtected(op string, p connectors.Permission) error {
	switch {
	case p.Owner:
		return connectors.Errorf(connectors.KindInvalid, op, 0, 0, fmt.Errorf("grant %s is the owner's", p.ID))
	case p.Inherited:
		return connectors.Errorf(connectors.KindInvalid, op, 0, 0, fmt.Errorf("grant %s is inherited from a folder", p.ID))
	}
	return nil
}

// RestorePermission implements connectors.SharingRestrictor. A shared link is created again
// with its access, expiry (when still ahead) and download permission; Box gives it a new URL.
// A collaboration is created again for the same user (by login) or group (by id) with its
// role, without notifying them; it gets a new id.
func (c *Conn) RestorePermission(ctx context.Context, ref connectors.FileRef, p connectors.Permission) (connectors.Permission, error) {
	const op = "box restore permission"
	if err := refuseProtected(op, p); err != nil {
		return connectors.Permission{}, err
	}
	if p.ID == sharedLinkID {
		var was wireSharedLink
		if len(p.Wire) > 0 {
			if err := json.Unmarshal(p.Wire, &was); err != nil {
				return connectors.Permission{}, connectors.Errorf(connectors.KindInvalid, op, 0, 0, fmt.Errorf("shared link record: %w", err))
			}
		}
		req := &wireSharedLinkRequest{Access: p.LinkScope}
		if req.Access == "" {
			req.Access = was.Access
		}
		if !p.Expires.IsZero() {
			if !p.Expires.After(c.now()) {
				return connectors.Permission{}, connectors.Errorf(connectors.KindInvalid, op, 0, 0,
					fmt.Errorf("shared link expired at %s: nothing to restore", p.Expires.Format(time.RFC3339)))
			}
			t := p.Expires.UTC()
			req.UnsharedAt = &t
		}
		// can_download may only be set on open and company links (box-openapi.json, Update
		// file, shared_link.permissions.can_download).
		if was.Permissions != nil && was.Permissions.CanDownload != nil && (req.Access == "open" || req.Access == "company") {
			req.Permissions = &wireSharedLinkPermissions{CanDownload: was.Permissions.CanDownload}
		}
		it, err := c.api.setSharedLink(ctx, ref.ItemID, req)
		if err != nil {
			return connectors.Permission{}, err
		}
		if it.SharedLink == nil {
			return connectors.Permission{}, connectors.Errorf(connectors.KindTransient, op, http.StatusOK, 0, fmt.Errorf("file %s has no shared link after creating it", ref.ItemID))
		}
		return linkPermission(*it.SharedLink)
	}
	in := wireCollaborationCreate{Item: wireTarget{Type: "file", ID: ref.ItemID}, Role: p.Role}
	switch p.Kind {
	case connectors.GrantGroup:
		var was wireCollaboration
		if err := json.Unmarshal(p.Wire, &was); err != nil || was.AccessibleBy == nil || was.AccessibleBy.ID == "" {
			return connectors.Permission{}, connectors.Errorf(connectors.KindInvalid, op, 0, 0, fmt.Errorf("group collaboration %s: no group id in its record", p.ID))
		}
		in.AccessibleBy = wireCollaboratorSpec{Type: "group", ID: was.AccessibleBy.ID}
	case connectors.GrantUser:
		if p.Email == "" {
			return connectors.Permission{}, connectors.Errorf(connectors.KindInvalid, op, 0, 0, fmt.Errorf("collaboration %s: no login", p.ID))
		}
		in.AccessibleBy = wireCollaboratorSpec{Type: "user", Login: p.Email}
	default:
		return connectors.Permission{}, connectors.Errorf(connectors.KindInvalid, op, 0, 0, fmt.Errorf("grant kind %q is not a Box grant", p.Kind))
	}
	if in.Role == "" {
		in.Role = "viewer"
	}
	cb, err := c.api.createCollaboration(ctx, in)
	if err != nil {
		return connectors.Permission{}, err
	}
	ownerDomain := ""
	if len(c.cfg.Domains) == 0 { // the owner's domain is the internal one: read it
		owner, err := c.api.file(ctx, ref.ItemID, "owned_by")
		if err != nil {
			return connectors.Permission{}, err
		}
		if owner.OwnedBy != nil {
			ownerDomain = domainOf(owner.OwnedBy.Login)
		}
	}
	return c.collabPermission(cb, ownerDomain, false)
}
