// Package admin serves labelgate's admin REST API (/api/v1) with bearer-token roles.
package admin

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/config"
	"github.com/labelgate/labelgate/internal/store"
)

// Executor takes admin label requests; they go through the same rules and quotas as policy
// actions (with the admins' own allowance).
type Executor interface {
	Submit(ctx context.Context, a store.Action) (int64, error)
}

// Queue is the scan queue as the admin sees it.
type Queue interface {
	Stats(ctx context.Context) (any, error)
	Dead(ctx context.Context, limit int) (any, error)
	// Pending reports whether any scan job of app ("" = any app) is still open, cheaply
	// enough to poll while a rescan runs.
	Pending(ctx context.Context, app string) (bool, error)
	Requeue(ctx context.Context, id int64) error
	EnqueueAdmin(ctx context.Context, ref connectors.FileRef) error
}

// Rescans starts and follows full rescans.
type Rescans interface {
	Start(ctx context.Context, connector, scope string, force bool) (int64, error)
	Get(ctx context.Context, id int64) (any, error)
	List(ctx context.Context) (any, error)
	Cancel(ctx context.Context, id int64) error
}

// Policies validates and applies policy documents and answers what-if questions.
type Policies interface {
	// Apply validates a YAML or JSON document of one or more policies and stores them all, or none.
	Apply(ctx context.Context, doc []byte) ([]string, error)
	// Export returns a stored policy as YAML.
	Export(ctx context.Context, id string) ([]byte, error)
	WhatIf(ctx context.Context, id string) (any, error)
}

// Catalog syncs labels on demand.
type Catalog interface {
	Sync(ctx context.Context) (any, error)
}

// Quotas reports quota use.
type Quotas interface {
	Quotas(ctx context.Context) (any, error)
}

// Config wires the API. Nil optional parts answer 501.
type Config struct {
	Store    *store.Store
	Tokens   []Token
	Executor Executor
	Queue    Queue
	Rescans  Rescans
	Policies Policies
	Catalog  Catalog
	Quotas   Quotas
	// Sharing undoes sharing actions and lists a file's live permissions (issue 24); nil
	// answers undo with 501.
	Sharing Sharing
	// Protection is labels.protection, shown with each label.
	Protection config.ProtectionRules
	// Alerts serves the alert inbox routes (GET /alerts, POST /alerts/{id}/ack|resolve).
	Alerts http.Handler
	Logger *slog.Logger
	// MaxBodyBytes caps request bodies; default 1 MiB.
	MaxBodyBytes int64
	// OnlyThisTenant hides external labels from listings.
	OnlyThisTenant bool
	// Limiter throttles failed authentications per client; nil makes one (share it with
	// the console so both count the same guesses).
	Limiter *AuthLimiter
}

// API is the admin HTTP handler.
type API struct {
	cfg Config
	mux *http.ServeMux
	h   http.Handler // mux behind the recover and header middleware
	log *slog.Logger
}

//go:embed openapi.json
var openapiDoc []byte

// OpenAPI returns the API's OpenAPI 3 document.
func OpenAPI() []byte { return openapiDoc }

// New builds the API.
func New(cfg Config) *API {
	a := &API{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.cfg.MaxBodyBytes <= 0 {
		a.cfg.MaxBodyBytes = 1 << 20
	}
	if a.cfg.Limiter == nil {
		a.cfg.Limiter = NewAuthLimiter()
	}
	a.routes()
	a.h = NoSniff(Recover(a.log, a.mux))
	return a
}

type route struct {
	method, path string
	role         Role
	h            func(w http.ResponseWriter, r *http.Request) error
}

// Routes lists every route with its required role; the OpenAPI test checks the document
// describes exactly these.
func (a *API) Routes() []struct{ Method, Path string } {
	var out []struct{ Method, Path string }
	for _, rt := range a.table() {
		out = append(out, struct{ Method, Path string }{rt.method, rt.path})
	}
	return out
}

func (a *API) table() []route {
	return []route{
		{"GET", "/api/v1/files", RoleViewer, a.listFiles},
		{"GET", "/api/v1/files/{id}", RoleViewer, a.getFile},
		{"POST", "/api/v1/files/{id}/label", RoleAdmin, a.applyLabel},
		{"DELETE", "/api/v1/files/{id}/label", RoleAdmin, a.removeLabel},
		{"POST", "/api/v1/files/{id}/scan", RoleAdmin, a.scanFile},
		{"GET", "/api/v1/actions", RoleViewer, a.listActions},
		{"GET", "/api/v1/actions/{id}", RoleViewer, a.getAction},
		{"POST", "/api/v1/actions/{id}/cancel", RoleAdmin, a.cancelAction},
		{"POST", "/api/v1/actions/{id}/undo", RoleAdmin, a.undoAction},
		{"GET", "/api/v1/rescans", RoleViewer, a.listRescans},
		{"POST", "/api/v1/rescans", RoleAdmin, a.startRescan},
		{"GET", "/api/v1/rescans/{id}", RoleViewer, a.getRescan},
		{"POST", "/api/v1/rescans/{id}/cancel", RoleAdmin, a.cancelRescan},
		{"GET", "/api/v1/policies", RoleViewer, a.listPolicies},
		{"POST", "/api/v1/policies", RoleAdmin, a.applyPolicies},
		{"GET", "/api/v1/policies/{id}", RoleViewer, a.getPolicy},
		{"DELETE", "/api/v1/policies/{id}", RoleAdmin, a.deletePolicy},
		{"POST", "/api/v1/policies/{id}/enable", RoleAdmin, a.enablePolicy},
		{"POST", "/api/v1/policies/{id}/disable", RoleAdmin, a.disablePolicy},
		{"GET", "/api/v1/policies/{id}/whatif", RoleViewer, a.whatIf},
		{"GET", "/api/v1/labels", RoleViewer, a.listLabels},
		{"POST", "/api/v1/labels/sync", RoleAdmin, a.syncLabels},
		{"GET", "/api/v1/quotas", RoleViewer, a.quotas},
		{"GET", "/api/v1/queue/stats", RoleViewer, a.queueStats},
		{"GET", "/api/v1/queue/dead", RoleViewer, a.queueDead},
		{"GET", "/api/v1/queue/pending", RoleViewer, a.queuePending},
		{"POST", "/api/v1/queue/dead/{id}/requeue", RoleAdmin, a.requeue},
		{"GET", "/api/v1/events", RoleViewer, a.listEvents},
		{"GET", "/api/v1/alerts", RoleViewer, a.alerts},
		{"POST", "/api/v1/alerts/{id}/ack", RoleAdmin, a.alerts},
		{"POST", "/api/v1/alerts/{id}/resolve", RoleAdmin, a.alerts},
	}
}

func (a *API) routes() {
	for _, rt := range a.table() {
		rt := rt
		a.mux.HandleFunc(rt.method+" "+rt.path, func(w http.ResponseWriter, r *http.Request) {
			client := ClientKey(r)
			if ok, wait := a.cfg.Limiter.Allow(client); !ok {
				TooMany(w, wait)
				a.log.Warn("admin API: locked out after failed authentications", "remote", r.RemoteAddr)
				return
			}
			tok, ok := authenticate(r, a.cfg.Tokens)
			if !ok {
				a.cfg.Limiter.Fail(client)
				w.Header().Set("WWW-Authenticate", `Bearer realm="labelgate"`)
				writeErr(w, http.StatusUnauthorized, "missing or invalid bearer token")
				a.log.Warn("admin API: unauthenticated", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
				return
			}
			if tok.Role < rt.role {
				writeErr(w, http.StatusForbidden, "this token's role may not do this")
				a.log.Warn("admin API: forbidden", "token", tok.Name, "method", r.Method, "path", r.URL.Path)
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes)
			ctx := context.WithValue(r.Context(), tokenKey{}, tok.Name)
			if err := rt.h(w, r.WithContext(ctx)); err != nil {
				a.fail(w, r, err)
			}
		})
	}
	a.mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapiDoc)
	})
	a.mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, _ *http.Request) {
		writeErr(w, http.StatusNotFound, "no such endpoint")
	})
}

type tokenKey struct{}

func actor(ctx context.Context) string {
	if n, ok := ctx.Value(tokenKey{}).(string); ok {
		return "admin:" + n
	}
	return "admin"
}

func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.h.ServeHTTP(w, r) }

// httpError is an error with the status to answer.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

var errNotConfigured = &httpError{status: http.StatusNotImplemented, msg: "not available in this deployment"}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		writeErr(w, he.status, he.msg)
	case errors.As(err, &mbe):
		writeErr(w, http.StatusRequestEntityTooLarge, "request body too large")
	case errors.Is(err, store.ErrNotFound):
		writeErr(w, http.StatusNotFound, err.Error())
	default:
		a.log.Error("admin API", "method", r.Method, "path", r.URL.Path, "err", err)
		writeErr(w, http.StatusInternalServerError, "internal error")
	}
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("bad JSON body: %v", err)
	}
	return nil
}

// FileID is the opaque id of a file in the API: its ref, base64url-encoded.
func FileID(ref connectors.FileRef) string {
	return base64.RawURLEncoding.EncodeToString([]byte(string(ref.App) + "\x00" + ref.Tenant + "\x00" + ref.Drive + "\x00" + ref.ItemID))
}

// ParseFileID reverses FileID.
func ParseFileID(id string) (connectors.FileRef, error) { return parseFileID(id) }

func parseFileID(id string) (connectors.FileRef, error) {
	b, err := base64.RawURLEncoding.DecodeString(id)
	parts := strings.Split(string(b), "\x00")
	if err != nil || len(parts) != 4 {
		return connectors.FileRef{}, badRequest("bad file id %q", id)
	}
	return connectors.FileRef{App: connectors.App(parts[0]), Tenant: parts[1], Drive: parts[2], ItemID: parts[3]}, nil
}

// FileHandle is a file's short handle: 10 base32 characters of the SHA-256 of its id,
// stable for as long as the file keeps its ref, and typeable (the ids are ~100 characters
// of base64). 50 bits make an accidental collision unlikely below millions of files; one
// that happens is refused as ambiguous, never resolved to the wrong file.
func FileHandle(ref connectors.FileRef) string {
	sum := sha256.Sum256([]byte(FileID(ref)))
	return strings.ToLower(base32.StdEncoding.EncodeToString(sum[:]))[:handleLen]
}

const handleLen = 10

func isHandle(s string) bool {
	if len(s) != handleLen {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// fileRef reads a file id or a short handle. A handle is resolved by walking the inventory
// (the store keeps no handle index; a walk costs about a second per 100,000 files).
func (a *API) fileRef(ctx context.Context, id string) (connectors.FileRef, error) {
	if !isHandle(id) {
		return parseFileID(id)
	}
	var found []connectors.FileRef
	err := a.cfg.Store.EachFile(ctx, store.FileFilter{}, func(fr store.FileRecord) error {
		if FileHandle(fr.Ref) == id {
			found = append(found, fr.Ref)
		}
		return nil
	})
	switch {
	case err != nil:
		return connectors.FileRef{}, err
	case len(found) == 0:
		return connectors.FileRef{}, fmt.Errorf("file handle %q: %w", id, store.ErrNotFound)
	case len(found) > 1:
		return connectors.FileRef{}, badRequest("file handle %q is ambiguous; use the file id", id)
	}
	return found[0], nil
}

// fileView is a file as the API shows it.
type fileView struct {
	ID     string `json:"id"`
	Handle string `json:"handle"`
	store.FileRecord
}

func (a *API) listFiles(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.FileFilter{App: connectors.App(q.Get("app")), Tenant: q.Get("tenant"), LabelID: q.Get("label"),
		Access: connectors.AccessLevel(q.Get("access")), Owner: q.Get("owner"), PathPrefix: q.Get("pathPrefix"),
		NoLabel: q.Get("noLabel") == "true", External: q.Get("external") == "true", Protected: q.Get("protected") == "true"}
	if v := q.Get("modifiedSince"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return badRequest("modifiedSince: want RFC 3339, got %q", v)
		}
		f.ModifiedSince = t
	}
	limit, err := limitParam(q.Get("limit"), 100)
	if err != nil {
		return err
	}
	recs, next, err := a.cfg.Store.ListFiles(r.Context(), f, q.Get("pageToken"), limit)
	if err != nil {
		if strings.Contains(err.Error(), "page token") {
			return badRequest("%v", err)
		}
		return err
	}
	items := make([]fileView, len(recs))
	for i, rec := range recs {
		items[i] = fileView{ID: FileID(rec.Ref), Handle: FileHandle(rec.Ref), FileRecord: rec}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "nextPageToken": next})
	return nil
}

// maxLimit bounds every page an API caller may ask for: larger pages cost the store (and
// River, which panics above 10,000) memory and time for nothing a client cannot page through.
const maxLimit = 1000

// limitParam reads a page size: default def, refused with 400 outside 1..maxLimit.
func limitParam(v string, def int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLimit {
		return 0, badRequest("limit: want a number from 1 to %d, got %q", maxLimit, v)
	}
	return n, nil
}

func intParam(v string, def int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badRequest("want a non-negative number, got %q", v)
	}
	return n, nil
}

func (a *API) getFile(w http.ResponseWriter, r *http.Request) error {
	ref, err := a.fileRef(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	rec, err := a.cfg.Store.GetFile(r.Context(), ref)
	if err != nil {
		return err
	}
	hist, err := a.cfg.Store.ListEvents(r.Context(), store.EventFilter{ItemRef: &ref}, 1000)
	if err != nil {
		return err
	}
	acts, err := a.cfg.Store.ListActions(r.Context(), store.ActionFilter{Ref: &ref, Limit: 1000})
	if err != nil {
		return err
	}
	// Every label the file carries (one per tenant, with where it was found), issue 20.
	labels, err := a.cfg.Store.FileLabels(r.Context(), ref)
	if err != nil {
		return err
	}
	// The grants sharing actions removed from the file, and whether undo restored each
	// (issue 24).
	changes, err := a.cfg.Store.FileSharingChanges(r.Context(), ref)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"file": fileView{ID: FileID(ref), Handle: FileHandle(ref), FileRecord: rec}, "labels": labels,
		"history": hist, "actions": acts, "sharingChanges": changes})
	return nil
}

type labelRequest struct {
	LabelID       string `json:"labelId"`
	Justification string `json:"justification"`
}

func (a *API) submit(w http.ResponseWriter, r *http.Request, kind string) error {
	if a.cfg.Executor == nil {
		return errNotConfigured
	}
	ref, err := a.fileRef(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	var req labelRequest
	if kind == store.ActionApplyLabel || r.ContentLength > 0 {
		if err := readJSON(r, &req); err != nil {
			return err
		}
	}
	if kind == store.ActionApplyLabel && req.LabelID == "" {
		return badRequest("labelId is required")
	}
	if _, err := a.cfg.Store.GetFile(r.Context(), ref); err != nil {
		return err
	}
	params, _ := json.Marshal(map[string]string{"justification": req.Justification})
	id, err := a.cfg.Executor.Submit(r.Context(), store.Action{
		Key:  fmt.Sprintf("admin|%s|%s|%s|%d", ref.Key(), kind, req.LabelID, time.Now().UnixNano()),
		Kind: kind, Ref: ref, LabelID: req.LabelID, Params: params, RequestedBy: actor(r.Context()), Manual: true,
		Reason: req.Justification,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"actionId": id})
	return nil
}

func (a *API) applyLabel(w http.ResponseWriter, r *http.Request) error {
	return a.submit(w, r, store.ActionApplyLabel)
}

func (a *API) removeLabel(w http.ResponseWriter, r *http.Request) error {
	return a.submit(w, r, store.ActionRemoveLabel)
}

func (a *API) scanFile(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Queue == nil {
		return errNotConfigured
	}
	ref, err := a.fileRef(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := a.cfg.Queue.EnqueueAdmin(r.Context(), ref); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"queued": true})
	return nil
}

func (a *API) listActions(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	after, err := intParam(q.Get("after"), 0)
	if err != nil {
		return err
	}
	limit, err := limitParam(q.Get("limit"), 100)
	if err != nil {
		return err
	}
	f := store.ActionFilter{PolicyID: q.Get("policy"), Kind: q.Get("kind"), AfterID: int64(after), Limit: limit}
	if s := q.Get("state"); s != "" {
		f.States = strings.Split(s, ",")
	}
	acts, err := a.cfg.Store.ListActions(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": nonNil(acts)})
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func idParam(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, badRequest("bad id %q", r.PathValue("id"))
	}
	return id, nil
}

func (a *API) getAction(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	act, err := a.cfg.Store.GetAction(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, act)
	return nil
}

func (a *API) cancelAction(w http.ResponseWriter, r *http.Request) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	if err := a.cancelInStore(r.Context(), id); err != nil {
		return err
	}
	act, err := a.cfg.Store.GetAction(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, act)
	return nil
}

func (a *API) cancelInStore(ctx context.Context, id int64) error {
	act, err := a.cfg.Store.GetAction(ctx, id)
	if err != nil {
		return err
	}
	switch act.State {
	case store.ActionPending, store.ActionSuspended, store.ActionPaused:
		ok, err := a.cfg.Store.SetActionState(ctx, id, act.State, store.ActionCanceled, "canceled by "+actor(ctx))
		if err != nil {
			return err
		}
		if !ok {
			return &httpError{status: http.StatusConflict, msg: "the action changed state; try again"}
		}
		return nil
	}
	return &httpError{status: http.StatusConflict, msg: "action is " + act.State + " and can no longer be canceled"}
}

type rescanRequest struct {
	Connector string `json:"connector"`
	Scope     string `json:"scope"`
	Force     bool   `json:"force"`
}

func (a *API) startRescan(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Rescans == nil {
		return errNotConfigured
	}
	var req rescanRequest
	if err := readJSON(r, &req); err != nil {
		return err
	}
	if req.Connector == "" {
		return badRequest("connector is required")
	}
	id, err := a.cfg.Rescans.Start(r.Context(), req.Connector, req.Scope, req.Force)
	if err != nil {
		return err
	}
	v, err := a.cfg.Rescans.Get(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, v)
	return nil
}

func (a *API) listRescans(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Rescans == nil {
		return errNotConfigured
	}
	v, err := a.cfg.Rescans.List(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": v})
	return nil
}

func (a *API) getRescan(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Rescans == nil {
		return errNotConfigured
	}
	id, err := idParam(r)
	if err != nil {
		return err
	}
	v, err := a.cfg.Rescans.Get(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) cancelRescan(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Rescans == nil {
		return errNotConfigured
	}
	id, err := idParam(r)
	if err != nil {
		return err
	}
	if err := a.cfg.Rescans.Cancel(r.Context(), id); err != nil {
		return err
	}
	return a.getRescan(w, r)
}

// policyView is a stored policy with its document decoded for JSON clients.
type policyView struct {
	store.Policy
	Document json.RawMessage `json:"document,omitempty"`
	YAML     string          `json:"yaml,omitempty"`
}

func viewPolicy(p store.Policy) policyView {
	v := policyView{Policy: p}
	if json.Valid(p.Doc) {
		v.Document = p.Doc
	} else {
		v.YAML = string(p.Doc)
	}
	return v
}

func (a *API) listPolicies(w http.ResponseWriter, r *http.Request) error {
	ps, err := a.cfg.Store.ListPolicies(r.Context())
	if err != nil {
		return err
	}
	out := make([]policyView, len(ps))
	for i, p := range ps {
		out[i] = viewPolicy(p)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
	return nil
}

func (a *API) applyPolicies(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Policies == nil {
		return errNotConfigured
	}
	doc, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	ids, err := a.cfg.Policies.Apply(r.Context(), doc)
	if err != nil {
		var he *httpError
		if errors.As(err, &he) {
			return err
		}
		return &httpError{status: http.StatusUnprocessableEntity, msg: err.Error()}
	}
	writeJSON(w, http.StatusOK, map[string]any{"applied": nonNil(ids)})
	return nil
}

func (a *API) getPolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := a.cfg.Store.GetPolicy(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if r.URL.Query().Get("format") == "yaml" && a.cfg.Policies != nil {
		y, err := a.cfg.Policies.Export(r.Context(), p.ID)
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(y)
		return nil
	}
	writeJSON(w, http.StatusOK, viewPolicy(p))
	return nil
}

func (a *API) deletePolicy(w http.ResponseWriter, r *http.Request) error {
	if err := a.cfg.Store.DeletePolicy(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) setPolicy(w http.ResponseWriter, r *http.Request, enabled bool) error {
	id := r.PathValue("id")
	if err := a.cfg.Store.SetPolicyEnabled(r.Context(), id, enabled); err != nil {
		return err
	}
	p, err := a.cfg.Store.GetPolicy(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewPolicy(p))
	return nil
}

func (a *API) enablePolicy(w http.ResponseWriter, r *http.Request) error {
	return a.setPolicy(w, r, true)
}
func (a *API) disablePolicy(w http.ResponseWriter, r *http.Request) error {
	return a.setPolicy(w, r, false)
}

func (a *API) whatIf(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Policies == nil {
		return errNotConfigured
	}
	id := r.PathValue("id")
	if _, err := a.cfg.Store.GetPolicy(r.Context(), id); err != nil {
		return err
	}
	v, err := a.cfg.Policies.WhatIf(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) listLabels(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	ls, err := a.cfg.Store.ListLabels(r.Context(), store.LabelFilter{App: connectors.App(q.Get("app")), Tenant: q.Get("tenant"),
		OnlyThisTenant: a.cfg.OnlyThisTenant})
	if err != nil {
		return err
	}
	prot := LabelProtections(a.cfg.Protection, ls)
	items := make([]labelView, len(ls))
	for i, l := range ls {
		items[i] = labelView{CatalogLabel: l, Sharing: prot[i]}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (a *API) syncLabels(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Catalog == nil {
		return errNotConfigured
	}
	v, err := a.cfg.Catalog.Sync(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) quotas(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Quotas == nil {
		return errNotConfigured
	}
	v, err := a.cfg.Quotas.Quotas(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": v})
	return nil
}

func (a *API) queueStats(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Queue == nil {
		return errNotConfigured
	}
	v, err := a.cfg.Queue.Stats(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// queuePending answers {"app": …, "pending": bool}: whether any scan job of ?app= (any
// app without it) is open; a script waiting for a rescan's scans to drain polls this.
func (a *API) queuePending(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Queue == nil {
		return errNotConfigured
	}
	app := r.URL.Query().Get("app")
	p, err := a.cfg.Queue.Pending(r.Context(), app)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"app": app, "pending": p})
	return nil
}

func (a *API) queueDead(w http.ResponseWriter, r *http.Request) error {
	limit, err := limitParam(r.URL.Query().Get("limit"), 100)
	if err != nil {
		return err
	}
	if a.cfg.Queue == nil {
		return errNotConfigured
	}
	v, err := a.cfg.Queue.Dead(r.Context(), limit)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": v})
	return nil
}

func (a *API) requeue(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Queue == nil {
		return errNotConfigured
	}
	id, err := idParam(r)
	if err != nil {
		return err
	}
	if err := a.cfg.Queue.Requeue(r.Context(), id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"requeued": id})
	return nil
}

func (a *API) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.EventFilter{App: connectors.App(q.Get("app")), Tenant: q.Get("tenant"), Kind: q.Get("kind"), LabelID: q.Get("label")}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return badRequest("%s: want RFC 3339, got %q", name, v)
			}
			*dst = t
		}
	}
	after, err := intParam(q.Get("after"), 0)
	if err != nil {
		return err
	}
	f.AfterID = int64(after)
	if q.Get("format") == "jsonl" {
		return a.exportEvents(w, r, f)
	}
	limit, err := limitParam(q.Get("limit"), 100)
	if err != nil {
		return err
	}
	evs, err := a.cfg.Store.ListEvents(r.Context(), f, limit)
	if err != nil {
		return err
	}
	next := ""
	if len(evs) > 0 && len(evs) == limit {
		next = strconv.FormatInt(evs[len(evs)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": nonNil(evs), "next": next})
	return nil
}

// exportEvents streams every matching event as JSON lines, page by page.
func (a *API) exportEvents(w http.ResponseWriter, r *http.Request, f store.EventFilter) error {
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	for {
		evs, err := a.cfg.Store.ListEvents(r.Context(), f, 1000)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := enc.Encode(e); err != nil {
				return nil // the client went away
			}
		}
		if len(evs) < 1000 {
			return nil
		}
		f.AfterID = evs[len(evs)-1].ID
	}
}

func (a *API) alerts(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Alerts == nil {
		return errNotConfigured
	}
	a.cfg.Alerts.ServeHTTP(w, r)
	return nil
}
