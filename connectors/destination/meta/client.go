package meta

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"dinmo/connectors"
	"dinmo/connectors/httpx"
)

// maxResponseBody bounds how much of an answer is read.
const maxResponseBody = 8 << 20

// graphClient sends Graph API requests through the shared transport.
type graphClient struct {
	http  *httpx.Client
	base  string // scheme://host/version, no trailing slash
	token string
	proof string // appsecret_proof, empty without an app secret
}

// AppSecretProof returns the appsecret_proof of a token: the hex HMAC-SHA256 of the access
// token keyed with the app secret. Apps with "Require App Secret" refuse calls without it.
func AppSecretProof(appSecret, accessToken string) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write([]byte(accessToken))
	return hex.EncodeToString(mac.Sum(nil))
}

// get sends a GET and returns the body of a 2xx answer.
func (g *graphClient) get(ctx context.Context, path string, query url.Values) ([]byte, error) {
	return g.do(ctx, http.MethodGet, path, query, nil)
}

// do sends one request. body, when non-nil, is sent as JSON. A non-2xx answer becomes a
// *GraphError inside a connectors error with the category Meta's error code implies.
func (g *graphClient) do(ctx context.Context, method, path string, query url.Values, body any) ([]byte, error) {
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	if g.proof != "" {
		q.Set("appsecret_proof", g.proof)
	}
	u := g.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, connectors.Permanent(connectors.CategoryInternal, fmt.Errorf("%s %s: encoding the request: %w", method, path, err))
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, connectors.Permanent(connectors.CategoryConfiguration, fmt.Errorf("%s %s: building the request: %s", method, path, g.http.Redact(err.Error())))
	}
	req.Header.Set("Authorization", "Bearer "+g.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := g.http.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	b, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	_ = resp.Body.Close()
	if readErr != nil {
		return nil, connectors.Retryable(connectors.CategoryConnection,
			fmt.Errorf("%s %s: reading the answer: %s", method, path, g.http.Redact(readErr.Error())))
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return b, nil
	}
	return nil, g.classify(resp.StatusCode, b)
}

// GraphError is an error answer of the Graph API:
// {"error":{"message","type","code","error_subcode","error_user_title","error_user_msg","is_transient","fbtrace_id"}}.
type GraphError struct {
	Status      int    `json:"-"`
	Message     string `json:"message"`
	Type        string `json:"type"`
	Code        int    `json:"code"`
	Subcode     int    `json:"error_subcode"`
	UserTitle   string `json:"error_user_title"`
	UserMessage string `json:"error_user_msg"`
	IsTransient bool   `json:"is_transient"`
	FBTraceID   string `json:"fbtrace_id"`
}

func (e *GraphError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Meta error %d", e.Code)
	if e.Subcode != 0 {
		fmt.Fprintf(&b, "/%d", e.Subcode)
	}
	fmt.Fprintf(&b, " (HTTP %d", e.Status)
	if e.Type != "" {
		fmt.Fprintf(&b, ", %s", e.Type)
	}
	b.WriteString("): ")
	b.WriteString(httpx.Snippet([]byte(e.Message)))
	if e.UserMessage != "" && e.UserMessage != e.Message {
		b.WriteString(": ")
		b.WriteString(httpx.Snippet([]byte(e.UserMessage)))
	}
	if e.FBTraceID != "" {
		b.WriteString(" [fbtrace_id " + e.FBTraceID + "]")
	}
	return b.String()
}

// Error codes with a meaning for the runner.
const (
	codeUnknown          = 1
	codeServiceDown      = 2
	codeAppRateLimit     = 4
	codeInvalidParameter = 100
	codeSessionInvalid   = 102
	codeUserRateLimit    = 17
	codePageRateLimit    = 32
	codeAccessToken      = 190
	codeCallsLimit       = 613
	codePermissionDenied = 10
	codeAliasNotFound    = 803
	subcodeNoObject      = 33
	subcodeFlagged       = 1713230
)

// parseGraphError reads a Graph API error body; nil when it is not one.
func parseGraphError(status int, body []byte) *GraphError {
	var env struct {
		Error *GraphError `json:"error"`
	}
	// Anything else (not JSON, no error object) is classified by its status by the caller.
	if err := json.Unmarshal(body, &env); err == nil && env.Error != nil && (env.Error.Code != 0 || env.Error.Message != "") {
		env.Error.Status = status
		return env.Error
	}
	return nil
}

// categorize maps a Graph API error to a category and a retry verdict.
func categorize(e *GraphError) (connectors.Category, bool) {
	switch {
	case e.Code == codeAccessToken || e.Code == codeSessionInvalid || e.Code == codePermissionDenied ||
		(e.Code >= 200 && e.Code <= 299):
		return connectors.CategoryCredentials, false
	case e.Code == codeAppRateLimit || e.Code == codeUserRateLimit || e.Code == codePageRateLimit ||
		e.Code == codeCallsLimit || (e.Code >= 80000 && e.Code <= 80099):
		return connectors.CategoryRateLimit, true
	case e.Code == codeUnknown || e.Code == codeServiceDown || e.IsTransient:
		return connectors.CategoryConnection, true
	case (e.Code == codeInvalidParameter && e.Subcode == subcodeNoObject) || e.Code == codeAliasNotFound:
		return connectors.CategoryNotFound, false
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return connectors.CategoryCredentials, false
	case e.Status >= 500:
		return connectors.CategoryConnection, true
	}
	return connectors.CategoryConfiguration, false
}

// classify turns a non-2xx answer into a connectors error.
func (g *graphClient) classify(status int, body []byte) error {
	redacted := []byte(g.http.Redact(string(body)))
	ge := parseGraphError(status, redacted)
	if ge == nil {
		return httpx.Classify(status, redacted)
	}
	cat, retry := categorize(ge)
	if retry {
		return connectors.Retryable(cat, ge)
	}
	return connectors.Permanent(cat, ge)
}

// audienceInfo is what is read of a custom audience.
type audienceInfo struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Subtype string `json:"subtype"`
}

// audience reads one custom audience by id.
func (g *graphClient) audience(ctx context.Context, id string) (audienceInfo, error) {
	b, err := g.get(ctx, "/"+id, url.Values{"fields": {"id,name,subtype"}})
	if err != nil {
		return audienceInfo{}, err
	}
	var a audienceInfo
	if err := json.Unmarshal(b, &a); err != nil || a.ID == "" {
		return audienceInfo{}, connectors.Permanent(connectors.CategoryInternal, fmt.Errorf("unreadable audience answer: %s", httpx.Snippet(b)))
	}
	if a.Subtype != "" && a.Subtype != "CUSTOM" {
		return audienceInfo{}, connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("audience %s is a %s audience; customer lists need a CUSTOM one", id, a.Subtype))
	}
	return a, nil
}

// randomSessionID returns a random positive 63-bit upload session id.
func randomSessionID() int64 {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(fmt.Sprintf("meta: crypto/rand failed: %v", err)) // crypto/rand never fails on supported platforms
		}
		if id := int64(binary.BigEndian.Uint64(b[:]) >> 1); id > 0 {
			return id
		}
	}
}
