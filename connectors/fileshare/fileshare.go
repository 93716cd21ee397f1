// Package fileshare provides the connector for local and mounted (SMB, NFS) folders: walk,
// change feed by snapshot comparison, an fsnotify watcher, ranged reads and atomic rewrites.
package fileshare

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/labelgate/labelgate/connectors"
)

// Compile-time checks of the capabilities this connector offers.
var (
	_ connectors.Connector = (*Conn)(nil)
	_ connectors.Uploader  = (*Conn)(nil)
)

// DefaultTenant is the tenant name file shares live under when none is configured.
const DefaultTenant = "local"

// tempPrefix starts the name of every temporary file Upload writes. Walk, Changes and Watch
// never report such files, and Walk removes the ones a crash left behind.
const tempPrefix = ".labelgate-tmp-"

// Config configures a Conn.
type Config struct {
	// Roots are the folders to serve; each one is a drive. Relative paths are made absolute.
	Roots []string
	// Tenant names the organisation the shares belong to; default "local".
	Tenant string
	// Include, when set, limits files to those matching one of the globs; Exclude drops files
	// and whole folders matching one of its globs. A glob (path.Match syntax) is matched both
	// against the slash-separated path relative to the root and against the base name, so
	// "*.docx" matches at any depth and "Archive/*" only directly under Archive.
	Include []string
	Exclude []string
	// PreserveModTime keeps a file's modification time when Upload rewrites it (so backups and
	// "recently changed" views do not see labelling as an edit); the default stamps the write.
	PreserveModTime bool
	// StateDir is where Changes keeps the snapshots its cursors point at; "" keeps them in
	// memory, so a cursor does not survive a restart (Changes then reports ErrCursorExpired).
	StateDir string
	// ReconcileInterval is how often Watch compares a fresh snapshot with what it knows, for
	// mounts whose changes raise no notifications; default 5m.
	ReconcileInterval time.Duration
	// Coalesce is how long Watch gathers notifications before looking at the files they name,
	// so a save (create, write, write, chmod) is reported once; default 250ms.
	Coalesce time.Duration
	// PollOnly makes Watch rely on periodic reconciliation alone (no fsnotify), for SMB and NFS
	// mounts where changes made by other machines raise no local notifications.
	PollOnly bool
	// TempGrace is how old a leftover temporary file must be before Walk removes it, so an
	// Upload in flight in another process is left alone; default 10m.
	TempGrace time.Duration
	// SkipError is told about entries a walk could not read (an unreadable folder, a file that
	// vanished); the walk goes on. Default: log a warning.
	SkipError func(relPath string, err error)
	Logger    *slog.Logger
	Clock     func() time.Time
}

// root is one configured folder.
//
// Every file-system call on a share's content goes through fs, an os.Root: the kernel
// resolves each path component relative to the folder's descriptor, refusing ".." above it
// and symbolic links that lead out of it (or are absolute), at the moment of the call. A
// share user who swaps a folder for a link to somewhere else between two of our calls can
// therefore make a call fail, never make it read or write outside the share. (Checking a
// path string and then opening it by path again is exactly the race this closes: issue 22.)
type root struct {
	id   string   // drive id: a hash of the cleaned absolute path as configured
	path string   // cleaned absolute path as configured
	real string   // path with symbolic links resolved when the root was opened; names only (watches, logs)
	fs   *os.Root // the share's folder; see above
}

// Conn is the file-share connector. It is safe for concurrent use.
type Conn struct {
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	roots     []*root
	byID      map[string]*root
	snaps     snapshotStore
	names     nameCache
	mu        sync.Mutex
	flight    map[string]struct{} // temporary files of uploads in progress
	lastToken int64
	// beforeRename runs between writing an upload's temporary file and renaming it over the
	// original; tests use it to stand in for a crash.
	beforeRename func(tmp string) error
}

// New checks the configuration and opens the roots.
func New(cfg Config) (*Conn, error) {
	if len(cfg.Roots) == 0 {
		return nil, errors.New("fileshare: no roots configured")
	}
	if cfg.Tenant == "" {
		cfg.Tenant = DefaultTenant
	}
	if cfg.ReconcileInterval <= 0 {
		cfg.ReconcileInterval = 5 * time.Minute
	}
	if cfg.Coalesce <= 0 {
		cfg.Coalesce = 250 * time.Millisecond
	}
	if cfg.TempGrace <= 0 {
		cfg.TempGrace = 10 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	for _, g := range append(append([]string(nil), cfg.Include...), cfg.Exclude...) {
		if _, err := path.Match(g, ""); err != nil {
			return nil, fmt.Errorf("fileshare: glob %q: %w", g, err)
		}
	}
	c := &Conn{cfg: cfg, log: cfg.Logger, now: cfg.Clock, byID: map[string]*root{}, flight: map[string]struct{}{}}
	for _, p := range cfg.Roots {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("fileshare: root %q: %w", p, err)
		}
		abs = filepath.Clean(abs)
		real, err := filepath.EvalSymlinks(abs)
		if err != nil {
			return nil, fmt.Errorf("fileshare: root %q: %w", p, err)
		}
		info, err := os.Stat(real)
		if err != nil {
			return nil, fmt.Errorf("fileshare: root %q: %w", p, err)
		}
		if !info.IsDir() {
			return nil, fmt.Errorf("fileshare: root %q is not a folder", p)
		}
		id := DriveID(abs)
		if _, dup := c.byID[id]; dup {
			continue
		}
		rfs, err := os.OpenRoot(real)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("fileshare: root %q: %w", p, err)
		}
		r := &root{id: id, path: abs, real: real, fs: rfs}
		c.roots = append(c.roots, r)
		c.byID[r.id] = r
	}
	if cfg.StateDir != "" {
		if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
			return nil, fmt.Errorf("fileshare: state dir: %w", err)
		}
		c.snaps = &diskSnapshots{dir: cfg.StateDir}
	} else {
		c.snaps = &memSnapshots{m: map[string]map[string]*snapshot{}}
	}
	return c, nil
}

// Close releases the roots' folder descriptors.
func (c *Conn) Close() error {
	var errs []error
	for _, r := range c.roots {
		errs = append(errs, r.fs.Close())
	}
	return errors.Join(errs...)
}

// DriveID is the drive id of a root folder: stable for a path, whatever the configuration order.
func DriveID(absPath string) string {
	sum := sha256.Sum256([]byte(filepath.Clean(absPath)))
	return "fs-" + hex.EncodeToString(sum[:8])
}

// App implements connectors.Connector.
func (c *Conn) App() connectors.App { return connectors.AppFileShare }

// Tenant implements connectors.Connector.
func (c *Conn) Tenant() string { return c.cfg.Tenant }

// Drives implements connectors.Connector: one drive per root, named by its path.
func (c *Conn) Drives(context.Context) ([]connectors.Drive, error) {
	ds := make([]connectors.Drive, 0, len(c.roots))
	for _, r := range c.roots {
		ds = append(ds, connectors.Drive{ID: r.id, Tenant: c.cfg.Tenant, Name: r.path})
	}
	return ds, nil
}

// DriveFor returns the drive id serving a path under one of the roots and the item id of
// the path inside it.
func (c *Conn) DriveFor(p string) (drive, itemID string, ok bool) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", "", false
	}
	for _, r := range c.roots {
		for _, base := range []string{r.path, r.real} {
			if rel, err := filepath.Rel(base, abs); err == nil && filepath.IsLocal(rel) {
				return r.id, filepath.ToSlash(rel), true
			}
		}
	}
	return "", "", false
}

func (c *Conn) root(op, drive string) (*root, error) {
	r, ok := c.byID[drive]
	if !ok {
		return nil, connectors.Errorf(connectors.KindNotFound, op, 0, 0, fmt.Errorf("unknown drive %q", drive))
	}
	return r, nil
}

// Ref returns the ref of an item in a drive.
func (c *Conn) Ref(drive, itemID string) connectors.FileRef {
	return connectors.FileRef{App: connectors.AppFileShare, Tenant: c.cfg.Tenant, Drive: drive, ItemID: itemID}
}

// locate checks a ref and returns its root and the file's slash-separated path relative to
// it. It only validates the name: resolving it (and refusing links out of the share) is the
// root's job at each call.
func (c *Conn) locate(op string, ref connectors.FileRef) (*root, string, error) {
	if ref.App != "" && ref.App != connectors.AppFileShare || ref.Tenant != "" && ref.Tenant != c.cfg.Tenant {
		return nil, "", connectors.Errorf(connectors.KindInvalid, op, 0, 0, fmt.Errorf("ref %s is not served by this connector", ref.Key()))
	}
	r, err := c.root(op, ref.Drive)
	if err != nil {
		return nil, "", err
	}
	if ref.ItemID == "" || !filepath.IsLocal(filepath.FromSlash(ref.ItemID)) ||
		isTemp(path.Base(ref.ItemID)) || path.Clean(ref.ItemID) != ref.ItemID {
		return nil, "", connectors.Errorf(connectors.KindInvalid, op, 0, 0, fmt.Errorf("bad item id %q", ref.ItemID))
	}
	return r, ref.ItemID, nil
}

// Stat implements connectors.Connector. A symbolic link is followed only while it stays
// inside the share.
func (c *Conn) Stat(ctx context.Context, ref connectors.FileRef) (connectors.File, error) {
	const op = "fileshare stat"
	if err := ctx.Err(); err != nil {
		return connectors.File{}, err
	}
	r, rel, err := c.locate(op, ref)
	if err != nil {
		return connectors.File{}, err
	}
	info, err := r.fs.Stat(rel)
	if err != nil {
		return connectors.File{}, c.classifyIn(r, op, rel, err)
	}
	if !info.Mode().IsRegular() {
		return connectors.File{}, connectors.Errorf(connectors.KindNotFound, op, 0, 0, fmt.Errorf("%q is not a regular file", ref.ItemID))
	}
	if !c.inScope(ref.ItemID) {
		return connectors.File{}, connectors.Errorf(connectors.KindNotFound, op, 0, 0, fmt.Errorf("%q is excluded by configuration", ref.ItemID))
	}
	return c.facts(r, rel, info, c.bornAt(r, rel)), nil
}

// bornAt returns the birth time of the entry rel, read relative to its folder opened through
// the root (zero when unknown or when rel is a link).
func (c *Conn) bornAt(r *root, rel string) time.Time {
	d, err := r.fs.Open(path.Dir(rel))
	if err != nil {
		return time.Time{}
	}
	defer d.Close()
	bt, _ := birthTimeAt(d, path.Base(rel))
	return bt
}

// object is an open file for ranged reads.
type object struct {
	*os.File
	size int64
}

func (o *object) Size() int64 { return o.size }

// Open implements connectors.Connector. Reads go straight to the file: counting round trips
// is the scanner's business.
func (c *Conn) Open(ctx context.Context, ref connectors.FileRef) (connectors.Object, error) {
	const op = "fileshare open"
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, rel, err := c.locate(op, ref)
	if err != nil {
		return nil, err
	}
	// Non-blocking, so a FIFO swapped in for the file cannot hang the reader; the mode check
	// below refuses it.
	f, err := r.fs.OpenFile(rel, os.O_RDONLY|openNonBlock, 0)
	if err != nil {
		return nil, c.classifyIn(r, op, rel, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, classify(op, err)
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, connectors.Errorf(connectors.KindNotFound, op, 0, 0, fmt.Errorf("%q is not a regular file", ref.ItemID))
	}
	return &object{File: f, size: info.Size()}, nil
}

// facts builds the File for the item rel; born is its birth time (zero: unknown).
//
// Access comes from the mode bits: a world-readable file is "internal" (anyone with an account
// on the share can open it), anything else "private". Mode bits cannot express sharing outside
// the organisation, so "external" and "public" never come from here. Groups holds the file's
// group, the nearest thing a POSIX file has to the groups it is shared with.
func (c *Conn) facts(r *root, rel string, info fs.FileInfo, born time.Time) connectors.File {
	dir, name := path.Split(rel)
	f := connectors.File{
		Ref:      c.Ref(r.id, rel),
		Path:     "/" + strings.TrimSuffix(dir, "/"),
		Name:     name,
		Size:     info.Size(),
		Modified: info.ModTime().UTC(),
		Access:   accessOf(info.Mode()),
	}
	f.Created = f.Modified
	if !born.IsZero() {
		f.Created = born.UTC()
	}
	sys, ok := sysFacts(info)
	f.ETag = etag(info, sys.ino)
	if ok {
		f.Owner = c.names.user(sys.uid)
		f.Groups = []string{c.names.group(sys.gid)}
	}
	return f
}

func accessOf(m fs.FileMode) connectors.AccessLevel {
	if m.Perm()&0o004 != 0 {
		return connectors.AccessInternal
	}
	return connectors.AccessPrivate
}

// etag changes whenever the content does: a rewrite changes the size or the modification time,
// and Upload's rename changes the inode even when the time is preserved.
func etag(info fs.FileInfo, ino uint64) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d:%d:%d", info.Size(), info.ModTime().UnixNano(), ino)
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// nameCache remembers user and group names, since each lookup may read /etc/passwd or ask NSS.
type nameCache struct {
	mu     sync.Mutex
	users  map[uint32]string
	groups map[uint32]string
}

func (n *nameCache) user(uid uint32) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s, ok := n.users[uid]; ok {
		return s
	}
	s := "uid:" + strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil && u.Username != "" {
		s = u.Username
	}
	if n.users == nil {
		n.users = map[uint32]string{}
	}
	n.users[uid] = s
	return s
}

func (n *nameCache) group(gid uint32) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s, ok := n.groups[gid]; ok {
		return s
	}
	s := "gid:" + strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(strconv.FormatUint(uint64(gid), 10)); err == nil && g.Name != "" {
		s = g.Name
	}
	if n.groups == nil {
		n.groups = map[uint32]string{}
	}
	n.groups[gid] = s
	return s
}

// classify maps a file-system error to a connector error kind.
func classify(op string, err error) error {
	kind := connectors.KindTransient
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		kind = connectors.KindNotFound
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		kind = connectors.KindPermission
	case errors.Is(err, syscall.ETXTBSY), errors.Is(err, syscall.EBUSY):
		kind = connectors.KindLocked
	}
	return connectors.Errorf(kind, op, 0, 0, err)
}

// classifyIn is classify for a call through a root, telling a path the kernel refused to
// resolve because it leads out of the share (a symbolic link pointing outside or absolute, or
// a folder swapped for one) apart: that is a permission error, logged, since on a share it is
// either a misconfiguration or someone probing.
func (c *Conn) classifyIn(r *root, op, rel string, err error) error {
	if escapes(err) {
		c.log.Warn("fileshare: refused a path that leads outside the share (symbolic link)", "drive", r.path, "path", rel, "err", err)
		return connectors.Errorf(connectors.KindPermission, op, 0, 0, fmt.Errorf("%q: symbolic link leads outside the share or is absolute: %w", rel, err))
	}
	return classify(op, err)
}

// escapes reports whether err is os.Root's refusal of a path leading outside it. The os
// package does not export that error value; its text has been stable since Go 1.24.
func escapes(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == "path escapes from parent" {
			return true
		}
	}
	return false
}

func isTemp(name string) bool { return strings.HasPrefix(name, tempPrefix) }

// match reports whether rel (or its base name) matches one of the globs.
func match(globs []string, rel string) bool {
	base := path.Base(rel)
	for _, g := range globs {
		if ok, _ := path.Match(g, rel); ok {
			return true
		}
		if ok, _ := path.Match(g, base); ok {
			return true
		}
	}
	return false
}

// inScope reports whether the file rel is served: no folder on its way is excluded, and the
// file passes the include and exclude lists.
func (c *Conn) inScope(rel string) bool {
	for d := path.Dir(rel); d != "." && d != "/"; d = path.Dir(d) {
		if match(c.cfg.Exclude, d) {
			return false
		}
	}
	return c.wantFile(rel)
}

func (c *Conn) wantFile(rel string) bool {
	if isTemp(path.Base(rel)) || match(c.cfg.Exclude, rel) {
		return false
	}
	return len(c.cfg.Include) == 0 || match(c.cfg.Include, rel)
}

func (c *Conn) skip(rel string, err error) {
	if c.cfg.SkipError != nil {
		c.cfg.SkipError(rel, err)
		return
	}
	c.log.Warn("fileshare: skipped an unreadable entry", "path", rel, "err", err)
}
