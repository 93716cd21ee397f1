// Package emulator provides an in-memory Microsoft Graph (SharePoint, OneDrive, subscriptions,
// sensitivity labels, client-credentials token endpoint) with fault injection, for tests and demos.
package emulator

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/labelgate/labelgate/connectors/internal/chaos"
)

// Options configure an emulator.
type Options struct {
	Manifest *Manifest // seed state; nil = a tenant with one site, one user and a few labels
	PageSize int       // items per page of children, delta, users and sites; default 100
	// MonitorPolls is how many monitor polls an assignSensitivityLabel job answers
	// "inProgress" before it completes; default 1.
	MonitorPolls int
	// MonitorRetryAfter is sent as Retry-After on in-progress monitor answers (0 = none).
	MonitorRetryAfter time.Duration
	// ClientID and ClientSecret, when set, make the token endpoint check them and every API
	// call require a bearer token it issued.
	ClientID, ClientSecret string
	// Roles are the application permissions the app registration was granted (admin
	// consent); tokens carry them in their "roles" claim and every API call is checked
	// against the permissions its endpoint needs (permissions.go). nil = DefaultRoles.
	// Only checked when ClientID is set (anonymous calls carry no token to check).
	Roles []string
	// MeteredBilling says the app registration is linked to an Azure subscription (a
	// Microsoft.GraphServices/accounts resource). Without it the metered, protected
	// assignSensitivityLabel answers 402 paymentRequired, as Graph does; LinkBilling
	// changes it later.
	MeteredBilling bool
	// MonitorSeeOther makes a completed assignSensitivityLabel monitor answer 303 See Other
	// (Location: the driveItem) instead of 200 {"status":"completed"}; Graph's
	// long-running-operation monitors may answer either.
	MonitorSeeOther bool
	// ExtractWrapped answers extractSensitivityLabels as the docs' example does,
	// {"value":{"labels":[…]}}, instead of the bare result the v1.0 CSDL declares.
	ExtractWrapped bool
	// BatchWindow holds change notifications raised by API calls (uploads, label jobs) this
	// long, so that notifications of several subscriptions sharing a notification URL go out
	// in one POST, as Graph batches them; default 20ms.
	BatchWindow      time.Duration
	DownloadTTL      time.Duration // lifetime of download URLs; default 1h
	HandshakeTimeout time.Duration // subscription validation deadline; default 10s
	Seed             uint64        // seeds the RNG of random faults
	Logger           *slog.Logger
	Now              func() time.Time
	// Middleware, when set, wraps the emulator's handler (the schema suite records with it).
	Middleware func(http.Handler) http.Handler
}

type item struct {
	id, drive, parent string
	name              string
	folder            bool
	content           []byte
	version           int
	created, modified time.Time
	owner             string  // UPN
	shares            []Share // grants made on the item itself (inherit.go)
	// unique marks an item that broke permission inheritance without grants of its own.
	unique      bool
	label       string
	labelMethod string
	protected   bool
	// lockCode, when set, is the 423 error code assignSensitivityLabel answers for the file:
	// fileDoubleKeyEncrypted, fileDecryptionNotSupported or fileDecryptionDeferred.
	lockCode string
	deleted  bool
	seq      int64
}

type drive struct {
	id, name, kind string // kind: documentLibrary or business
	site           string
	owner          string // UPN for OneDrive
	root           string
	webURL         string
}

type subscription struct {
	wire     wSubscription
	drive    string
	expires  time.Time
	removed  bool
	reauthed int
}

type monitor struct {
	item, label, method string
	polls               int
	done                bool
}

type download struct {
	item    string
	expires time.Time
}

type upload struct {
	item    string
	ifMatch string
	buf     []byte
	size    int64
	expires time.Time
}

type fault struct {
	prefix     string
	status     int
	retryAfter time.Duration
	n          int     // remaining, when prob == 0
	prob       float64 // chance per request, when > 0
	delay      time.Duration
}

// Delivery records one notification the emulator POSTed (or dropped).
type Delivery struct {
	Subscription  string   // the first subscription the POST carried an entry for
	Subscriptions []string // every subscription it carried an entry for (Graph batches them)
	URL           string
	Lifecycle     string
	Status        int
	Dropped       bool
	Err           error
}

// Server is a running emulator.
type Server struct {
	opts Options
	log  *slog.Logger
	srv  *httptest.Server
	hc   *http.Client
	wg   sync.WaitGroup

	mu         sync.Mutex
	tenant     Tenant
	users      []User
	sites      []Site
	labels     []Label
	drives     map[string]*drive
	driveOrder []string
	items      map[string]*item
	children   map[string]map[string]struct{}
	seq        int64
	epoch      int
	// deltaSnaps keeps each running delta enumeration's sorted entries, so a page costs a
	// binary search instead of a sort of the whole drive (a million-file tenant's walk
	// spent the emulator's CPU re-sorting every item for every page).
	deltaSnaps map[deltaSnapKey][]deltaEntry
	resyncCode string
	nextID     int
	subs       map[string]*subscription
	monitors   map[string]*monitor
	downloads  map[string]download
	uploads    map[string]*upload
	tokens     map[string]token
	roles      []string
	billing    bool
	batches    map[string]*batch // notification URL → notifications waiting to go out together
	faults     []*fault
	rng        *rand.Rand
	drop       int
	deliveries []Delivery
	requests   map[string]int // "METHOD /path" → count
	served     map[string]int64
	ranges     map[string]int
	labelW     map[string]int
	// grantRemovals counts grants removed per item (GrantRemovals).
	grantRemovals map[string]int
	guests        map[string]bool // outside addresses that are guests of the tenant (sharing.go)
	chaos         chaos.Injector
}

// New starts an emulator on a local port.
func New(opts Options) (*Server, error) {
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	if opts.MonitorPolls <= 0 {
		opts.MonitorPolls = 1
	}
	if opts.DownloadTTL <= 0 {
		opts.DownloadTTL = time.Hour
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Roles == nil {
		opts.Roles = DefaultRoles()
	}
	if opts.BatchWindow <= 0 {
		opts.BatchWindow = 20 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := opts.Manifest
	if m == nil {
		m = DefaultManifest()
	}
	s := &Server{
		opts:      opts,
		log:       opts.Logger,
		hc:        &http.Client{Timeout: opts.HandshakeTimeout},
		tenant:    m.Tenant,
		users:     m.Users,
		sites:     m.Sites,
		labels:    m.Labels,
		drives:    map[string]*drive{},
		items:     map[string]*item{},
		children:  map[string]map[string]struct{}{},
		subs:      map[string]*subscription{},
		monitors:  map[string]*monitor{},
		downloads: map[string]download{},
		uploads:   map[string]*upload{},
		tokens:    map[string]token{},
		roles:     opts.Roles,
		billing:   opts.MeteredBilling,
		batches:   map[string]*batch{},
		rng:       rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		requests:  map[string]int{},
		served:    map[string]int64{},
		ranges:    map[string]int{},
		labelW:    map[string]int{}, grantRemovals: map[string]int{},
		guests: map[string]bool{},
	}
	for _, site := range m.Sites {
		for _, lib := range site.Libraries {
			s.addDrive(&drive{id: lib.ID, name: lib.Name, kind: "documentLibrary", site: site.ID, webURL: site.WebURL + "/" + lib.Name})
		}
	}
	for _, u := range m.Users {
		if u.Drive != "" {
			s.addDrive(&drive{id: u.Drive, name: "OneDrive", kind: "business", owner: u.UPN, webURL: "https://" + s.domain() + "/personal/" + u.ID + "/Documents"})
		}
	}
	for _, f := range m.Files {
		if _, ok := s.drives[f.Drive]; !ok {
			return nil, fmt.Errorf("manifest file %s: unknown drive %q", f.Path, f.Drive)
		}
		dir, name := path.Split(f.Path)
		it := s.create(f.Drive, s.mkdirs(f.Drive, dir, f.Owner), name, f.Owner, f.data)
		it.shares = s.withShareIDs(f.Sharing)
		it.label, it.protected, it.lockCode = f.Label, f.Protected, f.LockCode
		if f.Locked && it.lockCode == "" {
			it.lockCode = LockDoubleKey
		}
		if it.label != "" {
			it.labelMethod = "standard"
		}
	}
	for _, f := range m.Folders {
		if _, err := s.setFolder(f); err != nil {
			return nil, fmt.Errorf("manifest folder %s: %w", f.Path, err)
		}
	}
	h := s.routes()
	if opts.Middleware != nil {
		h = opts.Middleware(h)
	}
	s.srv = httptest.NewServer(h)
	return s, nil
}

// DefaultManifest is a small tenant: one site with one library, two users with OneDrives,
// one without, and a label catalog with a parent, a sublabel and a protecting label.
func DefaultManifest() *Manifest {
	return &Manifest{
		Tenant: Tenant{ID: "11111111-2222-3333-4444-555555555555", Domains: []string{"contoso.com", "contoso.onmicrosoft.com"}},
		Users: []User{
			{ID: "u-adele", UPN: "adele@contoso.com", DisplayName: "Adele Vance", Drive: "b!onedrive-adele"},
			{ID: "u-bob", UPN: "bob@contoso.com", DisplayName: "Bob Kelly", Drive: "b!onedrive-bob"},
			{ID: "u-nodrive", UPN: "kiosk@contoso.com", DisplayName: "Kiosk"},
		},
		Sites: []Site{{ID: "contoso.sharepoint.com,site-hr,web-hr", Name: "hr", WebURL: "https://contoso.sharepoint.com/sites/hr",
			Libraries: []Library{{ID: "b!hr-documents", Name: "Documents"}}}},
		Labels: []Label{
			{ID: "lbl-public", Name: "Public", DisplayName: "Public", Priority: 0},
			{ID: "lbl-general", Name: "General", DisplayName: "General", Priority: 1},
			{ID: "lbl-confidential", Name: "Confidential", DisplayName: "Confidential", Priority: 2},
			{ID: "lbl-conf-finance", Name: "Finance", DisplayName: "Confidential\\Finance", Parent: "lbl-confidential", Priority: 3},
			{ID: "lbl-highly", Name: "Highly Confidential", DisplayName: "Highly Confidential", Priority: 4, Protection: true},
			{ID: "lbl-retired", Name: "Retired", DisplayName: "Retired", Priority: 1, Disabled: true},
		},
	}
}

// URL is the emulator's origin, e.g. http://127.0.0.1:1234; the Graph base is URL()+"/v1.0".
func (s *Server) URL() string { return s.srv.URL }

// GraphURL is the base URL to give the SDK's request adapter.
func (s *Server) GraphURL() string { return s.srv.URL + "/v1.0" }

// TokenURL is the client-credentials token endpoint for the tenant.
func (s *Server) TokenURL() string { return s.srv.URL + "/" + s.tenant.ID + "/oauth2/v2.0/token" }

// TenantID is the emulated tenant's id.
func (s *Server) TenantID() string { return s.tenant.ID }

// Close stops the server after in-flight notifications finish.
func (s *Server) Close() {
	s.srv.Close()
	s.wg.Wait()
}

func (s *Server) domain() string {
	if len(s.tenant.Domains) > 0 {
		return s.tenant.Domains[0]
	}
	return "contoso.com"
}

func (s *Server) addDrive(d *drive) {
	s.nextID++
	root := &item{id: fmt.Sprintf("%s-root", d.id), drive: d.id, name: "root", folder: true, created: s.opts.Now(), modified: s.opts.Now(), version: 1}
	d.root = root.id
	s.drives[d.id] = d
	s.driveOrder = append(s.driveOrder, d.id)
	s.seq++
	root.seq = s.seq
	s.items[root.id] = root
}

func (s *Server) newID() string {
	s.nextID++
	return fmt.Sprintf("01EMU%011d", s.nextID)
}

// create adds an item; callers hold mu (or are in New).
func (s *Server) create(driveID, parent, name, owner string, content []byte) *item {
	now := s.opts.Now().UTC()
	it := &item{id: s.newID(), drive: driveID, parent: parent, name: name, content: content, version: 1, created: now, modified: now, owner: owner}
	s.items[it.id] = it
	if s.children[parent] == nil {
		s.children[parent] = map[string]struct{}{}
	}
	s.children[parent][it.id] = struct{}{}
	s.touch(it)
	return it
}

// touch records a change of it in its drive's delta feed.
func (s *Server) touch(it *item) {
	s.seq++
	it.seq = s.seq
}

func (s *Server) mkdirs(driveID, dir, owner string) string {
	parent := s.drives[driveID].root
	for _, seg := range strings.Split(strings.Trim(dir, "/"), "/") {
		if seg == "" {
			continue
		}
		found := ""
		for id := range s.children[parent] {
			if c := s.items[id]; c.folder && !c.deleted && c.name == seg {
				found = id
				break
			}
		}
		if found == "" {
			f := s.create(driveID, parent, seg, owner, nil)
			f.folder = true
			found = f.id
		}
		parent = found
	}
	return parent
}

// folderPath is the "/a/b" path of a folder item ("" for the root).
func (s *Server) folderPath(id string) string {
	var segs []string
	for {
		it := s.items[id]
		if it == nil || it.parent == "" {
			break
		}
		segs = append([]string{it.name}, segs...)
		id = it.parent
	}
	if len(segs) == 0 {
		return ""
	}
	return "/" + strings.Join(segs, "/")
}

// ---- control methods for tests and demos ----

// AddFile creates a file at folder/name in a drive (folders are created) and notifies
// subscribers. It returns the item id.
func (s *Server) AddFile(driveID, folder, name, owner string, content []byte) (string, error) {
	s.mu.Lock()
	if _, ok := s.drives[driveID]; !ok {
		s.mu.Unlock()
		return "", fmt.Errorf("emulator: unknown drive %q", driveID)
	}
	if owner == "" {
		owner = s.defaultOwner(driveID)
	}
	it := s.create(driveID, s.mkdirs(driveID, folder, owner), name, owner, bytes.Clone(content))
	s.mu.Unlock()
	s.notifyDrive(driveID, false)
	return it.id, nil
}

func (s *Server) defaultOwner(driveID string) string {
	if d := s.drives[driveID]; d.owner != "" {
		return d.owner
	}
	if len(s.users) > 0 {
		return s.users[0].UPN
	}
	return "admin@" + s.domain()
}

func (s *Server) liveFile(id string) (*item, error) {
	it := s.items[id]
	if it == nil || it.deleted || it.folder {
		return nil, fmt.Errorf("emulator: no file %q", id)
	}
	return it, nil
}

// ModifyFile stores new content as a new version (new eTag/cTag) and notifies.
func (s *Server) ModifyFile(id string, content []byte) error {
	s.mu.Lock()
	it, err := s.liveFile(id)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	s.setContent(it, bytes.Clone(content))
	d := it.drive
	s.mu.Unlock()
	s.notifyDrive(d, false)
	return nil
}

func (s *Server) setContent(it *item, content []byte) {
	it.content = content
	it.version++
	it.modified = s.opts.Now().UTC()
	s.touch(it)
}

// DeleteFile deletes a file (it shows as deleted in delta) and notifies.
func (s *Server) DeleteFile(id string) error {
	s.mu.Lock()
	it, err := s.liveFile(id)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	it.deleted = true
	delete(s.children[it.parent], it.id)
	s.touch(it)
	d := it.drive
	s.mu.Unlock()
	s.notifyDrive(d, false)
	return nil
}

// SetSharing replaces a file's grants and notifies.
func (s *Server) SetSharing(id string, shares ...Share) error {
	s.mu.Lock()
	it, err := s.liveFile(id)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	it.shares = s.withShareIDs(shares)
	s.touch(it)
	d := it.drive
	s.mu.Unlock()
	s.notifyDrive(d, false)
	return nil
}

// SetLabel sets a file's label as if a user did it in Office (not counted as a label write).
func (s *Server) SetLabel(id, labelID string, protected bool) error {
	s.mu.Lock()
	it, err := s.liveFile(id)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	it.label, it.labelMethod, it.protected = labelID, "privileged", protected
	it.version++
	s.touch(it)
	d := it.drive
	s.mu.Unlock()
	s.notifyDrive(d, false)
	return nil
}

// 423 Locked codes assignSensitivityLabel answers for files whose protection the service
// cannot lift (../shared/specs/README.md, from the driveItem: assignSensitivityLabel docs).
const (
	LockDoubleKey             = "fileDoubleKeyEncrypted"     // double key encryption: the service never holds the second key
	LockDecryptionUnsupported = "fileDecryptionNotSupported" // protection the service cannot decrypt (e.g. user-defined permissions)
	LockDecryptionDeferred    = "fileDecryptionDeferred"     // decryption of the file is deferred; the label cannot be changed now
)

// SetLocked makes assignSensitivityLabel answer 423 fileDoubleKeyEncrypted for the file
// (false clears any lock).
func (s *Server) SetLocked(id string, locked bool) error {
	code := ""
	if locked {
		code = LockDoubleKey
	}
	return s.SetLockCode(id, code)
}

// SetLockCode makes assignSensitivityLabel answer 423 with code for the file ("" = not locked).
func (s *Server) SetLockCode(id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, err := s.liveFile(id)
	if err != nil {
		return err
	}
	it.lockCode = code
	return nil
}

// SetLabelDisabled disables (or enables) a label in the tenant's catalog, as an
// administrator would in the Purview portal.
func (s *Server) SetLabelDisabled(id string, disabled bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.label(id)
	if l == nil {
		return fmt.Errorf("emulator: no label %q", id)
	}
	l.Disabled = disabled
	return nil
}

// LinkBilling links (or unlinks) the app registration to an Azure subscription, the set-up
// the metered assignSensitivityLabel needs.
func (s *Server) LinkBilling(linked bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.billing = linked
}

// SetRoles replaces the application permissions granted to the app. Tokens issued before
// keep the roles they were issued with, as Entra ID tokens do until they expire.
func (s *Server) SetRoles(roles ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles = append([]string{}, roles...)
}

// FileLabel is the label recorded on a file.
func (s *Server) FileLabel(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if it := s.items[id]; it != nil {
		return it.label
	}
	return ""
}

// Content returns a file's current content.
func (s *Server) Content(id string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if it := s.items[id]; it != nil {
		return bytes.Clone(it.content)
	}
	return nil
}

// LabelWrites counts completed assignSensitivityLabel jobs for an item.
func (s *Server) LabelWrites(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.labelW[id]
}

// ServedBytes counts content bytes served for an item through download URLs.
func (s *Server) ServedBytes(id string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.served[id]
}

// RangeRequests counts download requests for an item.
func (s *Server) RangeRequests(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ranges[id]
}

// Requests counts API requests whose "METHOD /path" starts with prefix (e.g. "GET /v1.0/drives").
func (s *Server) Requests(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, v := range s.requests {
		if strings.HasPrefix(k, prefix) {
			n += v
		}
	}
	return n
}

// Codes of delta's 410 Gone (../shared/specs/README.md).
const (
	ResyncApplyDifferences  = "resyncChangesApplyDifferences"
	ResyncUploadDifferences = "resyncChangesUploadDifferences"
)

// ExpireDeltaTokens makes every delta and next link handed out so far answer 410 Gone with
// resyncChangesApplyDifferences and a fresh link in Location.
func (s *Server) ExpireDeltaTokens() { s.ExpireDeltaTokensWith(ResyncApplyDifferences) }

// ExpireDeltaTokensWith is ExpireDeltaTokens with the 410's error code.
func (s *Server) ExpireDeltaTokensWith(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch++
	s.resyncCode = code
}

// ExpireDownloadURLs makes every download URL handed out so far answer 401.
func (s *Server) ExpireDownloadURLs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.downloads)
}

// FailNext makes the next n requests whose path starts with pathPrefix answer status, with a
// Retry-After header when retryAfter > 0.
func (s *Server) FailNext(pathPrefix string, status int, retryAfter time.Duration, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{prefix: pathPrefix, status: status, retryAfter: retryAfter, n: n})
}

// FailRandom makes requests under pathPrefix answer status with probability p (seeded RNG).
func (s *Server) FailRandom(pathPrefix string, status int, retryAfter time.Duration, p float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{prefix: pathPrefix, status: status, retryAfter: retryAfter, prob: p})
}

// Slow delays the next n requests under pathPrefix by d.
func (s *Server) Slow(pathPrefix string, d time.Duration, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{prefix: pathPrefix, delay: d, n: n})
}

// ClearFaults removes all injected faults.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// DropNotifications makes the next n change notifications get lost.
func (s *Server) DropNotifications(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop += n
}

// Deliveries returns the notifications sent so far.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// Subscriptions returns the ids of live subscriptions.
func (s *Server) Subscriptions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, sub := range s.subs {
		if !sub.removed {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// SubscriptionExpiry is the expiration of a subscription (zero when unknown).
func (s *Server) SubscriptionExpiry(id string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub := s.subs[id]; sub != nil {
		return sub.expires
	}
	return time.Time{}
}

// Reauthorized counts reauthorize calls for a subscription.
func (s *Server) Reauthorized(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub := s.subs[id]; sub != nil {
		return sub.reauthed
	}
	return 0
}

// Lifecycle sends a lifecycle notification for a subscription to its lifecycle URL. For
// driveItem subscriptions Graph sends only reauthorizationRequired (missed and
// subscriptionRemoved are for Outlook and Teams resources; ../shared/specs/README.md), so
// any other event is an error. A subscription Graph drops is seen only as a 404 when it is
// next renewed: see RemoveSubscription.
func (s *Server) Lifecycle(subID, event string) (Delivery, error) {
	if event != "reauthorizationRequired" {
		return Delivery{}, fmt.Errorf("emulator: driveItem subscriptions get no %q lifecycle notifications", event)
	}
	s.mu.Lock()
	sub := s.subs[subID]
	if sub == nil || sub.removed {
		s.mu.Unlock()
		return Delivery{}, fmt.Errorf("emulator: no subscription %q", subID)
	}
	u := sub.wire.LifecycleNotificationURL
	if u == "" {
		u = sub.wire.NotificationURL
	}
	n := s.notification(sub)
	n.LifecycleEvent = event
	n.ChangeType = ""
	s.mu.Unlock()
	d := s.post(u, []string{subID}, event, wNotifications{Value: []wNotification{n}})
	return d, d.Err
}

// RemoveSubscription drops a subscription silently, as Graph does for driveItem
// subscriptions: no notification tells the owner; its next renewal answers 404.
func (s *Server) RemoveSubscription(subID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subs[subID]
	if sub == nil || sub.removed {
		return fmt.Errorf("emulator: no subscription %q", subID)
	}
	sub.removed = true
	return nil
}

// NotifyDrive sends a change notification for a drive as Graph would after a change.
func (s *Server) NotifyDrive(driveID string) { s.notifyDrive(driveID, false) }

// NotifyDrives sends change notifications for several drives at once: the subscriptions that
// share a notification URL get one POST carrying all their entries, as Graph batches them.
func (s *Server) NotifyDrives(driveIDs ...string) { s.notifyDrives(driveIDs, false) }

func (s *Server) notification(sub *subscription) wNotification {
	return wNotification{
		SubscriptionID:                 sub.wire.ID,
		SubscriptionExpirationDateTime: sub.wire.ExpirationDateTime,
		ClientState:                    sub.wire.ClientState,
		ChangeType:                     "updated",
		Resource:                       strings.TrimPrefix(sub.wire.Resource, "/"),
		TenantID:                       s.tenant.ID,
	}
}

func (s *Server) notifyDrive(driveID string, async bool) { s.notifyDrives([]string{driveID}, async) }

// batch is the notifications waiting to go to one URL.
type batch struct {
	subs    []string
	entries []wNotification
}

func (b *batch) add(subID string, n wNotification) {
	b.subs = append(b.subs, subID)
	b.entries = append(b.entries, n)
}

// notifyDrives notifies every live subscription on the drives, one POST per notification
// URL. async (from request handlers, so an API answer never waits for a webhook receiver)
// holds the notifications for BatchWindow so that those raised together, by several drives,
// share a POST.
func (s *Server) notifyDrives(driveIDs []string, async bool) {
	s.mu.Lock()
	ids := make([]string, 0, len(s.subs))
	for id := range s.subs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	now := map[string]*batch{}
	var order []string
	for _, id := range ids {
		sub := s.subs[id]
		if sub.removed || !slices.Contains(driveIDs, sub.drive) || !s.opts.Now().Before(sub.expires) {
			continue
		}
		if s.drop > 0 {
			s.drop--
			s.deliveries = append(s.deliveries, Delivery{Subscription: id, Subscriptions: []string{id}, URL: sub.wire.NotificationURL, Dropped: true})
			continue
		}
		u := sub.wire.NotificationURL
		if async {
			b := s.batches[u]
			if b == nil {
				b = &batch{}
				s.batches[u] = b
				s.wg.Add(1)
				go func() {
					defer s.wg.Done()
					time.Sleep(s.opts.BatchWindow)
					s.mu.Lock()
					b := s.batches[u]
					delete(s.batches, u)
					s.mu.Unlock()
					if b != nil {
						s.sendNotification(u, b.subs, wNotifications{Value: b.entries}, false)
					}
				}()
			}
			b.add(id, s.notification(sub))
			continue
		}
		b := now[u]
		if b == nil {
			b = &batch{}
			now[u] = b
			order = append(order, u)
		}
		b.add(id, s.notification(sub))
	}
	s.mu.Unlock()
	for _, u := range order {
		s.sendNotification(u, now[u].subs, wNotifications{Value: now[u].entries}, false)
	}
}

func (s *Server) post(u string, subIDs []string, lifecycle string, body wNotifications) Delivery {
	d := Delivery{Subscription: subIDs[0], Subscriptions: subIDs, URL: u, Lifecycle: lifecycle}
	b, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err == nil {
		req.Header.Set("Content-Type", "application/json")
		var resp *http.Response
		resp, err = s.hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			d.Status = resp.StatusCode
		}
	}
	d.Err = err
	s.mu.Lock()
	s.deliveries = append(s.deliveries, d)
	s.mu.Unlock()
	return d
}

func randomID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return hex.EncodeToString(b[:])
}
