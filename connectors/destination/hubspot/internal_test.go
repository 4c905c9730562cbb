package hubspot

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPropertyValue(t *testing.T) {
	at := time.Date(2025, 3, 4, 5, 6, 7, 8_900_000, time.FixedZone("CET", 3600))
	cases := []struct {
		in   any
		want string
		err  string
	}{
		{nil, "", ""},
		{"text", "text", ""},
		{true, "true", ""},
		{int64(-12), "-12", ""},
		{int32(7), "7", ""},
		{uint8(3), "3", ""},
		{3.0, "3", ""},
		{0.30000000000000004, "0.30000000000000004", ""},
		{1e21, "1000000000000000000000", ""},
		{float32(2.5), "2.5", ""},
		{json.Number("12.50"), "12.50", ""},
		{at, "2025-03-04T04:06:07.008Z", ""},
		{&at, "2025-03-04T04:06:07.008Z", ""},
		{(*time.Time)(nil), "", ""},
		{time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), "2024-02-29", ""},
		{time.Date(2024, 2, 29, 0, 0, 0, 0, time.FixedZone("X", 3600)), "2024-02-28T23:00:00.000Z", ""},
		{[]any{"a", "b", nil, int64(3)}, "a;b;3", ""},
		{[]string{"x", "y"}, "x;y", ""},
		{map[string]any{"k": at}, `{"k":"2025-03-04T04:06:07.0089Z"}`, ""},
		{math.Inf(1), "", "not finite"},
		{[]any{"a;b"}, "", "separator"},
		{[]any{[]any{"x"}}, "", "list holds a list"},
		{struct{}{}, "", "cannot be sent"},
	}
	for _, tc := range cases {
		got, err := propertyValue(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("propertyValue(%#v) error = %v, want %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("propertyValue(%#v) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestUntilDailyReset(t *testing.T) {
	cases := []struct {
		now  time.Time
		want time.Duration
	}{
		{time.Date(2025, 1, 2, 20, 0, 0, 0, time.UTC), 4 * time.Hour},
		{time.Date(2025, 1, 2, 23, 30, 0, 0, time.UTC), time.Hour}, // at least an hour
		{time.Date(2025, 12, 31, 1, 0, 0, 500, time.UTC), 22*time.Hour + 59*time.Minute + 59*time.Second},
		{time.Date(2025, 1, 2, 22, 0, 0, 0, time.FixedZone("PST", -8*3600)), 18 * time.Hour}, // 06:00 UTC on the 3rd
	}
	for _, tc := range cases {
		if got := untilDailyReset(tc.now); got != tc.want {
			t.Errorf("untilDailyReset(%s) = %s, want %s", tc.now, got, tc.want)
		}
	}
}

type stubTransport struct {
	status int
	header http.Header
	body   string
}

func (s stubTransport) RoundTrip(*http.Request) (*http.Response, error) {
	h := s.header
	if h == nil {
		h = http.Header{}
	}
	return &http.Response{StatusCode: s.status, Header: h, Body: io.NopCloser(strings.NewReader(s.body))}, nil
}

func TestHubspotTransportAdaptsThrottling(t *testing.T) {
	now := func() time.Time { return time.Date(2025, 1, 2, 21, 0, 0, 0, time.UTC) }
	cases := []struct {
		name       string
		in         stubTransport
		status     int
		retryAfter string
	}{
		{"daily", stubTransport{status: 429, body: `{"policyName":"DAILY","errorType":"RATE_LIMIT"}`}, 429, "10800"},
		{"ten secondly", stubTransport{status: 429, body: `{"policyName":"TEN_SECONDLY_ROLLING"}`}, 429, ""},
		{"daily with server retry-after", stubTransport{status: 429, header: http.Header{"Retry-After": {"5"}}, body: `{"policyName":"DAILY"}`}, 429, "5"},
		{"locked", stubTransport{status: 423, body: `{"category":"LOCKED"}`}, 429, "2"},
		{"migration", stubTransport{status: 477, header: http.Header{"Retry-After": {"60"}}}, 503, "60"},
		{"ok", stubTransport{status: 200, body: `{}`}, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := &hubspotTransport{base: tc.in, now: now}
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://x/y", nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = resp.Body.Close() }()
			if resp.StatusCode != tc.status || resp.Header.Get("Retry-After") != tc.retryAfter {
				t.Errorf("status %d, Retry-After %q; want %d, %q", resp.StatusCode, resp.Header.Get("Retry-After"), tc.status, tc.retryAfter)
			}
			b, _ := io.ReadAll(resp.Body)
			if string(b) != tc.in.body {
				t.Errorf("body = %q, want it preserved", b)
			}
		})
	}
}

func TestErrorClassification(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		config bool
		record bool
	}{
		{"unknown property", 400, `{"status":"error","message":"Property values were not valid: [{\"isValid\":false,\"message\":\"Property \\\"x\\\" does not exist\",\"error\":\"PROPERTY_DOESNT_EXIST\",\"name\":\"x\"}]","category":"VALIDATION_ERROR"}`, true, false},
		{"invalid email", 400, `{"status":"error","message":"Property values were not valid: [{\"isValid\":false,\"message\":\"Email address a@ is invalid\",\"error\":\"INVALID_EMAIL\",\"name\":\"email\"}]","category":"VALIDATION_ERROR"}`, false, true},
		{"both", 400, `{"message":"Property values were not valid: [{\"error\":\"INVALID_EMAIL\"},{\"error\":\"PROPERTY_DOESNT_EXIST\"}]","category":"VALIDATION_ERROR"}`, true, false},
		{"conflict", 409, `{"status":"error","message":"Contact already exists. Existing ID: 5","category":"CONFLICT"}`, false, true},
		{"non-unique", 400, `{"status":"error","message":"Unable to perform update/upsert by non-unique 0-1 property firstname in portal ID 1","category":"VALIDATION_ERROR"}`, true, false},
		{"duplicates", 400, `{"status":"error","message":"Duplicate IDs found in batch input: [a]","category":"VALIDATION_ERROR"}`, false, true},
		{"bad json", 400, `{"status":"error","message":"Invalid input JSON on line 1","category":"VALIDATION_ERROR"}`, false, false},
		{"not json", 400, `<html>bad request</html>`, false, false},
	}
	for _, tc := range cases {
		e := parseAPIError([]byte(tc.body))
		if e.isConfigError() != tc.config || e.isRecordError(tc.status) != tc.record {
			t.Errorf("%s: config=%v record=%v, want %v %v", tc.name, e.isConfigError(), e.isRecordError(tc.status), tc.config, tc.record)
		}
	}
	e := parseAPIError([]byte(`{"category":"OBJECT_NOT_FOUND","message":"m","context":{"ids":["a","b"],"email":"c","other":["x"]},` +
		`"errors":[{"message":"d","context":{"propertyName":["p"],"objectWriteTraceId":["t"]}}]}`))
	got := e.contextValues("email")
	slices.Sort(got)
	if strings.Join(got, ",") != "a,b,c,t" {
		t.Errorf("contextValues = %q, want the ids, the matching property's values and trace ids only", got)
	}
}

func TestRounds(t *testing.T) {
	ins := []*input{{idx: 0, id: "a"}, {idx: 1, id: "b"}, {idx: 2, id: "a"}, {idx: 3, id: "a"}, {idx: 4, id: "c"}}
	var got []string
	for _, r := range rounds(ins) {
		var ids []string
		for _, in := range r {
			ids = append(ids, in.id)
		}
		got = append(got, strings.Join(ids, ""))
	}
	if strings.Join(got, "|") != "abc|a|a" {
		t.Errorf("rounds = %v, want [abc a a]", got)
	}
}
