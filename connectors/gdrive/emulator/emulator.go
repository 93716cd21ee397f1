// Package emulator provides an in-process Google Drive v3, Drive Labels v2 and OAuth token
// server speaking the wire protocol google.golang.org/api calls, with fault injection.
package emulator

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labelgate/labelgate/connectors/internal/chaos"
)

// Options configure an emulator.
type Options struct {
	Manifest *Manifest        // nil: an empty domain "example.com"
	Now      func() time.Time // clock for timestamps and channel expiry; default time.Now
	Client   *http.Client     // posts channel notifications; default a client with a 5 s timeout
	Logger   *slog.Logger     // default: discard
	PageSize int              // default files.list/changes.list page size (Drive's default is 100)
	// Middleware, when set, wraps the emulator's handler (the schema suite records with it).
	Middleware func(http.Handler) http.Handler
}

// FolderMime is Drive's folder MIME type.
const FolderMime = "application/vnd.google-apps.folder"

// maxChannelTTL is how long Drive lets a changes channel live.
const maxChannelTTL = 7 * 24 * time.Hour

// Server is a running emulator.
type Server struct {
	srv    *httptest.Server
	now    func() time.Time
	client *http.Client
	log    *slog.Logger
	psize  int

	mu          sync.Mutex
	domain      string
	users       map[string]User
	drives      []SharedDrive
	labels      []LabelSpec
	files       map[string]*file
	order       []string // file ids in creation order: the listing order
	seq         int
	changes     []change            // change i has id i+1
	lists       map[listKey][]*file // files.list matches, valid while files and changes stand still
	tokenFloor  int64               // changes page tokens below this are expired
	listEpoch   int                 // files.list page tokens from an older epoch are expired
	tokens      map[string]string   // access token → user email
	scopes      map[string][]string
	channels    map[string]*channel
	faults      []Fault
	labelWrites map[string]int
	// grantRemovals counts grants removed per file (GrantRemovals).
	grantRemovals map[string]int
	media         int // alt=media requests served
	dropNext      int
	dupNext       int
	chaos         chaos.Injector

	nmu        sync.Mutex
	queue      []delivery
	pending    int
	deliveries []Delivery
	wake       chan struct{}
	done       chan struct{}
	stopped    chan struct{}
	closeOnce  sync.Once
}

type file struct {
	id, name, mime string
	parent         string
	driveID        string // shared drive id, "" = My Drive
	owner          string
	perms          []Permission
	content        []byte
	created        time.Time
	modified       time.Time
	rev            int
	labels         map[string]map[string][]string // label id → field id → choice ids
	trashed        bool
}

type change struct {
	id      int64
	fileID  string
	driveID string
	owner   string
	removed bool
	time    time.Time
	drive   bool // a change to the shared drive itself: changeType "drive", no fileId
}

// Fault makes the next matching requests fail.
type Fault struct {
	Status     int    // HTTP status, e.g. 403, 429, 500
	Reason     string // errors[0].reason, e.g. rateLimitExceeded
	RetryAfter string // Retry-After header value, "" = none
	Match      string // substring of "METHOD /path" the fault applies to; "" = every request
	Times      int    // how many requests fail; 0 = 1
}

// New starts an emulator.
func New(opts Options) (*Server, error) {
	s := &Server{
		now: opts.Now, client: opts.Client, log: opts.Logger, psize: opts.PageSize,
		domain: "example.com", users: map[string]User{}, files: map[string]*file{},
		tokens: map[string]string{}, scopes: map[string][]string{}, channels: map[string]*channel{},
		labelWrites: map[string]int{}, grantRemovals: map[string]int{}, wake: make(chan struct{}, 1), done: make(chan struct{}),
		stopped: make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.client == nil {
		s.client = &http.Client{Timeout: 5 * time.Second}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.psize <= 0 {
		s.psize = 100
	}
	if m := opts.Manifest; m != nil {
		if err := s.seed(m); err != nil {
			return nil, err
		}
	}
	h := s.routes()
	if opts.Middleware != nil {
		h = opts.Middleware(h)
	}
	s.srv = httptest.NewServer(h)
	go s.deliverLoop()
	return s, nil
}

func (s *Server) seed(m *Manifest) error {
	if m.Domain != "" {
		s.domain = strings.ToLower(m.Domain)
	}
	for _, u := range m.Users {
		s.users[strings.ToLower(u.Email)] = u
	}
	s.drives = slices.Clone(m.SharedDrives)
	s.labels = slices.Clone(m.Labels)
	for _, f := range m.Files {
		if _, err := s.addFile(f, false); err != nil {
			return err
		}
	}
	return nil
}

// URL is the server's base URL.
func (s *Server) URL() string { return s.srv.URL }

// DriveEndpoint is the endpoint for drive.NewService (option.WithEndpoint).
func (s *Server) DriveEndpoint() string { return s.srv.URL + "/drive/v3/" }

// LabelsEndpoint is the endpoint for drivelabels.NewService.
func (s *Server) LabelsEndpoint() string { return s.srv.URL + "/" }

// TokenURL is the OAuth token endpoint accepting JWT bearer assertions.
func (s *Server) TokenURL() string { return s.srv.URL + "/token" }

// Close stops the server and the notification sender.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		<-s.stopped
		s.srv.Close()
	})
}

// Domain is the emulated Workspace domain.
func (s *Server) Domain() string { return s.domain }

// AddFile creates a file (recording a change and notifying watchers) and returns its id.
func (s *Server) AddFile(f FileSpec) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addFile(f, true)
}

func (s *Server) addFile(spec FileSpec, record bool) (string, error) {
	s.seq++
	id := spec.ID
	if id == "" {
		id = fmt.Sprintf("gen%06d", s.seq)
	}
	if _, dup := s.files[id]; dup {
		return "", fmt.Errorf("emulator: file %s exists", id)
	}
	f := &file{id: id, name: spec.Name, mime: spec.MimeType, parent: spec.Parent, driveID: spec.Drive,
		owner: strings.ToLower(spec.Owner), perms: withIDs(spec.Permissions), created: s.now(), rev: 1,
		labels: map[string]map[string][]string{}}
	f.modified = f.created
	if spec.Folder {
		f.mime = FolderMime
	}
	if f.mime == "" {
		f.mime = "application/octet-stream"
	}
	f.content = spec.Data
	if f.content == nil && spec.Content != "" {
		f.content = []byte(spec.Content)
	}
	if f.driveID != "" {
		if s.sharedDrive(f.driveID) == nil {
			return "", fmt.Errorf("emulator: file %s: unknown shared drive %s", id, f.driveID)
		}
		f.owner = ""
	} else if _, ok := s.users[f.owner]; !ok {
		return "", fmt.Errorf("emulator: file %s: owner %q is not a user", id, spec.Owner)
	}
	if f.parent == "" {
		f.parent = f.driveID
		if f.driveID == "" {
			f.parent = rootID(f.owner)
		}
	}
	for _, l := range spec.Labels {
		if err := s.checkChoice(l.LabelID, l.FieldID, l.ChoiceID); err != nil {
			return "", fmt.Errorf("emulator: file %s: %w", id, err)
		}
		if f.labels[l.LabelID] == nil {
			f.labels[l.LabelID] = map[string][]string{}
		}
		f.labels[l.LabelID][l.FieldID] = []string{l.ChoiceID}
	}
	s.files[id] = f
	s.order = append(s.order, id)
	if record {
		s.recordChange(f, false)
	}
	return id, nil
}

// ModifyFile stores new content as a new revision, records a change and notifies watchers.
func (s *Server) ModifyFile(id string, content []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[id]
	if !ok {
		return fmt.Errorf("emulator: no file %s", id)
	}
	s.setContent(f, content)
	return nil
}

func (s *Server) setContent(f *file, content []byte) {
	f.content = slices.Clone(content)
	f.rev++
	f.modified = s.now()
	s.recordChange(f, false)
}

// DeleteFile removes a file permanently (a removed change).
func (s *Server) DeleteFile(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[id]
	if !ok {
		return fmt.Errorf("emulator: no file %s", id)
	}
	delete(s.files, id)
	s.order = slices.DeleteFunc(s.order, func(x string) bool { return x == id })
	s.recordChange(f, true)
	return nil
}

// TrashFile moves a file to the trash (a change whose file has trashed=true).
func (s *Server) TrashFile(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[id]
	if !ok {
		return fmt.Errorf("emulator: no file %s", id)
	}
	f.trashed = true
	f.modified = s.now()
	s.recordChange(f, false)
	return nil
}

// SetPermissions replaces a file's sharing (the owner keeps ownership) and records a change.
func (s *Server) SetPermissions(id string, perms []Permission) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[id]
	if !ok {
		return fmt.Errorf("emulator: no file %s", id)
	}
	f.perms = withIDs(perms)
	s.recordChange(f, false)
	return nil
}

// LabelWrites counts files.modifyLabels calls that changed fileID.
func (s *Server) LabelWrites(fileID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.labelWrites[fileID]
}

// FileLabels returns a file's applied labels as label id → field id → choice ids.
func (s *Server) FileLabels(fileID string) map[string]map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[string][]string{}
	if f, ok := s.files[fileID]; ok {
		for l, fields := range f.labels {
			out[l] = map[string][]string{}
			for k, v := range fields {
				out[l][k] = slices.Clone(v)
			}
		}
	}
	return out
}

// Content returns a file's current content.
func (s *Server) Content(fileID string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[fileID]
	if !ok {
		return nil, false
	}
	return slices.Clone(f.content), true
}

// MediaRequests counts alt=media downloads served.
func (s *Server) MediaRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.media
}

// ExpirePageTokens invalidates every files.list and changes.list page token handed out so
// far, as Drive does when a token is too old: the next use answers 400 on pageToken.
func (s *Server) ExpirePageTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	// A hidden entry moves the log on, so every token handed out so far is below the floor
	// while a fresh start token is valid.
	s.changes = append(s.changes, change{id: int64(len(s.changes)) + 1, time: s.now()})
	s.tokenFloor = int64(len(s.changes)) + 1
	s.listEpoch++
}

// FailNext queues a fault for the next matching requests.
func (s *Server) FailNext(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// DropNotifications makes the next n change notifications vanish (their message numbers are
// still used, as when Google's delivery fails for good).
func (s *Server) DropNotifications(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropNext += n
}

// DuplicateNotifications makes the next n change notifications arrive twice.
func (s *Server) DuplicateNotifications(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dupNext += n
}

// TokenScopes returns the scopes requested in token grants for a user.
func (s *Server) TokenScopes(user string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.scopes[strings.ToLower(user)])
}

func (s *Server) sharedDrive(id string) *SharedDrive {
	for i := range s.drives {
		if s.drives[i].ID == id {
			return &s.drives[i]
		}
	}
	return nil
}

func (s *Server) checkChoice(labelID, fieldID, choiceID string) error {
	for _, l := range s.labels {
		if l.ID != labelID {
			continue
		}
		for _, f := range l.Fields {
			if f.ID != fieldID {
				continue
			}
			if choiceID == "" {
				return nil
			}
			for _, c := range f.Choices {
				if c.ID == choiceID {
					return nil
				}
			}
			return fmt.Errorf("label %s field %s has no choice %s", labelID, fieldID, choiceID)
		}
		return fmt.Errorf("label %s has no field %s", labelID, fieldID)
	}
	return fmt.Errorf("no label %s", labelID)
}

// recordChange appends to the change log and queues notifications for matching channels.
func (s *Server) recordChange(f *file, removed bool) {
	c := change{id: int64(len(s.changes)) + 1, fileID: f.id, driveID: f.driveID, owner: f.owner, removed: removed,
		time: s.now()}
	s.changes = append(s.changes, c)
	s.notifyChange(c)
}

func rootID(user string) string {
	return "root-" + strings.NewReplacer("@", "-", ".", "-").Replace(user)
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func md5hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}
