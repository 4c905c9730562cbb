package hubspot_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/destination/connectortest"
	"dinmo/connectors/destination/hubspot"
	"dinmo/connectors/destination/hubspot/hubspotfake"
	"dinmo/connectors/httpx"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func fastPlatform(opts ...hubspot.Option) *hubspot.Platform {
	return hubspot.New(append([]hubspot.Option{hubspot.WithBackoff(time.Millisecond, 5*time.Millisecond)}, opts...)...)
}

// requestsPer10s turns the suite's requests per second into the setting, so that the client's
// rate (90% of the setting per second) is at least the one asked for... and at most HubSpot's
// highest plan.
func requestsPer10s(rps float64) int64 {
	if rps == 0 {
		return 250
	}
	return int64(math.Ceil(rps * 10 / 0.9))
}

func conformanceDriver(service, keyProperty string, options map[string]any, record func(i int) destination.Record) connectortest.Driver {
	return connectortest.Driver{
		Platform: fastPlatform(),
		Service:  service,
		NoRemove: true, // HubSpot services create and update; they never delete
		Record:   record,
		Setup: func(t *testing.T, o connectortest.SetupOptions) (connectortest.Fake, destination.OpenParams) {
			fake := hubspotfake.New(t, hubspotfake.Config{MaxInputs: o.BatchSize, KeyProperty: keyProperty})
			return fake, destination.OpenParams{
				Settings: map[string]any{
					hubspot.SettingBatchSize:      int64(o.BatchSize),
					hubspot.SettingMaxRetries:     int64(o.MaxRetries),
					hubspot.SettingRequestsPer10s: requestsPer10s(o.RequestsPerSecond),
					hubspot.SettingPortalID:       int64(hubspotfake.DefaultPortalID),
				},
				Options:        options,
				Credentials:    map[string]string{hubspot.CredentialAccessToken: fake.Token()},
				BaseURL:        fake.URL(),
				RunID:          "run-1",
				ActivationID:   "act-1",
				ActivationName: "VIP customers",
				StartedAt:      time.Now(),
			}
		},
	}
}

func TestConformance(t *testing.T) {
	seen := time.Date(2025, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	t.Run("contacts", func(t *testing.T) {
		connectortest.RunConformance(t, conformanceDriver(hubspot.ServiceContacts, "dinmo_key",
			map[string]any{hubspot.OptionIDProperty: "dinmo_key"},
			func(i int) destination.Record {
				return destination.Record{Key: fmt.Sprintf("k%03d", i), Op: destination.OpUpsert, Fields: map[string]any{
					"dinmo_key": fmt.Sprintf("k%03d", i), "email": fmt.Sprintf(" User%d@Example.com ", i),
					"firstname": "Ada", "lifecyclestage": "lead",
				}}
			}))
	})
	t.Run("companies", func(t *testing.T) {
		connectortest.RunConformance(t, conformanceDriver(hubspot.ServiceCompanies, "dinmo_key",
			map[string]any{hubspot.OptionIDProperty: "dinmo_key"},
			func(i int) destination.Record {
				return destination.Record{Key: fmt.Sprintf("k%03d", i), Op: destination.OpUpsert, Fields: map[string]any{
					"dinmo_key": fmt.Sprintf("k%03d", i), "name": fmt.Sprintf("Company %d", i),
					"numberofemployees": int64(i), "annualrevenue": 1234.5,
				}}
			}))
	})
	t.Run("deals", func(t *testing.T) {
		connectortest.RunConformance(t, conformanceDriver(hubspot.ServiceDeals, "dinmo_key",
			map[string]any{hubspot.OptionIDProperty: "dinmo_key"},
			func(i int) destination.Record {
				return destination.Record{Key: fmt.Sprintf("k%03d", i), Op: destination.OpUpsert, Fields: map[string]any{
					"dinmo_key": fmt.Sprintf("k%03d", i), "dealname": fmt.Sprintf("Order %d", i),
					"amount": float64(i) * 10.25, "closedate": seen, "dealtype": "newbusiness",
				}}
			}))
	})
	t.Run("custom_objects", func(t *testing.T) {
		connectortest.RunConformance(t, conformanceDriver(hubspot.ServiceCustomObjects, "vin",
			map[string]any{hubspot.OptionObjectType: hubspotfake.DefaultCustomObjectTypeID, hubspot.OptionIDProperty: "vin"},
			func(i int) destination.Record {
				return destination.Record{Key: fmt.Sprintf("k%03d", i), Op: destination.OpUpsert, Fields: map[string]any{
					"vin": fmt.Sprintf("k%03d", i), "model": "Zoe", "year": int64(2020 + i),
					"registered_on": time.Date(2021, 5, 6, 0, 0, 0, 0, time.UTC), "electric": true,
				}}
			}))
	})
}

// env is a fake and a destination opened against it.
type env struct {
	fake *hubspotfake.Server
	dest destination.Destination
}

func params(fake *hubspotfake.Server, service string, options map[string]any, settings map[string]any) destination.OpenParams {
	s := map[string]any{hubspot.SettingMaxRetries: int64(1), hubspot.SettingRequestsPer10s: int64(250)}
	for k, v := range settings {
		s[k] = v
	}
	return destination.OpenParams{
		Service: service, Settings: s, Options: options,
		Credentials: map[string]string{hubspot.CredentialAccessToken: fake.Token()},
		BaseURL:     fake.URL(), RunID: "run-7", ActivationID: "act-7", ActivationName: "Churn risk",
	}
}

func open(t *testing.T, cfg hubspotfake.Config, service string, options map[string]any, opts ...hubspot.Option) *env {
	t.Helper()
	fake := hubspotfake.New(t, cfg)
	d, err := fastPlatform(opts...).Open(context.Background(), params(fake, service, options, nil))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return &env{fake: fake, dest: d}
}

func (e *env) apply(t *testing.T, recs ...destination.Record) ([]destination.Outcome, error) {
	t.Helper()
	out, err := e.dest.Apply(context.Background(), destination.Batch{RunID: "run-7", ActivationID: "act-7", Records: recs})
	if err == nil && len(out) != len(recs) {
		t.Fatalf("Apply returned %d outcomes for %d records", len(out), len(recs))
	}
	return out, err
}

func (e *env) noViolations(t *testing.T) {
	t.Helper()
	if v := e.fake.Violations(); len(v) > 0 {
		t.Errorf("contract violations:\n%s", strings.Join(v, "\n"))
	}
}

func wantStatuses(t *testing.T, out []destination.Outcome, want ...destination.Status) {
	t.Helper()
	if len(out) != len(want) {
		t.Fatalf("%d outcomes, want %d", len(out), len(want))
	}
	for i, o := range out {
		if w := want[i]; o.Status != w { //nolint:gosec // G602: lengths are checked equal above
			t.Errorf("record %d: %s (%q), want %s", i, o.Status, o.Reason, w)
		}
	}
}

func rec(key string, op destination.Operation, fields map[string]any) destination.Record {
	return destination.Record{Key: key, Op: op, Fields: fields}
}

func TestRequestMappingPerOperation(t *testing.T) {
	e := open(t, hubspotfake.Config{}, hubspot.ServiceContacts, nil)
	e.fake.Seed("contacts", map[string]string{"email": "old@example.com", "firstname": "Old", "phone": "+331"})
	at := time.Date(2025, 3, 4, 5, 6, 7, 891_234_567, time.FixedZone("CET", 3600))
	out, err := e.apply(t,
		rec("a", destination.OpUpsert, map[string]any{
			"email": "  Ada@Example.COM ", "firstname": "Ada", "date_of_birth": time.Date(1990, 3, 7, 0, 0, 0, 0, time.UTC),
			"hubspot_owner_id": int64(42), "lifecyclestage": nil, "jobtitle": at, "company": 12.5,
			"website": map[string]any{"a": 1.0}, "hs_lead_status": []any{"NEW"},
		}),
		rec("b", destination.OpInsert, map[string]any{"email": "bob@example.com", "zip": true}),
		rec("c", destination.OpUpdate, map[string]any{"email": "OLD@example.com", "firstname": "Renamed", "phone": nil}),
	)
	if err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, out, destination.Acknowledged, destination.Acknowledged, destination.Acknowledged)
	e.noViolations(t)
	reqs := e.fake.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 (one per operation)", len(reqs))
	}
	wantPaths := []string{"/crm/v3/objects/contacts/batch/upsert", "/crm/v3/objects/contacts/batch/create", "/crm/v3/objects/contacts/batch/update"}
	for i, r := range reqs {
		if r.Path != wantPaths[i] || r.Method != http.MethodPost {
			t.Errorf("request %d: %s %s, want POST %s", i, r.Method, r.Path, wantPaths[i])
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+e.fake.Token() {
			t.Errorf("request %d: Authorization %q", i, got)
		}
		if len(r.Inputs) != 1 || r.Inputs[0].ObjectWriteTraceID == "" {
			t.Errorf("request %d: inputs %+v, want one with an objectWriteTraceId", i, r.Inputs)
		}
	}
	up := reqs[0].Inputs[0]
	if up.ID != "ada@example.com" || up.IDProperty != "email" {
		t.Errorf("upsert id = %q/%q, want the normalised e-mail", up.ID, up.IDProperty)
	}
	wantProps := map[string]string{
		"email": "ada@example.com", "firstname": "Ada", "date_of_birth": "1990-03-07", "hubspot_owner_id": "42",
		"lifecyclestage": "", "jobtitle": "2025-03-04T04:06:07.891Z", "company": "12.5", "website": `{"a":1}`,
		"hs_lead_status": "NEW",
	}
	if fmt.Sprint(up.Properties) != fmt.Sprint(wantProps) {
		t.Errorf("upsert properties = %v\nwant %v", up.Properties, wantProps)
	}
	ins := reqs[1].Inputs[0]
	if ins.ID != "" || ins.IDProperty != "" || ins.Properties["email"] != "bob@example.com" || ins.Properties["zip"] != "true" {
		t.Errorf("create input = %+v, want properties only", ins)
	}
	upd := reqs[2].Inputs[0]
	if upd.ID != "old@example.com" || upd.IDProperty != "email" || upd.Properties["phone"] != "" {
		t.Errorf("update input = %+v", upd)
	}
	if o, ok := e.fake.Find("contacts", "email", "old@example.com"); !ok || o.Properties["firstname"] != "Renamed" || o.Properties["phone"] != "" {
		t.Errorf("updated contact = %+v, want firstname Renamed and phone cleared", o)
	}
	if _, ok := e.fake.Find("contacts", "email", "ada@example.com"); !ok {
		t.Errorf("upserted contact missing")
	}
	if rc, ok := e.dest.(destination.RequestCounter); !ok || rc.Requests() != 3 {
		t.Errorf("request counter = %v", rc)
	}
}

func TestCustomObjectPathAndOptions(t *testing.T) {
	e := open(t, hubspotfake.Config{KeyProperty: "vin"}, hubspot.ServiceCustomObjects,
		map[string]any{hubspot.OptionObjectType: hubspotfake.DefaultCustomObjectName, hubspot.OptionIDProperty: "vin"})
	out, err := e.apply(t, rec("x", destination.OpUpsert, map[string]any{"vin": " VF1 ", "year": int64(2021), "electric": false}))
	if err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, out, destination.Acknowledged)
	reqs := e.fake.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/crm/v3/objects/"+hubspotfake.DefaultCustomObjectName+"/batch/upsert" {
		t.Fatalf("requests = %+v", reqs)
	}
	if in := reqs[0].Inputs[0]; in.ID != "VF1" || in.IDProperty != "vin" || in.Properties["vin"] != "VF1" || in.Properties["electric"] != "false" {
		t.Errorf("input = %+v, want the trimmed vin as id (case kept) and property", in)
	}
	if keys := e.fake.Keys(); len(keys) != 1 || keys[0] != "VF1" {
		t.Errorf("keys = %v", keys)
	}
}

func TestInsertConflictsAreIsolatedAndRejected(t *testing.T) {
	e := open(t, hubspotfake.Config{}, hubspot.ServiceContacts, nil)
	existing := e.fake.Seed("contacts", map[string]string{"email": "taken@example.com"})
	recs := []destination.Record{
		rec("0", destination.OpInsert, map[string]any{"email": "a@example.com"}),
		rec("1", destination.OpInsert, map[string]any{"email": "b@example.com"}),
		rec("2", destination.OpInsert, map[string]any{"email": "Taken@Example.com"}),
		rec("3", destination.OpInsert, map[string]any{"email": "d@example.com"}),
	}
	out, err := e.apply(t, recs...)
	if err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, out, destination.Acknowledged, destination.Acknowledged, destination.Rejected, destination.Acknowledged)
	if !strings.Contains(out[2].Reason, "already exists") || !strings.Contains(out[2].Reason, "Existing ID: "+existing.ID) {
		t.Errorf("reason = %q, want HubSpot's conflict message", out[2].Reason)
	}
	// 409 for all four, then [0 1] created, [2 3] refused, [2] refused alone, [3] created.
	if got := e.fake.Hits(); got != 5 {
		t.Errorf("%d requests, want 5", got)
	}
	if n := len(e.fake.Objects("contacts")); n != 4 {
		t.Errorf("%d contacts, want 4", n)
	}
	e.noViolations(t)
}

func TestInvalidValueIsolatedByBisection(t *testing.T) {
	e := open(t, hubspotfake.Config{}, hubspot.ServiceContacts, nil)
	var recs []destination.Record
	for i := range 8 {
		stage := "lead"
		if i == 5 {
			stage = "vip" // not an option of lifecyclestage
		}
		recs = append(recs, rec(fmt.Sprint(i), destination.OpUpsert, map[string]any{"email": fmt.Sprintf("u%d@example.com", i), "lifecyclestage": stage}))
	}
	out, err := e.apply(t, recs...)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		want := destination.Acknowledged
		if i == 5 {
			want = destination.Rejected
		}
		if o.Status != want {
			t.Errorf("record %d: %s (%s), want %s", i, o.Status, o.Reason, want)
		}
	}
	if !strings.Contains(out[5].Reason, "INVALID_OPTION") {
		t.Errorf("reason = %q, want HubSpot's validation message", out[5].Reason)
	}
	// [0..7] refused, [0..3] ok, [4..7] refused, [4 5] refused, [4] ok, [5] rejected, [6 7] ok.
	if got := e.fake.Hits(); got != 7 {
		t.Errorf("%d requests, want 7", got)
	}
	if n := len(e.fake.Objects("contacts")); n != 7 {
		t.Errorf("%d contacts, want 7", n)
	}
	e.noViolations(t)
}

func TestConfigurationRefusalsFailTheBatch(t *testing.T) {
	cases := []struct {
		name   string
		fields map[string]any
		want   string
	}{
		{"unknown property", map[string]any{"email": "a@example.com", "favourite_colour": "red"}, "PROPERTY_DOESNT_EXIST"},
		{"read-only property", map[string]any{"email": "a@example.com", "createdate": "2020-01-01"}, "READ_ONLY_VALUE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := open(t, hubspotfake.Config{}, hubspot.ServiceContacts, nil)
			recs := []destination.Record{rec("a", destination.OpUpsert, tc.fields), rec("b", destination.OpUpsert, map[string]any{"email": "b@example.com", "firstname": "B"})}
			_, err := e.apply(t, recs...)
			if err == nil || connectors.IsRetryable(err) || connectors.CategoryOf(err) != connectors.CategoryConfiguration {
				t.Fatalf("err = %v, want a permanent configuration error", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want HubSpot's %s", err, tc.want)
			}
			if e.fake.Hits() != 1 {
				t.Errorf("%d requests, want 1 (no splitting for configuration errors)", e.fake.Hits())
			}
		})
	}
	t.Run("non-unique matching property", func(t *testing.T) {
		e := open(t, hubspotfake.Config{}, hubspot.ServiceContacts, map[string]any{hubspot.OptionIDProperty: "firstname"})
		_, err := e.apply(t, rec("a", destination.OpUpsert, map[string]any{"firstname": "Ada"}))
		if connectors.CategoryOf(err) != connectors.CategoryConfiguration || !strings.Contains(err.Error(), "non-unique") {
			t.Fatalf("err = %v, want a configuration error naming the non-unique property", err)
		}
	})
}

func TestUpdateOfUnknownRecordsIsRejected(t *testing.T) {
	e := open(t, hubspotfake.Config{}, hubspot.ServiceContacts, nil)
	e.fake.Seed("contacts", map[string]string{"email": "a@example.com"})
	e.fake.Seed("contacts", map[string]string{"email": "c@example.com"})
	out, err := e.apply(t,
		rec("a", destination.OpUpdate, map[string]any{"email": "a@example.com", "firstname": "A"}),
		rec("b", destination.OpUpdate, map[string]any{"email": "b@example.com", "firstname": "B"}),
		rec("c", destination.OpUpdate, map[string]any{"email": "C@example.com", "firstname": "C"}),
	)
	if err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, out, destination.Acknowledged, destination.Rejected, destination.Acknowledged)
	if !strings.Contains(out[1].Reason, "update never creates") {
		t.Errorf("reason = %q", out[1].Reason)
	}
	if _, ok := e.fake.Find("contacts", "email", "b@example.com"); ok {
		t.Errorf("update created a contact")
	}
	if o, _ := e.fake.Find("contacts", "email", "c@example.com"); o.Properties["firstname"] != "C" {
		t.Errorf("contact c = %+v", o)
	}
	if e.fake.Hits() != 1 {
		t.Errorf("%d requests, want 1", e.fake.Hits())
	}
	e.noViolations(t)
}

func TestMultiStatusErrorNamingNoRecord(t *testing.T) {
	e := open(t, hubspotfake.Config{}, hubspot.ServiceContacts, nil)
	// Results confirm the first input by its trace id; an error names nobody.
	body := `{"status":"COMPLETE","results":[{"id":"1","objectWriteTraceId":"dinmo-1-0","properties":{}}],"numErrors":1,` +
		`"errors":[{"status":"error","category":"VALIDATION_ERROR","message":"something failed","context":{}}]}`
	e.fake.FailNextRaw(1, http.StatusMultiStatus, nil, body)
	out, err := e.apply(t,
		rec("a", destination.OpUpsert, map[string]any{"email": "a@example.com"}),
		rec("b", destination.OpUpsert, map[string]any{"email": "b@example.com"}),
	)
	if err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, out, destination.Acknowledged, destination.Retryable)
	if !strings.Contains(out[1].Reason, "something failed") {
		t.Errorf("reason = %q", out[1].Reason)
	}
}

func TestLocalRejectionsAndRounds(t *testing.T) {
	e := open(t, hubspotfake.Config{}, hubspot.ServiceContacts, nil)
	out, err := e.apply(t,
		rec("bad-email", destination.OpUpsert, map[string]any{"email": "not an email"}),
		rec("no-id", destination.OpUpsert, map[string]any{"email": nil, "firstname": "X"}),
		rec("delete", destination.OpDelete, map[string]any{"email": "d@example.com"}),
		rec("nan", destination.OpUpsert, map[string]any{"email": "n@example.com", "company": math.NaN()}),
		rec("dup1", destination.OpUpsert, map[string]any{"email": "dup@example.com", "firstname": "First"}),
		rec("dup2", destination.OpUpsert, map[string]any{"email": "DUP@example.com", "firstname": "Second"}),
	)
	if err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, out, destination.Rejected, destination.Rejected, destination.Rejected, destination.Rejected,
		destination.Acknowledged, destination.Acknowledged)
	for i, want := range []string{"field \"email\"", "no value for the matching property", "not supported", "not finite"} {
		if !strings.Contains(out[i].Reason, want) {
			t.Errorf("record %d: reason %q, want %q", i, out[i].Reason, want)
		}
	}
	if strings.Contains(out[0].Reason, "not an email") {
		t.Errorf("a reason repeats the record's value: %q", out[0].Reason)
	}
	// The duplicate e-mail goes in a second request, after the first: the last values win.
	if e.fake.Hits() != 2 {
		t.Errorf("%d requests, want 2", e.fake.Hits())
	}
	if o, _ := e.fake.Find("contacts", "email", "dup@example.com"); o.Properties["firstname"] != "Second" {
		t.Errorf("duplicate contact = %+v, want the last record's values", o)
	}
	e.noViolations(t)
}

func TestUnmappedMatchingPropertyIsAConfigurationError(t *testing.T) {
	e := open(t, hubspotfake.Config{}, hubspot.ServiceCompanies, map[string]any{hubspot.OptionIDProperty: "dinmo_key"})
	_, err := e.apply(t, rec("a", destination.OpUpsert, map[string]any{"name": "Acme"}), rec("b", destination.OpUpsert, map[string]any{"name": "Beta"}))
	if connectors.CategoryOf(err) != connectors.CategoryConfiguration || connectors.IsRetryable(err) || !strings.Contains(err.Error(), "dinmo_key") {
		t.Fatalf("err = %v, want a permanent configuration error naming the matching property", err)
	}
	if e.fake.Hits() != 0 {
		t.Errorf("%d requests sent", e.fake.Hits())
	}
}

func TestFailureAfterProgressLeavesTheRestRetryable(t *testing.T) {
	e := open(t, hubspotfake.Config{}, hubspot.ServiceContacts, nil)
	e.fake.FailNext(1, connectortest.Failure{})            // the upsert goes through
	e.fake.FailNext(2, connectortest.Failure{Status: 500}) // the create fails, retry included
	out, err := e.apply(t,
		rec("a", destination.OpUpsert, map[string]any{"email": "a@example.com"}),
		rec("b", destination.OpInsert, map[string]any{"email": "b@example.com"}),
	)
	if err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, out, destination.Acknowledged, destination.Retryable)
	if !strings.Contains(out[1].Reason, "HTTP 500") {
		t.Errorf("reason = %q", out[1].Reason)
	}
}

func TestDailyLimitStopsAtOnce(t *testing.T) {
	clock := func() time.Time { return time.Date(2025, 1, 2, 20, 0, 0, 0, time.UTC) }
	e := open(t, hubspotfake.Config{}, hubspot.ServiceContacts, nil, hubspot.WithClock(clock))
	e.fake.FailNextRaw(1, http.StatusTooManyRequests, nil, hubspotfake.DailyLimitBody)
	start := time.Now()
	_, err := e.apply(t, rec("a", destination.OpUpsert, map[string]any{"email": "a@example.com"}))
	if err == nil || !connectors.IsRetryable(err) || connectors.CategoryOf(err) != connectors.CategoryRateLimit {
		t.Fatalf("err = %v, want a retryable rate_limit error", err)
	}
	var se *httpx.StatusError
	if !errors.As(err, &se) || se.RetryAfter != 4*time.Hour {
		t.Errorf("retry after = %v, want 4h (until midnight UTC)", se)
	}
	if e.fake.Hits() != 1 || time.Since(start) > 2*time.Second {
		t.Errorf("%d requests in %s: a DAILY limit must not be retried", e.fake.Hits(), time.Since(start))
	}
}

func TestLockedIsRetried(t *testing.T) {
	e := open(t, hubspotfake.Config{}, hubspot.ServiceContacts, nil)
	e.fake.FailNextRaw(1, http.StatusLocked, map[string]string{"Retry-After": "0"},
		`{"status":"error","message":"Locked","category":"LOCKED","correlationId":"x"}`)
	out, err := e.apply(t, rec("a", destination.OpUpsert, map[string]any{"email": "a@example.com"}))
	if err != nil {
		t.Fatal(err)
	}
	wantStatuses(t, out, destination.Acknowledged)
	if e.fake.Hits() != 2 {
		t.Errorf("%d requests, want 2", e.fake.Hits())
	}
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	fake := hubspotfake.New(t, hubspotfake.Config{})
	p := fastPlatform()
	cases := []struct {
		name    string
		service string
		options map[string]any
		mutate  func(*destination.OpenParams)
		cat     connectors.Category // "" for success
		want    string
		probes  int
	}{
		{name: "destination only", probes: 1},
		{name: "contacts by email", service: hubspot.ServiceContacts, probes: 2},
		{name: "custom object", service: hubspot.ServiceCustomObjects, probes: 2,
			options: map[string]any{hubspot.OptionObjectType: hubspotfake.DefaultCustomObjectTypeID, hubspot.OptionIDProperty: "vin"}},
		{name: "bad token", mutate: func(o *destination.OpenParams) { o.Credentials[hubspot.CredentialAccessToken] = "pat-na1-wrong-token" },
			cat: connectors.CategoryCredentials, want: "INVALID_AUTHENTICATION", probes: 1},
		{name: "other portal", mutate: func(o *destination.OpenParams) { o.Settings[hubspot.SettingPortalID] = int64(999) },
			cat: connectors.CategoryConfiguration, want: "account 1234567", probes: 1},
		{name: "non-unique property", service: hubspot.ServiceContacts, options: map[string]any{hubspot.OptionIDProperty: "firstname"},
			cat: connectors.CategoryConfiguration, want: "unique values", probes: 2},
		{name: "missing property", service: hubspot.ServiceDeals, options: map[string]any{hubspot.OptionIDProperty: "order_id"},
			cat: connectors.CategoryNotFound, want: "order_id", probes: 2},
		{name: "missing custom object", service: hubspot.ServiceCustomObjects,
			options: map[string]any{hubspot.OptionObjectType: "2-99", hubspot.OptionIDProperty: "vin"},
			cat:     connectors.CategoryNotFound, want: "Unable to infer object type", probes: 2},
		{name: "missing required option", service: hubspot.ServiceCompanies, cat: connectors.CategoryConfiguration, want: "id_property"},
		{name: "bad object type", service: hubspot.ServiceCustomObjects, options: map[string]any{hubspot.OptionObjectType: "cars", hubspot.OptionIDProperty: "vin"},
			cat: connectors.CategoryConfiguration, want: "objectTypeId"},
		{name: "record id as matching property", service: hubspot.ServiceContacts, options: map[string]any{hubspot.OptionIDProperty: "hs_object_id"},
			cat: connectors.CategoryConfiguration, want: "hs_object_id"},
		{name: "unknown option", service: hubspot.ServiceContacts, options: map[string]any{"list": "x"},
			cat: connectors.CategoryConfiguration, want: "no option \"list\""},
		{name: "unknown service", service: "tickets", cat: connectors.CategoryConfiguration, want: "unknown service"},
		{name: "missing token", mutate: func(o *destination.OpenParams) { delete(o.Credentials, hubspot.CredentialAccessToken) },
			cat: connectors.CategoryConfiguration, want: "access_token"},
		{name: "rate above plans", mutate: func(o *destination.OpenParams) { o.Settings[hubspot.SettingRequestsPer10s] = int64(500) },
			cat: connectors.CategoryConfiguration, want: "requests_per_10s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pr := params(fake, tc.service, tc.options, map[string]any{hubspot.SettingPortalID: int64(hubspotfake.DefaultPortalID)})
			if tc.mutate != nil {
				tc.mutate(&pr)
			}
			before := fake.Probes()
			err := p.Check(ctx, pr)
			switch {
			case tc.cat == "" && err != nil:
				t.Fatalf("Check: %v", err)
			case tc.cat != "" && (err == nil || connectors.CategoryOf(err) != tc.cat || connectors.IsRetryable(err)):
				t.Fatalf("Check: %v, want a permanent %s error", err, tc.cat)
			case tc.cat != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("Check: %v, want it to mention %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), fake.Token()) {
				t.Errorf("the token appears in the error")
			}
			if got := fake.Probes() - before; got != tc.probes {
				t.Errorf("%d requests, want %d", got, tc.probes)
			}
		})
	}
	if v := fake.Violations(); len(v) > 0 {
		t.Errorf("violations: %v", v)
	}
}

func TestOpenValidatesOffline(t *testing.T) {
	p := fastPlatform()
	_, err := p.Open(context.Background(), destination.OpenParams{
		Service: hubspot.ServiceCustomObjects, Options: map[string]any{hubspot.OptionIDProperty: "vin"},
		Credentials: map[string]string{hubspot.CredentialAccessToken: "pat-x"}, BaseURL: "ftp://example.com",
	})
	if connectors.CategoryOf(err) != connectors.CategoryConfiguration || !strings.Contains(err.Error(), "object_type") ||
		!strings.Contains(err.Error(), "http://") {
		t.Fatalf("err = %v, want every configuration problem at once", err)
	}
	if _, err := p.Open(context.Background(), destination.OpenParams{Credentials: map[string]string{hubspot.CredentialAccessToken: "pat-x"}}); err == nil {
		t.Errorf("Open without a service succeeded")
	}
}

func TestSpecDeclarations(t *testing.T) {
	s := hubspot.New().Spec()
	if err := connectors.ValidateFields(s.Settings); err != nil {
		t.Fatal(err)
	}
	if err := connectors.ValidateFields(s.Credentials); err != nil {
		t.Fatal(err)
	}
	want := []string{hubspot.ServiceContacts, hubspot.ServiceCompanies, hubspot.ServiceDeals, hubspot.ServiceCustomObjects}
	if len(s.Services) != len(want) {
		t.Fatalf("services = %d", len(s.Services))
	}
	for i, svc := range s.Services {
		if svc.Name != want[i] {
			t.Errorf("service %d = %s, want %s", i, svc.Name, want[i])
		}
		if err := connectors.ValidateFields(svc.Options); err != nil {
			t.Errorf("%s options: %v", svc.Name, err)
		}
		if svc.MaxBatchSize != 100 || svc.SupportsMode(destination.ModeMirror) || !svc.SupportsMode(destination.ModeUpsert) ||
			!svc.SupportsMode(destination.ModeInsert) || !svc.SupportsMode(destination.ModeUpdate) || !svc.AllowCustomFields {
			t.Errorf("%s: capabilities %+v", svc.Name, svc)
		}
		if svc.RequestsPerSecond*10+float64(svc.Burst) > 100 {
			t.Errorf("%s: declared rate allows more than 100 requests in 10 s", svc.Name)
		}
	}
}
