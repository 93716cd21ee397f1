package graph

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/drives"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/sites"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/labelgate/labelgate/connectors"
)

// itemSelect is what labelgate reads of a driveItem (the download URL only where a scan will
// use it soon: it is short-lived).
var itemSelect = []string{"id", "name", "size", "eTag", "cTag", "createdDateTime", "lastModifiedDateTime",
	"webUrl", "createdBy", "parentReference", "file", "folder", "root", "deleted"}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (c *Conn) top() *int32 {
	if c.cfg.PageSize <= 0 {
		return nil
	}
	n := int32(c.cfg.PageSize)
	return &n
}

// inScope applies Include/Exclude to the keys naming a drive.
func (c *Conn) inScope(keys ...string) bool {
	match := func(list []string) bool {
		for _, e := range list {
			e = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(e)), "/")
			for _, k := range keys {
				if k != "" && e == strings.TrimSuffix(strings.ToLower(k), "/") {
					return true
				}
			}
		}
		return false
	}
	if len(c.cfg.Include) > 0 && !match(c.cfg.Include) {
		return false
	}
	return !match(c.cfg.Exclude)
}

// Drives lists document libraries of all sites (SharePoint, via /sites/getAllSites, which
// app-only tokens may call) or the OneDrives of all users (OneDrive, /users → /users/{id}/drive).
func (c *Conn) Drives(ctx context.Context) ([]connectors.Drive, error) {
	if c.app == connectors.AppOneDrive {
		return c.oneDrives(ctx)
	}
	var out []connectors.Drive
	var next string
	for {
		var page sites.GetAllSitesGetResponseable
		err := c.call(ctx, "graph list sites", func(ctx context.Context) (err error) {
			if next != "" {
				page, err = sites.NewGetAllSitesRequestBuilder(next, c.adapter).GetAsGetAllSitesGetResponse(ctx, nil)
				return err
			}
			page, err = c.sites().GetAllSites().GetAsGetAllSitesGetResponse(ctx, &sites.GetAllSitesRequestBuilderGetRequestConfiguration{
				QueryParameters: &sites.GetAllSitesRequestBuilderGetQueryParameters{Select: []string{"id", "name", "displayName", "webUrl"}, Top: c.top()},
			})
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, s := range page.GetValue() {
			id, name, web := str(s.GetId()), str(s.GetName()), str(s.GetWebUrl())
			var libs models.DriveCollectionResponseable
			err := c.call(ctx, "graph list libraries", func(ctx context.Context) (err error) {
				libs, err = c.sites().BySiteId(id).Drives().Get(ctx, nil)
				return err
			})
			if connectors.KindOf(err) == connectors.KindNotFound {
				continue
			}
			if err != nil {
				return nil, err
			}
			for _, d := range libs.GetValue() {
				did := str(d.GetId())
				if !c.inScope(did, id, web, name) {
					continue
				}
				out = append(out, connectors.Drive{ID: did, Tenant: c.Tenant(), Name: name + "/" + str(d.GetName())})
			}
		}
		next = str(page.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
	}
}

func (c *Conn) oneDrives(ctx context.Context) ([]connectors.Drive, error) {
	var out []connectors.Drive
	var next string
	for {
		var page models.UserCollectionResponseable
		err := c.call(ctx, "graph list users", func(ctx context.Context) (err error) {
			if next != "" {
				page, err = users.NewUsersRequestBuilder(next, c.adapter).Get(ctx, nil)
				return err
			}
			page, err = c.users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
				QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Select: []string{"id", "userPrincipalName"}, Top: c.top()},
			})
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, u := range page.GetValue() {
			id, upn := str(u.GetId()), str(u.GetUserPrincipalName())
			if len(c.cfg.Include) > 0 && !c.inScope(upn, id) && !slices.ContainsFunc(c.cfg.Include, func(s string) bool { return strings.HasPrefix(s, "b!") }) {
				continue // spare the drive lookup for users who are plainly out of scope
			}
			var d models.Driveable
			err := c.call(ctx, "graph user drive", func(ctx context.Context) (err error) {
				d, err = c.users().ByUserId(id).Drive().Get(ctx, nil)
				return err
			})
			if connectors.KindOf(err) == connectors.KindNotFound {
				continue // no OneDrive provisioned
			}
			if err != nil {
				return nil, err
			}
			did := str(d.GetId())
			if !c.inScope(did, upn, id) {
				continue
			}
			out = append(out, connectors.Drive{ID: did, Tenant: c.Tenant(), Name: "OneDrive of " + upn, Owner: upn})
		}
		next = str(page.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
	}
}

// folderPath turns parentReference.path ("/drive/root:/a%20b" or "/drives/{id}/root:/a")
// into "/a b".
func folderPath(p string) string {
	if i := strings.Index(p, "root:"); i >= 0 {
		p = p[i+len("root:"):]
	}
	if u, err := url.PathUnescape(p); err == nil {
		p = u
	}
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	return p
}

func (c *Conn) ref(drive, id string) connectors.FileRef {
	return connectors.FileRef{App: c.app, Tenant: c.Tenant(), Drive: drive, ItemID: id}
}

// toFile maps a driveItem; access is filled by the caller.
func (c *Conn) toFile(drive string, it models.DriveItemable) connectors.File {
	f := connectors.File{Ref: c.ref(drive, str(it.GetId())), Name: str(it.GetName()), WebURL: str(it.GetWebUrl())}
	if it.GetDeleted() != nil {
		f.Deleted = true
		return f
	}
	if pr := it.GetParentReference(); pr != nil {
		if p := pr.GetPath(); p != nil {
			f.Path = folderPath(*p)
		}
		if d := str(pr.GetDriveId()); d != "" {
			f.Ref.Drive = d
		}
	}
	if s := it.GetSize(); s != nil {
		f.Size = *s
	}
	if t := it.GetCreatedDateTime(); t != nil {
		f.Created = *t
	}
	if t := it.GetLastModifiedDateTime(); t != nil {
		f.Modified = *t
	}
	f.ETag = str(it.GetCTag())
	if f.ETag == "" {
		f.ETag = str(it.GetETag())
	}
	if by := it.GetCreatedBy(); by != nil && by.GetUser() != nil {
		u := by.GetUser()
		if e, ok := u.GetAdditionalData()["email"]; ok {
			f.Owner = anyString(e)
		}
		if f.Owner == "" {
			f.Owner = str(u.GetDisplayName())
		}
	}
	f.Folder = it.GetFolder() != nil || it.GetRoot() != nil
	return f
}

// labelable says whether a file type can carry a sensitivity label, so permission reads
// are spent only where a policy could act.
func labelable(name string) bool {
	switch strings.ToLower(path.Ext(name)) {
	case ".docx", ".docm", ".dotx", ".xlsx", ".xlsm", ".xlsb", ".xltx", ".pptx", ".pptm", ".ppsx", ".potx",
		".doc", ".xls", ".ppt", ".pdf", ".vsdx", ".vsdm":
		return true
	}
	return false
}

// access reads an item's permissions and maps them to an access level and the domains it
// is shared with.
func (c *Conn) access(ctx context.Context, f *connectors.File) error {
	if !labelable(f.Name) {
		return nil
	}
	perms, err := c.listPermissions(ctx, f.Ref)
	if err != nil {
		return err
	}
	a := c.foldAccess(perms)
	f.Access, f.Domains = a.level, a.domains
	return nil
}

func (c *Conn) internal(domain string) bool {
	for _, d := range c.cfg.Domains {
		if strings.EqualFold(d, domain) {
			return true
		}
	}
	return false
}

// Changes reads the drive's delta feed from a stored deltaLink. Delta items carry no
// parent path, so each changed file is re-read with Stat.
func (c *Conn) Changes(ctx context.Context, drive, cursor string, fn func(connectors.File) error) (string, error) {
	if cursor == "" {
		var resp drives.ItemItemsItemDeltaWithTokenGetResponseable
		latest := "latest"
		err := c.call(ctx, "graph delta latest", func(ctx context.Context) (err error) {
			resp, err = c.item(drive, "root").DeltaWithToken(&latest).GetAsDeltaWithTokenGetResponse(ctx, nil)
			return err
		})
		if err != nil {
			return "", err
		}
		link := str(resp.GetOdataDeltaLink())
		if link == "" {
			return "", connectors.Errorf(connectors.KindTransient, "graph delta latest", 0, 0, errors.New("no deltaLink in answer"))
		}
		return link, nil
	}
	link := cursor
	resynced := false
	for {
		var resp drives.ItemItemsItemDeltaGetResponseable
		var fresh string
		err := c.call(ctx, "graph delta", func(ctx context.Context) (err error) {
			resp, err = drives.NewItemItemsItemDeltaRequestBuilder(link, c.adapter).GetAsDeltaGetResponse(ctx, nil)
			fresh = resyncLocation(err)
			return err
		})
		if fresh != "" && !resynced {
			// 410 Gone with resyncChangesApplyDifferences / resyncChangesUploadDifferences:
			// Location holds a fresh link that enumerates the whole drive again and ends in a
			// new deltaLink (../shared/specs/README.md). Every file it lists is reported as
			// changed; files deleted meanwhile are caught by the next full rescan, which
			// marks the files it did not see. Followed once per call.
			c.log.WarnContext(ctx, "graph delta token expired; re-enumerating from the fresh link", "drive", drive, "err", err)
			link, resynced = fresh, true
			continue
		}
		if err != nil {
			return cursor, err
		}
		for _, it := range resp.GetValue() {
			if it.GetRoot() != nil || it.GetFolder() != nil {
				continue
			}
			f := c.toFile(drive, it)
			if !f.Deleted {
				if it.GetFile() == nil && it.GetName() != nil {
					continue
				}
				var err error
				f, err = c.Stat(ctx, f.Ref)
				if connectors.KindOf(err) == connectors.KindNotFound {
					f = connectors.File{Ref: c.ref(drive, str(it.GetId())), Deleted: true}
				} else if err != nil {
					return cursor, err
				}
			}
			if err := fn(f); err != nil {
				return cursor, err
			}
		}
		if next := str(resp.GetOdataNextLink()); next != "" {
			link = next
			continue
		}
		if dl := str(resp.GetOdataDeltaLink()); dl != "" {
			return dl, nil
		}
		return cursor, connectors.Errorf(connectors.KindTransient, "graph delta", 0, 0, errors.New("page without nextLink or deltaLink"))
	}
}

// resyncLocation returns the fresh link of a delta 410 Gone answer, "" for any other error.
func resyncLocation(err error) string {
	var api abs.ApiErrorable
	if err == nil || !errors.As(err, &api) || api.GetStatusCode() != http.StatusGone {
		return ""
	}
	if h := api.GetResponseHeaders(); h != nil {
		if v := h.Get("Location"); len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// Stat reads one item and its sharing.
func (c *Conn) Stat(ctx context.Context, ref connectors.FileRef) (connectors.File, error) {
	var it models.DriveItemable
	err := c.call(ctx, "graph stat", func(ctx context.Context) (err error) {
		it, err = c.item(ref.Drive, ref.ItemID).Get(ctx, &drives.ItemItemsDriveItemItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &drives.ItemItemsDriveItemItemRequestBuilderGetQueryParameters{Select: itemSelect},
		})
		return err
	})
	if err != nil {
		return connectors.File{}, err
	}
	f := c.toFile(ref.Drive, it)
	f.Ref = ref
	if f.Folder {
		return f, nil
	}
	return f, c.access(ctx, &f)
}

// anyString reads a string from SDK additional data, which holds *string or untyped nodes.
func anyString(v any) string {
	switch s := v.(type) {
	case *string:
		return str(s)
	case string:
		return s
	case interface{ GetValue() *string }:
		return str(s.GetValue())
	}
	return ""
}

func anyBool(v any) (bool, bool) {
	switch b := v.(type) {
	case *bool:
		if b != nil {
			return *b, true
		}
	case bool:
		return b, true
	case interface{ GetValue() *bool }:
		if p := b.GetValue(); p != nil {
			return *p, true
		}
	}
	return false, false
}
