package emulator

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

const maxBody = 64 << 20

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_download/{tok}", s.handleDownload)
	mux.HandleFunc("GET /_monitor/{id}", s.handleMonitor)
	mux.HandleFunc("PUT /_upload/{id}", s.handleUploadChunk)

	api := http.NewServeMux()
	api.HandleFunc("GET /v1.0/sites/getAllSites()", s.withRoles(s.handleSites, needSites...))
	api.HandleFunc("GET /v1.0/sites", s.withRoles(s.handleSites, needSites...))
	api.HandleFunc("GET /v1.0/sites/{site}/drives", s.withRoles(s.handleSiteDrives, needFilesRead...))
	api.HandleFunc("GET /v1.0/users", s.withRoles(s.handleUsers, needUsers...))
	api.HandleFunc("GET /v1.0/users/{user}/drive", s.withRoles(s.handleUserDrive, needFilesRead...))
	api.HandleFunc("GET /v1.0/drives/{d}", s.withRoles(s.handleDrive, needFilesRead...))
	api.HandleFunc("GET /v1.0/drives/{d}/root", s.withRoles(s.handleItem, needFilesRead...))
	api.HandleFunc("GET /v1.0/drives/{d}/items/{i}", s.withRoles(s.handleItem, needFilesRead...))
	api.HandleFunc("GET /v1.0/drives/{d}/root/{op}", s.handleItemOp)
	api.HandleFunc("/v1.0/drives/{d}/items/{i}/{op}", s.handleItemOp)
	api.HandleFunc("DELETE /v1.0/drives/{d}/items/{i}/permissions/{p}", s.withRoles(s.handleDeletePermission, needFilesWrite...))
	api.HandleFunc("GET /v1.0/security/dataSecurityAndGovernance/sensitivityLabels", s.withRoles(s.handleLabels, needLabels...))
	api.HandleFunc("POST /v1.0/subscriptions", s.withRoles(s.handleSubscribe, needSubscribe...))
	api.HandleFunc("PATCH /v1.0/subscriptions/{id}", s.withRoles(s.handleRenew, needSubscribe...))
	api.HandleFunc("GET /v1.0/subscriptions/{id}", s.withRoles(s.handleGetSubscription, needSubscribe...))
	api.HandleFunc("DELETE /v1.0/subscriptions/{id}", s.withRoles(s.handleUnsubscribe, needSubscribe...))
	api.HandleFunc("POST /v1.0/subscriptions/{id}/reauthorize", s.withRoles(s.handleReauthorize, needSubscribe...))
	mux.Handle("/v1.0/", s.guard(api))

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.chaosRequest(w, r) {
			return
		}
		s.mu.Lock()
		s.requests[r.Method+" "+r.URL.Path]++
		f := s.matchFault(r.URL.Path)
		s.mu.Unlock()
		if f != nil {
			if f.delay > 0 {
				select {
				case <-time.After(f.delay):
				case <-r.Context().Done():
					return
				}
			}
			if f.status != 0 {
				if f.retryAfter > 0 {
					w.Header().Set("Retry-After", strconv.Itoa(int((f.retryAfter+time.Second-1)/time.Second)))
				}
				code := map[int]string{429: "TooManyRequests", 503: "serviceNotAvailable", 423: "resourceLocked"}[f.status]
				if code == "" {
					code = "generalException"
				}
				writeErr(w, f.status, code, "injected fault")
				return
			}
		}
		// The token endpoint lives outside /v1.0 (login.microsoftonline.com/{tenant}/…).
		if tenant, ok := strings.CutSuffix(r.URL.Path, "/oauth2/v2.0/token"); ok && r.Method == http.MethodPost {
			s.handleToken(w, r, strings.TrimPrefix(tenant, "/"))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// matchFault consumes the first fault that applies to p; callers hold mu.
func (s *Server) matchFault(p string) *fault {
	for i, f := range s.faults {
		if !strings.HasPrefix(p, f.prefix) {
			continue
		}
		if f.prob > 0 {
			if s.rng.Float64() < f.prob {
				return f
			}
			continue
		}
		f.n--
		if f.n <= 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		return f
	}
	return nil
}

// guard enforces bearer tokens when the emulator was given client credentials.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.ClientID != "" {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			s.mu.Lock()
			t, known := s.tokens[tok]
			s.mu.Unlock()
			if !ok || !known || !s.opts.Now().Before(t.expires) {
				writeErr(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "Access token is empty or invalid.")
				return
			}
			inner := r.WithContext(contextWithRoles(r.Context(), t.roles))
			next.ServeHTTP(w, inner)
			// The inner mux records the pattern it matched on its copy of the request; hand it
			// back so a middleware around the emulator (the schema suite) sees the real route.
			r.Pattern = inner.Pattern
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, wErrorBody{Error: wError{Code: code, Message: msg}})
}

func (s *Server) handleToken(w http.ResponseWriter, r *http.Request, tenant string) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid_request"})
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if tenant != s.tenant.ID || r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, 400, map[string]string{"error": "invalid_request", "error_description": "AADSTS90002: Tenant or grant type not supported."})
		return
	}
	if r.PostForm.Get("scope") != "https://graph.microsoft.com/.default" {
		writeJSON(w, 400, map[string]string{"error": "invalid_scope"})
		return
	}
	if s.opts.ClientID != "" && (id != s.opts.ClientID || secret != s.opts.ClientSecret) {
		writeJSON(w, 401, map[string]string{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})
		return
	}
	s.mu.Lock()
	tok := s.issueToken()
	s.mu.Unlock()
	writeJSON(w, 200, wToken{AccessToken: tok, TokenType: "Bearer", ExpiresIn: 3599})
}

// page slices n entries by $skiptoken/$top and returns the next link ("" on the last page).
func (s *Server) page(r *http.Request, n int) (lo, hi int, next string) {
	size := s.opts.PageSize
	if top, err := strconv.Atoi(r.URL.Query().Get("$top")); err == nil && top > 0 && top < size {
		size = top
	}
	lo, _ = strconv.Atoi(r.URL.Query().Get("$skiptoken"))
	lo = min(max(lo, 0), n)
	hi = min(lo+size, n)
	if hi < n {
		q := r.URL.Query()
		q.Set("$skiptoken", strconv.Itoa(hi))
		next = s.srv.URL + r.URL.Path + "?" + q.Encode()
	}
	return lo, hi, next
}

func collection(value any, next string) map[string]any {
	m := map[string]any{"value": value}
	if next != "" {
		m["@odata.nextLink"] = next
	}
	return m
}

func (s *Server) handleSites(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []wSite
	for _, st := range s.sites {
		out = append(out, wSite{ID: st.ID, Name: st.Name, DisplayName: st.Name, WebURL: st.WebURL})
	}
	lo, hi, next := s.page(r, len(out))
	writeJSON(w, 200, collection(out[lo:hi], next))
}

func (s *Server) wireDrive(d *drive) wDrive {
	wd := wDrive{ID: d.id, Name: d.name, DriveType: d.kind, WebURL: d.webURL}
	if d.owner != "" {
		wd.Owner = &wIdentitySet{User: &wIdentity{Email: d.owner, DisplayName: d.owner}}
	}
	return wd
}

func (s *Server) handleSiteDrives(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	site := r.PathValue("site")
	found := false
	out := []wDrive{}
	for _, st := range s.sites {
		found = found || st.ID == site
	}
	if !found {
		writeErr(w, 404, "itemNotFound", "Requested site could not be found")
		return
	}
	for _, id := range s.driveOrder {
		if d := s.drives[id]; d.site == site {
			out = append(out, s.wireDrive(d))
		}
	}
	writeJSON(w, 200, collection(out, ""))
}

func (s *Server) handleUsers(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []wUser{}
	for _, u := range s.users {
		out = append(out, wUser{ID: u.ID, UserPrincipalName: u.UPN, Mail: u.UPN, DisplayName: u.DisplayName})
	}
	lo, hi, next := s.page(r, len(out))
	writeJSON(w, 200, collection(out[lo:hi], next))
}

func (s *Server) handleUserDrive(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.ID == r.PathValue("user") || strings.EqualFold(u.UPN, r.PathValue("user")) {
			if u.Drive == "" {
				writeErr(w, 404, "ResourceNotFound", "User's mysite not found.")
				return
			}
			writeJSON(w, 200, s.wireDrive(s.drives[u.Drive]))
			return
		}
	}
	writeErr(w, 404, "Request_ResourceNotFound", "Resource does not exist.")
}

func (s *Server) handleDrive(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.drives[r.PathValue("d")]
	if d == nil {
		writeErr(w, 404, "itemNotFound", "The drive could not be found")
		return
	}
	writeJSON(w, 200, s.wireDrive(d))
}

// lookup resolves /drives/{d}/items/{i} (i may be "root"); callers hold mu.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) *item {
	d := s.drives[r.PathValue("d")]
	if d == nil {
		writeErr(w, 404, "itemNotFound", "The drive could not be found")
		return nil
	}
	id := r.PathValue("i")
	if id == "" || id == "root" {
		id = d.root
	}
	it := s.items[id]
	if it == nil || it.deleted || it.drive != d.id {
		writeErr(w, 404, "itemNotFound", "The resource could not be found.")
		return nil
	}
	return it
}

func graphTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func mimeOf(name string) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".docx":
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case ".xlsx":
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case ".pptx":
		return "application/vnd.openxmlformats-officedocument.presentationml.presentation"
	}
	return "application/octet-stream"
}

// wireItem renders an item; callers hold mu. Delta answers carry no parent path, as in Graph.
func (s *Server) wireItem(it *item, withPath, withDownload bool) wDriveItem {
	d := s.drives[it.drive]
	if it.deleted {
		return wDriveItem{ID: it.id, Deleted: &wDeleted{State: "deleted"}, ParentReference: &wParentRef{DriveID: d.id, DriveType: d.kind, ID: it.parent}}
	}
	size := int64(len(it.content))
	by := &wIdentitySet{User: &wIdentity{ID: "id-" + it.owner, DisplayName: it.owner, Email: it.owner}}
	w := wDriveItem{
		ID: it.id, Name: it.name, Size: &size,
		ETag:      etagOf(it),
		CTag:      ctagOf(it),
		Created:   graphTime(it.created),
		Modified:  graphTime(it.modified),
		WebURL:    d.webURL + s.folderPath(it.parent) + "/" + url.PathEscape(it.name),
		CreatedBy: by, LastModifiedBy: by,
	}
	if it.parent == "" {
		w.Root = &struct{}{}
		w.Name = "root"
		w.ParentReference = &wParentRef{DriveID: d.id, DriveType: d.kind}
	} else {
		pr := &wParentRef{DriveID: d.id, DriveType: d.kind, ID: it.parent}
		if withPath {
			// OneDrive answers /drive/root:…, libraries /drives/{id}/root:…; segments escaped.
			prefix := "/drive/root:"
			if d.kind == "documentLibrary" {
				prefix = "/drives/" + d.id + "/root:"
			}
			segs := strings.Split(s.folderPath(it.parent), "/")
			for i := range segs {
				segs[i] = url.PathEscape(segs[i])
			}
			pr.Path = prefix + strings.Join(segs, "/")
		}
		w.ParentReference = pr
	}
	w.Shared = s.sharedFacet(it, false)
	if it.folder {
		w.Folder = &wFolder{ChildCount: len(s.children[it.id])}
		size := int64(0)
		w.Size = &size
	} else {
		w.File = &wFile{MimeType: mimeOf(it.name)}
		if withDownload {
			tok := randomID()
			s.downloads[tok] = download{item: it.id, expires: s.opts.Now().Add(s.opts.DownloadTTL)}
			w.DownloadURL = s.srv.URL + "/_download/" + tok
		}
	}
	return w
}

func (s *Server) handleItem(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.lookup(w, r)
	if it == nil {
		return
	}
	writeJSON(w, 200, s.wireItem(it, true, true))
}

func (s *Server) handleItemOp(w http.ResponseWriter, r *http.Request) {
	op := r.PathValue("op")
	need := needFilesRead
	switch op {
	case "content", "createUploadSession", "assignSensitivityLabel", "createLink", "invite":
		if r.Method != http.MethodGet {
			need = needFilesWrite
		}
	}
	if !s.need(w, r, need...) {
		return
	}
	switch {
	case op == "children" && r.Method == http.MethodGet:
		s.handleChildren(w, r)
	case strings.HasPrefix(op, "delta") && r.Method == http.MethodGet:
		s.handleDelta(w, r, op)
	case op == "content" && r.Method == http.MethodGet:
		s.mu.Lock()
		defer s.mu.Unlock()
		if it := s.lookup(w, r); it != nil {
			wi := s.wireItem(it, false, true)
			if wi.DownloadURL == "" {
				writeErr(w, 400, "invalidRequest", "not a file")
				return
			}
			http.Redirect(w, r, wi.DownloadURL, http.StatusFound)
		}
	case op == "content" && r.Method == http.MethodPut:
		s.handlePutContent(w, r)
	case op == "permissions" && r.Method == http.MethodGet:
		s.handlePermissions(w, r)
	case op == "createLink" && r.Method == http.MethodPost:
		s.handleCreateLink(w, r)
	case op == "invite" && r.Method == http.MethodPost:
		s.handleInvite(w, r)
	case op == "assignSensitivityLabel" && r.Method == http.MethodPost:
		s.handleAssign(w, r)
	case op == "extractSensitivityLabels" && r.Method == http.MethodPost:
		s.handleExtract(w, r)
	case op == "createUploadSession" && r.Method == http.MethodPost:
		s.handleCreateUpload(w, r)
	default:
		writeErr(w, 400, "BadRequest", "Unsupported operation "+r.Method+" "+op)
	}
}

func (s *Server) handleChildren(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.lookup(w, r)
	if it == nil {
		return
	}
	kids := make([]*item, 0, len(s.children[it.id]))
	for id := range s.children[it.id] {
		kids = append(kids, s.items[id])
	}
	sort.Slice(kids, func(i, j int) bool { return kids[i].name < kids[j].name })
	lo, hi, next := s.page(r, len(kids))
	out := make([]wDriveItem, 0, hi-lo)
	for _, k := range kids[lo:hi] {
		out = append(out, s.wireItem(k, true, true))
	}
	writeJSON(w, 200, collection(out, next))
}

// deltaToken is the state behind delta next/delta links: epoch, changes after From up to
// Snap (0 = take a snapshot now), and the last (seq, id) served.
// Entries are served parents first (by depth, then change order), as Graph's delta lists a
// folder before what it holds; Depth is the last served entry's depth.
type deltaToken struct {
	E     int    `json:"e"`
	From  int64  `json:"f"`
	Snap  int64  `json:"s,omitempty"`
	Depth int    `json:"d,omitempty"`
	Seq   int64  `json:"q,omitempty"`
	ID    string `json:"k,omitempty"`
}

// deltaSnapKey names one delta enumeration: a drive's changes after from up to snap.
type deltaSnapKey struct {
	drive      string
	epoch      int
	from, snap int64
}

// deltaEntry is an item of an enumeration with its depth, served parents first (by depth,
// then change order, then id).
type deltaEntry struct {
	x     *item
	depth int
}

func (a deltaEntry) before(b deltaEntry) bool {
	if a.depth != b.depth {
		return a.depth < b.depth
	}
	if a.x.seq != b.x.seq {
		return a.x.seq < b.x.seq
	}
	return a.x.id < b.x.id
}

func (t deltaToken) encode() string {
	b, _ := json.Marshal(t)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) handleDelta(w http.ResponseWriter, r *http.Request, op string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.lookup(w, r)
	if it == nil {
		return
	}
	if it.parent != "" {
		writeErr(w, 400, "invalidRequest", "delta is only supported on the root of a drive")
		return
	}
	raw := r.URL.Query().Get("token")
	if t, ok := strings.CutPrefix(op, "delta(token='"); ok {
		raw = strings.TrimSuffix(t, "')")
	}
	link := s.srv.URL + "/v1.0/drives/" + url.PathEscape(it.drive) + "/root/delta?token="
	tok := deltaToken{E: s.epoch}
	switch raw {
	case "":
	case "latest":
		writeJSON(w, 200, map[string]any{"value": []any{}, "@odata.deltaLink": link + deltaToken{E: s.epoch, From: s.seq}.encode()})
		return
	default:
		b, err := base64.RawURLEncoding.DecodeString(raw)
		if err == nil {
			err = json.Unmarshal(b, &tok)
		}
		if err != nil {
			writeErr(w, 400, "invalidRequest", "Invalid delta token")
			return
		}
		if tok.E != s.epoch {
			// Graph's 410 for an expired delta token names how to reconcile and carries, in
			// Location, a fresh link that enumerates the whole drive again
			// (../shared/specs/README.md; learn.microsoft.com/graph/api/driveitem-delta).
			msg := "Resync required. Replace any local items with the server's version (including deletes) if you're sure that the service was up to date with your local changes when you last sync'd. Upload any local changes that the server doesn't know about."
			if s.resyncCode == ResyncUploadDifferences {
				msg = "Resync required. Upload any local items that the service did not return, and upload any files that differ from the server's version (keeping both copies if you're not sure which one is more up-to-date)."
			}
			w.Header().Set("Location", link+deltaToken{E: s.epoch}.encode())
			writeErr(w, http.StatusGone, s.resyncCode, msg)
			return
		}
	}
	if tok.Snap == 0 {
		tok.Snap = s.seq
	}
	last := deltaEntry{x: &item{seq: tok.Seq, id: tok.ID}, depth: tok.Depth}
	// in says whether x belongs to this enumeration: changed after From, at or before the
	// snapshot, and (on a first enumeration) not deleted. Checked again when serving, since
	// an item changed since the snapshot was taken leaves it (its seq passes Snap).
	in := func(x *item) bool {
		return x.drive == it.drive && x.seq > tok.From && x.seq <= tok.Snap && !(x.deleted && tok.From == 0)
	}
	key := deltaSnapKey{drive: it.drive, epoch: s.epoch, from: tok.From, snap: tok.Snap}
	all, ok := s.deltaSnaps[key]
	if !ok {
		for _, x := range s.items {
			if in(x) {
				all = append(all, deltaEntry{x: x, depth: s.depth(x)})
			}
		}
		sort.Slice(all, func(i, j int) bool { return all[i].before(all[j]) })
		if s.deltaSnaps == nil || len(s.deltaSnaps) >= 16 {
			s.deltaSnaps = map[deltaSnapKey][]deltaEntry{} // enough for the enumerations running at once
		}
		s.deltaSnaps[key] = all
	}
	start := 0
	if tok.ID != "" {
		start = sort.Search(len(all), func(i int) bool { return last.before(all[i]) })
	}
	size := s.opts.PageSize
	if top, err := strconv.Atoi(r.URL.Query().Get("$top")); err == nil && top > 0 && top < size {
		size = top
	}
	var changed []deltaEntry
	more := false
	for _, e := range all[start:] {
		if !in(e.x) {
			continue
		}
		if len(changed) == size {
			more = true
			break
		}
		changed = append(changed, e)
	}
	resp := map[string]any{}
	if more {
		end := changed[len(changed)-1]
		tok.Depth, tok.Seq, tok.ID = end.depth, end.x.seq, end.x.id
		next := link + tok.encode()
		if sel := r.URL.Query().Get("$select"); sel != "" {
			next += "&$select=" + url.QueryEscape(sel) // nextLinks keep the request's query options
		}
		if top := r.URL.Query().Get("$top"); top != "" {
			next += "&$top=" + url.QueryEscape(top)
		}
		resp["@odata.nextLink"] = next
	} else {
		resp["@odata.deltaLink"] = link + deltaToken{E: s.epoch, From: tok.Snap}.encode()
	}
	// @microsoft.graph.downloadUrl may be selected on item collections, delta included
	// (learn.microsoft.com/graph/api/resources/driveitem, instance attributes); it is
	// short-lived, so only a caller that asks for it gets one.
	download := strings.Contains(r.URL.Query().Get("$select"), "@microsoft.graph.downloadUrl")
	hier := s.hierarchicalSharing(r)
	if hier {
		w.Header().Set("Preference-Applied", "hierarchicalsharing")
	}
	out := make([]wDriveItem, 0, len(changed))
	for _, e := range changed {
		wi := s.wireItem(e.x, false, download)
		wi.Shared = s.sharedFacet(e.x, hier)
		out = append(out, wi)
	}
	resp["value"] = out
	writeJSON(w, 200, resp)
}

func (s *Server) handleDownload(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	dl, ok := s.downloads[r.PathValue("tok")]
	var it *item
	if ok && s.opts.Now().Before(dl.expires) {
		it = s.items[dl.item]
	}
	if it == nil || it.deleted {
		s.mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	data := it.content
	s.ranges[it.id]++
	lo, hi, partial, err := parseRange(r.Header.Get("Range"), int64(len(data)))
	if err != nil {
		s.mu.Unlock()
		w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
		w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
		return
	}
	s.served[it.id] += hi - lo
	body := data[lo:hi]
	s.mu.Unlock()
	w.Header().Set("Content-Type", mimeOf(it.name))
	w.Header().Set("Content-Length", strconv.FormatInt(hi-lo, 10))
	w.Header().Set("Accept-Ranges", "bytes")
	if partial {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", lo, hi-1, len(data)))
		w.WriteHeader(http.StatusPartialContent)
	}
	_, _ = w.Write(body)
}

// parseRange handles a single "bytes=a-b", "bytes=a-" or "bytes=-n" range.
func parseRange(h string, size int64) (lo, hi int64, partial bool, err error) {
	if h == "" {
		return 0, size, false, nil
	}
	spec, ok := strings.CutPrefix(h, "bytes=")
	a, b, ok2 := strings.Cut(spec, "-")
	if !ok || !ok2 || strings.Contains(spec, ",") {
		return 0, size, false, nil
	}
	if a == "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return 0, 0, false, fmt.Errorf("bad range")
		}
		return max(size-n, 0), size, true, nil
	}
	lo, err = strconv.ParseInt(a, 10, 64)
	if err != nil || lo >= size {
		return 0, 0, false, fmt.Errorf("bad range")
	}
	hi = size
	if b != "" {
		e, err := strconv.ParseInt(b, 10, 64)
		if err != nil || e < lo {
			return 0, 0, false, fmt.Errorf("bad range")
		}
		hi = min(e+1, size)
	}
	return lo, hi, true, nil
}

func (s *Server) handlePutContent(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 250<<20+1))
	if err != nil {
		writeErr(w, 400, "invalidRequest", err.Error())
		return
	}
	if len(body) > 250<<20 {
		writeErr(w, 413, "requestTooLarge", "use an upload session")
		return
	}
	s.mu.Lock()
	it := s.lookup(w, r)
	if it == nil {
		s.mu.Unlock()
		return
	}
	if it.folder {
		s.mu.Unlock()
		writeErr(w, 400, "invalidRequest", "not a file")
		return
	}
	if !s.ifMatch(w, r, it) {
		s.mu.Unlock()
		return
	}
	s.setContent(it, body)
	out := s.wireItem(it, true, false)
	s.mu.Unlock()
	writeJSON(w, 200, out)
	s.notifyDrive(it.drive, true)
}

// ifMatch applies an If-Match header: "if the eTag (or cTag) provided does not match the
// current etag on the file, a 412 Precondition Failed response is returned"
// (learn.microsoft.com/graph/api/driveitem-put-content, request headers). Callers hold mu.
func (s *Server) ifMatch(w http.ResponseWriter, r *http.Request, it *item) bool {
	want := r.Header.Get("If-Match")
	if want == "" || want == "*" {
		return true
	}
	if want == etagOf(it) || want == ctagOf(it) {
		return true
	}
	// resourceModified: "the resource being updated has changed since the caller last read
	// it, usually an eTag mismatch" (learn.microsoft.com/graph/errors).
	writeErr(w, http.StatusPreconditionFailed, "resourceModified", "ETag does not match current item's value")
	return false
}

func etagOf(it *item) string { return fmt.Sprintf("\"{%s},%d\"", it.id, it.version) }
func ctagOf(it *item) string { return fmt.Sprintf("\"c:{%s},%d\"", it.id, it.version) }

func (s *Server) handleCreateUpload(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.lookup(w, r)
	if it == nil || !s.ifMatch(w, r, it) {
		return
	}
	id := randomID()
	// The session remembers the condition: the upload commits only if the file is still the
	// version the caller read when the last fragment arrives.
	up := &upload{item: it.id, ifMatch: r.Header.Get("If-Match"), expires: s.opts.Now().Add(time.Hour)}
	s.uploads[id] = up
	writeJSON(w, 200, wUploadSession{UploadURL: s.srv.URL + "/_upload/" + id, ExpirationDateTime: graphTime(up.expires), NextExpectedRanges: []string{"0-"}})
}

func (s *Server) handleUploadChunk(w http.ResponseWriter, r *http.Request) {
	var lo, hi, total int64
	if _, err := fmt.Sscanf(r.Header.Get("Content-Range"), "bytes %d-%d/%d", &lo, &hi, &total); err != nil || hi < lo || hi >= total {
		writeErr(w, 400, "invalidRange", "bad Content-Range")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil || int64(len(body)) != hi-lo+1 {
		writeErr(w, 400, "invalidRange", "body does not match Content-Range")
		return
	}
	s.mu.Lock()
	up := s.uploads[r.PathValue("id")]
	if up == nil {
		s.mu.Unlock()
		writeErr(w, 404, "itemNotFound", "upload session not found")
		return
	}
	if lo != int64(len(up.buf)) {
		s.mu.Unlock()
		writeErr(w, 416, "invalidRange", "fragment overlaps or skips")
		return
	}
	up.buf = append(up.buf, body...)
	up.size = total
	if int64(len(up.buf)) < total {
		s.mu.Unlock()
		// Each fragment's answer repeats the session's expiry (Graph docs, "Upload large
		// files with an upload session"); an empty one is no DateTimeOffset (schema suite).
		writeJSON(w, 202, wUploadSession{ExpirationDateTime: graphTime(up.expires), NextExpectedRanges: []string{fmt.Sprintf("%d-", len(up.buf))}})
		return
	}
	delete(s.uploads, r.PathValue("id"))
	it, err := s.liveFile(up.item)
	if err != nil {
		s.mu.Unlock()
		writeErr(w, 404, "itemNotFound", err.Error())
		return
	}
	if m := up.ifMatch; m != "" && m != "*" && m != etagOf(it) && m != ctagOf(it) {
		s.mu.Unlock()
		writeErr(w, http.StatusPreconditionFailed, "resourceModified", "ETag does not match current item's value")
		return
	}
	s.setContent(it, up.buf)
	out := s.wireItem(it, true, false)
	s.mu.Unlock()
	writeJSON(w, 200, out)
	s.notifyDrive(it.drive, true)
}

func (s *Server) inTenant(email string) bool {
	_, dom, _ := strings.Cut(strings.ToLower(email), "@")
	for _, d := range s.tenant.Domains {
		if strings.EqualFold(d, dom) {
			return true
		}
	}
	return false
}

func (s *Server) label(id string) *Label {
	for i := range s.labels {
		if s.labels[i].ID == id {
			return &s.labels[i]
		}
	}
	return nil
}

func (s *Server) handleLabels(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wire := func(l Label) wLabel {
		return wLabel{ID: l.ID, Name: l.Name, DisplayName: l.DisplayName, Priority: l.Priority, IsEnabled: !l.Disabled, HasProtection: l.Protection}
	}
	out := []wLabel{}
	for _, l := range s.labels {
		if l.Parent != "" {
			continue
		}
		wl := wire(l)
		for _, c := range s.labels {
			if c.Parent == l.ID {
				wl.Sublabels = append(wl.Sublabels, wire(c))
			}
		}
		out = append(out, wl)
	}
	writeJSON(w, 200, collection(out, ""))
}

func (s *Server) handleExtract(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it := s.lookup(w, r)
	if it == nil {
		return
	}
	labels := []wLabelAssignment{}
	if it.label != "" {
		labels = append(labels, wLabelAssignment{SensitivityLabelID: it.label, AssignmentMethod: it.labelMethod, TenantID: s.tenant.ID})
	}
	if s.opts.ExtractWrapped {
		writeJSON(w, 200, map[string]any{"value": map[string]any{"labels": labels}})
		return
	}
	writeJSON(w, 200, map[string]any{"labels": labels})
}

func (s *Server) handleAssign(w http.ResponseWriter, r *http.Request) {
	var body wAssignBody
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&body); err != nil || body.SensitivityLabelID == nil {
		writeErr(w, 400, "invalidRequest", "sensitivityLabelId is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.billing {
		// assignSensitivityLabel is a metered, protected API: until the app registration is
		// linked to an Azure subscription (Microsoft.GraphServices/accounts) Graph refuses it
		// with 402 paymentRequired (learn.microsoft.com/graph/metered-api-list; the body as
		// reported in microsoftgraph/microsoft-graph-explorer-v4#3756).
		writeErr(w, http.StatusPaymentRequired, "paymentRequired",
			"Payment Required. Ensure that your application is able to call this premium API.For details see https://aka.ms/graph-metered-overview")
		return
	}
	it := s.lookup(w, r)
	if it == nil {
		return
	}
	if it.folder {
		writeErr(w, 400, "invalidRequest", "labels apply to files")
		return
	}
	switch it.lockCode {
	case "":
	case LockDoubleKey:
		writeErr(w, http.StatusLocked, it.lockCode, "The file is protected with double key encryption; its label cannot be changed by the service.")
		return
	case LockDecryptionDeferred:
		writeErr(w, http.StatusLocked, it.lockCode, "Decryption of the file is deferred; its label cannot be changed now.")
		return
	default:
		writeErr(w, http.StatusLocked, it.lockCode, "The file is protected in a way the service cannot decrypt.")
		return
	}
	want := *body.SensitivityLabelID
	var newPri int
	if want != "" {
		l := s.label(want)
		if l == nil || l.Disabled {
			writeErr(w, 400, "invalidRequest", "Sensitivity label cannot be assigned since provided sensitivity label is not available or supported.")
			return
		}
		if l.UserDefined && s.opts.ClientID != "" {
			// User-defined permissions are chosen by the user applying the label; an
			// app-only call has no user to choose them.
			writeErr(w, 400, "invalidRequest", "Sensitivity label "+want+" has user-defined permissions and cannot be assigned with an application token.")
			return
		}
		newPri = l.Priority
	}
	if cur := s.label(it.label); cur != nil && (want == "" || newPri < cur.Priority) && body.JustificationText == "" {
		writeErr(w, 400, "justificationRequired", "Removing or downgrading a label requires justificationText.")
		return
	}
	method := body.AssignmentMethod
	if method == "" {
		method = "standard"
	}
	id := randomID()
	s.monitors[id] = &monitor{item: it.id, label: want, method: method}
	w.Header().Set("Location", s.srv.URL+"/_monitor/"+id)
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) handleMonitor(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	m := s.monitors[r.PathValue("id")]
	if m == nil {
		s.mu.Unlock()
		writeErr(w, 404, "itemNotFound", "monitor not found")
		return
	}
	m.polls++
	if !m.done && m.polls <= s.opts.MonitorPolls {
		s.mu.Unlock()
		if s.opts.MonitorRetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(s.opts.MonitorRetryAfter/time.Second)))
		}
		writeJSON(w, 202, wMonitor{Status: "inProgress", PercentageComplete: 50})
		return
	}
	var notify string
	if !m.done {
		m.done = true
		it, err := s.liveFile(m.item)
		if err != nil {
			s.mu.Unlock()
			writeJSON(w, 200, wMonitor{Status: "failed", Error: &wError{Code: "itemNotFound", Message: err.Error()}})
			return
		}
		it.label, it.labelMethod = m.label, m.method
		if b, ok := relabelContent(it.name, it.content, m.label, s.tenant.ID, m.method, s.opts.Now().UTC()); ok {
			it.content = b
		}
		it.protected = false
		if l := s.label(m.label); l != nil && l.Protection {
			it.protected = true
		}
		it.version++
		it.modified = s.opts.Now().UTC()
		s.touch(it)
		s.labelW[it.id]++
		notify = it.drive
	}
	var itemURL string
	if it := s.items[m.item]; it != nil {
		itemURL = s.srv.URL + "/v1.0/drives/" + url.PathEscape(it.drive) + "/items/" + url.PathEscape(it.id)
	}
	s.mu.Unlock()
	if s.opts.MonitorSeeOther {
		// A finished long-running operation may answer 303 See Other pointing at the resource.
		w.Header().Set("Location", itemURL)
		w.WriteHeader(http.StatusSeeOther)
	} else {
		writeJSON(w, 200, wMonitor{Status: "completed", PercentageComplete: 100, ResourceID: m.item})
	}
	if notify != "" {
		s.notifyDrive(notify, true)
	}
}

const maxSubscriptionMinutes = 42300

func (s *Server) handleSubscribe(w http.ResponseWriter, r *http.Request) {
	var in wSubscription
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		writeErr(w, 400, "InvalidRequest", "Invalid JSON")
		return
	}
	if in.ChangeType != "updated" {
		writeErr(w, 400, "InvalidRequest", "driveItem subscriptions support changeType 'updated' only")
		return
	}
	if len(in.ClientState) > 128 {
		writeErr(w, 400, "InvalidRequest", "clientState is longer than 128 characters")
		return
	}
	drv, ok := strings.CutPrefix(strings.TrimPrefix(in.Resource, "/"), "drives/")
	drv, ok2 := strings.CutSuffix(drv, "/root")
	s.mu.Lock()
	_, known := s.drives[drv]
	s.mu.Unlock()
	if !ok || !ok2 || !known {
		writeErr(w, 400, "InvalidRequest", "Unsupported resource "+in.Resource)
		return
	}
	exp, err := s.checkExpiry(in.ExpirationDateTime)
	if err != nil {
		writeErr(w, 400, "InvalidRequest", err.Error())
		return
	}
	if in.NotificationURL == "" {
		writeErr(w, 400, "InvalidRequest", "notificationUrl is required")
		return
	}
	for _, u := range []string{in.NotificationURL, in.LifecycleNotificationURL} {
		if u == "" {
			continue
		}
		if err := s.handshake(r, u); err != nil {
			writeErr(w, 400, "ValidationError", "Subscription validation request failed. "+err.Error())
			return
		}
	}
	in.ID = randomID()[:8] + "-" + randomID()[:4] + "-" + randomID()[:4] + "-" + randomID()[:4] + "-" + randomID()[:12]
	in.ApplicationID = s.opts.ClientID
	in.ExpirationDateTime = graphTime(exp)
	s.mu.Lock()
	s.subs[in.ID] = &subscription{wire: in, drive: drv, expires: exp}
	s.mu.Unlock()
	writeJSON(w, 201, in)
}

func (s *Server) checkExpiry(v string) (time.Time, error) {
	exp, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid expirationDateTime %q", v)
	}
	now := s.opts.Now()
	if !exp.After(now) {
		return time.Time{}, fmt.Errorf("expirationDateTime is in the past")
	}
	if exp.After(now.Add(maxSubscriptionMinutes * time.Minute)) {
		return time.Time{}, fmt.Errorf("expirationDateTime exceeds the maximum of %d minutes", maxSubscriptionMinutes)
	}
	return exp, nil
}

// handshake does Graph's endpoint validation: POST ?validationToken=… and expect the token
// echoed as text/plain with 200 within the deadline.
func (s *Server) handshake(r *http.Request, u string) error {
	token := "Validation: Testing client application reachability for subscription Request-Id: " + randomID()
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, u+sep+"validationToken="+url.QueryEscape(token), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("endpoint unreachable: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != 200 || ct != "text/plain" || string(body) != token {
		return fmt.Errorf("endpoint answered %d %q without echoing the validation token", resp.StatusCode, ct)
	}
	return nil
}

func (s *Server) subscriptionFor(w http.ResponseWriter, r *http.Request) *subscription {
	sub := s.subs[r.PathValue("id")]
	if sub == nil || sub.removed {
		writeErr(w, 404, "ResourceNotFound", "The object was not found.")
		return nil
	}
	return sub
}

func (s *Server) handleGetSubscription(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub := s.subscriptionFor(w, r); sub != nil {
		writeJSON(w, 200, sub.wire)
	}
}

func (s *Server) handleRenew(w http.ResponseWriter, r *http.Request) {
	var in wSubscription
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		writeErr(w, 400, "InvalidRequest", "Invalid JSON")
		return
	}
	exp, err := s.checkExpiry(in.ExpirationDateTime)
	if err != nil {
		writeErr(w, 400, "InvalidRequest", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subscriptionFor(w, r)
	if sub == nil {
		return
	}
	sub.expires = exp
	sub.wire.ExpirationDateTime = graphTime(exp)
	writeJSON(w, 200, sub.wire)
}

func (s *Server) handleUnsubscribe(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub := s.subscriptionFor(w, r); sub != nil {
		delete(s.subs, sub.wire.ID)
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) handleReauthorize(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub := s.subscriptionFor(w, r); sub != nil {
		sub.reauthed++
		w.WriteHeader(http.StatusNoContent)
	}
}
