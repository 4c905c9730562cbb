package connectortest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"dinmo/connectors/destination"
	"dinmo/connectors/destination/webhook"
)

// WebhookConfig configures a WebhookServer: what it demands of requests.
type WebhookConfig struct {
	// Path requests must be sent to (default "/hook").
	Path string
	// SigningSecret, when set, makes the server verify X-Dinmo-Signature (else 401).
	SigningSecret string
	// BearerToken, when set, makes the server demand "Authorization: Bearer <token>" (else 401).
	BearerToken string
	// MaxBatchSize is the most records one request may carry (else 413); default
	// webhook.MaxBatchSize.
	MaxBatchSize int
	// MaxSkew bounds the signature timestamp's distance from now (default 5 minutes).
	MaxSkew time.Duration
}

// WebhookRequest is one request the server accepted and applied.
type WebhookRequest struct {
	Header         http.Header
	IdempotencyKey string
	Payload        webhook.Payload
	Received       time.Time
}

// WebhookEvent is one record applied with the "event" operation.
type WebhookEvent struct {
	Key    string
	Fields map[string]any
}

// WebhookServer is a fake webhook receiver (httptest) that enforces the webhook contract
// documented in package webhook and keeps the state the records describe, so tests can assert
// both what was sent and what a receiver ends up with. Every contract violation is answered
// with the status a strict receiver would use (405, 404, 415, 401, 400, 413) and recorded in
// Violations. Requests repeating an Idempotency-Key already applied are answered like the
// first time without being applied again. Failures can be scripted with FailNext. It is safe
// for concurrent use.
type WebhookServer struct {
	HTTPFake // Close, Hits, MaxBatchSeen, Violations, SensitiveValues

	cfg WebhookConfig

	mu       sync.Mutex
	script   Script[Failure]
	hitTimes []time.Time
	accepted []WebhookRequest
	state    map[string]map[string]any
	events   []WebhookEvent
	answers  map[string][]byte // Idempotency-Key → answer body of the applied request
	replays  int
}

var _ Fake = (*WebhookServer)(nil)

// NewWebhookServer starts a server; t.Cleanup closes it.
func NewWebhookServer(t testing.TB, cfg WebhookConfig) *WebhookServer {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = "/hook"
	}
	if cfg.MaxBatchSize <= 0 {
		cfg.MaxBatchSize = webhook.MaxBatchSize
	}
	if cfg.MaxSkew <= 0 {
		cfg.MaxSkew = 5 * time.Minute
	}
	s := &WebhookServer{
		cfg:     cfg,
		state:   map[string]map[string]any{},
		answers: map[string][]byte{},
	}
	s.Start(t, &s.mu, http.HandlerFunc(s.serve), cfg.SigningSecret, cfg.BearerToken)
	return s
}

// URL is the address to configure as the webhook's url setting (base address plus Path).
func (s *WebhookServer) URL() string { return s.HTTPFake.URL() + s.cfg.Path }

// BaseURL is the server's address without the path.
func (s *WebhookServer) BaseURL() string { return s.HTTPFake.URL() }

// FailNext makes the next n requests that pass the contract checks fail as f describes.
// Scripts queue up in call order.
func (s *WebhookServer) FailNext(n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script.Add(n, f)
}

// HitTimes returns when each request arrived.
func (s *WebhookServer) HitTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.hitTimes...)
}

// Keys returns the sorted keys present in the state.
func (s *WebhookServer) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.state))
	for k := range s.state {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Record returns a copy of the fields held for key.
func (s *WebhookServer) Record(key string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.state[key]
	if !ok {
		return nil, false
	}
	return copyFields(f), true
}

// State returns a copy of the whole state: key → fields.
func (s *WebhookServer) State() map[string]map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]map[string]any, len(s.state))
	for k, f := range s.state {
		out[k] = copyFields(f)
	}
	return out
}

// Events returns the records applied with the "event" operation, in arrival order.
func (s *WebhookServer) Events() []WebhookEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WebhookEvent(nil), s.events...)
}

// Accepted returns the requests that were applied, in order.
func (s *WebhookServer) Accepted() []WebhookRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WebhookRequest(nil), s.accepted...)
}

// Replays is the number of requests recognised as repeats of an applied Idempotency-Key.
func (s *WebhookServer) Replays() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replays
}

var webhookOps = map[string]bool{
	string(destination.OpInsert): true, string(destination.OpUpdate): true, string(destination.OpUpsert): true,
	string(destination.OpDelete): true, string(destination.OpAdd): true, string(destination.OpRemove): true,
	string(destination.OpEvent): true,
}

func (s *WebhookServer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.CountHits(1)
	s.hitTimes = append(s.hitTimes, time.Now())
	// The configured secrets and every Authorization and signature value received are
	// sensitive.
	for _, h := range []string{"Authorization", webhook.HeaderSignature} {
		if v := r.Header.Get(h); v != "" {
			s.AddSensitive(v)
			if token, ok := strings.CutPrefix(v, "Bearer "); ok {
				s.AddSensitive(token)
			}
		}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		// The client went away mid-request (a killed runner): nothing was delivered, and
		// nothing was wrong with what the platform code sent.
		http.Error(w, "request body cut short", http.StatusBadRequest)
		return
	}
	if err != nil {
		s.reject(w, http.StatusBadRequest, "reading body: %v", err)
		return
	}
	if r.Method != http.MethodPost {
		s.reject(w, http.StatusMethodNotAllowed, "method %s, want POST", r.Method)
		return
	}
	if r.URL.Path != s.cfg.Path {
		s.reject(w, http.StatusNotFound, "path %q, want %q", r.URL.Path, s.cfg.Path)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		s.reject(w, http.StatusUnsupportedMediaType, "Content-Type %q, want application/json", r.Header.Get("Content-Type"))
		return
	}
	if s.cfg.BearerToken != "" && r.Header.Get("Authorization") != "Bearer "+s.cfg.BearerToken {
		s.reject(w, http.StatusUnauthorized, "missing or wrong bearer token")
		return
	}
	if s.cfg.SigningSecret != "" {
		if err := webhook.Verify(s.cfg.SigningSecret, r.Header, body, s.cfg.MaxSkew); err != nil {
			s.reject(w, http.StatusUnauthorized, "signature: %v", err)
			return
		}
	}
	if r.Header.Get("User-Agent") == "" {
		s.reject(w, http.StatusBadRequest, "missing User-Agent")
		return
	}
	payload, problem := decodePayload(body)
	if problem != "" {
		s.reject(w, http.StatusBadRequest, "body: %s", problem)
		return
	}
	s.SeeBatch(len(payload.Records))
	if len(payload.Records) > s.cfg.MaxBatchSize {
		s.reject(w, http.StatusRequestEntityTooLarge, "batch of %d records exceeds %d", len(payload.Records), s.cfg.MaxBatchSize)
		return
	}
	key := r.Header.Get(webhook.HeaderIdempotencyKey)
	switch {
	case key == "":
		s.reject(w, http.StatusBadRequest, "missing %s", webhook.HeaderIdempotencyKey)
		return
	case r.Header.Get(webhook.HeaderRunID) != payload.RunID:
		s.reject(w, http.StatusBadRequest, "%s %q differs from run_id %q", webhook.HeaderRunID, r.Header.Get(webhook.HeaderRunID), payload.RunID)
		return
	case r.Header.Get(webhook.HeaderActivationID) != payload.ActivationID:
		s.reject(w, http.StatusBadRequest, "%s %q differs from activation_id %q", webhook.HeaderActivationID, r.Header.Get(webhook.HeaderActivationID), payload.ActivationID)
		return
	}
	if answer, seen := s.answers[key]; seen {
		s.replays++
		writeJSON(w, http.StatusOK, answer)
		return
	}
	if f, ok := s.script.Next(); ok {
		if f.Status != 0 {
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			writeJSON(w, f.Status, []byte(`{"error":"scripted failure"}`))
			return
		}
		s.apply(w, r, key, payload, f)
		return
	}
	s.apply(w, r, key, payload, Failure{})
}

// apply applies the records not named by a partial failure and answers.
func (s *WebhookServer) apply(w http.ResponseWriter, r *http.Request, key string, p webhook.Payload, f Failure) {
	partial := len(f.Reject) > 0 || len(f.Retry) > 0
	results := make([]webhook.Result, 0, len(p.Records))
	for _, rec := range p.Records {
		if reason, ok := f.Reject[rec.Key]; ok {
			results = append(results, webhook.Result{Key: rec.Key, Status: string(destination.Rejected), Reason: reason})
			continue
		}
		if reason, ok := f.Retry[rec.Key]; ok {
			results = append(results, webhook.Result{Key: rec.Key, Status: string(destination.Retryable), Reason: reason})
			continue
		}
		switch destination.Operation(rec.Op) {
		case destination.OpInsert, destination.OpUpdate, destination.OpUpsert, destination.OpAdd:
			s.state[rec.Key] = copyFields(rec.Fields)
		case destination.OpDelete, destination.OpRemove:
			delete(s.state, rec.Key)
		case destination.OpEvent:
			s.events = append(s.events, WebhookEvent{Key: rec.Key, Fields: copyFields(rec.Fields)})
		}
		results = append(results, webhook.Result{Key: rec.Key, Status: string(destination.Acknowledged)})
	}
	answer := []byte(fmt.Sprintf(`{"accepted":%d}`, len(p.Records)))
	if partial {
		answer, _ = json.Marshal(webhook.Response{Results: results})
	}
	s.answers[key] = answer
	s.accepted = append(s.accepted, WebhookRequest{Header: r.Header.Clone(), IdempotencyKey: key, Payload: p, Received: time.Now()})
	writeJSON(w, http.StatusOK, answer)
}

func (s *WebhookServer) reject(w http.ResponseWriter, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.AddViolation(fmt.Sprintf("HTTP %d: %s", status, msg))
	b, _ := json.Marshal(map[string]string{"error": msg})
	writeJSON(w, status, b)
}

// decodePayload checks the body's shape strictly and returns it, or what is wrong.
func decodePayload(body []byte) (webhook.Payload, string) {
	var p webhook.Payload
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return p, "not a JSON object: " + err.Error()
	}
	for _, k := range []string{"activation_id", "activation_name", "run_id", "batch", "sent_at", "records"} {
		if _, ok := top[k]; !ok {
			return p, fmt.Sprintf("missing %q", k)
		}
	}
	for k := range top {
		switch k {
		case "activation_id", "activation_name", "run_id", "batch", "sent_at", "records":
		default:
			return p, fmt.Sprintf("unexpected key %q", k)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, err.Error()
	}
	if p.RunID == "" || p.ActivationID == "" {
		return p, "run_id and activation_id must not be empty"
	}
	if p.Batch < 1 {
		return p, fmt.Sprintf("batch %d, want a sequence number from 1", p.Batch)
	}
	if _, err := time.Parse(time.RFC3339Nano, p.SentAt); err != nil {
		return p, fmt.Sprintf("sent_at %q is not RFC 3339", p.SentAt)
	}
	var raw struct {
		Records []map[string]json.RawMessage `json:"records"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return p, "records: " + err.Error()
	}
	if len(raw.Records) == 0 {
		return p, "records is empty"
	}
	for i, rec := range raw.Records {
		for _, k := range []string{"key", "op", "fields"} {
			if _, ok := rec[k]; !ok {
				return p, fmt.Sprintf("record %d: missing %q", i, k)
			}
		}
		if len(rec) != 3 {
			return p, fmt.Sprintf("record %d: want exactly key, op and fields", i)
		}
		if f := bytes.TrimSpace(rec["fields"]); len(f) == 0 || f[0] != '{' {
			return p, fmt.Sprintf("record %d: fields must be an object", i)
		}
		if p.Records[i].Key == "" {
			return p, fmt.Sprintf("record %d: empty key", i)
		}
		if !webhookOps[p.Records[i].Op] {
			return p, fmt.Sprintf("record %d: unknown op %q", i, p.Records[i].Op)
		}
	}
	return p, ""
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func copyFields(f map[string]any) map[string]any {
	out := make(map[string]any, len(f))
	for k, v := range f {
		out[k] = v
	}
	return out
}
