package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/api/drive/v3"
	"google.golang.org/api/drivelabels/v2"
)

type handler func(w http.ResponseWriter, r *http.Request, user string)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", s.token)
	mux.HandleFunc("GET /drive/v3/files", s.auth(s.listFiles))
	mux.HandleFunc("GET /drive/v3/files/{id}", s.auth(s.getFile))
	mux.HandleFunc("PATCH /upload/drive/v3/files/{id}", s.auth(s.upload))
	mux.HandleFunc("GET /drive/v3/files/{id}/permissions", s.auth(s.listPermissions))
	mux.HandleFunc("POST /drive/v3/files/{id}/permissions", s.auth(s.createPermission))
	mux.HandleFunc("DELETE /drive/v3/files/{id}/permissions/{perm}", s.auth(s.deletePermission))
	mux.HandleFunc("GET /drive/v3/files/{id}/listLabels", s.auth(s.listFileLabels))
	mux.HandleFunc("POST /drive/v3/files/{id}/modifyLabels", s.auth(s.modifyLabels))
	mux.HandleFunc("GET /drive/v3/changes/startPageToken", s.auth(s.startPageToken))
	mux.HandleFunc("GET /drive/v3/changes", s.auth(s.listChanges))
	mux.HandleFunc("POST /drive/v3/changes/watch", s.auth(s.watch))
	mux.HandleFunc("POST /drive/v3/channels/stop", s.auth(s.stop))
	mux.HandleFunc("GET /drive/v3/drives", s.auth(s.listDrives))
	mux.HandleFunc("GET /v2/labels", s.auth(s.listLabels))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.chaosRequest(w, r) || s.fault(w, r) {
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// fault answers with the first queued fault that matches the request, if any.
func (s *Server) fault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	key := r.Method + " " + r.URL.Path
	var f *Fault
	for i := range s.faults {
		// The token endpoint fails only when a fault names it.
		if r.URL.Path == "/token" && !strings.Contains(s.faults[i].Match, "/token") {
			continue
		}
		if strings.Contains(key, s.faults[i].Match) {
			f = &Fault{}
			*f = s.faults[i]
			s.faults[i].Times--
			if s.faults[i].Times <= 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
			break
		}
	}
	s.mu.Unlock()
	if f == nil {
		return false
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	msg := map[string]string{
		"rateLimitExceeded":     "Rate Limit Exceeded",
		"userRateLimitExceeded": "User Rate Limit Exceeded",
		"dailyLimitExceeded":    "Daily Limit Exceeded",
		"quotaExceeded":         "Quota Exceeded",
	}[f.Reason]
	if msg == "" {
		msg = http.StatusText(f.Status)
	}
	reason := f.Reason
	if reason == "" {
		reason = map[int]string{429: "rateLimitExceeded", 500: "backendError", 503: "backendError"}[f.Status]
	}
	writeErr(w, f.Status, reason, msg, "")
	return true
}

// writeErr writes Google's JSON error envelope, which googleapi.CheckResponse parses.
func writeErr(w http.ResponseWriter, status int, reason, msg, location string) {
	item := map[string]string{"domain": "global", "reason": reason, "message": msg}
	if location != "" {
		item["location"], item["locationType"] = location, "parameter"
	}
	body := map[string]any{"error": map[string]any{"code": status, "message": msg, "errors": []any{item}}}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter, id string) {
	writeErr(w, http.StatusNotFound, "notFound", "File not found: "+id+".", "fileId")
}

func badPageToken(w http.ResponseWriter) {
	writeErr(w, http.StatusBadRequest, "invalid", "Invalid Value", "pageToken")
}

func (s *Server) auth(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		user, known := s.tokens[tok]
		s.mu.Unlock()
		if !ok || !known {
			writeErr(w, http.StatusUnauthorized, "authError", "Invalid Credentials", "Authorization")
			return
		}
		h(w, r, user)
	}
}

// token implements the OAuth 2.0 JWT bearer grant that service accounts with domain-wide
// delegation use. Signatures are not checked; the claims must be well formed and the
// subject must be a user of the domain.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	oauthErr := func(code, desc string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if err := r.ParseForm(); err != nil {
		oauthErr("invalid_request", err.Error())
		return
	}
	if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		oauthErr("unsupported_grant_type", "want the JWT bearer grant")
		return
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		oauthErr("invalid_grant", "assertion is not a JWT")
		return
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Iss   string `json:"iss"`
		Sub   string `json:"sub"`
		Scope string `json:"scope"`
		Exp   int64  `json:"exp"`
		Iat   int64  `json:"iat"`
	}
	if err == nil {
		err = json.Unmarshal(raw, &claims)
	}
	if err != nil || claims.Iss == "" || claims.Scope == "" || claims.Exp <= claims.Iat {
		oauthErr("invalid_grant", "malformed claims")
		return
	}
	sub := strings.ToLower(claims.Sub)
	s.mu.Lock()
	_, known := s.users[sub]
	if sub != "" && !known {
		s.mu.Unlock()
		oauthErr("invalid_grant", "Invalid email or User ID")
		return
	}
	if sub == "" {
		sub = claims.Iss
	}
	tok := "ya29.emu-" + randomID(16)
	s.tokens[tok] = sub
	s.scopes[sub] = strings.Fields(claims.Scope)
	s.mu.Unlock()
	writeJSON(w, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
}

func boolParam(r *http.Request, name string) bool {
	v, _ := strconv.ParseBool(r.URL.Query().Get(name))
	return v
}

func (s *Server) pageSize(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("pageSize"))
	if err != nil || n <= 0 {
		return s.psize
	}
	return min(n, 1000)
}

func (s *Server) isMember(user, driveID string) bool {
	d := s.sharedDrive(driveID)
	return d != nil && slices.ContainsFunc(d.Members, func(m string) bool { return strings.EqualFold(m, user) })
}

func domainOf(email string) string {
	_, d, _ := strings.Cut(email, "@")
	return strings.ToLower(d)
}

// canSee says whether user may read f: shared drive members, the owner, and those the file
// is shared with.
func (s *Server) canSee(user string, f *file) bool {
	if f.driveID != "" {
		return s.isMember(user, f.driveID)
	}
	if f.owner == user {
		return true
	}
	for _, p := range f.perms {
		switch p.Type {
		case "anyone":
			return true
		case "domain":
			if strings.EqualFold(p.Domain, domainOf(user)) {
				return true
			}
		case "user", "group":
			if strings.EqualFold(p.Email, user) {
				return true
			}
		}
	}
	return false
}

// lookup finds a file the user may see; shared drive items need supportsAllDrives, as in
// Drive, on the calls that have that parameter (the label calls have not).
func (s *Server) lookup(r *http.Request, user, id string) (*file, bool) {
	f, ok := s.files[id]
	if !ok || !s.canSee(user, f) {
		return nil, false
	}
	labelCall := strings.HasSuffix(r.URL.Path, "/listLabels") || strings.HasSuffix(r.URL.Path, "/modifyLabels")
	if f.driveID != "" && !labelCall && !boolParam(r, "supportsAllDrives") {
		return nil, false
	}
	return f, true
}

func (s *Server) wireFile(f *file, includeLabels []string) *drive.File {
	out := &drive.File{Kind: "drive#file", Id: f.id, Name: f.name, MimeType: f.mime, Parents: []string{f.parent},
		DriveId: f.driveID, CreatedTime: f.created.UTC().Format(time.RFC3339Nano),
		ModifiedTime: f.modified.UTC().Format(time.RFC3339Nano), Trashed: f.trashed, Version: int64(f.rev),
		WebViewLink: s.srv.URL + "/file/d/" + f.id + "/view"}
	if f.mime != FolderMime && !strings.HasPrefix(f.mime, "application/vnd.google-apps.") {
		out.Size = int64(len(f.content))
		out.Md5Checksum = md5hex(f.content)
		out.HeadRevisionId = fmt.Sprintf("rev%d", f.rev)
	}
	if f.owner != "" {
		out.Owners = []*drive.User{{Kind: "drive#user", EmailAddress: f.owner, Me: false}}
	}
	out.Permissions = s.wirePermissions(f)
	if len(includeLabels) > 0 {
		out.LabelInfo = &drive.FileLabelInfo{}
		for _, id := range includeLabels {
			if fields, ok := f.labels[id]; ok {
				out.LabelInfo.Labels = append(out.LabelInfo.Labels, wireLabel(id, fields))
			}
		}
	}
	return out
}

func wireLabel(id string, fields map[string][]string) *drive.Label {
	l := &drive.Label{Kind: "drive#label", Id: id, RevisionId: "1", Fields: map[string]drive.LabelField{}}
	for fid, sel := range fields {
		l.Fields[fid] = drive.LabelField{Kind: "drive#labelField", Id: fid, ValueType: "selection", Selection: sel}
	}
	return l
}

func splitList(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// query is the small part of Drive's search language the connector uses.
type query struct {
	trashed  *bool
	owner    string
	parent   string
	mime     string
	notMime  string
	matchAll bool
}

func parseQuery(q, user string) (query, error) {
	var out query
	if strings.TrimSpace(q) == "" {
		out.matchAll = true
		return out, nil
	}
	for clause := range strings.SplitSeq(q, " and ") {
		c := strings.Join(strings.Fields(clause), " ")
		unq := func(v string) string { return strings.Trim(strings.TrimSpace(v), "'") }
		switch {
		case c == "trashed = false" || c == "trashed=false":
			f := false
			out.trashed = &f
		case c == "trashed = true" || c == "trashed=true":
			t := true
			out.trashed = &t
		case strings.HasSuffix(c, " in owners"):
			out.owner = unq(strings.TrimSuffix(c, " in owners"))
			if out.owner == "me" {
				out.owner = user
			}
		case strings.HasSuffix(c, " in parents"):
			out.parent = unq(strings.TrimSuffix(c, " in parents"))
		case strings.HasPrefix(c, "mimeType != "):
			out.notMime = unq(strings.TrimPrefix(c, "mimeType != "))
		case strings.HasPrefix(c, "mimeType = "):
			out.mime = unq(strings.TrimPrefix(c, "mimeType = "))
		default:
			return out, fmt.Errorf("unsupported query clause %q", clause)
		}
	}
	return out, nil
}

func (q query) match(f *file) bool {
	switch {
	case q.trashed != nil && f.trashed != *q.trashed,
		q.owner != "" && !strings.EqualFold(q.owner, f.owner),
		q.parent != "" && q.parent != f.parent,
		q.mime != "" && q.mime != f.mime,
		q.notMime != "" && q.notMime == f.mime:
		return false
	}
	return true
}

func (s *Server) listPageToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d:%d", s.listEpoch, offset))
}

func (s *Server) parseListPageToken(tok string) (int, bool) {
	if tok == "" {
		return 0, true
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	var epoch, off int
	if _, err := fmt.Sscanf(string(raw), "%d:%d", &epoch, &off); err != nil || epoch != s.listEpoch || off < 0 {
		return 0, false
	}
	return off, true
}

func (s *Server) listFiles(w http.ResponseWriter, r *http.Request, user string) {
	qv := r.URL.Query()
	q, err := parseQuery(qv.Get("q"), user)
	if err != nil {
		writeErr(w, http.StatusBadRequest, "invalid", "Invalid Value: "+err.Error(), "q")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	corpora, driveID := qv.Get("corpora"), qv.Get("driveId")
	if driveID != "" || corpora == "drive" || corpora == "allDrives" {
		if !boolParam(r, "supportsAllDrives") || !boolParam(r, "includeItemsFromAllDrives") {
			writeErr(w, http.StatusForbidden, "teamDrivesParameterNotSupported",
				"includeItemsFromAllDrives and supportsAllDrives must be true to list shared drive items", "")
			return
		}
	}
	if corpora == "drive" && (driveID == "" || !s.isMember(user, driveID)) {
		writeErr(w, http.StatusNotFound, "notFound", "Shared drive not found: "+driveID, "driveId")
		return
	}
	off, ok := s.parseListPageToken(qv.Get("pageToken"))
	if !ok {
		badPageToken(w)
		return
	}
	// A listing's matches are kept until the next change (every change to a file is logged
	// in s.changes), so a walk's pages do not each scan every file of the tenant: a
	// million-file walk spent the emulator's CPU matching the whole tenant per page.
	key := listKey{user: user, corpora: corpora, driveID: driveID, q: qv.Get("q"), files: len(s.order), changes: len(s.changes)}
	match, cached := s.lists[key]
	if !cached {
		for _, id := range s.order {
			f := s.files[id]
			switch {
			case corpora == "drive" && f.driveID != driveID,
				(corpora == "" || corpora == "user") && f.driveID != "",
				!s.canSee(user, f) || !q.match(f):
				continue
			}
			match = append(match, f)
		}
		if s.lists == nil || len(s.lists) >= 64 {
			s.lists = map[listKey][]*file{}
		}
		s.lists[key] = match
	}
	size := s.pageSize(r)
	labels := splitList(qv.Get("includeLabels"))
	out := &drive.FileList{Kind: "drive#fileList", Files: []*drive.File{}}
	for i := off; i < len(match) && i < off+size; i++ {
		out.Files = append(out.Files, s.wireFile(match[i], labels))
	}
	if off+size < len(match) {
		out.NextPageToken = s.listPageToken(off + size)
	}
	writeJSON(w, out)
}

// listKey names a files.list result as of one state of the tenant.
type listKey struct {
	user, corpora, driveID, q string
	files, changes            int
}

func (s *Server) getFile(w http.ResponseWriter, r *http.Request, user string) {
	id := r.PathValue("id")
	s.mu.Lock()
	if id == "root" {
		id = rootID(user)
	}
	if id == rootID(user) {
		s.mu.Unlock()
		writeJSON(w, &drive.File{Kind: "drive#file", Id: id, Name: "My Drive", MimeType: FolderMime})
		return
	}
	if d := s.sharedDrive(id); d != nil && s.isMember(user, id) && boolParam(r, "supportsAllDrives") {
		s.mu.Unlock()
		writeJSON(w, &drive.File{Kind: "drive#file", Id: id, Name: d.Name, MimeType: FolderMime, DriveId: id})
		return
	}
	f, ok := s.lookup(r, user, id)
	if !ok {
		s.mu.Unlock()
		notFound(w, id)
		return
	}
	if r.URL.Query().Get("alt") != "media" {
		wf := s.wireFile(f, splitList(r.URL.Query().Get("includeLabels")))
		s.mu.Unlock()
		writeJSON(w, wf)
		return
	}
	if f.mime == FolderMime || strings.HasPrefix(f.mime, "application/vnd.google-apps.") {
		s.mu.Unlock()
		writeErr(w, http.StatusForbidden, "fileNotDownloadable",
			"Only files with binary content can be downloaded. Use Export with Docs Editors files.", "alt")
		return
	}
	s.media++
	content, mod := f.content, f.modified
	s.mu.Unlock()
	w.Header().Set("Content-Type", f.mime)
	http.ServeContent(w, r, "", mod, bytes.NewReader(content))
}

// upload stores new content for a file: uploadType=media (raw body) or multipart
// (multipart/related: JSON metadata, then the media).
func (s *Server) upload(w http.ResponseWriter, r *http.Request, user string) {
	id := r.PathValue("id")
	var content []byte
	var meta drive.File
	switch ut := r.URL.Query().Get("uploadType"); ut {
	case "media":
		b, err := io.ReadAll(r.Body)
		if err != nil {
			writeErr(w, http.StatusBadRequest, "badContent", err.Error(), "")
			return
		}
		content = b
	case "multipart":
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || !strings.HasPrefix(mt, "multipart/") {
			writeErr(w, http.StatusBadRequest, "badContent", "want a multipart/related body", "")
			return
		}
		mr := multipart.NewReader(r.Body, params["boundary"])
		for i := 0; ; i++ {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				writeErr(w, http.StatusBadRequest, "badContent", err.Error(), "")
				return
			}
			b, err := io.ReadAll(p)
			if err != nil {
				writeErr(w, http.StatusBadRequest, "badContent", err.Error(), "")
				return
			}
			if i == 0 {
				if err := json.Unmarshal(b, &meta); err != nil {
					writeErr(w, http.StatusBadRequest, "parseError", "metadata part: "+err.Error(), "")
					return
				}
			} else {
				content = b
			}
		}
		if content == nil {
			writeErr(w, http.StatusBadRequest, "badContent", "multipart upload without media", "")
			return
		}
	default:
		writeErr(w, http.StatusBadRequest, "invalid", "uploadType "+ut+" is not emulated", "uploadType")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.lookup(r, user, id)
	if !ok {
		notFound(w, id)
		return
	}
	if meta.Name != "" {
		f.name = meta.Name
	}
	s.setContent(f, content)
	writeJSON(w, s.wireFile(f, nil))
}

func (s *Server) listFileLabels(w http.ResponseWriter, r *http.Request, user string) {
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.lookup(r, user, id)
	if !ok {
		notFound(w, id)
		return
	}
	out := &drive.LabelList{Kind: "drive#labelList", Labels: []*drive.Label{}}
	ids := make([]string, 0, len(f.labels))
	for l := range f.labels {
		ids = append(ids, l)
	}
	slices.Sort(ids)
	for _, l := range ids {
		out.Labels = append(out.Labels, wireLabel(l, f.labels[l]))
	}
	writeJSON(w, out)
}

func (s *Server) modifyLabels(w http.ResponseWriter, r *http.Request, user string) {
	id := r.PathValue("id")
	var req drive.ModifyLabelsRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeErr(w, http.StatusBadRequest, "parseError", "Parse Error", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.lookup(r, user, id)
	if !ok {
		notFound(w, id)
		return
	}
	// Validate everything first so a bad request changes nothing, as in Drive.
	for _, m := range req.LabelModifications {
		if !slices.ContainsFunc(s.labels, func(l LabelSpec) bool { return l.ID == m.LabelId }) {
			writeErr(w, http.StatusBadRequest, "invalidLabel", "Invalid label: "+m.LabelId, "labelModifications")
			return
		}
		for _, fm := range m.FieldModifications {
			if err := s.checkChoice(m.LabelId, fm.FieldId, ""); err != nil {
				writeErr(w, http.StatusBadRequest, "invalidField", err.Error(), "fieldModifications")
				return
			}
			for _, c := range fm.SetSelectionValues {
				if err := s.checkChoice(m.LabelId, fm.FieldId, c); err != nil {
					writeErr(w, http.StatusBadRequest, "invalidChoice", err.Error(), "setSelectionValues")
					return
				}
			}
		}
	}
	out := &drive.ModifyLabelsResponse{Kind: "drive#modifyLabelsResponse", ModifiedLabels: []*drive.Label{}}
	for _, m := range req.LabelModifications {
		if m.RemoveLabel {
			delete(f.labels, m.LabelId)
			out.ModifiedLabels = append(out.ModifiedLabels, &drive.Label{Kind: "drive#label", Id: m.LabelId})
			continue
		}
		fields := f.labels[m.LabelId]
		if fields == nil {
			fields = map[string][]string{}
		}
		for _, fm := range m.FieldModifications {
			if fm.UnsetValues {
				delete(fields, fm.FieldId)
			} else if len(fm.SetSelectionValues) > 0 {
				fields[fm.FieldId] = slices.Clone(fm.SetSelectionValues)
			}
		}
		f.labels[m.LabelId] = fields
		out.ModifiedLabels = append(out.ModifiedLabels, wireLabel(m.LabelId, fields))
	}
	s.labelWrites[id]++
	f.modified = s.now()
	s.recordChange(f, false)
	writeJSON(w, out)
}

// checkDrive validates the driveId parameters of the changes calls.
func (s *Server) checkDrive(w http.ResponseWriter, r *http.Request, user string) (string, bool) {
	driveID := r.URL.Query().Get("driveId")
	if driveID == "" {
		return "", true
	}
	if !boolParam(r, "supportsAllDrives") {
		writeErr(w, http.StatusForbidden, "teamDrivesParameterNotSupported", "supportsAllDrives must be true with driveId", "driveId")
		return "", false
	}
	if !s.isMember(user, driveID) {
		writeErr(w, http.StatusNotFound, "notFound", "Shared drive not found: "+driveID, "driveId")
		return "", false
	}
	return driveID, true
}

func (s *Server) startPageToken(w http.ResponseWriter, r *http.Request, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.checkDrive(w, r, user); !ok {
		return
	}
	writeJSON(w, &drive.StartPageToken{Kind: "drive#startPageToken",
		StartPageToken: strconv.Itoa(len(s.changes) + 1)})
}

func (s *Server) changeToken(tok string) (int64, bool) {
	n, err := strconv.ParseInt(tok, 10, 64)
	return n, err == nil && n >= 1 && n >= s.tokenFloor && n <= int64(len(s.changes))+1
}

func (s *Server) listChanges(w http.ResponseWriter, r *http.Request, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	driveID, ok := s.checkDrive(w, r, user)
	if !ok {
		return
	}
	if driveID != "" && !boolParam(r, "includeItemsFromAllDrives") {
		writeErr(w, http.StatusForbidden, "teamDrivesParameterNotSupported", "includeItemsFromAllDrives must be true with driveId", "driveId")
		return
	}
	start, ok := s.changeToken(r.URL.Query().Get("pageToken"))
	if !ok {
		badPageToken(w)
		return
	}
	size := s.pageSize(r)
	labels := splitList(r.URL.Query().Get("includeLabels"))
	out := &drive.ChangeList{Kind: "drive#changeList", Changes: []*drive.Change{}}
	i := start - 1
	for ; i < int64(len(s.changes)); i++ {
		c := s.changes[i]
		if (c.fileID == "" && !c.drive) || c.driveID != driveID || (driveID == "" && c.owner != user) {
			continue
		}
		if len(out.Changes) == size {
			out.NextPageToken = strconv.FormatInt(c.id, 10)
			break
		}
		if c.drive {
			out.Changes = append(out.Changes, s.driveChangeEntry(c))
			continue
		}
		wc := &drive.Change{Kind: "drive#change", Type: "file", ChangeType: "file", FileId: c.fileID,
			DriveId: c.driveID, Time: c.time.UTC().Format(time.RFC3339Nano)}
		if f, ok := s.files[c.fileID]; ok && !c.removed && s.canSee(user, f) {
			wc.File = s.wireFile(f, labels)
		} else {
			wc.Removed = true
		}
		out.Changes = append(out.Changes, wc)
	}
	if out.NextPageToken == "" {
		out.NewStartPageToken = strconv.Itoa(len(s.changes) + 1)
	}
	writeJSON(w, out)
}

func (s *Server) watch(w http.ResponseWriter, r *http.Request, user string) {
	var req drive.Channel
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeErr(w, http.StatusBadRequest, "parseError", "Parse Error", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	driveID, ok := s.checkDrive(w, r, user)
	if !ok {
		return
	}
	tok := r.URL.Query().Get("pageToken")
	if _, ok := s.changeToken(tok); !ok {
		badPageToken(w)
		return
	}
	switch {
	case req.Type != "web_hook" && req.Type != "webhook":
		writeErr(w, http.StatusBadRequest, "invalid", "channel type must be web_hook", "type")
		return
	case req.Id == "" || req.Address == "":
		writeErr(w, http.StatusBadRequest, "required", "channel id and address are required", "id")
		return
	case s.channels[req.Id] != nil:
		writeErr(w, http.StatusBadRequest, "channelIdNotUnique", "Channel id not unique", "id")
		return
	}
	now := s.now()
	exp := now.Add(time.Hour)
	if req.Expiration > 0 {
		exp = time.UnixMilli(req.Expiration)
		if !exp.After(now) {
			writeErr(w, http.StatusBadRequest, "invalid", "expiration is in the past", "expiration")
			return
		}
		if limit := now.Add(maxChannelTTL); exp.After(limit) {
			exp = limit
		}
	}
	uri := s.srv.URL + "/drive/v3/changes?alt=json&pageToken=" + tok
	if driveID != "" {
		uri += "&driveId=" + driveID
	}
	ch := &channel{id: req.Id, resourceID: "res-" + randomID(8), resourceURI: uri, token: req.Token,
		address: req.Address, user: user, driveID: driveID, expires: exp}
	s.channels[ch.id] = ch
	ch.msg++
	s.enqueue(delivery{ch: ch.view(), token: ch.token, uri: uri, state: "sync", number: ch.msg})
	writeJSON(w, &drive.Channel{Kind: "api#channel", Id: ch.id, ResourceId: ch.resourceID, ResourceUri: uri,
		Token: ch.token, Expiration: exp.UnixMilli()})
}

func (s *Server) stop(w http.ResponseWriter, r *http.Request, user string) {
	var req drive.Channel
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeErr(w, http.StatusBadRequest, "parseError", "Parse Error", "")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[req.Id]
	if ch == nil || ch.stopped || ch.resourceID != req.ResourceId || ch.user != user {
		writeErr(w, http.StatusNotFound, "notFound", "Channel '"+req.Id+"' not found for project", "")
		return
	}
	ch.stopped = true
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listDrives(w http.ResponseWriter, r *http.Request, user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := boolParam(r, "useDomainAdminAccess")
	out := &drive.DriveList{Kind: "drive#driveList", Drives: []*drive.Drive{}}
	for _, d := range s.drives {
		if all || s.isMember(user, d.ID) {
			out.Drives = append(out.Drives, &drive.Drive{Kind: "drive#drive", Id: d.ID, Name: d.Name})
		}
	}
	writeJSON(w, out)
}

// listLabels is the Drive Labels API v2 labels.list; fields are only in LABEL_VIEW_FULL.
func (s *Server) listLabels(w http.ResponseWriter, r *http.Request, _ string) {
	full := r.URL.Query().Get("view") == "LABEL_VIEW_FULL"
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &drivelabels.GoogleAppsDriveLabelsV2ListLabelsResponse{Labels: []*drivelabels.GoogleAppsDriveLabelsV2Label{}}
	for _, l := range s.labels {
		wl := &drivelabels.GoogleAppsDriveLabelsV2Label{Name: "labels/" + l.ID, Id: l.ID, RevisionId: "1",
			LabelType: "ADMIN", Properties: &drivelabels.GoogleAppsDriveLabelsV2LabelProperties{Title: l.Title},
			Lifecycle: &drivelabels.GoogleAppsDriveLabelsV2Lifecycle{State: "PUBLISHED"}}
		if full {
			for _, f := range l.Fields {
				wf := &drivelabels.GoogleAppsDriveLabelsV2Field{Id: f.ID,
					Properties:       &drivelabels.GoogleAppsDriveLabelsV2FieldProperties{DisplayName: f.Name},
					Lifecycle:        &drivelabels.GoogleAppsDriveLabelsV2Lifecycle{State: "PUBLISHED"},
					SelectionOptions: &drivelabels.GoogleAppsDriveLabelsV2FieldSelectionOptions{}}
				for _, c := range f.Choices {
					wf.SelectionOptions.Choices = append(wf.SelectionOptions.Choices,
						&drivelabels.GoogleAppsDriveLabelsV2FieldSelectionOptionsChoice{Id: c.ID,
							Properties: &drivelabels.GoogleAppsDriveLabelsV2FieldSelectionOptionsChoiceProperties{DisplayName: c.Name},
							Lifecycle:  &drivelabels.GoogleAppsDriveLabelsV2Lifecycle{State: "PUBLISHED"}})
				}
				wl.Fields = append(wl.Fields, wf)
			}
		}
		out.Labels = append(out.Labels, wl)
	}
	writeJSON(w, out)
}
