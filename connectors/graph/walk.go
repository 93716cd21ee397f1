package graph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	abs "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	"github.com/microsoftgraph/msgraph-sdk-go/drives"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/labelgate/labelgate/connectors"
)

// A full walk enumerates the drive by its root delta feed with Prefer: hierarchicalsharing,
// so permissions are read once per permissions hierarchy rather than once per file (issue 21).
//
// Microsoft's guidance (learn.microsoft.com/graph/api/driveitem-delta, "Scanning permissions
// hierarchies"; learn.microsoft.com/onedrive/developer/rest-api/concepts/scan-guidance):
//   - by default delta returns sharing information (the shared facet) for every item, even
//     one that merely inherits; with Prefer: hierarchicalsharing only for the root of each
//     permissions hierarchy and for items whose sharing changed explicitly. An empty shared
//     facet marks an item with unique permissions and no sharing (and the root of an
//     unshared hierarchy, to establish the initial scope); items without it inherit from
//     their parent.
//   - "In order to process permissions correctly your application will need to request
//     Sites.FullControl.All permissions." Without it the tenant declines the preference and
//     sends no Preference-Applied header (RFC 7240), as a public capability probe measured;
//     so the preference counts as applied only when the answer names it in
//     Preference-Applied, and otherwise every labelable file's permissions are read, as
//     before, so access is never guessed.
//   - delta items carry no parentReference.path ("When using delta you should always track
//     items by id"), the same item may appear more than once (the last one wins), and
//     OneDrive for Business omits cTag on create and modify (toFile falls back to eTag).
//
// Paths come from each file's parent chain: the walk keeps id → name and parent for folders
// only, so memory grows with a drive's folders, not its files. A parent the walk has not seen
// (entries out of order, or a walk resumed from a cursor) is read with one GET item, which
// carries parentReference.path, and cached.

// deltaSelect is what the walk reads of each delta entry: what toFile maps, the shared
// facet, and the short-lived download URL a scan soon after can use (downloadURLs).
var deltaSelect = append(slices.Clone(itemSelect), "shared", downloadURLKey)

// walkCursor resumes a delta walk after any file: the link of the current page ("" = the
// first) and how many of its entries were handled. V tells it from the cursor of the former
// walk by children ({"q": folders still to list, "n": page, "s": skip}, no "v"), which decodes
// and starts the walk over: its files are reported again, none is missed.
type walkCursor struct {
	V    int      `json:"v"`
	Page string   `json:"p,omitempty"`
	Skip int      `json:"s,omitempty"`
	Old  []string `json:"q,omitempty"`
}

const walkCursorVersion = 2

func (w walkCursor) encode() string {
	b, _ := json.Marshal(w)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeWalkCursor(s string) (walkCursor, error) {
	var cur walkCursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &cur)
	}
	if err != nil {
		return cur, connectors.Errorf(connectors.KindInvalid, "graph walk", 0, 0, fmt.Errorf("bad walk cursor: %w", err))
	}
	if cur.V != walkCursorVersion {
		// A children walk's cursor (or one of an unknown version): its folder queue means
		// nothing to a delta walk, so the walk starts over.
		return walkCursor{V: walkCursorVersion}, errOldCursor
	}
	return cur, nil
}

var errOldCursor = errors.New("walk cursor of an older walk")

// facet is what a delta entry's shared facet says of the item's permissions.
type facet uint8

const (
	facetInherits facet = iota // no facet on a hierarchical page: the item inherits its parent's
	facetShared                // a non-empty facet: the root of a shared hierarchy
	facetPrivate               // an empty facet: unique permissions, shared with no one
	facetUnknown               // the preference was not applied (or the folder was read by GET): read its permissions
)

func facetOf(it models.DriveItemable, applied bool) facet {
	if !applied {
		return facetUnknown
	}
	sh := it.GetShared()
	if sh == nil {
		return facetInherits
	}
	if sh.GetOwner() == nil && sh.GetScope() == nil && sh.GetSharedBy() == nil && sh.GetSharedDateTime() == nil && len(sh.GetAdditionalData()) == 0 {
		return facetPrivate
	}
	return facetShared
}

// access is a computed access level and the domains it reaches.
type access struct {
	level   connectors.AccessLevel
	domains []string
}

// folderInfo is what a walk keeps of a folder.
type folderInfo struct {
	parent, name string
	root         bool
	path         string // "" until computed
	facet        facet
	access       *access // once computed
}

// walker is one Walk's state.
type walker struct {
	c       *Conn
	drive   string
	folders map[string]*folderInfo
	// perms holds the current page's files' own permissions, read side by side before the
	// page is handed out in order (prefetch).
	perms map[string]fetchedPerms
}

type fetchedPerms struct {
	perms []models.Permissionable
	err   error
}

// walkPermissionReads bounds the permission reads of one page in flight at once. Each is a
// round trip; read one after another they held a walk to about 1,500 files a second. The
// connector's pacer still spaces them at the tenant's rate.
const walkPermissionReads = 8

// prefetch reads, side by side, the permissions of the page's files whose own permissions
// say their access (the facet marks them shared, or the preference was not applied).
func (w *walker) prefetch(ctx context.Context, items []models.DriveItemable, skip int, applied bool) {
	clear(w.perms)
	var ids []string
	for i, it := range items {
		if i < skip || it.GetDeleted() != nil || it.GetFolder() != nil || it.GetRoot() != nil || it.GetFile() == nil {
			continue
		}
		if f := facetOf(it, applied); (f == facetUnknown || f == facetShared) && labelable(str(it.GetName())) {
			ids = append(ids, str(it.GetId()))
		}
	}
	if len(ids) < 2 {
		return // nothing to overlap
	}
	res := make([]fetchedPerms, len(ids))
	var wg sync.WaitGroup
	sem := make(chan struct{}, walkPermissionReads)
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			perms, err := w.c.listPermissions(ctx, w.c.ref(w.drive, id))
			res[i] = fetchedPerms{perms, err}
		}()
	}
	wg.Wait()
	for i, id := range ids {
		w.perms[id] = res[i]
	}
}

// Walk lists every file of a drive from its root delta feed, resumable after any file.
func (c *Conn) Walk(ctx context.Context, drive, cursor string, fn func(connectors.File, string) error) error {
	cur := walkCursor{V: walkCursorVersion}
	if cursor != "" {
		var err error
		cur, err = decodeWalkCursor(cursor)
		if errors.Is(err, errOldCursor) {
			c.log.InfoContext(ctx, "graph walk cursor predates the delta walk; starting the drive over", "drive", drive)
		} else if err != nil {
			return err
		}
	}
	w := &walker{c: c, drive: drive, folders: map[string]*folderInfo{}, perms: map[string]fetchedPerms{}}
	restarted := false
	for {
		page, applied, err := c.deltaPage(ctx, drive, cur.Page)
		if errors.Is(err, connectors.ErrCursorExpired) && cur.Page != "" && !restarted {
			// The saved page link expired (410 Gone) while the walk was paused: enumerate the
			// drive again from the start; files already reported come again, none is missed.
			c.log.WarnContext(ctx, "graph walk page link expired; starting the drive over", "drive", drive, "err", err)
			cur, restarted = walkCursor{V: walkCursorVersion}, true
			continue
		}
		if err != nil {
			return err
		}
		items := page.GetValue()
		// Folders first, including the entries of this page handled before a resume, so a
		// file finds a parent listed beside it whatever the order.
		for _, it := range items {
			if it.GetFolder() != nil || it.GetRoot() != nil {
				w.noteFolder(it, applied)
			}
		}
		w.prefetch(ctx, items, cur.Skip, applied)
		for i, it := range items {
			if i < cur.Skip {
				continue
			}
			cur.Skip = i + 1
			if it.GetDeleted() != nil || it.GetFolder() != nil || it.GetRoot() != nil || it.GetFile() == nil {
				continue // deleted, folders, and packages, notebooks and the like
			}
			f, ok, err := w.file(ctx, it, applied)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if err := fn(f, cur.encode()); err != nil {
				return err
			}
		}
		next := str(page.GetOdataNextLink())
		if next == "" {
			// The deltaLink ends the enumeration. Changes keeps its own link (from "latest"),
			// so it is not stored here.
			return nil
		}
		cur = walkCursor{V: walkCursorVersion, Page: next}
	}
}

// preferHeader asks for hierarchical sharing on delta.
const preferHeader = "hierarchicalsharing"

// deltaPage reads one page of the root delta feed (the first when link is ""), asking for
// hierarchical sharing, and says whether the service applied it.
func (c *Conn) deltaPage(ctx context.Context, drive, link string) (drives.ItemItemsItemDeltaGetResponseable, bool, error) {
	var page drives.ItemItemsItemDeltaGetResponseable
	var applied bool
	err := c.call(ctx, "graph delta walk", func(ctx context.Context) (err error) {
		hdr := abs.NewRequestHeaders()
		hdr.Add("Prefer", preferHeader)
		inspect := khttp.NewHeadersInspectionOptions()
		inspect.InspectResponseHeaders = true
		cfg := &drives.ItemItemsItemDeltaRequestBuilderGetRequestConfiguration{Headers: hdr, Options: []abs.RequestOption{inspect}}
		if link != "" {
			page, err = drives.NewItemItemsItemDeltaRequestBuilder(link, c.adapter).GetAsDeltaGetResponse(ctx, cfg)
		} else {
			cfg.QueryParameters = &drives.ItemItemsItemDeltaRequestBuilderGetQueryParameters{Select: deltaSelect, Top: c.top()}
			page, err = c.item(drive, "root").Delta().GetAsDeltaGetResponse(ctx, cfg)
		}
		applied = preferenceApplied(inspect.GetResponseHeaders().Get("Preference-Applied"))
		return err
	})
	return page, applied, err
}

// preferenceApplied reads Preference-Applied (RFC 7240 §3): a comma-separated list of the
// preferences the server honoured.
func preferenceApplied(values []string) bool {
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			name, _, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(name), preferHeader) {
				return true
			}
		}
	}
	return false
}

// noteFolder records a folder (or the root) a delta page listed. An entry seen again (the
// same item may appear more than once; the last wins) that moved, was renamed or changed its
// sharing drops what was derived from the folders, to be derived again.
func (w *walker) noteFolder(it models.DriveItemable, applied bool) {
	id := str(it.GetId())
	if it.GetDeleted() != nil {
		delete(w.folders, id)
		return
	}
	fi := &folderInfo{name: str(it.GetName()), root: it.GetRoot() != nil, facet: facetOf(it, applied)}
	if pr := it.GetParentReference(); pr != nil && !fi.root {
		fi.parent = str(pr.GetId())
	}
	if fi.root {
		fi.path = "/"
		if fi.facet == facetInherits {
			fi.facet = facetPrivate // the drive's root without a facet: nothing above it to inherit
		}
	}
	if old := w.folders[id]; old != nil {
		if old.name == fi.name && old.parent == fi.parent && old.facet == fi.facet {
			return
		}
		for _, f := range w.folders {
			if !f.root {
				f.path = ""
			}
			f.access = nil
		}
	}
	w.folders[id] = fi
}

// file maps a delta entry to a file with its path and, for labelable files, its access;
// ok is false when the file (or its folder) went away meanwhile.
func (w *walker) file(ctx context.Context, it models.DriveItemable, applied bool) (connectors.File, bool, error) {
	c := w.c
	f := c.toFile(w.drive, it)
	parent := ""
	if pr := it.GetParentReference(); pr != nil {
		parent = str(pr.GetId())
	}
	var err error
	if f.Path, err = w.path(ctx, parent); err != nil {
		if connectors.KindOf(err) == connectors.KindNotFound && !errors.Is(err, connectors.ErrCursorExpired) {
			return f, false, nil
		}
		return f, false, err
	}
	if u := anyString(it.GetAdditionalData()[downloadURLKey]); u != "" && f.ETag != "" {
		c.urls.put(urlKey(f.Ref.Drive, f.Ref.ItemID, f.ETag), u, f.Size, c.cfg.Now())
	}
	if !labelable(f.Name) {
		return f, true, nil
	}
	var a access
	switch facetOf(it, applied) {
	case facetUnknown, facetShared:
		// Without the preference every file's own permissions say its access; with it, a
		// non-empty facet makes the file the root of its own shared hierarchy.
		got, ok := w.perms[f.Ref.ItemID]
		if !ok {
			got.perms, got.err = c.listPermissions(ctx, f.Ref)
		}
		if connectors.KindOf(got.err) == connectors.KindNotFound {
			return f, false, nil
		}
		if got.err != nil {
			return f, false, got.err
		}
		a = c.foldAccess(got.perms)
	case facetPrivate:
		a = access{level: connectors.AccessPrivate}
	case facetInherits:
		a, err = w.folderAccess(ctx, parent)
		if err != nil {
			if connectors.KindOf(err) == connectors.KindNotFound && !errors.Is(err, connectors.ErrCursorExpired) {
				return f, false, nil
			}
			return f, false, err
		}
	}
	f.Access, f.Domains = a.level, slices.Clone(a.domains)
	return f, true, nil
}

// folder returns what the walk knows of folder id, reading it with GET item when the walk has
// not seen it.
func (w *walker) folder(ctx context.Context, id string) (*folderInfo, error) {
	if fi := w.folders[id]; fi != nil {
		return fi, nil
	}
	var it models.DriveItemable
	err := w.c.call(ctx, "graph walk parent", func(ctx context.Context) (err error) {
		it, err = w.c.item(w.drive, id).Get(ctx, &drives.ItemItemsDriveItemItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &drives.ItemItemsDriveItemItemRequestBuilderGetQueryParameters{Select: itemSelect},
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	// A plain GET carries parentReference.path; its shared facet is the default one (set on
	// inherited sharing too), so the folder's access comes from its permissions, which list
	// inherited grants as well.
	fi := &folderInfo{name: str(it.GetName()), root: it.GetRoot() != nil, facet: facetUnknown}
	if fi.root {
		fi.path = "/"
	} else if pr := it.GetParentReference(); pr != nil {
		fi.parent = str(pr.GetId())
		if p := pr.GetPath(); p != nil {
			fi.path = joinPath(folderPath(*p), fi.name)
		}
	}
	w.folders[id] = fi
	return fi, nil
}

func joinPath(dir, name string) string {
	if dir == "/" || dir == "" {
		return "/" + name
	}
	return dir + "/" + name
}

// maxDepth bounds a parent chain, against a cycle in what the service answered.
const maxDepth = 4096

// path is the path of folder id ("/" for the root).
func (w *walker) path(ctx context.Context, id string) (string, error) {
	var chain []*folderInfo
	for range maxDepth {
		fi, err := w.folder(ctx, id)
		if err != nil {
			return "", err
		}
		if fi.path != "" || fi.parent == "" {
			p := fi.path
			if p == "" {
				p = "/"
			}
			for i := len(chain) - 1; i >= 0; i-- {
				p = joinPath(p, chain[i].name)
				chain[i].path = p
			}
			return p, nil
		}
		chain = append(chain, fi)
		id = fi.parent
	}
	return "", connectors.Errorf(connectors.KindInvalid, "graph walk", 0, 0, errors.New("folder chain too deep (a cycle?)"))
}

// folderAccess is the access everything inheriting from folder id has: that of the nearest
// folder (it or above) that roots a permissions hierarchy, read once per walk.
func (w *walker) folderAccess(ctx context.Context, id string) (access, error) {
	var chain []*folderInfo
	done := func(a access) (access, error) {
		for _, fi := range chain {
			fi.access = &a
		}
		return a, nil
	}
	for range maxDepth {
		fi, err := w.folder(ctx, id)
		if err != nil {
			return access{}, err
		}
		chain = append(chain, fi)
		if fi.access != nil {
			return done(*fi.access)
		}
		switch fi.facet {
		case facetPrivate:
			return done(access{level: connectors.AccessPrivate})
		case facetShared, facetUnknown:
			perms, err := w.c.listPermissions(ctx, w.c.ref(w.drive, id))
			if err != nil {
				return access{}, err
			}
			return done(w.c.foldAccess(perms))
		}
		if fi.parent == "" {
			return done(access{level: connectors.AccessPrivate})
		}
		id = fi.parent
	}
	return access{}, connectors.Errorf(connectors.KindInvalid, "graph walk", 0, 0, errors.New("folder chain too deep (a cycle?)"))
}

// foldAccess is the widest access of perms and the domains they reach.
func (c *Conn) foldAccess(perms []models.Permissionable) access {
	level := connectors.AccessPrivate
	domains := map[string]bool{}
	for _, p := range perms {
		l, doms := c.grantAccess(p)
		level = maxAccess(level, l)
		for _, d := range doms {
			domains[d] = true
		}
	}
	a := access{level: level}
	for d := range domains {
		a.domains = append(a.domains, d)
	}
	sort.Strings(a.domains)
	return a
}
