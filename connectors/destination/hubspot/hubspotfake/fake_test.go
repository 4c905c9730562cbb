package hubspotfake_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"dinmo/connectors/destination/connectortest"
	"dinmo/connectors/destination/hubspot/hubspotfake"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends one request to the fake; auth "" sends no Authorization header.
func do(t *testing.T, s *hubspotfake.Server, method, path, contentType, auth, body string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	c := &http.Client{}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &a.body)
	return a
}

// results returns the answer's "results" list (nil when absent).
func (a answer) results() []any {
	r, _ := a.body["results"].([]any)
	return r
}

// result returns result i of the answer as an object (nil when absent).
func (a answer) result(i int) map[string]any {
	r := a.results()
	if i >= len(r) {
		return nil
	}
	m, _ := r[i].(map[string]any)
	return m
}

func post(t *testing.T, s *hubspotfake.Server, path, body string) answer {
	t.Helper()
	return do(t, s, http.MethodPost, path, "application/json", "Bearer "+s.Token(), body)
}

func TestContractViolationsAreRefusedAndRecorded(t *testing.T) {
	s := hubspotfake.New(t, hubspotfake.Config{MaxInputs: 2})
	bearer := "Bearer " + s.Token()
	cases := []struct {
		name                      string
		method, path, ctype, auth string
		body                      string
		status                    int
	}{
		{"no auth", "POST", "/crm/v3/objects/contacts/batch/upsert", "application/json", "", `{"inputs":[]}`, 401},
		{"basic auth", "POST", "/crm/v3/objects/contacts/batch/upsert", "application/json", "Basic eDp5", `{}`, 401},
		{"wrong method", "PUT", "/crm/v3/objects/contacts/batch/upsert", "application/json", bearer, `{}`, 405},
		{"unknown endpoint", "POST", "/crm/v3/objects/contacts/batch/merge", "application/json", bearer, `{}`, 404},
		{"old API version", "POST", "/contacts/v1/contact/batch", "application/json", bearer, `{}`, 404},
		{"content type", "POST", "/crm/v3/objects/contacts/batch/upsert", "text/plain", bearer, `{"inputs":[]}`, 415},
		{"not json", "POST", "/crm/v3/objects/contacts/batch/upsert", "application/json", bearer, `inputs`, 400},
		{"unknown top-level key", "POST", "/crm/v3/objects/contacts/batch/upsert", "application/json", bearer,
			`{"inputs":[{"id":"a@x.io","idProperty":"email","properties":{}}],"mode":"fast"}`, 400},
		{"empty inputs", "POST", "/crm/v3/objects/contacts/batch/upsert", "application/json", bearer, `{"inputs":[]}`, 400},
		{"too many inputs", "POST", "/crm/v3/objects/contacts/batch/create", "application/json", bearer,
			`{"inputs":[{"properties":{}},{"properties":{}},{"properties":{}}]}`, 400},
		{"upsert without idProperty", "POST", "/crm/v3/objects/contacts/batch/upsert", "application/json", bearer,
			`{"inputs":[{"id":"a@x.io","properties":{}}]}`, 400},
		{"update without id", "POST", "/crm/v3/objects/contacts/batch/update", "application/json", bearer,
			`{"inputs":[{"idProperty":"email","properties":{}}]}`, 400},
		{"create with an id", "POST", "/crm/v3/objects/contacts/batch/create", "application/json", bearer,
			`{"inputs":[{"id":"a@x.io","properties":{}}]}`, 400},
		{"number property value", "POST", "/crm/v3/objects/companies/batch/create", "application/json", bearer,
			`{"inputs":[{"properties":{"numberofemployees":12}}]}`, 400},
		{"missing properties", "POST", "/crm/v3/objects/deals/batch/create", "application/json", bearer,
			`{"inputs":[{"objectWriteTraceId":"1"}]}`, 400},
		{"duplicate ids", "POST", "/crm/v3/objects/contacts/batch/upsert", "application/json", bearer,
			`{"inputs":[{"id":"a@x.io","idProperty":"email","properties":{}},{"id":"A@x.io","idProperty":"email","properties":{}}]}`, 400},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, s, tc.method, tc.path, tc.ctype, tc.auth, tc.body)
			if a.status != tc.status {
				t.Errorf("status %d, want %d (%s)", a.status, tc.status, a.raw)
			}
			if a.body["status"] != "error" || a.body["message"] == "" || a.body["correlationId"] == "" {
				t.Errorf("answer %s is not in HubSpot's error format", a.raw)
			}
			if got := len(s.Violations()); got != i+1 {
				t.Errorf("%d violations recorded, want %d", got, i+1)
			}
		})
	}
	if len(s.Objects("contacts"))+len(s.Objects("companies"))+len(s.Objects("deals")) != 0 {
		t.Errorf("a refused request changed the state")
	}
	if s.MaxBatchSeen() != 3 {
		t.Errorf("MaxBatchSeen = %d, want 3", s.MaxBatchSeen())
	}
}

func TestRefusalsThatAreNotViolations(t *testing.T) {
	s := hubspotfake.New(t, hubspotfake.Config{})
	s.Seed("contacts", map[string]string{"email": "taken@x.io"})
	cases := []struct {
		name, path, body string
		status           int
		want             string
	}{
		{"unknown property", "/crm/v3/objects/contacts/batch/upsert",
			`{"inputs":[{"id":"a@x.io","idProperty":"email","properties":{"colour":"red"}}]}`, 400, "PROPERTY_DOESNT_EXIST"},
		{"read-only property", "/crm/v3/objects/contacts/batch/create", `{"inputs":[{"properties":{"hs_object_id":"5"}}]}`, 400, "READ_ONLY_VALUE"},
		{"invalid email", "/crm/v3/objects/contacts/batch/create", `{"inputs":[{"properties":{"email":"nope"}}]}`, 400, "INVALID_EMAIL"},
		{"invalid option", "/crm/v3/objects/contacts/batch/create", `{"inputs":[{"properties":{"lifecyclestage":"vip"}}]}`, 400, "INVALID_OPTION"},
		{"invalid number", "/crm/v3/objects/deals/batch/create", `{"inputs":[{"properties":{"amount":"12,5"}}]}`, 400, "INVALID_NUMBER"},
		{"time on a date", "/crm/v3/objects/2-3508482/batch/create", `{"inputs":[{"properties":{"registered_on":"2021-05-06T10:00:00Z"}}]}`, 400, "INVALID_DATE"},
		{"invalid boolean", "/crm/v3/objects/p1234567_cars/batch/create", `{"inputs":[{"properties":{"electric":"yes"}}]}`, 400, "INVALID_BOOLEAN"},
		{"non-unique idProperty", "/crm/v3/objects/contacts/batch/upsert",
			`{"inputs":[{"id":"Ada","idProperty":"firstname","properties":{}}]}`, 400, "non-unique 0-1 property firstname"},
		{"unknown object type", "/crm/v3/objects/pets/batch/upsert",
			`{"inputs":[{"id":"a","idProperty":"name","properties":{}}]}`, 400, "Unable to infer object type from: pets"},
		{"existing contact", "/crm/v3/objects/contacts/batch/create",
			`{"inputs":[{"properties":{"email":"new@x.io"}},{"properties":{"email":"TAKEN@x.io"}}]}`, 409, "Contact already exists. Existing ID: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := post(t, s, tc.path, tc.body)
			if a.status != tc.status || !strings.Contains(a.raw, tc.want) {
				t.Errorf("answer %d %s, want %d mentioning %q", a.status, a.raw, tc.status, tc.want)
			}
		})
	}
	if v := s.Violations(); len(v) > 0 {
		t.Errorf("violations: %v", v)
	}
	if n := len(s.Objects("contacts")); n != 1 {
		t.Errorf("%d contacts, want only the seeded one (refused batches apply nothing)", n)
	}
}

func TestBatchSemantics(t *testing.T) {
	s := hubspotfake.New(t, hubspotfake.Config{})
	a := post(t, s, "/crm/v3/objects/contacts/batch/upsert",
		`{"inputs":[{"id":"ada@x.io","idProperty":"email","properties":{"firstname":"Ada"},"objectWriteTraceId":"t1"}]}`)
	if r := a.result(0); a.status != 200 || len(a.results()) != 1 || r["new"] != true || r["objectWriteTraceId"] != "t1" {
		t.Fatalf("upsert answer %d %s", a.status, a.raw)
	}
	a = post(t, s, "/crm/v3/objects/contacts/batch/upsert",
		`{"inputs":[{"id":"ADA@x.io","idProperty":"email","properties":{"firstname":"Ada L.","lastname":"Lovelace"}}]}`)
	if r := a.result(0); a.status != 200 || r["new"] != false {
		t.Fatalf("second upsert answer %d %s, want an update", a.status, a.raw)
	}
	a = post(t, s, "/crm/v3/objects/contacts/batch/update",
		`{"inputs":[{"id":"ada@x.io","idProperty":"email","properties":{"lastname":""}},{"id":"ghost@x.io","idProperty":"email","properties":{"firstname":"G"}}]}`)
	if a.status != 207 || a.body["numErrors"] != 1.0 || !strings.Contains(a.raw, `"category":"OBJECT_NOT_FOUND"`) || !strings.Contains(a.raw, `"ids":["ghost@x.io"]`) {
		t.Fatalf("update answer %d %s, want 207 naming ghost@x.io", a.status, a.raw)
	}
	o, ok := s.Find("contacts", "email", "ada@x.io")
	if !ok || o.Properties["firstname"] != "Ada L." || o.Properties["lastname"] != "" || o.Properties["hs_object_id"] != o.ID {
		t.Errorf("contact = %+v, want updated and lastname cleared", o)
	}
	if _, ok := s.Find("contacts", "email", "ghost@x.io"); ok {
		t.Errorf("update created a record")
	}
	a = post(t, s, "/crm/v3/objects/companies/batch/create", `{"inputs":[{"properties":{"name":"Acme","numberofemployees":"12"}}]}`)
	if a.status != 201 || len(s.Objects("0-2")) != 1 {
		t.Errorf("create answer %d %s", a.status, a.raw)
	}
	if got := s.Keys(); !slices.Equal(got, []string{"ada@x.io"}) {
		t.Errorf("keys = %v", got)
	}
	if s.Hits() != 4 || len(s.Requests()) != 4 || s.Requests()[2].Status != 207 {
		t.Errorf("hits %d, requests %+v", s.Hits(), s.Requests())
	}
}

func TestProbes(t *testing.T) {
	s := hubspotfake.New(t, hubspotfake.Config{PortalID: 42, KeyProperty: "external_id"})
	bearer := "Bearer " + s.Token()
	a := do(t, s, "GET", "/account-info/v3/details", "", bearer, "")
	if a.status != 200 || a.body["portalId"] != 42.0 {
		t.Errorf("account details %d %s", a.status, a.raw)
	}
	a = do(t, s, "GET", "/crm/v3/properties/deals/external_id", "", bearer, "")
	if a.status != 200 || a.body["hasUniqueValue"] != true {
		t.Errorf("key property %d %s, want a unique property declared on every type", a.status, a.raw)
	}
	a = do(t, s, "GET", "/crm/v3/properties/contacts/email", "", bearer, "")
	if a.status != 200 || a.body["hasUniqueValue"] != false {
		t.Errorf("contact email %d %s, want hasUniqueValue false as HubSpot reports it", a.status, a.raw)
	}
	a = do(t, s, "GET", "/crm/v3/properties/contacts/createdate", "", bearer, "")
	if meta, _ := a.body["modificationMetadata"].(map[string]any); meta["readOnlyValue"] != true {
		t.Errorf("createdate %s, want read-only", a.raw)
	}
	if a = do(t, s, "GET", "/crm/v3/properties/contacts/nope", "", bearer, ""); a.status != 404 {
		t.Errorf("missing property: %d %s", a.status, a.raw)
	}
	s.Seed("contacts", map[string]string{"email": "a@x.io"})
	if a = do(t, s, "GET", "/crm/v3/objects/contacts?limit=1", "", bearer, ""); a.status != 200 || len(a.results()) != 1 {
		t.Errorf("listing: %d %s", a.status, a.raw)
	}
	if a = do(t, s, "GET", "/account-info/v3/details", "", "Bearer pat-other", ""); a.status != 401 || a.body["category"] != "INVALID_AUTHENTICATION" {
		t.Errorf("wrong token: %d %s", a.status, a.raw)
	}
	if s.Probes() != 7 || s.Hits() != 0 {
		t.Errorf("probes %d hits %d, want 7 and 0", s.Probes(), s.Hits())
	}
	if v := s.Violations(); len(v) > 0 {
		t.Errorf("violations: %v", v)
	}
	if !slices.Contains(s.SensitiveValues(), "pat-other") {
		t.Errorf("received tokens are not reported as sensitive")
	}
}

func TestScriptedFailures(t *testing.T) {
	s := hubspotfake.New(t, hubspotfake.Config{KeyProperty: "email"})
	body := `{"inputs":[{"id":"a@x.io","idProperty":"email","properties":{}},{"id":"b@x.io","idProperty":"email","properties":{}},{"id":"c@x.io","idProperty":"email","properties":{}}]}`
	s.FailNext(1, connectortest.Failure{Status: 429, RetryAfter: "3"})
	s.FailNext(1, connectortest.Failure{Status: 401})
	s.FailNext(1, connectortest.Failure{Status: 502})
	s.FailNext(1, connectortest.Failure{Reject: map[string]string{"a@x.io": "bad"}, Retry: map[string]string{"b@x.io": "busy"}})
	s.FailNextRaw(1, 423, map[string]string{"Retry-After": "1"}, `{"status":"error","message":"locked","category":"LOCKED"}`)
	a := post(t, s, "/crm/v3/objects/contacts/batch/upsert", body)
	if a.status != 429 || a.header.Get("Retry-After") != "3" || a.body["policyName"] != "TEN_SECONDLY_ROLLING" || a.body["errorType"] != "RATE_LIMIT" {
		t.Errorf("429: %d %v %s", a.status, a.header, a.raw)
	}
	if a = post(t, s, "/crm/v3/objects/contacts/batch/upsert", body); a.status != 401 || a.body["category"] != "EXPIRED_AUTHENTICATION" {
		t.Errorf("401: %d %s", a.status, a.raw)
	}
	if a = post(t, s, "/crm/v3/objects/contacts/batch/upsert", body); a.status != 502 {
		t.Errorf("502: %d %s", a.status, a.raw)
	}
	a = post(t, s, "/crm/v3/objects/contacts/batch/upsert", body)
	if a.status != 207 || a.body["numErrors"] != 2.0 || !strings.Contains(a.raw, `"ids":["a@x.io"]`) || !strings.Contains(a.raw, `"category":"LOCKED"`) {
		t.Errorf("partial: %d %s", a.status, a.raw)
	}
	if got := s.Keys(); !slices.Equal(got, []string{"c@x.io"}) {
		t.Errorf("keys after the partial failure = %v, want only c", got)
	}
	if a = post(t, s, "/crm/v3/objects/contacts/batch/upsert", body); a.status != 423 || a.header.Get("Retry-After") != "1" {
		t.Errorf("raw: %d %s", a.status, a.raw)
	}
	if a = post(t, s, "/crm/v3/objects/contacts/batch/upsert", body); a.status != 200 {
		t.Errorf("after the script: %d %s", a.status, a.raw)
	}
	if v := s.Violations(); len(v) > 0 {
		t.Errorf("violations: %v", v)
	}
	s.Close()
	s.Close() // idempotent
}
