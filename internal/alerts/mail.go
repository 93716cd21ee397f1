package alerts

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"os"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/labelgate/labelgate/internal/store"
)

const defaultAlertSubject = `[labelgate] {{.Alert.Severity}}: {{.Alert.Title}}`

const defaultAlertBody = `{{.Alert.Title}}

{{if .Alert.Message}}{{.Alert.Message}}

{{end}}Severity:  {{.Alert.Severity}}
Rule:      {{.Alert.Rule}}
{{- if .Alert.Ref.App}}
Where:     {{.Alert.Ref.App}} / {{.Alert.Ref.Tenant}}{{end}}
{{- if .Alert.Name}}
File:      {{.Alert.Path}}/{{.Alert.Name}}{{end}}
{{- if .Alert.Owner}}
Owner:     {{.Alert.Owner}}{{end}}
{{- if .Alert.Actor}}
Actor:     {{.Alert.Actor}}{{end}}
Seen:      {{.Alert.Count}} time(s), first {{.Alert.FirstAt.Format "2006-01-02 15:04 MST"}}, last {{.Alert.LastAt.Format "2006-01-02 15:04 MST"}}
Alert id:  {{.Alert.ID}}

Acknowledge with: labelgate alerts ack {{.Alert.ID}}
`

const defaultDigestSubject = `[labelgate] {{len .Notices}} {{if eq .Kind "owner"}}notice(s) about your files{{else}}alert(s){{end}}`

const defaultDigestBody = `{{if eq .Kind "owner"}}Hello,

labelgate noticed the following about files you own:
{{else}}labelgate raised the following alerts:
{{end}}
{{range .Notices}}- [{{.Severity}}] {{.Title}}{{if .Name}}: {{.Path}}/{{.Name}}{{end}}
{{- if .Message}}
  {{.Message}}{{end}}
  ({{.At.Format "2006-01-02 15:04 MST"}})
{{end}}
{{- if eq .Kind "owner"}}
If a change was not intended, please restore the file's sensitivity label or ask your
administrator for help.
{{end}}`

// mailer sends e-mail over SMTP with STARTTLS and AUTH PLAIN.
type mailer struct {
	cfg                       SMTPSink
	addr                      string
	tls                       *tls.Config
	timeout                   time.Duration
	alertSubject, alertBody   *template.Template
	digestSubject, digestBody *template.Template
}

func newMailer(cfg SMTPSink, timeout time.Duration) (*mailer, error) {
	port := cfg.Port
	if port == 0 {
		port = 587
	}
	m := &mailer{cfg: cfg, addr: net.JoinHostPort(cfg.Host, strconv.Itoa(port)), timeout: timeout,
		tls: &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("alerts.sinks.smtp.caFile: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("alerts.sinks.smtp.caFile: no PEM certificates in %s", cfg.CAFile)
		}
		m.tls.RootCAs = pool
	}
	parse := func(field, src, def string) (*template.Template, error) {
		if src == "" {
			src = def
		}
		t, err := template.New(field).Option("missingkey=error").Parse(src)
		if err != nil {
			return nil, fmt.Errorf("alerts.sinks.smtp.templates.%s: %w", field, err)
		}
		return t, nil
	}
	var err error
	if m.alertSubject, err = parse("alertSubject", cfg.Templates.AlertSubject, defaultAlertSubject); err != nil {
		return nil, err
	}
	if m.alertBody, err = parse("alertBody", cfg.Templates.AlertBody, defaultAlertBody); err != nil {
		return nil, err
	}
	if m.digestSubject, err = parse("digestSubject", cfg.Templates.DigestSubject, defaultDigestSubject); err != nil {
		return nil, err
	}
	if m.digestBody, err = parse("digestBody", cfg.Templates.DigestBody, defaultDigestBody); err != nil {
		return nil, err
	}
	return m, nil
}

// alertView and digestView are what the templates see.
type alertView struct {
	Alert store.Alert
}

type digestView struct {
	Recipient string
	Kind      string
	Notices   []store.Notice
}

func render(t *template.Template, v any) (string, error) {
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return "", permanent("template %s: %v", t.Name(), err)
	}
	return b.String(), nil
}

func (m *mailer) send(ctx context.Context, it store.OutboxItem, body WebhookBody) error {
	var subj, text string
	var err error
	if body.Alert != nil {
		v := alertView{Alert: *body.Alert}
		if subj, err = render(m.alertSubject, v); err != nil {
			return err
		}
		if text, err = render(m.alertBody, v); err != nil {
			return err
		}
	} else {
		v := digestView{Recipient: body.Recipient, Kind: body.Kind, Notices: body.Notices}
		if subj, err = render(m.digestSubject, v); err != nil {
			return err
		}
		if text, err = render(m.digestBody, v); err != nil {
			return err
		}
	}
	var to []string
	for _, r := range strings.Split(it.Recipient, ",") {
		if r = strings.TrimSpace(r); r == "" {
			continue
		}
		if _, err := mail.ParseAddress(r); err != nil {
			return permanent("recipient %q: %v", r, err)
		}
		to = append(to, r)
	}
	if len(to) == 0 {
		return permanent("no recipients")
	}
	msg, err := m.message(to, subj, text, body.SentAt, it.ID)
	if err != nil {
		return err
	}
	return m.deliver(ctx, to, msg)
}

// message builds an RFC 5322 message with a quoted-printable UTF-8 text body.
func (m *mailer) message(to []string, subject, text string, at time.Time, id int64) ([]byte, error) {
	var b bytes.Buffer
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	domain := "labelgate.invalid"
	if i := strings.LastIndex(m.cfg.From, "@"); i >= 0 {
		domain = strings.Trim(m.cfg.From[i+1:], "> ")
	}
	subject = strings.NewReplacer("\r", " ", "\n", " ").Replace(strings.TrimSpace(subject))
	fmt.Fprintf(&b, "From: %s\r\n", m.cfg.From)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(to, ", "))
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", subject))
	fmt.Fprintf(&b, "Date: %s\r\n", at.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <labelgate-%d-%s@%s>\r\n", id, hex.EncodeToString(rnd[:]), domain)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n")
	b.WriteString("Auto-Submitted: auto-generated\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(text, "\n", "\r\n"))); err != nil {
		return nil, permanent("encode: %v", err)
	}
	if err := qp.Close(); err != nil {
		return nil, permanent("encode: %v", err)
	}
	return b.Bytes(), nil
}

// deliver runs one SMTP conversation. STARTTLS is required unless configured off, and
// credentials only ever go over TLS.
func (m *mailer) deliver(ctx context.Context, to []string, msg []byte) error {
	d := net.Dialer{Timeout: m.timeout}
	conn, err := d.DialContext(ctx, "tcp", m.addr)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	deadline := time.Now().Add(m.timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, m.cfg.Host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp: %w", err)
	}
	defer c.Close()
	if err := c.Hello("labelgate"); err != nil {
		return fmt.Errorf("smtp hello: %w", err)
	}
	wantTLS := m.cfg.StartTLS == nil || *m.cfg.StartTLS
	if ok, _ := c.Extension("STARTTLS"); ok && wantTLS {
		if err := c.StartTLS(m.tls.Clone()); err != nil {
			return fmt.Errorf("smtp starttls: %w", err)
		}
	} else if wantTLS {
		return permanent("smtp: %s does not offer STARTTLS", m.addr)
	}
	if m.cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", m.cfg.Username, m.cfg.Password, m.cfg.Host)); err != nil {
			return fmt.Errorf("smtp auth: %w", err)
		}
	}
	from := m.cfg.From
	if a, err := mail.ParseAddress(from); err == nil {
		from = a.Address
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("smtp mail from: %w", err)
	}
	for _, r := range to {
		if a, err := mail.ParseAddress(r); err == nil {
			r = a.Address
		}
		if err := c.Rcpt(r); err != nil {
			return fmt.Errorf("smtp rcpt %s: %w", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp data: %w", err)
	}
	return c.Quit()
}
