package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"dinmo/connectors"
	"dinmo/connectors/httpx"
)

// maxResponseBody bounds how much of an answer is read.
const maxResponseBody = 16 << 20

// client sends HubSpot API requests through the shared transport.
type client struct {
	http    *httpx.Client
	baseURL string
	token   string
}

// call sends one request and returns the status and body of HubSpot's answer. Transport
// failures (retries exhausted, timeouts, cancellation) are returned as errors, already
// classified by httpx; every answer, 4xx included, is returned for the caller to interpret.
func (c *client) call(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, connectors.Permanent(connectors.CategoryInternal, fmt.Errorf("hubspot: encoding %s %s: %w", method, path, err))
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, rd)
	if err != nil {
		return 0, nil, connectors.Permanent(connectors.CategoryConfiguration, fmt.Errorf("hubspot: building %s %s: %w", method, path, err))
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(ctx, req)
	if err != nil {
		return 0, nil, fmt.Errorf("hubspot: %s %s: %w", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		// The request may have been applied; every operation this platform sends can be sent
		// again (upserts and updates are idempotent, and a repeated create is refused as a
		// conflict rather than duplicated).
		return 0, nil, connectors.Retryable(connectors.CategoryConnection,
			fmt.Errorf("hubspot: reading the answer to %s %s: %s", method, path, c.http.Redact(err.Error())))
	}
	return resp.StatusCode, b, nil
}

// apiError is HubSpot's error body: the top-level "Error" of the v3 APIs, the "StandardError"
// items of batch answers, and the 429 body (errorType, policyName).
type apiError struct {
	Status        string                     `json:"status"`
	Message       string                     `json:"message"`
	Category      string                     `json:"category"`
	CorrelationID string                     `json:"correlationId"`
	Context       map[string]json.RawMessage `json:"context"`
	Errors        []errorDetail              `json:"errors"`
	ErrorType     string                     `json:"errorType"`
	PolicyName    string                     `json:"policyName"`
}

type errorDetail struct {
	Message string                     `json:"message"`
	Code    string                     `json:"code"`
	In      string                     `json:"in"`
	Context map[string]json.RawMessage `json:"context"`
}

// parseAPIError decodes an error body; a body that is not HubSpot's JSON gives an apiError
// whose Message is the start of the body.
func parseAPIError(body []byte) apiError {
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil {
		return apiError{Message: httpx.Snippet(body)}
	}
	if e.Message == "" && e.Category == "" && e.PolicyName == "" {
		e.Message = httpx.Snippet(body)
	}
	return e
}

// text is everything the error says, for classification.
func (e apiError) text() string {
	var b strings.Builder
	b.WriteString(e.Category)
	b.WriteString(" ")
	b.WriteString(e.Message)
	for _, d := range e.Errors {
		b.WriteString(" ")
		b.WriteString(d.Code)
		b.WriteString(" ")
		b.WriteString(d.Message)
	}
	return b.String()
}

// summary renders the error for messages: category and message, at most httpx.SnippetLimit
// characters.
func (e apiError) summary() string {
	s := e.Message
	if e.Category != "" {
		s = e.Category + ": " + s
	}
	if s == "" {
		s = "no details"
	}
	return httpx.Snippet([]byte(s))
}

// idContextKeys are the context keys under which HubSpot names the inputs an error is about
// (compared case-insensitively); the matching property's own name is accepted too. Other keys
// (propertyName, missingScopes...) hold names, not record ids.
var idContextKeys = map[string]bool{
	"ids": true, "id": true, "objectid": true, "objectids": true,
	"objectwritetraceid": true, "objectwritetraceids": true,
}

// contextValues returns the strings of the error's context (and of its details' contexts)
// stored under id keys: the ids HubSpot names failed inputs by.
func (e apiError) contextValues(idProperty string) []string {
	var out []string
	add := func(ctx map[string]json.RawMessage) {
		for key, raw := range ctx {
			if !idContextKeys[strings.ToLower(key)] && key != idProperty {
				continue
			}
			var list []string
			if err := json.Unmarshal(raw, &list); err == nil {
				out = append(out, list...)
				continue
			}
			var one string
			if err := json.Unmarshal(raw, &one); err == nil {
				out = append(out, one)
			}
		}
	}
	add(e.Context)
	for _, d := range e.Errors {
		add(d.Context)
	}
	return out
}

// Markers of errors about the configuration (the mappings, the matching property, the object
// type) rather than one record: every request of the activation would fail the same way.
var configMarkers = []string{
	"PROPERTY_DOESNT_EXIST",
	"READ_ONLY_VALUE",
	"non-unique",
	"Unable to infer object type",
	"MISSING_SCOPES",
}

// isConfigError reports whether a whole-request 4xx is about the configuration.
func (e apiError) isConfigError() bool {
	t := e.text()
	for _, m := range configMarkers {
		if strings.Contains(t, m) {
			return true
		}
	}
	return false
}

// isRecordError reports whether a whole-request 4xx is caused by some of its records (a
// conflict, an invalid value), so that sending them apart isolates them.
func (e apiError) isRecordError(status int) bool {
	if e.isConfigError() {
		return false
	}
	if status == http.StatusConflict || e.Category == "CONFLICT" {
		return true
	}
	if e.Category != "VALIDATION_ERROR" && status != http.StatusBadRequest {
		return false
	}
	t := e.text()
	return strings.Contains(t, `"isValid":false`) || strings.Contains(t, "INVALID_") || strings.Contains(t, "Duplicate IDs")
}

// isTransient reports whether an error item of a 207 answer is worth sending again.
func (e apiError) isTransient() bool {
	switch strings.ToUpper(e.Category) {
	case "RATE_LIMIT", "RATE_LIMITS", "LOCKED", "INTERNAL_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT":
		return true
	}
	if n, err := strconv.Atoi(e.Status); err == nil {
		return n == http.StatusLocked || n == http.StatusTooManyRequests || n >= 500
	}
	return false
}

// credentialsError turns a 401/403 into a permanent credentials error with HubSpot's reason.
func (c *client) credentialsError(what string, status int, body []byte) error {
	e := parseAPIError(body)
	hint := "the access token is invalid, expired or revoked: create a new private app token and update the destination's credentials"
	if status == http.StatusForbidden || e.Category == "MISSING_SCOPES" {
		hint = "the private app lacks a scope this sync needs (the read and write scopes of the object, and the schema read scope): add it to the app"
	}
	return connectors.Permanent(connectors.CategoryCredentials,
		fmt.Errorf("hubspot: %s: HubSpot refused the credentials (HTTP %d, %s); %s", what, status, c.http.Redact(e.summary()), hint))
}

// checkAccount verifies the token with GET /account-info/v3/details, and that it belongs to
// portalID when that is not 0.
func (c *client) checkAccount(ctx context.Context, portalID int64) error {
	const what = "checking the access token"
	status, body, err := c.call(ctx, http.MethodGet, "/account-info/v3/details", nil)
	if err != nil {
		return err
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return c.credentialsError(what, status, body)
	case status != http.StatusOK:
		return fmt.Errorf("hubspot: %s: %w", what, httpx.Classify(status, []byte(c.http.Redact(string(body)))))
	}
	var details struct {
		PortalID int64 `json:"portalId"`
	}
	if err := json.Unmarshal(body, &details); err != nil {
		return connectors.Permanent(connectors.CategoryConnection, fmt.Errorf("hubspot: %s: unreadable account details: %w", what, err))
	}
	if portalID != 0 && details.PortalID != portalID {
		return connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("hubspot: %s: the token belongs to HubSpot account %d, but setting %q is %d: use a token of account %d or correct the setting",
				what, details.PortalID, SettingPortalID, portalID, portalID))
	}
	return nil
}

// checkIDProperty reads the definition of the matching property and verifies that records
// can be matched on it.
func (c *client) checkIDProperty(ctx context.Context, objectType, idProperty string) error {
	what := fmt.Sprintf("checking property %q of %s", idProperty, objectType)
	path := "/crm/v3/properties/" + url.PathEscape(objectType) + "/" + url.PathEscape(idProperty)
	status, body, err := c.call(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return c.credentialsError(what, status, body)
	case status == http.StatusNotFound || (status == http.StatusBadRequest && parseAPIError(body).isConfigError()):
		return connectors.Permanent(connectors.CategoryNotFound,
			fmt.Errorf("hubspot: %s: HubSpot has no such object type or property (%s): check option %q (and %q for custom objects)",
				what, c.http.Redact(parseAPIError(body).summary()), OptionIDProperty, OptionObjectType))
	case status != http.StatusOK:
		return fmt.Errorf("hubspot: %s: %w", what, httpx.Classify(status, []byte(c.http.Redact(string(body)))))
	}
	var prop struct {
		Name           string `json:"name"`
		HasUniqueValue bool   `json:"hasUniqueValue"`
		ModificationMD struct {
			ReadOnlyValue bool `json:"readOnlyValue"`
		} `json:"modificationMetadata"`
	}
	if err := json.Unmarshal(body, &prop); err != nil {
		return connectors.Permanent(connectors.CategoryConnection, fmt.Errorf("hubspot: %s: unreadable property definition: %w", what, err))
	}
	// The contact e-mail is unique by HubSpot's own rule, without the hasUniqueValue flag.
	if !prop.HasUniqueValue && (objectType != ServiceContacts || idProperty != DefaultContactIDProp) {
		return connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("hubspot: %s: the property does not require unique values, so HubSpot cannot match records on it: "+
				"choose a property created with \"Require unique values for this property\" in option %q", what, OptionIDProperty))
	}
	if prop.ModificationMD.ReadOnlyValue {
		return connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("hubspot: %s: the property is read-only, so records created by dinmo could not carry it: choose a writable property in option %q", what, OptionIDProperty))
	}
	return nil
}

// hubspotTransport adapts HubSpot's throttling answers to the shared transport's contract,
// so that httpx retries them (or stops at once) without HubSpot-specific code in httpx:
//   - 429 with policyName DAILY: the daily quota is spent until midnight in the account's
//     time zone; a Retry-After up to the next midnight UTC (an estimate: at least an hour)
//     makes httpx end the call at once with a retryable rate_limit error instead of
//     retrying in vain;
//   - 423 Locked ("wait at least 2 seconds"): presented as 429 with Retry-After 2;
//   - 477 Migration in Progress (with its own Retry-After): presented as 503.
type hubspotTransport struct {
	base http.RoundTripper
	now  func() time.Time
}

func (t *hubspotTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		if resp.Header.Get("Retry-After") != "" {
			return resp, nil
		}
		body, readErr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if readErr == nil && strings.EqualFold(parseAPIError(body).PolicyName, "DAILY") {
			resp.Header.Set("Retry-After", strconv.FormatInt(int64(untilDailyReset(t.now())/time.Second), 10))
		}
	case http.StatusLocked:
		resp.StatusCode, resp.Status = http.StatusTooManyRequests, "429 Too Many Requests (HubSpot 423 Locked)"
		if resp.Header.Get("Retry-After") == "" {
			resp.Header.Set("Retry-After", "2")
		}
	case 477:
		resp.StatusCode, resp.Status = http.StatusServiceUnavailable, "503 Service Unavailable (HubSpot 477 Migration in Progress)"
	}
	return resp, nil
}

// CloseIdleConnections forwards to the base transport.
func (t *hubspotTransport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// untilDailyReset estimates how long HubSpot's daily limit stays exhausted: until the next
// midnight UTC, and at least an hour (the account's own midnight may be later).
func untilDailyReset(now time.Time) time.Duration {
	now = now.UTC()
	next := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC)
	return max(next.Sub(now).Truncate(time.Second), time.Hour)
}
