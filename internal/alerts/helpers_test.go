package alerts_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/stretchr/testify/require"

	"github.com/labelgate/labelgate/connectors"
	"github.com/labelgate/labelgate/internal/alerts"
	"github.com/labelgate/labelgate/internal/store"
	"github.com/labelgate/labelgate/internal/store/storetest"
)

// clock is the fake clock shared by the store and the engine.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

const hookSecret = "whsec-test"

// receiver is a webhook endpoint that checks signatures and can fail on demand.
type receiver struct {
	t      testing.TB
	clk    *clock
	srv    *httptest.Server
	mu     sync.Mutex
	fail   []int // statuses to answer before succeeding
	hits   int
	bodies []alerts.WebhookBody
}

func newReceiver(t testing.TB, clk *clock) *receiver {
	r := &receiver{t: t, clk: clk}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		raw, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.hits++
		if err := alerts.Verify(hookSecret, req.Header, raw, r.clk.Now(), 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if len(r.fail) > 0 {
			st := r.fail[0]
			r.fail = r.fail[1:]
			http.Error(w, "try later", st)
			return
		}
		var b alerts.WebhookBody
		if err := json.Unmarshal(raw, &b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.bodies = append(r.bodies, b)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) failNext(statuses ...int) { r.mu.Lock(); r.fail = statuses; r.mu.Unlock() }

func (r *receiver) got() ([]alerts.WebhookBody, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]alerts.WebhookBody(nil), r.bodies...), r.hits
}

// mail is a message the test SMTP server accepted.
type mail struct {
	From string
	To   []string
	User string
	TLS  bool
	Data string
}

// mailbox is an in-process SMTP server with STARTTLS (self-signed) and AUTH PLAIN.
type mailbox struct {
	mu     sync.Mutex
	msgs   []mail
	addr   string
	caFile string
}

const smtpUser, smtpPass = "labelgate", "s3cret"

type session struct {
	box  *mailbox
	conn *smtp.Conn
	user string
	cur  mail
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != smtpUser || pass != smtpPass {
			return errors.New("invalid credentials")
		}
		s.user = user
		return nil
	}), nil
}
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.user == "" {
		return smtp.ErrAuthRequired
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.cur = mail{From: from, User: s.user, TLS: isTLS}
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = string(b)
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, s.cur)
	s.box.mu.Unlock()
	return nil
}
func (s *session) Reset()        { s.cur = mail{} }
func (s *session) Logout() error { return nil }

func newMailbox(t testing.TB) *mailbox {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	require.NoError(t, err)
	box := &mailbox{caFile: filepath.Join(t.TempDir(), "ca.pem")}
	require.NoError(t, os.WriteFile(box.caFile, certPEM, 0o600))
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{box: box, conn: c}, nil }))
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	box.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return box
}

func (m *mailbox) messages() []mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]mail(nil), m.msgs...)
}

func (m *mailbox) sink() *alerts.SMTPSink {
	host, port, _ := net.SplitHostPort(m.addr)
	p, _ := strconv.Atoi(port)
	return &alerts.SMTPSink{Host: host, Port: p, Username: smtpUser, Password: smtpPass, From: "labelgate <alerts@contoso.com>",
		To: []string{"ops@contoso.com"}, CAFile: m.caFile}
}

// fixture is a store on a fake clock, an engine, a webhook receiver and a JSON-lines file.
type fixture struct {
	ctx   context.Context
	st    *store.Store
	clk   *clock
	eng   *alerts.Engine
	hook  *receiver
	jsonl string
	cfg   alerts.Config
}

type fixtureOpt struct {
	backend  *storetest.Backend
	mail     *mailbox
	dead     func(context.Context) (int, error)
	tweakCfg func(*alerts.Config)
}

func setup(t testing.TB, o fixtureOpt) *fixture {
	t.Helper()
	clk := &clock{now: time.Now().UTC().Truncate(time.Second)}
	b := storetest.Backends()[0]
	if o.backend != nil {
		b = *o.backend
	}
	st := storetest.Open(t, b, func(c *store.Config) { c.Now = clk.Now })
	f := &fixture{ctx: context.Background(), st: st, clk: clk, hook: newReceiver(t, clk), jsonl: filepath.Join(t.TempDir(), "alerts.jsonl")}
	f.cfg = alerts.Config{
		Sinks: alerts.Sinks{
			Webhooks: []alerts.WebhookSink{{Name: "soc", URL: f.hook.srv.URL, Secret: hookSecret}},
			JSONL:    &alerts.JSONLSink{Path: f.jsonl},
		},
		Delivery: alerts.Delivery{InitialBackoff: 5 * time.Second, MaxBackoff: time.Minute, MaxAttempts: 4, Timeout: 5 * time.Second},
	}
	if o.mail != nil {
		f.cfg.Sinks.SMTP = o.mail.sink()
	}
	if o.tweakCfg != nil {
		o.tweakCfg(&f.cfg)
	}
	eng, err := alerts.New(f.cfg, st, alerts.Options{Logger: slog.New(slog.DiscardHandler), Now: clk.Now, DeadLetters: o.dead})
	require.NoError(t, err)
	f.eng = eng
	return f
}

func (f *fixture) tick(t testing.TB) {
	t.Helper()
	require.NoError(t, f.eng.Tick(f.ctx))
}

func (f *fixture) unresolved(t testing.TB) []store.Alert {
	t.Helper()
	p, err := f.eng.Inbox().List(f.ctx, alerts.ListFilter{Limit: 1000})
	require.NoError(t, err)
	return p.Items
}

func (f *fixture) lines(t testing.TB) []alerts.WebhookBody {
	t.Helper()
	fh, err := os.Open(f.jsonl)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(t, err)
	defer fh.Close()
	var out []alerts.WebhookBody
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		var b alerts.WebhookBody
		require.NoError(t, json.Unmarshal(sc.Bytes(), &b), sc.Text())
		out = append(out, b)
	}
	return out
}

var testRef = connectors.FileRef{App: connectors.AppSharePoint, Tenant: "contoso", Drive: "d1"}

func spFile(item, dir, name, owner string) connectors.File {
	r := testRef
	r.ItemID = item
	return connectors.File{Ref: r, Path: dir, Name: name, Size: 10, ETag: "e-" + item, Owner: owner, Access: connectors.AccessInternal}
}

// scan records a scan outcome for f with label (or none) as the scanner would.
func (f *fixture) scan(t testing.TB, file connectors.File, label string) []store.Event {
	t.Helper()
	file.ETag += "+" + label + strconv.FormatInt(f.clk.Now().UnixNano(), 36)
	evs, err := f.st.RecordScan(f.ctx, store.ScanOutcome{File: file, Type: "docx", LabelID: label, LabelTenant: file.Ref.Tenant})
	require.NoError(t, err)
	return evs
}

func rules(list []store.Alert) []string {
	var out []string
	for _, a := range list {
		out = append(out, a.Rule)
	}
	return out
}

func headerOf(data, name string) string {
	for _, line := range strings.Split(data, "\r\n") {
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ": "); ok && strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}
