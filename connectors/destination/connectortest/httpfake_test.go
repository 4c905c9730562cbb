package connectortest

import (
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestScriptQueuesInCallOrder(t *testing.T) {
	var s Script[Failure]
	if f, ok := s.Next(); ok || f.Status != 0 {
		t.Fatalf("empty script: Next() = %+v, %v, want zero, false", f, ok)
	}
	s.Add(2, Failure{Status: 429, RetryAfter: "1"})
	s.Add(0, Failure{Status: 400})  // queues nothing
	s.Add(-3, Failure{Status: 401}) // queues nothing
	s.Add(1, Failure{Status: 503})
	if got := s.Len(); got != 3 {
		t.Fatalf("Len() = %d, want 3", got)
	}
	var got []int
	for {
		f, ok := s.Next()
		if !ok {
			break
		}
		got = append(got, f.Status)
	}
	if want := []int{429, 429, 503}; !slices.Equal(got, want) {
		t.Fatalf("statuses popped = %v, want %v", got, want)
	}
	if s.Len() != 0 {
		t.Fatalf("Len() after draining = %d, want 0", s.Len())
	}
	s.Add(1, Failure{Status: 500})
	if f, ok := s.Next(); !ok || f.Status != 500 {
		t.Fatalf("after refill: Next() = %+v, %v, want 500, true", f, ok)
	}
}

// newTestFake starts an HTTPFake whose handler counts every request, sees a batch of the
// request's X-Batch size, and records its Authorization value and, for path /bad, a violation.
func newTestFake(t *testing.T, sensitive ...string) (*HTTPFake, *sync.Mutex) {
	t.Helper()
	var (
		mu sync.Mutex
		f  HTTPFake
	)
	f.Start(t, &mu, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		f.CountHits(1)
		f.AddSensitive(r.Header.Get("Authorization"))
		switch r.URL.Path {
		case "/bad":
			f.AddViolation("bad path " + r.URL.Path)
			w.WriteHeader(http.StatusBadRequest)
		case "/probe":
			f.CountHits(-1)
		default:
			f.SeeBatch(len(r.Header.Values("X-Record")))
		}
	}), sensitive...)
	return &f, &mu
}

func do(t *testing.T, url string, header map[string][]string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
}

func TestHTTPFakeRecordsAndReports(t *testing.T) {
	f, _ := newTestFake(t, "configured-secret", "")
	if got := f.SensitiveValues(); !slices.Equal(got, []string{"configured-secret"}) {
		t.Fatalf("SensitiveValues() at start = %v, want only the configured secret (empty ignored)", got)
	}
	do(t, f.URL()+"/data", map[string][]string{"X-Record": {"a", "b", "c"}, "Authorization": {"Bearer zzz"}})
	do(t, f.URL()+"/data", map[string][]string{"X-Record": {"a"}})
	do(t, f.URL()+"/bad", map[string][]string{"Authorization": {"Bearer aaa"}})
	do(t, f.URL()+"/probe", nil)

	if got := f.Hits(); got != 3 {
		t.Errorf("Hits() = %d, want 3 (the probe taken back)", got)
	}
	if got := f.MaxBatchSeen(); got != 3 {
		t.Errorf("MaxBatchSeen() = %d, want 3", got)
	}
	if got, want := f.Violations(), []string{"bad path /bad"}; !slices.Equal(got, want) {
		t.Errorf("Violations() = %v, want %v", got, want)
	}
	if got, want := f.SensitiveValues(), []string{"Bearer aaa", "Bearer zzz", "configured-secret"}; !slices.Equal(got, want) {
		t.Errorf("SensitiveValues() = %v, want %v (sorted, deduplicated)", got, want)
	}
	// The accessors return copies.
	v := f.Violations()
	v[0] = "changed"
	if f.Violations()[0] != "bad path /bad" {
		t.Error("Violations() returned the fake's own slice")
	}
}

func TestHTTPFakeCloseIsIdempotent(t *testing.T) {
	f, _ := newTestFake(t)
	url := f.URL()
	do(t, url, nil)
	f.Close()
	f.Close() // and t.Cleanup closes it a third time
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		_ = resp.Body.Close()
		t.Fatal("request after Close succeeded, want a connection error")
	}
}

func TestHTTPFakeSharesTheFakesLock(t *testing.T) {
	f, mu := newTestFake(t)
	// While the fake's lock is held (a handler mid-request), accessors wait: a request is
	// observed entirely or not at all.
	mu.Lock()
	done := make(chan int)
	go func() { done <- f.Hits() }()
	select {
	case got := <-done:
		mu.Unlock()
		t.Fatalf("Hits() = %d returned while the fake's lock was held", got)
	case <-time.After(50 * time.Millisecond):
	}
	f.CountHits(5)
	mu.Unlock()
	if got := <-done; got != 5 {
		t.Fatalf("Hits() read while the lock was held = %d, want 5 (read after the update)", got)
	}
}

func TestHTTPFakeConcurrentRequests(t *testing.T) {
	f, _ := newTestFake(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			records := slices.Repeat([]string{"r"}, i%7)
			do(t, f.URL()+"/data", map[string][]string{"X-Record": records})
		})
	}
	wg.Wait()
	if got := f.Hits(); got != 20 {
		t.Errorf("Hits() = %d, want 20", got)
	}
	if got := f.MaxBatchSeen(); got != 6 {
		t.Errorf("MaxBatchSeen() = %d, want 6", got)
	}
}
