// Package config loads and validates labelgate's configuration (labelgate.yaml + environment).
package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/labelgate/labelgate/internal/alerts"
	"gopkg.in/yaml.v3"
)

// Config is the whole configuration. Every field has a working default, so labelgate serve
// runs with no file at all.
type Config struct {
	DataDir    string        `yaml:"dataDir"`
	Log        Log           `yaml:"log"`
	Server     Server        `yaml:"server"`
	Admin      Admin         `yaml:"admin"`
	Store      Store         `yaml:"store"`
	Queue      Queue         `yaml:"queue"`
	Labels     Labels        `yaml:"labels"`
	Quota      Quota         `yaml:"quota"`
	Sharing    Sharing       `yaml:"sharing"`
	Rescan     Rescan        `yaml:"rescan"`
	Alerts     alerts.Config `yaml:"alerts"`
	Console    Console       `yaml:"console"`
	Connectors []Connector   `yaml:"connectors"`
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // auto (text on a terminal, JSON otherwise), text, json
}

// Server is the public listener: webhooks, health and metrics.
type Server struct {
	Listen       string        `yaml:"listen"`
	PublicURL    string        `yaml:"publicURL"` // base URL providers call back; defaults to http://<listen>
	MaxBodyBytes int64         `yaml:"maxBodyBytes"`
	ReadTimeout  time.Duration `yaml:"readTimeout"`
	TLS          TLS           `yaml:"tls"`
}

// TLS turns on HTTPS for a listener.
type TLS struct {
	CertFile string `yaml:"certFile"`
	KeyFile  string `yaml:"keyFile"`
}

// Admin is the admin API listener (loopback by default).
type Admin struct {
	Listen string  `yaml:"listen"`
	Tokens []Token `yaml:"tokens"`
	TLS    TLS     `yaml:"tls"`
	// SecureCookies marks the console's session cookie Secure. Unset: on, unless the
	// listener is loopback (where plain HTTP is the norm); behind a TLS-terminating proxy the
	// request labelgate sees is HTTP, so the request alone cannot decide.
	SecureCookies *bool `yaml:"secureCookies"`
}

// CookiesSecure is admin.secureCookies with its default applied.
func (a Admin) CookiesSecure() bool {
	if a.SecureCookies != nil {
		return *a.SecureCookies
	}
	host, _, err := net.SplitHostPort(a.Listen)
	if err != nil {
		return true
	}
	if strings.EqualFold(host, "localhost") {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// Token is one admin API bearer token: the token itself or its SHA-256 (hex).
type Token struct {
	Name   string `yaml:"name"`
	Role   string `yaml:"role"` // viewer or admin
	Token  string `yaml:"token" secret:"true"`
	SHA256 string `yaml:"sha256"`
}

// Console tunes the admin web console.
type Console struct {
	// SensitivePriority: labels at or above this catalog priority (higher = more sensitive)
	// count as sensitive on the dashboard's exposure matrix. Default 2, the third step of a
	// catalog ordered from 0 (in a Public, General, Confidential, … catalog: Confidential up).
	SensitivePriority int `yaml:"sensitivePriority"`
}

// Store selects the database.
type Store struct {
	URL string `yaml:"url" secret:"true"` // "" = SQLite under dataDir; postgres://… for replicas
}

// Queue tunes the scan and action queues.
type Queue struct {
	Workers     int           `yaml:"workers"`
	MaxAttempts int           `yaml:"maxAttempts"`
	Lease       time.Duration `yaml:"lease"`
}

// Labels configures the label catalog.
type Labels struct {
	SyncInterval time.Duration `yaml:"syncInterval"`
	// OnlyThisTenant ignores labels of other tenants in scans and policies.
	OnlyThisTenant bool `yaml:"onlyThisTenant"`
	// TenantID is the organisation's Entra (MIP) tenant id; a label whose SiteId differs is
	// external. Defaults to the tenant of the Microsoft Graph connectors.
	TenantID string `yaml:"tenantId"`
	// Protection is label-driven sharing protection (issue 24): per label, the widest access
	// allowed and the sharing action taken beyond it, enforced on every scan.
	Protection ProtectionRules `yaml:"protection"`
}

// Quota sets the daily apply-label allowance. Windows reset at 12:00 UTC.
type Quota struct {
	Default   int            `yaml:"default"`   // per app per tenant per day
	Manual    int            `yaml:"manual"`    // admins' own allowance per app per tenant per day
	PerApp    map[string]int `yaml:"perApp"`    // app → limit
	PerTenant map[string]int `yaml:"perTenant"` // "tenant/app" or "tenant" → limit
	// Sharing sets the sharing actions' own allowances (issue 24), one per action kind per
	// app per tenant: {default: 100, perApp: {box: 20}, perTenant: {...}, perKind:
	// {makePrivate: 10}}. Its type is labeling.SharingQuota's shape, so Quota still converts.
	Sharing SharingQuota `yaml:"sharing"`
}

// SharingQuota is quota.sharing; the same unnamed struct type as labeling.SharingQuota.
type SharingQuota = struct {
	Default   int            `yaml:"default"`
	PerApp    map[string]int `yaml:"perApp"`
	PerTenant map[string]int `yaml:"perTenant"`
	PerKind   map[string]int `yaml:"perKind"`
}

// Sharing holds the safety rules of the sharing actions (issue 24).
type Sharing struct {
	// ExemptOwners are owners (e-mail addresses, case-insensitive) whose files no sharing
	// action touches: the executor refuses them with a reason and an event.
	ExemptOwners []string `yaml:"exemptOwners"`
}

// Rescan schedules full rescans; a connector may override the schedule.
type Rescan struct {
	Schedule string `yaml:"schedule"` // cron expression, "" = never
	// StaleAfter is how long a running rescan may go without progress before the scheduler
	// leader resumes it as orphaned (its replica died); default 2m.
	StaleAfter time.Duration `yaml:"staleAfter"`
	// SchedulerTick is how often the leader looks at schedules and orphaned rescans; the
	// leader's lease lasts three ticks and 10 s, so it also bounds how soon another replica
	// takes over from a dead leader; default 30s.
	SchedulerTick time.Duration `yaml:"schedulerTick"`
}

// Connector configures one provider connection. Fields apply to the providers named beside them.
type Connector struct {
	Name   string `yaml:"name"`
	App    string `yaml:"app"` // sharepoint, onedrive, gdrive, box, fileshare
	Tenant string `yaml:"tenant"`

	BaseURL   string `yaml:"baseURL"`   // API base (emulator in tests and demo)
	AuthURL   string `yaml:"authURL"`   // token endpoint override
	UploadURL string `yaml:"uploadURL"` // box

	ClientID     string `yaml:"clientID"`
	ClientSecret string `yaml:"clientSecret" secret:"true"` // graph, box

	EnterpriseID      string            `yaml:"enterpriseID"`                    // box
	ServiceAccountKey string            `yaml:"serviceAccountKey" secret:"true"` // gdrive: JSON key or a path to it
	AdminEmail        string            `yaml:"adminEmail"`                      // gdrive: impersonated admin
	Domains           []string          `yaml:"domains"`                         // the organisation's own domains
	Users             []string          `yaml:"users"`                           // gdrive, onedrive
	Roots             []string          `yaml:"roots"`                           // box folder ids, fileshare paths
	Include           []string          `yaml:"include"`                         // drives/sites/users in scope
	Exclude           []string          `yaml:"exclude"`                         // drives/sites/users left out
	PrimaryKey        string            `yaml:"primaryKey" secret:"true"`        // box webhook signature key
	SecondaryKey      string            `yaml:"secondaryKey" secret:"true"`      // box webhook signature key
	LabelMode         string            `yaml:"labelMode"`                       // native, embedded, both
	LabelMap          map[string]string `yaml:"labelMap"`                        // MIP label id → provider label
	Rescan            string            `yaml:"rescan"`                          // cron override
	// EventStream is the Box event stream the change feed reads: changes (default: the
	// service account's own stream) or admin_logs_streaming (the enterprise's; needs a
	// co-admin service account and the Manage enterprise properties scope).
	EventStream string        `yaml:"eventStream"`
	EventPoll   time.Duration `yaml:"eventPoll"` // box: how often the event stream is read without a notice; default 1m
}

// Apps lists the connector apps labelgate knows.
var apps = []string{"sharepoint", "onedrive", "gdrive", "box", "fileshare"}

// Default returns the configuration used when there is no file.
func Default() Config {
	return Config{
		DataDir: defaultDataDir(),
		Log:     Log{Level: "info", Format: "auto"},
		Server:  Server{Listen: "127.0.0.1:8080", MaxBodyBytes: 1 << 20, ReadTimeout: 10 * time.Second},
		Admin:   Admin{Listen: "127.0.0.1:8081"},
		Queue:   Queue{Workers: 128, MaxAttempts: 10, Lease: 5 * time.Minute},
		Labels:  Labels{SyncInterval: time.Hour},
		Quota:   Quota{Default: 100, Manual: 50, Sharing: SharingQuota{Default: 100}},
		Console: Console{SensitivePriority: 2},
	}
}

func defaultDataDir() string {
	if d := os.Getenv("LABELGATE_DATA_DIR"); d != "" {
		return d
	}
	return "labelgate-data"
}

// Error is one configuration problem, naming the key.
type Error struct {
	Key     string
	Problem string
}

func (e Error) Error() string { return e.Key + ": " + e.Problem }

// Errors is every problem found in one configuration.
type Errors []Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Load reads path ("" = defaults only), applies environment overrides, and validates.
// The returned error is an Errors value when the content is wrong.
func Load(path string) (Config, error) {
	cfg := Default()
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		if err := decode(raw, &cfg); err != nil {
			return cfg, err
		}
	}
	applyEnv(&cfg, os.Getenv)
	if errs := cfg.Validate(); len(errs) > 0 {
		return cfg, errs
	}
	return cfg, nil
}

var (
	reUnknown = regexp.MustCompile(`line (\d+): field (\S+) not found in type (?:config|alerts)\.(\w+)`)
	reType    = regexp.MustCompile(`line (\d+): cannot unmarshal !!(\w+) ` + "`" + `?([^` + "`" + `]*)` + "`" + `? into (\S+)`)
)

// sections maps Go type names to the YAML key that holds them, so errors name keys, not types.
var sections = map[string]string{
	"Config": "", "Log": "log", "Server": "server", "Admin": "admin", "Token": "admin.tokens[]", "Store": "store",
	"Queue": "queue", "Labels": "labels", "Sinks": "alerts.sinks", "SMTPSink": "alerts.sinks.smtp", "WebhookSink": "alerts.sinks.webhooks[]", "Quota": "quota", "Sharing": "sharing", "Rescan": "rescan", "Console": "console", "Connector": "connectors[]", "TLS": "tls",
}

func decode(raw []byte, cfg *Config) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	err := dec.Decode(cfg)
	if err == nil {
		return nil
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return Errors{{Key: "(file)", Problem: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	var out Errors
	for _, msg := range te.Errors {
		if m := reUnknown.FindStringSubmatch(msg); m != nil {
			out = append(out, Error{Key: joinKey(sections[m[3]], m[2]), Problem: "unknown key (line " + m[1] + ")"})
			continue
		}
		if m := reType.FindStringSubmatch(msg); m != nil {
			out = append(out, Error{Key: "(line " + m[1] + ")", Problem: fmt.Sprintf("value %q is a %s, want %s", m[3], m[2], m[4])})
			continue
		}
		out = append(out, Error{Key: "(file)", Problem: msg})
	}
	return out
}

func joinKey(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// applyEnv lets every secret (and the common settings) come from the environment, so a
// file can be committed without them:
//
//	LABELGATE_STORE_URL, LABELGATE_ADMIN_TOKEN (an admin token), LABELGATE_VIEWER_TOKEN,
//	LABELGATE_SERVER_LISTEN, LABELGATE_ADMIN_LISTEN, LABELGATE_PUBLIC_URL, LABELGATE_DATA_DIR,
//	LABELGATE_<CONNECTOR NAME>_<FIELD> for clientSecret, serviceAccountKey, primaryKey,
//	secondaryKey (name upper-cased, non-alphanumerics as _), e.g. LABELGATE_CONTOSO_SP_CLIENTSECRET.
func applyEnv(cfg *Config, getenv func(string) string) {
	set := func(dst *string, key string) {
		if v := getenv(key); v != "" {
			*dst = v
		}
	}
	alerts.ApplyEnv(&cfg.Alerts, getenv)
	set(&cfg.Store.URL, "LABELGATE_STORE_URL")
	set(&cfg.Server.Listen, "LABELGATE_SERVER_LISTEN")
	set(&cfg.Server.PublicURL, "LABELGATE_PUBLIC_URL")
	set(&cfg.Admin.Listen, "LABELGATE_ADMIN_LISTEN")
	set(&cfg.DataDir, "LABELGATE_DATA_DIR")
	set(&cfg.Log.Level, "LABELGATE_LOG_LEVEL")
	set(&cfg.Log.Format, "LABELGATE_LOG_FORMAT")
	for role, key := range map[string]string{"admin": "LABELGATE_ADMIN_TOKEN", "viewer": "LABELGATE_VIEWER_TOKEN"} {
		if v := getenv(key); v != "" {
			cfg.Admin.Tokens = append(cfg.Admin.Tokens, Token{Name: "env-" + role, Role: role, Token: v})
		}
	}
	for i := range cfg.Connectors {
		c := &cfg.Connectors[i]
		p := "LABELGATE_" + EnvName(c.Name) + "_"
		set(&c.ClientSecret, p+"CLIENTSECRET")
		set(&c.ServiceAccountKey, p+"SERVICEACCOUNTKEY")
		set(&c.PrimaryKey, p+"PRIMARYKEY")
		set(&c.SecondaryKey, p+"SECONDARYKEY")
	}
}

// EnvName turns a connector name into the part of an environment variable name.
func EnvName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(name) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Validate reports every problem, each naming its key.
func (c Config) Validate() Errors {
	var es Errors
	bad := func(key, format string, args ...any) {
		es = append(es, Error{Key: key, Problem: fmt.Sprintf(format, args...)})
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "unknown level %q (want debug, info, warn or error)", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "text", "json":
	default:
		bad("log.format", "unknown format %q (want auto, text or json)", c.Log.Format)
	}
	if c.DataDir == "" {
		bad("dataDir", "must not be empty")
	}
	checkAddr := func(key, addr string) {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad(key, "not a host:port address: %q", addr)
		}
	}
	checkAddr("server.listen", c.Server.Listen)
	checkAddr("admin.listen", c.Admin.Listen)
	if c.Server.PublicURL != "" && !strings.HasPrefix(c.Server.PublicURL, "http://") && !strings.HasPrefix(c.Server.PublicURL, "https://") {
		bad("server.publicURL", "must start with http:// or https://")
	}
	if c.Server.MaxBodyBytes <= 0 || c.Server.MaxBodyBytes > 64<<20 {
		bad("server.maxBodyBytes", "must be between 1 and 67108864, got %d", c.Server.MaxBodyBytes)
	}
	checkTLS := func(key string, t TLS) {
		if (t.CertFile == "") != (t.KeyFile == "") {
			bad(key, "certFile and keyFile go together")
		}
	}
	checkTLS("server.tls", c.Server.TLS)
	checkTLS("admin.tls", c.Admin.TLS)
	for i, t := range c.Admin.Tokens {
		key := fmt.Sprintf("admin.tokens[%d]", i)
		if t.Role != "viewer" && t.Role != "admin" {
			bad(key+".role", "unknown role %q (want viewer or admin)", t.Role)
		}
		if (t.Token == "") == (t.SHA256 == "") {
			bad(key, "set exactly one of token and sha256")
		}
		if t.Token != "" && len(t.Token) < 16 {
			bad(key+".token", "too short: use at least 16 characters")
		}
		if t.SHA256 != "" && !regexp.MustCompile(`^[0-9a-fA-F]{64}$`).MatchString(t.SHA256) {
			bad(key+".sha256", "must be 64 hex digits")
		}
	}
	if u := c.Store.URL; u != "" && !strings.HasPrefix(u, "sqlite:") && !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		bad("store.url", "unsupported scheme (want postgres://… or sqlite:PATH)")
	}
	if c.Queue.Workers < 1 || c.Queue.Workers > 1024 {
		bad("queue.workers", "must be between 1 and 1024, got %d", c.Queue.Workers)
	}
	if c.Queue.MaxAttempts < 1 {
		bad("queue.maxAttempts", "must be at least 1, got %d", c.Queue.MaxAttempts)
	}
	if c.Queue.Lease < time.Second {
		bad("queue.lease", "must be at least 1s, got %s", c.Queue.Lease)
	}
	if c.Labels.SyncInterval < time.Minute {
		bad("labels.syncInterval", "must be at least 1m, got %s", c.Labels.SyncInterval)
	}
	c.Labels.Protection.validate(bad)
	if c.Quota.Default < 0 {
		bad("quota.default", "must not be negative")
	}
	if c.Quota.Manual < 0 {
		bad("quota.manual", "must not be negative")
	}
	for _, app := range sortedKeys(c.Quota.PerApp) {
		if !validApp(app) {
			bad("quota.perApp."+app, "unknown app (want one of %s)", strings.Join(apps, ", "))
		}
		if c.Quota.PerApp[app] < 0 {
			bad("quota.perApp."+app, "must not be negative")
		}
	}
	for _, k := range sortedKeys(c.Quota.PerTenant) {
		if c.Quota.PerTenant[k] < 0 {
			bad("quota.perTenant."+k, "must not be negative")
		}
	}
	if c.Quota.Sharing.Default < 0 {
		bad("quota.sharing.default", "must not be negative")
	}
	for _, app := range sortedKeys(c.Quota.Sharing.PerApp) {
		if !validApp(app) {
			bad("quota.sharing.perApp."+app, "unknown app (want one of %s)", strings.Join(apps, ", "))
		}
		if c.Quota.Sharing.PerApp[app] < 0 {
			bad("quota.sharing.perApp."+app, "must not be negative")
		}
	}
	for _, k := range sortedKeys(c.Quota.Sharing.PerTenant) {
		if c.Quota.Sharing.PerTenant[k] < 0 {
			bad("quota.sharing.perTenant."+k, "must not be negative")
		}
	}
	for _, k := range sortedKeys(c.Quota.Sharing.PerKind) {
		if !sharingKinds[k] {
			bad("quota.sharing.perKind."+k, "unknown sharing action (want removePublicLinks, removeExternalAccess, makePrivate or restoreSharing)")
		}
		if c.Quota.Sharing.PerKind[k] < 0 {
			bad("quota.sharing.perKind."+k, "must not be negative")
		}
	}
	for i, o := range c.Sharing.ExemptOwners {
		if !strings.Contains(o, "@") {
			bad(fmt.Sprintf("sharing.exemptOwners[%d]", i), "%q is not an e-mail address", o)
		}
	}
	checkCron := func(key, expr string) {
		if expr == "" {
			return
		}
		if _, err := ParseSchedule(expr); err != nil {
			bad(key, "bad cron expression %q: %v", expr, err)
		}
	}
	checkCron("rescan.schedule", c.Rescan.Schedule)
	if c.Rescan.StaleAfter < 0 {
		bad("rescan.staleAfter", "must not be negative")
	}
	if c.Rescan.SchedulerTick < 0 {
		bad("rescan.schedulerTick", "must not be negative")
	}
	if c.Console.SensitivePriority < 0 {
		bad("console.sensitivePriority", "must be 0 or more (label priorities start at 0), not %d", c.Console.SensitivePriority)
	}
	if err := c.Alerts.Validate(); err != nil {
		bad("alerts", "%v", err)
	}
	names := map[string]bool{}
	for i, cn := range c.Connectors {
		key := fmt.Sprintf("connectors[%d]", i)
		if cn.Name == "" {
			bad(key+".name", "must be set")
		} else if names[cn.Name] {
			bad(key+".name", "duplicate connector name %q", cn.Name)
		}
		names[cn.Name] = true
		if !validApp(cn.App) {
			bad(key+".app", "unknown app %q (want one of %s)", cn.App, strings.Join(apps, ", "))
		}
		if cn.Tenant == "" && cn.App != "fileshare" {
			bad(key+".tenant", "must be set")
		}
		switch cn.LabelMode {
		case "", "native", "embedded", "both":
		default:
			bad(key+".labelMode", "unknown mode %q (want native, embedded or both)", cn.LabelMode)
		}
		if cn.App == "fileshare" && len(cn.Roots) == 0 {
			bad(key+".roots", "a file share needs at least one root folder")
		}
		if cn.App == "fileshare" {
			for j, r := range cn.Roots {
				if !filepath.IsAbs(r) {
					bad(fmt.Sprintf("%s.roots[%d]", key, j), "must be an absolute path")
				}
			}
		}
		checkCron(key+".rescan", cn.Rescan)
		switch cn.EventStream {
		case "", "changes", "admin_logs_streaming":
		default:
			bad(key+".eventStream", "unknown event stream %q (want changes or admin_logs_streaming)", cn.EventStream)
		}
		if cn.EventPoll < 0 {
			bad(key+".eventPoll", "must not be negative")
		}
	}
	return es
}

// ParseSchedule parses a standard five-field cron expression (or @hourly, @daily, …).
func ParseSchedule(expr string) (cron.Schedule, error) {
	return cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor).Parse(expr)
}

func validApp(a string) bool {
	for _, x := range apps {
		if a == x {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Secrets returns every secret value in the configuration, so tests and log scrubbing can
// check none of them leaks.
func (c Config) Secrets() []string {
	var out []string
	add := func(v string) {
		if v != "" {
			out = append(out, v)
		}
	}
	add(passwordOf(c.Store.URL))
	for _, t := range c.Admin.Tokens {
		add(t.Token)
	}
	for _, w := range c.Alerts.Sinks.Webhooks {
		add(w.Secret)
	}
	if c.Alerts.Sinks.SMTP != nil {
		add(c.Alerts.Sinks.SMTP.Password)
	}
	for _, cn := range c.Connectors {
		add(cn.ClientSecret)
		add(cn.ServiceAccountKey)
		add(cn.PrimaryKey)
		add(cn.SecondaryKey)
	}
	return out
}

func passwordOf(url string) string {
	i := strings.Index(url, "://")
	at := strings.LastIndex(url, "@")
	if i < 0 || at < i {
		return ""
	}
	cred := url[i+3 : at]
	if j := strings.Index(cred, ":"); j >= 0 {
		return cred[j+1:]
	}
	return ""
}

// sharingKinds are the keys quota.sharing.perKind takes: the policy spelling or the stored one.
var sharingKinds = map[string]bool{
	"removePublicLinks": true, "removeExternalAccess": true, "makePrivate": true, "restoreSharing": true,
	"remove_public_links": true, "remove_external_access": true, "make_private": true, "restore_sharing": true,
}

// QuotaFor returns the daily apply-label limit for an app in a tenant.
func (q Quota) QuotaFor(tenant, app string) int {
	if v, ok := q.PerTenant[tenant+"/"+app]; ok {
		return v
	}
	if v, ok := q.PerTenant[tenant]; ok {
		return v
	}
	if v, ok := q.PerApp[app]; ok {
		return v
	}
	return q.Default
}
