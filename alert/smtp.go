package alert

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"dinmo/connectors"
)

// TLS modes of an SMTP connection.
const (
	// TLSStartTLS connects in clear and upgrades with STARTTLS before anything else is sent;
	// a server that does not offer it is refused. The default (port 587).
	TLSStartTLS = "starttls"
	// TLSImplicit speaks TLS from the first byte (SMTPS, port 465).
	TLSImplicit = "implicit"
	// TLSNone sends in clear; allowed only to a loopback host (a local relay).
	TLSNone = "none"
)

// Default SMTP settings.
const (
	DefaultSMTPPort         = 587
	DefaultSMTPImplicitPort = 465
	DefaultSMTPTimeout      = 30 * time.Second
)

// SMTPConfig is a resolved email configuration: the password is plain text here and must
// come from a sealed value or an env:/file: reference.
type SMTPConfig struct {
	Host string
	// Port defaults to 587 (STARTTLS) or 465 (implicit TLS).
	Port int
	// Username and Password authenticate with AUTH PLAIN, only over TLS (or to a loopback
	// relay with TLSNone). An empty Username sends without authenticating.
	Username string
	Password string
	// From is the sender address ("dinmo <alerts@example.com>" or "alerts@example.com").
	From string
	// To lists the recipients.
	To []string
	// TLS is TLSStartTLS (default), TLSImplicit or TLSNone.
	TLS string
	// TLSConfig, when set, is the base TLS configuration (RootCAs for a private CA);
	// ServerName defaults to Host and MinVersion to TLS 1.2.
	TLSConfig *tls.Config
	// LocalName is the name sent with EHLO (default "localhost").
	LocalName string
	// Timeout bounds a whole delivery: connecting, TLS, authentication and the message.
	Timeout time.Duration
	// Logger receives one debug record per delivery (never credentials or message text).
	Logger *slog.Logger
}

// Validate checks the configuration's form; the error names the field at fault.
func (c SMTPConfig) Validate() error {
	var errs []error
	for _, p := range c.problems() {
		errs = append(errs, fmt.Errorf("email alert: %s: %s", p.field, p.problem))
	}
	if len(errs) == 0 {
		return nil
	}
	return connectors.Permanent(connectors.CategoryConfiguration, errors.Join(errs...))
}

type fieldProblem struct{ field, problem string }

func (c SMTPConfig) problems() []fieldProblem {
	var out []fieldProblem
	fail := func(field, format string, args ...any) {
		out = append(out, fieldProblem{field, fmt.Sprintf(format, args...)})
	}
	switch {
	case strings.TrimSpace(c.Host) == "":
		fail("host", "missing: set the SMTP server's host name")
	case strings.ContainsAny(c.Host, " /:@\r\n") && net.ParseIP(c.Host) == nil:
		fail("host", "%q is not a host name: give the name or address only, and the port in port", c.Host)
	}
	if c.Port < 0 || c.Port > 65535 {
		fail("port", "%d is out of range 1-65535", c.Port)
	}
	switch c.TLS {
	case "", TLSStartTLS, TLSImplicit:
	case TLSNone:
		if !isLoopback(c.Host) {
			fail("tls", "%q is allowed only for a relay on this machine (localhost, 127.0.0.1); use %q or %q", TLSNone, TLSStartTLS, TLSImplicit)
		}
	default:
		fail("tls", "%q is not a TLS mode: use %q (default), %q or %q", c.TLS, TLSStartTLS, TLSImplicit, TLSNone)
	}
	if c.Username == "" && c.Password != "" {
		fail("username", "missing: a password is set, so set the username too")
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		fail("from", "%q is not an email address: %v", c.From, err)
	}
	if len(c.To) == 0 {
		fail("to", "missing: list at least one recipient")
	}
	for i, to := range c.To {
		if _, err := mail.ParseAddress(to); err != nil {
			fail(fmt.Sprintf("to[%d]", i), "%q is not an email address: %v", to, err)
		}
	}
	return out
}

// SMTP sends alerts as plain-text email.
type SMTP struct {
	cfg  SMTPConfig
	from *mail.Address
	to   []*mail.Address
	addr string
	// secrets are the strings scrubbed from errors: the password and the AUTH PLAIN blob.
	secrets *strings.Replacer
	logger  *slog.Logger
}

var _ Sender = (*SMTP)(nil)

// NewSMTP returns a Sender delivering through cfg's server. Each Send opens one connection
// (alerts are rare): connect, EHLO, STARTTLS (required unless implicit TLS), AUTH PLAIN,
// MAIL, RCPT, DATA, QUIT. There are no retries inside Send; a transient failure (network,
// 4xx reply) comes back as a retryable error.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultSMTPPort
		if cfg.TLS == TLSImplicit {
			cfg.Port = DefaultSMTPImplicitPort
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultSMTPTimeout
	}
	if cfg.LocalName == "" {
		cfg.LocalName = "localhost"
	}
	s := &SMTP{cfg: cfg, addr: net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)), logger: cfg.Logger}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	s.from, _ = mail.ParseAddress(cfg.From)
	for _, to := range cfg.To {
		a, _ := mail.ParseAddress(to)
		s.to = append(s.to, a)
	}
	if cfg.Password != "" {
		blob := base64.StdEncoding.EncodeToString([]byte("\x00" + cfg.Username + "\x00" + cfg.Password))
		s.secrets = strings.NewReplacer(blob, "REDACTED", cfg.Password, "REDACTED")
	}
	return s, nil
}

// Send delivers the event to every recipient.
func (s *SMTP) Send(ctx context.Context, ev Event) error {
	start := time.Now()
	msg, err := s.compose(ev, start)
	if err != nil {
		return connectors.Permanent(connectors.CategoryInternal, fmt.Errorf("email alert: composing the message: %w", err))
	}
	err = s.deliver(ctx, msg)
	attrs := []any{"host", s.cfg.Host, "port", s.cfg.Port, "tls", s.cfg.TLS, "recipients", len(s.to), "duration", time.Since(start)}
	if err != nil {
		s.logger.Debug("smtp delivery failed", append(attrs, "error", err.Error())...)
		return err
	}
	s.logger.Debug("smtp delivery", attrs...)
	return nil
}

// deliver runs one SMTP session.
func (s *SMTP) deliver(ctx context.Context, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	tlsCfg := s.tlsConfig()
	var conn net.Conn
	var err error
	if s.cfg.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{NetDialer: &net.Dialer{}, Config: tlsCfg}).DialContext(ctx, "tcp", s.addr)
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return s.fail(ctx, "connecting to "+s.addr, err)
	}
	// Bound the whole session, and abort it when ctx ends.
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		_ = conn.Close()
		return s.fail(ctx, "reading the server greeting", err)
	}
	defer func() { _ = c.Close() }()
	if err := c.Hello(s.cfg.LocalName); err != nil {
		return s.fail(ctx, "EHLO", err)
	}
	if s.cfg.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return connectors.Permanent(connectors.CategoryConfiguration, fmt.Errorf(
				"email alert: %s does not offer STARTTLS, and dinmo does not send mail or credentials in clear: use tls = %q if the server speaks TLS on connect (port 465)", s.addr, TLSImplicit))
		}
		if err := c.StartTLS(tlsCfg); err != nil {
			return s.fail(ctx, "STARTTLS", err)
		}
	}
	if s.cfg.Username != "" {
		if ok, mechs := c.Extension("AUTH"); !ok || !hasMechanism(mechs, "PLAIN") {
			return connectors.Permanent(connectors.CategoryConfiguration, fmt.Errorf(
				"email alert: %s does not offer AUTH PLAIN (it offers %q): remove username and password if it needs no authentication", s.addr, mechs))
		}
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			return s.fail(ctx, "authenticating as "+s.cfg.Username, err)
		}
	}
	if err := c.Mail(s.from.Address); err != nil {
		return s.fail(ctx, "MAIL FROM", err)
	}
	for _, to := range s.to {
		if err := c.Rcpt(to.Address); err != nil {
			return s.fail(ctx, "RCPT TO "+to.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return s.fail(ctx, "DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return s.fail(ctx, "sending the message", err)
	}
	if err := w.Close(); err != nil {
		return s.fail(ctx, "ending the message", err)
	}
	if err := c.Quit(); err != nil {
		// The message was accepted with the DATA reply; a failed QUIT loses nothing.
		s.logger.Debug("smtp QUIT failed after the message was accepted", "error", s.redact(err.Error()))
	}
	return nil
}

func (s *SMTP) tlsConfig() *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.cfg.TLSConfig != nil {
		cfg = s.cfg.TLSConfig.Clone()
		if cfg.MinVersion == 0 {
			cfg.MinVersion = tls.VersionTLS12
		}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = s.cfg.Host
	}
	return cfg
}

func hasMechanism(list, mech string) bool {
	for m := range strings.FieldsSeq(list) {
		if strings.EqualFold(m, mech) {
			return true
		}
	}
	return false
}

// fail classifies an SMTP failure: 535 and other authentication replies → credentials;
// other 5xx replies → configuration; 4xx replies, network errors → retryable; certificate
// problems → configuration; timeouts → timeout. The text is scrubbed of the password.
func (s *SMTP) fail(ctx context.Context, step string, err error) error {
	var tpErr *textproto.Error
	text := err.Error()
	if errors.As(err, &tpErr) {
		text = fmt.Sprintf("%03d %s", tpErr.Code, tpErr.Msg)
	}
	msg := fmt.Sprintf("email alert: %s: %s", step, s.redact(text))
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var netErr net.Error
	switch {
	case errors.As(err, &tpErr):
		switch {
		case tpErr.Code == 530 || tpErr.Code == 534 || tpErr.Code == 535 || tpErr.Code == 538:
			return connectors.Permanent(connectors.CategoryCredentials, errors.New(msg+": check username and password"))
		case tpErr.Code >= 500:
			return connectors.Permanent(connectors.CategoryConfiguration, errors.New(msg))
		default:
			return connectors.Retryable(connectors.CategoryConnection, errors.New(msg))
		}
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr):
		return connectors.Permanent(connectors.CategoryConfiguration, errors.New(msg+": the server's certificate is not trusted for this host"))
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		// The session's deadline passed or the caller cancelled (the connection was closed).
		return connectors.Retryable(connectors.CategoryTimeout, errors.New(msg))
	case step == "authenticating as "+s.cfg.Username:
		// net/smtp refuses PLAIN without TLS or with a mismatched host before sending.
		return connectors.Permanent(connectors.CategoryConfiguration, errors.New(msg))
	default:
		return connectors.Retryable(connectors.CategoryConnection, errors.New(msg))
	}
}

func (s *SMTP) redact(text string) string {
	if s.secrets == nil {
		return text
	}
	return s.secrets.Replace(text)
}

// compose writes the message: headers (Date, From, To, Subject, Message-ID, MIME-Version,
// Content-Type, Content-Transfer-Encoding, Auto-Submitted) and a quoted-printable UTF-8
// plain-text body, with CRLF line ends.
func (s *SMTP) compose(ev Event, now time.Time) ([]byte, error) {
	r := render(ev)
	id, err := messageID(s.from.Address, now)
	if err != nil {
		return nil, err
	}
	to := make([]string, len(s.to))
	for i, a := range s.to {
		to[i] = a.String()
	}
	var b bytes.Buffer
	header := func(name, value string) { fmt.Fprintf(&b, "%s: %s\r\n", name, value) }
	header("Date", now.UTC().Format(time.RFC1123Z))
	header("From", s.from.String())
	header("To", strings.Join(to, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", "[dinmo] "+r.title))
	header("Message-ID", id)
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated") // RFC 3834: no vacation replies
	header("X-Dinmo-Event", string(ev.Kind))
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	var body strings.Builder
	body.WriteString(r.title + "\r\n\r\n")
	for _, f := range r.lines {
		value := strings.ReplaceAll(strings.ReplaceAll(f.value, "\r\n", "\n"), "\n", "\r\n    ")
		body.WriteString(f.label + ": " + value + "\r\n")
	}
	body.WriteString("\r\n-- \r\nSent by dinmo-runner. Alerts about the same problem repeat at most once per repeat interval; a recovery is always reported.\r\n")
	if _, err := qp.Write([]byte(body.String())); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// messageID returns "<random.unixnano@domain>", the domain taken from the sender address.
func messageID(from string, now time.Time) (string, error) {
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	domain := "dinmo.invalid"
	if at := strings.LastIndex(from, "@"); at >= 0 && at < len(from)-1 {
		domain = from[at+1:]
	}
	return fmt.Sprintf("<%s.%d@%s>", hex.EncodeToString(rnd[:]), now.UnixNano(), domain), nil
}
