package alerts

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
)

// Inbox lists and manages alerts.
type Inbox struct {
	st *store.Store
}

// NewInbox returns the inbox over st.
func NewInbox(st *store.Store) *Inbox { return &Inbox{st: st} }

// ListFilter selects alerts for List.
type ListFilter struct {
	// State is open, acknowledged, resolved, "unresolved" (open or acknowledged; the
	// default) or "all".
	State    string
	Rule     string
	Severity string
	App      connectors.App
	// PageToken continues a listing (the NextPageToken of the previous page).
	PageToken string
	Limit     int
}

// Page is one page of alerts, newest first.
type Page struct {
	Items         []store.Alert `json:"items"`
	NextPageToken string        `json:"nextPageToken,omitempty"`
}

// ErrBadRequest marks a malformed filter.
var ErrBadRequest = errors.New("bad request")

// List returns one page of matching alerts, newest first.
func (i *Inbox) List(ctx context.Context, f ListFilter) (Page, error) {
	sf := store.AlertFilter{Rule: f.Rule, Severity: f.Severity, App: f.App}
	switch f.State {
	case "", "unresolved":
		sf.States = []string{store.AlertOpen, store.AlertAcknowledged}
	case "all":
	case store.AlertOpen, store.AlertAcknowledged, store.AlertResolved:
		sf.States = []string{f.State}
	default:
		return Page{}, fmt.Errorf("%w: state %q: want open, acknowledged, resolved, unresolved or all", ErrBadRequest, f.State)
	}
	if f.PageToken != "" {
		id, err := strconv.ParseInt(f.PageToken, 10, 64)
		if err != nil || id <= 0 {
			return Page{}, fmt.Errorf("%w: bad page token", ErrBadRequest)
		}
		sf.BeforeID = id
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	sf.Limit = limit + 1
	items, err := i.st.ListAlerts(ctx, sf)
	if err != nil {
		return Page{}, err
	}
	p := Page{Items: items}
	if len(items) > limit {
		p.Items = items[:limit]
		p.NextPageToken = strconv.FormatInt(p.Items[limit-1].ID, 10)
	}
	if p.Items == nil {
		p.Items = []store.Alert{}
	}
	return p, nil
}

// Get returns one alert.
func (i *Inbox) Get(ctx context.Context, id int64) (store.Alert, error) {
	return i.st.GetAlert(ctx, id)
}

// Ack acknowledges an alert: someone is on it. Repeats of it keep joining it.
func (i *Inbox) Ack(ctx context.Context, id int64, by string) (store.Alert, error) {
	return i.st.AckAlert(ctx, id, by)
}

// Resolve closes an alert; a new occurrence opens a new one.
func (i *Inbox) Resolve(ctx context.Context, id int64, by string) (store.Alert, error) {
	return i.st.ResolveAlert(ctx, id, by)
}

// Counts counts alerts by state.
func (i *Inbox) Counts(ctx context.Context) (map[string]int64, error) { return i.st.CountAlerts(ctx) }

// HandlerOptions tune the HTTP handler.
type HandlerOptions struct {
	// Actor names who acknowledges or resolves, from the authenticated request; default the
	// "by" field of the JSON body, else "admin".
	Actor func(*http.Request) string
}

// Handler serves GET /api/v1/alerts, POST /api/v1/alerts/{id}/ack and
// POST /api/v1/alerts/{id}/resolve. Authentication is the mounting mux's job.
func (i *Inbox) Handler(opts HandlerOptions) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/alerts", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit := 0
		if v := q.Get("limit"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				writeErr(w, http.StatusBadRequest, "limit: want a positive number")
				return
			}
			limit = n
		}
		p, err := i.List(r.Context(), ListFilter{State: q.Get("state"), Rule: q.Get("rule"), Severity: q.Get("severity"),
			App: connectors.App(q.Get("app")), PageToken: q.Get("pageToken"), Limit: limit})
		if err != nil {
			fail(w, err)
			return
		}
		writeJSON(w, http.StatusOK, p)
	})
	change := func(do func(context.Context, int64, string) (store.Alert, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
			if err != nil || id <= 0 {
				writeErr(w, http.StatusBadRequest, "alert id: want a positive number")
				return
			}
			by := ""
			if opts.Actor != nil {
				by = opts.Actor(r)
			}
			if by == "" && r.ContentLength != 0 {
				var body struct {
					By string `json:"by"`
				}
				dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&body); err != nil {
					writeErr(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
					return
				}
				by = strings.TrimSpace(body.By)
			}
			if by == "" {
				by = "admin"
			}
			a, err := do(r.Context(), id, by)
			if err != nil {
				fail(w, err)
				return
			}
			writeJSON(w, http.StatusOK, a)
		}
	}
	mux.HandleFunc("POST /api/v1/alerts/{id}/ack", change(i.Ack))
	mux.HandleFunc("POST /api/v1/alerts/{id}/resolve", change(i.Resolve))
	return mux
}

func fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrBadRequest):
		writeErr(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, store.ErrNotFound):
		writeErr(w, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrAlertResolved):
		writeErr(w, http.StatusConflict, err.Error())
	default:
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

//go:embed openapi.json
var openapiFragment []byte

// OpenAPI returns the OpenAPI 3 fragment for the alert routes: "paths" and
// "components.schemas" to merge into the admin API document, whose Error schema and
// Unauthorized, Forbidden, NotFound, BadRequest and Conflict responses it refers to.
func OpenAPI() []byte { return openapiFragment }
