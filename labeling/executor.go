package labeling

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/store"
)

// FileCodec reads and rewrites the label inside a file's content. The executor uses it for
// connectors without a native label API: it downloads the file, rewrites it and uploads a new
// version ("embedded" mode).
type FileCodec interface {
	// TypeOf decides a file's type from its name; TypeUnsupported when labels cannot be written.
	TypeOf(name string) FileType
	Read(ctx context.Context, r io.ReaderAt, size int64, name string) (Result, error)
	// Apply writes content with label l (replacing any other) to w.
	Apply(ctx context.Context, r io.ReaderAt, size int64, name string, l Label, w io.Writer) error
	// Remove writes content without any label to w.
	Remove(ctx context.Context, r io.ReaderAt, size int64, name string, w io.Writer) error
}

// Engine is the FileCodec of this package's label engine.
type Engine struct{}

var _ FileCodec = Engine{}

// TypeOf implements FileCodec.
func (Engine) TypeOf(name string) FileType { return TypeOf(name) }

// Read implements FileCodec.
func (Engine) Read(ctx context.Context, r io.ReaderAt, size int64, name string) (Result, error) {
	return Read(ctx, r, size, name)
}

// Apply implements FileCodec.
func (Engine) Apply(ctx context.Context, r io.ReaderAt, size int64, name string, l Label, w io.Writer) error {
	return Apply(ctx, r, size, name, l, w)
}

// Remove implements FileCodec.
func (Engine) Remove(ctx context.Context, r io.ReaderAt, size int64, name string, w io.Writer) error {
	return Remove(ctx, r, size, name, w)
}

// ConnectorLookup finds the connector serving an app in a tenant.
type ConnectorLookup func(app connectors.App, tenant string) (connectors.Connector, bool)

// Connectors returns a lookup over a fixed set of connectors.
func Connectors(cs ...connectors.Connector) ConnectorLookup {
	m := make(map[string]connectors.Connector, len(cs))
	for _, c := range cs {
		m[string(c.App())+"/"+c.Tenant()] = c
	}
	return func(app connectors.App, tenant string) (connectors.Connector, bool) {
		c, ok := m[string(app)+"/"+tenant]
		return c, ok
	}
}

// ExecutorConfig configures an Executor.
type ExecutorConfig struct {
	Store      *store.Store
	Connectors ConnectorLookup
	// Codec rewrites labels inside files for connectors without a native label API; nil
	// means this package's own engine (TypeOf, Read, Apply, Remove).
	Codec FileCodec
	Quota QuotaConfig
	// RateLimits holds a token bucket per app, applied per tenant to every provider call;
	// an app without one is not rate limited here (its own throttling still applies).
	RateLimits map[connectors.App]RateLimit
	Retry      RetryConfig
	// RetryLater is how long an action whose retries ran out waits before it is tried again;
	// default 15m. After MaxAttempts tries it fails for good; default 5.
	RetryLater  time.Duration
	MaxAttempts int
	// NotConfiguredWait is how long actions stay paused when the provider says a set-up step
	// only an administrator can take is missing (connectors.KindNotConfigured, e.g. Graph's
	// metered API before billing is linked); default 1h. One action then checks again.
	NotConfiguredWait time.Duration
	// Workers is how many actions the dispatcher runs at once; default 4.
	Workers int
	// PollInterval is how often Run looks for due actions; default 5s.
	PollInterval time.Duration
	// StaleAfter is how long an action may stay running before Run assumes its worker died
	// and requeues it; default 30m. Keep it well above Retry.MaxRetryTime.
	StaleAfter time.Duration
	Clock      Clock
	Logger     *slog.Logger
	// ExemptOwners are owners (e-mail addresses, case-insensitive) whose files sharing actions
	// leave alone (config sharing.exemptOwners): such actions are refused, with an event.
	ExemptOwners []string
}

// Executor carries out apply_label and remove_label actions recorded in the store, and the
// sharing actions (executor_sharing.go).
//
// Quota: each label write (apply or remove) counts one unit of its app+tenant's daily
// allowance ("manual" for admins' actions, "auto" for policy actions), taken in the same
// transaction that claims the action, so replicas on one PostgreSQL database never exceed it.
// Each sharing action (and undo) counts one unit of its own kind's allowance instead
// (QuotaConfig.Sharing, store.ActionAllowance), under the same rules.
// A unit is given back when no write took effect: a refusal, a permanent failure, a file
// already in the target state, or an action going back to wait (retry later, provider's daily
// limit). When the allowance is used up the action is paused until the next 12:00 UTC.
//
// Alert and notify_owner actions are not its business: it never claims them, so they stay
// pending for the alert sink.
type Executor struct {
	cfg   ExecutorConfig
	st    *store.Prepared
	clock Clock
	log   *slog.Logger
	retry *retrier
	wake  chan struct{}
	// unconfigured holds, per app and tenant, a provider's "not configured" answer until it
	// is due to be checked again, so the actions behind the first one pause without a call.
	unconfigured sync.Map // app/tenant → notConfigured
}

// NewExecutor builds an executor; cfg.Store and cfg.Connectors are required.
func NewExecutor(cfg ExecutorConfig) (*Executor, error) {
	if cfg.Store == nil || cfg.Connectors == nil {
		return nil, errors.New("labeling: executor needs a store and a connector lookup")
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Codec == nil {
		cfg.Codec = Engine{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RetryLater <= 0 {
		cfg.RetryLater = 15 * time.Minute
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.NotConfiguredWait <= 0 {
		cfg.NotConfiguredWait = time.Hour
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 5 * time.Second
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = 30 * time.Minute
	}
	cfg.Retry = cfg.Retry.withDefaults()
	return &Executor{
		cfg:   cfg,
		st:    cfg.Store.Prepared(),
		clock: cfg.Clock,
		log:   cfg.Logger,
		retry: &retrier{cfg: cfg.Retry, clock: cfg.Clock, rl: newRateLimits(cfg.Clock, cfg.RateLimits)},
		wake:  make(chan struct{}, 1),
	}, nil
}

// Close releases the executor's prepared statements; the store stays open.
func (e *Executor) Close() error { return e.st.Close() }

// Outcome is what Execute did with one action.
type Outcome struct {
	ActionID int64  `json:"actionId"`
	Kind     string `json:"kind,omitempty"`
	// State is the action's state afterwards: done, refused, failed; paused (quota), pending
	// (to retry later); or, when Claimed is false, the state that kept it from running.
	State   string `json:"state"`
	Reason  string `json:"reason,omitempty"`
	Claimed bool   `json:"claimed"`
	// Wrote is true when a label write took effect at the provider (false when the file
	// already held the target state).
	Wrote bool `json:"wrote"`
	// Calls counts write calls sent to the provider, retries included.
	Calls int `json:"calls"`
	// NotBefore is when a paused or pending action is due again.
	NotBefore time.Time `json:"notBefore,omitzero"`
	// changed is set when the write was refused because the file changed since it was read.
	changed bool
}

// executedKinds are the action kinds the executor claims: label writes and the sharing
// actions (issue 24) with their undo.
var executedKinds = append([]string{store.ActionApplyLabel, store.ActionRemoveLabel}, store.SharingKinds[:]...)

// Execute runs one action if it is pending (or paused and its quota window has reset) and due:
// it claims it against the daily quota,
// checks the rules, reads the file's current label, writes only if needed, and records the
// outcome (state, inventory label, discovery event) in the store. It can be called from any
// job handler; calling it for an action in any other state does nothing. The error is for
// store failures and cancellation only: provider failures are outcomes.
func (e *Executor) Execute(ctx context.Context, id int64) (Outcome, error) {
	c, err := e.claim(ctx, id)
	if err != nil || !c.Claimed {
		return outcomeOf(id, c), err
	}
	return e.runClaimed(ctx, c)
}

func (e *Executor) claim(ctx context.Context, id int64) (store.Claim, error) {
	return e.st.ClaimAction(ctx, id, e.clock.Now(), executedKinds, e.limit)
}

func outcomeOf(id int64, c store.Claim) Outcome {
	return Outcome{ActionID: id, Kind: c.Action.Kind, State: c.Action.State, Reason: c.Action.Reason, Claimed: c.Claimed,
		NotBefore: c.Action.NotBefore}
}

// runClaimed carries out an action this executor claimed and records how it ended.
func (e *Executor) runClaimed(ctx context.Context, c store.Claim) (Outcome, error) {
	a := c.Action
	out := outcomeOf(a.ID, c)
	run := e.run
	if store.SharingKind(a.Kind) {
		run = e.runSharing
	}
	comp := run(ctx, c, &out)
	// A conditional upload refused because the file changed since it was read (KindChanged):
	// read the file again and decide again — the user's edit may have made the write moot or
	// forbidden — a bounded number of times; the write never overwrites that edit.
	for try := 1; out.changed && try < maxChangedRetries && ctx.Err() == nil; try++ {
		e.log.Info("file changed between read and write; deciding again", "id", a.ID, "ref", a.Ref.Key(), "try", try+1)
		out.changed = false
		comp = run(ctx, c, &out)
	}
	if store.SharingKind(a.Kind) && comp.State == store.ActionFailed {
		// Named so the alerts engine raises sharing_action_failed: the exposure is still open.
		comp.Reason = store.SharingFailedPrefix(a.Kind) + comp.Reason
	}
	comp.ID, comp.Actor = a.ID, actor(a)
	if ctx.Err() != nil && comp.State != store.ActionDone {
		// Cancelled mid-way (shutdown): the action goes back to pending; the next run re-reads
		// the file before writing, so a write that did land is not repeated.
		comp = store.Completion{ID: a.ID, State: store.ActionPending, Reason: "interrupted: " + ctx.Err().Error(), Actor: comp.Actor}
	}
	// The outcome must be recorded even when ctx was cancelled during the provider call.
	if err := e.st.CompleteAction(context.WithoutCancel(ctx), comp); err != nil {
		return out, err
	}
	out.State, out.Reason, out.NotBefore = comp.State, comp.Reason, comp.NotBefore
	e.log.Debug("action executed", "id", a.ID, "kind", a.Kind, "ref", a.Ref.Key(), "state", comp.State, "reason", comp.Reason)
	return out, ctx.Err()
}

func (e *Executor) limit(a store.Action) int {
	return e.cfg.Quota.LimitOf(a.Kind, string(a.Ref.App), a.Ref.Tenant, a.Manual)
}

func actor(a store.Action) string {
	switch {
	case a.RequestedBy != "":
		return a.RequestedBy
	case a.PolicyID != "":
		return "policy:" + a.PolicyID
	}
	return "executor"
}

// catalogWait is how long an action waits for a first catalog sync before it looks again.
const catalogWait = time.Minute

// actionParams are the kind-specific options of a label action.
type actionParams struct {
	Justification string `json:"justification,omitempty"`
	Method        string `json:"method,omitempty"`
	// The policy's conditions on the file's current label, checked again at write time:
	// a user may have labelled the file since the policy matched it.
	OnlyIfUnlabelled    bool `json:"onlyIfUnlabelled,omitempty"`
	OnlyIfLowerPriority bool `json:"onlyIfLowerPriority,omitempty"`
}

// state is a file's label as read before and after a write.
type state struct {
	LabelID   string
	Tenant    string
	Method    string
	Protected bool
}

// refusal makes the completions of an action a rule refuses: nothing was written, so its
// quota unit goes back; facts, once read, name the file in the event.
func refusal(facts *store.FileFacts) func(format string, args ...any) store.Completion {
	return func(format string, args ...any) store.Completion {
		return store.Completion{State: store.ActionRefused, Reason: fmt.Sprintf(format, args...), ReleaseQuota: true,
			Event: store.EventActionRefused, File: facts}
	}
}

// connFor finds the connector of a claimed action, label write or sharing action alike. With
// none configured the action waits RetryLater; while its provider's "not configured" answer
// stands it stays paused without a call. ok false returns that completion.
func (e *Executor) connFor(a store.Action) (connectors.Connector, store.Completion, bool) {
	conn, ok := e.cfg.Connectors(a.Ref.App, a.Ref.Tenant)
	if !ok {
		return nil, store.Completion{State: store.ActionPending, NotBefore: e.clock.Now().Add(e.cfg.RetryLater),
			Reason: fmt.Sprintf("no connector configured for %s/%s", a.Ref.App, a.Ref.Tenant)}, false
	}
	if nc, ok := e.stillUnconfigured(a.Ref); ok {
		return nil, store.Completion{State: store.ActionPaused, NotBefore: nc.until, Reason: nc.reason}, false
	}
	return conn, store.Completion{}, true
}

// run does the work of a claimed action and says how it ends.
func (e *Executor) run(ctx context.Context, c store.Claim, out *Outcome) store.Completion {
	a := c.Action
	refuse := refusal(nil)
	conn, wait, ok := e.connFor(a)
	if !ok {
		return wait
	}
	apply := a.Kind == store.ActionApplyLabel
	var target store.CatalogLabel
	if apply {
		// The claim read the action's catalog entry.
		switch l := c.Label; {
		case l == nil:
			// Right after a first start the catalog may not be synced yet: wait for it
			// rather than refuse every action the first scans produce.
			own, lerr := e.st.ListLabels(ctx, store.LabelFilter{App: a.Ref.App, Tenant: a.Ref.Tenant, OnlyThisTenant: true, IncludeDeleted: true})
			if lerr != nil {
				return e.failed(a, lerr)
			}
			if len(own) == 0 {
				return store.Completion{State: store.ActionPending, NotBefore: e.clock.Now().Add(catalogWait), ReleaseQuota: true,
					Reason: fmt.Sprintf("label catalog of %s/%s not synced yet", a.Ref.App, a.Ref.Tenant)}
			}
			return refuse("label %s is not in the synced catalog of %s/%s", a.LabelID, a.Ref.App, a.Ref.Tenant)
		case l.State == store.LabelDeleted:
			return refuse("label %s (%s) was deleted from the catalog", a.LabelID, l.Name)
		case l.State != store.LabelEnabled:
			return refuse("label %s (%s) is %s in the catalog", a.LabelID, l.Name, l.State)
		default:
			target = *l
		}
	}
	var p actionParams
	if len(a.Params) > 0 {
		_ = json.Unmarshal(a.Params, &p) // unknown or malformed params fall back to defaults
	}
	if p.Method == "" {
		p.Method = "auto"
		if a.Manual {
			p.Method = "privileged"
		}
	}

	var f connectors.File
	if _, err := e.retry.do(ctx, a.Ref.App, a.Ref.Tenant, func() (err error) {
		f, err = conn.Stat(ctx, a.Ref)
		return err
	}, nil); err != nil {
		return e.failed(a, err)
	}
	if f.Deleted {
		return e.failed(a, connectors.Errorf(connectors.KindNotFound, "stat", 0, 0, errors.New("file is deleted")))
	}
	if f.Size > MaxLabelSize {
		return refuse("%v (%d bytes)", ErrTooLarge, f.Size)
	}

	w, err := e.writer(conn, f)
	if err != nil {
		return refuse("%v", err)
	}
	cur, err := e.readState(ctx, w, a.Ref)
	if err != nil {
		return e.failed(a, err)
	}
	// From here the provider's facts name the file in the event; no inventory read needed.
	facts := &store.FileFacts{Path: f.Path, Name: f.Name, PrevLabelID: cur.LabelID}
	refuse = refusal(facts)
	writeFailed := func(err error) store.Completion {
		comp := e.failed(a, err)
		comp.File = facts
		out.changed = connectors.KindOf(err) == connectors.KindChanged // runClaimed decides again
		return comp
	}
	want := state{}
	if apply {
		want = state{LabelID: target.ID, Tenant: target.Tenant, Method: p.Method}
	}
	if cur.LabelID == want.LabelID {
		found := &store.FileLabel{LabelID: cur.LabelID, Tenant: cur.Tenant, Method: cur.Method}
		if c.WriteSent {
			// An earlier run sent this write and was cut short (a crash) before recording
			// it: the label found is that write. It is recorded as labelgate's and keeps its
			// quota unit; the inventory names the file and the label it had before.
			out.Wrote = true
			return store.Completion{State: store.ActionDone, Reason: "written by an earlier run of this action, interrupted before recording it",
				Label: found}
		}
		return store.Completion{State: store.ActionDone, ReleaseQuota: true, Event: store.EventLabelUnchanged,
			Reason: "file already in the target state; nothing written", File: facts, Label: found}
	}
	if apply && cur.LabelID != "" && !a.Manual {
		if p.OnlyIfUnlabelled {
			return refuse("file was labelled %s since the policy matched; the policy applies only to unlabelled files", cur.LabelID)
		}
		if p.OnlyIfLowerPriority {
			have, err := e.st.GetLabel(ctx, a.Ref.App, a.Ref.Tenant, cur.LabelID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				return refuse("file carries label %s, unknown to the catalog, whose priority cannot be compared", cur.LabelID)
			case err != nil:
				return e.failed(a, err)
			case have.Priority >= target.Priority:
				return refuse("file carries label %s of priority %d, not lower than %s (%d)", cur.LabelID, have.Priority, target.ID, target.Priority)
			}
		}
	}
	if cur.Protected && cur.LabelID != "" && w.codec != nil {
		return refuse("%v", ErrProtected)
	}
	var note string
	if cur.LabelID != "" {
		var comp store.Completion
		var stop bool
		if comp, stop, note = e.protectionRule(ctx, a, apply, cur, target, refuse); stop {
			return comp
		}
	}

	// Recorded before the first write leaves, so a crash between the write and its completion
	// is told apart, on the next run, from a label someone else put in place.
	if err := e.st.MarkWriteSent(ctx, a.ID, e.clock.Now()); err != nil {
		return writeFailed(err)
	}
	opts := connectors.ApplyOptions{Method: p.Method, Justification: p.Justification}
	_, err = e.retry.do(ctx, a.Ref.App, a.Ref.Tenant, func() error {
		out.Calls++
		return w.write(ctx, a.Ref, apply, target, opts)
	}, func(error) (bool, error) {
		s, err := e.readState(ctx, w, a.Ref)
		return err == nil && s.LabelID == want.LabelID, err
	})
	if err != nil {
		return writeFailed(err)
	}
	out.Wrote = true
	return store.Completion{State: store.ActionDone, File: facts, Reason: note,
		Label: &store.FileLabel{LabelID: want.LabelID, Tenant: want.Tenant, Method: want.Method}}
}

// protectionRule keeps labelgate from stripping protection (issue 22). A labelled file is
// protected when the provider says so, when its current label carries protection in the
// catalog, or when the inventory's history says someone other than labelgate protected it
// (store.ProtectionOutside: Box never reports protection and Graph only for labels with
// hasProtection, so the scanner's own reading of the file is the truth there). Such a file:
//
//   - may have its label replaced only by a label that carries protection itself;
//   - never has its label removed, unless labelgate wrote that label and nothing says the
//     protection came from outside labelgate (then labelgate only undoes its own work).
//
// A replacement over protection from outside is recorded as such (note, kept in the event's
// detail), so a later removal of labelgate's replacement is refused too: no
// replace-then-remove sequence ends unprotected.
//
// There is no override: an admin who must unprotect a file does it in the provider, where it
// is audited with the admin's identity. stop is false when the rule allows the write.
func (e *Executor) protectionRule(ctx context.Context, a store.Action, apply bool, cur state, target store.CatalogLabel,
	refuse func(string, ...any) store.Completion) (comp store.Completion, stop bool, note string) {
	outside, why, err := e.cfg.Store.ProtectionOutside(ctx, a.Ref)
	if err != nil {
		return e.failed(a, err), true, ""
	}
	protected := outside
	switch {
	case protected:
	case cur.Protected:
		protected, why = true, "the provider reports the file protected"
	default:
		have, err := e.st.GetLabel(ctx, a.Ref.App, a.Ref.Tenant, cur.LabelID)
		switch {
		case err == nil:
			protected, why = have.Protection, fmt.Sprintf("label %s carries protection in the catalog", cur.LabelID)
		case !errors.Is(err, store.ErrNotFound):
			return e.failed(a, err), true, ""
		}
	}
	if !protected {
		return store.Completion{}, false, ""
	}
	if !outside {
		ours, err := e.st.LabelWrittenByLabelgate(ctx, a.Ref, cur.LabelID)
		if err != nil {
			return e.failed(a, err), true, ""
		}
		outside = !ours
	}
	if apply {
		if !target.Protection {
			return refuse("file is protected (%s): label %s (%s) carries no protection, so replacing %s with it would remove the protection; a protected file's label may be replaced only by a label that keeps protection",
				why, target.ID, target.Name, cur.LabelID), true, ""
		}
		if outside {
			note = store.DetailOutsideProtectionKept + why
		}
		return store.Completion{}, false, note
	}
	if outside {
		return refuse("label %s carries protection applied outside labelgate (%s): it may be replaced by a label that keeps protection, never removed", cur.LabelID, why), true, ""
	}
	return store.Completion{}, false, ""
}

// failed maps an error to the action's next state: permanent provider errors and label-engine
// refusals end it now; a provider's daily limit pauses it; anything retryable goes back to
// pending for a later try, until MaxAttempts. Unclassified errors count as transient.
func (e *Executor) failed(a store.Action, err error) store.Completion {
	now := e.clock.Now()
	switch {
	case errors.Is(err, ErrTooLarge), errors.Is(err, ErrUnsupported), errors.Is(err, ErrProtected), errors.Is(err, ErrInvalidLabel),
		errors.Is(err, connectors.ErrUnsupported):
		return store.Completion{State: store.ActionRefused, Reason: err.Error(), ReleaseQuota: true, Event: store.EventActionRefused}
	case errors.Is(err, ErrMalformed):
		return store.Completion{State: store.ActionFailed, Reason: err.Error(), ReleaseQuota: true, Event: store.EventActionFailed}
	}
	switch kind := connectors.KindOf(err); kind {
	case connectors.KindNotConfigured:
		return e.pauseNotConfigured(a, err)
	case connectors.KindChanged:
		// What is left after runClaimed's bounded re-reads: wait and try again later.
		if a.Attempts < e.cfg.MaxAttempts {
			return store.Completion{State: store.ActionPending, NotBefore: now.Add(e.cfg.RetryLater),
				Reason: fmt.Sprintf("the file kept changing between labelgate's read and its write; trying later: %v", err)}
		}
		return store.Completion{State: store.ActionFailed, Reason: fmt.Sprintf("the file kept changing between read and write: %v", err),
			ReleaseQuota: true, Event: store.EventActionFailed}
	case connectors.KindNotFound, connectors.KindPermission, connectors.KindInvalid, connectors.KindLocked:
		return store.Completion{State: store.ActionFailed, Reason: fmt.Sprintf("%s: %v", kind, err), ReleaseQuota: true,
			Event: store.EventActionFailed}
	case connectors.KindFatalToday:
		until := NextQuotaReset(now)
		if d, ok := connectors.RetryAfter(err); ok {
			until = now.Add(d)
		}
		return store.Completion{State: store.ActionPaused, NotBefore: until,
			Reason: fmt.Sprintf("provider's daily limit reached; resumes at %s: %v", until.Format(time.RFC3339), err)}
	}
	if a.Attempts >= e.cfg.MaxAttempts {
		return store.Completion{State: store.ActionFailed, Reason: fmt.Sprintf("failed after %d attempts: %v", a.Attempts, err),
			ReleaseQuota: true, Event: store.EventActionFailed}
	}
	return store.Completion{State: store.ActionPending, NotBefore: now.Add(e.cfg.RetryLater),
		Reason: fmt.Sprintf("attempt %d failed, retrying later: %v", a.Attempts, err)}
}

// labelWriter is the path a label write takes for one file: the provider's native label API,
// or the codec plus an upload.
type labelWriter struct {
	conn    connectors.Connector
	labeler connectors.Labeler // native mode
	up      connectors.Uploader
	// cond, when the connector offers it, uploads only while the file still has etag, the
	// ETag read (Stat) before its content was: a user's edit in between is never overwritten.
	cond  connectors.ConditionalUploader
	etag  string
	codec FileCodec // embedded mode
	name  string
	clock Clock
}

// writer picks how labels reach a file. Native-API apps label whatever the provider accepts;
// embedded writes need a file type the codec understands.
func (e *Executor) writer(conn connectors.Connector, f connectors.File) (*labelWriter, error) {
	if l, ok := conn.(connectors.Labeler); ok {
		return &labelWriter{conn: conn, labeler: l, name: f.Name}, nil
	}
	up, ok := conn.(connectors.Uploader)
	if !ok {
		return nil, fmt.Errorf("%s connector has no label API and no way to rewrite files: %w", conn.App(), ErrUnsupported)
	}
	if t := e.cfg.Codec.TypeOf(f.Name); t == TypeUnsupported || t == "" {
		if err := WriteUnsupported(f.Name); err != nil {
			return nil, err // says why: a legacy binary file or a pfile is read, never rewritten
		}
		return nil, fmt.Errorf("%q: %w", f.Name, ErrUnsupported)
	}
	w := &labelWriter{conn: conn, up: up, codec: e.cfg.Codec, name: f.Name, clock: e.clock}
	if cu, ok := conn.(connectors.ConditionalUploader); ok && f.ETag != "" {
		w.cond, w.etag = cu, f.ETag
	}
	return w, nil
}

func (e *Executor) readState(ctx context.Context, w *labelWriter, ref connectors.FileRef) (state, error) {
	var s state
	_, err := e.retry.do(ctx, ref.App, ref.Tenant, func() error {
		if w.labeler != nil {
			ls, err := w.labeler.ReadLabel(ctx, ref)
			s = state{LabelID: ls.LabelID, Tenant: ls.Tenant, Method: ls.Method, Protected: ls.Protected}
			return err
		}
		obj, err := w.conn.Open(ctx, ref)
		if err != nil {
			return err
		}
		defer obj.Close()
		res, err := w.codec.Read(ctx, obj, obj.Size(), w.name)
		if err != nil {
			return err
		}
		s = state{Protected: res.Protected}
		if res.Label != nil {
			s.LabelID, s.Tenant, s.Method = res.Label.ID, res.Label.Tenant, res.Label.Method
		}
		return nil
	}, nil)
	return s, err
}

func (w *labelWriter) write(ctx context.Context, ref connectors.FileRef, apply bool, target store.CatalogLabel,
	opts connectors.ApplyOptions) error {
	if w.labeler != nil {
		if apply {
			return w.labeler.ApplyLabel(ctx, ref, target.ID, opts)
		}
		return w.labeler.RemoveLabel(ctx, ref, opts)
	}
	obj, err := w.conn.Open(ctx, ref)
	if err != nil {
		return err
	}
	defer obj.Close()
	if obj.Size() > MaxLabelSize {
		return ErrTooLarge
	}
	var buf bytes.Buffer
	buf.Grow(int(obj.Size()) + 4096)
	if apply {
		err = w.codec.Apply(ctx, obj, obj.Size(), w.name, Label{ID: target.ID, Tenant: target.Tenant, Method: opts.Method,
			Name: target.Name, Enabled: true, SetDate: w.clock.Now().UTC()}, &buf)
	} else {
		err = w.codec.Remove(ctx, obj, obj.Size(), w.name, &buf)
	}
	if err != nil {
		return err
	}
	if w.cond != nil {
		return w.cond.UploadIfMatch(ctx, ref, w.etag, bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	}
	return w.up.Upload(ctx, ref, bytes.NewReader(buf.Bytes()), int64(buf.Len()))
}

// maxChangedRetries bounds how often one run reads a file again and decides again after its
// conditional upload was refused because the file changed meanwhile (KindChanged).
const maxChangedRetries = 3

// EventNotConfigured is the discovery event (and, through the alerts engine, the operational
// alert) logged when a provider refuses label writes until an administrator completes a
// set-up step (connectors.KindNotConfigured). Its detail is the provider's error.
const EventNotConfigured = "connector_not_configured"

// notConfigured is a provider's "set-up missing" answer for one app and tenant.
type notConfigured struct {
	until  time.Time
	reason string
}

// pauseNotConfigured pauses an action the provider refused because an administrator has a set-up
// step to take (KindNotConfigured): retrying cannot help, so the action waits
// NotConfiguredWait (then one action checks again), its quota unit goes back, and the event
// raises an operational alert. Other actions of the same app and tenant pause without a
// provider call until then.
func (e *Executor) pauseNotConfigured(a store.Action, err error) store.Completion {
	until := e.clock.Now().Add(e.cfg.NotConfiguredWait)
	reason := fmt.Sprintf("%s%s/%s needs a set-up step by an administrator before label writes; paused, checked again at %s: %v",
		store.NotConfiguredReason, a.Ref.App, a.Ref.Tenant, until.Format(time.RFC3339), err)
	e.unconfigured.Store(string(a.Ref.App)+"/"+a.Ref.Tenant, notConfigured{until: until, reason: reason})
	e.log.Warn("provider set-up missing; label actions paused", "app", a.Ref.App, "tenant", a.Ref.Tenant, "until", until, "err", err)
	return store.Completion{State: store.ActionPaused, NotBefore: until, Reason: reason, Event: EventNotConfigured}
}

// stillUnconfigured reports a recent "not configured" answer for ref's app and tenant that is
// not yet due to be checked again.
func (e *Executor) stillUnconfigured(ref connectors.FileRef) (notConfigured, bool) {
	v, ok := e.unconfigured.Load(string(ref.App) + "/" + ref.Tenant)
	if !ok {
		return notConfigured{}, false
	}
	nc := v.(notConfigured)
	if !e.clock.Now().Before(nc.until) {
		e.unconfigured.CompareAndDelete(string(ref.App)+"/"+ref.Tenant, v)
		return notConfigured{}, false
	}
	return nc, true
}
