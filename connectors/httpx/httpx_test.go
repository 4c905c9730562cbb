package httpx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"dinmo/connectors"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fastOpts are options with tiny backoffs so retry tests stay quick.
func fastOpts(retries int) Options {
	return Options{MaxRetries: retries, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Timeout: 5 * time.Second}
}

// scripted answers each request with the next status of a list (the last one repeats).
type scripted struct {
	mu       sync.Mutex
	statuses []int
	headers  []http.Header
	bodies   [][]byte
	hits     int
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	i := s.hits
	s.hits++
	s.bodies = append(s.bodies, b)
	s.headers = append(s.headers, r.Header.Clone())
	st := s.statuses[min(i, len(s.statuses)-1)]
	s.mu.Unlock()
	if st == http.StatusTooManyRequests || st == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "0")
	}
	w.WriteHeader(st)
	_, _ = w.Write([]byte(`{"error":"status ` + http.StatusText(st) + `"}`))
}

func (s *scripted) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, c *Client, ctx context.Context, url string, body string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(ctx, req)
	t.Cleanup(c.CloseIdleConnections)
	return resp, err
}

// postErr posts an empty body when only the error matters.
func postErr(t *testing.T, c *Client, ctx context.Context, url string) error {
	t.Helper()
	resp, err := post(t, c, ctx, url, "")
	if resp != nil {
		_ = resp.Body.Close()
	}
	return err
}

func TestRetriesThenSucceedsResendingBody(t *testing.T) {
	s := &scripted{statuses: []int{500, 503, 429, 200}}
	srv := newServer(t, s)
	c := New(fastOpts(5))
	resp, err := post(t, c, context.Background(), srv.URL, `{"a":1}`)
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status = %d", resp.StatusCode)
	}
	if got := c.Requests(); got != 4 {
		t.Errorf("Requests() = %d, want 4", got)
	}
	for i, b := range s.bodies {
		if string(b) != `{"a":1}` {
			t.Errorf("attempt %d body = %q, want the original body", i+1, b)
		}
	}
	if ua := s.headers[0].Get("User-Agent"); ua != DefaultUserAgent {
		t.Errorf("User-Agent = %q", ua)
	}
}

func TestExhaustedRetriesAreClassified(t *testing.T) {
	cases := []struct {
		status int
		cat    connectors.Category
	}{
		{500, connectors.CategoryConnection},
		{502, connectors.CategoryConnection},
		{503, connectors.CategoryConnection},
		{429, connectors.CategoryRateLimit},
		{408, connectors.CategoryTimeout},
	}
	for _, tc := range cases {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			s := &scripted{statuses: []int{tc.status}}
			srv := newServer(t, s)
			c := New(fastOpts(2))
			resp, err := post(t, c, context.Background(), srv.URL, "x")
			if err == nil {
				_ = resp.Body.Close()
				t.Fatal("want an error after exhausted retries")
			}
			if !connectors.IsRetryable(err) || connectors.CategoryOf(err) != tc.cat {
				t.Errorf("err = %v: category %s retryable %v, want %s retryable", err, connectors.CategoryOf(err), connectors.IsRetryable(err), tc.cat)
			}
			var se *StatusError
			if !errors.As(err, &se) || se.StatusCode != tc.status || se.Attempts != 3 {
				t.Errorf("StatusError = %+v, want status %d after 3 attempts", se, tc.status)
			}
			if s.count() != 3 || c.Requests() != 3 {
				t.Errorf("server saw %d, client counted %d, want 3 (MaxRetries+1)", s.count(), c.Requests())
			}
			if !strings.Contains(err.Error(), "status") {
				t.Errorf("error lacks the body snippet: %v", err)
			}
		})
	}
}

func TestClientErrorsAreReturnedNotRetried(t *testing.T) {
	for _, st := range []int{400, 401, 403, 404, 413, 422, 501, 302} {
		t.Run(http.StatusText(st), func(t *testing.T) {
			s := &scripted{statuses: []int{st}}
			srv := newServer(t, s)
			c := New(fastOpts(3))
			resp, err := post(t, c, context.Background(), srv.URL, "x")
			if err != nil {
				t.Fatalf("Do: %v (a %d must come back as a response)", err, st)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != st || s.count() != 1 {
				t.Errorf("status %d after %d requests, want %d after 1", resp.StatusCode, s.count(), st)
			}
		})
	}
}

func TestNegativeMaxRetriesDisablesRetries(t *testing.T) {
	s := &scripted{statuses: []int{500}}
	srv := newServer(t, s)
	c := New(Options{MaxRetries: -1})
	if err := postErr(t, c, context.Background(), srv.URL); err == nil {
		t.Fatal("want error")
	}
	if s.count() != 1 {
		t.Errorf("requests = %d, want 1", s.count())
	}
}

func TestRetryAfterSecondsIsHonoured(t *testing.T) {
	var hits atomic.Int32
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	c := New(fastOpts(3)) // backoff alone would wait ~1ms
	start := time.Now()
	resp, err := post(t, c, context.Background(), srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("retried after %s, want at least the 1s Retry-After", d)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	type answer struct {
		status int
		h      http.Header
	}
	mk := func(status int, v string) answer {
		h := http.Header{}
		if v != "" {
			h.Set("Retry-After", v)
		}
		return answer{status, h}
	}
	future := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	cases := []struct {
		name     string
		resp     answer
		ok       bool
		min, max time.Duration
	}{
		{"seconds", mk(429, "7"), true, 7 * time.Second, 7 * time.Second},
		{"http-date", mk(503, future), true, 85 * time.Second, 91 * time.Second},
		{"past date", mk(429, past), true, 0, 0},
		{"negative", mk(429, "-3"), false, 0, 0},
		{"garbage", mk(429, "soon"), false, 0, 0},
		{"absent", mk(429, ""), false, 0, 0},
		{"ignored on 500", mk(500, "7"), false, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := parseRetryAfter(tc.resp.status, tc.resp.h)
			if ok != tc.ok || d < tc.min || d > tc.max {
				t.Errorf("retryAfter = %s, %v; want %v in [%s, %s]", d, ok, tc.ok, tc.min, tc.max)
			}
		})
	}
}

func TestBackoffIsJitteredExponentialAndCapped(t *testing.T) {
	c := New(Options{MaxRetryAfter: time.Minute})
	for attempt := 0; attempt < 40; attempt++ {
		want := min(100*time.Millisecond<<min(attempt, 20), 2*time.Second)
		for range 20 {
			d := c.backoff(100*time.Millisecond, 2*time.Second, attempt, nil)
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: backoff %s outside [%s, %s]", attempt, d, want/2, want)
			}
		}
	}
	// Retry-After beyond MaxBackoff is honoured, up to MaxRetryAfter.
	resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"45"}}}
	if d := c.backoff(time.Millisecond, time.Second, 0, resp); d != 45*time.Second {
		t.Errorf("Retry-After 45 gave %s", d)
	}
}

func TestRetryAfterBeyondCapFailsFast(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	opts := fastOpts(5)
	opts.MaxRetryAfter = 100 * time.Millisecond
	c := New(opts)
	start := time.Now()
	err := postErr(t, c, context.Background(), srv.URL)
	if time.Since(start) > 2*time.Second {
		t.Errorf("took %s; a Retry-After beyond the cap must not be waited", time.Since(start))
	}
	if connectors.CategoryOf(err) != connectors.CategoryRateLimit || !connectors.IsRetryable(err) {
		t.Fatalf("err = %v, want retryable rate_limit", err)
	}
	var se *StatusError
	if !errors.As(err, &se) || se.RetryAfter != time.Hour || c.Requests() != 1 {
		t.Errorf("StatusError = %+v after %d requests, want RetryAfter 1h after 1", se, c.Requests())
	}
}

func TestCancellationDuringRetryAfterWait(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	c := New(fastOpts(5))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err := postErr(t, c, ctx, srv.URL)
	if d := time.Since(start); d > time.Second {
		t.Errorf("returned after %s, want promptly after cancel", d)
	}
	if !errors.Is(err, context.Canceled) || connectors.CategoryOf(err) != connectors.CategoryTimeout || !connectors.IsRetryable(err) {
		t.Errorf("err = %v, want a retryable timeout wrapping context.Canceled", err)
	}
}

func TestCancelledBeforeStart(t *testing.T) {
	s := &scripted{statuses: []int{200}}
	srv := newServer(t, s)
	c := New(fastOpts(5))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := postErr(t, c, ctx, srv.URL); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if s.count() != 0 {
		t.Errorf("server saw %d requests after cancel", s.count())
	}
}

func TestPerAttemptTimeout(t *testing.T) {
	var hits atomic.Int32
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	opts := fastOpts(1)
	opts.Timeout = 50 * time.Millisecond
	c := New(opts)
	start := time.Now()
	err := postErr(t, c, context.Background(), srv.URL)
	if connectors.CategoryOf(err) != connectors.CategoryTimeout || !connectors.IsRetryable(err) {
		t.Fatalf("err = %v, want retryable timeout", err)
	}
	if c.Requests() != 2 {
		t.Errorf("attempts = %d, want 2", c.Requests())
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %s, want about 2×50ms", d)
	}
}

func TestNetworkErrorIsRetryableConnection(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/path?api_key=topsecret"
	srv.Close() // connection refused from now on
	c := New(fastOpts(2))
	err := postErr(t, c, context.Background(), url)
	if connectors.CategoryOf(err) != connectors.CategoryConnection || !connectors.IsRetryable(err) {
		t.Fatalf("err = %v, want retryable connection", err)
	}
	if c.Requests() != 3 {
		t.Errorf("attempts = %d, want 3", c.Requests())
	}
	if strings.Contains(err.Error(), "topsecret") {
		t.Errorf("error leaks a query secret: %v", err)
	}
}

func TestBadSchemeIsPermanent(t *testing.T) {
	c := New(fastOpts(3))
	err := postErr(t, c, context.Background(), "ftp://example.invalid/x")
	if err == nil || connectors.IsRetryable(err) {
		t.Fatalf("err = %v, want a permanent error", err)
	}
	if c.Requests() != 1 {
		t.Errorf("attempts = %d, want 1", c.Requests())
	}
}

func TestRateLimitAppliesToEveryAttempt(t *testing.T) {
	s := &scripted{statuses: []int{500, 500, 200, 200, 200, 200}}
	srv := newServer(t, s)
	opts := fastOpts(5)
	opts.RequestsPerSecond = 20
	c := New(opts)
	start := time.Now()
	for range 4 {
		resp, err := post(t, c, context.Background(), srv.URL, "")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	// 6 attempts with burst 1 at 20/s need at least 5 intervals of 50ms.
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("6 attempts took %s, want ≥ 250ms at 20 req/s", d)
	}
	if c.Requests() != 6 {
		t.Errorf("attempts = %d, want 6", c.Requests())
	}
}

func TestRateLimitWaitBeyondDeadline(t *testing.T) {
	s := &scripted{statuses: []int{200}}
	srv := newServer(t, s)
	opts := fastOpts(0)
	opts.RequestsPerSecond = 0.1 // one request per 10s
	c := New(opts)
	resp, err := post(t, c, context.Background(), srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = postErr(t, c, ctx, srv.URL)
	if connectors.CategoryOf(err) != connectors.CategoryTimeout || time.Since(start) > time.Second {
		t.Errorf("err = %v after %s, want a prompt timeout", err, time.Since(start))
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	const secret = "s3cr3t-VALUE/+x"
	const unlisted = "querytokenvalue"
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := &scripted{statuses: []int{500, 401}}
	srv := newServer(t, s)
	opts := fastOpts(3)
	opts.Logger = logger
	opts.Redact = []string{secret}
	c := New(opts)
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/hook?token="+unlisted+"&x="+strings.ReplaceAll(secret, "+", "%2B")+"&page=2", strings.NewReader("row data"))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("X-Api-Key", secret)
	resp, err := c.Do(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	c.CloseIdleConnections()
	out := buf.String()
	if !strings.Contains(out, "http attempt") || !strings.Contains(out, "/hook") || !strings.Contains(out, "status=401") {
		t.Fatalf("expected debug records of both attempts, got:\n%s", out)
	}
	for _, leak := range []string{secret, unlisted, "row data", strings.ReplaceAll(secret, "/", "%2F")} {
		if strings.Contains(out, leak) {
			t.Errorf("log contains %q:\n%s", leak, out)
		}
	}
	if !strings.Contains(out, "page=2") {
		t.Errorf("non-sensitive query values should stay readable:\n%s", out)
	}
}

func TestBeforeAttemptRunsOnEveryAttempt(t *testing.T) {
	s := &scripted{statuses: []int{500, 200}}
	srv := newServer(t, s)
	opts := fastOpts(3)
	var n atomic.Int32
	opts.BeforeAttempt = func(req *http.Request, body []byte) error {
		req.Header.Set("X-Attempt", strconv.Itoa(int(n.Add(1))))
		req.Header.Set("X-Body", string(body))
		return nil
	}
	c := New(opts)
	resp, err := post(t, c, context.Background(), srv.URL, "payload")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if s.headers[0].Get("X-Attempt") != "1" || s.headers[1].Get("X-Attempt") != "2" || s.headers[1].Get("X-Body") != "payload" {
		t.Errorf("headers = %v / %v", s.headers[0], s.headers[1])
	}

	opts.BeforeAttempt = func(*http.Request, []byte) error { return errors.New("no key") }
	c2 := New(opts)
	if err := postErr(t, c2, context.Background(), srv.URL); err == nil || connectors.IsRetryable(err) || c2.Requests() != 0 {
		t.Errorf("err = %v, requests %d; want a permanent error and nothing sent", err, c2.Requests())
	}
}

func TestClassify(t *testing.T) {
	long := bytes.Repeat([]byte("é"), 400)
	cases := []struct {
		status    int
		cat       connectors.Category
		retryable bool
	}{
		{400, connectors.CategoryConfiguration, false},
		{401, connectors.CategoryCredentials, false},
		{403, connectors.CategoryCredentials, false},
		{404, connectors.CategoryNotFound, false},
		{410, connectors.CategoryNotFound, false},
		{413, connectors.CategoryConfiguration, false},
		{422, connectors.CategoryConfiguration, false},
		{302, connectors.CategoryConfiguration, false},
		{408, connectors.CategoryTimeout, true},
		{429, connectors.CategoryRateLimit, true},
		{500, connectors.CategoryConnection, true},
		{503, connectors.CategoryConnection, true},
		{501, connectors.CategoryConfiguration, false},
	}
	for _, tc := range cases {
		err := Classify(tc.status, long)
		if connectors.CategoryOf(err) != tc.cat || connectors.IsRetryable(err) != tc.retryable {
			t.Errorf("Classify(%d) = %v (%s, retryable %v), want %s retryable %v", tc.status, err, connectors.CategoryOf(err), connectors.IsRetryable(err), tc.cat, tc.retryable)
		}
		var se *StatusError
		if !errors.As(err, &se) || se.StatusCode != tc.status || len([]rune(se.Snippet)) != SnippetLimit+1 {
			t.Errorf("Classify(%d) StatusError = %+v", tc.status, se)
		}
	}
	if err := Classify(204, nil); err != nil {
		t.Errorf("Classify(204) = %v", err)
	}
	if got := Classify(422, []byte("  bad\n\n  email  ")).Error(); got != "configuration: HTTP 422: bad email" {
		t.Errorf("message = %q", got)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	var other atomic.Int32
	target := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { other.Add(1) }))
	srv := newServer(t, http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	c := New(fastOpts(1))
	resp, err := post(t, c, context.Background(), srv.URL, "x")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || other.Load() != 0 {
		t.Errorf("status %d, target hit %d times; redirects must be returned, not followed", resp.StatusCode, other.Load())
	}
}

func TestConcurrentUse(t *testing.T) {
	s := &scripted{statuses: []int{200}}
	srv := newServer(t, s)
	c := New(fastOpts(1))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			resp, err := post(t, c, context.Background(), srv.URL, "x")
			if err != nil {
				t.Error(err)
				return
			}
			_ = resp.Body.Close()
		})
	}
	wg.Wait()
	if c.Requests() != 8 || s.count() != 8 {
		t.Errorf("client counted %d, server saw %d, want 8", c.Requests(), s.count())
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRateLimitResetHeaderParsing(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	epoch := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	cases := []struct {
		name   string
		status int
		h      http.Header
		ok     bool
		want   time.Duration
	}{
		{"epoch seconds (Braze)", 429, hdr("X-RateLimit-Reset", epoch(3*time.Second)), true, 3 * time.Second},
		{"epoch seconds, lowercase name", 429, hdr("x-ratelimit-reset", epoch(40*time.Second)), true, 40 * time.Second},
		{"epoch with fraction", 429, hdr("X-RateLimit-Reset", strconv.FormatInt(now.Unix()+2, 10)+".5"), true, 2500 * time.Millisecond},
		{"epoch milliseconds", 429, hdr("X-RateLimit-Reset", strconv.FormatInt(now.Add(1500*time.Millisecond).UnixMilli(), 10)), true, 1500 * time.Millisecond},
		{"seconds until reset", 429, hdr("X-RateLimit-Reset", "12"), true, 12 * time.Second},
		{"decimal seconds until reset", 429, hdr("X-Rate-Limit-Reset", "0.25"), true, 250 * time.Millisecond},
		{"IETF RateLimit-Reset delta", 429, hdr("RateLimit-Reset", "7"), true, 7 * time.Second},
		{"zero delta means now", 429, hdr("X-RateLimit-Reset", "0"), true, 0},
		{"huge delta is capped", 429, hdr("X-RateLimit-Reset", "999999999"), true, 24 * time.Hour},
		{"far epoch is capped", 429, hdr("X-RateLimit-Reset", epoch(72*time.Hour)), true, 24 * time.Hour},
		{"past epoch falls back to backoff", 429, hdr("X-RateLimit-Reset", epoch(-5*time.Second)), false, 0},
		{"negative", 429, hdr("X-RateLimit-Reset", "-3"), false, 0},
		{"garbage", 429, hdr("X-RateLimit-Reset", "soon"), false, 0},
		{"not a number", 429, hdr("X-RateLimit-Reset", "NaN"), false, 0},
		{"absent", 429, hdr(), false, 0},
		{"Retry-After wins", 429, hdr("Retry-After", "4", "X-RateLimit-Reset", epoch(30*time.Second)), true, 4 * time.Second},
		{"unusable Retry-After falls through", 429, hdr("Retry-After", "later", "X-RateLimit-Reset", epoch(9*time.Second)), true, 9 * time.Second},
		{"first parsable header wins", 429, hdr("X-RateLimit-Reset", "x", "RateLimit-Reset", "6"), true, 6 * time.Second},
		{"reset ignored on 503", 503, hdr("X-RateLimit-Reset", epoch(3*time.Second)), false, 0},
		{"reset ignored on 500", 500, hdr("X-RateLimit-Reset", "3"), false, 0},
		{"Retry-After HTTP-date against the given clock", 503, hdr("Retry-After", now.Add(20*time.Second).Format(http.TimeFormat)), true, 20 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := parseRetryDelay(tc.status, tc.h, now)
			if ok != tc.ok || d != tc.want {
				t.Errorf("parseRetryDelay = %s, %v; want %s, %v", d, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestRateLimitResetEpochIsHonoured(t *testing.T) {
	var hits atomic.Int32
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			// Braze style: no Retry-After, the window's end as UTC epoch seconds.
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Unix()+2, 10))
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	c := New(fastOpts(3)) // backoff alone would wait ~1ms
	start := time.Now()
	resp, err := post(t, c, context.Background(), srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	// The reset is 1 to 2 seconds away (whole seconds).
	if d := time.Since(start); d < 900*time.Millisecond || d > 10*time.Second {
		t.Errorf("retried after %s, want about the time until X-RateLimit-Reset", d)
	}
	if hits.Load() != 2 {
		t.Errorf("hits = %d, want 2", hits.Load())
	}
}

func TestRateLimitResetBeyondCapFailsFast(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	opts := fastOpts(5)
	opts.MaxRetryAfter = 100 * time.Millisecond
	c := New(opts)
	start := time.Now()
	err := postErr(t, c, context.Background(), srv.URL)
	if time.Since(start) > 2*time.Second {
		t.Errorf("took %s; a reset beyond the cap must not be waited", time.Since(start))
	}
	if connectors.CategoryOf(err) != connectors.CategoryRateLimit || !connectors.IsRetryable(err) {
		t.Fatalf("err = %v, want retryable rate_limit", err)
	}
	var se *StatusError
	if !errors.As(err, &se) || se.RetryAfter < 59*time.Minute || se.RetryAfter > time.Hour || c.Requests() != 1 {
		t.Errorf("StatusError = %+v after %d requests, want RetryAfter ≈1h after 1 request", se, c.Requests())
	}
}

func TestPastRateLimitResetUsesBackoff(t *testing.T) {
	var hits atomic.Int32
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= 2 {
			w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10))
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	c := New(fastOpts(3))
	start := time.Now()
	resp, err := post(t, c, context.Background(), srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s; a past reset must fall back to the short backoff", d)
	}
	if hits.Load() != 3 {
		t.Errorf("hits = %d, want 3", hits.Load())
	}
}
