// Package graph provides the SharePoint and OneDrive connectors on Microsoft Graph, sharing
// one core: client-credentials auth, the SDK request adapter, error classification, walks,
// delta feeds, ranged reads, sensitivity labels, uploads and change subscriptions.
package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	khttp "github.com/microsoft/kiota-http-go"
	kjson "github.com/microsoft/kiota-serialization-json-go"
	ktext "github.com/microsoft/kiota-serialization-text-go"
	"github.com/microsoftgraph/msgraph-sdk-go/drives"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/security"
	"github.com/microsoftgraph/msgraph-sdk-go/sites"
	"github.com/microsoftgraph/msgraph-sdk-go/subscriptions"
	"github.com/microsoftgraph/msgraph-sdk-go/users"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/connectors/provmetrics"
)

// Compile-time checks of the capabilities both connectors offer.
var (
	_ connectors.Connector           = (*Conn)(nil)
	_ connectors.Labeler             = (*Conn)(nil)
	_ connectors.Uploader            = (*Conn)(nil)
	_ connectors.ConditionalUploader = (*Conn)(nil)
	_ connectors.Subscriber          = (*Conn)(nil)
	_ connectors.WebhookReceiver     = (*Conn)(nil)
)

// Defaults for the public cloud.
const (
	DefaultBaseURL = "https://graph.microsoft.com/v1.0"
	DefaultAuthURL = "https://login.microsoftonline.com"
	graphScope     = "https://graph.microsoft.com/.default"
)

// Config configures a SharePoint or OneDrive connector.
type Config struct {
	TenantID     string
	ClientID     string
	ClientSecret string
	// TokenSource overrides client credentials (tests, managed identities). When neither is
	// set, requests go out without a token (emulator only).
	TokenSource oauth2.TokenSource
	BaseURL     string // Graph base, default DefaultBaseURL; an emulator's "http://127.0.0.1:PORT/v1.0"
	AuthURL     string // login host, default DefaultAuthURL; token URL is AuthURL/{tenant}/oauth2/v2.0/token
	// HTTPClient supplies the transport for API calls, downloads and monitor polls.
	HTTPClient *http.Client
	// Domains are the tenant's verified domains; grants to other domains count as external.
	Domains []string
	// Include and Exclude scope the drives: entries match drive ids, site ids, site URLs,
	// site names and user principal names (case-insensitive). Empty Include = everything.
	Include, Exclude []string
	// Subscriptions verifies notification clientState against stored subscriptions.
	Subscriptions connectors.SubscriptionLookup
	// LifecycleURL receives lifecycle notifications; "" = the notification URL.
	LifecycleURL string
	// PageSize is $top for listings (0 = the service default).
	PageSize int
	// MonitorTimeout bounds waiting for a label assignment to complete; default 2m.
	MonitorTimeout time.Duration
	// MonitorPoll is the first wait between monitor polls when no Retry-After is sent.
	MonitorPoll time.Duration
	// UploadChunk is the upload-session fragment size (multiple of 320 KiB); default 5 MiB.
	UploadChunk int
	Logger      *slog.Logger
	Now         func() time.Time
}

// Conn is a Graph connector for one app (SharePoint or OneDrive) of one tenant.
type Conn struct {
	app     connectors.App
	cfg     Config
	log     *slog.Logger
	adapter *khttp.NetHttpRequestAdapter
	hc      *http.Client // plain client: downloads, upload fragments
	monitor *http.Client // like hc, but never follows redirects
	params  map[string]string
	// timeout bounds one SDK call (the HTTP client's timeout); call sets it (see there).
	timeout time.Duration

	catMu   sync.Mutex
	catalog map[string]connectors.Label

	// urls holds the download URLs the last walks got (urlcache.go); memory only.
	urls *urlCache
}

// NewSharePoint returns a connector for the tenant's SharePoint document libraries.
func NewSharePoint(cfg Config) (*Conn, error) { return newConn(connectors.AppSharePoint, cfg) }

// NewOneDrive returns a connector for the tenant's users' OneDrives.
func NewOneDrive(cfg Config) (*Conn, error) { return newConn(connectors.AppOneDrive, cfg) }

func newConn(app connectors.App, cfg Config) (*Conn, error) {
	if cfg.TenantID == "" {
		return nil, errors.New("graph: tenant id is required")
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	cfg.BaseURL = strings.TrimSuffix(cfg.BaseURL, "/")
	if cfg.AuthURL == "" {
		cfg.AuthURL = DefaultAuthURL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MonitorTimeout <= 0 {
		cfg.MonitorTimeout = 2 * time.Minute
	}
	if cfg.MonitorPoll <= 0 {
		cfg.MonitorPoll = time.Second
	}
	if cfg.UploadChunk <= 0 {
		cfg.UploadChunk = 16 * 320 << 10
	}
	base := cfg.HTTPClient
	if base == nil {
		base = &http.Client{Timeout: 100 * time.Second}
	}
	parent := base.Transport
	if parent == nil {
		parent = http.DefaultTransport
	}
	ts := cfg.TokenSource
	if ts == nil && cfg.ClientID != "" {
		cc := clientcredentials.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			TokenURL:     strings.TrimSuffix(cfg.AuthURL, "/") + "/" + cfg.TenantID + "/oauth2/v2.0/token",
			Scopes:       []string{graphScope},
		}
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Transport: parent, Timeout: 30 * time.Second})
		ts = oauth2.ReuseTokenSource(nil, cc.TokenSource(ctx))
	}
	// No RetryHandler and no compression: labelgate's queue and backoff decide about
	// retries, and one 429 must surface as one typed error.
	sdkClient := &http.Client{
		Transport: khttp.NewCustomTransportWithParentTransport(parent,
			khttp.NewRedirectHandler(),
			khttp.NewParametersNameDecodingHandler(),
			khttp.NewUserAgentHandler(),
			khttp.NewHeadersInspectionHandler(),
		),
		Timeout:       base.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	parse := absser.NewParseNodeFactoryRegistry()
	// kiota's JSON parse nodes, built by a faster loader (jsontree.go); kiota fills the models.
	parse.ContentTypeAssociatedFactories["application/json"] = jsonTreeFactory{}
	parse.ContentTypeAssociatedFactories["text/plain"] = ktext.NewTextParseNodeFactory()
	ser := absser.NewSerializationWriterFactoryRegistry()
	ser.ContentTypeAssociatedFactories["application/json"] = kjson.NewJsonSerializationWriterFactory()
	ser.ContentTypeAssociatedFactories["text/plain"] = ktext.NewTextSerializationWriterFactory()
	ad, err := khttp.NewNetHttpRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(&tokenAuth{ts: ts}, parse, ser, sdkClient)
	if err != nil {
		return nil, fmt.Errorf("graph: request adapter: %w", err)
	}
	ad.SetBaseUrl(cfg.BaseURL)
	return &Conn{
		app:     app,
		cfg:     cfg,
		log:     cfg.Logger.With("app", string(app), "tenant", cfg.TenantID),
		adapter: ad,
		hc:      &http.Client{Transport: parent, Timeout: base.Timeout},
		// Monitor polls must see a 303 See Other themselves: it means "done", and following
		// it would GET the driveItem without a token (the monitor URL is pre-authenticated).
		monitor: &http.Client{Transport: parent, Timeout: base.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		params:  map[string]string{"baseurl": cfg.BaseURL},
		timeout: base.Timeout,
		urls:    newURLCache(downloadURLCacheSize, downloadURLMaxAge),
	}, nil
}

// App implements connectors.Connector.
func (c *Conn) App() connectors.App { return c.app }

// Tenant implements connectors.Connector.
func (c *Conn) Tenant() string { return c.cfg.TenantID }

// tokenAuth is a kiota AuthenticationProvider over an oauth2 token source.
type tokenAuth struct{ ts oauth2.TokenSource }

func (a *tokenAuth) AuthenticateRequest(_ context.Context, req *abs.RequestInformation, _ map[string]any) error {
	if a.ts == nil {
		return nil
	}
	tok, err := a.ts.Token()
	if err != nil {
		return connectors.Errorf(connectors.KindPermission, "graph token", 0, 0, err)
	}
	req.Headers.TryAdd("Authorization", "Bearer "+tok.AccessToken)
	return nil
}

// Builders rooted at the configured base URL, without the root SDK client package.
func (c *Conn) drives() *drives.DrivesRequestBuilder {
	return drives.NewDrivesRequestBuilderInternal(c.pathParams(), c.adapter)
}
func (c *Conn) item(drive, id string) *drives.ItemItemsDriveItemItemRequestBuilder {
	return c.drives().ByDriveId(drive).Items().ByDriveItemId(id)
}
func (c *Conn) sites() *sites.SitesRequestBuilder {
	return sites.NewSitesRequestBuilderInternal(c.pathParams(), c.adapter)
}
func (c *Conn) users() *users.UsersRequestBuilder {
	return users.NewUsersRequestBuilderInternal(c.pathParams(), c.adapter)
}
func (c *Conn) subscriptions() *subscriptions.SubscriptionsRequestBuilder {
	return subscriptions.NewSubscriptionsRequestBuilderInternal(c.pathParams(), c.adapter)
}
func (c *Conn) security() *security.SecurityRequestBuilder {
	return security.NewSecurityRequestBuilderInternal(c.pathParams(), c.adapter)
}
func (c *Conn) pathParams() map[string]string {
	m := make(map[string]string, len(c.params))
	for k, v := range c.params {
		m[k] = v
	}
	return m
}

// call is the one place API calls go through: it runs fn and classifies its error.
//
// fn gets a context with the client's timeout as its deadline, cancelled when fn returns.
// kiota gives a context without a deadline one of its own, WithTimeout of the HTTP client's
// timeout, and drops its cancel function (kiota-http-go, NetHttpRequestAdapter.prepareContext),
// so each call left a context and its timer alive for that timeout (100 s by default): at a
// delta walk's thousands of permission reads a second, some 60 MB of a 140 MB live heap at
// 300,000 files, and garbage collection that grew with the rate (issue 21). Every SDK call
// reads its whole answer before it returns, so nothing outlives fn.
func (c *Conn) call(ctx context.Context, op string, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Deadline(); !ok && c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	err := fn(provmetrics.WithOp(ctx, op, provmetrics.Metadata))
	if err == nil {
		return nil
	}
	cerr := classify(op, err, c.cfg.Now())
	c.log.DebugContext(ctx, "graph call failed", "op", op, "err", cerr)
	return cerr
}

// classify maps SDK, HTTP and network errors onto connectors.Error kinds.
func classify(op string, err error, now time.Time) error {
	var ce *connectors.Error
	if errors.As(err, &ce) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return connectors.Errorf(connectors.KindTransient, op, 0, 0, err)
	}
	var api abs.ApiErrorable
	if errors.As(err, &api) {
		status := api.GetStatusCode()
		var ra time.Duration
		if h := api.GetResponseHeaders(); h != nil {
			if v := h.Get("Retry-After"); len(v) > 0 {
				ra = connectors.ParseRetryAfter(v[0], now)
			}
		}
		code := ""
		var od *odataerrors.ODataError
		if errors.As(err, &od) && od.GetErrorEscaped() != nil && od.GetErrorEscaped().GetCode() != nil {
			code = *od.GetErrorEscaped().GetCode()
			err = fmt.Errorf("%s: %s", code, od.Error())
			if m := od.GetErrorEscaped().GetMessage(); m != nil {
				err = fmt.Errorf("%s: %s", code, *m)
			}
		}
		return classifyStatus(op, status, code, ra, err)
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return connectors.Errorf(connectors.KindTransient, op, 0, 0, err)
	}
	return connectors.Errorf(connectors.KindTransient, op, 0, 0, err)
}

func classifyStatus(op string, status int, code string, ra time.Duration, err error) error {
	switch {
	case status == http.StatusPaymentRequired || strings.EqualFold(code, "paymentRequired"):
		// A metered API (assignSensitivityLabel) called before the app registration was linked
		// to an Azure subscription: only an administrator can fix that, so retrying is useless
		// (learn.microsoft.com/graph/metered-api-setup).
		return connectors.Errorf(connectors.KindNotConfigured, op, status, 0, fmt.Errorf(
			"%w (link the app registration to an Azure subscription: Microsoft.GraphServices/accounts, see README)", err))
	case status == http.StatusPreconditionFailed:
		// If-Match no longer matches: the file changed since it was read.
		return connectors.Errorf(connectors.KindChanged, op, status, 0, err)
	case status == http.StatusGone || strings.EqualFold(code, "resyncRequired") ||
		strings.EqualFold(code, "resyncChangesApplyDifferences") || strings.EqualFold(code, "resyncChangesUploadDifferences"):
		return connectors.Errorf(connectors.KindNotFound, op, status, 0, fmt.Errorf("%w: %v", connectors.ErrCursorExpired, err))
	case status == http.StatusTooManyRequests:
		return connectors.Errorf(connectors.KindThrottled, op, status, ra, err)
	case status == http.StatusServiceUnavailable && ra > 0:
		return connectors.Errorf(connectors.KindThrottled, op, status, ra, err)
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return connectors.Errorf(connectors.KindPermission, op, status, 0, err)
	case status == http.StatusLocked || lockedCode(code):
		// The code (fileDoubleKeyEncrypted, fileDecryptionNotSupported, fileDecryptionDeferred)
		// is in err's message for the operator.
		return connectors.Errorf(connectors.KindLocked, op, status, 0, err)
	}
	return connectors.Errorf(connectors.ClassifyHTTP(status), op, status, ra, err)
}
