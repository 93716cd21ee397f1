package alerts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
)

// cursorKind is where the engine keeps its position in the discovery log (store cursors,
// empty app/tenant/drive).
const cursorKind = "alerts:events"

// leaseName is the store lease that makes one replica evaluate rules at a time; every
// replica delivers.
const leaseName = "alerts"

// staleAction is how long an alert or notify action may stay running before the engine
// assumes its runner died and takes it again.
const staleAction = 5 * time.Minute

// Options are the engine's collaborators.
type Options struct {
	Logger *slog.Logger
	// Now is the clock; default the store's.
	Now func() time.Time
	// HTTPClient posts webhooks; default a client with the delivery timeout.
	HTTPClient *http.Client
	// DeadLetters returns how many scan jobs are in the dead letter queue; nil skips the check.
	DeadLetters func(ctx context.Context) (int, error)
	// Stdout receives the JSON-lines sink when its path is "-"; default os.Stdout.
	Stdout io.Writer
	// Holder names this replica in the evaluation lease; default a random id.
	Holder string
}

// Engine evaluates alert rules and delivers alerts.
type Engine struct {
	cfg     Config
	st      *store.Store
	log     *slog.Logger
	now     func() time.Time
	rules   map[string]*rule
	client  *http.Client
	dead    func(context.Context) (int, error)
	holder  string
	mail    *mailer
	jsonl   *jsonlWriter
	hooks   map[string]WebhookSink
	wake    chan struct{}
	checked time.Time // last operational check
	mu      sync.Mutex
}

// New builds an engine. cfg is validated; its zero values get defaults.
func New(cfg Config, st *store.Store, opts Options) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	e := &Engine{cfg: cfg, st: st, log: opts.Logger, now: opts.Now, client: opts.HTTPClient, dead: opts.DeadLetters,
		holder: opts.Holder, hooks: map[string]WebhookSink{}, wake: make(chan struct{}, 1)}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.now == nil {
		e.now = st.Now
	}
	if e.client == nil {
		e.client = &http.Client{Timeout: cfg.Delivery.Timeout}
	}
	if e.holder == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		host, _ := os.Hostname()
		e.holder = host + "-" + hex.EncodeToString(b[:])
	}
	e.rules = compileRules(cfg)
	for _, w := range cfg.Sinks.Webhooks {
		e.hooks[w.Name] = w
	}
	if cfg.Sinks.SMTP != nil {
		m, err := newMailer(*cfg.Sinks.SMTP, cfg.Delivery.Timeout)
		if err != nil {
			return nil, err
		}
		e.mail = m
	}
	if cfg.Sinks.JSONL != nil {
		out := opts.Stdout
		if out == nil {
			out = os.Stdout
		}
		e.jsonl = &jsonlWriter{path: cfg.Sinks.JSONL.Path, stdout: out}
	}
	return e, nil
}

// Inbox is the alert inbox over the engine's store.
func (e *Engine) Inbox() *Inbox { return NewInbox(e.st) }

// Run evaluates rules every poll interval (on the replica holding the lease) and delivers
// from the outbox with the configured number of workers, until ctx ends. It reads the store
// only, so it never holds up scanning.
func (e *Engine) Run(ctx context.Context) error {
	if e.cfg.Disabled {
		<-ctx.Done()
		return nil
	}
	var wg sync.WaitGroup
	for range e.cfg.Delivery.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.deliveryWorker(ctx)
		}()
	}
	t := time.NewTicker(e.cfg.PollInterval)
	defer t.Stop()
	for {
		if err := e.evaluate(ctx); err != nil && ctx.Err() == nil {
			e.log.Warn("alerts: evaluation failed; retrying next poll", "err", err)
		}
		select {
		case <-ctx.Done():
			wg.Wait()
			_ = e.st.ReleaseLease(context.WithoutCancel(ctx), leaseName, e.holder)
			return nil
		case <-t.C:
		}
	}
}

func (e *Engine) deliveryWorker(ctx context.Context) {
	idle := min(e.cfg.PollInterval, time.Second)
	for ctx.Err() == nil {
		n, err := e.deliverDue(ctx, 10)
		if err != nil && ctx.Err() == nil {
			e.log.Warn("alerts: delivery failed", "err", err)
		}
		if n > 0 {
			continue
		}
		select {
		case <-ctx.Done():
		case <-e.wake:
		case <-time.After(idle):
		}
	}
}

// Tick runs one evaluation and delivers what is due, synchronously: tests drive the engine
// with it on a fake clock.
func (e *Engine) Tick(ctx context.Context) error {
	if e.cfg.Disabled {
		return nil
	}
	err := e.evaluate(ctx)
	for {
		n, derr := e.deliverDue(ctx, 50)
		if derr != nil {
			return errors.Join(err, derr)
		}
		if n == 0 {
			return err
		}
	}
}

// evaluate does the leader's work: new events, pending actions, operational checks, digests.
func (e *Engine) evaluate(ctx context.Context) error {
	lead, err := e.st.TryLease(ctx, leaseName, e.holder, max(3*e.cfg.PollInterval, 30*time.Second))
	if err != nil || !lead {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	errs = append(errs, e.processEvents(ctx), e.processActions(ctx))
	now := e.now()
	if e.checked.IsZero() || now.Sub(e.checked) >= e.cfg.CheckInterval {
		if err := e.checkOperations(ctx, now); err != nil {
			errs = append(errs, err)
		} else {
			e.checked = now
		}
	}
	errs = append(errs, e.flushDigests(ctx, now))
	return errors.Join(errs...)
}

func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// processEvents tails the discovery log from the stored cursor.
func (e *Engine) processEvents(ctx context.Context) error {
	raw, err := e.st.GetCursor(ctx, "", "", "", cursorKind)
	if err != nil {
		return err
	}
	var after int64
	if raw == "" {
		if e.cfg.SkipHistory {
			if after, err = e.st.LastEventID(ctx); err != nil {
				return err
			}
			if err := e.st.PutCursor(ctx, "", "", "", cursorKind, strconv.FormatInt(after, 10)); err != nil {
				return err
			}
		}
	} else if after, err = strconv.ParseInt(raw, 10, 64); err != nil {
		return fmt.Errorf("alerts: bad event cursor %q: %w", raw, err)
	}
	const batch = 500
	for {
		evs, err := e.st.ListEvents(ctx, store.EventFilter{AfterID: after}, batch)
		if err != nil {
			return err
		}
		start := after
		var evalErr error
		for _, ev := range evs {
			if evalErr = e.onEvent(ctx, ev); evalErr != nil {
				break
			}
			after = ev.ID
		}
		if after != start {
			// A crash before this write re-reads the batch; repeats join their alert groups.
			if err := e.st.PutCursor(ctx, "", "", "", cursorKind, strconv.FormatInt(after, 10)); err != nil {
				return err
			}
		}
		if evalErr != nil {
			return evalErr
		}
		if len(evs) < batch {
			return nil
		}
	}
}

// occurrence is one thing a rule saw.
type occurrence struct {
	rule     *rule
	group    string
	severity string // "" = the rule's
	title    string // "" = the rule's
	message  string
	ref      connectors.FileRef
	path     string
	name     string
	owner    string
	labelID  string
	prevID   string
	actor    string
	detail   string
	eventID  int64
	actionID int64
	at       time.Time
	opsOnly  bool // filter by app and tenant only
}

func fileGroup(r string, ref connectors.FileRef) string { return r + "|" + ref.Key() }

// onEvent applies the activity and event-driven operational rules to one event.
func (e *Engine) onEvent(ctx context.Context, ev store.Event) error {
	base := func(r string) occurrence {
		ref := connectors.FileRef{App: ev.App, Tenant: ev.Tenant, Drive: ev.Drive, ItemID: ev.ItemID}
		return occurrence{rule: e.rules[r], group: fileGroup(r, ref), ref: ref, path: ev.Path, name: ev.Name,
			labelID: ev.LabelID, prevID: ev.PrevLabelID, actor: ev.Actor, detail: ev.Detail, eventID: ev.ID, at: ev.At}
	}
	switch ev.Kind {
	case store.EventLabelRemoved, store.EventLabelChanged, store.EventLabelAdded, store.EventDiscovered, store.EventAccessChanged:
	case store.EventActionFailed:
		if !store.SharingFailure(ev.Detail) {
			return nil
		}
	case EventQuotaExhausted:
		o := base(RuleQuotaExhausted)
		allowance := ev.Detail
		if allowance == "" {
			allowance = store.AllowanceAuto
		}
		o.group, o.opsOnly = RuleQuotaExhausted+"|event|"+string(ev.App)+"/"+ev.Tenant+"/"+allowance, true
		o.message = fmt.Sprintf("The daily %s label quota of %s/%s is used up; label actions wait for the reset.", allowance, ev.App, ev.Tenant)
		if store.SharingKind(allowance) {
			o.message = fmt.Sprintf("The daily %s quota of %s/%s is used up; these sharing actions wait for the reset.", allowance, ev.App, ev.Tenant)
		}
		return e.raise(ctx, o)
	case EventSubscriptionFailed:
		o := base(RuleSubscriptionFailing)
		o.group, o.opsOnly = RuleSubscriptionFailing+"|event|"+string(ev.App)+"/"+ev.Tenant+"/"+ev.Drive, true
		o.message = fmt.Sprintf("Change notifications for %s/%s drive %q failed: %s. Changes are only seen by polling or rescans until it is fixed.",
			ev.App, ev.Tenant, ev.Drive, ev.Detail)
		return e.raise(ctx, o)
	case EventConnectorNotConfigured:
		o := base(RuleConnectorSetup)
		o.group, o.opsOnly = RuleConnectorSetup+"|"+string(ev.App)+"/"+ev.Tenant, true
		o.message = fmt.Sprintf("Connector %s/%s refuses label writes until an administrator completes its set-up; label actions are paused: %s",
			ev.App, ev.Tenant, ev.Detail)
		return e.raise(ctx, o)
	case EventConnectorAuthFailed:
		o := base(RuleConnectorAuth)
		o.group, o.opsOnly = RuleConnectorAuth+"|"+string(ev.App)+"/"+ev.Tenant, true
		o.message = fmt.Sprintf("Connector %s/%s cannot authenticate: %s", ev.App, ev.Tenant, ev.Detail)
		return e.raise(ctx, o)
	default:
		return nil
	}
	// Activity rules: look the file up once for its owner, folder and external flag.
	var rec store.FileRecord
	haveFile := false
	if ev.ItemID != "" {
		r, err := e.st.GetFile(ctx, connectors.FileRef{App: ev.App, Tenant: ev.Tenant, Drive: ev.Drive, ItemID: ev.ItemID})
		switch {
		case err == nil:
			rec, haveFile = r, true
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	with := func(o occurrence) occurrence {
		if haveFile {
			o.owner = rec.Owner
			if o.path == "" {
				o.path = rec.Path
			}
		}
		return o
	}
	where := displayPath(ev.Path, ev.Name)
	var errs []error
	switch ev.Kind {
	case store.EventLabelRemoved:
		o := with(base(RuleLabelRemoved))
		o.message = fmt.Sprintf("The label %s was removed from %s.", e.labelName(ctx, ev.App, ev.Tenant, ev.PrevLabelID), where)
		errs = append(errs, e.raise(ctx, o))
	case store.EventLabelChanged:
		down, err := e.downgraded(ctx, ev)
		if err != nil {
			return err
		}
		if down {
			o := with(base(RuleLabelDowngraded))
			o.message = fmt.Sprintf("The label of %s was lowered from %s to %s.", where,
				e.labelName(ctx, ev.App, ev.Tenant, ev.PrevLabelID), e.labelName(ctx, ev.App, ev.Tenant, ev.LabelID))
			errs = append(errs, e.raise(ctx, o))
		}
		fallthrough
	case store.EventLabelAdded:
		if !ownActor(e.cfg.OwnActors, ev.Actor) {
			o := with(base(RuleLabelChangedOutside))
			if ev.PrevLabelID == "" {
				o.message = fmt.Sprintf("%s was labelled %s outside labelgate.", where, e.labelName(ctx, ev.App, ev.Tenant, ev.LabelID))
			} else {
				o.message = fmt.Sprintf("The label of %s was changed outside labelgate from %s to %s.", where,
					e.labelName(ctx, ev.App, ev.Tenant, ev.PrevLabelID), e.labelName(ctx, ev.App, ev.Tenant, ev.LabelID))
			}
			errs = append(errs, e.raise(ctx, o))
		}
		if ev.Kind == store.EventLabelAdded && haveFile && rec.LabelExternal {
			errs = append(errs, e.raise(ctx, e.externalLabel(with(base(RuleExternalLabel)), rec, where)))
		}
	case store.EventDiscovered:
		if haveFile && rec.LabelExternal && rec.LabelID != "" {
			errs = append(errs, e.raise(ctx, e.externalLabel(with(base(RuleExternalLabel)), rec, where)))
		}
		if ev.Detail == "protected" {
			o := with(base(RuleProtectedFile))
			o.message = fmt.Sprintf("%s is protected (encrypted); labelgate cannot read its content.", where)
			errs = append(errs, e.raise(ctx, o))
		}
	case store.EventActionFailed:
		o := with(base(RuleSharingFailed))
		o.message = fmt.Sprintf("labelgate could not restrict the sharing of %s; it stays shared as it was: %s", where, ev.Detail)
		if strings.HasPrefix(ev.Detail, store.SharingFailedPrefix(store.ActionRestoreSharing)) {
			o.message = fmt.Sprintf("labelgate could not restore the sharing of %s (undo): %s", where, ev.Detail)
		}
		errs = append(errs, e.raise(ctx, o))
	case store.EventAccessChanged:
		from, to, ok := strings.Cut(ev.Detail, " -> ")
		if !ok || ev.LabelID == "" {
			return nil
		}
		was, now := connectors.AccessLevel(strings.TrimSpace(from)), connectors.AccessLevel(strings.TrimSpace(to))
		if now.Rank() > was.Rank() && now.Rank() >= connectors.AccessExternal.Rank() {
			o := with(base(RuleAccessWidened))
			o.message = fmt.Sprintf("%s, labelled %s, is now shared %s (was %s).", where,
				e.labelName(ctx, ev.App, ev.Tenant, ev.LabelID), now, was)
			errs = append(errs, e.raise(ctx, o))
		}
	}
	return errors.Join(errs...)
}

func (e *Engine) externalLabel(o occurrence, rec store.FileRecord, where string) occurrence {
	o.labelID = rec.LabelID
	tenant := rec.LabelTenant
	if tenant == "" {
		tenant = "another tenant"
	}
	o.message = fmt.Sprintf("%s carries label %s from %s.", where, rec.LabelID, tenant)
	return o
}

// downgraded reports whether a label change went to a lower catalog priority. A label the
// catalog does not know is not judged.
func (e *Engine) downgraded(ctx context.Context, ev store.Event) (bool, error) {
	if ev.PrevLabelID == "" || ev.LabelID == "" {
		return false, nil
	}
	prev, err := e.st.GetLabel(ctx, ev.App, ev.Tenant, ev.PrevLabelID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	cur, err := e.st.GetLabel(ctx, ev.App, ev.Tenant, ev.LabelID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return cur.Priority < prev.Priority, nil
}

func (e *Engine) labelName(ctx context.Context, app connectors.App, tenant, id string) string {
	if id == "" {
		return "(none)"
	}
	l, err := e.st.GetLabel(ctx, app, tenant, id)
	if err != nil || (l.DisplayName == "" && l.Name == "") {
		return id
	}
	if l.Name != "" {
		return strconv.Quote(l.Name)
	}
	return strconv.Quote(l.DisplayName)
}

func displayPath(dir, name string) string {
	switch {
	case name == "":
		return dir
	case dir == "" || dir == "/":
		return "/" + name
	}
	return strings.TrimSuffix(dir, "/") + "/" + name
}

// raise records an occurrence if its rule is enabled and its filter matches, with the
// deliveries and notices a new alert gets.
func (e *Engine) raise(ctx context.Context, o occurrence) error {
	r := o.rule
	if r == nil || !r.enabled {
		return nil
	}
	f := r.filter
	if o.opsOnly {
		f = Filter{App: f.App, Tenant: f.Tenant}
	}
	if !f.match(fileFacts{app: string(o.ref.App), tenant: o.ref.Tenant, path: o.path, owner: o.owner, labels: []string{o.labelID, o.prevID}}) {
		return nil
	}
	sev := o.severity
	if severityRank(sev) == 0 {
		sev = r.severity
	}
	title := o.title
	if title == "" {
		title = r.title
	}
	a := store.Alert{GroupKey: o.group, Rule: r.name, Severity: sev, Title: title, Message: o.message, Ref: o.ref, Path: o.path,
		Name: o.name, Owner: o.owner, LabelID: o.labelID, PrevLabelID: o.prevID, Actor: o.actor, Detail: o.detail,
		EventID: o.eventID, ActionID: o.actionID, LastAt: o.at}
	var deliveries []store.OutboxItem
	var notices []store.Notice
	notice := func(to, kind string) store.Notice {
		return store.Notice{Recipient: to, Kind: kind, Rule: r.name, Severity: sev, Title: title, Message: o.message, Ref: o.ref,
			Path: o.path, Name: o.name, LabelID: o.labelID, At: o.at}
	}
	for _, name := range e.route(r, sev) {
		switch {
		case name == SMTPSinkName && e.mail != nil:
			if len(e.mail.cfg.To) == 0 {
				continue
			}
			if e.mail.cfg.DigestInterval > 0 {
				for _, to := range e.mail.cfg.To {
					notices = append(notices, notice(to, noticeAdmin))
				}
				continue
			}
			deliveries = append(deliveries, store.OutboxItem{Sink: name, Kind: kindSMTP, Recipient: strings.Join(e.mail.cfg.To, ",")})
		case name == JSONLSinkName && e.jsonl != nil:
			deliveries = append(deliveries, store.OutboxItem{Sink: name, Kind: kindJSONL})
		default:
			if _, ok := e.hooks[name]; ok {
				deliveries = append(deliveries, store.OutboxItem{Sink: name, Kind: kindWebhook})
			}
		}
	}
	if r.notifyOwner {
		if to := e.ownerAddress(o.owner); to != "" {
			notices = append(notices, notice(to, noticeOwner))
		}
	}
	got, created, err := e.st.RaiseAlert(ctx, a, r.window, deliveries, notices)
	if err != nil {
		return err
	}
	if created {
		e.log.Info("alert raised", "id", got.ID, "rule", r.name, "severity", sev, "file", o.ref.Key(), "deliveries", len(deliveries))
		e.signal()
	}
	return nil
}

// route names the sinks an alert of rule r at severity sev goes to.
func (e *Engine) route(r *rule, sev string) []string {
	if len(r.sinks) > 0 {
		return r.sinks
	}
	if names, ok := e.cfg.Routes[sev]; ok {
		return names
	}
	var out []string
	reach := func(min string) bool { return min == "" || severityRank(sev) >= severityRank(min) }
	for _, w := range e.cfg.Sinks.Webhooks {
		if reach(w.MinSeverity) {
			out = append(out, w.Name)
		}
	}
	if s := e.cfg.Sinks.SMTP; s != nil && reach(s.MinSeverity) {
		out = append(out, SMTPSinkName)
	}
	if s := e.cfg.Sinks.JSONL; s != nil && reach(s.MinSeverity) {
		out = append(out, JSONLSinkName)
	}
	return out
}

// ownerAddress is where an owner's digest goes, "" when there is none.
func (e *Engine) ownerAddress(owner string) string {
	owner = strings.TrimSpace(owner)
	switch {
	case owner == "":
		return ""
	case strings.Contains(owner, "@"):
		return owner
	case e.cfg.OwnerDigest.Domain != "":
		return owner + "@" + e.cfg.OwnerDigest.Domain
	}
	return ""
}

// actionParams are the fields of a policy action's params this package reads.
type actionParams struct {
	Severity  string `json:"severity"`
	Subject   string `json:"subject"`
	Message   string `json:"message"`
	Recipient string `json:"recipient"`
}

// processActions carries out pending alert and notify_owner actions, claiming each with a
// compare-and-set so no other runner does it twice.
func (e *Engine) processActions(ctx context.Context) error {
	now := e.now()
	for _, kind := range []string{store.ActionAlert, store.ActionNotifyOwner} {
		stuck, err := e.st.ListActions(ctx, store.ActionFilter{States: []string{store.ActionRunning}, Kind: kind})
		if err != nil {
			return err
		}
		for _, a := range stuck {
			if now.Sub(a.UpdatedAt) > staleAction {
				if _, err := e.st.SetActionState(ctx, a.ID, store.ActionRunning, store.ActionPending, "alerts: taken again after an interrupted run"); err != nil {
					return err
				}
			}
		}
		var after int64
		for {
			acts, err := e.st.ListActions(ctx, store.ActionFilter{States: []string{store.ActionPending}, Kind: kind, AfterID: after, Limit: 500})
			if err != nil {
				return err
			}
			for _, a := range acts {
				after = a.ID
				if !a.NotBefore.IsZero() && a.NotBefore.After(now) {
					continue
				}
				ok, err := e.st.SetActionState(ctx, a.ID, store.ActionPending, store.ActionRunning, "")
				if err != nil {
					return err
				}
				if !ok {
					continue
				}
				reason, err := e.runAction(ctx, a)
				state := store.ActionDone
				var perm *permanentError
				switch {
				case errors.As(err, &perm):
					state, reason = store.ActionFailed, err.Error()
				case err != nil:
					// A store error: give the action back and stop this round.
					_, _ = e.st.SetActionState(ctx, a.ID, store.ActionRunning, store.ActionPending, "alerts: "+err.Error())
					return err
				}
				if _, err := e.st.SetActionState(ctx, a.ID, store.ActionRunning, state, reason); err != nil {
					return err
				}
			}
			if len(acts) < 500 {
				break
			}
		}
	}
	return nil
}

// permanentError is a failure that retrying cannot fix.
type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

func permanent(format string, args ...any) error {
	return &permanentError{err: fmt.Errorf(format, args...)}
}

func (e *Engine) runAction(ctx context.Context, a store.Action) (string, error) {
	var p actionParams
	if len(a.Params) > 0 {
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return "", permanent("alerts: action %d: bad params: %v", a.ID, err)
		}
	}
	rec, err := e.st.GetFile(ctx, a.Ref)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	actor := a.RequestedBy
	if actor == "" && a.PolicyID != "" {
		actor = "policy:" + a.PolicyID
	}
	switch a.Kind {
	case store.ActionAlert:
		title := p.Subject
		if title == "" && a.PolicyID != "" {
			title = "Policy " + a.PolicyID + " matched " + displayPath(rec.Path, rec.Name)
		}
		o := occurrence{rule: e.rules[RulePolicy], group: RulePolicy + "|" + a.PolicyID + "|" + a.Ref.Key(), severity: p.Severity,
			title: title, message: p.Message, ref: a.Ref, path: rec.Path, name: rec.Name, owner: rec.Owner, labelID: rec.LabelID,
			actor: actor, actionID: a.ID, at: e.now()}
		if err := e.raise(ctx, o); err != nil {
			return "", err
		}
		return "alert recorded", nil
	case store.ActionNotifyOwner:
		to := e.ownerAddress(p.Recipient)
		if to == "" {
			to = e.ownerAddress(rec.Owner)
		}
		if to == "" {
			return "", permanent("alerts: action %d: the file has no owner address to notify", a.ID)
		}
		title := p.Subject
		if title == "" {
			title = "A policy flagged " + displayPath(rec.Path, rec.Name)
		}
		sev := p.Severity
		if severityRank(sev) == 0 {
			sev = SeverityMedium
		}
		if err := e.st.AddNotice(ctx, store.Notice{Recipient: to, Kind: noticeOwner, ActionID: a.ID, Rule: RulePolicy, Severity: sev,
			Title: title, Message: p.Message, Ref: a.Ref, Path: rec.Path, Name: rec.Name, LabelID: rec.LabelID, At: e.now()}); err != nil {
			return "", err
		}
		return "notice queued for " + to + "'s next digest", nil
	}
	return "", permanent("alerts: action %d: kind %q is not an alert", a.ID, a.Kind)
}

// checkOperations raises alerts for conditions found by looking (paused quotas, failing
// subscriptions, dead letters) once per condition, and resolves them when they clear.
func (e *Engine) checkOperations(ctx context.Context, now time.Time) error {
	var errs []error
	reconcile := func(rule string, found map[string]occurrence) {
		prefix := rule + "|poll|"
		open, err := e.st.UnresolvedAlertGroups(ctx, prefix)
		if err != nil {
			errs = append(errs, err)
			return
		}
		have := map[string]bool{}
		for _, g := range open {
			have[g] = true
			if _, still := found[g]; !still {
				if _, err := e.st.ResolveAlertGroup(ctx, g, "labelgate"); err != nil {
					errs = append(errs, err)
				}
			}
		}
		for g, o := range found {
			if !have[g] {
				errs = append(errs, e.raise(ctx, o))
			}
		}
	}

	paused, err := e.st.PausedActions(ctx)
	if err != nil {
		errs = append(errs, err)
	} else {
		found := map[string]occurrence{}
		for key, n := range paused {
			parts := strings.SplitN(key, "/", 3)
			if n == 0 || len(parts) != 3 {
				continue
			}
			ref := connectors.FileRef{App: connectors.App(parts[0]), Tenant: parts[1]}
			g := RuleQuotaExhausted + "|poll|" + key
			found[g] = occurrence{rule: e.rules[RuleQuotaExhausted], group: g, ref: ref, opsOnly: true, at: now, detail: parts[2],
				actor: "executor", message: fmt.Sprintf("The daily %s label quota of %s/%s is used up; %d label actions are paused until %s.",
					parts[2], parts[0], parts[1], n, store.NextQuotaReset(now).Format(time.RFC3339))}
			if store.SharingKind(parts[2]) {
				// A sharing action kind's own allowance (issue 24).
				o := found[g]
				o.message = fmt.Sprintf("The daily %s quota of %s/%s is used up; %d sharing actions of this kind are paused until %s.",
					parts[2], parts[0], parts[1], n, store.NextQuotaReset(now).Format(time.RFC3339))
				found[g] = o
			}
		}
		reconcile(RuleQuotaExhausted, found)
	}

	subs, err := e.st.FailingSubscriptions(ctx, now)
	if err != nil {
		errs = append(errs, err)
	} else {
		found := map[string]occurrence{}
		for _, s := range subs {
			g := RuleSubscriptionFailing + "|poll|" + string(s.App) + "/" + s.Tenant + "/" + s.ID
			why := s.LastError
			if why == "" {
				why = "expired at " + s.Expires.Format(time.RFC3339) + " without renewal"
			}
			found[g] = occurrence{rule: e.rules[RuleSubscriptionFailing], group: g, opsOnly: true, at: now, detail: why,
				ref: connectors.FileRef{App: s.App, Tenant: s.Tenant, Drive: s.Drive},
				message: fmt.Sprintf("Change notifications for %s/%s drive %q (subscription %s): %s. Changes are only seen by polling or rescans until it is fixed.",
					s.App, s.Tenant, s.Drive, s.ID, why)}
		}
		reconcile(RuleSubscriptionFailing, found)
	}

	if e.dead != nil {
		n, err := e.dead(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("alerts: dead letter count: %w", err))
		} else {
			r := e.rules[RuleDeadLetters]
			found := map[string]occurrence{}
			if n >= r.threshold {
				g := RuleDeadLetters + "|poll|queue"
				found[g] = occurrence{rule: r, group: g, opsOnly: true, at: now, detail: strconv.Itoa(n),
					message: fmt.Sprintf("%d scan jobs are in the dead letter queue (threshold %d); see `labelgate queue dead`.", n, r.threshold)}
			}
			reconcile(RuleDeadLetters, found)
		}
	}
	return errors.Join(errs...)
}

// Notice kinds.
const (
	noticeOwner = "owner"
	noticeAdmin = "admin"
)

// digestPayload is a digest as queued in the outbox.
type digestPayload struct {
	Recipient string         `json:"recipient"`
	Kind      string         `json:"kind"`
	Notices   []store.Notice `json:"notices"`
}

// flushDigests queues the digests that are due: one per recipient per interval.
func (e *Engine) flushDigests(ctx context.Context, now time.Time) error {
	waiting, err := e.st.WaitingDigests(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, w := range waiting {
		interval := e.cfg.OwnerDigest.Interval
		if w.Kind == noticeAdmin && e.mail != nil {
			interval = e.mail.cfg.DigestInterval
		}
		if !w.LastSent.IsZero() && now.Before(w.LastSent.Add(interval)) {
			continue
		}
		sink, kind := "", ""
		switch {
		case e.mail != nil:
			sink, kind = SMTPSinkName, kindSMTP
		case e.jsonl != nil:
			sink, kind = JSONLSinkName, kindJSONL
		default:
			continue // notices wait until a sink that can carry them is configured
		}
		sent, err := e.st.TakeDigest(ctx, w.Recipient, w.Kind, now, interval, e.cfg.OwnerDigest.MaxItems,
			func(ns []store.Notice) (store.OutboxItem, error) {
				b, err := json.Marshal(digestPayload{Recipient: w.Recipient, Kind: w.Kind, Notices: ns})
				return store.OutboxItem{Sink: sink, Kind: kind, Recipient: w.Recipient, Payload: b}, err
			})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if sent {
			e.signal()
		}
	}
	return errors.Join(errs...)
}
