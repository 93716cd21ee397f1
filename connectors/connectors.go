// Package connectors defines the contract between labelgate and a storage provider.
//
// Everything outside connectors/<provider> depends on these types only. A connector
// implements Connector; optional capabilities (Labeler, Subscriber, WebhookReceiver) are
// discovered with a type assertion and pinned at compile time in each provider package,
// e.g. `var _ connectors.Labeler = (*Conn)(nil)`.
package connectors

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// App names a provider workload. Quotas, inventory and policies are kept per app, so
// SharePoint and OneDrive are two apps although they share one Graph core.
type App string

// The apps labelgate knows.
const (
	AppSharePoint App = "sharepoint"
	AppOneDrive   App = "onedrive"
	AppGDrive     App = "gdrive"
	AppBox        App = "box"
	AppFileShare  App = "fileshare"
)

// AccessLevel is a provider's sharing mapped onto one scale that policies can compare.
type AccessLevel string

// Access levels, widest last.
const (
	AccessPrivate  AccessLevel = "private"
	AccessInternal AccessLevel = "internal"
	AccessExternal AccessLevel = "external"
	AccessPublic   AccessLevel = "public"
)

// Rank orders access levels so "widened" can be detected; unknown levels rank lowest.
func (a AccessLevel) Rank() int {
	switch a {
	case AccessInternal:
		return 1
	case AccessExternal:
		return 2
	case AccessPublic:
		return 3
	}
	return 0
}

// FileRef names one file at a provider. (App, Tenant, Drive, ItemID) is unique.
type FileRef struct {
	App    App    `json:"app"`
	Tenant string `json:"tenant"`
	Drive  string `json:"drive"`
	ItemID string `json:"itemId"`
}

// Key is a stable string form of the ref, used as the dedup key in queues.
func (r FileRef) Key() string {
	return string(r.App) + "/" + r.Tenant + "/" + r.Drive + "/" + r.ItemID
}

// File is what a connector knows about a file without reading its content.
type File struct {
	Ref      FileRef     `json:"ref"`
	Path     string      `json:"path"` // folder path of the file inside its drive, "/" separated, starting with "/", without the name
	Name     string      `json:"name"`
	Size     int64       `json:"size"`
	Created  time.Time   `json:"created"`
	Modified time.Time   `json:"modified"`
	ETag     string      `json:"etag"` // changes whenever the content changes
	Owner    string      `json:"owner"`
	OwnerOU  string      `json:"ownerOU,omitempty"`
	Groups   []string    `json:"groups,omitempty"` // groups the owner belongs to, where the provider says
	Access   AccessLevel `json:"access"`
	Domains  []string    `json:"sharedDomains,omitempty"` // domains the file is shared with
	Deleted  bool        `json:"deleted,omitempty"`
	Folder   bool        `json:"folder,omitempty"`
	WebURL   string      `json:"webUrl,omitempty"`
	// NativeLabel is the label the provider reports through its own label API, when the
	// listing carries it (Drive labels, Box classification). Empty when unknown.
	NativeLabel string `json:"nativeLabel,omitempty"`
}

// Drive is one unit a connector subscribes to and reads a change feed for: a document
// library, a user's OneDrive, a Drive user corpus or shared drive, a Box root folder.
type Drive struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	Name   string `json:"name"`
	Owner  string `json:"owner,omitempty"`
}

// Object is an open file for ranged reads; connectors back ReadAt with HTTP Range requests.
type Object interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// Connector is the part every provider implements.
type Connector interface {
	App() App
	Tenant() string
	// Drives lists the drives in scope (after configured include/exclude lists).
	Drives(ctx context.Context) ([]Drive, error)
	// Walk streams every file of a drive to fn, starting after cursor ("" = from the start).
	// The cursor passed to fn with each file resumes the walk right after that file.
	Walk(ctx context.Context, drive string, cursor string, fn func(f File, cursor string) error) error
	// Changes reads the change feed of a drive from cursor ("" = establish a cursor now,
	// reporting no changes) and returns the cursor to store. It returns an error wrapping
	// ErrCursorExpired when the provider demands a full resync.
	Changes(ctx context.Context, drive string, cursor string, fn func(File) error) (string, error)
	// Stat returns the current facts of one file.
	Stat(ctx context.Context, ref FileRef) (File, error)
	// Open opens a file for ranged reads.
	Open(ctx context.Context, ref FileRef) (Object, error)
}

// Label is one entry of a provider's label catalog.
type Label struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
	Parent      string `json:"parent,omitempty"`
	Priority    int    `json:"priority"` // higher = more sensitive
	Tenant      string `json:"tenant"`
	Protection  bool   `json:"protection"` // applying it encrypts the file
	Disabled    bool   `json:"disabled"`
	// Native is the provider-side identifier where it differs from the MIP label id
	// (a Drive label/field/choice, a Box classification key).
	Native string `json:"native,omitempty"`
}

// LabelState is a file's label as the provider reports it natively.
type LabelState struct {
	LabelID   string `json:"labelId"` // "" when the file has none
	Tenant    string `json:"tenant,omitempty"`
	Method    string `json:"method,omitempty"` // standard, privileged, auto
	Protected bool   `json:"protected,omitempty"`
}

// ApplyOptions are passed along with a label write.
type ApplyOptions struct {
	Method        string // standard, privileged, auto
	Justification string
}

// Labeler is implemented by connectors with a native label API.
type Labeler interface {
	Catalog(ctx context.Context) ([]Label, error)
	ReadLabel(ctx context.Context, ref FileRef) (LabelState, error)
	ApplyLabel(ctx context.Context, ref FileRef, labelID string, opts ApplyOptions) error
	RemoveLabel(ctx context.Context, ref FileRef, opts ApplyOptions) error
}

// Uploader is implemented by connectors that can store a new version of a file's content,
// used when a label is written into the file instead of through a native API.
type Uploader interface {
	Upload(ctx context.Context, ref FileRef, content io.Reader, size int64) error
}

// ConditionalUploader is implemented by connectors whose provider accepts a conditional write:
// the new version is stored only while the file's current ETag equals etag (If-Match), so a
// user's edit made between labelgate's read and its upload is never lost. A refusal returns an
// *Error of KindChanged.
type ConditionalUploader interface {
	UploadIfMatch(ctx context.Context, ref FileRef, etag string, content io.Reader, size int64) error
}

// Subscription is a provider push registration (Graph subscription, Drive channel, Box webhook).
type Subscription struct {
	ID         string    `json:"id"`
	Drive      string    `json:"drive"`
	Resource   string    `json:"resource,omitempty"` // provider's resource id (Drive resourceId, Box target)
	Secret     string    `json:"-"`                  // clientState / channel token: never logged
	Expires    time.Time `json:"expires"`
	CreatedAt  time.Time `json:"createdAt"`
	RenewedAt  time.Time `json:"renewedAt,omitempty"`
	NotifyURL  string    `json:"notifyUrl"`
	LastError  string    `json:"lastError,omitempty"`
	Provider   string    `json:"provider,omitempty"`
	Lifecycled bool      `json:"-"`
}

// Subscriber is implemented by connectors that push change notifications.
type Subscriber interface {
	Subscribe(ctx context.Context, drive Drive, notifyURL string) (Subscription, error)
	// Renew extends a subscription, or replaces it where the provider cannot extend
	// (Drive channels); the returned subscription is the one to keep.
	Renew(ctx context.Context, sub Subscription) (Subscription, error)
	Unsubscribe(ctx context.Context, sub Subscription) error
	// RenewBefore says how long before expiry renewal should happen.
	RenewBefore() time.Duration
}

// NoticeKind is what a verified notification asks labelgate to do.
type NoticeKind string

// Notice kinds.
const (
	NoticeChanged     NoticeKind = "changed"     // read the change feed of Drive (or rescan ItemID)
	NoticeMissed      NoticeKind = "missed"      // notifications were lost: read the change feed
	NoticeReauthorize NoticeKind = "reauthorize" // the subscription needs reauthorizing
	NoticeRemoved     NoticeKind = "removed"     // the subscription is gone: recreate it
)

// Notice is one verified notification.
type Notice struct {
	Kind           NoticeKind `json:"kind"`
	App            App        `json:"app"`
	Tenant         string     `json:"tenant"`
	Drive          string     `json:"drive"`
	ItemID         string     `json:"itemId,omitempty"` // set when the provider names the file (Box)
	SubscriptionID string     `json:"subscriptionId,omitempty"`
	// DedupKey identifies a delivery so replays and duplicate deliveries are dropped.
	DedupKey string `json:"dedupKey,omitempty"`
}

// Request is an incoming webhook request as the ingress saw it: the raw body, already read
// under a size limit, and the parts of the request a verifier needs.
type Request struct {
	Header http.Header
	Query  url.Values
	Body   []byte
	Now    time.Time
}

// Reply is what the ingress answers. A zero Reply means 202 Accepted with no body.
type Reply struct {
	Status      int
	ContentType string
	Body        []byte
}

// WebhookReceiver verifies and parses a provider's notifications. It must fail closed: an
// error (wrapping ErrForged or ErrMalformed) means the request changes nothing.
type WebhookReceiver interface {
	Receive(ctx context.Context, req Request) (Reply, []Notice, error)
}

// SubscriptionLookup finds a subscription a connector created earlier, so its receiver can
// verify a notification's secret (clientState, channel token) against the stored one. The
// store implements it; tests can use MemSubscriptions.
type SubscriptionLookup interface {
	Subscription(ctx context.Context, app App, tenant, id string) (Subscription, bool, error)
}

// MemSubscriptions is an in-memory SubscriptionLookup for tests and the one-shot CLI.
type MemSubscriptions struct {
	mu   sync.Mutex
	subs map[string]Subscription
}

// Put records a subscription.
func (m *MemSubscriptions) Put(app App, tenant string, s Subscription) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.subs == nil {
		m.subs = map[string]Subscription{}
	}
	m.subs[string(app)+"/"+tenant+"/"+s.ID] = s
}

// Delete forgets a subscription.
func (m *MemSubscriptions) Delete(app App, tenant, id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.subs, string(app)+"/"+tenant+"/"+id)
}

// Subscription implements SubscriptionLookup.
func (m *MemSubscriptions) Subscription(_ context.Context, app App, tenant, id string) (Subscription, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subs[string(app)+"/"+tenant+"/"+id]
	return s, ok, nil
}
