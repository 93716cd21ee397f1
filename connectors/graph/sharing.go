package graph

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	kjson "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/drives"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/labelgate/labelgate/connectors"
)

var _ connectors.SharingRestrictor = (*Conn)(nil)

// grantAccess weighs one permission on labelgate's scale, and names the domains it reaches.
// access() folds it over a file's permissions, and Permissions reports it per grant, so a
// file's access is exactly the widest of its grants' and removing every grant above a level
// leaves the file at most that level. The owner's grant counts for nothing; a link counts by
// its scope (anonymous public, organization internal, users by the people it names); a grantee
// is external when invited from outside (invitation, #EXT#) or outside the tenant's domains,
// and widens nothing otherwise.
func (c *Conn) grantAccess(p models.Permissionable) (connectors.AccessLevel, []string) {
	level := connectors.AccessPrivate
	var domains []string
	if slices.Contains(p.GetRoles(), "owner") {
		return level, nil
	}
	grant := func(email string, invited bool) {
		_, dom, ok := strings.Cut(strings.ToLower(email), "@")
		if !ok {
			return
		}
		if !slices.Contains(domains, dom) {
			domains = append(domains, dom)
		}
		if invited || strings.Contains(strings.ToLower(email), "#ext#") || !c.internal(dom) {
			level = maxAccess(level, connectors.AccessExternal)
		}
	}
	if l := p.GetLink(); l != nil && l.GetScope() != nil {
		switch strings.ToLower(*l.GetScope()) {
		case "anonymous":
			level = maxAccess(level, connectors.AccessPublic)
		case "organization":
			level = maxAccess(level, connectors.AccessInternal)
		}
	}
	invited := p.GetInvitation() != nil
	if inv := p.GetInvitation(); inv != nil && inv.GetEmail() != nil {
		grant(*inv.GetEmail(), true)
	}
	if g := p.GetGrantedToV2(); g != nil && g.GetUser() != nil {
		grant(anyString(g.GetUser().GetAdditionalData()["email"]), invited)
	}
	for _, g := range p.GetGrantedToIdentitiesV2() {
		if g.GetUser() != nil {
			grant(anyString(g.GetUser().GetAdditionalData()["email"]), invited)
		}
	}
	return level, domains
}

func maxAccess(a, b connectors.AccessLevel) connectors.AccessLevel {
	if b.Rank() > a.Rank() {
		return b
	}
	return a
}

// Permissions implements connectors.SharingRestrictor: GET …/permissions, every page. A
// grant with inheritedFrom set comes from a parent folder or the site and is marked Inherited;
// the owner role marks the owner's.
func (c *Conn) Permissions(ctx context.Context, ref connectors.FileRef) ([]connectors.Permission, error) {
	perms, err := c.listPermissions(ctx, ref)
	if err != nil {
		return nil, err
	}
	out := make([]connectors.Permission, 0, len(perms))
	for _, p := range perms {
		cp, err := c.toPermission(p)
		if err != nil {
			return nil, err
		}
		out = append(out, cp)
	}
	return out, nil
}

// listPermissions reads every page of an item's permissions; access() and Permissions both
// read them here, so they see the same grants.
func (c *Conn) listPermissions(ctx context.Context, ref connectors.FileRef) ([]models.Permissionable, error) {
	var out []models.Permissionable
	next := ""
	for {
		var page models.PermissionCollectionResponseable
		err := c.call(ctx, "graph permissions", func(ctx context.Context) (err error) {
			if next != "" {
				page, err = drives.NewItemItemsItemPermissionsRequestBuilder(next, c.adapter).Get(ctx, nil)
				return err
			}
			page, err = c.item(ref.Drive, ref.ItemID).Permissions().Get(ctx, nil)
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, page.GetValue()...)
		next = str(page.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
	}
}

// toPermission maps a Graph permission and keeps its JSON for undo.
func (c *Conn) toPermission(p models.Permissionable) (connectors.Permission, error) {
	raw, err := marshalPermission(p)
	if err != nil {
		return connectors.Permission{}, err
	}
	cp := connectors.Permission{ID: str(p.GetId()), Kind: connectors.GrantUser, Owner: slices.Contains(p.GetRoles(), "owner"), Wire: raw}
	if roles := p.GetRoles(); len(roles) > 0 {
		cp.Role = roles[0]
		if slices.Contains(roles, "write") {
			cp.Role = "write"
		}
		if cp.Owner {
			cp.Role = "owner"
		}
	}
	cp.Access, _ = c.grantAccess(p)
	if t := p.GetExpirationDateTime(); t != nil {
		cp.Expires = *t
	}
	if ir := p.GetInheritedFrom(); ir != nil && (str(ir.GetId()) != "" || str(ir.GetPath()) != "") {
		cp.Inherited = true
	}
	email := ""
	if l := p.GetLink(); l != nil {
		cp.Kind = connectors.GrantLink
		cp.LinkScope = strings.ToLower(str(l.GetScope()))
		cp.LinkURL = str(l.GetWebUrl())
		for _, g := range p.GetGrantedToIdentitiesV2() {
			if g.GetUser() != nil && email == "" {
				email = anyString(g.GetUser().GetAdditionalData()["email"])
			}
		}
	} else {
		if g := p.GetGrantedToV2(); g != nil {
			switch {
			case g.GetUser() != nil:
				email = anyString(g.GetUser().GetAdditionalData()["email"])
			case g.GetSiteUser() != nil:
				email = str(g.GetSiteUser().GetLoginName())
			case g.GetGroup() != nil || g.GetSiteGroup() != nil:
				cp.Kind = connectors.GrantGroup
				if g.GetGroup() != nil {
					email = anyString(g.GetGroup().GetAdditionalData()["email"])
				}
			}
		}
		if inv := p.GetInvitation(); inv != nil && email == "" {
			email = str(inv.GetEmail())
		}
	}
	cp.Email = strings.ToLower(email)
	if _, dom, ok := strings.Cut(cp.Email, "@"); ok {
		cp.Domain = dom
	}
	return cp, nil
}

func marshalPermission(p models.Permissionable) ([]byte, error) {
	w := kjson.NewJsonSerializationWriter()
	defer w.Close()
	if err := w.WriteObjectValue("", p); err != nil {
		return nil, fmt.Errorf("graph: permission %s: %w", str(p.GetId()), err)
	}
	return w.GetSerializedContent()
}

func unmarshalPermission(raw []byte) (models.Permissionable, error) {
	pn, err := loadJSONTree(raw)
	if err != nil {
		return nil, err
	}
	v, err := pn.GetObjectValue(models.CreatePermissionFromDiscriminatorValue)
	if err != nil {
		return nil, err
	}
	p, ok := v.(models.Permissionable)
	if !ok {
		return nil, errors.New("not a permission")
	}
	return p, nil
}

// RemovePermission implements connectors.SharingRestrictor: DELETE …/permissions/{id},
// 204; Graph's 404 (the grant or the item is gone) is success. "Only sharing permissions that
// are not inherited can be deleted" (learn.microsoft.com/graph/api/permission-delete): an
// inherited grant belongs to the folder or site and is refused here; the owner's is sent to
// Graph, whose refusal comes back typed.
func (c *Conn) RemovePermission(ctx context.Context, ref connectors.FileRef, p connectors.Permission) error {
	const op = "graph delete permission"
	if p.Inherited {
		return connectors.Errorf(connectors.KindInvalid, op, 0, 0, fmt.Errorf("permission %s is inherited from a folder or the site", p.ID))
	}
	err := c.call(ctx, op, func(ctx context.Context) error {
		return c.item(ref.Drive, ref.ItemID).Permissions().ByPermissionId(p.ID).Delete(ctx, nil)
	})
	if connectors.KindOf(err) == connectors.KindNotFound {
		return nil
	}
	return err
}

// RestorePermission implements connectors.SharingRestrictor. A link is created again with
// createLink (type view or edit from its role or link type, its scope, its expiry when still
// ahead, the people of a specific-people link as recipients): Graph gives it a new id and URL.
// A user or guest grant is invited again (requireSignIn, no e-mail): the grant gets a new id.
// Both keep the item's inherited permissions (retainInheritedPermissions, which otherwise
// drops them when the item is shared for the first time). A password on a link is not
// readable, so it is not restored.
func (c *Conn) RestorePermission(ctx context.Context, ref connectors.FileRef, p connectors.Permission) (connectors.Permission, error) {
	const op = "graph restore permission"
	if p.Inherited || p.Owner {
		return connectors.Permission{}, connectors.Errorf(connectors.KindInvalid, op, 0, 0,
			fmt.Errorf("permission %s is the owner's or inherited: never removed, nothing to restore", p.ID))
	}
	var was models.Permissionable
	if len(p.Wire) > 0 {
		var err error
		if was, err = unmarshalPermission(p.Wire); err != nil {
			return connectors.Permission{}, connectors.Errorf(connectors.KindInvalid, op, 0, 0, fmt.Errorf("permission record: %w", err))
		}
	}
	var expires *time.Time
	if !p.Expires.IsZero() {
		if !p.Expires.After(c.cfg.Now()) {
			return connectors.Permission{}, connectors.Errorf(connectors.KindInvalid, op, 0, 0,
				fmt.Errorf("permission %s expired at %s: nothing to restore", p.ID, p.Expires.Format(time.RFC3339)))
		}
		t := p.Expires.UTC()
		expires = &t
	}
	retain := true
	switch p.Kind {
	case connectors.GrantLink:
		typ := "view"
		if p.Role == "write" {
			typ = "edit"
		}
		if was != nil && was.GetLink() != nil && was.GetLink().GetTypeEscaped() != nil {
			typ = *was.GetLink().GetTypeEscaped()
		}
		body := drives.NewItemItemsItemCreateLinkPostRequestBody()
		body.SetTypeEscaped(&typ)
		scope := p.LinkScope
		body.SetScope(&scope)
		body.SetExpirationDateTime(expires)
		body.SetRetainInheritedPermissions(&retain)
		if scope == "users" {
			var rcpts []models.DriveRecipientable
			for _, e := range linkPeople(p, was) {
				r := models.NewDriveRecipient()
				r.SetEmail(&e)
				rcpts = append(rcpts, r)
			}
			body.SetRecipients(rcpts)
		}
		var got models.Permissionable
		err := c.call(ctx, "graph create link", func(ctx context.Context) (err error) {
			got, err = c.item(ref.Drive, ref.ItemID).CreateLink().Post(ctx, body, nil)
			return err
		})
		if err != nil {
			return connectors.Permission{}, err
		}
		return c.toPermission(got)
	case connectors.GrantUser, connectors.GrantGroup:
		r := models.NewDriveRecipient()
		switch {
		case p.Email != "":
			e := p.Email
			r.SetEmail(&e)
		case was != nil && was.GetGrantedToV2() != nil && was.GetGrantedToV2().GetGroup() != nil && was.GetGrantedToV2().GetGroup().GetId() != nil:
			r.SetObjectId(was.GetGrantedToV2().GetGroup().GetId())
		default:
			return connectors.Permission{}, connectors.Errorf(connectors.KindInvalid, op, 0, 0, fmt.Errorf("permission %s names no grantee to invite", p.ID))
		}
		role := "read"
		if p.Role == "write" {
			role = "write"
		}
		body := drives.NewItemItemsItemInvitePostRequestBody()
		body.SetRecipients([]models.DriveRecipientable{r})
		body.SetRoles([]string{role})
		signIn, send := true, false
		body.SetRequireSignIn(&signIn)
		body.SetSendInvitation(&send)
		body.SetRetainInheritedPermissions(&retain)
		if expires != nil {
			s := expires.Format(time.RFC3339)
			body.SetExpirationDateTime(&s)
		}
		var got drives.ItemItemsItemInvitePostResponseable
		err := c.call(ctx, "graph invite", func(ctx context.Context) (err error) {
			got, err = c.item(ref.Drive, ref.ItemID).Invite().PostAsInvitePostResponse(ctx, body, nil)
			return err
		})
		if err != nil {
			return connectors.Permission{}, err
		}
		if len(got.GetValue()) == 0 {
			return connectors.Permission{}, connectors.Errorf(connectors.KindTransient, "graph invite", 0, 0, errors.New("the answer grants nothing"))
		}
		return c.toPermission(got.GetValue()[0])
	}
	return connectors.Permission{}, connectors.Errorf(connectors.KindInvalid, op, 0, 0, fmt.Errorf("grant kind %q is not a Graph grant", p.Kind))
}

// linkPeople are the people a specific-people link was for.
func linkPeople(p connectors.Permission, was models.Permissionable) []string {
	var out []string
	if was != nil {
		for _, g := range was.GetGrantedToIdentitiesV2() {
			if g.GetUser() != nil {
				if e := anyString(g.GetUser().GetAdditionalData()["email"]); e != "" {
					out = append(out, e)
				}
			}
		}
	}
	if len(out) == 0 && p.Email != "" {
		out = append(out, p.Email)
	}
	return out
}
