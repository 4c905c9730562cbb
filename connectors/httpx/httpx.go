// Package httpx is the HTTP transport every API destination shares: retries with jittered
// exponential backoff, 429 and Retry-After handling, a client-side rate limit waited on before
// every attempt, per-attempt timeouts, redaction of secrets in logs and errors, and the mapping
// of HTTP failures to connectors error categories. It is written once so that dozens of
// platforms behave the same way under failure, and so that the runner can count requests.
//
// Contract of Client.Do:
//   - network errors, 408, 429 and 5xx (except 501) are retried up to MaxRetries times;
//     Retry-After on 429/503 is honoured (seconds or HTTP-date) up to MaxRetryAfter; a 429
//     without Retry-After falls back to a rate-limit reset header (X-RateLimit-Reset and
//     its variants: an epoch in seconds or milliseconds, or seconds until the reset, told
//     apart by magnitude), and else to the jittered backoff;
//   - any other answer (2xx, 3xx, 4xx, 501) is returned as a response for the platform to
//     interpret, typically with Classify; redirects are not followed, so credentials in custom
//     headers never travel to another host;
//   - when retries are exhausted, the error is a *connectors.Error: 429 → rate_limit, 5xx and
//     network → connection, timeouts and cancellation → timeout, all retryable;
//   - ctx cancellation is respected at every wait (rate limiter, backoff, Retry-After, I/O).
//
// Logs (debug level) carry method, URL with sensitive query values and known secrets
// redacted, status, attempt and duration; never headers, never bodies.
package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/time/rate"

	"dinmo/connectors"
)

// Defaults applied to zero Options fields.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultMaxRetries    = 5
	DefaultMinBackoff    = 500 * time.Millisecond
	DefaultMaxBackoff    = 30 * time.Second
	DefaultMaxRetryAfter = 5 * time.Minute
	DefaultUserAgent     = "dinmo"
)

// maxErrorBody bounds how much of an error response is read to build a snippet.
const maxErrorBody = 64 << 10

// Options configures a Client. The zero value gives the documented defaults.
type Options struct {
	// Timeout bounds one attempt: connecting, sending, and reading the response headers and
	// body (the caller's reads of a returned body count too). Default 30s.
	Timeout time.Duration
	// MaxRetries is the number of retries after the first attempt. 0 means DefaultMaxRetries;
	// a negative value disables retries (one attempt only).
	MaxRetries int
	// MinBackoff and MaxBackoff bound the jittered exponential wait between attempts
	// (defaults 500ms and 30s). The wait before retry n is drawn from [d/2, d] with
	// d = min(MinBackoff·2ⁿ, MaxBackoff).
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter caps how long a server-requested delay (Retry-After on 429 and 503, or a
	// rate-limit reset header on 429) is honoured; it may exceed MaxBackoff. A longer request
	// ends the call with a retryable error instead of waiting, so a run does not stall.
	// Default 5 minutes.
	MaxRetryAfter time.Duration
	// RequestsPerSecond limits attempts (retries included) with a token bucket of size Burst
	// (default 1). 0 means unlimited.
	RequestsPerSecond float64
	Burst             int
	// Limiter, when set, replaces RequestsPerSecond/Burst, so several clients (for example
	// several runs against one API account) can share one budget.
	Limiter *rate.Limiter
	// Logger receives one debug record per attempt. nil discards.
	Logger *slog.Logger
	// Redact lists secret values (tokens, keys) to scrub from anything logged or put in errors,
	// in raw and URL-encoded form. Empty strings are ignored.
	Redact []string
	// UserAgent is sent when the request sets none. Default "dinmo".
	UserAgent string
	// BeforeAttempt, when set, is called before every attempt (after the rate limiter) with a
	// copy of the request and the body bytes, to set what must be fresh per attempt: request
	// timestamps and signatures. An error ends the call without sending.
	BeforeAttempt func(req *http.Request, body []byte) error
	// Transport is the underlying round tripper (default: a clone of http.DefaultTransport).
	Transport http.RoundTripper
}

// Client sends HTTP requests with the shared retry, rate-limit, timeout and redaction policy.
// It is safe for concurrent use.
type Client struct {
	rc            *retryablehttp.Client
	base          http.RoundTripper
	timeout       time.Duration
	maxRetryAfter time.Duration
	limiter       *rate.Limiter
	logger        *slog.Logger
	redactor      *strings.Replacer
	userAgent     string
	beforeAttempt func(*http.Request, []byte) error
	requests      atomic.Int64
}

// New builds a Client from opts, applying defaults to zero fields.
func New(opts Options) *Client {
	c := &Client{
		timeout:       opts.Timeout,
		maxRetryAfter: opts.MaxRetryAfter,
		limiter:       opts.Limiter,
		logger:        opts.Logger,
		userAgent:     opts.UserAgent,
		beforeAttempt: opts.BeforeAttempt,
		base:          opts.Transport,
		redactor:      newRedactor(opts.Redact),
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxRetryAfter <= 0 {
		c.maxRetryAfter = DefaultMaxRetryAfter
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if c.base == nil {
		c.base = http.DefaultTransport
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			c.base = t.Clone() // own connection pool, closed by CloseIdleConnections
		}
	}
	if c.limiter == nil && opts.RequestsPerSecond > 0 {
		burst := opts.Burst
		if burst <= 0 {
			burst = 1
		}
		c.limiter = rate.NewLimiter(rate.Limit(opts.RequestsPerSecond), burst)
	}
	retries := opts.MaxRetries
	switch {
	case retries == 0:
		retries = DefaultMaxRetries
	case retries < 0:
		retries = 0
	}
	minB, maxB := opts.MinBackoff, opts.MaxBackoff
	if minB <= 0 {
		minB = DefaultMinBackoff
	}
	if maxB <= 0 {
		maxB = DefaultMaxBackoff
	}
	if maxB < minB {
		maxB = minB
	}
	c.rc = &retryablehttp.Client{
		HTTPClient: &http.Client{
			Transport: &attemptTransport{c: c},
			// Redirects are returned, not followed: a redirect to another host would carry
			// custom credential headers (X-Api-Key...) that net/http does not strip.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Logger:       nil, // attempts are logged by attemptTransport, with redaction
		RetryWaitMin: minB,
		RetryWaitMax: maxB,
		RetryMax:     retries,
		CheckRetry:   c.checkRetry,
		Backoff:      c.backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return c
}

// Requests returns the number of HTTP attempts sent so far (retries included), for run
// statistics.
func (c *Client) Requests() int64 { return c.requests.Load() }

// CloseIdleConnections closes kept-alive connections. Destinations call it from Close so a
// finished run leaves no connection goroutines behind. The client stays usable.
func (c *Client) CloseIdleConnections() {
	c.rc.HTTPClient.CloseIdleConnections()
}

// Redact returns s with every configured secret replaced by "REDACTED". Platforms use it on
// any text they put in errors or outcome reasons that came from outside (response bodies).
func (c *Client) Redact(s string) string {
	if c.redactor == nil {
		return s
	}
	return c.redactor.Replace(s)
}

// Do sends req with ctx, retrying as described in the package documentation. The request body
// is read once and re-sent on every attempt. On success the caller must close the response
// body. 4xx answers (except 408 and 429) are returned as responses, not errors; use Classify
// to turn them into errors. Any error returned is a *connectors.Error (possibly wrapped).
func (c *Client) Do(ctx context.Context, req *http.Request) (*http.Response, error) {
	st := &callState{}
	ctx = context.WithValue(ctx, stateKey{}, st)
	where := req.Method + " " + c.RedactURL(req.URL)
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, connectors.Permanent(connectors.CategoryInternal, fmt.Errorf("%s: reading request body: %w", where, err))
		}
		st.body = b
	}
	out := req.Clone(ctx)
	out.Body, out.GetBody, out.ContentLength = nil, nil, 0
	if out.Header == nil {
		out.Header = http.Header{}
	}
	if out.Header.Get("User-Agent") == "" {
		out.Header.Set("User-Agent", c.userAgent)
	}
	rreq, err := retryablehttp.FromRequest(out)
	if err != nil {
		return nil, connectors.Permanent(connectors.CategoryInternal, fmt.Errorf("%s: %w", where, err))
	}
	if st.body != nil {
		if err := rreq.SetBody(st.body); err != nil {
			return nil, connectors.Permanent(connectors.CategoryInternal, fmt.Errorf("%s: %w", where, err))
		}
	}
	resp, err := c.rc.Do(rreq)
	attempts := st.attempts.Load()
	if err != nil {
		if resp != nil {
			drain(resp.Body)
		}
		return nil, c.transportError(where, attempts, err)
	}
	if retryableStatus(resp.StatusCode) {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		drain(resp.Body)
		se := &StatusError{StatusCode: resp.StatusCode, Snippet: c.Redact(Snippet(body)), Attempts: int(attempts)}
		if d, ok := retryAfter(resp); ok {
			se.RetryAfter = d
		}
		cat := statusCategory(resp.StatusCode)
		msg := fmt.Sprintf("%s: giving up after %d attempt(s)", where, attempts)
		if se.RetryAfter > c.maxRetryAfter {
			msg = fmt.Sprintf("%s: the server asked to retry after %s, more than the %s this client waits", where, se.RetryAfter, c.maxRetryAfter)
		}
		return nil, connectors.Retryable(cat, fmt.Errorf("%s: %w", msg, se))
	}
	return resp, nil
}

// StatusError is an HTTP answer that ended a request unsuccessfully. It sits inside the
// *connectors.Error that Do and Classify return, so callers can read the status code.
type StatusError struct {
	StatusCode int
	// Snippet is the start of the response body (at most 300 characters, secrets redacted
	// when produced by Client.Do).
	Snippet string
	// RetryAfter is the delay the server asked for (Retry-After, or the time until its
	// rate-limit reset header), 0 when absent.
	RetryAfter time.Duration
	// Attempts is the number of attempts made (0 when built by Classify).
	Attempts int
}

func (e *StatusError) Error() string {
	if e.Snippet == "" {
		return fmt.Sprintf("HTTP %d", e.StatusCode)
	}
	return fmt.Sprintf("HTTP %d: %s", e.StatusCode, e.Snippet)
}

// Classify maps an HTTP status and response body to an error: nil for 2xx; 401/403 →
// credentials (permanent); 404/410 → not_found (permanent); 400, 413, 422, other 4xx, 3xx and
// 501 → configuration (permanent); 408 → timeout, 429 → rate_limit, other 5xx → connection
// (retryable). The message is "HTTP <status>: <snippet>" with at most 300 characters of the
// body. Redact the body first (Client.Redact) if it may echo secrets.
func Classify(status int, body []byte) error {
	if status >= 200 && status < 300 {
		return nil
	}
	se := &StatusError{StatusCode: status, Snippet: Snippet(body)}
	cat := statusCategory(status)
	if retryableStatus(status) {
		return connectors.Retryable(cat, se)
	}
	return connectors.Permanent(cat, se)
}

func statusCategory(status int) connectors.Category {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return connectors.CategoryCredentials
	case status == http.StatusNotFound || status == http.StatusGone:
		return connectors.CategoryNotFound
	case status == http.StatusRequestTimeout:
		return connectors.CategoryTimeout
	case status == http.StatusTooManyRequests:
		return connectors.CategoryRateLimit
	case status == http.StatusNotImplemented:
		return connectors.CategoryConfiguration
	case status >= 500 && status < 600:
		return connectors.CategoryConnection
	case status >= 300 && status < 500:
		return connectors.CategoryConfiguration
	}
	return connectors.CategoryInternal
}

// retryableStatus lists the statuses Do retries and turns into errors once retries run out.
func retryableStatus(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests ||
		(status >= 500 && status < 600 && status != http.StatusNotImplemented)
}

// SnippetLimit is the most characters of a response body Snippet keeps.
const SnippetLimit = 300

// Snippet returns the start of a response body for messages: valid UTF-8, whitespace
// collapsed, at most SnippetLimit characters (an ellipsis marks a cut).
func Snippet(body []byte) string {
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(body), "\uFFFD")), " ")
	r := []rune(s)
	if len(r) > SnippetLimit {
		return string(r[:SnippetLimit]) + "…"
	}
	return s
}

// RedactURL renders u for logs and errors: user-info passwords, the values of query
// parameters whose names look sensitive (key, token, secret, sig, password, auth, session,
// credential), and every configured secret are replaced by "REDACTED".
func (c *Client) RedactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	cp := *u
	if _, has := cp.User.Password(); has {
		cp.User = url.UserPassword(cp.User.Username(), "REDACTED")
	}
	if cp.RawQuery != "" {
		q := cp.Query()
		for name := range q {
			if sensitiveName(name) {
				for i := range q[name] {
					q[name][i] = "REDACTED"
				}
			}
		}
		cp.RawQuery = q.Encode()
	}
	return c.Redact(cp.String())
}

var sensitiveParts = []string{"key", "token", "secret", "sig", "pass", "auth", "session", "credential"}

func sensitiveName(name string) bool {
	n := strings.ToLower(name)
	for _, p := range sensitiveParts {
		if strings.Contains(n, p) {
			return true
		}
	}
	return false
}

func newRedactor(secrets []string) *strings.Replacer {
	seen := map[string]bool{}
	var forms []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, f := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
			if !seen[f] {
				seen[f] = true
				forms = append(forms, f)
			}
		}
	}
	if len(forms) == 0 {
		return nil
	}
	// Longest first, so a secret containing another is replaced whole.
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	args := make([]string, 0, 2*len(forms))
	for _, f := range forms {
		args = append(args, f, "REDACTED")
	}
	return strings.NewReplacer(args...)
}

// callState is per Do call; attemptTransport finds it in the request context.
type callState struct {
	attempts atomic.Int64
	body     []byte
}

type stateKey struct{}

var (
	errRateWait      = errors.New("waiting for the client rate limit would exceed the deadline")
	errBeforeAttempt = errors.New("preparing the request")
)

// attemptTransport runs once per attempt: it waits on the rate limiter, applies the
// per-attempt timeout and BeforeAttempt, counts and logs the attempt.
type attemptTransport struct{ c *Client }

func (t *attemptTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := t.c
	ctx := req.Context()
	st, _ := ctx.Value(stateKey{}).(*callState)
	closeBody := func() {
		if req.Body != nil {
			_ = req.Body.Close()
		}
	}
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			closeBody()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("%w: %w", errRateWait, err)
		}
	}
	if err := ctx.Err(); err != nil {
		closeBody()
		return nil, err
	}
	attempt := int64(1)
	if st != nil {
		attempt = st.attempts.Add(1)
	}
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	out := req.Clone(actx)
	if c.beforeAttempt != nil {
		var body []byte
		if st != nil {
			body = st.body
		}
		if err := c.beforeAttempt(out, body); err != nil {
			cancel()
			closeBody()
			return nil, fmt.Errorf("%w: %w", errBeforeAttempt, err)
		}
	}
	c.requests.Add(1)
	start := time.Now()
	resp, err := c.base.RoundTrip(out)
	dur := time.Since(start)
	if c.logger.Enabled(ctx, slog.LevelDebug) {
		attrs := []slog.Attr{
			slog.String("method", req.Method),
			slog.String("url", c.RedactURL(req.URL)),
			slog.Int64("attempt", attempt),
			slog.Duration("duration", dur),
		}
		if err != nil {
			attrs = append(attrs, slog.String("error", c.Redact(err.Error())))
		} else {
			attrs = append(attrs, slog.Int("status", resp.StatusCode))
		}
		c.logger.LogAttrs(ctx, slog.LevelDebug, "http attempt", attrs...)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// CloseIdleConnections forwards to the base transport, so http.Client.CloseIdleConnections
// reaches it.
func (t *attemptTransport) CloseIdleConnections() {
	if ci, ok := t.c.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// cancelOnClose ends the per-attempt context when the body is closed, like http.Client does
// for its own Timeout.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		if errors.Is(err, errRateWait) || errors.Is(err, errBeforeAttempt) {
			return false, err
		}
		// Retries network errors except the hopeless ones (bad scheme, TLS trust, invalid
		// header, redirect loops).
		return retryablehttp.ErrorPropagatedRetryPolicy(ctx, nil, err)
	}
	if !retryableStatus(resp.StatusCode) {
		return false, nil
	}
	if d, ok := retryAfter(resp); ok && d > c.maxRetryAfter {
		return false, nil
	}
	return true, nil
}

func (c *Client) backoff(minB, maxB time.Duration, attempt int, resp *http.Response) time.Duration {
	if d, ok := retryAfter(resp); ok {
		return min(d, c.maxRetryAfter)
	}
	d := maxB
	if attempt < 32 {
		if x := minB << uint(attempt); x > 0 && x < maxB {
			d = x
		}
	}
	half := d / 2
	return half + rand.N(d-half+1) //nolint:gosec // backoff jitter needs no cryptographic randomness
}

// maxServerDelay bounds any server-requested delay before it is compared with MaxRetryAfter,
// so absurd values cannot overflow a time.Duration.
const maxServerDelay = 24 * time.Hour

// resetHeaders are the rate-limit reset headers read, in this order, when a 429 answer
// carries no usable Retry-After. Vendors that only announce when their rate-limit window
// resets (Braze, SendGrid, Intercom, Criteo, GitHub-style APIs) put it there. Header names
// are case-insensitive, so x-ratelimit-reset (HTTP/2) is the same header.
var resetHeaders = []string{"X-RateLimit-Reset", "X-Rate-Limit-Reset", "RateLimit-Reset"}

// Thresholds that tell the forms of a reset header value apart. No delay worth waiting is
// anywhere near 10⁹ seconds (31 years), and no epoch in seconds reaches 10¹² before the
// year 33658, so the three ranges cannot be confused.
const (
	epochSecondsFrom = 1e9  // from 2001-09-09 as an epoch in seconds
	epochMillisFrom  = 1e12 // from 2001-09-09 as an epoch in milliseconds
)

// retryAfter reads the delay a 429 or 503 answer asks for: Retry-After (delay-seconds or an
// HTTP-date; a past date means now), else, on 429 only, a rate-limit reset header.
func retryAfter(resp *http.Response) (time.Duration, bool) {
	if resp == nil {
		return 0, false
	}
	return parseRetryDelay(resp.StatusCode, resp.Header, time.Now())
}

// parseRetryAfter is parseRetryDelay at the current time.
func parseRetryAfter(status int, h http.Header) (time.Duration, bool) {
	return parseRetryDelay(status, h, time.Now())
}

// parseRetryDelay returns the delay the server asked for, as of now, and whether it asked
// for one. Retry-After is honoured on 429 and 503. On a 429 without a usable Retry-After,
// the first parsable resetHeaders value is read by magnitude: below 10⁹ it is the number of
// seconds until the reset (RateLimit-Reset, Criteo, some X-RateLimit-Reset users); from 10⁹
// an epoch in seconds (Braze, SendGrid, Intercom); from 10¹² an epoch in milliseconds. An
// epoch already past (the window has reset, or the clocks disagree) yields no delay, so the
// jittered backoff applies instead of an immediate retry.
func parseRetryDelay(status int, h http.Header, now time.Time) (time.Duration, bool) {
	if status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
		return 0, false
	}
	if d, ok := parseRetryAfterHeader(h.Get("Retry-After"), now); ok {
		return d, true
	}
	if status != http.StatusTooManyRequests {
		return 0, false
	}
	for _, name := range resetHeaders {
		if d, ok := parseResetHeader(h.Get(name), now); ok {
			return d, true
		}
	}
	return 0, false
}

func parseRetryAfterHeader(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, int64(maxServerDelay/time.Second))) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	if d := t.Sub(now); d > 0 {
		return min(d, maxServerDelay), true
	}
	return 0, true
}

// parseResetHeader reads one rate-limit reset value (integer or decimal): seconds until the
// reset, or an epoch in seconds or milliseconds, told apart by magnitude.
func parseResetHeader(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, false
	}
	var d time.Duration
	switch {
	case f >= epochMillisFrom:
		d = time.UnixMilli(int64(f)).Sub(now)
	case f >= epochSecondsFrom:
		sec, frac := math.Modf(f)
		d = time.Unix(int64(sec), int64(frac*1e9)).Sub(now)
	default:
		if f >= maxServerDelay.Seconds() {
			return maxServerDelay, true
		}
		return time.Duration(f * float64(time.Second)), true
	}
	if d <= 0 {
		return 0, false
	}
	return min(d, maxServerDelay), true
}

// transportError classifies an error from the retry loop (no usable response).
func (c *Client) transportError(where string, attempts int64, err error) error {
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		inner = ue.Err // url.Error repeats the raw URL, which may carry secrets
	}
	wrap := func(format string, args ...any) error {
		return &scrubbedError{msg: c.Redact(fmt.Sprintf(format, args...)), cause: inner}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return connectors.Retryable(connectors.CategoryTimeout, wrap("%s: cancelled after %d attempt(s): %v", where, attempts, inner))
	case errors.Is(err, errRateWait):
		return connectors.Retryable(connectors.CategoryTimeout, wrap("%s: %v", where, inner))
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return connectors.Retryable(connectors.CategoryTimeout, wrap("%s: timed out after %d attempt(s): %v", where, attempts, inner))
	case errors.Is(err, errBeforeAttempt):
		return connectors.Permanent(connectors.CategoryInternal, wrap("%s: %v", where, inner))
	}
	if retry, _ := retryablehttp.ErrorPropagatedRetryPolicy(context.Background(), nil, err); !retry {
		return connectors.Permanent(connectors.CategoryConnection, wrap("%s: %v (not retried: fix the address or TLS setup)", where, inner))
	}
	return connectors.Retryable(connectors.CategoryConnection, wrap("%s: failed after %d attempt(s): %v", where, attempts, inner))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// scrubbedError carries a redacted message while keeping the cause for errors.Is/As.
type scrubbedError struct {
	msg   string
	cause error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.cause }

func drain(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 4096))
	_ = body.Close()
}
