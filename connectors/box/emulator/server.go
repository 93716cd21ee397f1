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
)

func (e *Emulator) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth2/token", e.token)
	api := func(pattern string, h http.HandlerFunc) { mux.Handle(pattern, e.guard(h)) }
	api("GET /2.0/folders/{id}", e.getFolder)
	api("GET /2.0/folders/{id}/items", e.folderItems)
	api("GET /2.0/folders/{id}/collaborations", e.collaborations)
	api("GET /2.0/files/{id}", e.getFile)
	api("PUT /2.0/files/{id}", e.updateFile)
	api("GET /2.0/files/{id}/content", e.content)
	api("GET /2.0/files/{id}/collaborations", e.collaborations)
	api("GET /2.0/files/{id}/metadata/{scope}/{template}", e.getMetadata)
	api("POST /2.0/files/{id}/metadata/{scope}/{template}", e.createMetadata)
	api("PUT /2.0/files/{id}/metadata/{scope}/{template}", e.updateMetadata)
	api("DELETE /2.0/files/{id}/metadata/{scope}/{template}", e.deleteMetadata)
	api("GET /2.0/metadata_templates/{scope}/{template}/schema", e.schema)
	api("POST /2.0/collaborations", e.createCollaboration)
	api("DELETE /2.0/collaborations/{id}", e.deleteCollaboration)
	api("GET /2.0/events", e.eventsHandler)
	api("GET /2.0/webhooks", e.listWebhooks)
	api("POST /2.0/webhooks", e.createWebhook)
	api("GET /2.0/webhooks/{id}", e.getWebhook)
	api("PUT /2.0/webhooks/{id}", e.updateWebhook)
	api("DELETE /2.0/webhooks/{id}", e.deleteWebhookHandler)
	api("POST /api/2.0/files/{id}/content", e.upload)
	// Pre-signed download URLs, like dl.boxcloud.com: no token needed.
	mux.HandleFunc("GET /dl/{id}/{version}", e.download)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// boxError writes Box's error body.
func boxError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{
		"type": "error", "status": status, "code": code, "message": msg,
		"request_id": strconv.FormatInt(time.Now().UnixNano(), 36),
	})
}

func (e *Emulator) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid_request", "error_description": err.Error()})
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "client_credentials" {
		writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type", "error_description": "grant_type must be client_credentials"})
		return
	}
	if f.Get("client_id") != e.opts.ClientID || f.Get("client_secret") != e.opts.ClientSecret {
		writeJSON(w, 400, map[string]string{"error": "invalid_client", "error_description": "The client credentials are invalid"})
		return
	}
	if f.Get("box_subject_type") != "enterprise" || f.Get("box_subject_id") != e.opts.EnterpriseID {
		writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "Grant credentials are invalid"})
		return
	}
	e.mu.Lock()
	tok := "T" + e.newID()
	e.tokens[tok] = true
	e.issued++
	e.mu.Unlock()
	writeJSON(w, 200, map[string]any{"access_token": tok, "expires_in": 3600, "token_type": "bearer", "restricted_to": []any{}})
}

// guard checks the bearer token and applies injected faults.
func (e *Emulator) guard(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		e.mu.Lock()
		ok := e.tokens[tok]
		var fault *Fault
		if ok {
			fault = e.takeFault(r)
		}
		e.mu.Unlock()
		if ok && fault == nil {
			fault = e.chaosFault(r)
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="Service", error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if fault != nil {
			if fault.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(int((fault.RetryAfter+time.Second-1)/time.Second)))
			}
			code := fault.Code
			if code == "" {
				code = map[int]string{429: "rate_limit_exceeded", 500: "internal_server_error", 502: "bad_gateway",
					503: "unavailable", 403: "access_denied_insufficient_permissions", 404: "not_found"}[fault.Status]
			}
			boxError(w, fault.Status, code, "injected fault")
			return
		}
		h(w, r)
	})
}

func (e *Emulator) takeFault(r *http.Request) *Fault {
	path := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/api"), "/2.0")
	for i := range e.faults {
		f := &e.faults[i]
		if (f.Method == "" || f.Method == r.Method) && strings.HasPrefix(path, f.Path) {
			out := *f
			f.Times--
			if f.Times <= 0 {
				e.faults = slices.Delete(e.faults, i, i+1)
			}
			return &out
		}
	}
	return nil
}

// liveItem returns a non-trashed item of the wanted kind, or writes a 404.
func (e *Emulator) liveItem(w http.ResponseWriter, id string, folder bool) (*item, bool) {
	it, ok := e.items[id]
	if !ok || it.trashed || it.folder != folder {
		kind := "file"
		if folder {
			kind = "folder"
		}
		boxError(w, 404, "not_found", "Could not find the specified resource: "+kind+" "+id)
		return nil, false
	}
	return it, true
}

// fieldSet parses ?fields=; nil means Box's standard field set.
func fieldSet(r *http.Request) map[string]bool {
	v := r.URL.Query().Get("fields")
	if v == "" {
		return nil
	}
	s := map[string]bool{}
	for _, f := range strings.Split(v, ",") {
		s[strings.TrimSpace(f)] = true
	}
	return s
}

// itemJSON renders an item as Box does, keeping only the requested fields (plus the
// type, id and etag Box always returns).
func (e *Emulator) itemJSON(it *item, fields map[string]bool) map[string]any {
	typ := "file"
	if it.folder {
		typ = "folder"
	}
	full := map[string]any{
		"type": typ, "id": it.id, "etag": strconv.Itoa(it.etag), "name": it.name,
		"created_at": it.created.Format(time.RFC3339), "modified_at": it.modified.Format(time.RFC3339),
		"content_modified_at": it.modified.Format(time.RFC3339),
		"path_collection":     e.pathCollection(it),
		"owned_by":            userJSON(it.owner),
		"item_status":         "active",
		"has_collaborations":  len(it.collabs) > 0,
		"shared_link":         nil,
	}
	if it.trashed {
		// A trashed item's path_collection is the Trash (folder "1"), not where it was
		// (GET /folders/{id}/trash and the Trashed File/Folder resources in Box's reference).
		full["item_status"] = "trashed"
		full["path_collection"] = map[string]any{"total_count": 1, "entries": []any{
			map[string]any{"type": "folder", "id": "1", "sequence_id": nil, "etag": nil, "name": "Trash"}}}
	}
	if !it.folder {
		full["size"] = len(it.content())
		full["sha1"] = it.sha1()
		full["file_version"] = map[string]any{"type": "file_version", "id": fmt.Sprintf("%s-v%d", it.id, len(it.versions)), "sha1": it.sha1()}
	} else {
		full["size"] = 0
	}
	if p, ok := e.items[it.parent]; ok && it.id != "0" {
		full["parent"] = miniJSON(p)
	}
	if it.sharedLink != "" {
		// Box's shared link object always carries these (box-openapi: Shared link required).
		full["shared_link"] = e.sharedLinkJSON(it)
	}
	if fields == nil {
		// has_collaborations is a File--Full field Box returns only when asked for; the
		// standard object (events' and webhooks' source) lacks it (schema suite).
		delete(full, "file_version")
		delete(full, "has_collaborations")
		return full
	}
	out := map[string]any{"type": typ, "id": it.id, "etag": full["etag"]}
	for f := range fields {
		if v, ok := full[f]; ok {
			out[f] = v
		}
	}
	if fields["metadata."+TemplateScope+"."+TemplateKey] && it.classification != "" {
		out["metadata"] = map[string]any{TemplateScope: map[string]any{TemplateKey: e.instanceJSON(it)}}
	}
	return out
}

func miniJSON(it *item) map[string]any {
	typ := "file"
	if it.folder {
		typ = "folder"
	}
	return map[string]any{"type": typ, "id": it.id, "name": it.name, "etag": strconv.Itoa(it.etag)}
}

func userJSON(u *user) map[string]any {
	return map[string]any{"type": "user", "id": u.id, "name": u.name, "login": u.login}
}

func (e *Emulator) pathCollection(it *item) map[string]any {
	var chain []map[string]any
	for p := it.parent; it.id != "0" && p != ""; {
		f, ok := e.items[p]
		if !ok {
			break
		}
		chain = append([]map[string]any{miniJSON(f)}, chain...)
		if f.id == "0" {
			break
		}
		p = f.parent
	}
	if chain == nil {
		chain = []map[string]any{}
	}
	return map[string]any{"total_count": len(chain), "entries": chain}
}

func (e *Emulator) instanceJSON(it *item) map[string]any {
	return map[string]any{
		FieldKey: it.classification, "$parent": "file_" + it.id, "$template": TemplateKey,
		"$scope": "enterprise_" + e.opts.EnterpriseID, "$version": e.labelWrites[it.id], "$type": TemplateKey + "-x",
	}
}

func (e *Emulator) getFolder(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	it, ok := e.liveItem(w, r.PathValue("id"), true)
	if !ok {
		return
	}
	writeJSON(w, 200, e.itemJSON(it, fieldSet(r)))
}

func (e *Emulator) getFile(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	it, ok := e.liveItem(w, r.PathValue("id"), false)
	if !ok {
		return
	}
	writeJSON(w, 200, e.itemJSON(it, fieldSet(r)))
}

// Markers are opaque to clients; here they encode an offset.
func encodeMarker(off int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("m" + strconv.Itoa(off)))
}

func decodeMarker(m string) (int, bool) {
	if m == "" {
		return 0, true
	}
	b, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil || len(b) < 2 || b[0] != 'm' {
		return 0, false
	}
	n, err := strconv.Atoi(string(b[1:]))
	return n, err == nil && n >= 0
}

// pageParams reads limit and marker, writing a 400 when they are bad.
func pageParams(w http.ResponseWriter, r *http.Request, def, max int) (int, int, bool) {
	q := r.URL.Query()
	limit := def
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			boxError(w, 400, "bad_request", "invalid limit")
			return 0, 0, false
		}
		limit = min(n, max)
	}
	off, ok := decodeMarker(q.Get("marker"))
	if !ok {
		boxError(w, 400, "invalid_parameter", "invalid marker")
		return 0, 0, false
	}
	return limit, off, true
}

func (e *Emulator) children(folderID string) []*item {
	var out []*item
	for _, it := range e.items {
		if it.parent == folderID && it.id != "0" && !it.trashed {
			out = append(out, it)
		}
	}
	slices.SortFunc(out, func(a, b *item) int {
		if a.folder != b.folder {
			if a.folder {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name+"\x00"+a.id, b.name+"\x00"+b.id)
	})
	return out
}

func (e *Emulator) folderItems(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.liveItem(w, r.PathValue("id"), true); !ok {
		return
	}
	if r.URL.Query().Get("usemarker") != "true" {
		boxError(w, 400, "bad_request", "the emulator only supports marker paging (usemarker=true)")
		return
	}
	limit, off, ok := pageParams(w, r, 100, 1000)
	if !ok {
		return
	}
	kids := e.children(r.PathValue("id"))
	fields := fieldSet(r)
	entries := []map[string]any{}
	end := min(off+limit, len(kids))
	for _, k := range kids[min(off, len(kids)):end] {
		entries = append(entries, e.itemJSON(k, fields))
	}
	resp := map[string]any{"entries": entries, "limit": limit}
	if end < len(kids) {
		resp["next_marker"] = encodeMarker(end)
	}
	writeJSON(w, 200, resp)
}

func (e *Emulator) collaborations(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	folder := strings.HasPrefix(r.URL.Path, "/2.0/folders/")
	it, ok := e.liveItem(w, r.PathValue("id"), folder)
	if !ok {
		return
	}
	limit, off, ok := pageParams(w, r, 100, 1000)
	if !ok {
		return
	}
	entries := []map[string]any{}
	end := min(off+limit, len(it.collabs))
	for _, c := range it.collabs[min(off, len(it.collabs)):end] {
		entries = append(entries, e.collabJSON(it, c))
	}
	resp := map[string]any{"entries": entries, "limit": limit}
	if end < len(it.collabs) {
		resp["next_marker"] = encodeMarker(end)
	}
	writeJSON(w, 200, resp)
}

func (e *Emulator) content(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	it, ok := e.liveItem(w, r.PathValue("id"), false)
	if !ok {
		return
	}
	if ra, ok := e.notReady[it.id]; ok {
		delete(e.notReady, it.id)
		w.Header().Set("Retry-After", strconv.Itoa(int((ra+time.Second-1)/time.Second)))
		w.WriteHeader(http.StatusAccepted)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("%s/dl/%s/%d", e.srv.URL, it.id, len(it.versions)))
	w.WriteHeader(http.StatusFound)
}

func (e *Emulator) download(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	it, ok := e.items[r.PathValue("id")]
	v, err := strconv.Atoi(r.PathValue("version"))
	if !ok || it.trashed || err != nil || v < 1 || v > len(it.versions) {
		e.mu.Unlock()
		http.Error(w, "gone", http.StatusNotFound)
		return
	}
	body, name, mod := it.versions[v-1], it.name, it.modified
	if r.Header.Get("Range") != "" {
		e.rangeReads++
	}
	e.mu.Unlock()
	http.ServeContent(w, r, name, mod, bytes.NewReader(body))
}

func (e *Emulator) classificationOK(key string) bool {
	return slices.ContainsFunc(e.classifications, func(c ManifestClassification) bool { return c.Key == key })
}

func (e *Emulator) metadataTarget(w http.ResponseWriter, r *http.Request) (*item, bool) {
	if r.PathValue("scope") != TemplateScope || r.PathValue("template") != TemplateKey {
		boxError(w, 404, "instance_tuple_not_found", "the emulator only knows the classification template")
		return nil, false
	}
	return e.liveItem(w, r.PathValue("id"), false)
}

func (e *Emulator) getMetadata(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	it, ok := e.metadataTarget(w, r)
	if !ok {
		return
	}
	if it.classification == "" {
		boxError(w, 404, "instance_not_found", "Instance not found for 'file_"+it.id+"'")
		return
	}
	writeJSON(w, 200, e.instanceJSON(it))
}

func (e *Emulator) createMetadata(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		boxError(w, 400, "bad_request", "invalid JSON")
		return
	}
	e.mu.Lock()
	it, ok := e.metadataTarget(w, r)
	if !ok {
		e.mu.Unlock()
		return
	}
	if it.classification != "" {
		e.mu.Unlock()
		boxError(w, 409, "tuple_already_exists", "A resource with this value already exists")
		return
	}
	key, _ := body[FieldKey].(string)
	if !e.classificationOK(key) {
		e.mu.Unlock()
		boxError(w, 400, "bad_request", fmt.Sprintf("%q is not a classification of this enterprise", key))
		return
	}
	it.classification = key
	e.labelWrites[it.id]++
	out := e.instanceJSON(it)
	pending := e.recordLocked("METADATA_INSTANCE_CREATE", it)
	e.mu.Unlock()
	writeJSON(w, 201, out)
	e.deliver(pending)
}

func (e *Emulator) updateMetadata(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json-patch+json" {
		boxError(w, 415, "unsupported_media_type", "metadata updates take application/json-patch+json")
		return
	}
	var ops []struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value"`
	}
	if err := json.NewDecoder(r.Body).Decode(&ops); err != nil {
		boxError(w, 400, "bad_request", "invalid JSON Patch")
		return
	}
	e.mu.Lock()
	it, ok := e.metadataTarget(w, r)
	if !ok {
		e.mu.Unlock()
		return
	}
	if it.classification == "" {
		e.mu.Unlock()
		boxError(w, 404, "instance_not_found", "Instance not found for 'file_"+it.id+"'")
		return
	}
	key := it.classification
	for _, op := range ops {
		v, _ := op.Value.(string)
		if op.Path != "/"+FieldKey || (op.Op != "replace" && op.Op != "add") || !e.classificationOK(v) {
			e.mu.Unlock()
			boxError(w, 400, "bad_request", fmt.Sprintf("unsupported patch %s %s %v", op.Op, op.Path, op.Value))
			return
		}
		key = v
	}
	it.classification = key
	e.labelWrites[it.id]++
	out := e.instanceJSON(it)
	pending := e.recordLocked("METADATA_INSTANCE_UPDATE", it)
	e.mu.Unlock()
	writeJSON(w, 200, out)
	e.deliver(pending)
}

func (e *Emulator) deleteMetadata(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	it, ok := e.metadataTarget(w, r)
	if !ok {
		e.mu.Unlock()
		return
	}
	if it.classification == "" {
		e.mu.Unlock()
		boxError(w, 404, "instance_not_found", "Instance not found for 'file_"+it.id+"'")
		return
	}
	it.classification = ""
	e.labelWrites[it.id]++
	pending := e.recordLocked("METADATA_INSTANCE_DELETE", it)
	e.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
	e.deliver(pending)
}

func (e *Emulator) schema(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.PathValue("scope") != TemplateScope || r.PathValue("template") != TemplateKey || len(e.classifications) == 0 {
		boxError(w, 404, "not_found", "template not found")
		return
	}
	opts := []map[string]any{}
	for i, c := range e.classifications {
		opts = append(opts, map[string]any{"id": fmt.Sprintf("opt-%d", i), "key": c.Key,
			"staticConfig": map[string]any{"classification": map[string]any{
				"classificationDefinition": c.Definition, "colorID": c.ColorID}}})
	}
	writeJSON(w, 200, map[string]any{
		"type": "metadata_template", "id": "tmpl-classification", "templateKey": TemplateKey,
		"scope": "enterprise_" + e.opts.EnterpriseID, "displayName": "Classification", "hidden": false,
		"fields": []map[string]any{{"id": "field-classification", "type": "enum", "key": FieldKey, "displayName": "Classification", "options": opts}},
	})
}

// eventsHandler serves GET /events. Positions are posBase + event index. Box documents no
// error for a position older than its retention (21 days for changes, 14 for
// admin_logs_streaming: https://developer.box.com/guides/events/parameters/stream-types), so
// such a position is served from the oldest event still kept, as if nothing were lost.
func (e *Emulator) eventsHandler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	stream := q.Get("stream_type")
	switch stream {
	case "changes":
	case "admin_logs_streaming":
		e.mu.Lock()
		admin := e.adminEvents
		e.mu.Unlock()
		if !admin {
			boxError(w, 403, "access_denied_insufficient_permissions", "Access denied - insufficient permission")
			return
		}
	default:
		boxError(w, 400, "bad_request", "the emulator serves stream_type=changes and admin_logs_streaming")
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.purgeLocked()
	limit, _, ok := pageParams(w, r, 100, 500)
	if !ok {
		return
	}
	pos := q.Get("stream_position")
	start := 0
	switch pos {
	case "now":
		writeJSON(w, 200, map[string]any{"chunk_size": 0, "next_stream_position": strconv.Itoa(e.posBase + len(e.events)), "entries": []any{}})
		return
	case "", "0":
		start = e.expiredBefore
	default:
		n, err := strconv.Atoi(pos)
		if err != nil || n < 0 {
			boxError(w, 400, "bad_request", "invalid stream_position "+pos)
			return
		}
		start = min(max(n-e.posBase, e.expiredBefore), len(e.events))
	}
	end := min(start+limit, len(e.events))
	entries := []map[string]any{}
	for _, ev := range e.events[start:end] {
		if stream == "admin_logs_streaming" {
			entries = append(entries, adminEvent(ev, e.service))
			continue
		}
		entries = append(entries, map[string]any{"type": "event", "event_id": ev.id, "event_type": ev.typ,
			"created_at": ev.at.Format(time.RFC3339), "created_by": userJSON(e.service), "source": ev.source})
	}
	writeJSON(w, 200, map[string]any{"chunk_size": len(entries), "next_stream_position": strconv.Itoa(e.posBase + end), "entries": entries})
}

// adminEventType maps a user-stream event type to the enterprise stream's name for the same
// action (both sets are in the Event schema's event_type enum of box-openapi.json).
var adminEventType = map[string]string{
	"ITEM_UPLOAD": "UPLOAD", "ITEM_CREATE": "UPLOAD", "ITEM_TRASH": "DELETE", "ITEM_MOVE": "MOVE", "ITEM_COPY": "COPY",
	"ITEM_RENAME": "RENAME", "ITEM_UNDELETE_VIA_TRASH": "UNDELETE", "ITEM_SHARED_UPDATE": "ITEM_SHARED_UPDATE",
	"ITEM_SHARED_CREATE": "SHARE", "ITEM_SHARED_UNSHARE": "UNSHARE", "COLLAB_ADD_COLLABORATOR": "COLLABORATION_INVITE",
	"COLLAB_REMOVE_COLLABORATOR": "COLLABORATION_REMOVE", "COLLAB_ROLE_CHANGE": "COLLABORATION_ROLE_CHANGE",
	"METADATA_INSTANCE_CREATE": "METADATA_INSTANCE_CREATE", "METADATA_INSTANCE_UPDATE": "METADATA_INSTANCE_UPDATE",
	"METADATA_INSTANCE_DELETE": "METADATA_INSTANCE_DELETE",
}

// adminEvent renders an event as admin_logs_streaming does: its source is an EventSource
// (item_type, item_id, item_name, parent, owned_by), with no path_collection.
func adminEvent(ev event, by *user) map[string]any {
	typ := adminEventType[ev.typ]
	if typ == "" {
		typ = ev.typ
	}
	src := map[string]any{"item_type": ev.source["type"], "item_id": ev.source["id"], "item_name": ev.source["name"]}
	if p, ok := ev.source["parent"]; ok {
		src["parent"] = p
	}
	if o, ok := ev.source["owned_by"]; ok {
		src["owned_by"] = o
	}
	return map[string]any{"type": "event", "event_id": ev.id, "event_type": typ, "created_at": ev.at.Format(time.RFC3339),
		"created_by": userJSON(by), "source": src, "additional_details": map[string]any{}}
}

// purgeLocked drops events older than the retention from the stream.
func (e *Emulator) purgeLocked() {
	cut := e.now().Add(-e.opts.Retention)
	for e.expiredBefore < len(e.events) && e.events[e.expiredBefore].at.Before(cut) {
		e.expiredBefore++
	}
}

func (e *Emulator) webhookJSON(h *webhook) map[string]any {
	return map[string]any{"type": "webhook", "id": h.id, "target": map[string]any{"id": h.targetID, "type": h.targetType},
		"address": h.address, "triggers": h.triggers, "created_at": h.created.Format(time.RFC3339), "created_by": userJSON(e.service)}
}

func (e *Emulator) listWebhooks(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	limit, off, ok := pageParams(w, r, 100, 200)
	if !ok {
		return
	}
	entries := []map[string]any{}
	end := min(off+limit, len(e.webhookOrder))
	for _, id := range e.webhookOrder[min(off, len(e.webhookOrder)):end] {
		h := e.webhooks[id] // the list holds Webhook--Mini entries (Box OpenAPI: Webhooks)
		entries = append(entries, map[string]any{"type": "webhook", "id": h.id, "target": map[string]any{"id": h.targetID, "type": h.targetType}})
	}
	resp := map[string]any{"entries": entries, "limit": limit}
	if end < len(e.webhookOrder) {
		resp["next_marker"] = encodeMarker(end)
	}
	writeJSON(w, 200, resp)
}

// knownTriggers is the trigger enum of POST /webhooks in box-openapi.json.
var knownTriggers = map[string]bool{}

func init() {
	for _, t := range []string{"FILE.UPLOADED", "FILE.PREVIEWED", "FILE.DOWNLOADED", "FILE.TRASHED", "FILE.DELETED",
		"FILE.RESTORED", "FILE.COPIED", "FILE.MOVED", "FILE.LOCKED", "FILE.UNLOCKED", "FILE.RENAMED", "COMMENT.CREATED",
		"COMMENT.UPDATED", "COMMENT.DELETED", "TASK_ASSIGNMENT.CREATED", "TASK_ASSIGNMENT.UPDATED",
		"METADATA_INSTANCE.CREATED", "METADATA_INSTANCE.UPDATED", "METADATA_INSTANCE.DELETED", "FOLDER.CREATED",
		"FOLDER.RENAMED", "FOLDER.DOWNLOADED", "FOLDER.RESTORED", "FOLDER.DELETED", "FOLDER.COPIED", "FOLDER.MOVED",
		"FOLDER.TRASHED", "WEBHOOK.DELETED", "COLLABORATION.CREATED", "COLLABORATION.ACCEPTED", "COLLABORATION.REJECTED",
		"COLLABORATION.REMOVED", "COLLABORATION.UPDATED", "SHARED_LINK.DELETED", "SHARED_LINK.CREATED",
		"SHARED_LINK.UPDATED", "SIGN_REQUEST.COMPLETED", "SIGN_REQUEST.DECLINED", "SIGN_REQUEST.EXPIRED",
		"SIGN_REQUEST.SIGNER_EMAIL_BOUNCED", "SIGN_REQUEST.SIGN_SIGNER_SIGNED", "SIGN_REQUEST.SIGN_DOCUMENT_CREATED",
		"SIGN_REQUEST.SIGN_ERROR_FINALIZING"} {
		knownTriggers[t] = true
	}
}

type webhookBody struct {
	Target *struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"target"`
	Address  string   `json:"address"`
	Triggers []string `json:"triggers"`
}

func validTriggers(w http.ResponseWriter, ts []string) bool {
	for _, t := range ts {
		if !knownTriggers[t] {
			boxError(w, 400, "bad_request", "unknown trigger "+t)
			return false
		}
	}
	return true
}

// createWebhook follows Box's documented limits
// (https://developer.box.com/guides/webhooks/v2/limitations-v2/): no V2 webhook on the root
// folder "0" (the status is not documented; the OpenAPI's 400 "parameters were incorrect" is
// used), one webhook per item per app per user whatever its address (409, as the OpenAPI
// documents), and at most 1,000 per app per user (again undocumented status; 400).
func (e *Emulator) createWebhook(w http.ResponseWriter, r *http.Request) {
	var body webhookBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Target == nil || body.Address == "" || len(body.Triggers) == 0 {
		boxError(w, 400, "bad_request", "target, address and triggers are required")
		return
	}
	if !validTriggers(w, body.Triggers) {
		return
	}
	if body.Target.ID == "0" {
		boxError(w, 400, "bad_request", "Webhooks cannot be created on the root folder (ID 0)")
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.liveItem(w, body.Target.ID, body.Target.Type == "folder"); !ok {
		return
	}
	for _, id := range e.webhookOrder {
		if h := e.webhooks[id]; h.targetID == body.Target.ID && h.targetType == body.Target.Type {
			boxError(w, 409, "conflict", "Webhook:"+id+" already exists on the specified target.")
			return
		}
	}
	if len(e.webhookOrder) >= e.opts.MaxWebhooks {
		boxError(w, 400, "bad_request", fmt.Sprintf("the application already has %d webhooks for this user", len(e.webhookOrder)))
		return
	}
	h := &webhook{id: e.newID(), targetID: body.Target.ID, targetType: body.Target.Type, address: body.Address,
		triggers: body.Triggers, created: e.now().UTC().Truncate(time.Second)}
	e.webhooks[h.id] = h
	e.webhookOrder = append(e.webhookOrder, h.id)
	e.webhookCreates++
	writeJSON(w, 201, e.webhookJSON(h))
}

// updateWebhook is PUT /webhooks/{id}: a new address, triggers or target.
func (e *Emulator) updateWebhook(w http.ResponseWriter, r *http.Request) {
	var body webhookBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		boxError(w, 400, "bad_request", "invalid JSON")
		return
	}
	if !validTriggers(w, body.Triggers) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	h, ok := e.webhooks[r.PathValue("id")]
	if !ok {
		boxError(w, 404, "not_found", "Could not find the specified resource")
		return
	}
	if body.Target != nil && (body.Target.ID != h.targetID || body.Target.Type != h.targetType) {
		if body.Target.ID == "0" {
			boxError(w, 400, "bad_request", "Webhooks cannot be created on the root folder (ID 0)")
			return
		}
		if _, ok := e.liveItem(w, body.Target.ID, body.Target.Type == "folder"); !ok {
			return
		}
		for _, id := range e.webhookOrder {
			if o := e.webhooks[id]; o.targetID == body.Target.ID && o.targetType == body.Target.Type {
				boxError(w, 409, "conflict", "Webhook:"+id+" already exists on the specified target.")
				return
			}
		}
		h.targetID, h.targetType = body.Target.ID, body.Target.Type
	}
	if body.Address != "" {
		h.address = body.Address
	}
	if len(body.Triggers) > 0 {
		h.triggers = body.Triggers
	}
	e.webhookUpdates++
	writeJSON(w, 200, e.webhookJSON(h))
}

func (e *Emulator) getWebhook(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	h, ok := e.webhooks[r.PathValue("id")]
	if !ok {
		boxError(w, 404, "not_found", "Could not find the specified resource")
		return
	}
	writeJSON(w, 200, e.webhookJSON(h))
}

func (e *Emulator) deleteWebhookHandler(w http.ResponseWriter, r *http.Request) {
	if !e.DeleteWebhook(r.PathValue("id")) {
		boxError(w, 404, "not_found", "Could not find the specified resource")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) upload(w http.ResponseWriter, r *http.Request) {
	mr, err := r.MultipartReader()
	if err != nil {
		boxError(w, 400, "bad_request", "multipart body required")
		return
	}
	var attrs map[string]any
	var content []byte
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			boxError(w, 400, "bad_request", "bad multipart body: "+err.Error())
			return
		}
		switch p.FormName() {
		case "attributes":
			if content != nil {
				boxError(w, 400, "bad_request", "attributes must come before the file part")
				return
			}
			if err := json.NewDecoder(p).Decode(&attrs); err != nil {
				boxError(w, 400, "bad_request", "attributes are not JSON")
				return
			}
		case "file":
			if content, err = readPart(p); err != nil {
				boxError(w, 400, "bad_request", err.Error())
				return
			}
		}
	}
	if content == nil {
		boxError(w, 400, "bad_request", "no file part")
		return
	}
	e.mu.Lock()
	it, ok := e.liveItem(w, r.PathValue("id"), false)
	if !ok {
		e.mu.Unlock()
		return
	}
	if name, _ := attrs["name"].(string); name != "" {
		it.name = name
	}
	// If-Match: the etag the client last read; 412 when the file has changed since
	// (POST /files/{id}/content in box-openapi.json).
	if im := r.Header.Get("If-Match"); im != "" && im != strconv.Itoa(it.etag) {
		e.mu.Unlock()
		boxError(w, 412, "precondition_failed", "The resource has been modified. Please retrieve the resource again and retry")
		return
	}
	e.newVersionLocked(it, content)
	out := map[string]any{"total_count": 1, "entries": []any{e.itemJSON(it, nil)}}
	pending := e.recordLocked("ITEM_UPLOAD", it)
	e.mu.Unlock()
	writeJSON(w, 200, out) // the OpenAPI's success status for a new version
	e.deliver(pending)
}

func readPart(p *multipart.Part) ([]byte, error) {
	b, err := io.ReadAll(p)
	if err != nil {
		return nil, fmt.Errorf("reading file part: %w", err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}
