package braze

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/httpx"
)

// maxResponseBody bounds how much of an answer is read; Braze answers are small JSON objects.
const maxResponseBody = 4 << 20

// client sends JSON requests to one Braze instance through the shared transport.
type client struct {
	base   *url.URL
	apiKey string
	http   *httpx.Client
}

// post sends body to path and returns the status and the answer's body. Errors are those of
// the shared transport (network failures, and 429 or 5xx once retries are exhausted), or a
// retryable connection error when the answer cannot be read.
func (c *client) post(ctx context.Context, path string, body []byte) (int, []byte, error) {
	u := c.base.JoinPath(path)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, nil, connectors.Permanent(connectors.CategoryConfiguration, fmt.Errorf("building the request to %s: %w", path, err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	resp, err := c.http.Do(ctx, req)
	if err != nil {
		return 0, nil, err
	}
	b, readErr := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	_ = resp.Body.Close()
	if readErr != nil {
		// Braze may have applied the request; every Braze write dinmo sends is safe to repeat
		// (attributes and subscription states are set, not incremented). Events may be
		// recorded twice in this rare case.
		return 0, nil, connectors.Retryable(connectors.CategoryConnection,
			fmt.Errorf("reading the answer of %s: %s", path, c.http.Redact(readErr.Error())))
	}
	return resp.StatusCode, b, nil
}

// permission names the API key permission an endpoint needs, for error messages.
func permission(path string) string {
	if path == PathSubscriptionStatusSet {
		return "subscription.status.set"
	}
	return "users.track"
}

// credentialsError builds the permanent credentials error of a 401, 403 or 404 answer (Braze
// answers 404 to a REST API key it does not know on this instance).
func (c *client) credentialsError(op, path string, status int, body []byte) error {
	var hint string
	switch status {
	case http.StatusNotFound:
		hint = fmt.Sprintf("Braze does not know this REST API key on %s: check %q, and that %q is the instance the key belongs to",
			c.base.Host, CredentialAPIKey, SettingRESTEndpoint)
	case http.StatusForbidden:
		hint = fmt.Sprintf("Braze refused access: give the REST API key the %s permission (Settings → APIs and Identifiers), or check that the account is active",
			permission(path))
	default:
		hint = fmt.Sprintf("Braze refused the REST API key: check the %q credential", CredentialAPIKey)
	}
	se := &httpx.StatusError{StatusCode: status, Snippet: c.http.Redact(httpx.Snippet(body))}
	return connectors.Permanent(connectors.CategoryCredentials, fmt.Errorf("braze: %s: %s: %w", op, hint, se))
}

// answer is Braze's response envelope: "success" (or "queued" during maintenance), or a fatal
// message, with minor errors that may name the refused object by array and index.
type answer struct {
	Message string
	Errors  []minorError
}

// minorError is one entry of "errors": {"type": reason, "input_array": "attributes",
// "index": 3}, or a bare string on endpoints that do not locate errors.
type minorError struct {
	Type       string
	InputArray string
	Index      int // -1 when absent
}

// parseAnswer decodes an answer; ok is false when the body is not a JSON object.
func parseAnswer(body []byte) (answer, bool) {
	var raw struct {
		Message json.RawMessage   `json:"message"`
		Errors  []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return answer{}, false
	}
	var a answer
	if len(raw.Message) > 0 {
		if err := json.Unmarshal(raw.Message, &a.Message); err != nil {
			a.Message = string(raw.Message)
		}
	}
	for _, e := range raw.Errors {
		me := minorError{Index: -1}
		var obj struct {
			Type       json.RawMessage `json:"type"`
			InputArray string          `json:"input_array"`
			Index      *int            `json:"index"`
		}
		var s string
		switch {
		case json.Unmarshal(e, &s) == nil:
			me.Type = s
		case json.Unmarshal(e, &obj) == nil:
			if json.Unmarshal(obj.Type, &me.Type) != nil {
				me.Type = string(obj.Type)
			}
			me.InputArray = obj.InputArray
			if obj.Index != nil {
				me.Index = *obj.Index
			}
		default:
			me.Type = string(e)
		}
		a.Errors = append(a.Errors, me)
	}
	return a, true
}

// succeeded reports whether the message says the request was processed.
func (a answer) succeeded() bool {
	m := strings.ToLower(strings.TrimSpace(a.Message))
	return m == "success" || m == "queued"
}

// transientMarkers are phrases of a Braze error type that say an object may be accepted if
// sent again. Braze documents no per-object transient error; these cover the wording of
// generic server-side failures so such objects are retried rather than dropped.
var transientMarkers = []string{"try again", "retry", "temporar", "timeout", "timed out", "rate limit", "internal error", "unavailable"}

func isTransient(reason string) bool {
	r := strings.ToLower(reason)
	for _, m := range transientMarkers {
		if strings.Contains(r, m) {
			return true
		}
	}
	return false
}

// located maps the answer's minor errors on array to positions 0..n-1 of that array. Errors on
// another array, without an index or out of range are counted in unlocated.
func (a answer) located(array string, n int) (byPos map[int][]string, unlocated int) {
	byPos = map[int][]string{}
	for _, e := range a.Errors {
		if e.InputArray != array || e.Index < 0 || e.Index >= n {
			unlocated++
			continue
		}
		byPos[e.Index] = append(byPos[e.Index], e.Type)
	}
	return byPos, unlocated
}

// outcomeOf turns the error types Braze gave one object into its outcome.
func (c *client) outcomeOf(array string, types []string) destination.Outcome {
	reasons := make([]string, 0, len(types))
	transient := true
	for _, t := range types {
		t = strings.TrimSpace(t)
		if t == "" {
			t = "refused without a reason"
		}
		reasons = append(reasons, t)
		transient = transient && isTransient(t)
	}
	reason := c.http.Redact(httpx.Snippet([]byte("Braze refused the " + array + " object: " + strings.Join(reasons, "; "))))
	if transient {
		return destination.Outcome{Status: destination.Retryable, Reason: reason}
	}
	return destination.Outcome{Status: destination.Rejected, Reason: reason}
}

// request is one Braze request of a batch: the array its objects went in and, for each
// object position, the indexes of the batch records it carries.
type request struct {
	path  string
	array string
	body  []byte
	recs  [][]int
}

// interpret maps Braze's answer to a request onto the outcomes of its records, or returns a
// whole-batch error. See the package documentation for the rules.
func (c *client) interpret(op string, req request, status int, body []byte, outcomes []destination.Outcome) (unlocated int, err error) {
	if status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusNotFound {
		return 0, c.credentialsError(op, req.path, status, body)
	}
	ans, parsed := parseAnswer(body)
	ok2xx := status >= 200 && status < 300
	if ok2xx && (!parsed || ans.succeeded()) {
		byPos, unlocated := ans.located(req.array, len(req.recs))
		for pos, recs := range req.recs {
			o := destination.Outcome{Status: destination.Acknowledged}
			if types, bad := byPos[pos]; bad {
				o = c.outcomeOf(req.array, types)
			}
			for _, i := range recs {
				outcomes[i] = o
			}
		}
		return unlocated, nil
	}
	if parsed && (ok2xx || status == http.StatusBadRequest) {
		// A fatal answer that names every object: each one was refused for its own reason
		// (Braze answers so when no object of the request is valid).
		byPos, unlocated := ans.located(req.array, len(req.recs))
		if len(byPos) == len(req.recs) {
			for pos, recs := range req.recs {
				o := c.outcomeOf(req.array, byPos[pos])
				for _, i := range recs {
					outcomes[i] = o
				}
			}
			return unlocated, nil
		}
	}
	msg := ans.Message
	if !parsed || msg == "" {
		msg = string(body)
	}
	if ok2xx || status == http.StatusBadRequest {
		se := &httpx.StatusError{StatusCode: status, Snippet: c.http.Redact(httpx.Snippet([]byte(msg)))}
		return 0, connectors.Permanent(connectors.CategoryConfiguration, fmt.Errorf("braze: %s: Braze refused the request: %w", op, se))
	}
	return 0, fmt.Errorf("braze: %s: %w", op, httpx.Classify(status, []byte(c.http.Redact(msg))))
}
