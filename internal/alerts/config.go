// Package alerts turns discovery events, policy alert actions and operational trouble into a
// grouped alert inbox, and delivers alerts and owner/admin digests to webhooks, SMTP and JSON lines.
package alerts

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Severities, lowest first. They are the policies' severities.
const (
	SeverityLow      = "low"
	SeverityMedium   = "medium"
	SeverityHigh     = "high"
	SeverityCritical = "critical"
)

func severityRank(s string) int {
	switch s {
	case SeverityLow:
		return 1
	case SeverityMedium:
		return 2
	case SeverityHigh:
		return 3
	case SeverityCritical:
		return 4
	}
	return 0
}

// Rule names. The activity rules read the discovery log; the operational ones watch
// labelgate itself; RulePolicy carries policies' alert actions.
const (
	RuleLabelRemoved        = "label_removed"
	RuleLabelDowngraded     = "label_downgraded"
	RuleLabelChangedOutside = "label_changed_outside"
	RuleAccessWidened       = "access_widened"
	RuleExternalLabel       = "external_label"
	RuleProtectedFile       = "protected_file"
	RuleQuotaExhausted      = "quota_exhausted"
	RuleSubscriptionFailing = "subscription_failing"
	RuleConnectorAuth       = "connector_auth_failed"
	RuleConnectorSetup      = "connector_not_configured"
	RuleDeadLetters         = "dead_letters"
	RulePolicy              = "policy"
	// RuleSharingFailed: a sharing action (issue 24) failed for good, so the exposure it was
	// to close is still open.
	RuleSharingFailed = "sharing_action_failed"
)

// Event kinds this package defines for others to write to the discovery log (store.AddEvent).
// App and Tenant name the connector; Detail carries the error or the allowance.
const (
	// EventQuotaExhausted: a daily quota ran out. Detail: the allowance ("auto" or "manual").
	// The engine also sees exhausted quotas without it, from actions in state paused.
	EventQuotaExhausted = "quota_exhausted"
	// EventSubscriptionFailed: a webhook subscription or channel could not be created or
	// renewed, or was removed by the provider. Drive names it; Detail is the error. The
	// engine also sees subscriptions whose last_error is set or that expired.
	EventSubscriptionFailed = "subscription_failed"
	// EventConnectorAuthFailed: a connector could not authenticate. Detail is the error.
	EventConnectorAuthFailed = "connector_auth_failed"
	// EventConnectorNotConfigured: a provider refuses label writes until an administrator
	// completes a set-up step (Graph's metered assignSensitivityLabel before billing is
	// linked); the executor pauses the actions. Same value as labeling.EventNotConfigured,
	// which the executor writes. Detail is the action's reason.
	EventConnectorNotConfigured = "connector_not_configured"
)

// Config is the alerts section of labelgate.yaml.
type Config struct {
	// Disabled turns the engine off (the inbox still answers).
	Disabled bool `yaml:"disabled" json:"disabled"`
	// Rules override the built-in rules by name; a rule not listed keeps its defaults.
	Rules []RuleConfig `yaml:"rules" json:"rules,omitempty"`
	Sinks Sinks        `yaml:"sinks" json:"sinks"`
	// Routes sends alerts of a severity to the named sinks, for rules that name none. A
	// severity without a route goes to every sink whose minSeverity it reaches.
	Routes map[string][]string `yaml:"routes" json:"routes,omitempty"`
	// GroupWindow is how long repeats of a rule on one file join the first alert (default 1h).
	GroupWindow time.Duration `yaml:"groupWindow" json:"groupWindow"`
	// OwnerDigest rate-limits owner notices: one e-mail per owner per interval.
	OwnerDigest OwnerDigest `yaml:"ownerDigest" json:"ownerDigest"`
	// PollInterval is how often the engine reads new events and actions (default 5s).
	PollInterval time.Duration `yaml:"pollInterval" json:"pollInterval"`
	// CheckInterval is how often quotas, subscriptions and dead letters are checked (default 1m).
	CheckInterval time.Duration `yaml:"checkInterval" json:"checkInterval"`
	Delivery      Delivery      `yaml:"delivery" json:"delivery"`
	// OwnActors are event actors that are labelgate itself ("executor", "policy:*"): a label
	// change by them is not "outside labelgate". Entries ending in * are prefixes.
	OwnActors []string `yaml:"ownActors" json:"ownActors,omitempty"`
	// SkipHistory starts a fresh engine (no stored position) at the end of the discovery log
	// instead of its beginning, so enabling alerts on a large existing inventory is quiet.
	SkipHistory bool `yaml:"skipHistory" json:"skipHistory"`
}

// RuleConfig tunes one rule.
type RuleConfig struct {
	Name string `yaml:"name" json:"name"`
	// Enabled defaults to true.
	Enabled  *bool  `yaml:"enabled" json:"enabled,omitempty"`
	Severity string `yaml:"severity" json:"severity,omitempty"`
	// Sinks names where the rule's alerts go; empty: the severity's route.
	Sinks []string `yaml:"sinks" json:"sinks,omitempty"`
	// NotifyOwner adds a notice to the file owner's next digest.
	NotifyOwner *bool `yaml:"notifyOwner" json:"notifyOwner,omitempty"`
	// Window overrides GroupWindow for this rule.
	Window time.Duration `yaml:"window" json:"window,omitempty"`
	// Threshold is the dead-letter count that raises dead_letters (default 10).
	Threshold int    `yaml:"threshold" json:"threshold,omitempty"`
	Filter    Filter `yaml:"filter" json:"filter"`
}

// Filter narrows a rule to some files, like a policy's filter. Empty lists do not filter.
type Filter struct {
	App    []string `yaml:"app" json:"app,omitempty"`
	Tenant []string `yaml:"tenant" json:"tenant,omitempty"`
	// Folder takes folder path prefixes on folder boundaries: /Finance matches /Finance and
	// /Finance/2024, not /FinanceOld. Case-insensitive.
	Folder []string `yaml:"folder" json:"folder,omitempty"`
	// Owner takes owner addresses, or domains written "@contoso.com". Case-insensitive.
	Owner []string `yaml:"owner" json:"owner,omitempty"`
	// Label takes label ids; a file matches when its new or previous label is listed.
	Label []string `yaml:"label" json:"label,omitempty"`
}

// Sinks are the delivery targets.
type Sinks struct {
	Webhooks []WebhookSink `yaml:"webhooks" json:"webhooks,omitempty"`
	SMTP     *SMTPSink     `yaml:"smtp" json:"smtp,omitempty"`
	JSONL    *JSONLSink    `yaml:"jsonl" json:"jsonl,omitempty"`
}

// WebhookSink posts signed JSON. The sink's name is how rules and routes refer to it.
type WebhookSink struct {
	Name string `yaml:"name" json:"name"`
	URL  string `yaml:"url" json:"url"`
	// Secret keys the HMAC-SHA256 signature; from $LABELGATE_ALERTS_WEBHOOK_<NAME>_SECRET.
	Secret      string            `yaml:"secret" json:"-"`
	MinSeverity string            `yaml:"minSeverity" json:"minSeverity,omitempty"`
	Headers     map[string]string `yaml:"headers" json:"headers,omitempty"`
}

// SMTPSinkName is how rules and routes name the e-mail sink.
const SMTPSinkName = "smtp"

// JSONLSinkName is how rules and routes name the JSON-lines sink.
const JSONLSinkName = "jsonl"

// SMTPSink sends e-mail: alerts to admins (To), and owner digests.
type SMTPSink struct {
	Host string `yaml:"host" json:"host"`
	Port int    `yaml:"port" json:"port"` // default 587
	// Username and Password authenticate with AUTH PLAIN after STARTTLS;
	// $LABELGATE_ALERTS_SMTP_USERNAME and $LABELGATE_ALERTS_SMTP_PASSWORD set them.
	Username string   `yaml:"username" json:"username,omitempty"`
	Password string   `yaml:"password" json:"-"`
	From     string   `yaml:"from" json:"from"`
	To       []string `yaml:"to" json:"to,omitempty"` // admin recipients of alerts
	// StartTLS is required unless set to false (then only for a loopback relay).
	StartTLS *bool `yaml:"startTLS" json:"startTLS,omitempty"`
	// CAFile is a PEM bundle to verify the server with, besides the system roots.
	CAFile      string `yaml:"caFile" json:"caFile,omitempty"`
	MinSeverity string `yaml:"minSeverity" json:"minSeverity,omitempty"`
	// DigestInterval > 0 gathers admin alert e-mails into one digest per interval.
	DigestInterval time.Duration `yaml:"digestInterval" json:"digestInterval,omitempty"`
	Templates      Templates     `yaml:"templates" json:"templates"`
}

// Templates are text/template sources for e-mails; empty ones use the built-in text.
// Alert templates see .Alert (store.Alert); digest templates see .Recipient,
// .Kind ("owner" or "admin") and .Notices ([]store.Notice).
type Templates struct {
	AlertSubject  string `yaml:"alertSubject" json:"alertSubject,omitempty"`
	AlertBody     string `yaml:"alertBody" json:"alertBody,omitempty"`
	DigestSubject string `yaml:"digestSubject" json:"digestSubject,omitempty"`
	DigestBody    string `yaml:"digestBody" json:"digestBody,omitempty"`
}

// JSONLSink appends one JSON object per line, for log shippers.
type JSONLSink struct {
	// Path is the file to append to; "-" writes to standard output.
	Path        string `yaml:"path" json:"path"`
	MinSeverity string `yaml:"minSeverity" json:"minSeverity,omitempty"`
}

// OwnerDigest configures owner notices.
type OwnerDigest struct {
	// Interval between two digests to one owner (default 24h).
	Interval time.Duration `yaml:"interval" json:"interval"`
	// Domain is appended to owners that are not e-mail addresses ("alice" → alice@Domain).
	Domain string `yaml:"domain" json:"domain,omitempty"`
	// MaxItems caps the notices in one digest; the rest wait for the next (default 200).
	MaxItems int `yaml:"maxItems" json:"maxItems,omitempty"`
}

// Delivery tunes the delivery workers.
type Delivery struct {
	Workers        int           `yaml:"workers" json:"workers"`               // default 2
	MaxAttempts    int           `yaml:"maxAttempts" json:"maxAttempts"`       // default 10
	InitialBackoff time.Duration `yaml:"initialBackoff" json:"initialBackoff"` // default 5s
	MaxBackoff     time.Duration `yaml:"maxBackoff" json:"maxBackoff"`         // default 10m
	Timeout        time.Duration `yaml:"timeout" json:"timeout"`               // per attempt, default 15s
}

// ParseConfig reads an alerts section from YAML, rejecting unknown keys.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("alerts: %w", err)
	}
	return c, c.Validate()
}

// ApplyEnv fills secrets from the environment: LABELGATE_ALERTS_SMTP_USERNAME,
// LABELGATE_ALERTS_SMTP_PASSWORD, and per webhook LABELGATE_ALERTS_WEBHOOK_<NAME>_SECRET and
// LABELGATE_ALERTS_WEBHOOK_<NAME>_URL, where <NAME> is the sink name upper-cased with every
// other character than A-Z and 0-9 turned into _. Set variables win over the file.
func ApplyEnv(cfg *Config, getenv func(string) string) {
	if cfg.Sinks.SMTP != nil {
		if v := getenv("LABELGATE_ALERTS_SMTP_USERNAME"); v != "" {
			cfg.Sinks.SMTP.Username = v
		}
		if v := getenv("LABELGATE_ALERTS_SMTP_PASSWORD"); v != "" {
			cfg.Sinks.SMTP.Password = v
		}
	}
	for i := range cfg.Sinks.Webhooks {
		w := &cfg.Sinks.Webhooks[i]
		prefix := "LABELGATE_ALERTS_WEBHOOK_" + EnvName(w.Name)
		if v := getenv(prefix + "_SECRET"); v != "" {
			w.Secret = v
		}
		if v := getenv(prefix + "_URL"); v != "" {
			w.URL = v
		}
	}
}

// EnvName is a sink name as it appears in environment variable names.
func EnvName(name string) string {
	b := []byte(strings.ToUpper(name))
	for i, c := range b {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

// Errors lists every problem of a configuration.
type Errors []error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

// Validate reports every problem, naming the field.
func (c Config) Validate() error {
	var es Errors
	bad := func(field, format string, args ...any) {
		es = append(es, fmt.Errorf("alerts.%s: "+format, append([]any{field}, args...)...))
	}
	sinks := map[string]bool{}
	for i, w := range c.Sinks.Webhooks {
		f := fmt.Sprintf("sinks.webhooks[%d]", i)
		switch {
		case w.Name == "":
			bad(f+".name", "required")
		case w.Name == SMTPSinkName || w.Name == JSONLSinkName || sinks[w.Name]:
			bad(f+".name", "%q is taken", w.Name)
		}
		sinks[w.Name] = true
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad(f+".url", "want an http(s) URL, got %q", w.URL)
		}
		if w.Secret == "" {
			bad(f+".secret", "required (or $LABELGATE_ALERTS_WEBHOOK_%s_SECRET)", EnvName(w.Name))
		}
		if w.MinSeverity != "" && severityRank(w.MinSeverity) == 0 {
			bad(f+".minSeverity", "unknown severity %q", w.MinSeverity)
		}
	}
	if s := c.Sinks.SMTP; s != nil {
		sinks[SMTPSinkName] = true
		if s.Host == "" {
			bad("sinks.smtp.host", "required")
		}
		if s.Port < 0 || s.Port > 65535 {
			bad("sinks.smtp.port", "out of range: %d", s.Port)
		}
		if !strings.Contains(s.From, "@") {
			bad("sinks.smtp.from", "want an address, got %q", s.From)
		}
		if s.MinSeverity != "" && severityRank(s.MinSeverity) == 0 {
			bad("sinks.smtp.minSeverity", "unknown severity %q", s.MinSeverity)
		}
		if s.Password != "" && s.StartTLS != nil && !*s.StartTLS {
			bad("sinks.smtp.startTLS", "a password is never sent without STARTTLS")
		}
	}
	if s := c.Sinks.JSONL; s != nil {
		sinks[JSONLSinkName] = true
		if s.Path == "" {
			bad("sinks.jsonl.path", "required (\"-\" for standard output)")
		}
		if s.MinSeverity != "" && severityRank(s.MinSeverity) == 0 {
			bad("sinks.jsonl.minSeverity", "unknown severity %q", s.MinSeverity)
		}
	}
	for sev, names := range c.Routes {
		if severityRank(sev) == 0 {
			bad("routes", "unknown severity %q", sev)
		}
		for _, n := range names {
			if !sinks[n] {
				bad("routes."+sev, "no sink named %q", n)
			}
		}
	}
	seen := map[string]bool{}
	for i, r := range c.Rules {
		f := fmt.Sprintf("rules[%d]", i)
		if _, ok := builtinRules[r.Name]; !ok {
			bad(f+".name", "unknown rule %q (want one of %s)", r.Name, strings.Join(RuleNames(), ", "))
		}
		if seen[r.Name] {
			bad(f+".name", "rule %q configured twice", r.Name)
		}
		seen[r.Name] = true
		if r.Severity != "" && severityRank(r.Severity) == 0 {
			bad(f+".severity", "unknown severity %q", r.Severity)
		}
		for _, n := range r.Sinks {
			if !sinks[n] {
				bad(f+".sinks", "no sink named %q", n)
			}
		}
		if r.Window < 0 || r.Threshold < 0 {
			bad(f, "window and threshold must not be negative")
		}
		for _, p := range r.Filter.Folder {
			if !strings.HasPrefix(p, "/") {
				bad(f+".filter.folder", "%q must start with /", p)
			}
		}
	}
	for _, d := range []struct {
		f string
		v time.Duration
	}{{"groupWindow", c.GroupWindow}, {"ownerDigest.interval", c.OwnerDigest.Interval}, {"pollInterval", c.PollInterval},
		{"checkInterval", c.CheckInterval}, {"delivery.initialBackoff", c.Delivery.InitialBackoff},
		{"delivery.maxBackoff", c.Delivery.MaxBackoff}, {"delivery.timeout", c.Delivery.Timeout}} {
		if d.v < 0 {
			bad(d.f, "must not be negative")
		}
	}
	if c.Delivery.Workers < 0 || c.Delivery.MaxAttempts < 0 || c.OwnerDigest.MaxItems < 0 {
		bad("delivery", "counts must not be negative")
	}
	if len(es) == 0 {
		return nil
	}
	return es
}

// withDefaults fills zero values.
func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.GroupWindow, time.Hour)
	def(&c.OwnerDigest.Interval, 24*time.Hour)
	def(&c.PollInterval, 5*time.Second)
	def(&c.CheckInterval, time.Minute)
	def(&c.Delivery.InitialBackoff, 5*time.Second)
	def(&c.Delivery.MaxBackoff, 10*time.Minute)
	def(&c.Delivery.Timeout, 15*time.Second)
	if c.Delivery.Workers == 0 {
		c.Delivery.Workers = 2
	}
	if c.Delivery.MaxAttempts == 0 {
		c.Delivery.MaxAttempts = 10
	}
	if c.OwnerDigest.MaxItems == 0 {
		c.OwnerDigest.MaxItems = 200
	}
	if c.OwnActors == nil {
		c.OwnActors = []string{"executor", "policy:*", "labelgate"}
	}
	return c
}

// ruleDefaults are a built-in rule's settings before configuration.
type ruleDefaults struct {
	severity    string
	notifyOwner bool
	window      time.Duration // 0: the configured group window
	title       string
}

var builtinRules = map[string]ruleDefaults{
	RuleLabelRemoved:        {severity: SeverityHigh, notifyOwner: true, title: "Sensitivity label removed"},
	RuleLabelDowngraded:     {severity: SeverityHigh, notifyOwner: true, title: "Sensitivity label downgraded"},
	RuleLabelChangedOutside: {severity: SeverityMedium, title: "Sensitivity label changed outside labelgate"},
	RuleAccessWidened:       {severity: SeverityHigh, notifyOwner: true, title: "Labelled file shared more widely"},
	RuleExternalLabel:       {severity: SeverityMedium, title: "File carries another tenant's label"},
	RuleProtectedFile:       {severity: SeverityLow, title: "Protected (encrypted) file appeared"},
	RuleQuotaExhausted:      {severity: SeverityHigh, title: "Daily label quota used up"},
	RuleSubscriptionFailing: {severity: SeverityHigh, title: "Change notifications lost or failing to renew"},
	RuleConnectorAuth:       {severity: SeverityCritical, title: "Connector cannot authenticate"},
	RuleConnectorSetup:      {severity: SeverityCritical, title: "Connector set-up incomplete: label writes paused"},
	RuleDeadLetters:         {severity: SeverityMedium, title: "Scan jobs piling up in the dead letter queue"},
	RulePolicy:              {severity: SeverityMedium, title: "Policy alert"},
	RuleSharingFailed:       {severity: SeverityHigh, title: "Sharing restriction failed: the exposure is still open"},
}

// RuleNames lists the built-in rules.
func RuleNames() []string {
	out := make([]string, 0, len(builtinRules))
	for n := range builtinRules {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// rule is a rule with its configuration applied.
type rule struct {
	name        string
	enabled     bool
	severity    string
	sinks       []string
	notifyOwner bool
	window      time.Duration
	threshold   int
	title       string
	filter      Filter
}

func compileRules(c Config) map[string]*rule {
	out := map[string]*rule{}
	for name, d := range builtinRules {
		w := d.window
		if w == 0 {
			w = c.GroupWindow
		}
		out[name] = &rule{name: name, enabled: true, severity: d.severity, notifyOwner: d.notifyOwner, window: w,
			threshold: 10, title: d.title}
	}
	for _, rc := range c.Rules {
		r, ok := out[rc.Name]
		if !ok {
			continue
		}
		if rc.Enabled != nil {
			r.enabled = *rc.Enabled
		}
		if rc.Severity != "" {
			r.severity = rc.Severity
		}
		if rc.NotifyOwner != nil {
			r.notifyOwner = *rc.NotifyOwner
		}
		if rc.Window > 0 {
			r.window = rc.Window
		}
		if rc.Threshold > 0 {
			r.threshold = rc.Threshold
		}
		r.sinks = rc.Sinks
		r.filter = rc.Filter
	}
	return out
}

// fileFacts are what a rule filter looks at.
type fileFacts struct {
	app, tenant, path, owner string
	labels                   []string
}

func (f Filter) match(ff fileFacts) bool {
	if len(f.App) > 0 && !slices.Contains(f.App, ff.app) {
		return false
	}
	if len(f.Tenant) > 0 && !slices.Contains(f.Tenant, ff.tenant) {
		return false
	}
	if len(f.Folder) > 0 && !slices.ContainsFunc(f.Folder, func(p string) bool { return underFolder(ff.path, p) }) {
		return false
	}
	if len(f.Owner) > 0 {
		owner := strings.ToLower(ff.owner)
		if !slices.ContainsFunc(f.Owner, func(o string) bool {
			o = strings.ToLower(o)
			if strings.HasPrefix(o, "@") {
				return strings.HasSuffix(owner, o)
			}
			return owner == o
		}) {
			return false
		}
	}
	if len(f.Label) > 0 && !slices.ContainsFunc(ff.labels, func(l string) bool { return l != "" && slices.Contains(f.Label, l) }) {
		return false
	}
	return true
}

// underFolder reports whether folder p is prefix or inside it, on folder boundaries.
func underFolder(p, prefix string) bool {
	p, prefix = strings.ToLower(path.Clean("/"+p)), strings.ToLower(path.Clean("/"+prefix))
	return prefix == "/" || p == prefix || strings.HasPrefix(p, prefix+"/")
}

// ownActor reports whether an event actor is labelgate itself.
func ownActor(patterns []string, actor string) bool {
	for _, p := range patterns {
		if strings.HasSuffix(p, "*") {
			if strings.HasPrefix(actor, strings.TrimSuffix(p, "*")) {
				return true
			}
		} else if actor == p {
			return true
		}
	}
	return false
}

var errNoSink = errors.New("no such sink")
