package console

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/admin"
	"github.com/labelgate/labelgate/internal/store"
)

// Rescans lets the console list and cancel full rescans.
type Rescans interface {
	Cancel(ctx context.Context, id int64) error
}

// kindNames are the discovery log's event kinds as people read them.
var kindNames = map[string]string{
	store.EventDiscovered: "File discovered", store.EventLabelAdded: "Label added", store.EventLabelChanged: "Label changed",
	store.EventLabelRemoved: "Label removed", store.EventAccessChanged: "Sharing changed", store.EventFileDeleted: "File deleted",
	store.EventScanFailed: "Scan failed", store.EventLabelApplied: "Label applied by labelgate", store.EventLabelCleared: "Label removed by labelgate",
	store.EventLabelUnchanged: "Label already in place", store.EventActionRefused: "Action refused", store.EventActionFailed: "Action failed",
	store.EventCatalogAdded: "Catalog: label added", store.EventCatalogRenamed: "Catalog: label renamed", store.EventCatalogState: "Catalog: label disabled",
	store.EventCatalogDeleted: "Catalog: label deleted", "quota_exhausted": "Quota exhausted", "subscription_failed": "Subscription failing",
	"connector_auth_failed": "Connector sign-in failed", store.EventAccessRestricted: "Sharing restricted by labelgate",
	store.EventAccessRestored: "Sharing restored by undo",
}

func kindName(k string) string {
	if n := kindNames[k]; n != "" {
		return n
	}
	return k
}

func sortedKinds() []string {
	ks := make([]string, 0, len(kindNames))
	for k := range kindNames {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return kindNames[ks[i]] < kindNames[ks[j]] })
	return ks
}

// when shows a time in the server's zone with the zone named, and UTC when that differs.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	l := t.Local()
	s := l.Format("2006-01-02 15:04 MST")
	if _, off := l.Zone(); off != 0 {
		s += " (" + t.UTC().Format("15:04 UTC") + ")"
	}
	return s
}

// labelText is a label id as people read it: its catalog name, or "External label · tenant
// T" for another tenant's, or the id.
func labelText(names map[string]string, id, tenant string, external bool) string {
	if id == "" {
		return "—"
	}
	n := names[id]
	if external {
		if tenant == "" {
			tenant = "unknown"
		}
		if n == "" {
			return "External label · tenant " + tenant
		}
		return n + " (external · tenant " + tenant + ")"
	}
	if n == "" {
		return id
	}
	return n
}

// ---- Alerts

type alertsPage struct {
	State  string
	Items  []store.Alert
	Counts map[string]int64
	Names  map[string]string
}

var alertStates = map[string][]string{"": {"open", "acknowledged"}, "open": {"open"}, "acknowledged": {"acknowledged"}, "resolved": {"resolved"}, "all": nil}

func (c *Console) alerts(w http.ResponseWriter, r *http.Request, d pageData) {
	state := r.URL.Query().Get("state")
	states, ok := alertStates[state]
	if !ok {
		http.Error(w, "state: want open, acknowledged, resolved or all", http.StatusBadRequest)
		return
	}
	items, err := c.cfg.Store.ListAlerts(r.Context(), store.AlertFilter{States: states, Severity: r.URL.Query().Get("severity"), Limit: 500})
	if err != nil {
		c.fail(w, err)
		return
	}
	counts, err := c.cfg.Store.CountAlerts(r.Context())
	if err != nil {
		c.fail(w, err)
		return
	}
	d.Title, d.Page = "Alerts", "alerts"
	d.Content = alertsPage{State: state, Items: items, Counts: counts, Names: c.labelNames(r.Context())}
	c.render(w, "alerts", d)
}

func (c *Console) alertChange(w http.ResponseWriter, r *http.Request, d pageData) {
	id, err := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	if err != nil || id <= 0 {
		http.Error(w, "bad alert id", http.StatusBadRequest)
		return
	}
	who := "console:" + d.User
	var a store.Alert
	if r.PostFormValue("op") == "resolve" {
		a, err = c.cfg.Store.ResolveAlert(r.Context(), id, who)
	} else {
		a, err = c.cfg.Store.AckAlert(r.Context(), id, who)
	}
	if err != nil {
		c.redirectNote(w, r, d, "/console/alerts", err.Error(), true)
		return
	}
	c.redirectNote(w, r, d, "/console/alerts", fmt.Sprintf("alert %d is %s", a.ID, a.State), false)
}

// ---- Activity

type activityPage struct {
	Q      map[string]string
	Items  []store.Event
	More   bool
	Query  template.URL // encoded filters for the export links, built by url.Values
	Kinds  []string
	Labels []store.CatalogLabel
	Names  map[string]string
	Apps   []string
}

// activityFilter reads the Activity filters; user (the actor) is matched as a substring
// since the store has no actor filter.
func activityFilter(r *http.Request) (store.EventFilter, string, error) {
	q := r.URL.Query()
	f := store.EventFilter{App: connectors.App(q.Get("app")), Kind: q.Get("kind"), LabelID: q.Get("label")}
	for name, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		t, err := time.ParseInLocation("2006-01-02T15:04", v, time.Local)
		if err != nil {
			if t, err = time.Parse(time.RFC3339, v); err != nil {
				if t, err = time.ParseInLocation("2006-01-02", v, time.Local); err != nil {
					return f, "", fmt.Errorf("%s: want a date and time", name)
				}
			}
		}
		*dst = t
	}
	return f, strings.ToLower(strings.TrimSpace(q.Get("user"))), nil
}

// eachEvent calls fn for every matching event, oldest first, in pages.
func (c *Console) eachEvent(ctx context.Context, f store.EventFilter, user string, fn func(store.Event) error) error {
	for {
		evs, err := c.cfg.Store.ListEvents(ctx, f, 5000)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if user != "" && !strings.Contains(strings.ToLower(e.Actor), user) {
				continue
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(evs) < 5000 {
			return nil
		}
		f.AfterID = evs[len(evs)-1].ID
	}
}

const activityRows = 200

func (c *Console) activity(w http.ResponseWriter, r *http.Request, d pageData) {
	f, user, err := activityFilter(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var last []store.Event
	n := 0
	err = c.eachEvent(r.Context(), f, user, func(e store.Event) error {
		n++
		last = append(last, e)
		if len(last) > 2*activityRows {
			last = append(last[:0], last[len(last)-activityRows:]...)
		}
		return nil
	})
	if err != nil {
		c.fail(w, err)
		return
	}
	if len(last) > activityRows {
		last = last[len(last)-activityRows:]
	}
	for i, j := 0, len(last)-1; i < j; i, j = i+1, j-1 {
		last[i], last[j] = last[j], last[i]
	}
	labels, _ := c.cfg.Store.ListLabels(r.Context(), store.LabelFilter{})
	q := r.URL.Query()
	qm := map[string]string{}
	for k := range q {
		qm[k] = q.Get(k)
	}
	d.Title, d.Page = "Activity", "activity"
	exp := url.Values{}
	for _, k := range []string{"app", "kind", "label", "user", "since", "until"} {
		if v := q.Get(k); v != "" {
			exp.Set(k, v)
		}
	}
	d.Content = activityPage{Q: qm, Items: last, More: n > len(last), Query: template.URL(exp.Encode()), Kinds: sortedKinds(), Labels: labels,
		Names: c.labelNames(r.Context()), Apps: []string{"sharepoint", "onedrive", "gdrive", "box", "fileshare"}}
	c.render(w, "activity", d)
}

// activityExport streams every matching event as CSV or JSON lines: the raw log,
// queryable by workload.
func (c *Console) activityExport(w http.ResponseWriter, r *http.Request, _ pageData) {
	f, user, err := activityFilter(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	format := r.PathValue("format")
	names := c.labelNames(r.Context())
	switch format {
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="labelgate-activity.csv"`)
		cw := csv.NewWriter(w)
		_ = cw.Write([]string{"id", "at", "kind", "app", "tenant", "path", "name", "label_id", "label", "prev_label_id", "actor", "detail"})
		err = c.eachEvent(r.Context(), f, user, func(e store.Event) error {
			return cw.Write(csvSafe([]string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339), e.Kind, string(e.App), e.Tenant,
				e.Path, e.Name, e.LabelID, names[e.LabelID], e.PrevLabelID, e.Actor, e.Detail}))
		})
		cw.Flush()
	case "jsonl":
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Content-Disposition", `attachment; filename="labelgate-activity.jsonl"`)
		enc := json.NewEncoder(w)
		err = c.eachEvent(r.Context(), f, user, func(e store.Event) error { return enc.Encode(e) })
	default:
		http.Error(w, "format: csv or jsonl", http.StatusNotFound)
		return
	}
	if err != nil {
		c.log.Warn("console export ended early", "err", err)
	}
}

// csvSafe keeps a spreadsheet from running a file name as a formula (CSV injection): a
// cell starting with = + - @ gets a leading apostrophe.
func csvSafe(row []string) []string {
	for i, s := range row {
		if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
			row[i] = "'" + s
		}
	}
	return row
}

// ---- Actions

type actionsPage struct {
	State  string
	States []string
	Items  []store.Action
	More   bool
	Names  map[string]string
	// Undoable marks the shown sharing actions an admin may undo now (issue 24).
	Undoable map[int64]bool
}

var actionStates = []string{store.ActionPending, store.ActionPaused, store.ActionRunning, store.ActionSuspended, store.ActionDone,
	store.ActionRefused, store.ActionFailed, store.ActionCanceled}

func (c *Console) actions(w http.ResponseWriter, r *http.Request, d pageData) {
	state := r.URL.Query().Get("state")
	f := store.ActionFilter{Limit: 5000}
	if state != "" {
		if !contains(actionStates, state) {
			http.Error(w, "state: want one of "+strings.Join(actionStates, ", "), http.StatusBadRequest)
			return
		}
		f.States = []string{state}
	}
	// Newest first: the store lists oldest first from a cursor, so keep the tail.
	var all []store.Action
	for {
		acts, err := c.cfg.Store.ListActions(r.Context(), f)
		if err != nil {
			c.fail(w, err)
			return
		}
		all = append(all, acts...)
		if len(all) > 400 {
			all = append(all[:0], all[len(all)-200:]...)
		}
		if len(acts) < f.Limit {
			break
		}
		f.AfterID = acts[len(acts)-1].ID
	}
	more := len(all) > 200
	if more {
		all = all[len(all)-200:]
	}
	for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
		all[i], all[j] = all[j], all[i]
	}
	undoable := map[int64]bool{}
	if d.Admin && c.cfg.Sharing != nil {
		for _, a := range all {
			if admin.IsFinished(a.State) && admin.IsSharingKind(a.Kind) {
				_, err := admin.CheckUndoable(r.Context(), c.cfg.Store, a.ID)
				undoable[a.ID] = err == nil
			}
		}
	}
	d.Title, d.Page = "Actions", "actions"
	d.Content = actionsPage{State: state, States: actionStates, Items: all, More: more, Names: c.labelNames(r.Context()), Undoable: undoable}
	c.render(w, "actions", d)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (c *Console) cancelAction(w http.ResponseWriter, r *http.Request, d pageData) {
	id, err := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	if err != nil {
		http.Error(w, "bad action id", http.StatusBadRequest)
		return
	}
	a, err := c.cfg.Store.GetAction(r.Context(), id)
	if err != nil {
		c.redirectNote(w, r, d, "/console/actions", err.Error(), true)
		return
	}
	switch a.State {
	case store.ActionPending, store.ActionSuspended, store.ActionPaused:
	default:
		c.redirectNote(w, r, d, "/console/actions", fmt.Sprintf("action %d is %s and can no longer be canceled", id, a.State), true)
		return
	}
	ok, err := c.cfg.Store.SetActionState(r.Context(), id, a.State, store.ActionCanceled, "canceled by console:"+d.User)
	if err != nil || !ok {
		c.redirectNote(w, r, d, "/console/actions", fmt.Sprintf("action %d changed state; try again", id), true)
		return
	}
	c.redirectNote(w, r, d, "/console/actions", fmt.Sprintf("action %d canceled", id), false)
}

// ---- Rescans

type rescanRow struct {
	store.Rescan
	Rate    string
	Elapsed string
}

func (c *Console) rescans(w http.ResponseWriter, r *http.Request, d pageData) {
	rs, err := c.cfg.Store.ListRescans(r.Context(), false, 100)
	if err != nil {
		c.fail(w, err)
		return
	}
	now := c.cfg.Now()
	rows := make([]rescanRow, len(rs))
	for i, x := range rs {
		rows[i].Rescan = x
		end := now
		if !x.FinishedAt.IsZero() {
			end = x.FinishedAt
		}
		if el := end.Sub(x.StartedAt); el > 0 && !x.StartedAt.IsZero() {
			rows[i].Elapsed = el.Round(time.Second).String()
			rows[i].Rate = fmt.Sprintf("%.1f files/s", float64(x.Enumerated)/el.Seconds())
		}
	}
	d.Title, d.Page = "Rescans", "rescans"
	d.Content = struct {
		Rows      []rescanRow
		CanCancel bool
	}{rows, c.cfg.Rescans != nil && d.Admin}
	c.render(w, "rescans", d)
}

func (c *Console) cancelRescan(w http.ResponseWriter, r *http.Request, d pageData) {
	id, err := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	if err != nil || c.cfg.Rescans == nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if err := c.cfg.Rescans.Cancel(r.Context(), id); err != nil {
		c.redirectNote(w, r, d, "/console/rescans", err.Error(), true)
		return
	}
	c.redirectNote(w, r, d, "/console/rescans", fmt.Sprintf("rescan %d canceled", id), false)
}

// ---- Files CSV

func (c *Console) filesCSV(w http.ResponseWriter, r *http.Request, _ pageData) {
	f := filesFilter(r)
	names := c.labelNames(r.Context())
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="labelgate-files.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"app", "tenant", "path", "name", "label_id", "label", "label_external", "protected", "access", "owner", "modified", "last_scanned"})
	err := c.cfg.Store.EachFile(r.Context(), f, func(fr store.FileRecord) error {
		return cw.Write(csvSafe([]string{string(fr.Ref.App), fr.Ref.Tenant, fr.Path, fr.Name, fr.LabelID, names[fr.LabelID],
			strconv.FormatBool(fr.LabelExternal), strconv.FormatBool(fr.Protected), string(fr.Access), fr.Owner,
			timeRFC(fr.Modified), timeRFC(fr.LastScanned)}))
	})
	cw.Flush()
	if err != nil {
		c.log.Warn("console files export ended early", "err", err)
	}
}

func timeRFC(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
