package alert

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"dinmo/connectors/httpx"
)

// Settings is a workspace's alert configuration as the catalog stores it (JSON). The secret
// fields (slack.webhook_url, email.password) hold sealed values ("enc:v1:...") or references
// ("env:NAME", "file:PATH"), never plain text; Build resolves them.
//
//	{
//	  "slack": {"webhook_url": "enc:v1:..."},
//	  "email": {"host": "smtp.example.com", "port": 587, "username": "alerts",
//	            "password": "env:SMTP_PASSWORD", "from": "dinmo <alerts@example.com>",
//	            "to": ["data-team@example.com"], "tls": "starttls"},
//	  "repeat": "24h"
//	}
type Settings struct {
	Slack *SlackSettings `json:"slack,omitempty"`
	Email *EmailSettings `json:"email,omitempty"`
	// Repeat is how often an ongoing problem is alerted again (a Go duration, default 24h;
	// "never" alerts each problem once, then its recovery).
	Repeat string `json:"repeat,omitempty"`
}

// SlackSettings configures a Slack incoming webhook.
type SlackSettings struct {
	// WebhookURL is secret: sealed or a reference.
	WebhookURL string `json:"webhook_url"`
}

// EmailSettings configures email over SMTP.
type EmailSettings struct {
	Host     string `json:"host"`
	Port     int    `json:"port,omitempty"` // default 587, or 465 with tls = implicit
	Username string `json:"username,omitempty"`
	// Password is secret: sealed or a reference.
	Password string   `json:"password,omitempty"`
	From     string   `json:"from"`
	To       []string `json:"to"`
	// TLS is "starttls" (default), "implicit" or "none" (loopback relays only).
	TLS string `json:"tls,omitempty"`
}

// Enabled reports whether any channel is configured.
func (s Settings) Enabled() bool { return s.Slack != nil || s.Email != nil }

// RepeatInterval returns the configured repeat interval for DedupOptions.Repeat: 0 (the
// default, 24h) when unset, negative for "never".
func (s Settings) RepeatInterval() (time.Duration, error) {
	switch s.Repeat {
	case "":
		return 0, nil
	case "never":
		return -1, nil
	}
	d, err := time.ParseDuration(s.Repeat)
	if err != nil || d < time.Minute {
		return 0, fmt.Errorf(`alerts.repeat: %q is not a duration of at least 1m: use a value such as "24h" or "6h", or "never"`, s.Repeat)
	}
	return d, nil
}

// Validate checks the settings' form without resolving secrets (the provider calls it before
// storing; secret fields are checked for presence only). Errors name the field.
func (s Settings) Validate() error {
	var errs []error
	if _, err := s.RepeatInterval(); err != nil {
		errs = append(errs, err)
	}
	if s.Slack != nil && s.Slack.WebhookURL == "" {
		errs = append(errs, errors.New("alerts.slack.webhook_url: missing: set the incoming webhook URL (https://hooks.slack.com/services/...)"))
	}
	if s.Email != nil {
		cfg := s.Email.config("")
		if s.Email.Password != "" {
			cfg.Password = "x" // presence only: the stored form is sealed or a reference
		}
		for _, p := range cfg.problems() {
			errs = append(errs, fmt.Errorf("alerts.email.%s: %s", p.field, p.problem))
		}
	}
	return errors.Join(errs...)
}

func (e *EmailSettings) config(password string) SMTPConfig {
	return SMTPConfig{Host: e.Host, Port: e.Port, Username: e.Username, Password: password, From: e.From, To: e.To, TLS: e.TLS}
}

// BuildOptions carries what Build needs besides the stored settings.
type BuildOptions struct {
	// Resolve turns a stored secret (sealed value or reference) into plain text, typically
	// (*secrets.Sealer).Resolve. Required when a secret field is set.
	Resolve func(stored string) (string, error)
	// Logger is passed to the senders (debug records without secrets).
	Logger *slog.Logger
	// HTTP configures the Slack sender's transport (timeouts, retries, a test transport).
	HTTP httpx.Options
	// TLSConfig is the base TLS configuration of the SMTP sender (a private CA).
	TLSConfig *tls.Config
	// SMTPTimeout bounds one email delivery (default 30s).
	SMTPTimeout time.Duration
}

// Build resolves the secrets and returns the workspace's Sender (Multi of the configured
// channels), or nil when no channel is configured. Resolution errors name the field and never
// contain the secret.
func (s Settings) Build(opts BuildOptions) (Sender, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	resolve := func(field, stored string) (string, error) {
		if stored == "" {
			return "", nil
		}
		if opts.Resolve == nil {
			return "", fmt.Errorf("%s: no secret resolver configured", field)
		}
		v, err := opts.Resolve(stored)
		if err != nil {
			return "", fmt.Errorf("%s: %w", field, err)
		}
		return v, nil
	}
	var senders []Sender
	if s.Slack != nil {
		url, err := resolve("alerts.slack.webhook_url", s.Slack.WebhookURL)
		if err != nil {
			return nil, err
		}
		httpOpts := opts.HTTP
		if httpOpts.Logger == nil {
			httpOpts.Logger = opts.Logger
		}
		sl, err := NewSlack(url, httpOpts)
		if err != nil {
			return nil, fmt.Errorf("alerts.slack.webhook_url: %w", err)
		}
		senders = append(senders, sl)
	}
	if s.Email != nil {
		pw, err := resolve("alerts.email.password", s.Email.Password)
		if err != nil {
			return nil, err
		}
		cfg := s.Email.config(pw)
		cfg.TLSConfig, cfg.Logger, cfg.Timeout = opts.TLSConfig, opts.Logger, opts.SMTPTimeout
		em, err := NewSMTP(cfg)
		if err != nil {
			return nil, err
		}
		senders = append(senders, em)
	}
	if len(senders) == 0 {
		return nil, nil
	}
	return Multi(senders...), nil
}
