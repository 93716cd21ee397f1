package gdrive

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"google.golang.org/api/drive/v3"
	"google.golang.org/api/googleapi"

	"github.com/labelgate/labelgate/connectors"
)

var _ connectors.SharingRestrictor = (*Conn)(nil)

// permissionFields are the Permission fields labelgate reads and keeps for undo
// (drive-api.json Permission).
const permissionFields = "id,type,role,emailAddress,domain,allowFileDiscovery,expirationTime,permissionDetails"

// Permissions implements connectors.SharingRestrictor with permissions.list, as the drive's
// user (My Drive) or the admin (shared drives). Each grant's Access is what access() makes of
// it alone, so removing every grant above a level leaves Stat().Access at most that level.
func (c *Conn) Permissions(ctx context.Context, ref connectors.FileRef) ([]connectors.Permission, error) {
	s, _, _, err := c.svcFor(ref.Drive)
	if err != nil {
		return nil, err
	}
	var out []connectors.Permission
	tok := ""
	for {
		var pl *drive.PermissionList
		err := c.call(ctx, "gdrive permissions.list", func() error {
			call := s.Permissions.List(ref.ItemID).SupportsAllDrives(true).PageSize(100).Context(ctx).
				Fields(googleapi.Field("nextPageToken,permissions(" + permissionFields + ")"))
			if tok != "" {
				call = call.PageToken(tok)
			}
			var err error
			pl, err = call.Do()
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, dp := range pl.Permissions {
			p, err := c.toPermission(dp)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
		if pl.NextPageToken == "" {
			return out, nil
		}
		tok = pl.NextPageToken
	}
}

// toPermission maps a Drive permission, weighing it as access() weighs the file's list.
func (c *Conn) toPermission(dp *drive.Permission) (connectors.Permission, error) {
	raw, err := json.Marshal(dp)
	if err != nil {
		return connectors.Permission{}, fmt.Errorf("gdrive: permission %s: %w", dp.Id, err)
	}
	p := connectors.Permission{ID: dp.Id, Role: dp.Role, Email: strings.ToLower(dp.EmailAddress),
		Domain: strings.ToLower(dp.Domain), Owner: dp.Role == "owner", Wire: raw}
	p.Access, _ = c.access([]*drive.Permission{dp})
	switch dp.Type {
	case "user":
		p.Kind = connectors.GrantUser
	case "group":
		p.Kind = connectors.GrantGroup
	case "domain":
		p.Kind = connectors.GrantDomain
	case "anyone":
		p.Kind, p.LinkScope = connectors.GrantAnyone, "anyone"
	default:
		p.Kind = connectors.GrantKind(dp.Type)
	}
	if (p.Kind == connectors.GrantUser || p.Kind == connectors.GrantGroup) && p.Domain == "" {
		_, p.Domain, _ = strings.Cut(p.Email, "@")
	}
	if dp.ExpirationTime != "" {
		p.Expires, _ = time.Parse(time.RFC3339, dp.ExpirationTime)
	}
	// A permission is inherited when every detail says so; one granted on the file as well as
	// on a folder has a direct detail, and deleting it removes the direct grant.
	if len(dp.PermissionDetails) > 0 {
		p.Inherited = true
		for _, d := range dp.PermissionDetails {
			p.Inherited = p.Inherited && d.Inherited
		}
	}
	return p, nil
}

// RemovePermission implements connectors.SharingRestrictor with permissions.delete; Drive's
// 404 (the permission or the file is gone) is success. An inherited grant belongs to the folder
// it comes from and is not removed here; the owner's is sent to Drive, which refuses it.
func (c *Conn) RemovePermission(ctx context.Context, ref connectors.FileRef, p connectors.Permission) error {
	const op = "gdrive permissions.delete"
	if p.Inherited {
		return connectors.Errorf(connectors.KindInvalid, op, 0, 0, fmt.Errorf("permission %s is inherited from a folder", p.ID))
	}
	s, _, _, err := c.svcFor(ref.Drive)
	if err != nil {
		return err
	}
	err = c.call(ctx, op, func() error {
		return s.Permissions.Delete(ref.ItemID, p.ID).SupportsAllDrives(true).Context(ctx).Do()
	})
	if connectors.KindOf(err) == connectors.KindNotFound {
		return nil
	}
	return err
}

// RestorePermission implements connectors.SharingRestrictor with permissions.create: the same
// type, role and grantee, a user or group grant's expiry when still ahead, a domain or anyone
// grant's discoverability; users and groups are not e-mailed (sendNotificationEmail=false,
// which Drive allows only for them). Drive's permission id names the grantee, so the restored
// grant usually has the id it had; there is no link URL (the file's own link is unchanged).
func (c *Conn) RestorePermission(ctx context.Context, ref connectors.FileRef, p connectors.Permission) (connectors.Permission, error) {
	const op = "gdrive permissions.create"
	if p.Inherited || p.Owner {
		return connectors.Permission{}, connectors.Errorf(connectors.KindInvalid, op, 0, 0,
			fmt.Errorf("permission %s is the owner's or inherited: never removed, nothing to restore", p.ID))
	}
	var was drive.Permission
	if len(p.Wire) > 0 {
		if err := json.Unmarshal(p.Wire, &was); err != nil {
			return connectors.Permission{}, connectors.Errorf(connectors.KindInvalid, op, 0, 0, fmt.Errorf("permission record: %w", err))
		}
	}
	np := &drive.Permission{Role: p.Role}
	notify := false
	switch p.Kind {
	case connectors.GrantUser, connectors.GrantGroup:
		np.Type = string(p.Kind)
		np.EmailAddress = p.Email
		notify = true
		if !p.Expires.IsZero() {
			if !p.Expires.After(c.now()) {
				return connectors.Permission{}, connectors.Errorf(connectors.KindInvalid, op, 0, 0,
					fmt.Errorf("permission %s expired at %s: nothing to restore", p.ID, p.Expires.Format(time.RFC3339)))
			}
			np.ExpirationTime = p.Expires.UTC().Format(time.RFC3339)
		}
	case connectors.GrantDomain:
		np.Type, np.Domain, np.AllowFileDiscovery = "domain", p.Domain, was.AllowFileDiscovery
	case connectors.GrantAnyone:
		np.Type, np.AllowFileDiscovery = "anyone", was.AllowFileDiscovery
	default:
		return connectors.Permission{}, connectors.Errorf(connectors.KindInvalid, op, 0, 0, fmt.Errorf("grant kind %q is not a Drive grant", p.Kind))
	}
	s, _, _, err := c.svcFor(ref.Drive)
	if err != nil {
		return connectors.Permission{}, err
	}
	var got *drive.Permission
	err = c.call(ctx, op, func() error {
		call := s.Permissions.Create(ref.ItemID, np).SupportsAllDrives(true).Context(ctx).
			Fields(googleapi.Field(permissionFields))
		if notify {
			call = call.SendNotificationEmail(false)
		}
		var err error
		got, err = call.Do()
		return err
	})
	if err != nil {
		return connectors.Permission{}, err
	}
	return c.toPermission(got)
}
