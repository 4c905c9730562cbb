package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"dinmo/connectors"
	"dinmo/connectors/httpx"
)

// slackTimeout bounds one webhook attempt unless the caller's options set another.
const slackTimeout = 10 * time.Second

// Slack posts alerts to a Slack incoming webhook. The webhook URL is a secret (whoever has
// it can post to the channel): it is redacted from every log line and error.
type Slack struct {
	url    string
	client *httpx.Client
}

var _ Sender = (*Slack)(nil)

// NewSlack returns a Sender posting to the incoming webhook at webhookURL (already resolved
// from its sealed or env:/file: form). opts configures the shared HTTP transport, which
// retries 429 (honouring Retry-After) and 5xx answers; the webhook's path is added to
// opts.Redact. The URL must use https, except on a loopback host (a local relay or a test).
func NewSlack(webhookURL string, opts httpx.Options) (*Slack, error) {
	if err := ValidateSlackWebhookURL(webhookURL); err != nil {
		return nil, err
	}
	u, _ := url.Parse(webhookURL)
	opts.Redact = append(slicesClone(opts.Redact), webhookURL, u.Path, u.RawQuery, lastSegment(u.Path))
	if opts.Timeout == 0 {
		opts.Timeout = slackTimeout
	}
	return &Slack{url: webhookURL, client: httpx.New(opts)}, nil
}

// ValidateSlackWebhookURL checks the form of a webhook URL without ever echoing it (it is a
// secret): an absolute https URL, or http on a loopback host.
func ValidateSlackWebhookURL(webhookURL string) error {
	u, err := url.Parse(webhookURL)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return connectors.Permanent(connectors.CategoryConfiguration,
			errors.New("slack alert: the webhook URL is not an absolute URL: copy it from the Slack app's Incoming Webhooks page (https://hooks.slack.com/services/...)"))
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return connectors.Permanent(connectors.CategoryConfiguration,
			errors.New("slack alert: the webhook URL must use https"))
	}
	if u.User != nil {
		return connectors.Permanent(connectors.CategoryConfiguration,
			errors.New("slack alert: the webhook URL must not contain a user name or password"))
	}
	return nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func lastSegment(p string) string {
	p = strings.TrimRight(p, "/")
	seg := p[strings.LastIndex(p, "/")+1:]
	if len(seg) < 8 { // too short to be a token; redacting it would blank ordinary words
		return ""
	}
	return seg
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// Send posts the event. Slack answers 200 "ok"; 4xx answers (invalid_payload, no_service,
// channel_not_found...) are permanent configuration errors; 429 and 5xx are retried by the
// transport and end as retryable errors when retries run out.
func (s *Slack) Send(ctx context.Context, ev Event) error {
	body, err := json.Marshal(slackPayload(render(ev)))
	if err != nil {
		return connectors.Permanent(connectors.CategoryInternal, fmt.Errorf("slack alert: encoding the message: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return connectors.Permanent(connectors.CategoryConfiguration, errors.New("slack alert: building the request failed: check the webhook URL"))
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := s.client.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("slack alert: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if err := httpx.Classify(resp.StatusCode, []byte(s.client.Redact(string(answer)))); err != nil {
		return fmt.Errorf("slack alert: the webhook refused the message (check that the webhook and its channel still exist): %w", err)
	}
	return nil
}

// CloseIdleConnections releases kept-alive connections (call when the workspace's alert
// configuration is replaced).
func (s *Slack) CloseIdleConnections() { s.client.CloseIdleConnections() }

// Slack Block Kit limits.
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
)

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

// slackPayload builds {"text": ..., "blocks": [header, section, context?]}. text is the
// plain fallback shown in notifications; blocks carry the formatted message.
func slackPayload(r rendered) slackMessage {
	var plain, md strings.Builder
	plain.WriteString(r.title)
	for _, f := range r.lines {
		if f.label == "Link" {
			continue
		}
		fmt.Fprintf(&plain, "\n%s: %s", f.label, f.value)
		value := slackEscape(f.value)
		if strings.Contains(f.value, "\n") || f.label == "Error" || f.label == "Warnings" || f.label == "Reason" {
			value = "```" + strings.ReplaceAll(value, "```", "'''") + "```"
		}
		fmt.Fprintf(&md, "*%s:* %s\n", f.label, value)
	}
	msg := slackMessage{
		Text: truncate(plain.String(), slackSectionMax),
		Blocks: []slackBlock{
			{Type: "header", Text: &slackText{Type: "plain_text", Text: truncate(r.title, slackHeaderMax-1)}},
			{Type: "section", Text: &slackText{Type: "mrkdwn", Text: truncate(strings.TrimSpace(md.String()), slackSectionMax-1)}},
		},
	}
	if r.link != "" {
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: "<" + slackEscape(r.link) + "|Open the run>"}}})
	}
	return msg
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
