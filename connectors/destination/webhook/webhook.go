// Package webhook is the "webhook" destination platform: it POSTs batches of records as JSON
// to an HTTP endpoint the user runs (in-house APIs, queues behind an HTTP gateway). Requests
// carry an Idempotency-Key so a receiver can drop retried duplicates, and, with a
// signing_secret, an HMAC-SHA256 signature receivers check with Verify.
//
// Receiver contract (documented for users):
//
//	POST <url>
//	Content-Type: application/json
//	Idempotency-Key: <run_id>-<batch>-<digest of the records>  (stable across retries of a batch)
//	X-Dinmo-Run-Id, X-Dinmo-Activation-Id
//	X-Dinmo-Timestamp: <unix seconds>, X-Dinmo-Signature: v1=<hex hmac_sha256(secret, timestamp + "." + body)>
//	Authorization: Bearer <bearer_token>                       (when configured)
//
//	{"activation_id":"...","activation_name":"...","run_id":"...","batch":1,"sent_at":"<RFC 3339>",
//	 "records":[{"key":"...","op":"upsert","fields":{...}}]}
//
// A 2xx answer acknowledges every record, unless its JSON body holds
// {"results":[{"key":"...","status":"acknowledged|rejected|retryable","reason":"..."}]}, in which
// case each listed key gets that outcome and records not listed are acknowledged. 400 and 422
// reject every record of the batch (with the answer's start as reason); 413 fails the batch as
// a configuration error (lower batch_size); 401/403 fail it as a credentials error; 429 and 5xx
// are retried with backoff, then fail the batch as retryable.
package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/httpx"
)

// Name is the stable name of this platform.
const Name = "webhook"

// ServiceRecords is the webhook's only service.
const ServiceRecords = "records"

// Setting and credential keys.
const (
	SettingURL               = "url"
	SettingBatchSize         = destination.SettingBatchSize
	SettingHeaders           = "headers"
	SettingTimeoutSeconds    = "timeout_seconds"
	SettingMaxRetries        = "max_retries"
	SettingRequestsPerSecond = "requests_per_second"
	CredentialSigningSecret  = "signing_secret"
	CredentialBearerToken    = "bearer_token"
)

// Limits of the records service.
const (
	MaxBatchSize     = 10000
	DefaultBatchSize = 100
)

var spec = destination.PlatformSpec{
	Platform:    Name,
	DisplayName: "Webhook",
	Description: "POSTs batches of records as JSON to an HTTP endpoint you run, signed with HMAC-SHA256 when a signing secret is set. " +
		"Each request carries an `Idempotency-Key` so retried batches can be recognised.",
	Settings: []connectors.ConfigField{
		{Name: SettingURL, Type: connectors.FieldString, Required: true,
			Description: "The http(s) address batches are POSTed to. It must not contain credentials; use `bearer_token` or `signing_secret`."},
		{Name: SettingBatchSize, Type: connectors.FieldInt, Default: int64(DefaultBatchSize), Min: 1, Max: MaxBatchSize,
			Description: "Records per request (1 to 10000)."},
		{Name: SettingHeaders, Type: connectors.FieldStringMap,
			Description: "Extra static headers sent with every request. They are not secret: do not put credentials here. " +
				"`Authorization`, `Content-Type`, `Idempotency-Key` and `X-Dinmo-*` are set by dinmo and cannot be overridden."},
		{Name: SettingTimeoutSeconds, Type: connectors.FieldInt, Default: int64(30), Min: 1, Max: 600,
			Description: "Timeout of one request attempt, in seconds."},
		{Name: SettingMaxRetries, Type: connectors.FieldInt, Default: int64(5), Max: 20,
			Description: "Retries of a batch after network errors, 429 and 5xx answers (0 disables retries)."},
		{Name: SettingRequestsPerSecond, Type: connectors.FieldInt, Default: int64(0), Max: 10000,
			Description: "Most requests per second sent to the endpoint, retries included (0: unlimited)."},
	},
	Credentials: []connectors.ConfigField{
		{Name: CredentialSigningSecret, Type: connectors.FieldString,
			Description: "Key of the HMAC-SHA256 signature sent in `X-Dinmo-Signature` (with `X-Dinmo-Timestamp`)."},
		{Name: CredentialBearerToken, Type: connectors.FieldString,
			Description: "Token sent as `Authorization: Bearer <token>`."},
	},
	Services: []destination.ServiceSpec{{
		Name:        ServiceRecords,
		Description: "Any record, sent as key, operation and mapped fields.",
		Family:      destination.FamilyObjects,
		RunTypes:    []destination.RunType{destination.RunFull, destination.RunDelta, destination.RunIncremental},
		SyncModes: []destination.SyncMode{destination.ModeInsert, destination.ModeUpdate, destination.ModeUpsert,
			destination.ModeMirror, destination.ModeList, destination.ModeEvents},
		AllowCustomFields:     true,
		CreatesUnknownRecords: true,
		MaxBatchSize:          MaxBatchSize,
		DefaultBatchSize:      DefaultBatchSize,
	}},
}

// reservedHeaders are set by the platform; the headers setting cannot override them.
var reservedHeaders = map[string]bool{
	"Authorization":     true,
	"Content-Type":      true,
	"Content-Length":    true,
	"Host":              true,
	"Idempotency-Key":   true,
	"Transfer-Encoding": true,
}

// Option tunes a Platform; production uses none.
type Option func(*Platform)

// WithBackoff sets the bounds of the retry backoff (defaults: httpx's 500ms and 30s). Tests
// use milliseconds.
func WithBackoff(minBackoff, maxBackoff time.Duration) Option {
	return func(p *Platform) { p.minBackoff, p.maxBackoff = minBackoff, maxBackoff }
}

// WithMaxRetryAfter caps how long a Retry-After from the endpoint is waited (default: httpx's
// 5 minutes).
func WithMaxRetryAfter(d time.Duration) Option {
	return func(p *Platform) { p.maxRetryAfter = d }
}

// WithTransport sets the HTTP round tripper under the shared transport.
func WithTransport(rt http.RoundTripper) Option {
	return func(p *Platform) { p.transport = rt }
}

// Platform implements destination.Platform for webhooks.
type Platform struct {
	minBackoff, maxBackoff time.Duration
	maxRetryAfter          time.Duration
	transport              http.RoundTripper
}

var _ destination.Platform = (*Platform)(nil)

// New returns the webhook platform.
func New(opts ...Option) *Platform {
	p := &Platform{}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Spec declares the platform.
func (p *Platform) Spec() destination.PlatformSpec { return spec }

// Check validates settings and credentials (URL syntax and scheme, header names). It sends
// nothing: a probe request would reach the user's endpoint as if it were data.
func (p *Platform) Check(_ context.Context, params destination.OpenParams) error {
	_, err := parseConfig(params)
	return err
}

// Open validates the configuration and returns a destination for one run. It does not
// contact the endpoint. OpenParams.BaseURL is not used: the url setting is the full address.
func (p *Platform) Open(_ context.Context, params destination.OpenParams) (destination.Destination, error) {
	cfg, err := parseConfig(params)
	if err != nil {
		return nil, err
	}
	if params.Service != ServiceRecords {
		return nil, connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("webhook: unknown service %q: the webhook offers only %q", params.Service, ServiceRecords))
	}
	logger := params.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With(slog.String("platform", Name), slog.String("run_id", params.RunID),
		slog.String("activation_id", params.ActivationID))
	maxRetries := int(cfg.maxRetries)
	if maxRetries == 0 {
		maxRetries = -1 // httpx: 0 means default, negative means none
	}
	d := &webhookDestination{
		cfg:    cfg,
		params: params,
		logger: logger,
	}
	opts := httpx.Options{
		Timeout:           time.Duration(cfg.timeoutSeconds) * time.Second,
		MaxRetries:        maxRetries,
		MinBackoff:        p.minBackoff,
		MaxBackoff:        p.maxBackoff,
		MaxRetryAfter:     p.maxRetryAfter,
		RequestsPerSecond: float64(cfg.requestsPerSecond),
		Burst:             1,
		Logger:            logger,
		Redact:            []string{cfg.signingSecret, cfg.bearerToken},
		UserAgent:         httpx.DefaultUserAgent,
		Transport:         p.transport,
	}
	if cfg.signingSecret != "" {
		secret := cfg.signingSecret
		opts.BeforeAttempt = func(req *http.Request, body []byte) error {
			// Signed per attempt, so a retry after a long Retry-After still carries a fresh
			// timestamp that receivers accept.
			ts := strconv.FormatInt(time.Now().Unix(), 10)
			req.Header.Set(HeaderTimestamp, ts)
			req.Header.Set(HeaderSignature, Sign(secret, ts, body))
			return nil
		}
	}
	d.client = httpx.New(opts)
	return d, nil
}

// config is the parsed, validated configuration of one destination.
type config struct {
	url               *url.URL
	batchSize         int
	headers           map[string]string
	timeoutSeconds    int64
	maxRetries        int64
	requestsPerSecond int64
	signingSecret     string
	bearerToken       string
}

func parseConfig(params destination.OpenParams) (*config, error) {
	settings := destination.ApplyDefaults(spec.Settings, params.Settings)
	if err := destination.ValidateSettings(spec, settings, params.Credentials); err != nil {
		return nil, err
	}
	var problems []string
	raw := destination.SettingString(settings, SettingURL, "")
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		problems = append(problems, fmt.Sprintf("setting %q is not a valid URL: %v", SettingURL, err))
	case u.Scheme != "http" && u.Scheme != "https":
		problems = append(problems, fmt.Sprintf("setting %q must start with http:// or https://", SettingURL))
	case u.Host == "":
		problems = append(problems, fmt.Sprintf("setting %q has no host", SettingURL))
	case u.User != nil:
		problems = append(problems, fmt.Sprintf("setting %q must not contain user credentials: use the bearer_token or signing_secret credential", SettingURL))
	}
	cfg := &config{
		url:               u,
		batchSize:         destination.BatchSize(spec.Services[0], settings),
		headers:           map[string]string{},
		timeoutSeconds:    destination.SettingInt(settings, SettingTimeoutSeconds, 30),
		maxRetries:        destination.SettingInt(settings, SettingMaxRetries, 5),
		requestsPerSecond: destination.SettingInt(settings, SettingRequestsPerSecond, 0),
		signingSecret:     params.Credentials[CredentialSigningSecret],
		bearerToken:       params.Credentials[CredentialBearerToken],
	}
	if cfg.maxRetries < 0 {
		problems = append(problems, fmt.Sprintf("setting %q must be 0 or more", SettingMaxRetries))
	}
	if cfg.requestsPerSecond < 0 {
		problems = append(problems, fmt.Sprintf("setting %q must be 0 (unlimited) or more", SettingRequestsPerSecond))
	}
	for name, value := range destination.SettingStringMap(settings, SettingHeaders) {
		canon := textproto.CanonicalMIMEHeaderKey(name)
		switch {
		case !validHeaderName(name):
			problems = append(problems, fmt.Sprintf("setting %q: %q is not a valid header name", SettingHeaders, name))
		case reservedHeaders[canon] || strings.HasPrefix(canon, "X-Dinmo-"):
			problems = append(problems, fmt.Sprintf("setting %q: header %q is set by dinmo and cannot be overridden (use the bearer_token credential for authorization)", SettingHeaders, canon))
		case !validHeaderValue(value):
			problems = append(problems, fmt.Sprintf("setting %q: the value of header %q contains invalid characters", SettingHeaders, canon))
		default:
			cfg.headers[canon] = value
		}
	}
	if len(problems) > 0 {
		return nil, connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("destination %q: invalid configuration: %s", Name, strings.Join(problems, "; ")))
	}
	return cfg, nil
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

// validHeaderValue rejects control characters (CR and LF would split the header).
func validHeaderValue(v string) bool {
	for _, r := range v {
		if (r < ' ' && r != '\t') || r == 0x7f {
			return false
		}
	}
	return true
}
