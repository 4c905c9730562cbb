// Package connectortest holds what destination platforms are tested with: fakes of the
// systems they talk to (WebhookServer), which enforce the documented contract and can be
// scripted to fail, and RunConformance, the suite every API platform runs against its fake so
// that batching, rate limits, retries, partial failures, credentials errors, cancellation,
// goroutine hygiene and secret redaction behave the same everywhere.
package connectortest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"dinmo/connectors"
	"dinmo/connectors/destination"
)

// Failure scripts one answer of a fake, in the platform's own error format.
type Failure struct {
	// Status, when non-zero, is answered instead of applying the request (429, 500, 503,
	// 401...), with RetryAfter as the Retry-After header when set.
	Status     int
	RetryAfter string
	// Reject and Retry describe a partial failure (Status 0): the named keys are answered
	// rejected or retryable with the given reason and not applied; the others are applied.
	Reject map[string]string
	Retry  map[string]string
}

// Fake is the scriptable, inspectable side of a platform's fake that RunConformance drives.
type Fake interface {
	// FailNext makes the next n requests that pass the contract checks fail as f says.
	FailNext(n int, f Failure)
	// Hits is the number of HTTP requests received, whatever their fate.
	Hits() int
	// MaxBatchSeen is the largest number of records one request carried.
	MaxBatchSeen() int
	// Keys returns the sorted record keys present in the fake's state.
	Keys() []string
	// Violations lists the contract violations seen; a correct platform causes none.
	Violations() []string
	// SensitiveValues lists what must never be logged: configured secrets and the
	// authentication and signature values received.
	SensitiveValues() []string
	// Close stops the fake and closes its connections; it must be idempotent.
	Close()
}

// SetupOptions is what the suite asks of the destination a Driver sets up.
type SetupOptions struct {
	// BatchSize: configure the destination to send at most this many records per request and
	// make the fake refuse larger requests (413).
	BatchSize int
	// MaxRetries: transport retries after the first attempt (0: none).
	MaxRetries int
	// RequestsPerSecond: the destination's client-side rate limit (0: unlimited).
	RequestsPerSecond float64
}

// Driver adapts a platform to the suite.
type Driver struct {
	Platform destination.Platform
	// Service is the service under test; it must accept upsert and delete operations.
	Service string
	// Setup starts a fresh fake for one test and returns it with the OpenParams (settings and
	// credentials) that point the platform at it, honouring o. Backoffs must be short (a few
	// milliseconds) so retries are quick; Retry-After must be honoured up to at least 30s.
	// The suite sets Service and Logger itself.
	Setup func(t *testing.T, o SetupOptions) (Fake, destination.OpenParams)
	// Record builds the suite's record number i for the service under test (nil: the
	// package's Record, an upsert with an e-mail, a number and a timestamp). Its Key must be
	// what the fake's Keys reports once the record is applied, and distinct per i.
	Record func(i int) destination.Record
	// RemoveOp is the operation that removes a record (empty: delete). NoRemove skips the
	// removal step for services that cannot remove anything (events).
	RemoveOp destination.Operation
	NoRemove bool
	// NoPartialFailure skips the partial-failure step for services whose vendor reports no
	// per-record outcome (Meta's audience uploads answer counts only, its Conversions API
	// accepts or refuses a request as a whole); the platform's own tests cover how it maps
	// those answers.
	NoPartialFailure bool
}

// Record returns the suite's record number i: key "k%03d", upsert, with an e-mail, a number
// and a timestamp.
func Record(i int) destination.Record {
	return destination.Record{
		Key: fmt.Sprintf("k%03d", i),
		Op:  destination.OpUpsert,
		Fields: map[string]any{
			"email": fmt.Sprintf("user%d@example.com", i),
			"n":     int64(i),
			"seen":  time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
		},
	}
}

// Records returns Record(from) .. Record(from+n-1).
func Records(from, n int) []destination.Record {
	out := make([]destination.Record, n)
	for i := range n {
		out[i] = Record(from + i)
	}
	return out
}

// RunConformance runs the destination conformance suite against d. Each subtest uses a fresh
// fake and destination, checks for leaked goroutines, and checks that no secret reached the
// logs (captured at debug level) or the errors.
func RunConformance(t *testing.T, d Driver) {
	t.Helper()
	base := SetupOptions{BatchSize: 10, MaxRetries: 2}
	cases := []struct {
		name string
		opts func(SetupOptions) SetupOptions
		run  func(t *testing.T, h *harness)
	}{
		{"ApplyUpdatesState", nil, testApplyUpdatesState},
		{"BatchLimit", nil, testBatchLimit},
		{"RateLimit", func(o SetupOptions) SetupOptions { o.RequestsPerSecond = 20; return o }, testRateLimit},
		{"RetriesBounded", nil, testRetriesBounded},
		{"RecoversFromTransientFailures", func(o SetupOptions) SetupOptions { o.MaxRetries = 3; return o }, testRecovers},
		{"PartialFailure", nil, testPartialFailure},
		{"ExpiredCredentials", nil, testExpiredCredentials},
		{"Cancellation", func(o SetupOptions) SetupOptions { o.MaxRetries = 5; return o }, testCancellation},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			o := base
			if tc.opts != nil {
				o = tc.opts(o)
			}
			h := newHarness(t, d, o)
			defer h.fake.Close()
			defer h.close()
			tc.run(t, h)
			h.checkNoViolations(t)
			h.checkSecrets(t)
		})
	}
}

// harness is one subtest's fake, destination and captured logs.
type harness struct {
	driver Driver
	fake   Fake
	params destination.OpenParams
	dest   destination.Destination
	svc    destination.ServiceSpec
	logs   *SyncBuffer
	limit  int

	mu     sync.Mutex
	errs   []string
	closed bool
}

func newHarness(t *testing.T, d Driver, o SetupOptions) *harness {
	t.Helper()
	logs := &SyncBuffer{}
	fake, params := d.Setup(t, o)
	params.Service = d.Service
	params.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc, ok := d.Platform.Spec().Service(d.Service)
	if !ok {
		fake.Close()
		t.Fatalf("platform %q has no service %q", d.Platform.Spec().Platform, d.Service)
	}
	h := &harness{fake: fake, params: params, svc: svc, logs: logs, driver: d}
	h.limit = destination.BatchSize(svc, params.Settings)
	if h.limit > o.BatchSize {
		fake.Close()
		t.Fatalf("driver: the destination's batch size is %d, want at most the requested %d (set it in Settings)", h.limit, o.BatchSize)
	}
	if err := d.Platform.Check(context.Background(), params); err != nil {
		fake.Close()
		t.Fatalf("Check: %v", err)
	}
	dest, err := d.Platform.Open(context.Background(), params)
	if err != nil {
		fake.Close()
		t.Fatalf("Open: %v", err)
	}
	h.dest = dest
	return h
}

// records returns the driver's records from .. from+n-1.
func (h *harness) records(from, n int) []destination.Record {
	if h.driver.Record == nil {
		return Records(from, n)
	}
	out := make([]destination.Record, n)
	for i := range n {
		out[i] = h.driver.Record(from + i)
	}
	return out
}

func (h *harness) apply(ctx context.Context, recs []destination.Record) ([]destination.Outcome, error) {
	out, err := h.dest.Apply(ctx, destination.Batch{RunID: h.params.RunID, ActivationID: h.params.ActivationID, Records: recs})
	if err != nil {
		h.mu.Lock()
		h.errs = append(h.errs, err.Error())
		h.mu.Unlock()
	}
	if err == nil && len(out) != len(recs) {
		return out, fmt.Errorf("conformance: Apply returned %d outcomes for %d records", len(out), len(recs))
	}
	return out, err
}

func (h *harness) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		_ = h.dest.Close(context.Background())
	}
}

func (h *harness) checkNoViolations(t *testing.T) {
	t.Helper()
	if v := h.fake.Violations(); len(v) > 0 {
		t.Errorf("the fake saw contract violations:\n%s", strings.Join(v, "\n"))
	}
}

func (h *harness) checkSecrets(t *testing.T) {
	t.Helper()
	secrets := slices.Clone(h.fake.SensitiveValues())
	for _, v := range h.params.Credentials {
		secrets = append(secrets, v)
	}
	logs := h.logs.String()
	h.mu.Lock()
	errs := strings.Join(h.errs, "\n")
	h.mu.Unlock()
	for _, s := range secrets {
		if len(s) < 4 {
			continue // too short to search for meaningfully
		}
		if strings.Contains(logs, s) {
			t.Errorf("a secret or signature (%d chars) appears in the debug log", len(s))
		}
		if strings.Contains(errs, s) {
			t.Errorf("a secret or signature (%d chars) appears in an error", len(s))
		}
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantAllAcknowledged(t *testing.T, out []destination.Outcome) {
	t.Helper()
	for i, o := range out {
		if o.Status != destination.Acknowledged {
			t.Errorf("record %d: outcome %s (%s), want acknowledged", i, o.Status, o.Reason)
		}
	}
}

func keysOf(recs []destination.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Key
	}
	slices.Sort(out)
	return out
}

func testApplyUpdatesState(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	recs := h.records(0, 5)
	out, err := h.apply(ctx, recs)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	wantAllAcknowledged(t, out)
	if got := h.fake.Keys(); !slices.Equal(got, keysOf(recs)) {
		t.Fatalf("fake state keys = %v, want %v", got, keysOf(recs))
	}
	if h.driver.NoRemove {
		checkRequestsAndLogs(t, h)
		return
	}
	removeOp := h.driver.RemoveOp
	if removeOp == "" {
		removeOp = destination.OpDelete
	}
	del := []destination.Record{recs[0], recs[1]}
	for i := range del {
		del[i].Op = removeOp
	}
	out, err = h.apply(ctx, del)
	if err != nil {
		t.Fatalf("Apply deletes: %v", err)
	}
	wantAllAcknowledged(t, out)
	if got, want := h.fake.Keys(), keysOf(recs[2:]); !slices.Equal(got, want) {
		t.Errorf("after deletes, keys = %v, want %v", got, want)
	}
	checkRequestsAndLogs(t, h)
}

func checkRequestsAndLogs(t *testing.T, h *harness) {
	t.Helper()
	if !strings.Contains(h.logs.String(), "level=DEBUG") {
		t.Errorf("no debug log records were written to the given Logger; the secret checks would be vacuous")
	}
	if rc, ok := h.dest.(destination.RequestCounter); ok && rc.Requests() != int64(h.fake.Hits()) {
		t.Errorf("Requests() = %d, fake saw %d", rc.Requests(), h.fake.Hits())
	}
}

func testBatchLimit(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	out, err := h.apply(ctx, h.records(0, h.limit))
	if err != nil {
		t.Fatalf("Apply of a full batch (%d records): %v", h.limit, err)
	}
	wantAllAcknowledged(t, out)
	hits := h.fake.Hits()
	_, err = h.apply(ctx, h.records(100, h.limit+1))
	if err == nil || connectors.IsRetryable(err) {
		t.Errorf("Apply of %d records (limit %d): err = %v, want a permanent error", h.limit+1, h.limit, err)
	}
	if h.fake.Hits() != hits {
		t.Errorf("an oversized batch was sent (%d requests)", h.fake.Hits()-hits)
	}
	if got := h.fake.MaxBatchSeen(); got > h.limit {
		t.Errorf("the fake saw a request of %d records, limit %d", got, h.limit)
	}
}

func testRateLimit(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	const n = 6
	start := time.Now()
	for i := range n {
		if _, err := h.apply(ctx, h.records(i, 1)); err != nil {
			t.Fatalf("Apply %d: %v", i, err)
		}
	}
	elapsed := time.Since(start)
	// At 20 requests/s with a burst of at most 1, n requests need (n-1)/20 s. Only the lower
	// bound is checked: a loaded machine makes things slower, never faster.
	if minimum := time.Duration(float64(n-1)/20*0.8*float64(time.Second)) - 10*time.Millisecond; elapsed < minimum {
		t.Errorf("%d requests took %s, want at least %s at 20 requests/s", n, elapsed, minimum)
	}
	if h.fake.Hits() != n {
		t.Errorf("fake saw %d requests, want %d", h.fake.Hits(), n)
	}
}

func testRetriesBounded(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	attempts := 3 // MaxRetries 2 + 1
	cases := []struct {
		f   Failure
		cat connectors.Category
	}{
		{Failure{Status: 500}, connectors.CategoryConnection},
		{Failure{Status: 503, RetryAfter: "0"}, connectors.CategoryConnection},
		{Failure{Status: 429, RetryAfter: "0"}, connectors.CategoryRateLimit},
	}
	for i, tc := range cases {
		before := h.fake.Hits()
		h.fake.FailNext(attempts, tc.f)
		_, err := h.apply(ctx, h.records(10*i, 2))
		if err == nil || !connectors.IsRetryable(err) || connectors.CategoryOf(err) != tc.cat {
			t.Errorf("persistent %d: err = %v, want a retryable %s error", tc.f.Status, err, tc.cat)
		}
		if got := h.fake.Hits() - before; got != attempts {
			t.Errorf("persistent %d: %d attempts, want MaxRetries+1 = %d", tc.f.Status, got, attempts)
		}
	}
	if keys := h.fake.Keys(); len(keys) != 0 {
		t.Errorf("failed batches left state behind: %v", keys)
	}
}

func testRecovers(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	h.fake.FailNext(1, Failure{Status: 503, RetryAfter: "0"})
	h.fake.FailNext(1, Failure{Status: 429, RetryAfter: "0"})
	h.fake.FailNext(1, Failure{Status: 502})
	recs := h.records(0, 3)
	out, err := h.apply(ctx, recs)
	if err != nil {
		t.Fatalf("Apply after 3 transient failures with 3 retries: %v", err)
	}
	wantAllAcknowledged(t, out)
	if h.fake.Hits() != 4 {
		t.Errorf("fake saw %d requests, want 4", h.fake.Hits())
	}
	if got := h.fake.Keys(); !slices.Equal(got, keysOf(recs)) {
		t.Errorf("keys = %v, want %v", got, keysOf(recs))
	}
}

func testPartialFailure(t *testing.T, h *harness) {
	if h.driver.NoPartialFailure {
		t.Skip("the vendor reports no per-record outcomes (Driver.NoPartialFailure)")
	}
	ctx := ctxFor(t)
	recs := h.records(0, 4)
	h.fake.FailNext(1, Failure{
		Reject: map[string]string{"k001": "invalid email address"},
		Retry:  map[string]string{"k002": "temporarily locked"},
	})
	out, err := h.apply(ctx, recs)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	want := []destination.Status{destination.Acknowledged, destination.Rejected, destination.Retryable, destination.Acknowledged}
	for i, o := range out {
		if o.Status != want[i] {
			t.Errorf("%s: outcome %s (%q), want %s", recs[i].Key, o.Status, o.Reason, want[i])
		}
	}
	if !strings.Contains(out[1].Reason, "invalid email address") {
		t.Errorf("rejected reason = %q, want the fake's reason", out[1].Reason)
	}
	if got, want := h.fake.Keys(), []string{"k000", "k003"}; !slices.Equal(got, want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
}

func testExpiredCredentials(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	h.fake.FailNext(1, Failure{Status: 401})
	_, err := h.apply(ctx, h.records(0, 2))
	if connectors.CategoryOf(err) != connectors.CategoryCredentials || connectors.IsRetryable(err) {
		t.Errorf("err = %v, want a permanent credentials error", err)
	}
	if h.fake.Hits() != 1 {
		t.Errorf("a 401 was retried: %d requests", h.fake.Hits())
	}
	if keys := h.fake.Keys(); len(keys) != 0 {
		t.Errorf("state after 401: %v", keys)
	}
}

func testCancellation(t *testing.T, h *harness) {
	// Cancelled during a long Retry-After wait.
	h.fake.FailNext(1, Failure{Status: 429, RetryAfter: "30"})
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(100*time.Millisecond, cancel)
	defer timer.Stop()
	start := time.Now()
	_, err := h.apply(ctx, h.records(0, 2))
	if d := time.Since(start); d > time.Second+100*time.Millisecond {
		t.Errorf("Apply returned %s after the cancel, want within 1s", d-100*time.Millisecond)
	}
	if err == nil {
		t.Errorf("Apply under a cancelled context returned no error")
	} else if !errors.Is(err, context.Canceled) && !connectors.IsRetryable(err) {
		t.Errorf("err = %v, want context.Canceled or a retryable error (the batch is to be sent again)", err)
	}
	// Already cancelled: nothing is sent.
	hits := h.fake.Hits()
	start = time.Now()
	if _, err := h.apply(ctx, h.records(5, 2)); err == nil {
		t.Errorf("Apply with a cancelled context returned no error")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Apply with a cancelled context took %s", d)
	}
	if h.fake.Hits() != hits {
		t.Errorf("a request was sent with a cancelled context")
	}
}

// SyncBuffer is a goroutine-safe bytes.Buffer for capturing logs.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
