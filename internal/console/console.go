// Package console serves labelgate's admin web console: server-rendered pages over the store,
// with the admin API's tokens and roles.
package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/*
var staticFS embed.FS

// Config wires the console; optional parts hide their pages' controls when nil.
type Config struct {
	Store    *store.Store
	Tokens   []admin.Token
	Executor admin.Executor
	Queue    admin.Queue
	Policies admin.Policies
	Quotas   admin.Quotas
	// Rescans cancels rescans from the Rescans page; nil hides the button.
	Rescans Rescans
	Logger  *slog.Logger
	Now     func() time.Time
	// SessionTTL bounds a login; default 12 h.
	SessionTTL time.Duration
	// SecureCookies marks the session cookie Secure (admin.secureCookies): on for any admin
	// listener that is not loopback, since behind a TLS-terminating proxy the request the
	// console sees is plain HTTP even though the browser's is not.
	SecureCookies bool
	// Limiter throttles failed logins per client; share the admin API's. Nil makes one.
	Limiter *admin.AuthLimiter
	// Sharing lists a file's live permissions in the drawer and undoes sharing actions
	// (issue 24); nil hides both.
	Sharing admin.Sharing
	// Protection is labels.protection, shown on the Labels page.
	Protection config.ProtectionRules
	// SensitivePriority (console.sensitivePriority): labels of at least this catalog priority
	// are sensitive on the dashboard's exposure matrix. Nil: DefaultSensitivePriority.
	SensitivePriority *int
}

// DefaultSensitivePriority is config's default for console.sensitivePriority.
const DefaultSensitivePriority = 2

// Console is the web console handler, mounted at /console/.
type Console struct {
	cfg  Config
	tpl  map[string]*template.Template
	mux  *http.ServeMux
	log  *slog.Logger
	h    http.Handler // mux behind Recover
	mu   sync.Mutex
	sess map[string]session
}

type session struct {
	name    string
	role    admin.Role
	csrf    string
	expires time.Time
	// notes are the messages waiting for the page a form redirects to, by a random key
	// (?note=KEY): a link cannot make a page say anything, it can only name a note the
	// server wrote into this very session.
	notes map[string]note
}

// note is one message shown once after a redirect.
type note struct {
	text  string
	isErr bool
}

// maxNotes bounds the notes a session keeps unread.
const maxNotes = 16

// New builds the console.
func New(cfg Config) (*Console, error) {
	c := &Console{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger, sess: map[string]session{}, tpl: map[string]*template.Template{}}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.cfg.Now == nil {
		c.cfg.Now = time.Now
	}
	if c.cfg.SessionTTL <= 0 {
		c.cfg.SessionTTL = 12 * time.Hour
	}
	if c.cfg.Limiter == nil {
		c.cfg.Limiter = admin.NewAuthLimiter()
	}
	funcs := template.FuncMap{
		"fileID": admin.FileID,
		// Times carry their zone (the server's, and UTC beside it when that differs).
		"ago":       when,
		"when":      when,
		"kindName":  kindName,
		"labelText": labelText,
		"pctInt": func(a, b int64) int {
			if b <= 0 {
				return 0
			}
			return int(min(100, 100*a/b))
		},
		"join":       strings.Join,
		"grantWho":   grantWho,
		"isSharing":  admin.IsSharingKind,
		"undoableIn": func(ok map[int64]bool, id int64) bool { return ok[id] },
		"list":       func(xs ...string) []string { return xs },
		// Root folders are "/": joining with another slash showed "//name".
		"fullPath": func(dir, name string) string {
			return strings.TrimSuffix(dir, "/") + "/" + name
		},
		// Catalog names for label ids; ids outside the catalog (another tenant's) stay ids.
		"labelName": func(names map[string]string, id string) string {
			if n := names[id]; n != "" {
				return n
			}
			return id
		},
		"pct": func(a, b int64) string {
			if b == 0 {
				return "0%"
			}
			return fmt.Sprintf("%.0f%%", 100*float64(a)/float64(b))
		},
	}
	pages := []string{"login", "dashboard", "files", "drawer", "policies", "quotas", "queue", "alerts", "activity", "actions", "rescans", "labels"}
	for _, p := range pages {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", p, err)
		}
		c.tpl[p] = t
	}
	static, _ := fs.Sub(staticFS, "static")
	c.mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	c.mux.HandleFunc("GET /console/login", c.loginPage)
	c.mux.HandleFunc("POST /console/login", c.login)
	c.mux.HandleFunc("POST /console/logout", c.logout)
	c.mux.HandleFunc("GET /console/{$}", c.auth(admin.RoleViewer, c.dashboard))
	c.mux.HandleFunc("GET /console/files", c.auth(admin.RoleViewer, c.files))
	c.mux.HandleFunc("GET /console/file", c.auth(admin.RoleViewer, c.drawer))
	c.mux.HandleFunc("POST /console/file/label", c.auth(admin.RoleAdmin, c.label))
	c.mux.HandleFunc("GET /console/policies", c.auth(admin.RoleViewer, c.policies))
	c.mux.HandleFunc("POST /console/policies/toggle", c.auth(admin.RoleAdmin, c.togglePolicy))
	c.mux.HandleFunc("POST /console/policies/apply", c.auth(admin.RoleAdmin, c.applyPolicies))
	c.mux.HandleFunc("GET /console/quotas", c.auth(admin.RoleViewer, c.quotas))
	c.mux.HandleFunc("GET /console/queue", c.auth(admin.RoleViewer, c.queue))
	c.mux.HandleFunc("POST /console/queue/requeue", c.auth(admin.RoleAdmin, c.requeue))
	c.mux.HandleFunc("GET /console/files.csv", c.auth(admin.RoleViewer, c.filesCSV))
	c.mux.HandleFunc("GET /console/alerts", c.auth(admin.RoleViewer, c.alerts))
	c.mux.HandleFunc("POST /console/alerts/change", c.auth(admin.RoleAdmin, c.alertChange))
	c.mux.HandleFunc("GET /console/activity", c.auth(admin.RoleViewer, c.activity))
	c.mux.HandleFunc("GET /console/activity/export/{format}", c.auth(admin.RoleViewer, c.activityExport))
	c.mux.HandleFunc("GET /console/actions", c.auth(admin.RoleViewer, c.actions))
	c.mux.HandleFunc("POST /console/actions/cancel", c.auth(admin.RoleAdmin, c.cancelAction))
	c.mux.HandleFunc("POST /console/actions/undo", c.auth(admin.RoleAdmin, c.undoAction))
	c.mux.HandleFunc("GET /console/labels", c.auth(admin.RoleViewer, c.labels))
	c.mux.HandleFunc("GET /console/rescans", c.auth(admin.RoleViewer, c.rescans))
	c.mux.HandleFunc("POST /console/rescans/cancel", c.auth(admin.RoleAdmin, c.cancelRescan))
	c.h = admin.Recover(c.log, c.mux)
	return c, nil
}

// CSP is the console's Content-Security-Policy: only its own scripts and styles, no
// framing (clickjacking), forms posting only back to it, no <base> rewriting of relative
// URLs, no plugins.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", CSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	c.h.ServeHTTP(w, r)
}

const cookieName = "labelgate_session"

type pageData struct {
	Title   string
	Page    string
	User    string
	Admin   bool
	CSRF    string
	Flash   string
	Error   string
	Content any
	sid     string // the session, for notes
}

func (c *Console) render(w http.ResponseWriter, page string, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	name := "layout.html"
	if page == "drawer" {
		name = "drawer"
	}
	if err := c.tpl[page].ExecuteTemplate(w, name, d); err != nil {
		c.log.Error("console render", "page", page, "err", err)
	}
}

// loginMessages are the only things the login page says on its own: a link picks one by
// code and cannot supply text.
var loginMessages = map[string]string{
	"invalid": "That token is not valid.",
	"locked":  "Too many failed sign-ins from your address; wait a minute and try again.",
	"expired": "Your session ended; sign in again.",
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.render(w, "login", pageData{Title: "Sign in", Page: "login", Error: loginMessages[r.URL.Query().Get("error")]})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	client := admin.ClientKey(r)
	if ok, _ := c.cfg.Limiter.Allow(client); !ok {
		c.log.Warn("console: login locked out after failed attempts", "remote", r.RemoteAddr)
		http.Redirect(w, r, "/console/login?error=locked", http.StatusSeeOther)
		return
	}
	tok, ok := admin.Authenticate(r.PostFormValue("token"), c.cfg.Tokens)
	if !ok {
		c.cfg.Limiter.Fail(client)
		c.log.Warn("console: failed login", "remote", r.RemoteAddr)
		http.Redirect(w, r, "/console/login?error=invalid", http.StatusSeeOther)
		return
	}
	id, csrf := randHex(32), randHex(16)
	c.mu.Lock()
	c.sess[id] = session{name: tok.Name, role: tok.Role, csrf: csrf, expires: c.cfg.Now().Add(c.cfg.SessionTTL)}
	c.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/console/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: c.cfg.SecureCookies || r.TLS != nil, MaxAge: int(c.cfg.SessionTTL.Seconds())})
	http.Redirect(w, r, "/console/", http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(cookieName); err == nil {
		c.mu.Lock()
		delete(c.sess, ck.Value)
		c.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/console/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: c.cfg.SecureCookies || r.TLS != nil})
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type handler func(w http.ResponseWriter, r *http.Request, d pageData)

// auth checks the session and role; state-changing requests must also carry the session's
// CSRF token.
func (c *Console) auth(role admin.Role, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie(cookieName)
		var s session
		ok := false
		if err == nil {
			c.mu.Lock()
			s, ok = c.sess[ck.Value]
			if ok && c.cfg.Now().After(s.expires) {
				delete(c.sess, ck.Value)
				ok = false
			}
			c.mu.Unlock()
		}
		if !ok {
			http.Redirect(w, r, "/console/login", http.StatusSeeOther)
			return
		}
		d := pageData{User: s.name, Admin: s.role >= admin.RoleAdmin, CSRF: s.csrf, sid: ck.Value}
		if s.role < role {
			http.Error(w, "your token's role may not do this", http.StatusForbidden)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) != 1 {
				http.Error(w, "stale form; reload the page", http.StatusForbidden)
				return
			}
		}
		if key := r.URL.Query().Get("note"); key != "" && r.Method == http.MethodGet && r.URL.Query().Get("partial") == "" {
			if n, ok := c.takeNote(ck.Value, key); ok {
				if n.isErr {
					d.Error = n.text
				} else {
					d.Flash = n.text
				}
			}
		}
		h(w, r, d)
	}
}

// redirectNote sends the browser to path (which may carry a query) with a message kept in
// the session under a random key.
func (c *Console) redirectNote(w http.ResponseWriter, r *http.Request, d pageData, path, text string, isErr bool) {
	key := randHex(8)
	c.mu.Lock()
	if s, ok := c.sess[d.sid]; ok {
		if s.notes == nil {
			s.notes = map[string]note{}
		}
		if len(s.notes) >= maxNotes {
			for k := range s.notes {
				delete(s.notes, k)
				break
			}
		}
		s.notes[key] = note{text: text, isErr: isErr}
		c.sess[d.sid] = s
	}
	c.mu.Unlock()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	http.Redirect(w, r, path+sep+"note="+key, http.StatusSeeOther)
}

func (c *Console) takeNote(sid, key string) (note, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sess[sid]
	if !ok {
		return note{}, false
	}
	n, ok := s.notes[key]
	delete(s.notes, key)
	return n, ok
}

func (c *Console) fail(w http.ResponseWriter, err error) {
	c.log.Error("console", "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// bar is one bar of a chart.
type bar struct {
	Label string
	N     int64
	Width int    // percent of the widest bar
	Class string // the bar's colour (a palette class; empty: the accent colour)
}

func bars(m map[string]int64, limit int) []bar {
	var out []bar
	var max int64
	for k, v := range m {
		out = append(out, bar{Label: k, N: v})
		if v > max {
			max = v
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].N != out[j].N {
			return out[i].N > out[j].N
		}
		return out[i].Label < out[j].Label
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	for i := range out {
		if max > 0 {
			out[i].Width = int(100 * out[i].N / max)
		}
	}
	return out
}

type point struct {
	Day      string // YYYY-MM-DD, UTC
	Labelled int64
	Total    int64
	Share    string
	X, Y     int
}

type dashboard struct {
	Total, Labelled, Unlabelled, Protected, External int64
	ByLabel, ByApp                                   []bar
	Matrix                                           exposureMatrix
	Coverage                                         coverageChart
	Recent                                           []store.Event
	Names                                            map[string]string
}

func (c *Console) labelNames(ctx context.Context) map[string]string {
	names := map[string]string{}
	ls, err := c.cfg.Store.ListLabels(ctx, store.LabelFilter{IncludeDeleted: true})
	if err == nil {
		for _, l := range ls {
			switch {
			case l.Name != "":
				names[l.ID] = l.Name
			case l.External && names[l.ID] == "":
				// Another tenant's label: the catalog knows only its id (its tenant is on
				// the file, where the files page and drawer show it).
				names[l.ID] = "External label · " + l.ID[:min(8, len(l.ID))] + "…"
			}
		}
	}
	return names
}

func (c *Console) sensitivePriority() int {
	if c.cfg.SensitivePriority != nil {
		return *c.cfg.SensitivePriority
	}
	return DefaultSensitivePriority
}

func (c *Console) dashboard(w http.ResponseWriter, r *http.Request, d pageData) {
	ctx := r.Context()
	counts, err := c.cfg.Store.FileCounts(ctx)
	if err != nil {
		c.fail(w, err)
		return
	}
	infos, err := c.labelInfos(ctx)
	if err != nil {
		c.fail(w, err)
		return
	}
	pal := paletteOf(infos)
	db := dashboard{Names: c.labelNames(ctx)}
	byLabel, byApp := map[string]int64{}, map[string]int64{}
	classes := map[string]string{"(no label)": classNoLabel}
	for _, fc := range counts {
		db.Total += fc.N
		byApp[string(fc.App)] += fc.N
		label := "(no label)"
		if fc.LabelID != "" {
			db.Labelled += fc.N
			li, ok := infos[fc.LabelID]
			label = li.Name
			if !ok {
				label = fc.LabelID
			}
			classes[label] = labelClass(li, ok, pal)
		}
		byLabel[label] += fc.N
		if fc.Protected {
			db.Protected += fc.N
		}
		if fc.External {
			db.External += fc.N
		}
	}
	db.Unlabelled = db.Total - db.Labelled
	db.ByLabel, db.ByApp = bars(byLabel, 12), bars(byApp, 0)
	for i := range db.ByLabel {
		db.ByLabel[i].Class = classes[db.ByLabel[i].Label]
	}
	db.Matrix = buildMatrix(counts, infos, pal, c.sensitivePriority())
	db.Coverage = c.coverage(ctx, counts)
	db.Recent, err = c.recentEvents(ctx, 15)
	if err != nil {
		c.fail(w, err)
		return
	}
	d.Title, d.Page, d.Content = "Discovery", "dashboard", db
	c.render(w, "dashboard", d)
}

// maxCoverageEvents bounds the discovery log the coverage trend reads per page load (two
// weeks of a first scan of a large estate can exceed it; then only today is drawn).
const maxCoverageEvents = 200_000

// coverageDelta is what one discovery event changes in (labelled, total).
func coverageDelta(e store.Event) (labelled, total int64) {
	has := func(id string) int64 {
		if id != "" {
			return 1
		}
		return 0
	}
	switch e.Kind {
	case store.EventDiscovered:
		return has(e.LabelID), 1
	case store.EventFileDeleted:
		return -has(e.LabelID), -1
	case store.EventLabelAdded, store.EventLabelRemoved, store.EventLabelChanged, store.EventLabelApplied, store.EventLabelCleared:
		return has(e.LabelID) - has(e.PrevLabelID), 0
	}
	return 0, 0
}

// coverage is the labelled share of files at the end of each UTC day of the last two
// weeks. Today's point is the inventory itself (counts); earlier days are found by
// undoing, day by day backwards, what the discovery log recorded since (discoveries,
// deletions, labels added, changed, applied or removed, each event carrying the label it
// left and the one it replaced), so files discovered already labelled count from their
// discovery day and the trend always ends at the inventory's truth.
func (c *Console) coverage(ctx context.Context, counts []store.FileCount) coverageChart {
	now := c.cfg.Now().UTC()
	today := now.Truncate(24 * time.Hour)
	since := today.AddDate(0, 0, -13)
	deltas := map[string][2]int64{}
	read, complete := 0, true
	for after := int64(0); ; {
		evs, err := c.cfg.Store.ListEvents(ctx, store.EventFilter{Since: since.Add(24 * time.Hour), AfterID: after}, 5000)
		if err != nil {
			c.log.Error("console: coverage", "err", err)
			return coverageChart{}
		}
		for _, e := range evs {
			l, t := coverageDelta(e)
			day := e.At.UTC().Format("2006-01-02")
			v := deltas[day]
			deltas[day] = [2]int64{v[0] + l, v[1] + t}
		}
		read += len(evs)
		if len(evs) < 5000 {
			break
		}
		if read >= maxCoverageEvents {
			complete = false
			c.log.Warn("console: coverage history too long to reconstruct; drawing today only", "events", read)
			break
		}
		after = evs[len(evs)-1].ID
	}
	var labelled, total int64
	for _, fc := range counts {
		total += fc.N
		if fc.LabelID != "" {
			labelled += fc.N
		}
	}
	n := 14
	if !complete {
		n = 1
	}
	pts := make([]point, n)
	dates := make([]time.Time, n)
	for i := n - 1; i >= 0; i-- {
		d := today.AddDate(0, 0, i-(n-1))
		day := d.Format("2006-01-02")
		pts[i] = point{Day: day, Labelled: max(0, min(labelled, total)), Total: max(0, total)}
		dates[i] = d
		v := deltas[day]
		labelled, total = labelled-v[0], total-v[1]
	}
	ch := layoutCoverage(pts, dates)
	ch.Partial = !complete
	return ch
}

func (c *Console) recentEvents(ctx context.Context, n int) ([]store.Event, error) {
	// Events are listed oldest first; read the tail by paging from an estimate.
	var all []store.Event
	var after int64
	for {
		evs, err := c.cfg.Store.ListEvents(ctx, store.EventFilter{AfterID: after}, 5000)
		if err != nil {
			return nil, err
		}
		all = append(all, evs...)
		if len(all) > n {
			all = all[len(all)-n:]
		}
		if len(evs) < 5000 {
			break
		}
		after = evs[len(evs)-1].ID
	}
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	return all, nil
}

type filesPage struct {
	Q      map[string]string
	Query  template.URL // encoded filters for the CSV link, built by url.Values
	Files  []store.FileRecord
	Next   string
	Count  int64
	Sort   string
	Labels []store.CatalogLabel
	Names  map[string]string
	Apps   []string
}

// filesFilter reads the Files page's filters (shared by the page and its CSV export).
func filesFilter(r *http.Request) store.FileFilter {
	q := r.URL.Query()
	f := store.FileFilter{App: connectors.App(q.Get("app")), LabelID: q.Get("label"), Access: connectors.AccessLevel(q.Get("access")),
		Owner: q.Get("owner"), PathPrefix: q.Get("path")}
	switch q.Get("show") {
	case "nolabel":
		f.NoLabel = true
	case "external":
		f.External = true
	case "protected":
		f.Protected = true
	}
	return f
}

// fileSorts order a page of files; the inventory's own order (app, tenant, path) is the
// default, which keyset paging follows.
var fileSorts = map[string]func(a, b store.FileRecord) bool{
	"name":     func(a, b store.FileRecord) bool { return strings.ToLower(a.Name) < strings.ToLower(b.Name) },
	"label":    func(a, b store.FileRecord) bool { return a.LabelID < b.LabelID },
	"access":   func(a, b store.FileRecord) bool { return a.Access.Rank() > b.Access.Rank() },
	"owner":    func(a, b store.FileRecord) bool { return a.Owner < b.Owner },
	"modified": func(a, b store.FileRecord) bool { return a.Modified.After(b.Modified) },
}

func (c *Console) files(w http.ResponseWriter, r *http.Request, d pageData) {
	q := r.URL.Query()
	f := filesFilter(r)
	recs, next, err := c.cfg.Store.ListFiles(r.Context(), f, q.Get("page"), 50)
	if err != nil {
		c.fail(w, err)
		return
	}
	count, err := c.cfg.Store.CountFiles(r.Context(), f)
	if err != nil {
		c.fail(w, err)
		return
	}
	sortBy := q.Get("sort")
	if less, ok := fileSorts[sortBy]; ok {
		sort.SliceStable(recs, func(i, j int) bool { return less(recs[i], recs[j]) })
	}
	labels, err := c.cfg.Store.ListLabels(r.Context(), store.LabelFilter{})
	if err != nil {
		c.fail(w, err)
		return
	}
	qm := map[string]string{}
	for k := range q {
		qm[k] = q.Get(k)
	}
	d.Title, d.Page = "Files", "files"
	exp := url.Values{}
	for _, k := range []string{"app", "label", "show", "access", "owner", "path", "sort"} {
		if v := q.Get(k); v != "" {
			exp.Set(k, v)
		}
	}
	d.Content = filesPage{Q: qm, Query: template.URL(exp.Encode()), Files: recs, Next: next, Count: count, Sort: sortBy, Labels: labels, Names: c.labelNames(r.Context()),
		Apps: []string{"sharepoint", "onedrive", "gdrive", "box", "fileshare"}}
	c.render(w, "files", d)
}

type drawerData struct {
	ID      string
	File    store.FileRecord
	Label   string
	History []store.Event
	Actions []store.Action
	Labels  []store.CatalogLabel
	// Carried is every label the file carries, one per tenant, with where it was found
	// (issue 20): a partner's label shows beside the organisation's.
	Carried []store.CarriedLabel
	CanEdit bool
	Names   map[string]string
	// Sharing is the file's live permissions and the before/after of sharing actions.
	Sharing drawerSharing
}

func (c *Console) drawer(w http.ResponseWriter, r *http.Request, d pageData) {
	id := r.URL.Query().Get("id")
	ref, ok := parseID(id)
	if !ok {
		http.Error(w, "bad file id", http.StatusBadRequest)
		return
	}
	rec, err := c.cfg.Store.GetFile(r.Context(), ref)
	if err != nil {
		http.Error(w, "no such file", http.StatusNotFound)
		return
	}
	hist, err := c.cfg.Store.ListEvents(r.Context(), store.EventFilter{ItemRef: &ref}, 200)
	if err != nil {
		c.fail(w, err)
		return
	}
	acts, err := c.cfg.Store.ListActions(r.Context(), store.ActionFilter{Ref: &ref, Limit: 100})
	if err != nil {
		c.fail(w, err)
		return
	}
	labels, err := c.cfg.Store.ListLabels(r.Context(), store.LabelFilter{App: ref.App, Tenant: ref.Tenant})
	if err != nil {
		c.fail(w, err)
		return
	}
	var usable []store.CatalogLabel
	for _, l := range labels {
		if l.State == store.LabelEnabled && !l.External {
			usable = append(usable, l)
		}
	}
	carried, err := c.cfg.Store.FileLabels(r.Context(), ref)
	if err != nil {
		c.fail(w, err)
		return
	}
	sharing, err := c.sharingFor(r.Context(), ref, acts, d.Admin)
	if err != nil {
		c.fail(w, err)
		return
	}
	names := c.labelNames(r.Context())
	dd := drawerData{ID: id, File: rec, Label: names[rec.LabelID], History: hist, Actions: acts, Labels: usable,
		Carried: carried, CanEdit: d.Admin && c.cfg.Executor != nil, Names: names, Sharing: sharing}
	d.Title, d.Page, d.Content = rec.Name, "drawer", dd
	if r.URL.Query().Get("partial") == "1" {
		c.render(w, "drawer", d)
		return
	}
	// Without JavaScript the drawer is a page of its own.
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := c.tpl["drawer"].ExecuteTemplate(w, "layout.html", d); err != nil {
		c.log.Error("console render", "page", "drawer", "err", err)
	}
}

func parseID(id string) (connectors.FileRef, bool) {
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return connectors.FileRef{}, false
		}
	}
	ref, err := admin.ParseFileID(id)
	return ref, err == nil
}

func (c *Console) label(w http.ResponseWriter, r *http.Request, d pageData) {
	id := r.PostFormValue("id")
	ref, ok := parseID(id)
	if !ok || c.cfg.Executor == nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	kind := store.ActionApplyLabel
	if r.PostFormValue("op") == "remove" {
		kind = store.ActionRemoveLabel
	}
	labelID := r.PostFormValue("label")
	if kind == store.ActionApplyLabel && labelID == "" {
		c.redirectNote(w, r, d, "/console/file?id="+id, "Choose a label.", true)
		return
	}
	just := r.PostFormValue("justification")
	params, _ := json.Marshal(map[string]string{"justification": just})
	aid, err := c.cfg.Executor.Submit(r.Context(), store.Action{
		Key:  fmt.Sprintf("console|%s|%s|%s|%d", ref.Key(), kind, labelID, time.Now().UnixNano()),
		Kind: kind, Ref: ref, LabelID: labelID, Params: params, RequestedBy: "console:" + d.User, Manual: true, Reason: just,
	})
	if err != nil {
		c.redirectNote(w, r, d, "/console/file?id="+id, err.Error(), true)
		return
	}
	c.redirectNote(w, r, d, "/console/file?id="+id, fmt.Sprintf("action %d queued", aid), false)
}

type policyRow struct {
	store.Policy
	Pending, Suspended int
	WhatIf             *whatIf
	WhatIfErr          string
}

// whatIf is a what-if report as the policies page shows it.
type whatIf struct {
	Files, Matched, Touched int64
	Actions                 map[string]int64
	ContentConditions       bool
	Samples                 []struct {
		Kind    string             `json:"kind"`
		LabelID string             `json:"labelId"`
		Ref     connectors.FileRef `json:"ref"`
		Name    string             `json:"name"`
	}
}

func (c *Console) policies(w http.ResponseWriter, r *http.Request, d pageData) {
	c.policiesWith(w, r, d, policySet{})
}

// policiesWith renders the policies page with its YAML section (set carries a refused
// draft and its errors).
func (c *Console) policiesWith(w http.ResponseWriter, r *http.Request, d pageData, set policySet) {
	ctx := r.Context()
	ps, err := c.cfg.Store.ListPolicies(ctx)
	if err != nil {
		c.fail(w, err)
		return
	}
	rows := make([]policyRow, len(ps))
	for i, p := range ps {
		rows[i].Policy = p
		acts, err := c.cfg.Store.ListActions(ctx, store.ActionFilter{PolicyID: p.ID, States: []string{store.ActionPending, store.ActionSuspended, store.ActionPaused}, Limit: 10000})
		if err != nil {
			c.fail(w, err)
			return
		}
		for _, a := range acts {
			if a.State == store.ActionSuspended {
				rows[i].Suspended++
			} else {
				rows[i].Pending++
			}
		}
		if c.cfg.Policies != nil && r.URL.Query().Get("whatif") == p.ID {
			v, err := c.cfg.Policies.WhatIf(ctx, p.ID)
			if err != nil {
				rows[i].WhatIfErr = err.Error()
			} else {
				var wi whatIf
				b, _ := json.Marshal(v)
				_ = json.Unmarshal(b, &wi)
				rows[i].WhatIf = &wi
			}
		}
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	var err2 error
	set.YAML, err2 = c.currentYAML(ctx, ids)
	if err2 != nil {
		c.log.Error("console: export policies", "err", err2)
		if set.Failure != "" {
			set.Failure += "; "
		}
		set.Failure += "the stored policies could not be shown: " + err2.Error()
	}
	d.Title, d.Page, d.Content = "Policies", "policies", struct {
		Rows      []policyRow
		HasWhatIf bool
		Names     map[string]string
		Set       policySet
	}{rows, c.cfg.Policies != nil, c.labelNames(ctx), set}
	c.render(w, "policies", d)
}

func (c *Console) togglePolicy(w http.ResponseWriter, r *http.Request, d pageData) {
	id := r.PostFormValue("id")
	enable := r.PostFormValue("enable") == "true"
	if err := c.cfg.Store.SetPolicyEnabled(r.Context(), id, enable); err != nil {
		c.redirectNote(w, r, d, "/console/policies", err.Error(), true)
		return
	}
	verb := "disabled: its pending actions are suspended"
	if enable {
		verb = "enabled: its suspended actions resume"
	}
	c.redirectNote(w, r, d, "/console/policies", "policy "+id+" "+verb, false)
}

// quotaRow is one allowance as the quotas page shows it.
type quotaRow struct {
	Tenant    string `json:"tenant"`
	App       string `json:"app"`
	Allowance string `json:"allowance"`
	Limit     int64  `json:"limit"` // -1: unlimited
	Used      int64  `json:"used"`
	Remaining int64  `json:"remaining"`
	Paused    int64  `json:"paused"`
}

type quotasPage struct {
	Off         bool
	Rows        []quotaRow
	ResetsLocal string
	ResetsUTC   string
	ResetsIn    string
}

// nextQuotaReset is the next 12:00 UTC, when every daily allowance starts again.
func nextQuotaReset(now time.Time) time.Time {
	u := now.UTC()
	reset := time.Date(u.Year(), u.Month(), u.Day(), 12, 0, 0, 0, time.UTC)
	if !u.Before(reset) {
		reset = reset.AddDate(0, 0, 1)
	}
	return reset
}

func (c *Console) quotas(w http.ResponseWriter, r *http.Request, d pageData) {
	now := c.cfg.Now()
	reset := nextQuotaReset(now)
	qp := quotasPage{Off: c.cfg.Quotas == nil, ResetsLocal: reset.Local().Format("Mon 15:04 MST"), ResetsUTC: reset.Format("15:04 UTC"),
		ResetsIn: reset.Sub(now).Round(time.Minute).String()}
	if c.cfg.Quotas != nil {
		v, err := c.cfg.Quotas.Quotas(r.Context())
		if err != nil {
			c.fail(w, err)
			return
		}
		b, _ := json.Marshal(v)
		if err := json.Unmarshal(b, &qp.Rows); err != nil {
			c.fail(w, fmt.Errorf("quotas: %w", err))
			return
		}
	}
	d.Title, d.Page, d.Content = "Quotas", "quotas", qp
	c.render(w, "quotas", d)
}

// queueStats is the scan queue's snapshot as the queue page reads it.
type queueStats struct {
	ByState              map[string]int64 `json:"byState"`
	ByPriority           map[string]int64 `json:"byPriority"`
	ByApp                map[string]int64 `json:"byApp"`
	ByKind               map[string]int64 `json:"byKind"`
	Dead                 int64            `json:"dead"`
	OldestPendingSeconds float64          `json:"oldestPendingSeconds"`
}

type deadJob struct {
	ID          int64     `json:"id"`
	Kind        string    `json:"kind"`
	Key         string    `json:"key"`
	State       string    `json:"state"`
	Attempt     int       `json:"attempt"`
	MaxAttempts int       `json:"maxAttempts"`
	Error       string    `json:"error"`
	FailedAt    time.Time `json:"failedAt"`
}

type kv struct {
	K string
	N int64
}

func sortedKV(m map[string]int64, names map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, n := range m {
		if names != nil && names[k] != "" {
			k = names[k]
		}
		out = append(out, kv{k, n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
	return out
}

type queuePage struct {
	Off                             bool
	States, Priorities, Apps, Kinds []kv
	Dead                            int64
	Oldest                          string
	DeadJobs                        []deadJob
}

// priorityNames are the queue's priorities as scanqueue numbers them (1 most urgent).
var priorityNames = map[string]string{"1": "1 · admin", "2": "2 · webhook", "3": "3 · policy", "4": "4 · rescan"}

func (c *Console) queue(w http.ResponseWriter, r *http.Request, d pageData) {
	qp := queuePage{Off: c.cfg.Queue == nil}
	if c.cfg.Queue != nil {
		st, err := c.cfg.Queue.Stats(r.Context())
		if err != nil {
			c.fail(w, err)
			return
		}
		var qs queueStats
		b, _ := json.Marshal(st)
		_ = json.Unmarshal(b, &qs)
		qp.States, qp.Priorities, qp.Apps, qp.Kinds = sortedKV(qs.ByState, nil), sortedKV(qs.ByPriority, priorityNames),
			sortedKV(qs.ByApp, nil), sortedKV(qs.ByKind, nil)
		qp.Dead = qs.Dead
		qp.Oldest = (time.Duration(qs.OldestPendingSeconds) * time.Second).String()
		dead, err := c.cfg.Queue.Dead(r.Context(), 100)
		if err != nil {
			c.fail(w, err)
			return
		}
		b, _ = json.Marshal(dead)
		_ = json.Unmarshal(b, &qp.DeadJobs)
	}
	d.Title, d.Page, d.Content = "Queue", "queue", qp
	c.render(w, "queue", d)
}

func (c *Console) requeue(w http.ResponseWriter, r *http.Request, d pageData) {
	id, err := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	if err != nil || c.cfg.Queue == nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if err := c.cfg.Queue.Requeue(r.Context(), id); err != nil {
		c.redirectNote(w, r, d, "/console/queue", err.Error(), true)
		return
	}
	c.redirectNote(w, r, d, "/console/queue", fmt.Sprintf("job %d requeued", id), false)
}
