package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/destination/connectortest"
	"dinmo/connectors/destination/webhook"
)

const (
	testSecret = "whsec-0123456789abcdef"
	testToken  = "tok-fedcba9876543210"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func fastPlatform() *webhook.Platform {
	return webhook.New(webhook.WithBackoff(time.Millisecond, 5*time.Millisecond))
}

func TestConformance(t *testing.T) {
	connectortest.RunConformance(t, connectortest.Driver{
		Platform: fastPlatform(),
		Service:  webhook.ServiceRecords,
		Setup: func(t *testing.T, o connectortest.SetupOptions) (connectortest.Fake, destination.OpenParams) {
			srv := connectortest.NewWebhookServer(t, connectortest.WebhookConfig{
				SigningSecret: testSecret, BearerToken: testToken, MaxBatchSize: o.BatchSize,
			})
			return srv, destination.OpenParams{
				Settings: map[string]any{
					webhook.SettingURL:               srv.URL(),
					webhook.SettingBatchSize:         int64(o.BatchSize),
					webhook.SettingMaxRetries:        int64(o.MaxRetries),
					webhook.SettingRequestsPerSecond: int64(o.RequestsPerSecond),
				},
				Credentials:    map[string]string{webhook.CredentialSigningSecret: testSecret, webhook.CredentialBearerToken: testToken},
				RunID:          "run-1",
				ActivationID:   "act-1",
				ActivationName: "VIP customers",
				StartedAt:      time.Now(),
			}
		},
	})
}

// open returns a destination pointed at url with the given extra settings.
func open(t *testing.T, url string, settings map[string]any, creds map[string]string) destination.Destination {
	t.Helper()
	s := map[string]any{webhook.SettingURL: url, webhook.SettingMaxRetries: int64(1)}
	for k, v := range settings {
		s[k] = v
	}
	d, err := fastPlatform().Open(context.Background(), destination.OpenParams{
		Service: webhook.ServiceRecords, Settings: s, Credentials: creds,
		RunID: "run-7", ActivationID: "act-7", ActivationName: "Churn risk",
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d
}

func apply(t *testing.T, d destination.Destination, recs ...destination.Record) ([]destination.Outcome, error) {
	t.Helper()
	return d.Apply(context.Background(), destination.Batch{RunID: "run-7", ActivationID: "act-7", Records: recs})
}

func TestRequestShapeHeadersAndState(t *testing.T) {
	srv := connectortest.NewWebhookServer(t, connectortest.WebhookConfig{SigningSecret: testSecret, BearerToken: testToken})
	d := open(t, srv.URL(), map[string]any{webhook.SettingHeaders: map[string]any{"X-Team": "growth"}},
		map[string]string{webhook.CredentialSigningSecret: testSecret, webhook.CredentialBearerToken: testToken})
	at := time.Date(2025, 3, 4, 5, 6, 7, 8000, time.FixedZone("CET", 3600))
	out, err := apply(t, d,
		destination.Record{Key: "a", Op: destination.OpUpsert, Fields: map[string]any{"email": "a@x.io", "at": at, "tags": []any{"x", at}}},
		destination.Record{Key: "b", Op: destination.OpInsert, Fields: map[string]any{"n": int64(2)}},
		destination.Record{Key: "c", Op: destination.OpEvent, Fields: map[string]any{"name": "signup"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if o.Status != destination.Acknowledged {
			t.Fatalf("outcomes = %+v", out)
		}
	}
	if _, err := apply(t, d,
		destination.Record{Key: "a", Op: destination.OpDelete},
		destination.Record{Key: "b", Op: destination.OpUpdate, Fields: map[string]any{"n": int64(3)}},
	); err != nil {
		t.Fatal(err)
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Fatalf("violations: %v", v)
	}
	state := srv.State()
	if _, ok := state["a"]; ok || len(state) != 1 || state["b"]["n"] != float64(3) {
		t.Errorf("state = %v, want only b with n=3", state)
	}
	if ev := srv.Events(); len(ev) != 1 || ev[0].Key != "c" || ev[0].Fields["name"] != "signup" {
		t.Errorf("events = %+v", ev)
	}
	reqs := srv.Accepted()
	if len(reqs) != 2 {
		t.Fatalf("accepted %d requests, want 2", len(reqs))
	}
	first := reqs[0]
	p := first.Payload
	if p.ActivationID != "act-7" || p.ActivationName != "Churn risk" || p.RunID != "run-7" || p.Batch != 1 || reqs[1].Payload.Batch != 2 {
		t.Errorf("payload header fields = %+v", p)
	}
	if got := p.Records[0].Fields["at"]; got != "2025-03-04T04:06:07.000008Z" {
		t.Errorf("time field = %v, want RFC 3339 UTC", got)
	}
	if tags, ok := p.Records[0].Fields["tags"].([]any); !ok || len(tags) != 2 || tags[1] != "2025-03-04T04:06:07.000008Z" {
		t.Errorf("nested time = %v", tags[1])
	}
	h := first.Header
	for name, want := range map[string]string{
		"X-Team":                   "growth",
		"Authorization":            "Bearer " + testToken,
		"User-Agent":               "dinmo",
		webhook.HeaderRunID:        "run-7",
		webhook.HeaderActivationID: "act-7",
	} {
		if h.Get(name) != want {
			t.Errorf("header %s = %q, want %q", name, h.Get(name), want)
		}
	}
	if k0, k1 := first.IdempotencyKey, reqs[1].IdempotencyKey; !strings.HasPrefix(k0, "run-7-1-") || !strings.HasPrefix(k1, "run-7-2-") {
		t.Errorf("idempotency keys = %q, %q", k0, k1)
	}
	if rc, ok := d.(destination.RequestCounter); !ok || rc.Requests() != 2 {
		t.Errorf("request counter = %v", rc)
	}
}

func TestRetriedBatchKeepsIdempotencyKeyAndIsAppliedOnce(t *testing.T) {
	// The first answer is lost after the server applied the batch (a 200 that the client
	// never reads completely): simulate with a proxy that applies and then answers 502 once.
	srv := connectortest.NewWebhookServer(t, connectortest.WebhookConfig{})
	var mu sync.Mutex
	var keys []string
	first := true
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		keys = append(keys, r.Header.Get(webhook.HeaderIdempotencyKey))
		lose := first
		first = false
		mu.Unlock()
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, srv.URL(), strings.NewReader(string(body)))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req) //nolint:gosec // forwards to the local fake only
		if err != nil {
			w.WriteHeader(500)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if lose {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(b)
	}))
	defer proxy.Close()
	d := open(t, proxy.URL+"/hook", nil, nil)
	out, err := apply(t, d, destination.Record{Key: "e1", Op: destination.OpEvent, Fields: map[string]any{"v": 1.5}})
	if err != nil || out[0].Status != destination.Acknowledged {
		t.Fatalf("Apply = %+v, %v", out, err)
	}
	if len(keys) != 2 || keys[0] != keys[1] || keys[0] == "" {
		t.Errorf("idempotency keys of the attempts = %q, want the same key twice", keys)
	}
	if ev := srv.Events(); len(ev) != 1 || srv.Replays() != 1 {
		t.Errorf("events = %d, replays = %d; want the event applied once and the retry recognised", len(ev), srv.Replays())
	}
	_ = d.Close(context.Background())
	http.DefaultClient.CloseIdleConnections()
}

func TestResponseMapping(t *testing.T) {
	recs := []destination.Record{
		{Key: "a", Op: destination.OpUpsert, Fields: map[string]any{"x": 1}},
		{Key: "b", Op: destination.OpUpsert, Fields: map[string]any{"x": 2}},
		{Key: "c", Op: destination.OpUpsert, Fields: map[string]any{"x": 3}},
	}
	type want struct {
		statuses []destination.Status
		reason   string // substring of the reason of b
		cat      connectors.Category
		retry    bool
	}
	A, R, T := destination.Acknowledged, destination.Rejected, destination.Retryable
	cases := []struct {
		name   string
		status int
		body   string
		want   want
	}{
		{"empty 200", 200, "", want{statuses: []destination.Status{A, A, A}}},
		{"204", 204, "", want{statuses: []destination.Status{A, A, A}}},
		{"non-JSON 200", 200, "OK", want{statuses: []destination.Status{A, A, A}}},
		{"JSON without results", 202, `{"queued":true}`, want{statuses: []destination.Status{A, A, A}}},
		{"results, unlisted acknowledged", 200,
			`{"results":[{"key":"b","status":"rejected","reason":"bad email"},{"key":"c","status":"retryable"},{"key":"zz","status":"rejected"}]}`,
			want{statuses: []destination.Status{A, R, T}, reason: "bad email"}},
		{"unknown status", 200, `{"results":[{"key":"b","status":"done"}]}`,
			want{statuses: []destination.Status{A, R, A}, reason: "unknown status"}},
		{"malformed results", 200, `{"results":{"b":"rejected"}}`,
			want{statuses: []destination.Status{R, R, R}, reason: "unreadable results"}},
		{"422 rejects all", 422, `{"error":"field x must be a string"}`,
			want{statuses: []destination.Status{R, R, R}, reason: `HTTP 422: {"error":"field x must be a string"}`}},
		{"400 rejects all", 400, `nope`, want{statuses: []destination.Status{R, R, R}, reason: "HTTP 400: nope"}},
		{"413 batch error", 413, ``, want{cat: connectors.CategoryConfiguration}},
		{"401 credentials", 401, `expired`, want{cat: connectors.CategoryCredentials}},
		{"403 credentials", 403, ``, want{cat: connectors.CategoryCredentials}},
		{"404 not found", 404, ``, want{cat: connectors.CategoryNotFound}},
		{"500 retryable", 500, `boom`, want{cat: connectors.CategoryConnection, retry: true}},
		{"429 retryable", 429, ``, want{cat: connectors.CategoryRateLimit, retry: true}},
		{"301 configuration", 301, ``, want{cat: connectors.CategoryConfiguration}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.status == 301 {
					w.Header().Set("Location", "http://elsewhere.invalid/")
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			d := open(t, srv.URL, nil, nil)
			defer d.Close(context.Background())
			out, err := apply(t, d, recs...)
			if tc.want.statuses == nil {
				if err == nil || connectors.CategoryOf(err) != tc.want.cat || connectors.IsRetryable(err) != tc.want.retry {
					t.Fatalf("err = %v, want %s (retryable %v)", err, tc.want.cat, tc.want.retry)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			for i, o := range out {
				if o.Status != tc.want.statuses[i] {
					t.Errorf("%s: %s (%q), want %s", recs[i].Key, o.Status, o.Reason, tc.want.statuses[i])
				}
			}
			if tc.want.reason != "" && !strings.Contains(out[1].Reason, tc.want.reason) {
				t.Errorf("reason of b = %q, want it to contain %q", out[1].Reason, tc.want.reason)
			}
		})
	}
}

func TestInvalidRecordsAreRejectedLocally(t *testing.T) {
	srv := connectortest.NewWebhookServer(t, connectortest.WebhookConfig{})
	d := open(t, srv.URL(), nil, nil)
	out, err := apply(t, d,
		destination.Record{Key: "", Op: destination.OpUpsert},
		destination.Record{Key: "x", Op: "merge"},
		destination.Record{Key: "y", Op: destination.OpUpsert, Fields: map[string]any{"v": math.NaN()}},
		destination.Record{Key: "z", Op: destination.OpDelete}, // nil fields are sent as {}
	)
	if err != nil {
		t.Fatal(err)
	}
	want := []destination.Status{destination.Rejected, destination.Rejected, destination.Rejected, destination.Acknowledged}
	for i, o := range out {
		if o.Status != want[i] || (o.Status == destination.Rejected && o.Reason == "") {
			t.Errorf("record %d: %+v, want %s with a reason", i, o, want[i])
		}
	}
	if v := srv.Violations(); len(v) > 0 {
		t.Errorf("violations: %v", v)
	}
	// All invalid: nothing is sent.
	hits := srv.Hits()
	if _, err := apply(t, d, destination.Record{Key: "", Op: destination.OpUpsert}); err != nil || srv.Hits() != hits {
		t.Errorf("err %v, hits %d → %d; an all-invalid batch must not be sent", err, hits, srv.Hits())
	}
}

func TestSignaturesAreFreshPerAttemptAndVerify(t *testing.T) {
	var mu sync.Mutex
	var sigs []string
	var bodies [][]byte
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		n++
		sigs = append(sigs, r.Header.Get(webhook.HeaderSignature))
		bodies = append(bodies, b)
		if err := webhook.Verify(testSecret, r.Header, b, time.Minute); err != nil {
			w.WriteHeader(401)
			return
		}
		if n == 1 {
			w.WriteHeader(503)
			return
		}
	}))
	defer srv.Close()
	d := open(t, srv.URL, nil, map[string]string{webhook.CredentialSigningSecret: testSecret})
	out, err := apply(t, d, destination.Record{Key: "a", Op: destination.OpUpsert})
	if err != nil || out[0].Status != destination.Acknowledged {
		t.Fatalf("Apply = %+v, %v", out, err)
	}
	if len(sigs) != 2 || !strings.HasPrefix(sigs[0], "v1=") || string(bodies[0]) != string(bodies[1]) {
		t.Errorf("signatures %q over bodies %d", sigs, len(bodies))
	}
}

func TestSignAndVerify(t *testing.T) {
	body := []byte(`{"a":1}`)
	now := fmt.Sprint(time.Now().Unix())
	h := http.Header{}
	h.Set(webhook.HeaderTimestamp, now)
	h.Set(webhook.HeaderSignature, webhook.Sign("k", now, body))
	if err := webhook.Verify("k", h, body, time.Minute); err != nil {
		t.Errorf("Verify of a fresh signature: %v", err)
	}
	// Known vector: hmac_sha256("k", "1.{}") computed independently (Python's hmac module).
	if got := webhook.Sign("k", "1", []byte("{}")); got != "v1=3dd49b2593d0f9a349e9e71c4bde3e2b862c2be4003fe9b4ba81332029310158" {
		t.Errorf("Sign format = %q", got)
	}
	rotated := h.Clone()
	rotated.Set(webhook.HeaderSignature, webhook.Sign("old", now, body)+", "+webhook.Sign("k", now, body))
	if err := webhook.Verify("k", rotated, body, time.Minute); err != nil {
		t.Errorf("Verify with a rotated list: %v", err)
	}
	cases := map[string]struct {
		h    http.Header
		body []byte
		want error
	}{
		"tampered body": {h, []byte(`{"a":2}`), webhook.ErrBadSignature},
		"wrong secret": {func() http.Header {
			x := h.Clone()
			x.Set(webhook.HeaderSignature, webhook.Sign("other", now, body))
			return x
		}(), body, webhook.ErrBadSignature},
		"missing": {http.Header{}, body, webhook.ErrMissingSignature},
		"stale": {func() http.Header {
			old := fmt.Sprint(time.Now().Add(-time.Hour).Unix())
			x := http.Header{}
			x.Set(webhook.HeaderTimestamp, old)
			x.Set(webhook.HeaderSignature, webhook.Sign("k", old, body))
			return x
		}(), body, webhook.ErrStaleTimestamp},
	}
	for name, tc := range cases {
		if err := webhook.Verify("k", tc.h, tc.body, time.Minute); !errors.Is(err, tc.want) {
			t.Errorf("%s: Verify = %v, want %v", name, err, tc.want)
		}
	}
}

func TestCheckAndOpenValidateConfiguration(t *testing.T) {
	p := webhook.New()
	cases := []struct {
		name     string
		settings map[string]any
		creds    map[string]string
		wantErr  string
	}{
		{"valid", map[string]any{"url": "https://hooks.example.com/in?team=a"}, nil, ""},
		{"valid from JSON round trip", map[string]any{"url": "http://h/x", "batch_size": float64(500), "headers": map[string]any{"X-A": "b"}}, nil, ""},
		{"missing url", map[string]any{}, nil, `setting "url" is required`},
		{"bad scheme", map[string]any{"url": "ftp://h/x"}, nil, "http:// or https://"},
		{"no host", map[string]any{"url": "https:///x"}, nil, "no host"},
		{"user info", map[string]any{"url": "https://user:" + "pw@h/x"}, nil, "must not contain user credentials"},
		{"batch too big", map[string]any{"url": "https://h", "batch_size": int64(10001)}, nil, "above the maximum 10000"},
		{"batch zero", map[string]any{"url": "https://h", "batch_size": int64(0)}, nil, "below the minimum 1"},
		{"negative retries", map[string]any{"url": "https://h", "max_retries": int64(-1)}, nil, "0 or more"},
		{"reserved header", map[string]any{"url": "https://h", "headers": map[string]any{"authorization": "Basic x"}}, nil, "cannot be overridden"},
		{"dinmo header", map[string]any{"url": "https://h", "headers": map[string]any{"X-Dinmo-Run-Id": "x"}}, nil, "cannot be overridden"},
		{"bad header value", map[string]any{"url": "https://h", "headers": map[string]any{"X-A": "a\r\nB: c"}}, nil, "invalid characters"},
		{"unknown setting", map[string]any{"url": "https://h", "colour": "red"}, nil, `unknown setting "colour"`},
		{"unknown credential", map[string]any{"url": "https://h"}, map[string]string{"api_key": "zzzsecret"}, `unknown credential "api_key"`},
		{"wrong type", map[string]any{"url": "https://h", "timeout_seconds": "30"}, nil, "must be a whole number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			params := destination.OpenParams{Service: webhook.ServiceRecords, Settings: tc.settings, Credentials: tc.creds}
			err := p.Check(context.Background(), params)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				d, err := p.Open(context.Background(), params)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				_ = d.Close(context.Background())
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Check = %v, want an error containing %q", err, tc.wantErr)
			}
			if connectors.CategoryOf(err) != connectors.CategoryConfiguration || connectors.IsRetryable(err) {
				t.Errorf("category %s retryable %v, want permanent configuration", connectors.CategoryOf(err), connectors.IsRetryable(err))
			}
			if strings.Contains(err.Error(), "zzzsecret") {
				t.Errorf("a credential value leaked into the error: %v", err)
			}
			if _, err := p.Open(context.Background(), params); err == nil {
				t.Errorf("Open accepted what Check refused")
			}
		})
	}
	if _, err := p.Open(context.Background(), destination.OpenParams{Service: "contacts", Settings: map[string]any{"url": "https://h"}}); err == nil ||
		connectors.CategoryOf(err) != connectors.CategoryConfiguration {
		t.Errorf("Open of an unknown service: %v", err)
	}
}

func TestApplyAfterCloseAndOversizedBatch(t *testing.T) {
	srv := connectortest.NewWebhookServer(t, connectortest.WebhookConfig{})
	d := open(t, srv.URL(), map[string]any{webhook.SettingBatchSize: int64(2)}, nil)
	if _, err := apply(t, d, connectortest.Records(0, 3)...); err == nil || connectors.CategoryOf(err) != connectors.CategoryConfiguration {
		t.Errorf("oversized batch: %v", err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := apply(t, d, connectortest.Records(0, 1)...); err == nil {
		t.Errorf("Apply after Close succeeded")
	}
	if srv.Hits() != 0 {
		t.Errorf("requests sent: %d", srv.Hits())
	}
}

func TestSpecIsValid(t *testing.T) {
	s := webhook.New().Spec()
	if err := connectors.ValidateFields(append(append([]connectors.ConfigField{}, s.Settings...), s.Credentials...)); err != nil {
		t.Fatal(err)
	}
	svc, ok := s.Service(webhook.ServiceRecords)
	if !ok || svc.MaxBatchSize != 10000 || svc.DefaultBatchSize != 100 || !svc.AllowCustomFields ||
		!svc.SupportsMode(destination.ModeMirror) || !svc.SupportsRunType(destination.RunDelta) {
		t.Errorf("service = %+v", svc)
	}
	if got := destination.BatchSize(svc, destination.ApplyDefaults(s.Settings, nil)); got != 100 {
		t.Errorf("default batch size = %d", got)
	}
	b, _ := json.Marshal(webhook.Response{Results: []webhook.Result{{Key: "k", Status: "acknowledged"}}})
	if string(b) != `{"results":[{"key":"k","status":"acknowledged"}]}` {
		t.Errorf("Response encoding = %s", b)
	}
}
