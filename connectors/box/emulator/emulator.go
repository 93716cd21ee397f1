// Package emulator provides an in-process Box REST API v2.0 server for tests and the demo:
// CCG tokens, folders and files, downloads with Range, new-version uploads, collaborations,
// shared links, classification metadata, the changes event stream and signed webhook
// deliveries, with fault injection.
package emulator

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labelgate/labelgate/connectors/internal/chaos"
)

// Classification template names, fixed in every Box enterprise.
const (
	TemplateScope = "enterprise"
	TemplateKey   = "securityClassification-6VMVochwUWo"
	FieldKey      = "Box__Security__Classification__Key"
)

// Options configures an emulator.
type Options struct {
	EnterpriseID string // default "E1000"
	ClientID     string // default "client"
	ClientSecret string // default "secret"
	PrimaryKey   string // webhook signature keys; default "primary-key"/"secondary-key"
	SecondaryKey string
	// Manifest is a JSON manifest file to seed the state from (see Manifest); content paths
	// in it are relative to its directory.
	Manifest string
	// Seed is used instead of Manifest when set; content paths are relative to SeedDir.
	Seed    *Manifest
	SeedDir string
	Now     func() time.Time
	Logger  *slog.Logger
	// HTTPClient sends webhook deliveries; default a client with a 10s timeout.
	HTTPClient *http.Client
	// DeliveryRetries is how often a delivery not answered 2xx is retried (Box: up to 12
	// times over two hours); default 2. RetryDelay is the pause between attempts; default 0.
	DeliveryRetries int
	RetryDelay      time.Duration
	// Retention is how long events stay in the stream (Box: 21 days for changes, 14 for
	// admin_logs_streaming); default 14 days, on Now's clock.
	Retention time.Duration
	// MaxWebhooks is Box's limit of webhooks per app per user; default 1000.
	MaxWebhooks int
	// AdminEvents lets the service account read admin_logs_streaming (see SetAdminEvents).
	AdminEvents bool
	// Middleware, when set, wraps the emulator's handler (the schema suite records with it).
	Middleware func(http.Handler) http.Handler
}

// Manifest is the seed state of an emulated enterprise.
type Manifest struct {
	Users           []ManifestUser           `json:"users"`
	Classifications []ManifestClassification `json:"classifications"`
	Folders         []ManifestItem           `json:"folders"`
	Files           []ManifestItem           `json:"files"`
}

// ManifestUser is a Box user; users outside the enterprise are collaborators only.
type ManifestUser struct {
	ID    string `json:"id"`
	Login string `json:"login"`
	Name  string `json:"name"`
}

// ManifestClassification is one option of the classification template, least sensitive first.
type ManifestClassification struct {
	Key        string `json:"key"`
	Definition string `json:"definition"`
	ColorID    int    `json:"colorID"`
}

// ManifestItem is a folder or file. Collaborators are logins, or "group:<name>".
type ManifestItem struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	Parent         string    `json:"parent"` // default "0"
	Owner          string    `json:"owner"`  // a login; default the service account
	SharedLink     string    `json:"sharedLink,omitempty"`
	Collaborators  []string  `json:"collaborators,omitempty"`
	Classification string    `json:"classification,omitempty"`
	ContentFile    string    `json:"contentFile,omitempty"` // path relative to the manifest
	Text           string    `json:"text,omitempty"`        // inline content
	Created        time.Time `json:"created,omitzero"`
}

type user struct {
	id, login, name string
}

type collab struct {
	id     string
	login  string // user collaborator
	group  string // group collaborator
	role   string
	status string
}

type item struct {
	id, name, parent string
	folder           bool
	owner            *user
	created          time.Time
	modified         time.Time
	versions         [][]byte
	sharedLink       string // access: open, company, collaborators; "" = none
	// linkSeq numbers the item's shared links: a link created again gets a new URL, as
	// Box's does. linkUnsharedAt and linkCanDownload are the link's settings.
	linkSeq         int
	linkUnsharedAt  *time.Time
	linkCanDownload *bool
	collabs         []collab
	classification  string
	trashed         bool
	etag            int
}

func (it *item) content() []byte {
	if len(it.versions) == 0 {
		return nil
	}
	return it.versions[len(it.versions)-1]
}

func (it *item) sha1() string {
	s := sha1.Sum(it.content())
	return hex.EncodeToString(s[:])
}

type event struct {
	id     string
	typ    string
	at     time.Time
	source map[string]any
}

type webhook struct {
	id         string
	targetID   string
	targetType string
	address    string
	triggers   []string
	created    time.Time
}

// Fault makes matching API requests fail. An empty Method or Path matches any; Path is a
// prefix of the request path after /2.0 (e.g. "/events", "/files/12/content").
type Fault struct {
	Method     string
	Path       string
	Status     int
	Code       string
	RetryAfter time.Duration
	Times      int // default 1
}

// Delivery is one webhook delivery attempt the emulator made (or dropped). ID is the
// BOX-DELIVERY-ID, new on every attempt; PayloadID is the body's id, the same on retries.
type Delivery struct {
	ID        string
	PayloadID string
	Attempt   int // 0 for the first attempt, then retries
	WebhookID string
	Trigger   string
	SourceID  string
	Header    http.Header
	Body      []byte
	Status    int
	Err       string
	Dropped   bool
}

// Emulator is an in-process Box.
type Emulator struct {
	opts   Options
	srv    *httptest.Server
	log    *slog.Logger
	now    func() time.Time
	client *http.Client

	mu              sync.Mutex
	nextID          int
	tokens          map[string]bool
	issued          int
	users           map[string]*user // by login
	service         *user
	items           map[string]*item
	classifications []ManifestClassification
	events          []event
	expiredBefore   int // index of the first event still served
	posBase         int // stream position of event index 0
	webhooks        map[string]*webhook
	webhookOrder    []string
	faults          []Fault
	notReady        map[string]time.Duration
	labelWrites     map[string]int
	grantRemovals   map[string]int // per item (GrantRemovals)
	rangeReads      int
	dropDeliveries  int
	dupDeliveries   int
	secondaryOnly   bool
	primaryKey      string
	secondaryKey    string
	deliveries      []Delivery
	chaos           chaos.Injector
	adminEvents     bool
	webhookCreates  int
	webhookUpdates  int
}

// New starts an emulator.
func New(opts Options) (*Emulator, error) {
	if opts.EnterpriseID == "" {
		opts.EnterpriseID = "E1000"
	}
	if opts.ClientID == "" {
		opts.ClientID = "client"
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = "secret"
	}
	if opts.PrimaryKey == "" {
		opts.PrimaryKey = "primary-key"
	}
	if opts.SecondaryKey == "" {
		opts.SecondaryKey = "secondary-key"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.DeliveryRetries == 0 {
		opts.DeliveryRetries = 2
	}
	if opts.DeliveryRetries < 0 {
		opts.DeliveryRetries = 0
	}
	if opts.Retention <= 0 {
		opts.Retention = 14 * 24 * time.Hour
	}
	if opts.MaxWebhooks <= 0 {
		opts.MaxWebhooks = 1000
	}
	e := &Emulator{
		opts: opts, log: opts.Logger, now: opts.Now, client: opts.HTTPClient,
		nextID:      900000,
		posBase:     1000,
		tokens:      map[string]bool{},
		users:       map[string]*user{},
		items:       map[string]*item{},
		webhooks:    map[string]*webhook{},
		notReady:    map[string]time.Duration{},
		labelWrites: map[string]int{}, grantRemovals: map[string]int{},
		primaryKey:   opts.PrimaryKey,
		secondaryKey: opts.SecondaryKey,
		adminEvents:  opts.AdminEvents,
	}
	e.service = &user{id: "1", login: "AutomationUser_" + opts.EnterpriseID + "@boxdevedition.com", name: "labelgate"}
	e.users[e.service.login] = e.service
	now := e.now().UTC().Truncate(time.Second)
	e.items["0"] = &item{id: "0", name: "All Files", folder: true, owner: e.service, created: now, modified: now}
	seed, dir := opts.Seed, opts.SeedDir
	if seed == nil && opts.Manifest != "" {
		raw, err := os.ReadFile(opts.Manifest)
		if err != nil {
			return nil, fmt.Errorf("box emulator: %w", err)
		}
		seed = &Manifest{}
		if err := json.Unmarshal(raw, seed); err != nil {
			return nil, fmt.Errorf("box emulator: manifest %s: %w", opts.Manifest, err)
		}
		dir = filepath.Dir(opts.Manifest)
	}
	if seed != nil {
		if err := e.load(seed, dir); err != nil {
			return nil, err
		}
	}
	h := e.routes()
	if opts.Middleware != nil {
		h = opts.Middleware(h)
	}
	e.srv = httptest.NewServer(h)
	return e, nil
}

func (e *Emulator) load(m *Manifest, dir string) error {
	for _, u := range m.Users {
		e.users[u.Login] = &user{id: u.ID, login: u.Login, name: u.Name}
	}
	e.classifications = slices.Clone(m.Classifications)
	now := e.now().UTC().Truncate(time.Second)
	add := func(mi ManifestItem, folder bool) error {
		if mi.ID == "" || mi.Name == "" {
			return errors.New("box emulator: manifest item needs an id and a name")
		}
		if _, dup := e.items[mi.ID]; dup {
			return fmt.Errorf("box emulator: duplicate item id %s", mi.ID)
		}
		parent := mi.Parent
		if parent == "" {
			parent = "0"
		}
		if p, ok := e.items[parent]; !ok || !p.folder {
			return fmt.Errorf("box emulator: item %s: parent folder %s not defined before it", mi.ID, parent)
		}
		created := mi.Created
		if created.IsZero() {
			created = now
		}
		it := &item{id: mi.ID, name: mi.Name, parent: parent, folder: folder, owner: e.userFor(mi.Owner),
			created: created, modified: created, sharedLink: mi.SharedLink, classification: mi.Classification}
		for _, c := range mi.Collaborators {
			it.collabs = append(it.collabs, e.newCollab(c, "viewer"))
		}
		if !folder {
			var content []byte
			switch {
			case mi.ContentFile != "":
				b, err := os.ReadFile(filepath.Join(dir, mi.ContentFile))
				if err != nil {
					return fmt.Errorf("box emulator: item %s: %w", mi.ID, err)
				}
				content = b
			default:
				content = []byte(mi.Text)
			}
			it.versions = [][]byte{content}
		}
		e.items[it.id] = it
		return nil
	}
	for _, f := range m.Folders {
		if err := add(f, true); err != nil {
			return err
		}
	}
	for _, f := range m.Files {
		if err := add(f, false); err != nil {
			return err
		}
	}
	return nil
}

// URL is the server's base URL; the API is under URL()+"/2.0".
func (e *Emulator) URL() string { return e.srv.URL }

// APIURL is the API base URL to configure a client with.
func (e *Emulator) APIURL() string { return e.srv.URL + "/2.0" }

// UploadURL is the upload base URL.
func (e *Emulator) UploadURL() string { return e.srv.URL + "/api/2.0" }

// TokenURL is the OAuth 2.0 token endpoint.
func (e *Emulator) TokenURL() string { return e.srv.URL + "/oauth2/token" }

// EnterpriseID is the emulated enterprise.
func (e *Emulator) EnterpriseID() string { return e.opts.EnterpriseID }

// Close stops the server.
func (e *Emulator) Close() { e.srv.Close() }

func (e *Emulator) newID() string {
	e.nextID++
	return strconv.Itoa(e.nextID)
}

// userFor returns the user with login, creating it (as a user outside any manifest) when
// unknown; "" is the service account.
func (e *Emulator) userFor(login string) *user {
	if login == "" {
		return e.service
	}
	if u, ok := e.users[login]; ok {
		return u
	}
	e.nextID++
	u := &user{id: strconv.Itoa(e.nextID), login: login, name: login}
	e.users[login] = u
	return u
}

func (e *Emulator) newCollab(who, role string) collab {
	e.nextID++
	c := collab{id: strconv.Itoa(e.nextID), role: role, status: "accepted"}
	if g, ok := strings.CutPrefix(who, "group:"); ok {
		c.group = g
	} else {
		c.login = e.userFor(who).login
	}
	return c
}
