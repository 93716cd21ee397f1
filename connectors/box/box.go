// Package box provides the Box connector: walk, change feed, ranged reads, classification
// labels, new-version upload and signed webhooks, over a thin typed Box REST v2.0 client.
package box

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/labelgate/labelgate/connectors"
)

// Compile-time checks of the capabilities the Box connector offers.
var (
	_ connectors.Connector           = (*Conn)(nil)
	_ connectors.Labeler             = (*Conn)(nil)
	_ connectors.Uploader            = (*Conn)(nil)
	_ connectors.ConditionalUploader = (*Conn)(nil)
	_ connectors.Subscriber          = (*Conn)(nil)
	_ connectors.WebhookReceiver     = (*Conn)(nil)
)

// Box production endpoints.
const (
	DefaultBaseURL   = "https://api.box.com/2.0"
	DefaultUploadURL = "https://upload.box.com/api/2.0"
	DefaultTokenURL  = "https://api.box.com/oauth2/token"
)

// LabelMode says how labels are written for this connector.
type LabelMode string

// Label modes.
const (
	LabelNative   LabelMode = "native"   // Box classification through the metadata API
	LabelEmbedded LabelMode = "embedded" // the executor writes the MIP label into the file and uploads it
	LabelBoth     LabelMode = "both"
)

// Config configures a Box connector.
type Config struct {
	EnterpriseID string // the Box enterprise: CCG subject and the connector's tenant
	ClientID     string
	ClientSecret string
	BaseURL      string // default DefaultBaseURL
	UploadURL    string // default DefaultUploadURL
	TokenURL     string // default DefaultTokenURL
	// Roots are the folder ids that are the connector's drives; default "0" (All Files of
	// the service account).
	Roots []string
	// Domains are the enterprise's own e-mail domains; collaborators outside them make a
	// file external. When empty, the owner's domain counts as internal.
	Domains []string
	// PrimaryKey and SecondaryKey are the webhook signature keys from the Box developer console.
	PrimaryKey   string
	SecondaryKey string
	// LabelMap maps MIP label ids to Box classification keys; unmapped classifications are
	// reported with their key as label id.
	LabelMap      map[string]string
	LabelMode     LabelMode // default native
	Subscriptions connectors.SubscriptionLookup
	Logger        *slog.Logger
	Now           func() time.Time
	HTTPClient    *http.Client // base transport; default http.DefaultClient
	PageSize      int          // folder listing page size, default 1000 (Box's maximum)
	// Retries, RetryBackoff and MaxRetryWait tune the pacer: transient errors are retried
	// Retries times starting at RetryBackoff; a 429 is waited out inline only when Box asks
	// for at most MaxRetryWait, otherwise it is returned as KindThrottled.
	Retries      int           // default 3
	RetryBackoff time.Duration // default 500ms
	MaxRetryWait time.Duration // default 2s
	// EventStream is the event stream the change feed reads: StreamChanges (default; the
	// service account's own stream, which covers what it can see) or
	// StreamAdminLogsStreaming (the enterprise's; needs admin rights and the Manage
	// enterprise properties scope).
	EventStream EventStream
	// EventPoll is how often the gateway reads the event stream without a notice; default
	// one minute. Root-level files of "0" are seen no later than this.
	EventPoll time.Duration
}

// Conn is a Box connector.
type Conn struct {
	cfg    Config
	api    *api
	log    *slog.Logger
	now    func() time.Time
	keyFor map[string]string // MIP label id → classification key
	idFor  map[string]string // classification key → MIP label id
	// notifyURL is the webhook address Subscribe was last given, so that top-level folders
	// seen in the event stream get their webhook at once.
	notifyURL atomic.Pointer[string]
}

// New builds a Box connector. It does not contact Box.
func New(cfg Config) (*Conn, error) {
	if cfg.EnterpriseID == "" {
		return nil, errors.New("box: enterprise id is required")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if cfg.UploadURL == "" {
		cfg.UploadURL = DefaultUploadURL
	}
	if cfg.TokenURL == "" {
		cfg.TokenURL = DefaultTokenURL
	}
	if len(cfg.Roots) == 0 {
		cfg.Roots = []string{"0"}
	}
	if cfg.EventStream == "" {
		cfg.EventStream = StreamChanges
	}
	if _, ok := streamRetention[cfg.EventStream]; !ok {
		return nil, fmt.Errorf("%w, not %q", errNoStream, cfg.EventStream)
	}
	if cfg.EventPoll <= 0 {
		cfg.EventPoll = time.Minute
	}
	if cfg.LabelMode == "" {
		cfg.LabelMode = LabelNative
	}
	switch cfg.LabelMode {
	case LabelNative, LabelEmbedded, LabelBoth:
	default:
		return nil, fmt.Errorf("box: unknown label mode %q", cfg.LabelMode)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.PageSize <= 0 || cfg.PageSize > 1000 {
		cfg.PageSize = 1000
	}
	if cfg.Retries == 0 {
		cfg.Retries = 3
	}
	if cfg.RetryBackoff <= 0 {
		cfg.RetryBackoff = 500 * time.Millisecond
	}
	if cfg.MaxRetryWait == 0 {
		cfg.MaxRetryWait = 2 * time.Second
	}
	cc := clientcredentials.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		TokenURL:     cfg.TokenURL,
		AuthStyle:    oauth2.AuthStyleInParams,
		EndpointParams: map[string][]string{
			"box_subject_type": {"enterprise"},
			"box_subject_id":   {cfg.EnterpriseID},
		},
	}
	// The token source lives as long as the client, so it gets a background context
	// carrying the base client rather than any one call's context.
	newAuthed := func() *http.Client {
		authed := cc.Client(context.WithValue(context.Background(), oauth2.HTTPClient, cfg.HTTPClient))
		authed.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return authed
	}
	plain := *cfg.HTTPClient
	c := &Conn{
		cfg: cfg,
		log: cfg.Logger,
		now: cfg.Now,
		api: &api{
			newAuthed: newAuthed, plain: &plain,
			base: strings.TrimRight(cfg.BaseURL, "/"), uploadBase: strings.TrimRight(cfg.UploadURL, "/"),
			log: cfg.Logger, now: cfg.Now,
			retries: cfg.Retries, backoff: cfg.RetryBackoff, maxWait: cfg.MaxRetryWait,
		},
		keyFor: map[string]string{},
		idFor:  map[string]string{},
	}
	c.api.http.Store(newAuthed())
	for id, key := range cfg.LabelMap {
		c.keyFor[id] = key
		c.idFor[key] = id
	}
	return c, nil
}

// App implements connectors.Connector.
func (c *Conn) App() connectors.App { return connectors.AppBox }

// Tenant implements connectors.Connector: the Box enterprise id.
func (c *Conn) Tenant() string { return c.cfg.EnterpriseID }

// LabelMode says whether labels go through Box classification, into the file, or both.
func (c *Conn) LabelMode() LabelMode { return c.cfg.LabelMode }

// Drives implements connectors.Connector: the configured root folders.
func (c *Conn) Drives(ctx context.Context) ([]connectors.Drive, error) {
	out := make([]connectors.Drive, 0, len(c.cfg.Roots))
	for _, id := range c.cfg.Roots {
		f, err := c.api.folder(ctx, id, "name,owned_by")
		if err != nil {
			return nil, fmt.Errorf("box: root folder %s: %w", id, err)
		}
		d := connectors.Drive{ID: id, Tenant: c.Tenant(), Name: f.Name}
		if f.OwnedBy != nil {
			d.Owner = f.OwnedBy.Login
		}
		out = append(out, d)
	}
	return out, nil
}

// itemFields is what every file read asks Box for.
const itemFields = "type,id,name,size,etag,sha1,created_at,modified_at,content_modified_at,path_collection,owned_by,shared_link,has_collaborations,item_status,parent,metadata." + classificationScope + "." + classificationTemplate

// Stat implements connectors.Connector.
func (c *Conn) Stat(ctx context.Context, ref connectors.FileRef) (connectors.File, error) {
	it, err := c.api.file(ctx, ref.ItemID, itemFields)
	if err != nil {
		return connectors.File{}, err
	}
	return c.toFile(ctx, ref.Drive, it, newAccessCache())
}

// toFile maps a Box item onto a File, looking collaborations up where the sharing needs it.
func (c *Conn) toFile(ctx context.Context, drive string, it wireItem, ac *accessCache) (connectors.File, error) {
	f := connectors.File{
		Ref:     connectors.FileRef{App: connectors.AppBox, Tenant: c.Tenant(), Drive: drive, ItemID: it.ID},
		Path:    c.pathOf(drive, it),
		Name:    it.Name,
		Size:    it.Size,
		Folder:  it.Type == "folder",
		Deleted: it.ItemStatus == "trashed" || it.ItemStatus == "deleted",
		Access:  connectors.AccessPrivate,
	}
	if it.CreatedAt != nil {
		f.Created = *it.CreatedAt
	}
	switch {
	case it.ContentModifiedAt != nil:
		f.Modified = *it.ContentModifiedAt
	case it.ModifiedAt != nil:
		f.Modified = *it.ModifiedAt
	}
	// sha1 changes exactly when content does; etag also moves on renames and metadata.
	f.ETag = it.SHA1
	if f.ETag == "" {
		f.ETag = it.ETag
	}
	if it.OwnedBy != nil {
		f.Owner = it.OwnedBy.Login
	}
	if k := it.classification(); k != "" {
		f.NativeLabel = c.labelID(k)
	}
	if f.Deleted {
		return f, nil
	}
	access, domains, err := c.access(ctx, it, ac)
	if err != nil {
		return f, err
	}
	f.Access, f.Domains = access, domains
	return f, nil
}

// pathOf is the folder path of it below drive, from Box's path_collection (which starts at
// "All Files", id 0).
func (c *Conn) pathOf(drive string, it wireItem) string {
	if it.PathCollection == nil {
		return "/"
	}
	entries := it.PathCollection.Entries
	start := 0
	for i, e := range entries {
		if e.ID == drive {
			start = i + 1
			break
		}
	}
	if drive != "0" && start == 0 && len(entries) > 0 && entries[0].ID == "0" {
		start = 1 // not under the drive (moved out): report the path from All Files
	}
	names := make([]string, 0, len(entries)-start)
	for _, e := range entries[start:] {
		names = append(names, e.Name)
	}
	return "/" + strings.Join(names, "/")
}

// inDrive reports whether an item lives under the drive's root folder.
func inDrive(drive string, it wireItem) bool {
	if drive == "0" || it.ID == drive {
		return true
	}
	if it.PathCollection == nil {
		return false
	}
	return slices.ContainsFunc(it.PathCollection.Entries, func(e wireMini) bool { return e.ID == drive })
}

// accessCache remembers folder collaborations for one walk or change-feed read, since every
// file in a folder inherits them.
type accessCache struct {
	folders map[string][]wireCollaboration
	// files holds the current page's files' collaborations, read side by side before the
	// page is handed out in order (prefetchCollaborations).
	files map[string]fetchedCollabs
}

type fetchedCollabs struct {
	collabs []wireCollaboration
	err     error
}

func newAccessCache() *accessCache {
	return &accessCache{folders: map[string][]wireCollaboration{}, files: map[string]fetchedCollabs{}}
}

// walkCollabReads bounds a page's collaboration reads in flight at once: one after another,
// each a round trip, they held a Box walk to about 1,300 files a second. The pacer still
// spaces them at the documented rate.
const walkCollabReads = 8

// needsCollabs says whether access must read the file's own collaborations.
func needsCollabs(it wireItem) bool {
	if it.SharedLink != nil && linkAccess(it.SharedLink.Access) == connectors.AccessPublic {
		return false
	}
	return it.HasCollaborations == nil || *it.HasCollaborations
}

// prefetchCollaborations reads, side by side, the collaborations of the files of entries
// (from index from on) that access will need.
func (c *Conn) prefetchCollaborations(ctx context.Context, entries []wireItem, from int, ac *accessCache) {
	clear(ac.files)
	var ids []string
	for _, it := range entries[min(from, len(entries)):] {
		if it.Type == "file" && it.ItemStatus != "trashed" && it.ItemStatus != "deleted" && needsCollabs(it) {
			ids = append(ids, it.ID)
		}
	}
	if len(ids) < 2 {
		return
	}
	res := make([]fetchedCollabs, len(ids))
	var wg sync.WaitGroup
	sem := make(chan struct{}, walkCollabReads)
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			cs, err := c.api.collaborations(ctx, "files", id)
			res[i] = fetchedCollabs{cs, err}
		}()
	}
	wg.Wait()
	for i, id := range ids {
		ac.files[id] = res[i]
	}
}

// access maps Box sharing onto labelgate's scale: an open shared link is public, a company
// link internal; collaborators (on the file or inherited from any parent folder) outside the
// enterprise's domains make it external, inside them internal.
func (c *Conn) access(ctx context.Context, it wireItem, ac *accessCache) (connectors.AccessLevel, []string, error) {
	level := connectors.AccessPrivate
	if it.SharedLink != nil {
		if level = linkAccess(it.SharedLink.Access); level == connectors.AccessPublic {
			return level, nil, nil
		}
	}
	var collabs []wireCollaboration
	if it.HasCollaborations == nil || *it.HasCollaborations {
		var err error
		if got, ok := ac.files[it.ID]; ok {
			collabs, err = got.collabs, got.err
		} else {
			collabs, err = c.api.collaborations(ctx, "files", it.ID)
		}
		if err != nil {
			if connectors.KindOf(err) == connectors.KindNotFound {
				return level, nil, nil
			}
			return level, nil, err
		}
	}
	if it.PathCollection != nil {
		for _, e := range it.PathCollection.Entries {
			if e.ID == "0" {
				continue
			}
			fc, ok := ac.folders[e.ID]
			if !ok {
				var err error
				fc, err = c.api.collaborations(ctx, "folders", e.ID)
				if err != nil && connectors.KindOf(err) != connectors.KindNotFound {
					return level, nil, err
				}
				ac.folders[e.ID] = fc
			}
			collabs = append(collabs, fc...)
		}
	}
	ownerDomain := ""
	if it.OwnedBy != nil {
		ownerDomain = domainOf(it.OwnedBy.Login)
	}
	var domains []string
	for _, cb := range collabs {
		l, d := c.collabAccess(cb, ownerDomain)
		level = maxAccess(level, l)
		if d != "" && !slices.Contains(domains, d) {
			domains = append(domains, d)
		}
	}
	slices.Sort(domains)
	return level, domains, nil
}

// linkAccess weighs a shared link: open is public, company internal, and a collaborators link
// gives nobody access the collaborations do not.
func linkAccess(access string) connectors.AccessLevel {
	switch access {
	case "open":
		return connectors.AccessPublic
	case "company":
		return connectors.AccessInternal
	}
	return connectors.AccessPrivate
}

// collabAccess weighs one collaboration: rejected ones count for nothing, groups (enterprise
// groups) are internal, users by their login's domain; it also names the domain it reaches.
// access() folds it over a file's collaborations and Permissions reports it per grant, so the
// two cannot disagree.
func (c *Conn) collabAccess(cb wireCollaboration, ownerDomain string) (connectors.AccessLevel, string) {
	if cb.Status == "rejected" {
		return connectors.AccessPrivate, ""
	}
	login := cb.InviteEmail
	if cb.AccessibleBy != nil {
		if cb.AccessibleBy.Type == "group" {
			return connectors.AccessInternal, ""
		}
		if cb.AccessibleBy.Login != "" {
			login = cb.AccessibleBy.Login
		}
	}
	d := domainOf(login)
	switch {
	case d == "":
		return connectors.AccessPrivate, ""
	case c.internalDomain(d, ownerDomain):
		return connectors.AccessInternal, d
	}
	return connectors.AccessExternal, d
}

func (c *Conn) internalDomain(d, ownerDomain string) bool {
	if len(c.cfg.Domains) == 0 {
		return d == ownerDomain
	}
	for _, own := range c.cfg.Domains {
		if strings.EqualFold(d, own) || strings.HasSuffix(d, "."+strings.ToLower(own)) {
			return true
		}
	}
	return false
}

func domainOf(login string) string {
	at := strings.LastIndexByte(login, '@')
	if at < 0 {
		return ""
	}
	return strings.ToLower(login[at+1:])
}

func maxAccess(a, b connectors.AccessLevel) connectors.AccessLevel {
	if b.Rank() > a.Rank() {
		return b
	}
	return a
}

// Upload implements connectors.Uploader: a new version of the file's content.
func (c *Conn) Upload(ctx context.Context, ref connectors.FileRef, content io.Reader, size int64) error {
	if size >= 0 {
		content = io.LimitReader(content, size)
	}
	_, err := c.api.uploadVersion(ctx, ref.ItemID, "", content)
	return err
}

// UploadIfMatch implements connectors.ConditionalUploader: the new version is stored only if
// the file is still as it was read. etag is the File.ETag labelgate read (the content's sha1,
// or Box's etag); Box's If-Match takes its own etag, so the file's current sha1 and etag are
// read first and the upload then carries that etag, which Box checks atomically (412 when it
// moved, per POST /files/{id}/content in box-openapi.json).
func (c *Conn) UploadIfMatch(ctx context.Context, ref connectors.FileRef, etag string, content io.Reader, size int64) error {
	it, err := c.api.file(ctx, ref.ItemID, "etag,sha1")
	if err != nil {
		return err
	}
	if etag != it.SHA1 && etag != it.ETag {
		return connectors.Errorf(connectors.KindChanged, "box upload", http.StatusPreconditionFailed, 0,
			fmt.Errorf("file %s changed since it was read", ref.ItemID))
	}
	if size >= 0 {
		content = io.LimitReader(content, size)
	}
	_, err = c.api.uploadVersion(ctx, ref.ItemID, it.ETag, content)
	return err
}
