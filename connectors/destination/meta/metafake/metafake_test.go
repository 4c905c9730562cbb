package metafake_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"dinmo/connectors/destination/connectortest"
	"dinmo/connectors/destination/meta/metafake"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	token   = "EAAfake-token"
	secret  = "fake-app-secret"
	account = "111"
	dataset = "222"
	hash    = "542d240129883c019e106e3b1b2d3f3cb3537c43c425364de8e951d5a3083345"
)

var now = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)

func newServer(t *testing.T) (*metafake.Server, string) {
	s := metafake.New(t, metafake.Config{AccessToken: token, AppSecret: secret, AdAccounts: []string{account},
		Datasets: []string{dataset}, Now: func() time.Time { return now }})
	return s, s.CreateAudience(account, "list", "")
}

// proofOf is computed independently of the fake with
// echo -n EAAfake-token | openssl dgst -sha256 -hmac fake-app-secret.
const proofOf = "a4c6fd9a5f75e08fcad5138486c917ef7c934f522b7d6fad93e95d9f03a34d4d"

type reply struct {
	status int
	code   int
	sub    int
	body   map[string]any
}

func send(t *testing.T, s *metafake.Server, method, path string, query url.Values, body any, mutate func(*http.Request)) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			j, _ := json.Marshal(b)
			rd = strings.NewReader(string(j))
		}
	}
	u := s.URL() + path
	if query != nil {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(context.Background(), method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if mutate != nil {
		mutate(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	r := reply{status: resp.StatusCode, body: out}
	if e, ok := out["error"].(map[string]any); ok {
		c, _ := e["code"].(float64)
		sc, _ := e["error_subcode"].(float64)
		r.code, r.sub = int(c), int(sc)
	}
	return r
}

func withProof(q url.Values, p string) url.Values {
	if q == nil {
		q = url.Values{}
	}
	q.Set("appsecret_proof", p)
	return q
}

func users(schema []string, rows ...[]string) map[string]any {
	return map[string]any{"payload": map[string]any{"schema": schema, "data": rows}}
}

func TestAuthEnforced(t *testing.T) {
	s, _ := newServer(t)
	good := withProof(nil, proofOf)
	cases := []struct {
		name   string
		path   string
		query  url.Values
		mutate func(*http.Request)
		code   int
	}{
		{"no token", "/v25.0/me", good, func(r *http.Request) { r.Header.Del("Authorization") }, 104},
		{"wrong token", "/v25.0/me", good, func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, 190},
		{"basic auth", "/v25.0/me", good, func(r *http.Request) { r.SetBasicAuth("a", "b") }, 190},
		{"no proof", "/v25.0/me", nil, nil, 100},
		{"wrong proof", "/v25.0/me", withProof(nil, strings.Repeat("0", 64)), nil, 100},
		{"wrong version", "/v19.0/me", good, nil, 100},
		{"no version", "/me", good, nil, 100},
	}
	for _, tc := range cases {
		r := send(t, s, "GET", tc.path, tc.query, nil, tc.mutate)
		if r.status != 400 || r.code != tc.code {
			t.Errorf("%s: HTTP %d code %d, want 400 code %d", tc.name, r.status, r.code, tc.code)
		}
	}
	if r := send(t, s, "GET", "/v25.0/me", good, nil, nil); r.status != 200 {
		t.Errorf("a correct request: %+v", r)
	}
	q := withProof(url.Values{"access_token": {token}}, proofOf)
	if r := send(t, s, "GET", "/v25.0/me", q, nil, func(r *http.Request) { r.Header.Del("Authorization") }); r.status != 200 {
		t.Errorf("token as a parameter: %+v", r)
	}
	if s.TokenInURL() != 1 {
		t.Errorf("TokenInURL = %d, want 1", s.TokenInURL())
	}
	if len(s.Violations()) != len(cases) {
		t.Errorf("violations = %v", s.Violations())
	}
	if s.Hits() != 0 || s.ControlHits() != len(cases)+2 {
		t.Errorf("hits %d, control hits %d", s.Hits(), s.ControlHits())
	}
}

func TestUsersContract(t *testing.T) {
	s, id := newServer(t)
	q := withProof(nil, proofOf)
	path := "/v25.0/" + id + "/users"
	rows := func(n int) [][]string {
		out := make([][]string, n)
		for i := range out {
			out[i] = []string{fmt.Sprintf("%064x", i+1), fmt.Sprintf("ext-%d", i)}
		}
		return out
	}
	schema := []string{"EMAIL", "EXTERN_ID"}
	bad := []struct {
		name string
		body any
	}{
		{"no payload", map[string]any{}},
		{"unknown param", map[string]any{"payload": users(schema, rows(1)...)["payload"], "extra": 1}},
		{"unknown payload key", map[string]any{"payload": map[string]any{"schema": schema, "data": rows(1), "x": 1}}},
		{"unknown column", users([]string{"EMAIL", "NICKNAME"}, []string{hash, "x"})},
		{"repeated column", users([]string{"EMAIL", "EMAIL"}, []string{hash, hash})},
		{"short row", users(schema, []string{hash})},
		{"unhashed email", users(schema, []string{"person@example.com", "x"})},
		{"upper-case hash", users(schema, []string{strings.ToUpper(hash), "x"})},
		{"hashed madid", users([]string{"MADID"}, []string{hash})},
		{"empty row", users(schema, []string{"", ""})},
		{"no rows", users(schema)},
		{"too many rows", users(schema, rows(10001)...)},
		{"number value", map[string]any{"payload": map[string]any{"schema": []string{"EXTERN_ID"}, "data": [][]any{{42}}}}},
		{"session without seq", map[string]any{"payload": users(schema, rows(1)...)["payload"], "session": map[string]any{"session_id": 5, "last_batch_flag": true}}},
		{"session not starting at 1", map[string]any{"payload": users(schema, rows(1)...)["payload"], "session": map[string]any{"session_id": 5, "batch_seq": 2, "last_batch_flag": false}}},
		{"text content type", "payload=x"},
	}
	for _, tc := range bad {
		r := send(t, s, "POST", path, q, tc.body, func(r *http.Request) {
			if _, ok := tc.body.(string); ok {
				r.Header.Set("Content-Type", "text/plain")
			}
		})
		if r.status != 400 || r.code != 100 {
			t.Errorf("%s: HTTP %d code %d, want a 400 code 100 answer", tc.name, r.status, r.code)
		}
	}
	if m := s.Members(id); len(m) != 0 {
		t.Errorf("refused requests changed the audience: %v", m)
	}
	if s.MaxBatchSeen() != 10001 || s.Hits() != len(bad) {
		t.Errorf("MaxBatchSeen %d, hits %d", s.MaxBatchSeen(), s.Hits())
	}

	// A session: batch_seq 1, 2, then last; nothing after the last batch.
	for seq, last := range []bool{false, true} {
		body := map[string]any{"payload": users(schema, rows(2)...)["payload"],
			"session": map[string]any{"session_id": 77, "batch_seq": seq + 1, "last_batch_flag": last, "estimated_num_total": 4}}
		if r := send(t, s, "POST", path, q, body, nil); r.status != 200 || r.body["num_received"] != float64(2) || r.body["session_id"] != "77" {
			t.Fatalf("batch %d: %+v", seq+1, r)
		}
	}
	after := map[string]any{"payload": users(schema, rows(1)...)["payload"],
		"session": map[string]any{"session_id": 77, "batch_seq": 3, "last_batch_flag": true}}
	if r := send(t, s, "POST", path, q, after, nil); r.status != 400 {
		t.Errorf("a batch after the last one: %+v", r)
	}
	skip := map[string]any{"payload": users(schema, rows(1)...)["payload"],
		"session": map[string]any{"session_id": 78, "batch_seq": 1, "last_batch_flag": false}}
	send(t, s, "POST", path, q, skip, nil)
	skip["session"] = map[string]any{"session_id": 78, "batch_seq": 3, "last_batch_flag": true}
	if r := send(t, s, "POST", path, q, skip, nil); r.status != 400 {
		t.Errorf("a skipped batch_seq: %+v", r)
	}
	if m := s.Members(id); len(m) != 2 {
		t.Errorf("members = %v, want ext-0 and ext-1", m)
	}

	// The form encoding of the official SDKs works too, and DELETE removes by identifier.
	form := url.Values{"payload": {`{"schema":["EXTERN_ID"],"data":[["ext-0"]]}`}}
	r := send(t, s, "DELETE", path, q, form.Encode(), func(r *http.Request) {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	})
	if r.status != 200 || len(s.Members(id)) != 1 || s.Keys()[0] != "ext-1" {
		t.Errorf("form DELETE: %+v, members %v", r, s.Members(id))
	}
}

func TestUsersScriptedFailures(t *testing.T) {
	s, id := newServer(t)
	q := withProof(nil, proofOf)
	path := "/v25.0/" + id + "/users"
	body := users([]string{"EXTERN_ID"}, []string{"a"}, []string{"b"})
	s.FailNext(1, connectortest.Failure{Status: 429, RetryAfter: "3"})
	s.FailNext(1, connectortest.Failure{Status: 401})
	s.FailNext(1, connectortest.Failure{Status: 503})
	s.FailNextGraph(1, metafake.GraphError{Status: 400, Code: 80003, Message: "too many calls"})
	s.FailNext(1, connectortest.Failure{Reject: map[string]string{"b": "Invalid format"}})
	want := []struct{ status, code int }{{429, 17}, {401, 190}, {503, 2}, {400, 80003}}
	for _, w := range want {
		if r := send(t, s, "POST", path, q, body, nil); r.status != w.status || r.code != w.code {
			t.Errorf("scripted %d: HTTP %d code %d", w.status, r.status, r.code)
		}
	}
	r := send(t, s, "POST", path, q, body, nil)
	if r.status != 200 || r.body["num_invalid_entries"] != float64(1) || r.body["num_received"] != float64(2) {
		t.Errorf("partial: %+v", r)
	}
	if keys := s.Keys(); len(keys) != 1 || keys[0] != "a" {
		t.Errorf("keys = %v", keys)
	}
	if v := s.Violations(); len(v) != 0 {
		t.Errorf("scripted failures are not violations: %v", v)
	}
}

func event(mutate func(map[string]any)) map[string]any {
	e := map[string]any{
		"event_name": "Purchase", "event_time": now.Add(-time.Hour).Unix(), "event_id": "e1",
		"action_source": "website", "event_source_url": "https://shop.example.com/",
		"user_data":   map[string]any{"em": []string{hash}, "client_user_agent": "Mozilla/5.0"},
		"custom_data": map[string]any{"value": 12.5, "currency": "eur"},
	}
	if mutate != nil {
		mutate(e)
	}
	return e
}

func TestEventsContract(t *testing.T) {
	s, _ := newServer(t)
	q := withProof(nil, proofOf)
	path := "/v25.0/" + dataset + "/events"
	user := func(e map[string]any) map[string]any { u, _ := e["user_data"].(map[string]any); return u }
	bad := []struct {
		name  string
		event map[string]any
	}{
		{"too old", event(func(e map[string]any) { e["event_time"] = now.Add(-8 * 24 * time.Hour).Unix() })},
		{"future", event(func(e map[string]any) { e["event_time"] = now.Add(time.Hour).Unix() })},
		{"time as text", event(func(e map[string]any) { e["event_time"] = "2026-05-04T11:00:00Z" })},
		{"no name", event(func(e map[string]any) { delete(e, "event_name") })},
		{"bad action source", event(func(e map[string]any) { e["action_source"] = "shop" })},
		{"unhashed em", event(func(e map[string]any) { user(e)["em"] = "person@example.com" })},
		{"unknown user key", event(func(e map[string]any) { user(e)["email"] = hash })},
		{"unknown event key", event(func(e map[string]any) { e["user"] = 1 })},
		{"website without UA", event(func(e map[string]any) { delete(user(e), "client_user_agent") })},
		{"website without URL", event(func(e map[string]any) { delete(e, "event_source_url") })},
		{"UA only", event(func(e map[string]any) { delete(user(e), "em") })},
		{"bad IP", event(func(e map[string]any) { user(e)["client_ip_address"] = "1.2.3" })},
		{"text value", event(func(e map[string]any) { e["custom_data"] = map[string]any{"value": "12"} })},
		{"bad LDU", event(func(e map[string]any) { e["data_processing_options"] = []string{"GDPR"} })},
	}
	for _, tc := range bad {
		r := send(t, s, "POST", path, q, map[string]any{"data": []any{tc.event}}, nil)
		if r.status != 400 || r.code != 100 {
			t.Errorf("%s: HTTP %d code %d, want 400 code 100", tc.name, r.status, r.code)
		}
	}
	many := make([]any, 1001)
	for i := range many {
		many[i] = event(func(e map[string]any) { e["event_id"] = fmt.Sprint(i) })
	}
	if r := send(t, s, "POST", path, q, map[string]any{"data": many}, nil); r.status != 400 {
		t.Errorf("1001 events: %+v", r)
	}
	if r := send(t, s, "POST", path, q, map[string]any{"data": []any{event(nil)}, "extra": 1}, nil); r.status != 400 {
		t.Errorf("unknown parameter: %+v", r)
	}
	if n := len(s.Events(dataset)); n != 0 {
		t.Fatalf("refused events were stored: %d", n)
	}
	ok := map[string]any{"data": []any{event(nil), event(func(e map[string]any) { e["event_id"] = "e2" })}, "test_event_code": "T1"}
	for range 2 {
		if r := send(t, s, "POST", path, q, ok, nil); r.status != 200 || r.body["events_received"] != float64(2) {
			t.Fatalf("valid events: %+v", r)
		}
	}
	if ev := s.Events(dataset); len(ev) != 2 || ev[0].TestEventCode != "T1" {
		t.Errorf("events = %+v, want e1 and e2 once each (deduplicated)", ev)
	}
	s.FailNext(1, connectortest.Failure{Reject: map[string]string{"e3": "bad"}})
	r := send(t, s, "POST", path, q, map[string]any{"data": []any{event(func(e map[string]any) { e["event_id"] = "e3" })}}, nil)
	if r.status != 400 || r.code != 100 || len(s.Events(dataset)) != 2 {
		t.Errorf("scripted invalid event: %+v", r)
	}
}

func TestAudienceListingAndCreation(t *testing.T) {
	s := metafake.New(t, metafake.Config{AccessToken: token, AdAccounts: []string{account}, PageSize: 2})
	for i := range 5 {
		s.CreateAudience(account, fmt.Sprint("a", i), "")
	}
	path := "/v25.0/act_" + account + "/customaudiences"
	var names []string
	q := url.Values{"fields": {"id,name"}}
	for page := 0; page < 5; page++ {
		r := send(t, s, "GET", path, q, nil, nil)
		if r.status != 200 {
			t.Fatalf("list: %+v", r)
		}
		list, _ := r.body["data"].([]any)
		for _, a := range list {
			m, _ := a.(map[string]any)
			name, _ := m["name"].(string)
			names = append(names, name)
		}
		paging, _ := r.body["paging"].(map[string]any)
		if paging["next"] == nil {
			break
		}
		cursors, _ := paging["cursors"].(map[string]any)
		after, _ := cursors["after"].(string)
		q.Set("after", after)
	}
	if strings.Join(names, ",") != "a0,a1,a2,a3,a4" {
		t.Errorf("listed %v", names)
	}
	if r := send(t, s, "GET", path, url.Values{"fields": {"id,colour"}}, nil, nil); r.status != 400 {
		t.Errorf("unknown field: %+v", r)
	}
	if r := send(t, s, "GET", "/v25.0/act_999/customaudiences", nil, nil, nil); r.status != 400 || r.sub != 33 {
		t.Errorf("unknown account: %+v", r)
	}
	for _, body := range []map[string]any{
		{"name": "x", "subtype": "LOOKALIKE", "customer_file_source": "USER_PROVIDED_ONLY"},
		{"name": "x", "subtype": "CUSTOM", "customer_file_source": "MINE"},
		{"name": "", "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"},
		{"name": "x", "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY", "retention": 3},
	} {
		if r := send(t, s, "POST", path, nil, body, nil); r.status != 400 {
			t.Errorf("create %v: %+v", body, r)
		}
	}
	r := send(t, s, "POST", path, nil, map[string]any{"name": "new", "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"}, nil)
	if r.status != 200 || r.body["id"] == "" || len(s.Audiences(account)) != 6 {
		t.Errorf("create: %+v", r)
	}
}
