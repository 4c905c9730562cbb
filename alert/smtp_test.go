package alert

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"dinmo/connectors"
)

const (
	smtpUser     = "alerts@example.com"
	smtpPassword = "Sup3r-Secret-SMTP-Passw0rd" //nolint:gosec // G101: a fake password the tests check never leaks
)

// testCert returns a self-signed certificate for 127.0.0.1 and localhost.
func testCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "fake smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// smtpSession is what the fake server saw in one connection.
type smtpSession struct {
	tls         bool // the session is encrypted (after STARTTLS, or implicit)
	authInClear bool // a client tried AUTH before STARTTLS
	authed      bool
	from        string
	rcpts       []string
	data        []byte
	transcript  []string // client lines, AUTH payloads elided
}

// smtpFake is a small SMTP server: EHLO/HELO, STARTTLS, AUTH PLAIN (refused before TLS),
// MAIL, RCPT, DATA, RSET, NOOP, QUIT.
type smtpFake struct {
	t        *testing.T
	ln       net.Listener
	tlsCfg   *tls.Config
	implicit bool // TLS from the first byte
	startTLS bool // offer STARTTLS
	needAuth bool
	reject   string // a recipient answered 550
	silent   bool   // accept connections and never answer
	mu       sync.Mutex
	sessions []*smtpSession
	wg       sync.WaitGroup
}

func newSMTPFake(t *testing.T, configure func(*smtpFake)) *smtpFake {
	t.Helper()
	cert := testCert(t)
	f := &smtpFake{t: t, startTLS: true, needAuth: true, tlsCfg: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	if configure != nil {
		configure(f)
	}
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if f.implicit {
		ln = tls.NewListener(ln, f.tlsCfg)
	}
	f.ln = ln
	f.wg.Go(f.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		f.wg.Wait()
	})
	return f
}

func (f *smtpFake) port() int { return tcpPort(f.ln.Addr()) }

func tcpPort(a net.Addr) int {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.Port
	}
	return 0
}

func (f *smtpFake) accept() {
	for {
		conn, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.wg.Go(func() {
			defer func() { _ = conn.Close() }()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			if f.silent {
				_, _ = io.Copy(io.Discard, conn)
				return
			}
			s := &smtpSession{tls: f.implicit}
			f.mu.Lock()
			f.sessions = append(f.sessions, s)
			f.mu.Unlock()
			f.serve(conn, s)
		})
	}
}

func (f *smtpFake) serve(conn net.Conn, s *smtpSession) {
	tp := textproto.NewConn(conn)
	reply := func(format string, args ...any) { _ = tp.PrintfLine(format, args...) }
	reply("220 fake.example.com ESMTP")
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		f.mu.Lock()
		if verb == "AUTH" {
			s.transcript = append(s.transcript, "AUTH ...")
		} else {
			s.transcript = append(s.transcript, line)
		}
		f.mu.Unlock()
		switch verb {
		case "EHLO":
			lines := []string{"fake.example.com greets " + arg}
			if f.startTLS && !s.tls {
				lines = append(lines, "STARTTLS")
			}
			if s.tls || !f.startTLS {
				lines = append(lines, "AUTH PLAIN LOGIN")
			}
			lines = append(lines, "8BITMIME", "HELP")
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				reply("250%s%s", sep, l)
			}
		case "HELO", "NOOP", "RSET":
			reply("250 ok")
		case "STARTTLS":
			if s.tls || !f.startTLS {
				reply("503 5.5.1 TLS already active or not offered")
				continue
			}
			reply("220 2.0.0 ready to start TLS")
			tc := tls.Server(conn, f.tlsCfg)
			hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := tc.HandshakeContext(hctx)
			cancel()
			if err != nil {
				return
			}
			conn, s.tls = tc, true
			tp = textproto.NewConn(tc)
			reply = func(format string, args ...any) { _ = tp.PrintfLine(format, args...) }
		case "AUTH":
			if f.startTLS && !s.tls {
				s.authInClear = true
				reply("530 5.7.0 Must issue a STARTTLS command first")
				continue
			}
			mech, initial, _ := strings.Cut(arg, " ")
			if !strings.EqualFold(mech, "PLAIN") {
				reply("504 5.5.4 mechanism not supported")
				continue
			}
			if initial == "" {
				reply("334 ")
				if initial, err = tp.ReadLine(); err != nil {
					return
				}
			}
			raw, err := base64.StdEncoding.DecodeString(initial)
			parts := strings.Split(string(raw), "\x00")
			if err != nil || len(parts) != 3 || parts[1] != smtpUser || parts[2] != smtpPassword {
				reply("535 5.7.8 Authentication credentials invalid")
				continue
			}
			s.authed = true
			reply("235 2.7.0 Authentication successful")
		case "MAIL":
			if f.needAuth && !s.authed {
				reply("530 5.7.0 Authentication required")
				continue
			}
			m := regexp.MustCompile(`(?i)^FROM:<([^>]*)>`).FindStringSubmatch(arg)
			if m == nil {
				reply("501 5.5.4 syntax: MAIL FROM:<address>")
				continue
			}
			s.from = m[1]
			reply("250 2.1.0 ok")
		case "RCPT":
			m := regexp.MustCompile(`(?i)^TO:<([^>]*)>`).FindStringSubmatch(arg)
			switch {
			case s.from == "":
				reply("503 5.5.1 MAIL first")
			case m == nil:
				reply("501 5.5.4 syntax: RCPT TO:<address>")
			case m[1] == f.reject:
				reply("550 5.1.1 <%s>: recipient unknown", m[1])
			default:
				s.rcpts = append(s.rcpts, m[1])
				reply("250 2.1.5 ok")
			}
		case "DATA":
			if len(s.rcpts) == 0 {
				reply("503 5.5.1 RCPT first")
				continue
			}
			reply("354 end data with <CR><LF>.<CR><LF>")
			// Read raw lines (ReadDotBytes would turn CRLF into LF) to check line ends.
			var data []byte
			for {
				l, err := tp.R.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data = append(data, strings.TrimPrefix(l, ".")...) // dot-unstuffing
			}
			s.data = data
			reply("250 2.0.0 queued as 1234")
		case "QUIT":
			reply("221 2.0.0 bye")
			return
		default:
			reply("502 5.5.2 command not recognized")
		}
	}
}

func (f *smtpFake) only(t *testing.T) *smtpSession {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(f.sessions))
	}
	return f.sessions[0]
}

// smtpConfig returns a configuration for the fake that trusts its certificate.
func smtpConfig(f *smtpFake) SMTPConfig {
	trusted := x509.NewCertPool()
	trusted.AddCert(f.tlsCfg.Certificates[0].Leaf)
	return SMTPConfig{
		Host: "127.0.0.1", Port: f.port(), Username: smtpUser, Password: smtpPassword,
		From: "dinmo alerts <alerts@example.com>", To: []string{"data-team@example.com", "Oncall <oncall@example.com>"},
		TLSConfig: &tls.Config{RootCAs: trusted, MinVersion: tls.VersionTLS12}, Timeout: 5 * time.Second,
	}
}

func TestSMTPStartTLS(t *testing.T) {
	f := newSMTPFake(t, nil)
	logger, logs := logBuffer()
	cfg := smtpConfig(f)
	cfg.Logger = logger
	s, err := NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := s.Send(context.Background(), failedEvent()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	sess := f.only(t)
	if !sess.tls || !sess.authed || sess.authInClear {
		t.Errorf("session tls=%v authed=%v authInClear=%v", sess.tls, sess.authed, sess.authInClear)
	}
	if sess.from != "alerts@example.com" || strings.Join(sess.rcpts, ",") != "data-team@example.com,oncall@example.com" {
		t.Errorf("envelope from %q to %q", sess.from, sess.rcpts)
	}
	// The order of the conversation: STARTTLS before AUTH, and EHLO again after it.
	var verbs []string
	for _, l := range sess.transcript {
		v, _, _ := strings.Cut(l, " ")
		verbs = append(verbs, strings.ToUpper(v))
	}
	if got := strings.Join(verbs, " "); got != "EHLO STARTTLS EHLO AUTH MAIL RCPT RCPT DATA QUIT" {
		t.Errorf("conversation %q", got)
	}

	msg, err := mail.ReadMessage(bytes.NewReader(sess.data))
	if err != nil {
		t.Fatalf("the message does not parse: %v\n%s", err, sess.data)
	}
	h := msg.Header
	date, err := h.Date()
	if err != nil || date.Before(before.Add(-time.Second)) || date.After(time.Now().Add(time.Second)) {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	checks := map[string]string{
		"From":                      `"dinmo alerts" <alerts@example.com>`,
		"To":                        `<data-team@example.com>, "Oncall" <oncall@example.com>`,
		"Subject":                   "[dinmo] shop/loyal-to-crm failed: credentials",
		"Mime-Version":              "1.0",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable",
		"Auto-Submitted":            "auto-generated",
		"X-Dinmo-Event":             "run_failed",
	}
	for name, want := range checks {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if id := h.Get("Message-Id"); !regexp.MustCompile(`^<[0-9a-f]{24}\.[0-9]+@example\.com>$`).MatchString(id) {
		t.Errorf("Message-ID %q", id)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	if bare := regexp.MustCompile(`[^\r]\n`).Find(sess.data); bare != nil {
		t.Errorf("the message has a bare LF line end: %q", bare)
	}
	for _, want := range []string{
		"shop/loyal-to-crm failed: credentials\r\n\r\n",
		"Workspace: shop\r\n", "Activation: loyal-to-crm\r\n", "Run: run-42\r\n", "Category: credentials\r\n",
		"At: 2025-03-14 09:30:00 UTC\r\n", "Error: HTTP 401: invalid api key\r\n",
		"Rows: evaluated 1000, added 10, changed 3, rejected 2, zeta 1\r\n", "Link: https://ops.example.com/runs/run-42\r\n",
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	auth := base64.StdEncoding.EncodeToString([]byte("\x00" + smtpUser + "\x00" + smtpPassword))
	for _, leak := range []string{smtpPassword, auth} {
		if bytes.Contains(sess.data, []byte(leak)) || strings.Contains(logs.String(), leak) {
			t.Errorf("secret %q leaked into the message or logs", leak)
		}
	}
	if !strings.Contains(logs.String(), "smtp delivery") {
		t.Errorf("no delivery log: %s", logs)
	}
}

func TestSMTPImplicitTLS(t *testing.T) {
	f := newSMTPFake(t, func(f *smtpFake) { f.implicit, f.startTLS = true, false })
	cfg := smtpConfig(f)
	cfg.TLS = TLSImplicit
	s, err := NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), Event{Kind: KindActivationResumed, Workspace: "shop", Activation: "a"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	sess := f.only(t)
	if !sess.tls || !sess.authed || len(sess.data) == 0 {
		t.Errorf("session %+v", sess)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(sess.data))
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get("Subject"); got != "[dinmo] shop/a resumed" {
		t.Errorf("Subject %q", got)
	}
}

func TestSMTPNonASCIIAndHeaderInjection(t *testing.T) {
	f := newSMTPFake(t, nil)
	s, err := NewSMTP(smtpConfig(f))
	if err != nil {
		t.Fatal(err)
	}
	ev := Event{Kind: KindRunWarning, Workspace: "boutique", Activation: "café-fidèle\r\nBcc: evil@example.com", Message: "ligne 1\nligne 2 é"}
	if err := s.Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	sess := f.only(t)
	if len(sess.rcpts) != 2 {
		t.Errorf("recipients %v", sess.rcpts)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(sess.data))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get("Bcc") != "" {
		t.Error("a Bcc header was injected")
	}
	raw := msg.Header.Get("Subject")
	subject, err := new(mime.WordDecoder).DecodeHeader(raw)
	if err != nil || subject != "[dinmo] boutique/café-fidèle  Bcc: evil@example.com succeeded with warnings" || !strings.HasPrefix(raw, "=?utf-8?q?") {
		t.Errorf("Subject %q decodes to %q (%v)", raw, subject, err)
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if !bytes.Contains(body, []byte("Warnings: ligne 1\r\n    ligne 2 é\r\n")) {
		t.Errorf("body:\n%s", body)
	}
}

func TestSMTPFailures(t *testing.T) {
	tests := []struct {
		name      string
		fake      func(*smtpFake)
		cfg       func(*SMTPConfig)
		category  connectors.Category
		retryable bool
		contains  string
		check     func(*testing.T, *smtpFake)
	}{
		{"no STARTTLS offered: nothing sent in clear", func(f *smtpFake) { f.startTLS = false }, nil,
			connectors.CategoryConfiguration, false, "does not offer STARTTLS",
			func(t *testing.T, f *smtpFake) {
				s := f.only(t)
				if s.authed || s.authInClear || s.from != "" || len(s.transcript) != 1 {
					t.Errorf("the client went on in clear: %q", s.transcript)
				}
			}},
		{"wrong password", nil, func(c *SMTPConfig) { c.Password = "wrong-" + smtpPassword },
			connectors.CategoryCredentials, false, "535 5.7.8 Authentication credentials invalid", nil},
		{"untrusted certificate", nil, func(c *SMTPConfig) { c.TLSConfig = nil },
			connectors.CategoryConfiguration, false, "certificate", func(t *testing.T, f *smtpFake) {
				if s := f.only(t); s.authed || s.authInClear {
					t.Error("credentials were sent")
				}
			}},
		{"recipient refused", func(f *smtpFake) { f.reject = "oncall@example.com" }, nil,
			connectors.CategoryConfiguration, false, "RCPT TO oncall@example.com: 550 5.1.1 <oncall@example.com>: recipient unknown", nil},
		{"authentication required but not configured", nil, func(c *SMTPConfig) { c.Username, c.Password = "", "" },
			connectors.CategoryCredentials, false, "MAIL FROM: 530 5.7.0 Authentication required", nil},
		{"server silent", func(f *smtpFake) { f.silent = true }, func(c *SMTPConfig) { c.Timeout = 300 * time.Millisecond },
			connectors.CategoryTimeout, true, "reading the server greeting", nil},
		{"nothing listening", nil, func(c *SMTPConfig) { c.Port = closedPort(t) },
			connectors.CategoryConnection, true, "connecting to 127.0.0.1:", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSMTPFake(t, tt.fake)
			logger, logs := logBuffer()
			cfg := smtpConfig(f)
			cfg.Logger = logger
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			s, err := NewSMTP(cfg)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			err = s.Send(context.Background(), failedEvent())
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("Send took %v", time.Since(start))
			}
			if got := connectors.CategoryOf(err); got != tt.category {
				t.Errorf("category %s, want %s: %v", got, tt.category, err)
			}
			if connectors.IsRetryable(err) != tt.retryable {
				t.Errorf("retryable %v, want %v: %v", connectors.IsRetryable(err), tt.retryable, err)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q lacks %q", err, tt.contains)
			}
			auth := base64.StdEncoding.EncodeToString([]byte("\x00" + smtpUser + "\x00" + cfg.Password))
			for _, leak := range []string{smtpPassword, auth} {
				if strings.Contains(err.Error(), leak) || strings.Contains(logs.String(), leak) {
					t.Errorf("secret leaked: %v / %s", err, logs)
				}
			}
			if tt.check != nil {
				tt.check(t, f)
			}
		})
	}
}

func closedPort(t *testing.T) int {
	ln, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := tcpPort(ln.Addr())
	_ = ln.Close()
	return port
}

func TestSMTPCancelled(t *testing.T) {
	f := newSMTPFake(t, func(f *smtpFake) { f.silent = true })
	s, err := NewSMTP(smtpConfig(f))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	if err := s.Send(ctx, failedEvent()); err == nil {
		t.Fatal("Send succeeded")
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("Send ignored cancellation for %v", time.Since(start))
	}
}

func TestSMTPPlainToLoopbackRelay(t *testing.T) {
	f := newSMTPFake(t, func(f *smtpFake) { f.startTLS, f.needAuth = false, false })
	cfg := smtpConfig(f)
	cfg.TLS, cfg.Username, cfg.Password = TLSNone, "", ""
	s, err := NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), failedEvent()); err != nil {
		t.Fatal(err)
	}
	if sess := f.only(t); sess.tls || len(sess.data) == 0 {
		t.Errorf("session %+v", sess)
	}
}

func TestSMTPConfigValidate(t *testing.T) {
	base := SMTPConfig{Host: "smtp.example.com", From: "a@example.com", To: []string{"b@example.com"}}
	tests := []struct {
		name   string
		change func(*SMTPConfig)
		want   string
	}{
		{"ok", func(*SMTPConfig) {}, ""},
		{"no host", func(c *SMTPConfig) { c.Host = "" }, "email alert: host: missing: set the SMTP server's host name"},
		{"host with port", func(c *SMTPConfig) { c.Host = "smtp.example.com:587" }, `email alert: host: "smtp.example.com:587" is not a host name: give the name or address only, and the port in port`},
		{"port", func(c *SMTPConfig) { c.Port = 70000 }, "email alert: port: 70000 is out of range 1-65535"},
		{"tls none remote", func(c *SMTPConfig) { c.TLS = TLSNone }, `email alert: tls: "none" is allowed only for a relay on this machine (localhost, 127.0.0.1); use "starttls" or "implicit"`},
		{"tls unknown", func(c *SMTPConfig) { c.TLS = "ssl" }, `email alert: tls: "ssl" is not a TLS mode: use "starttls" (default), "implicit" or "none"`},
		{"password without user", func(c *SMTPConfig) { c.Password = smtpPassword }, "email alert: username: missing: a password is set, so set the username too"},
		{"bad from", func(c *SMTPConfig) { c.From = "nobody" }, `email alert: from: "nobody" is not an email address: mail: missing '@' or angle-addr`},
		{"no recipients", func(c *SMTPConfig) { c.To = nil }, "email alert: to: missing: list at least one recipient"},
		{"bad recipient", func(c *SMTPConfig) { c.To = []string{"b@example.com", "x y"} }, `email alert: to[1]: "x y" is not an email address: mail: no angle-addr`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.change(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || err.Error() != "configuration: "+tt.want {
				t.Errorf("error %v, want %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), smtpPassword) {
				t.Error("the password leaked")
			}
			if _, err := NewSMTP(c); err == nil {
				t.Error("NewSMTP accepted it")
			}
		})
	}
}
