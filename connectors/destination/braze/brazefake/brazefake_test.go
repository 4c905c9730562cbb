package brazefake_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"dinmo/connectors/destination/braze/brazefake"
	"dinmo/connectors/destination/connectortest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func send(t *testing.T, s *brazefake.Server, method, path, body string, mod func(*http.Request)) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+brazefake.DefaultAPIKey)
	req.Header.Set("Content-Type", "application/json")
	if mod != nil {
		mod(req)
	}
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("answer is not a JSON object: %s", b)
	}
	return answer{resp.StatusCode, resp.Header, m}
}

func post(t *testing.T, s *brazefake.Server, path, body string) answer {
	t.Helper()
	return send(t, s, http.MethodPost, path, body, nil)
}

// minorErrors returns the "errors" array of an answer (none when absent), failing the test if
// an entry is not an object.
func minorErrors(t *testing.T, body map[string]any) []map[string]any {
	t.Helper()
	raw, _ := body["errors"].([]any)
	out := make([]map[string]any, len(raw))
	for i, e := range raw {
		m, ok := e.(map[string]any)
		if !ok {
			t.Fatalf("errors[%d] = %v (%T), want an object", i, e, e)
		}
		out[i] = m
	}
	return out
}

// str returns v if it is a string, else "" (which no expected substring matches).
func str(v any) string {
	s, _ := v.(string)
	return s
}

func TestContractViolationsAreRefused(t *testing.T) {
	track, sub := brazefake.PathUsersTrack, brazefake.PathSubscriptionStatusSet
	attr := func(o string) string { return `{"attributes":[` + o + `]}` }
	event := func(o string) string { return `{"events":[` + o + `]}` }
	purchase := func(o string) string { return `{"purchases":[` + o + `]}` }
	group := func(g string) string { return `{"subscription_groups":[` + g + `]}` }
	const t0 = `"time":"2025-01-02T03:04:05Z"`
	cases := []struct {
		name   string
		method string
		path   string
		body   string
		mod    func(*http.Request)
		status int
		minor  string // expected minor error type (status 400 when it is the only object)
	}{
		{name: "GET", method: http.MethodGet, path: track, body: attr(`{"external_id":"u"}`), status: 405},
		{name: "unknown path", path: "/users/trak", body: attr(`{"external_id":"u"}`), status: 404},
		{name: "v1 path", path: "/subscription/status/set", body: group(`{}`), status: 404},
		{name: "query string key", path: track + "?api_key=x", body: attr(`{"external_id":"u"}`), status: 400},
		{name: "no auth", path: track, body: attr(`{"external_id":"u"}`), mod: func(r *http.Request) { r.Header.Del("Authorization") }, status: 401},
		{name: "basic auth", path: track, body: attr(`{"external_id":"u"}`), mod: func(r *http.Request) { r.SetBasicAuth("a", "b") }, status: 401},
		{name: "form content type", path: track, body: attr(`{"external_id":"u"}`),
			mod: func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }, status: 415},
		{name: "not JSON", path: track, body: `attributes=1`, status: 400},
		{name: "api_key in body", path: track, body: `{"api_key":"k","attributes":[{"external_id":"u"}]}`, status: 400},
		{name: "attributes not an array", path: track, body: `{"attributes":{"external_id":"u"}}`, status: 400},
		{name: "two identifiers", path: track, body: attr(`{"external_id":"u","braze_id":"b"}`), status: 400, minor: "only one of"},
		{name: "no identifier", path: track, body: attr(`{"first_name":"x"}`), status: 400, minor: "is required"},
		{name: "empty external_id", path: track, body: attr(`{"external_id":""}`), status: 400, minor: "non-empty"},
		{name: "flag not a boolean", path: track, body: attr(`{"external_id":"u","_update_existing_only":"true"}`), status: 400, minor: "boolean"},
		{name: "dollar attribute", path: track, body: attr(`{"external_id":"u","$x":1}`), status: 400, minor: "invalid attribute name"},
		{name: "phone not E.164", path: track, body: attr(`{"external_id":"u","phone":"06 12 34 56 78"}`), status: 400, minor: "E.164"},
		{name: "event without name", path: track, body: event(`{"external_id":"u",` + t0 + `}`), status: 400, minor: "'name' is required"},
		{name: "event without time", path: track, body: event(`{"external_id":"u","name":"n"}`), status: 400, minor: "'time'"},
		{name: "event with bad time", path: track, body: event(`{"external_id":"u","name":"n","time":"yesterday"}`), status: 400, minor: "'time'"},
		{name: "event unknown key", path: track, body: event(`{"external_id":"u","name":"n",` + t0 + `,"value":1}`), status: 400, minor: "unexpected key"},
		{name: "event property with $", path: track, body: event(`{"external_id":"u","name":"n",` + t0 + `,"properties":{"$p":1}}`), status: 400, minor: "property"},
		{name: "properties not an object", path: track, body: event(`{"external_id":"u","name":"n",` + t0 + `,"properties":[1]}`), status: 400, minor: "object"},
		{name: "purchase lowercase currency", path: track,
			body: purchase(`{"external_id":"u","product_id":"p","currency":"eur","price":1,` + t0 + `}`), status: 400, minor: "currency"},
		{name: "purchase price as text", path: track,
			body: purchase(`{"external_id":"u","product_id":"p","currency":"EUR","price":"1",` + t0 + `}`), status: 400, minor: "price"},
		{name: "purchase quantity 0", path: track,
			body: purchase(`{"external_id":"u","product_id":"p","currency":"EUR","price":1,"quantity":0,` + t0 + `}`), status: 400, minor: "quantity"},
		{name: "purchase without product", path: track, body: purchase(`{"external_id":"u","currency":"EUR","price":1,` + t0 + `}`), status: 400, minor: "product_id"},
		{name: "group unknown key", path: sub, body: group(`{"subscription_group_id":"g","subscription_state":"subscribed","external_ids":["u"],"x":1}`), status: 400},
		{name: "group without id", path: sub, body: group(`{"subscription_state":"subscribed","external_ids":["u"]}`), status: 400},
		{name: "bad state", path: sub, body: group(`{"subscription_group_id":"g","subscription_state":"opted_in","external_ids":["u"]}`), status: 400},
		{name: "emails and phones", path: sub,
			body: group(`{"subscription_group_id":"g","subscription_state":"subscribed","emails":["a@b.co"],"phones":["+33612345678"]}`), status: 400},
		{name: "phone not E.164 in group", path: sub, body: group(`{"subscription_group_id":"g","subscription_state":"subscribed","phones":["0612345678"]}`), status: 400},
		{name: "no ids", path: sub, body: group(`{"subscription_group_id":"g","subscription_state":"subscribed"}`), status: 400},
		{name: "empty ids", path: sub, body: group(`{"subscription_group_id":"g","subscription_state":"subscribed","external_ids":[]}`), status: 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := brazefake.New(t, brazefake.Config{})
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			a := send(t, s, method, tc.path, tc.body, tc.mod)
			if a.status != tc.status {
				t.Errorf("status %d (%v), want %d", a.status, a.body, tc.status)
			}
			if _, ok := a.body["message"]; !ok {
				t.Errorf("answer %v lacks Braze's message", a.body)
			}
			if len(s.Violations()) == 0 {
				t.Errorf("no violation recorded")
			}
			if tc.minor != "" {
				errs := minorErrors(t, a.body)
				if len(errs) != 1 || !strings.Contains(str(errs[0]["type"]), tc.minor) {
					t.Errorf("errors = %v, want one minor error containing %q", a.body["errors"], tc.minor)
				}
			}
			if len(s.Keys()) != 0 || len(s.Events()) != 0 || len(s.Purchases()) != 0 {
				t.Errorf("a refused request changed the state")
			}
		})
	}
}

func TestLimits(t *testing.T) {
	s := brazefake.New(t, brazefake.Config{MaxTrackObjects: 3, MaxSubscriptionIDs: 2})
	objs := make([]string, 4)
	for i := range objs {
		objs[i] = `{"external_id":"u` + strconv.Itoa(i) + `"}`
	}
	if a := post(t, s, brazefake.PathUsersTrack, `{"attributes":[`+strings.Join(objs, ",")+`]}`); a.status != 400 {
		t.Errorf("4 objects with a limit of 3: status %d", a.status)
	}
	// The limit is on the total across arrays.
	if a := post(t, s, brazefake.PathUsersTrack, `{"attributes":[`+strings.Join(objs[:2], ",")+`],"events":[`+
		`{"external_id":"u","name":"n","time":"2025-01-02T03:04:05Z"},{"external_id":"v","name":"n","time":"2025-01-02T03:04:05Z"}]}`); a.status != 400 {
		t.Errorf("2+2 objects with a limit of 3: status %d", a.status)
	}
	if a := post(t, s, brazefake.PathSubscriptionStatusSet,
		`{"subscription_groups":[{"subscription_group_id":"g","subscription_state":"subscribed","external_ids":["a","b","c"]}]}`); a.status != 400 {
		t.Errorf("3 ids with a limit of 2: status %d", a.status)
	}
	if s.MaxBatchSeen() != 4 || len(s.Violations()) != 3 {
		t.Errorf("MaxBatchSeen %d, violations %v", s.MaxBatchSeen(), s.Violations())
	}
}

func TestWrongKeyIsNotAViolation(t *testing.T) {
	s := brazefake.New(t, brazefake.Config{})
	a := send(t, s, http.MethodPost, brazefake.PathUsersTrack, `{"attributes":[{"external_id":"u"}]}`,
		func(r *http.Request) { r.Header.Set("Authorization", "Bearer other-key") })
	if a.status != 401 || len(s.Violations()) != 0 || s.Hits() != 1 {
		t.Errorf("status %d, violations %v, hits %d", a.status, s.Violations(), s.Hits())
	}
	if !slices.Contains(s.SensitiveValues(), "other-key") {
		t.Errorf("received tokens must count as sensitive: %v", s.SensitiveValues())
	}
}

func TestProbesAreCountedApart(t *testing.T) {
	s := brazefake.New(t, brazefake.Config{})
	a := post(t, s, brazefake.PathUsersTrack, `{"attributes":[]}`)
	b := post(t, s, brazefake.PathSubscriptionStatusSet, `{"subscription_groups":[]}`)
	if a.status != 400 || a.body["message"] != brazefake.MessageNoValidData || b.status != 400 {
		t.Errorf("answers %v / %v", a, b)
	}
	if s.Probes() != 2 || s.Hits() != 0 || len(s.Violations()) != 0 {
		t.Errorf("probes %d hits %d violations %v", s.Probes(), s.Hits(), s.Violations())
	}
}

func TestStateAndAnswers(t *testing.T) {
	s := brazefake.New(t, brazefake.Config{})
	s.SeedUsers("old")
	a := post(t, s, brazefake.PathUsersTrack, `{
		"attributes":[
			{"external_id":"new","tier":"gold","nick":"x"},
			{"external_id":"ghost","_update_existing_only":true,"tier":"gold"},
			{"external_id":"old","_update_existing_only":true,"tier":"silver"},
			{"external_id":"bad","email":"not-an-email"}],
		"events":[{"external_id":"new","name":"signup","time":"2025-01-02T03:04:05Z","properties":{"plan":"pro"}}],
		"purchases":[{"external_id":"old","product_id":"p","currency":"EUR","price":9.90,"quantity":2,"time":"2025-01-02T03:04:05Z"}]}`)
	if a.status != 201 || a.body["message"] != "success" || a.body["attributes_processed"] != float64(3) {
		t.Fatalf("answer %d %v", a.status, a.body)
	}
	errs := minorErrors(t, a.body)
	if len(errs) != 1 {
		t.Fatalf("errors = %v", a.body["errors"])
	}
	e := errs[0]
	if e["input_array"] != "attributes" || e["index"] != float64(3) || !strings.Contains(str(e["type"]), "valid email") {
		t.Errorf("minor error = %v", e)
	}
	if len(s.Violations()) != 0 {
		t.Errorf("bad data is not a contract violation: %v", s.Violations())
	}
	if _, ok := s.User("ghost"); ok {
		t.Errorf("_update_existing_only created a user")
	}
	if u, _ := s.User("old"); u["tier"] != "silver" {
		t.Errorf("old = %v", u)
	}
	post(t, s, brazefake.PathUsersTrack, `{"attributes":[{"external_id":"new","nick":null}]}`)
	if u, _ := s.User("new"); u["tier"] != "gold" || u["nick"] != nil {
		t.Errorf("null must remove only that attribute: %v", u)
	}
	if ev := s.Events(); len(ev) != 1 || ev[0].Name != "signup" || ev[0].Properties["plan"] != "pro" {
		t.Errorf("events = %+v", ev)
	}
	if p := s.Purchases(); len(p) != 1 || p[0].Price != "9.90" || p[0].Quantity != 2 {
		t.Errorf("purchases = %+v", p)
	}
	a = post(t, s, brazefake.PathSubscriptionStatusSet, `{"subscription_groups":[
		{"subscription_group_id":"g","subscription_state":"subscribed","external_ids":["new"],"use_double_opt_in_logic":false},
		{"subscription_group_id":"g","subscription_state":"unsubscribed","phones":["+33612345678"]}]}`)
	if a.status != 201 || a.body["message"] != "success" {
		t.Fatalf("answer %d %v", a.status, a.body)
	}
	if st, _ := s.Subscription("g", "phone", "+33612345678"); st != "unsubscribed" {
		t.Errorf("phone state = %q", st)
	}
	if got := len(s.Requests()); got != 3 {
		t.Errorf("Requests() = %d", got)
	}
}

func TestScriptedFailures(t *testing.T) {
	t.Run("429 in Braze's format", func(t *testing.T) {
		s := brazefake.New(t, brazefake.Config{})
		s.FailNext(1, connectortest.Failure{Status: 429, RetryAfter: "30"})
		a := post(t, s, brazefake.PathUsersTrack, `{"attributes":[{"external_id":"u"}]}`)
		reset, err := strconv.ParseInt(a.header.Get("X-RateLimit-Reset"), 10, 64)
		if a.status != 429 || err != nil || a.header.Get("Retry-After") != "" || a.header.Get("X-RateLimit-Remaining") != "0" {
			t.Fatalf("answer %d %v", a.status, a.header)
		}
		if d := time.Until(time.Unix(reset, 0)); d < 28*time.Second || d > 31*time.Second {
			t.Errorf("reset in %s, want about 30s", d)
		}
		if len(s.Keys()) != 0 {
			t.Errorf("a failed request was applied")
		}
		if a := post(t, s, brazefake.PathUsersTrack, `{"attributes":[{"external_id":"u","x":1}]}`); a.status != 201 {
			t.Errorf("the script should be used up: %d", a.status)
		}
	})
	t.Run("partial failure", func(t *testing.T) {
		s := brazefake.New(t, brazefake.Config{})
		s.FailNext(1, connectortest.Failure{Reject: map[string]string{"b": "blocked"}, Retry: map[string]string{"c": "busy"}})
		a := post(t, s, brazefake.PathUsersTrack, `{"attributes":[{"external_id":"a","x":1},{"external_id":"b","x":1},{"external_id":"c","x":1}]}`)
		errs := minorErrors(t, a.body)
		if a.status != 201 || len(errs) != 2 {
			t.Fatalf("answer %d %v", a.status, a.body)
		}
		e1, e2 := errs[0], errs[1]
		if e1["type"] != "blocked" || e1["index"] != float64(1) || e2["index"] != float64(2) || !strings.Contains(str(e2["type"]), "try again") {
			t.Errorf("errors = %v", errs)
		}
		if got := s.Keys(); !slices.Equal(got, []string{"a"}) {
			t.Errorf("keys = %v", got)
		}
	})
	t.Run("every object refused is fatal", func(t *testing.T) {
		s := brazefake.New(t, brazefake.Config{})
		s.FailNext(1, connectortest.Failure{Reject: map[string]string{"a": "no"}})
		a := post(t, s, brazefake.PathUsersTrack, `{"attributes":[{"external_id":"a","x":1}]}`)
		if a.status != 400 || a.body["message"] != brazefake.MessageNoValidData {
			t.Errorf("answer %d %v", a.status, a.body)
		}
	})
	t.Run("subscription partial failure", func(t *testing.T) {
		s := brazefake.New(t, brazefake.Config{Keys: brazefake.KeysSubscribed})
		s.FailNext(1, connectortest.Failure{Reject: map[string]string{"y": "unknown user"}})
		a := post(t, s, brazefake.PathSubscriptionStatusSet,
			`{"subscription_groups":[{"subscription_group_id":"g","subscription_state":"subscribed","external_ids":["x","y"]}]}`)
		errs := minorErrors(t, a.body)
		if a.status != 201 || len(errs) != 1 || errs[0]["input_array"] != "external_ids" || errs[0]["index"] != float64(1) {
			t.Errorf("answer %d %v", a.status, a.body)
		}
		if got := s.Keys(); !slices.Equal(got, []string{"x"}) {
			t.Errorf("keys = %v", got)
		}
	})
}
