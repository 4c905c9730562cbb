package alert

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"dinmo/connectors"
	"dinmo/connectors/httpx"
)

const slackToken = "XoXoSecretWebhookToken1234567890" //nolint:gosec // G101: a fake token the tests check never leaks

// slackFake is an incoming webhook: it enforces what Slack enforces (POST, a JSON body with
// a non-empty text) and answers from a script.
type slackFake struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	answers []func(http.ResponseWriter) // one per request; the last repeats
	got     []map[string]any
	bodies  [][]byte
	times   []time.Time
}

func newSlackFake(t *testing.T, answers ...func(http.ResponseWriter)) *slackFake {
	f := &slackFake{t: t, answers: answers}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *slackFake) url() string { return f.srv.URL + "/services/T0001/B0001/" + slackToken }

func (f *slackFake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.times = append(f.times, time.Now())
	if r.Method != http.MethodPost {
		f.t.Errorf("method %s, want POST", r.Method)
		http.Error(w, "invalid_method", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path != "/services/T0001/B0001/"+slackToken {
		http.Error(w, "no_service", http.StatusNotFound)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		f.t.Errorf("Content-Type %q, want application/json", r.Header.Get("Content-Type"))
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var msg map[string]any
	if err := json.Unmarshal(body, &msg); err != nil {
		f.t.Errorf("body is not JSON: %v", err)
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	if text, _ := msg["text"].(string); strings.TrimSpace(text) == "" {
		f.t.Error("text is empty")
		http.Error(w, "no_text", http.StatusBadRequest)
		return
	}
	if blocks, ok := msg["blocks"].([]any); !ok || len(blocks) == 0 {
		f.t.Error("blocks missing")
	}
	f.got = append(f.got, msg)
	f.bodies = append(f.bodies, body)
	i := min(len(f.got), len(f.answers)) - 1
	f.answers[i](w)
}

func answer(status int, body string, headers ...string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

func (f *slackFake) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.got)
}

func testHTTPOptions() httpx.Options {
	return httpx.Options{MaxRetries: 2, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Timeout: 5 * time.Second}
}

func TestSlackSendOK(t *testing.T) {
	f := newSlackFake(t, answer(200, "ok"))
	logger, logs := logBuffer()
	opts := testHTTPOptions()
	opts.Logger = logger
	s, err := NewSlack(f.url(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ev := failedEvent()
	ev.Message = "HTTP 401: invalid api key <script> & more"
	if err := s.Send(context.Background(), ev); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if f.requests() != 1 {
		t.Fatalf("%d requests, want 1", f.requests())
	}
	var msg struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type     string      `json:"type"`
			Text     *slackText  `json:"text"`
			Elements []slackText `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(f.bodies[0], &msg); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(msg.Text, "shop/loyal-to-crm failed: credentials\n") || !strings.Contains(msg.Text, "Run: run-42") ||
		!strings.Contains(msg.Text, "Rows: evaluated 1000, added 10, changed 3, rejected 2, zeta 1") {
		t.Errorf("text = %q", msg.Text)
	}
	if len(msg.Blocks) != 3 {
		t.Fatalf("%d blocks, want header, section, context", len(msg.Blocks))
	}
	if h := msg.Blocks[0]; h.Type != "header" || h.Text == nil || *h.Text != (slackText{Type: "plain_text", Text: "shop/loyal-to-crm failed: credentials"}) {
		t.Errorf("header block = %+v", h)
	}
	if sec := msg.Blocks[1]; sec.Type != "section" || sec.Text == nil || sec.Text.Type != "mrkdwn" ||
		!strings.Contains(sec.Text.Text, "*Error:* ```HTTP 401: invalid api key &lt;script&gt; &amp; more```") {
		t.Errorf("section = %+v", sec)
	}
	if c := msg.Blocks[2]; c.Type != "context" || len(c.Elements) != 1 || c.Elements[0].Text != "<https://ops.example.com/runs/run-42|Open the run>" {
		t.Errorf("context block = %+v", c)
	}
	if l := logs.String(); strings.Contains(l, slackToken) || !strings.Contains(l, "http attempt") {
		t.Errorf("logs leak the token or say nothing: %s", l)
	}
}

func TestSlackErrors(t *testing.T) {
	tests := []struct {
		name      string
		answers   []func(http.ResponseWriter)
		requests  int
		category  connectors.Category
		retryable bool
		contains  string
	}{
		{"invalid payload is permanent", []func(http.ResponseWriter){answer(400, "invalid_payload")}, 1,
			connectors.CategoryConfiguration, false, "HTTP 400: invalid_payload"},
		{"revoked webhook", []func(http.ResponseWriter){answer(404, "no_service")}, 1,
			connectors.CategoryNotFound, false, "HTTP 404: no_service"},
		{"archived channel", []func(http.ResponseWriter){answer(410, "channel_is_archived")}, 1,
			connectors.CategoryNotFound, false, "channel_is_archived"},
		{"action prohibited", []func(http.ResponseWriter){answer(403, "action_prohibited")}, 1,
			connectors.CategoryCredentials, false, "action_prohibited"},
		{"server errors are retried then retryable", []func(http.ResponseWriter){answer(500, "rollup_error")}, 3,
			connectors.CategoryConnection, true, "giving up after 3 attempt(s)"},
		{"rate limited throughout", []func(http.ResponseWriter){answer(429, "rate_limited", "Retry-After", "0")}, 3,
			connectors.CategoryRateLimit, true, "HTTP 429"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newSlackFake(t, tt.answers...)
			logger, logs := logBuffer()
			opts := testHTTPOptions()
			opts.Logger = logger
			s, err := NewSlack(f.url(), opts)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Send(context.Background(), failedEvent())
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if f.requests() != tt.requests {
				t.Errorf("%d requests, want %d", f.requests(), tt.requests)
			}
			if got := connectors.CategoryOf(err); got != tt.category {
				t.Errorf("category %s, want %s (%v)", got, tt.category, err)
			}
			if connectors.IsRetryable(err) != tt.retryable {
				t.Errorf("retryable = %v, want %v", connectors.IsRetryable(err), tt.retryable)
			}
			if !strings.Contains(err.Error(), tt.contains) || !strings.HasPrefix(err.Error(), "slack alert: ") {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
			var se *httpx.StatusError
			if !errors.As(err, &se) {
				t.Errorf("no StatusError in %v", err)
			}
			for _, leak := range []string{slackToken, "/services/T0001"} {
				if strings.Contains(err.Error(), leak) || strings.Contains(logs.String(), leak) {
					t.Errorf("%q leaked: error %q, logs %s", leak, err, logs)
				}
			}
		})
	}
}

func TestSlackRetryAfter(t *testing.T) {
	f := newSlackFake(t, answer(429, "rate_limited", "Retry-After", "1"), answer(200, "ok"))
	s, err := NewSlack(f.url(), testHTTPOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), failedEvent()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if f.requests() != 2 {
		t.Fatalf("%d requests, want 2", f.requests())
	}
	if gap := f.times[1].Sub(f.times[0]); gap < 900*time.Millisecond {
		t.Errorf("retried after %v, before the 1s Retry-After", gap)
	}
}

func TestSlackCancelled(t *testing.T) {
	f := newSlackFake(t, answer(500, "down"))
	opts := testHTTPOptions()
	opts.MaxRetries, opts.MinBackoff, opts.MaxBackoff = 5, time.Second, time.Second
	s, err := NewSlack(f.url(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Send(ctx, failedEvent()); err == nil {
		t.Fatal("Send succeeded")
	}
	if time.Since(start) > 900*time.Millisecond {
		t.Errorf("Send ignored the cancelled context for %v", time.Since(start))
	}
}

func TestValidateSlackWebhookURL(t *testing.T) {
	tests := []struct{ url, want string }{
		{"https://hooks.slack.com/services/T0/B0/" + slackToken, ""},
		{"http://127.0.0.1:8080/hook", ""},
		{"http://localhost/hook", ""},
		{"http://hooks.slack.com/services/T0/B0/" + slackToken, "slack alert: the webhook URL must use https"},
		{"hooks.slack.com/services/" + slackToken, "slack alert: the webhook URL is not an absolute URL: copy it from the Slack app's Incoming Webhooks page (https://hooks.slack.com/services/...)"},
		{"https://user:" + slackToken + "@hooks.slack.com/x", "slack alert: the webhook URL must not contain a user name or password"},
		{"%zz" + slackToken, "slack alert: the webhook URL is not an absolute URL: copy it from the Slack app's Incoming Webhooks page (https://hooks.slack.com/services/...)"},
	}
	for _, tt := range tests {
		err := ValidateSlackWebhookURL(tt.url)
		got := ""
		if err != nil {
			got = err.Error()
			if connectors.CategoryOf(err) != connectors.CategoryConfiguration {
				t.Errorf("%v: category %s", err, connectors.CategoryOf(err))
			}
		}
		if (tt.want == "" && got != "") || (tt.want != "" && got != "configuration: "+tt.want) {
			t.Errorf("ValidateSlackWebhookURL(...) = %q, want %q", got, tt.want)
		}
		if strings.Contains(got, slackToken) {
			t.Errorf("the error echoes the secret URL: %q", got)
		}
		if _, err := NewSlack(tt.url, httpx.Options{}); (err == nil) != (tt.want == "") {
			t.Errorf("NewSlack accepted = %v, want %v", err == nil, tt.want == "")
		}
	}
}
