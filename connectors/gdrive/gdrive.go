// Package gdrive connects labelgate to Google Drive (Workspace): users' My Drives and shared
// drives, the change feed with push channels, ranged downloads, Drive labels and uploads.
//
// Authentication is a service account with domain-wide delegation: every call impersonates
// the user whose drive it touches (shared drives and the label catalog: AdminEmail).
//
// Google Docs, Sheets, Slides and other native files (application/vnd.google-apps.*) carry
// no MIP label and cannot be downloaded as bytes, so Walk and Changes emit nothing for them,
// nor for folders; Stat still describes them.
package gdrive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/drive/v3"
	"google.golang.org/api/drivelabels/v2"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/labelgate/labelgate/connectors"
)

// Scopes are the OAuth scopes the service account must be granted in the Admin console
// (Security → API controls → Domain-wide delegation).
var Scopes = []string{
	"https://www.googleapis.com/auth/drive",
	"https://www.googleapis.com/auth/drive.labels.readonly",
}

// Label modes: how labels reach Drive files.
const (
	// LabelNative writes Drive labels through files.modifyLabels (the connector is a Labeler).
	LabelNative = "native"
	// LabelEmbedded writes the MIP label into the file and uploads a new revision; the
	// connector then offers no Labeler, only Uploader.
	LabelEmbedded = "embedded"
	// LabelBoth keeps the Labeler for writes and reads, while the scanner still reads the
	// label embedded in each file's content.
	LabelBoth = "both"
)

// Config configures a Drive connector.
type Config struct {
	Tenant     string   // labelgate's tenant name for this Workspace (e.g. the customer id or primary domain)
	Domains    []string // the organisation's own domains: sharing with them is internal
	Users      []string // users whose My Drive is in scope
	AdminEmail string   // impersonated for shared drives and the label catalog

	ServiceAccountKey []byte       // the service account's JSON key (see LoadKey)
	BaseURL           string       // API host override (emulator): sets DriveEndpoint and LabelsEndpoint when they are empty
	TokenURL          string       // token endpoint override (emulator)
	DriveEndpoint     string       // e.g. http://127.0.0.1:PORT/drive/v3/ ("" = Google)
	LabelsEndpoint    string       // e.g. http://127.0.0.1:PORT/ ("" = Google)
	HTTPClient        *http.Client // base client for token and API requests; default http.DefaultClient

	Include []string // drive ids, user emails or shared drive names in scope ("" = all)
	Exclude []string // drive ids, user emails or shared drive names left out

	LabelMode string            // native (default), embedded or both
	LabelMap  map[string]string // MIP label id → "driveLabelId/fieldId/choiceId"
	OwnerOU   map[string]string // user email → org unit path

	Subscriptions connectors.SubscriptionLookup // verifies channel tokens in Receive
	ChannelTTL    time.Duration                 // requested channel lifetime; default 6 days (Drive caps at 7)
	RenewBefore   time.Duration                 // default 1 day
	ThrottleWait  time.Duration                 // retry-after when Google names none; default 30 s
	RateLimit     float64                       // API calls per second per connector; default 20
	PageSize      int64                         // files.list / changes.list page size; default 1000

	Now    func() time.Time
	Logger *slog.Logger
}

// Conn is a Drive connector.
type Conn struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	pace   *pacer
	labels []mapping
	domain map[string]bool

	mu      sync.Mutex
	drives  map[string]*drive.Service
	lsvc    *drivelabels.Service
	folders map[string]string // subject|folder id → folder path
	recent  map[string]connectors.Subscription
}

var (
	_ connectors.Connector       = (*Conn)(nil)
	_ connectors.Labeler         = (*Conn)(nil)
	_ connectors.Uploader        = (*Conn)(nil)
	_ connectors.Subscriber      = (*Conn)(nil)
	_ connectors.WebhookReceiver = (*Conn)(nil)
)

// New builds a connector. It makes no network calls.
func New(cfg Config) (*Conn, error) {
	if len(cfg.ServiceAccountKey) == 0 {
		return nil, errors.New("gdrive: a service account key is required")
	}
	jc, err := google.JWTConfigFromJSON(cfg.ServiceAccountKey, Scopes...)
	if err != nil {
		return nil, fmt.Errorf("gdrive: service account key: %w", err)
	}
	if jc.Email == "" || len(jc.PrivateKey) == 0 {
		return nil, errors.New("gdrive: service account key lacks client_email or private_key")
	}
	switch cfg.LabelMode {
	case "":
		cfg.LabelMode = LabelNative
	case LabelNative, LabelEmbedded, LabelBoth:
	default:
		return nil, fmt.Errorf("gdrive: unknown label mode %q", cfg.LabelMode)
	}
	maps, err := parseLabelMap(cfg.LabelMap)
	if err != nil {
		return nil, err
	}
	if cfg.ChannelTTL <= 0 {
		cfg.ChannelTTL = 6 * 24 * time.Hour
	}
	if cfg.RenewBefore <= 0 {
		cfg.RenewBefore = 24 * time.Hour
	}
	if cfg.ThrottleWait <= 0 {
		cfg.ThrottleWait = 30 * time.Second
	}
	if cfg.RateLimit <= 0 {
		cfg.RateLimit = 20
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 1000
	}
	if b := strings.TrimSuffix(cfg.BaseURL, "/"); b != "" {
		if cfg.DriveEndpoint == "" {
			cfg.DriveEndpoint = b + "/drive/v3/"
		}
		if cfg.LabelsEndpoint == "" {
			cfg.LabelsEndpoint = b + "/"
		}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	c := &Conn{cfg: cfg, log: cfg.Logger, now: cfg.Now, pace: newPacer(cfg.RateLimit), labels: maps,
		domain: map[string]bool{}, drives: map[string]*drive.Service{}, folders: map[string]string{},
		recent: map[string]connectors.Subscription{}}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	for _, d := range cfg.Domains {
		c.domain[strings.ToLower(d)] = true
	}
	return c, nil
}

// LoadKey reads a service account key given inline (JSON) or as a path to the JSON file.
func LoadKey(s string) ([]byte, error) {
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "{") {
		return []byte(t), nil
	}
	b, err := os.ReadFile(s)
	if err != nil {
		return nil, fmt.Errorf("gdrive: reading service account key: %w", err)
	}
	return b, nil
}

// LabelMode says whether labels go through Drive labels, into the file, or both.
func (c *Conn) LabelMode() string { return c.cfg.LabelMode }

// Connector returns the connector as the rest of labelgate should see it: in embedded label
// mode without the Labeler capability, so the executor writes labels into file content and
// uploads them.
func (c *Conn) Connector() connectors.Connector {
	if c.cfg.LabelMode == LabelEmbedded {
		return embedded{Connector: c, Uploader: c, Subscriber: c, WebhookReceiver: c, FactOpener: c}
	}
	return c
}

type embedded struct {
	connectors.Connector
	connectors.Uploader
	connectors.Subscriber
	connectors.WebhookReceiver
	connectors.FactOpener
}

// App implements connectors.Connector.
func (c *Conn) App() connectors.App { return connectors.AppGDrive }

// Tenant implements connectors.Connector.
func (c *Conn) Tenant() string { return c.cfg.Tenant }

// client returns an HTTP client that acts as subject.
func (c *Conn) client(subject string) (*http.Client, error) {
	jc, err := google.JWTConfigFromJSON(c.cfg.ServiceAccountKey, Scopes...)
	if err != nil {
		return nil, fmt.Errorf("gdrive: service account key: %w", err)
	}
	jc.Subject = subject
	if c.cfg.TokenURL != "" {
		jc.TokenURL = c.cfg.TokenURL
	}
	// The context only carries the base client for token requests; it lives as long as c.
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, c.cfg.HTTPClient)
	return jc.Client(ctx), nil
}

// svc returns the Drive service impersonating subject, built once per subject.
func (c *Conn) svc(subject string) (*drive.Service, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.drives[subject]; ok {
		return s, nil
	}
	hc, err := c.client(subject)
	if err != nil {
		return nil, err
	}
	opts := []option.ClientOption{option.WithHTTPClient(hc)}
	if c.cfg.DriveEndpoint != "" {
		opts = append(opts, option.WithEndpoint(c.cfg.DriveEndpoint))
	}
	s, err := drive.NewService(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("gdrive: drive service: %w", err)
	}
	c.drives[subject] = s
	return s, nil
}

// driveScope says who to impersonate for a drive and which shared drive it is ("" = My Drive).
func (c *Conn) driveScope(driveID string) (subject, shared string, err error) {
	if u, ok := strings.CutPrefix(driveID, userPrefix); ok {
		return u, "", nil
	}
	if c.cfg.AdminEmail == "" {
		return "", "", connectors.Errorf(connectors.KindInvalid, "gdrive", 0, 0,
			fmt.Errorf("shared drive %s needs adminEmail to impersonate", driveID))
	}
	return c.cfg.AdminEmail, driveID, nil
}

func (c *Conn) svcFor(driveID string) (*drive.Service, string, string, error) {
	subject, shared, err := c.driveScope(driveID)
	if err != nil {
		return nil, "", "", err
	}
	s, err := c.svc(subject)
	return s, subject, shared, err
}

const userPrefix = "user:"

// Drives implements connectors.Connector: each configured user's My Drive and the shared
// drives AdminEmail is a member of.
func (c *Conn) Drives(ctx context.Context) ([]connectors.Drive, error) {
	var out []connectors.Drive
	for _, u := range c.cfg.Users {
		u = strings.ToLower(u)
		d := connectors.Drive{ID: userPrefix + u, Tenant: c.cfg.Tenant, Name: u, Owner: u}
		if c.inScope(d.ID, u) {
			out = append(out, d)
		}
	}
	if c.cfg.AdminEmail == "" {
		return out, nil
	}
	s, err := c.svc(c.cfg.AdminEmail)
	if err != nil {
		return nil, err
	}
	tok := ""
	for {
		var dl *drive.DriveList
		err := c.call(ctx, "gdrive drives.list", func() error {
			var err error
			dl, err = s.Drives.List().PageSize(100).PageToken(tok).Fields("nextPageToken,drives(id,name)").
				Context(ctx).Do()
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, sd := range dl.Drives {
			if c.inScope(sd.Id, sd.Name) {
				out = append(out, connectors.Drive{ID: sd.Id, Tenant: c.cfg.Tenant, Name: sd.Name})
			}
		}
		if tok = dl.NextPageToken; tok == "" {
			return out, nil
		}
	}
}

func (c *Conn) inScope(id, name string) bool {
	match := func(list []string) bool {
		return slices.ContainsFunc(list, func(x string) bool {
			return strings.EqualFold(x, id) || strings.EqualFold(x, name)
		})
	}
	if len(c.cfg.Include) > 0 && !match(c.cfg.Include) {
		return false
	}
	return !match(c.cfg.Exclude)
}

// fileFields are the only file fields labelgate asks for.
const fileFields = "id,name,mimeType,size,createdTime,modifiedTime,md5Checksum,headRevisionId,version,parents," +
	"driveId,trashed,webViewLink,owners(emailAddress),permissions(type,role,emailAddress,domain),labelInfo"

// Walk implements connectors.Connector. The cursor is "<position>:<page token>": the files
// already emitted from the page that token fetches.
func (c *Conn) Walk(ctx context.Context, driveID, cursor string, fn func(connectors.File, string) error) error {
	s, subject, shared, err := c.svcFor(driveID)
	if err != nil {
		return err
	}
	tok, skip, err := parseWalkCursor(cursor)
	if err != nil {
		return err
	}
	for {
		var fl *drive.FileList
		err := c.call(ctx, "gdrive files.list", func() error {
			call := s.Files.List().PageSize(c.cfg.PageSize).PageToken(tok).
				Fields(googleapi.Field("nextPageToken,files(" + fileFields + ")")).Context(ctx)
			if shared != "" {
				call = call.Corpora("drive").DriveId(shared).IncludeItemsFromAllDrives(true).SupportsAllDrives(true).
					Q("trashed = false")
			} else {
				call = call.Corpora("user").Q("'me' in owners and trashed = false")
			}
			if ids := c.labelIDs(); ids != "" {
				call = call.IncludeLabels(ids)
			}
			var err error
			fl, err = call.Do()
			return err
		})
		if err != nil {
			return err
		}
		for i, df := range fl.Files {
			if i < skip || skipped(df) {
				continue
			}
			f, err := c.toFile(ctx, driveID, subject, df)
			if err != nil {
				return err
			}
			if err := fn(f, walkCursor(tok, i+1)); err != nil {
				return err
			}
		}
		if fl.NextPageToken == "" {
			return nil
		}
		tok, skip = fl.NextPageToken, 0
	}
}

func walkCursor(tok string, pos int) string { return strconv.Itoa(pos) + ":" + tok }

func parseWalkCursor(cur string) (string, int, error) {
	if cur == "" {
		return "", 0, nil
	}
	n, tok, ok := strings.Cut(cur, ":")
	pos, err := strconv.Atoi(n)
	if !ok || err != nil || pos < 0 {
		return "", 0, connectors.Errorf(connectors.KindInvalid, "gdrive walk", 0, 0,
			fmt.Errorf("%w: bad walk cursor %q", connectors.ErrCursorExpired, cur))
	}
	return tok, pos, nil
}

// skipped says whether a listed item is not a scannable file: folders and Google-native
// documents.
func skipped(f *drive.File) bool {
	return strings.HasPrefix(f.MimeType, "application/vnd.google-apps.")
}

// Changes implements connectors.Connector.
func (c *Conn) Changes(ctx context.Context, driveID, cursor string, fn func(connectors.File) error) (string, error) {
	s, subject, shared, err := c.svcFor(driveID)
	if err != nil {
		return cursor, err
	}
	if cursor == "" {
		return c.startToken(ctx, s, shared)
	}
	tok := cursor
	for {
		var cl *drive.ChangeList
		err := c.call(ctx, "gdrive changes.list", func() error {
			call := s.Changes.List(tok).PageSize(c.cfg.PageSize).SupportsAllDrives(true).Context(ctx).
				Fields(googleapi.Field("nextPageToken,newStartPageToken,changes(changeType,fileId,removed,driveId,file(" + fileFields + "))"))
			if shared != "" {
				call = call.DriveId(shared).IncludeItemsFromAllDrives(true)
			} else {
				call = call.RestrictToMyDrive(true)
			}
			if ids := c.labelIDs(); ids != "" {
				call = call.IncludeLabels(ids)
			}
			var err error
			cl, err = call.Do()
			return err
		})
		if err != nil {
			return cursor, err
		}
		for _, ch := range cl.Changes {
			ref := connectors.FileRef{App: connectors.AppGDrive, Tenant: c.cfg.Tenant, Drive: driveID, ItemID: ch.FileId}
			switch df := ch.File; {
			case isDriveChange(ch):
				c.driveChanged(ctx, driveID, ch) // no file to report (changes_drive.go)
				continue
			case ch.Removed || df == nil:
				err = fn(connectors.File{Ref: ref, Deleted: true})
			case df.MimeType == folderMime:
				// A renamed or moved folder changes the paths below it.
				c.forgetFolders()
				continue
			case skipped(df):
				continue
			case shared == "" && !ownedBy(df, subject):
				// Files shared with this user belong to their owner's drive.
				continue
			default:
				var f connectors.File
				if f, err = c.toFile(ctx, driveID, subject, df); err == nil {
					err = fn(f)
				}
			}
			if err != nil {
				return cursor, err
			}
		}
		if cl.NewStartPageToken != "" {
			return cl.NewStartPageToken, nil
		}
		if cl.NextPageToken == "" {
			return cursor, connectors.Errorf(connectors.KindTransient, "gdrive changes.list", 0, 0,
				errors.New("response has neither nextPageToken nor newStartPageToken"))
		}
		tok = cl.NextPageToken
	}
}

func (c *Conn) startToken(ctx context.Context, s *drive.Service, shared string) (string, error) {
	var st *drive.StartPageToken
	err := c.call(ctx, "gdrive changes.getStartPageToken", func() error {
		call := s.Changes.GetStartPageToken().SupportsAllDrives(true).Context(ctx)
		if shared != "" {
			call = call.DriveId(shared)
		}
		var err error
		st, err = call.Do()
		return err
	})
	if err != nil {
		return "", err
	}
	return st.StartPageToken, nil
}

func ownedBy(f *drive.File, user string) bool {
	return slices.ContainsFunc(f.Owners, func(o *drive.User) bool { return strings.EqualFold(o.EmailAddress, user) })
}

const folderMime = "application/vnd.google-apps.folder"

// Stat implements connectors.Connector.
func (c *Conn) Stat(ctx context.Context, ref connectors.FileRef) (connectors.File, error) {
	s, subject, _, err := c.svcFor(ref.Drive)
	if err != nil {
		return connectors.File{}, err
	}
	df, err := c.get(ctx, s, ref.ItemID, fileFields)
	if err != nil {
		return connectors.File{}, err
	}
	return c.toFile(ctx, ref.Drive, subject, df)
}

func (c *Conn) get(ctx context.Context, s *drive.Service, id, fields string) (*drive.File, error) {
	var df *drive.File
	err := c.call(ctx, "gdrive files.get", func() error {
		call := s.Files.Get(id).SupportsAllDrives(true).Fields(googleapi.Field(fields)).Context(ctx)
		if ids := c.labelIDs(); ids != "" && strings.Contains(fields, "labelInfo") {
			call = call.IncludeLabels(ids)
		}
		var err error
		df, err = call.Do()
		return err
	})
	return df, err
}

// toFile maps a Drive file onto labelgate's view of it.
func (c *Conn) toFile(ctx context.Context, driveID, subject string, df *drive.File) (connectors.File, error) {
	f := connectors.File{
		Ref:     connectors.FileRef{App: connectors.AppGDrive, Tenant: c.cfg.Tenant, Drive: driveID, ItemID: df.Id},
		Name:    df.Name,
		Size:    df.Size,
		ETag:    df.HeadRevisionId,
		Deleted: df.Trashed,
		Folder:  df.MimeType == folderMime,
		WebURL:  df.WebViewLink,
	}
	if f.ETag == "" {
		f.ETag = df.Md5Checksum
	}
	if f.ETag == "" {
		f.ETag = "v" + strconv.FormatInt(df.Version, 10)
	}
	f.Created, _ = time.Parse(time.RFC3339, df.CreatedTime)
	f.Modified, _ = time.Parse(time.RFC3339, df.ModifiedTime)
	if len(df.Owners) > 0 {
		f.Owner = strings.ToLower(df.Owners[0].EmailAddress)
		f.OwnerOU = c.cfg.OwnerOU[f.Owner]
	}
	f.Access, f.Domains = c.access(df.Permissions)
	if df.LabelInfo != nil {
		f.NativeLabel = c.stateOf(df.LabelInfo.Labels).LabelID
	}
	f.Path = "/"
	if len(df.Parents) > 0 {
		p, err := c.folderPath(ctx, subject, df.Parents[0])
		if err != nil {
			return f, err
		}
		f.Path = p
	}
	return f, nil
}

// access maps Drive permissions onto labelgate's scale: anyone → public; a user, group or
// domain outside the organisation → external (with its domain); the organisation's domain
// → internal; otherwise private.
func (c *Conn) access(perms []*drive.Permission) (connectors.AccessLevel, []string) {
	level := connectors.AccessPrivate
	var domains []string
	raise := func(l connectors.AccessLevel) {
		if l.Rank() > level.Rank() {
			level = l
		}
	}
	for _, p := range perms {
		var d string
		switch p.Type {
		case "anyone":
			raise(connectors.AccessPublic)
			continue
		case "domain":
			d = strings.ToLower(p.Domain)
			if c.domain[d] {
				raise(connectors.AccessInternal)
				continue
			}
		case "user", "group":
			_, d, _ = strings.Cut(strings.ToLower(p.EmailAddress), "@")
			if d == "" || c.domain[d] {
				continue
			}
		default:
			continue
		}
		raise(connectors.AccessExternal)
		if !slices.Contains(domains, d) {
			domains = append(domains, d)
		}
	}
	slices.Sort(domains)
	return level, domains
}

// folderPath resolves a folder id to its path from the drive root, caching every folder on
// the way. A folder without parents is a root ("/").
func (c *Conn) folderPath(ctx context.Context, subject, id string) (string, error) {
	var chain []*drive.File
	path := ""
	for cur := id; ; {
		c.mu.Lock()
		p, ok := c.folders[subject+"|"+cur]
		c.mu.Unlock()
		if ok {
			path = p
			break
		}
		if len(chain) > 100 {
			return "", connectors.Errorf(connectors.KindInvalid, "gdrive folder path", 0, 0,
				fmt.Errorf("folder %s is nested too deep or in a cycle", id))
		}
		s, err := c.svc(subject)
		if err != nil {
			return "", err
		}
		df, err := c.get(ctx, s, cur, "id,name,parents")
		if err != nil {
			return "", err
		}
		chain = append(chain, df)
		if len(df.Parents) == 0 {
			break
		}
		cur = df.Parents[0]
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(chain) - 1; i >= 0; i-- {
		df := chain[i]
		switch {
		case len(df.Parents) == 0:
			path = "/"
		case path == "/":
			path = "/" + df.Name
		default:
			path = path + "/" + df.Name
		}
		c.folders[subject+"|"+df.Id] = path
	}
	return path, nil
}

func (c *Conn) forgetFolders() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.folders)
}

// Open implements connectors.Connector; every ReadAt is one ranged download.
func (c *Conn) Open(ctx context.Context, ref connectors.FileRef) (connectors.Object, error) {
	s, _, _, err := c.svcFor(ref.Drive)
	if err != nil {
		return nil, err
	}
	df, err := c.get(ctx, s, ref.ItemID, "id,size,mimeType")
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(df.MimeType, "application/vnd.google-apps.") {
		return nil, connectors.Errorf(connectors.KindInvalid, "gdrive open", 0, 0,
			fmt.Errorf("%s is a Google-native %s: %w", ref.ItemID, df.MimeType, connectors.ErrUnsupported))
	}
	return &object{ctx: ctx, c: c, s: s, id: ref.ItemID, size: df.Size}, nil
}

type object struct {
	ctx  context.Context
	c    *Conn
	s    *drive.Service
	id   string
	size int64
}

func (o *object) Size() int64  { return o.size }
func (o *object) Close() error { return nil }

func (o *object) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("gdrive: negative offset %d", off)
	}
	if off >= o.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	end := min(off+int64(len(p)), o.size)
	var n int
	err := o.c.call(o.ctx, "gdrive download", func() error {
		call := o.s.Files.Get(o.id).SupportsAllDrives(true).Context(o.ctx)
		call.Header().Set("Range", fmt.Sprintf("bytes=%d-%d", off, end-1))
		res, err := call.Download()
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusPartialContent {
			// The range was ignored: skip to the offset in the full body.
			if _, err := io.CopyN(io.Discard, res.Body, off); err != nil {
				return err
			}
		}
		n, err = io.ReadFull(res.Body, p[:end-off])
		return err
	})
	if err != nil {
		return n, err
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Upload implements connectors.Uploader: the content becomes the file's new head revision,
// keeping its MIME type.
func (c *Conn) Upload(ctx context.Context, ref connectors.FileRef, content io.Reader, size int64) error {
	s, _, _, err := c.svcFor(ref.Drive)
	if err != nil {
		return err
	}
	df, err := c.get(ctx, s, ref.ItemID, "id,mimeType")
	if err != nil {
		return err
	}
	if size >= 0 {
		content = io.LimitReader(content, size)
	}
	return c.call(ctx, "gdrive files.update", func() error {
		// ChunkSize(0) sends one multipart request streaming the content; a resumable upload
		// would need a seekable source to retry.
		_, err := s.Files.Update(ref.ItemID, &drive.File{}).SupportsAllDrives(true).Fields("id").
			Media(content, googleapi.ContentType(df.MimeType), googleapi.ChunkSize(0)).Context(ctx).Do()
		return err
	})
}
