package connectortest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"dinmo/connectors/destination/webhook"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const secret = "fake-secret-123"

// send posts body to the fake like a client would, with mutations applied to the request.
func send(t *testing.T, s *WebhookServer, key string, body string, mutate func(*http.Request)) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.URL(), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	ts := fmt.Sprint(time.Now().Unix())
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "test")
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set(webhook.HeaderIdempotencyKey, key)
	req.Header.Set(webhook.HeaderRunID, "r1")
	req.Header.Set(webhook.HeaderActivationID, "a1")
	req.Header.Set(webhook.HeaderTimestamp, ts)
	req.Header.Set(webhook.HeaderSignature, webhook.Sign(secret, ts, []byte(body)))
	if mutate != nil {
		mutate(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func payload(records ...string) string {
	return `{"activation_id":"a1","activation_name":"A","run_id":"r1","batch":1,"sent_at":"2025-01-01T00:00:00Z","records":[` +
		strings.Join(records, ",") + `]}`
}

func rec(key, op, fields string) string {
	return fmt.Sprintf(`{"key":%q,"op":%q,"fields":%s}`, key, op, fields)
}

func newFake(t *testing.T, maxBatch int) *WebhookServer {
	s := NewWebhookServer(t, WebhookConfig{SigningSecret: secret, BearerToken: "tok", MaxBatchSize: maxBatch})
	t.Cleanup(http.DefaultClient.CloseIdleConnections)
	return s
}

func TestWebhookServerEnforcesContract(t *testing.T) {
	good := payload(rec("k", "upsert", `{"a":1}`))
	cases := []struct {
		name   string
		body   string
		mutate func(*http.Request)
		status int
	}{
		{"valid", good, nil, 200},
		{"method", good, func(r *http.Request) { r.Method = http.MethodPut }, 405},
		{"path", good, func(r *http.Request) { r.URL.Path = "/other" }, 404},
		{"content type", good, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, 415},
		{"no bearer", good, func(r *http.Request) { r.Header.Del("Authorization") }, 401},
		{"wrong bearer", good, func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, 401},
		{"no signature", good, func(r *http.Request) { r.Header.Del(webhook.HeaderSignature) }, 401},
		{"bad signature", good, func(r *http.Request) { r.Header.Set(webhook.HeaderSignature, "v1=00") }, 401},
		{"stale timestamp", good, func(r *http.Request) {
			old := fmt.Sprint(time.Now().Add(-time.Hour).Unix())
			r.Header.Set(webhook.HeaderTimestamp, old)
			r.Header.Set(webhook.HeaderSignature, webhook.Sign(secret, old, []byte(good)))
		}, 401},
		{"no idempotency key", good, func(r *http.Request) { r.Header.Del(webhook.HeaderIdempotencyKey) }, 400},
		{"run id header mismatch", good, func(r *http.Request) { r.Header.Set(webhook.HeaderRunID, "r2") }, 400},
		{"not json", "nope", nil, 400},
		{"missing key", `{"activation_id":"a1","run_id":"r1","batch":1,"sent_at":"2025-01-01T00:00:00Z","records":[]}`, nil, 400},
		{"unexpected key", strings.Replace(good, `"batch":1`, `"batch":1,"extra":2`, 1), nil, 400},
		{"empty records", payload(), nil, 400},
		{"batch zero", strings.Replace(good, `"batch":1`, `"batch":0`, 1), nil, 400},
		{"bad sent_at", strings.Replace(good, `2025-01-01T00:00:00Z`, `yesterday`, 1), nil, 400},
		{"record without fields", payload(`{"key":"k","op":"upsert"}`), nil, 400},
		{"fields not object", payload(rec("k", "upsert", `[1]`)), nil, 400},
		{"empty key", payload(rec("", "upsert", `{}`)), nil, 400},
		{"unknown op", payload(rec("k", "merge", `{}`)), nil, 400},
		{"too many records", payload(rec("a", "upsert", `{}`), rec("b", "upsert", `{}`), rec("c", "upsert", `{}`)), nil, 413},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newFake(t, 2)
			status, body := send(t, s, fmt.Sprintf("key-%d", i), tc.body, tc.mutate)
			if status != tc.status {
				t.Fatalf("status = %d (%s), want %d", status, body, tc.status)
			}
			if v := s.Violations(); (tc.status == 200) != (len(v) == 0) {
				t.Errorf("violations = %v", v)
			}
			if tc.status != 200 && len(s.Keys()) != 0 {
				t.Errorf("a refused request changed the state: %v", s.Keys())
			}
		})
	}
}

func TestWebhookServerAppliesOperations(t *testing.T) {
	s := newFake(t, 100)
	steps := []struct {
		body string
		keys []string
	}{
		{payload(rec("a", "insert", `{"v":1}`), rec("b", "upsert", `{"v":2}`), rec("c", "add", `{}`)), []string{"a", "b", "c"}},
		{payload(rec("a", "update", `{"v":10}`), rec("b", "delete", `{}`), rec("c", "remove", `{}`), rec("e", "event", `{"n":"x"}`)), []string{"a"}},
	}
	for i, st := range steps {
		if status, body := send(t, s, fmt.Sprint("k", i), st.body, nil); status != 200 {
			t.Fatalf("step %d: %d %s", i, status, body)
		}
		if got := s.Keys(); strings.Join(got, ",") != strings.Join(st.keys, ",") {
			t.Errorf("step %d: keys = %v, want %v", i, got, st.keys)
		}
	}
	if f, _ := s.Record("a"); f["v"] != float64(10) {
		t.Errorf("a = %v", f)
	}
	if ev := s.Events(); len(ev) != 1 || ev[0].Key != "e" {
		t.Errorf("events = %v", ev)
	}
	if len(s.Accepted()) != 2 || s.MaxBatchSeen() != 4 {
		t.Errorf("accepted %d, max batch %d", len(s.Accepted()), s.MaxBatchSeen())
	}
}

func TestWebhookServerDeduplicatesIdempotencyKeys(t *testing.T) {
	s := newFake(t, 100)
	body := payload(rec("e", "event", `{}`))
	for range 3 {
		if status, _ := send(t, s, "same", body, nil); status != 200 {
			t.Fatalf("status %d", status)
		}
	}
	if len(s.Events()) != 1 || s.Replays() != 2 || len(s.Accepted()) != 1 {
		t.Errorf("events %d, replays %d, accepted %d; want 1, 2, 1", len(s.Events()), s.Replays(), len(s.Accepted()))
	}
}

func TestWebhookServerScriptedFailures(t *testing.T) {
	s := newFake(t, 100)
	s.FailNext(2, Failure{Status: 429, RetryAfter: "7"})
	s.FailNext(1, Failure{Status: 503})
	s.FailNext(1, Failure{Status: 401})
	s.FailNext(1, Failure{Reject: map[string]string{"b": "bad email"}, Retry: map[string]string{"c": "locked"}})
	body := payload(rec("a", "upsert", `{}`), rec("b", "upsert", `{}`), rec("c", "upsert", `{}`))
	for i, want := range []int{429, 429, 503, 401} {
		status, _ := send(t, s, "k", body, nil)
		if status != want {
			t.Fatalf("request %d: status %d, want %d", i, status, want)
		}
	}
	if len(s.Keys()) != 0 {
		t.Fatalf("failed requests changed the state: %v", s.Keys())
	}
	status, answer := send(t, s, "k", body, nil)
	if status != 200 {
		t.Fatalf("partial: status %d", status)
	}
	var r webhook.Response
	if err := json.Unmarshal([]byte(answer), &r); err != nil || len(r.Results) != 3 ||
		r.Results[1].Status != "rejected" || r.Results[1].Reason != "bad email" || r.Results[2].Status != "retryable" {
		t.Fatalf("partial answer = %s (%v)", answer, err)
	}
	if got := s.Keys(); len(got) != 1 || got[0] != "a" {
		t.Errorf("keys = %v, want [a]", got)
	}
	if status, _ := send(t, s, "k2", body, nil); status != 200 || len(s.Keys()) != 3 {
		t.Errorf("after the script ran out: status %d keys %v", status, s.Keys())
	}
	if v := s.Violations(); len(v) != 0 {
		t.Errorf("scripted failures are not violations: %v", v)
	}
	sens := strings.Join(s.SensitiveValues(), " ")
	if !strings.Contains(sens, "tok") || !strings.Contains(sens, "v1=") || !strings.Contains(sens, secret) {
		t.Errorf("SensitiveValues = %v", s.SensitiveValues())
	}
}

func TestWebhookServerIsConcurrencySafe(t *testing.T) {
	s := newFake(t, 100)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			body := payload(rec(fmt.Sprint("k", i), "upsert", `{}`))
			if status, _ := send(t, s, fmt.Sprint("key", i), body, nil); status != 200 {
				t.Errorf("status %d", status)
			}
		})
	}
	wg.Wait()
	if len(s.Keys()) != 10 || s.Hits() != 10 || len(s.HitTimes()) != 10 {
		t.Errorf("keys %d hits %d", len(s.Keys()), s.Hits())
	}
	s.Close()
	s.Close() // idempotent
}
