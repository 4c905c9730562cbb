package connectortest

import (
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
)

// Script is a queue of scripted answers a fake consumes one per request, so a test can say
// "the next n requests fail like this" in call order. T is the fake's own answer type
// (Failure, or a vendor-specific union of Failure and raw answers). Script does no locking:
// it is guarded by the lock of the fake holding it, like the rest of the fake's state. The
// zero value is an empty queue.
type Script[T any] struct {
	queue []T
}

// Add queues v n times after what is already queued (n <= 0 queues nothing).
func (s *Script[T]) Add(n int, v T) {
	for range n {
		s.queue = append(s.queue, v)
	}
}

// Next removes and returns the first queued answer; ok is false when none is queued.
func (s *Script[T]) Next() (v T, ok bool) {
	if len(s.queue) == 0 {
		return v, false
	}
	v = s.queue[0]
	var zero T
	s.queue[0] = zero // let the answer be collected once consumed
	s.queue = s.queue[1:]
	return v, true
}

// Len is the number of answers still queued.
func (s *Script[T]) Len() int { return len(s.queue) }

// HTTPFake is the scaffolding every fake vendor API shares, so each fake keeps only its
// vendor-specific contract: the httptest server with an idempotent Close, the request counter,
// the largest batch seen, the contract violations and the set of sensitive values. Embedded
// in a fake, it provides URL, Close, Hits, MaxBatchSeen, Violations and SensitiveValues of the
// Fake interface.
//
// It shares the fake's mutex (given to Start) rather than having its own, so that a handler
// holding that mutex for a whole request is observed atomically: a test never sees a request
// counted but not yet applied. Hence two kinds of methods: the accessors (URL, Close, Hits,
// MaxBatchSeen, Violations, SensitiveValues) take the lock themselves, and the recording
// methods (CountHits, SeeBatch, AddViolation, AddSensitive) expect the caller to hold it, as a
// handler does.
type HTTPFake struct {
	mu  *sync.Mutex
	srv *httptest.Server

	closed     bool
	hits       int
	maxBatch   int
	violations []string
	sensitive  map[string]bool
}

// Start starts the server with handler h, guarded by mu (the embedding fake's mutex), and
// makes t.Cleanup close it. The sensitive values (secrets the fake was configured with) are
// recorded from the start. Call it once, after the fake is fully initialised, since requests
// may arrive as soon as it returns.
func (f *HTTPFake) Start(t testing.TB, mu *sync.Mutex, h http.Handler, sensitive ...string) {
	t.Helper()
	f.mu = mu
	f.AddSensitive(sensitive...)
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.Close)
}

// URL is the server's base address.
func (f *HTTPFake) URL() string { return f.srv.URL }

// Close stops the server and closes its connections. It is idempotent.
func (f *HTTPFake) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	f.mu.Unlock()
	f.srv.Close()
}

// Hits is the number of requests counted with CountHits.
func (f *HTTPFake) Hits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits
}

// MaxBatchSeen is the largest batch reported with SeeBatch.
func (f *HTTPFake) MaxBatchSeen() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxBatch
}

// Violations lists every contract violation recorded, in order; a correct client causes none.
func (f *HTTPFake) Violations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.violations...)
}

// SensitiveValues returns, sorted, the secrets the fake was started with and every
// credential recorded since: what must never appear in logs or errors.
func (f *HTTPFake) SensitiveValues() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.sensitive))
	for v := range f.sensitive {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// CountHits adds n to Hits (n may be -1 to take back a request found to be a probe). The
// caller holds the fake's mutex.
func (f *HTTPFake) CountHits(n int) { f.hits += n }

// SeeBatch records that a request carried n records, raising MaxBatchSeen if needed. The
// caller holds the fake's mutex.
func (f *HTTPFake) SeeBatch(n int) { f.maxBatch = max(f.maxBatch, n) }

// AddViolation records a contract violation, as Violations reports it. The caller holds the
// fake's mutex.
func (f *HTTPFake) AddViolation(msg string) { f.violations = append(f.violations, msg) }

// AddSensitive records values that must never be logged; empty strings are ignored. The
// caller holds the fake's mutex (or the fake is not started yet).
func (f *HTTPFake) AddSensitive(values ...string) {
	for _, v := range values {
		if v == "" {
			continue
		}
		if f.sensitive == nil {
			f.sensitive = map[string]bool{}
		}
		f.sensitive[v] = true
	}
}
