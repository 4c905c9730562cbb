package braze_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/destination/braze"
	"dinmo/connectors/destination/braze/brazefake"
	"dinmo/connectors/destination/connectortest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const endpoint = "https://rest.fra-01.braze.eu"

func newPlatform() *braze.Platform {
	return braze.New(braze.WithBackoff(time.Millisecond, 5*time.Millisecond))
}

var when = time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)

// driver returns the conformance driver of one service configuration.
func driver(service string, options map[string]any, cfg brazefake.Config, seed bool, record func(int) destination.Record, removeOp destination.Operation) connectortest.Driver {
	return connectortest.Driver{
		Platform: newPlatform(),
		Service:  service,
		Record:   record,
		RemoveOp: removeOp,
		NoRemove: removeOp == "",
		Setup: func(t *testing.T, o connectortest.SetupOptions) (connectortest.Fake, destination.OpenParams) {
			c := cfg
			c.MaxTrackObjects, c.MaxSubscriptionIDs = o.BatchSize, o.BatchSize
			fake := brazefake.New(t, c)
			if seed {
				ids := make([]string, 200)
				for i := range ids {
					ids[i] = fmt.Sprintf("k%03d", i)
				}
				fake.SeedUsers(ids...)
			}
			rps := int64(o.RequestsPerSecond)
			if rps == 0 {
				rps = braze.TrackRequestsPerSecond
			}
			return fake, destination.OpenParams{
				Settings: map[string]any{
					braze.SettingRESTEndpoint:      endpoint,
					braze.SettingBatchSize:         int64(o.BatchSize),
					braze.SettingMaxRetries:        int64(o.MaxRetries),
					braze.SettingRequestsPerSecond: rps,
				},
				Credentials:    map[string]string{braze.CredentialAPIKey: brazefake.DefaultAPIKey},
				Options:        options,
				RunID:          "run-1",
				ActivationID:   "act-1",
				ActivationName: "VIP customers",
				StartedAt:      when,
				BaseURL:        fake.URL(),
			}
		},
	}
}

func TestConformance(t *testing.T) {
	attrRecord := func(i int) destination.Record {
		r := connectortest.Record(i)
		r.Fields["external_id"] = r.Key
		return r
	}
	eventRecord := func(i int) destination.Record {
		return destination.Record{Key: fmt.Sprintf("k%03d", i), Op: destination.OpEvent, Fields: map[string]any{
			"external_id": fmt.Sprintf("k%03d", i), "time": when, "amount": float64(i) + 0.5, "channel": "web",
		}}
	}
	purchaseRecord := func(i int) destination.Record {
		return destination.Record{Key: fmt.Sprintf("k%03d", i), Op: destination.OpEvent, Fields: map[string]any{
			"external_id": fmt.Sprintf("k%03d", i), "time": when, "product_id": "basket", "currency": "eur",
			"price": "19.90", "quantity": int64(2), "coupon": "WINTER",
		}}
	}
	listRecord := func(i int) destination.Record {
		return destination.Record{Key: fmt.Sprintf("k%03d", i), Op: destination.OpAdd, Fields: map[string]any{"external_id": fmt.Sprintf("k%03d", i)}}
	}
	cases := []struct {
		name string
		d    connectortest.Driver
	}{
		{"user_attributes", driver(braze.ServiceUserAttributes, nil, brazefake.Config{Keys: brazefake.KeysUsers}, false, attrRecord, "")},
		{"track_events/custom", driver(braze.ServiceTrackEvents, map[string]any{braze.OptionEventName: "order_completed"},
			brazefake.Config{Keys: brazefake.KeysEventUsers}, false, eventRecord, "")},
		{"track_events/purchase", driver(braze.ServiceTrackEvents, map[string]any{braze.OptionEventType: braze.EventTypePurchase},
			brazefake.Config{Keys: brazefake.KeysEventUsers}, false, purchaseRecord, "")},
		{"subscription_status", driver(braze.ServiceSubscriptionStatus, map[string]any{braze.OptionSubscriptionGroupID: "grp-news"},
			brazefake.Config{Keys: brazefake.KeysSubscribed, KeyGroup: "grp-news"}, false, listRecord, destination.OpRemove)},
		{"user_lists", driver(braze.ServiceUserLists, nil,
			brazefake.Config{Keys: brazefake.KeysAttributeTrue, KeyAttribute: "vip_customers"}, true, listRecord, destination.OpRemove)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { connectortest.RunConformance(t, tc.d) })
	}
}

// env is one fake and an open destination for request-mapping tests.
type env struct {
	fake *brazefake.Server
	dest destination.Destination
	logs *connectortest.SyncBuffer
}

func open(t *testing.T, service string, options, settings map[string]any) *env {
	t.Helper()
	fake := brazefake.New(t, brazefake.Config{})
	st := map[string]any{braze.SettingRESTEndpoint: endpoint}
	for k, v := range settings {
		st[k] = v
	}
	logs := &connectortest.SyncBuffer{}
	dest, err := newPlatform().Open(context.Background(), destination.OpenParams{
		Service:        service,
		Settings:       st,
		Credentials:    map[string]string{braze.CredentialAPIKey: brazefake.DefaultAPIKey},
		Options:        options,
		RunID:          "run-1",
		ActivationID:   "act-1",
		ActivationName: "VIP customers (FR)",
		BaseURL:        fake.URL(),
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = dest.Close(context.Background()) })
	return &env{fake: fake, dest: dest, logs: logs}
}

func (e *env) apply(t *testing.T, recs ...destination.Record) []destination.Outcome {
	t.Helper()
	out, err := e.dest.Apply(context.Background(), destination.Batch{RunID: "run-1", ActivationID: "act-1", Records: recs})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if len(out) != len(recs) {
		t.Fatalf("%d outcomes for %d records", len(out), len(recs))
	}
	if v := e.fake.Violations(); len(v) > 0 {
		t.Fatalf("contract violations:\n%s", strings.Join(v, "\n"))
	}
	return out
}

// wantBodies compares the bodies the fake accepted with JSON documents, ignoring key order.
func (e *env) wantBodies(t *testing.T, path string, want ...string) {
	t.Helper()
	reqs := e.fake.Requests()
	if len(reqs) != len(want) {
		t.Fatalf("fake received %d requests, want %d", len(reqs), len(want))
	}
	for i, w := range want {
		r := reqs[i]
		if r.Path != path {
			t.Errorf("request %d: path %s, want %s", i, r.Path, path)
		}
		if r.Header.Get("Authorization") != "Bearer "+brazefake.DefaultAPIKey || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %d: headers %v", i, r.Header)
		}
		var got, exp any
		if err := json.Unmarshal(r.Body, &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(w), &exp); err != nil {
			t.Fatalf("bad expectation %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, exp) {
			t.Errorf("request %d body:\n got %s\nwant %s", i, r.Body, w)
		}
	}
}

func wantStatuses(t *testing.T, out []destination.Outcome, want ...destination.Status) {
	t.Helper()
	if len(out) != len(want) {
		t.Fatalf("%d outcomes, want %d", len(out), len(want))
	}
	for i, w := range want {
		if o := out[i]; o.Status != w {
			t.Errorf("record %d: %s (%q), want %s", i, o.Status, o.Reason, w)
		}
	}
}

func rec(key string, op destination.Operation, fields map[string]any) destination.Record {
	return destination.Record{Key: key, Op: op, Fields: fields}
}

func TestUserAttributesMapping(t *testing.T) {
	e := open(t, braze.ServiceUserAttributes, nil, map[string]any{braze.SettingDefaultPhoneRegion: "fr"})
	e.fake.SeedUsers("u2")
	out := e.apply(t,
		rec("1", destination.OpUpsert, map[string]any{
			"external_id": " u1 ", "email": " Ann@Example.COM ", "phone": "06 12 34 56 78", "first_name": "Ann",
			"dob": time.Date(1990, 3, 7, 0, 0, 0, 0, time.UTC), "loyalty_points": int64(12), "last_seen": when,
			"vip": true, "nickname": nil, "braze_id": "ignored-when-external-id-is-set",
		}),
		rec("2", destination.OpUpdate, map[string]any{"external_id": "u2", "email": "", "tier": "gold"}),
		rec("3", destination.OpUpdate, map[string]any{"external_id": nil, "braze_id": "b-3", "tier": "silver"}),
		rec("4", destination.OpUpsert, map[string]any{"external_id": "", "tier": "gold"}),
		rec("5", destination.OpUpsert, map[string]any{"external_id": "u5", "email": "not-an-email"}),
		rec("6", destination.OpUpsert, map[string]any{"external_id": "u6", "phone": "12"}),
		rec("7", destination.OpDelete, map[string]any{"external_id": "u7"}),
		rec("8", destination.OpUpdate, map[string]any{"external_id": "unknown", "tier": "gold"}),
	)
	A, R := destination.Acknowledged, destination.Rejected
	wantStatuses(t, out, A, A, A, R, R, R, R, A)
	for i, want := range map[int]string{3: "no external_id or braze_id", 4: "email is invalid", 5: "phone is invalid", 6: `operation "delete"`} {
		if !strings.Contains(out[i].Reason, want) {
			t.Errorf("record %d reason %q, want it to mention %q", i, out[i].Reason, want)
		}
	}
	if strings.Contains(out[4].Reason, "not-an-email") {
		t.Errorf("a reason quotes the record's value: %q", out[4].Reason)
	}
	e.wantBodies(t, braze.PathUsersTrack, `{"attributes":[
		{"external_id":"u1","_update_existing_only":false,"email":"ann@example.com","phone":"+33612345678","first_name":"Ann",
		 "dob":"1990-03-07","loyalty_points":12,"last_seen":"2025-01-02T03:04:05.000000006Z","vip":true,"nickname":null},
		{"external_id":"u2","_update_existing_only":true,"email":null,"tier":"gold"},
		{"braze_id":"b-3","_update_existing_only":true,"tier":"silver"},
		{"external_id":"unknown","_update_existing_only":true,"tier":"gold"}]}`)
	u1, ok := e.fake.User("u1")
	if !ok || u1["email"] != "ann@example.com" || u1["loyalty_points"] != float64(12) {
		t.Errorf("fake user u1 = %v", u1)
	}
	if _, ok := u1["nickname"]; ok {
		t.Errorf("a null attribute should be absent: %v", u1)
	}
	if _, ok := e.fake.User("unknown"); ok {
		t.Errorf("update of an unknown user created it")
	}
	if !strings.Contains(e.logs.String(), "braze batch sent") {
		t.Errorf("no batch log:\n%s", e.logs.String())
	}
}

func TestUserAttributesReservedFieldFailsBatch(t *testing.T) {
	for _, name := range []string{"push_token_import", "$revenue", "user_alias"} {
		t.Run(name, func(t *testing.T) {
			e := open(t, braze.ServiceUserAttributes, nil, nil)
			_, err := e.dest.Apply(context.Background(), destination.Batch{Records: []destination.Record{
				rec("1", destination.OpUpsert, map[string]any{"external_id": "u1", name: "x"}),
			}})
			if connectors.CategoryOf(err) != connectors.CategoryConfiguration || connectors.IsRetryable(err) || !strings.Contains(err.Error(), name) {
				t.Errorf("err = %v, want a permanent configuration error naming %q", err, name)
			}
			if e.fake.Hits() != 0 {
				t.Errorf("%d requests sent", e.fake.Hits())
			}
		})
	}
}

func TestCustomEventMapping(t *testing.T) {
	e := open(t, braze.ServiceTrackEvents, map[string]any{braze.OptionEventName: "order_completed", braze.OptionUpdateExistingOnly: true}, nil)
	e.fake.SeedUsers("u1", "u2")
	out := e.apply(t,
		rec("e1", destination.OpEvent, map[string]any{"external_id": "u1", "time": when, "amount": 12.5, "sku": "A1", "at": when}),
		rec("e2", destination.OpEvent, map[string]any{"braze_id": "b2", "time": "2025-01-02 10:00:00"}),
		rec("e3", destination.OpEvent, map[string]any{"external_id": "u3"}),
		rec("e4", destination.OpEvent, map[string]any{"external_id": "u4", "time": "yesterday"}),
		rec("e5", destination.OpUpsert, map[string]any{"external_id": "u5", "time": when}),
		rec("e6", destination.OpEvent, map[string]any{"external_id": "u2", "time": "2025-01-02T11:00:00+01:00"}),
	)
	A, R := destination.Acknowledged, destination.Rejected
	wantStatuses(t, out, A, A, R, R, R, A)
	if !strings.Contains(out[2].Reason, "time is required") || !strings.Contains(out[3].Reason, "ISO 8601") {
		t.Errorf("reasons = %q / %q", out[2].Reason, out[3].Reason)
	}
	e.wantBodies(t, braze.PathUsersTrack, `{"events":[
		{"external_id":"u1","name":"order_completed","time":"2025-01-02T03:04:05.000000006Z","_update_existing_only":true,
		 "properties":{"amount":12.5,"sku":"A1","at":"2025-01-02T03:04:05.000000006Z"}},
		{"braze_id":"b2","name":"order_completed","time":"2025-01-02T10:00:00Z","_update_existing_only":true},
		{"external_id":"u2","name":"order_completed","time":"2025-01-02T10:00:00Z","_update_existing_only":true}]}`)
	evs := e.fake.Events()
	if len(evs) != 2 || evs[0].ID != "u1" || evs[0].Properties["sku"] != "A1" || evs[1].ID != "u2" {
		t.Errorf("fake events = %+v (the braze_id user does not exist and update_existing_only is set)", evs)
	}
}

func TestPurchaseMapping(t *testing.T) {
	e := open(t, braze.ServiceTrackEvents, map[string]any{braze.OptionEventType: braze.EventTypePurchase}, nil)
	base := func(extra map[string]any) map[string]any {
		f := map[string]any{"external_id": "u1", "time": when, "product_id": "basket", "currency": "eur", "price": "19.90"}
		for k, v := range extra {
			f[k] = v
		}
		return f
	}
	out := e.apply(t,
		rec("p1", destination.OpEvent, base(map[string]any{"quantity": int64(3), "coupon": "WINTER"})),
		rec("p2", destination.OpEvent, base(map[string]any{"price": float64(5), "currency": "USD"})),
		rec("p3", destination.OpEvent, base(map[string]any{"currency": "euro"})),
		rec("p4", destination.OpEvent, base(map[string]any{"product_id": ""})),
		rec("p5", destination.OpEvent, base(map[string]any{"quantity": int64(101)})),
		rec("p6", destination.OpEvent, base(map[string]any{"price": "free"})),
		rec("p7", destination.OpEvent, base(map[string]any{"price": nil})),
	)
	A, R := destination.Acknowledged, destination.Rejected
	wantStatuses(t, out, A, A, R, R, R, R, R)
	for i, want := range map[int]string{2: "currency", 3: "product_id", 4: "quantity", 5: "price", 6: "price is required"} {
		if !strings.Contains(out[i].Reason, want) {
			t.Errorf("record %d reason %q, want %q", i, out[i].Reason, want)
		}
	}
	e.wantBodies(t, braze.PathUsersTrack, `{"purchases":[
		{"external_id":"u1","time":"2025-01-02T03:04:05.000000006Z","product_id":"basket","currency":"EUR","price":19.90,"quantity":3,
		 "properties":{"coupon":"WINTER"}},
		{"external_id":"u1","time":"2025-01-02T03:04:05.000000006Z","product_id":"basket","currency":"USD","price":5}]}`)
	if !bytes.Contains(e.fake.Requests()[0].Body, []byte(`"price":19.90`)) {
		t.Errorf("a decimal price must keep its digits: %s", e.fake.Requests()[0].Body)
	}
	ps := e.fake.Purchases()
	if len(ps) != 2 || ps[0].Currency != "EUR" || ps[0].Quantity != 3 || ps[1].Price != "5" {
		t.Errorf("fake purchases = %+v", ps)
	}
}

func TestSubscriptionStatusMapping(t *testing.T) {
	e := open(t, braze.ServiceSubscriptionStatus, map[string]any{braze.OptionSubscriptionGroupID: "grp-sms"},
		map[string]any{braze.SettingDefaultPhoneRegion: "FR"})
	out := e.apply(t,
		rec("1", destination.OpAdd, map[string]any{"external_id": "u1", "email": "ignored@example.com"}),
		rec("2", destination.OpAdd, map[string]any{"external_id": nil, "email": " Bob@Example.com "}),
		rec("3", destination.OpRemove, map[string]any{"external_id": "u3"}),
		rec("4", destination.OpAdd, map[string]any{"email": "", "phone": "06 12 34 56 78"}),
		rec("5", destination.OpAdd, map[string]any{"email": "bob@example.com"}),
		rec("6", destination.OpAdd, map[string]any{"email": "nope", "phone": "1"}),
		rec("7", destination.OpAdd, map[string]any{"email": nil}),
		rec("8", destination.OpUpsert, map[string]any{"external_id": "u8"}),
		rec("9", destination.OpAdd, map[string]any{"email": "broken", "phone": "+33 6 99 88 77 66"}),
	)
	A, R := destination.Acknowledged, destination.Rejected
	wantStatuses(t, out, A, A, A, A, A, R, R, R, A)
	if !strings.Contains(out[5].Reason, "email is invalid") || !strings.Contains(out[5].Reason, "phone is invalid") {
		t.Errorf("reason = %q", out[5].Reason)
	}
	e.wantBodies(t, braze.PathSubscriptionStatusSet,
		`{"subscription_groups":[{"subscription_group_id":"grp-sms","subscription_state":"subscribed","external_ids":["u1"]}]}`,
		`{"subscription_groups":[{"subscription_group_id":"grp-sms","subscription_state":"subscribed","emails":["bob@example.com"]}]}`,
		`{"subscription_groups":[{"subscription_group_id":"grp-sms","subscription_state":"unsubscribed","external_ids":["u3"]}]}`,
		`{"subscription_groups":[{"subscription_group_id":"grp-sms","subscription_state":"subscribed","phones":["+33612345678","+33699887766"]}]}`,
	)
	for _, c := range []struct{ kind, id, state string }{
		{"external_id", "u1", "subscribed"}, {"email", "bob@example.com", "subscribed"},
		{"external_id", "u3", "unsubscribed"}, {"phone", "+33612345678", "subscribed"},
	} {
		if st, _ := e.fake.Subscription("grp-sms", c.kind, c.id); st != c.state {
			t.Errorf("%s %s: state %q, want %q", c.kind, c.id, st, c.state)
		}
	}
}

func TestSubscriptionPartialFailureMapsIndexes(t *testing.T) {
	e := open(t, braze.ServiceSubscriptionStatus, map[string]any{braze.OptionSubscriptionGroupID: "grp"}, nil)
	e.fake.FailNext(1, connectortest.Failure{Reject: map[string]string{"b@example.com": "user is blocklisted"}})
	out := e.apply(t,
		rec("1", destination.OpAdd, map[string]any{"email": "a@example.com"}),
		rec("2", destination.OpAdd, map[string]any{"email": "b@example.com"}),
		rec("3", destination.OpAdd, map[string]any{"email": "B@example.com"}), // same address as record 2
	)
	A, R := destination.Acknowledged, destination.Rejected
	wantStatuses(t, out, A, R, R)
	if !strings.Contains(out[1].Reason, "user is blocklisted") || out[1] != out[2] {
		t.Errorf("outcomes = %+v", out)
	}
}

func TestUserListsMapping(t *testing.T) {
	t.Run("default attribute from the activation name", func(t *testing.T) {
		e := open(t, braze.ServiceUserLists, nil, nil)
		e.fake.SeedUsers("u1", "u2")
		out := e.apply(t,
			rec("1", destination.OpAdd, map[string]any{"external_id": "u1"}),
			rec("2", destination.OpRemove, map[string]any{"external_id": "u2"}),
			rec("3", destination.OpAdd, map[string]any{"external_id": "not-in-braze"}),
			rec("4", destination.OpAdd, map[string]any{}),
			rec("5", destination.OpUpsert, map[string]any{"external_id": "u1"}),
		)
		A, R := destination.Acknowledged, destination.Rejected
		wantStatuses(t, out, A, A, A, R, R)
		e.wantBodies(t, braze.PathUsersTrack, `{"attributes":[
			{"external_id":"u1","vip_customers_fr":true,"_update_existing_only":true},
			{"external_id":"u2","vip_customers_fr":false,"_update_existing_only":true},
			{"external_id":"not-in-braze","vip_customers_fr":true,"_update_existing_only":true}]}`)
		if u, _ := e.fake.User("u2"); u["vip_customers_fr"] != false {
			t.Errorf("u2 = %v", u)
		}
		if _, ok := e.fake.User("not-in-braze"); ok {
			t.Errorf("user_lists created a user")
		}
	})
	t.Run("attribute_name option", func(t *testing.T) {
		e := open(t, braze.ServiceUserLists, map[string]any{braze.OptionAttributeName: "In Segment: VIP"}, nil)
		e.apply(t, rec("1", destination.OpAdd, map[string]any{"external_id": "u1"}))
		e.wantBodies(t, braze.PathUsersTrack, `{"attributes":[{"external_id":"u1","In Segment: VIP":true,"_update_existing_only":true}]}`)
	})
}

func TestSanitizeAttributeName(t *testing.T) {
	for in, want := range map[string]string{
		"VIP customers (FR)":     "vip_customers_fr",
		"  churn--risk  ":        "churn_risk",
		"already_snake_case":     "already_snake_case",
		"Été 2025 – acheteurs":   "t_2025_acheteurs",
		"___":                    "",
		"":                       "",
		strings.Repeat("a", 300): strings.Repeat("a", 255),
	} {
		if got := braze.SanitizeAttributeName(in); got != want {
			t.Errorf("SanitizeAttributeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAllObjectsRefusedRejectsEachRecord(t *testing.T) {
	e := open(t, braze.ServiceUserAttributes, nil, nil)
	e.fake.FailNext(1, connectortest.Failure{Reject: map[string]string{"u1": "blocked external_id", "u2": "bad attribute"}})
	out := e.apply(t,
		rec("1", destination.OpUpsert, map[string]any{"external_id": "u1"}),
		rec("2", destination.OpUpsert, map[string]any{"external_id": "u2"}),
	)
	wantStatuses(t, out, destination.Rejected, destination.Rejected)
	if !strings.Contains(out[0].Reason, "blocked external_id") || !strings.Contains(out[1].Reason, "bad attribute") {
		t.Errorf("outcomes = %+v", out)
	}
}

// canned answers every request with one status and JSON body.
func canned(t *testing.T, status int, body string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func openAt(t *testing.T, service, baseURL string, options map[string]any) (destination.Destination, *connectortest.SyncBuffer) {
	t.Helper()
	logs := &connectortest.SyncBuffer{}
	dest, err := newPlatform().Open(context.Background(), destination.OpenParams{
		Service:     service,
		Settings:    map[string]any{braze.SettingRESTEndpoint: endpoint, braze.SettingMaxRetries: int64(1)},
		Credentials: map[string]string{braze.CredentialAPIKey: "secret-key-123"},
		Options:     options,
		BaseURL:     baseURL,
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dest.Close(context.Background()) })
	return dest, logs
}

func TestAnswerMapping(t *testing.T) {
	three := []destination.Record{
		rec("1", destination.OpUpsert, map[string]any{"external_id": "u1"}),
		rec("2", destination.OpUpsert, map[string]any{"external_id": "u2"}),
		rec("3", destination.OpUpsert, map[string]any{"external_id": "u3"}),
	}
	A, R, T := destination.Acknowledged, destination.Rejected, destination.Retryable
	cases := []struct {
		name      string
		status    int
		body      string
		want      []destination.Status
		reason    string // in the outcome of record 1
		cat       connectors.Category
		retryable bool
		log       string
	}{
		{name: "success", status: 201, body: `{"message":"success","attributes_processed":3}`, want: []destination.Status{A, A, A}},
		{name: "queued during maintenance", status: 202, body: `{"message":"queued"}`, want: []destination.Status{A, A, A}},
		{name: "minor errors", status: 201,
			body: `{"message":"success","errors":[{"type":"The value provided for the 'email' field is not a valid email.","input_array":"attributes","index":1},` +
				`{"type":"Internal error, please try again","input_array":"attributes","index":2}]}`,
			want: []destination.Status{A, R, T}, reason: "not a valid email"},
		{name: "errors on another array or without index are not attached", status: 201,
			body: `{"message":"success","errors":[{"type":"x","input_array":"events","index":0},"bare string",{"type":"y","input_array":"attributes","index":9}]}`,
			want: []destination.Status{A, A, A}, log: "errors=3"},
		{name: "fatal 400 naming every object", status: 400,
			body: `{"message":"Valid data must be provided in the 'attributes', 'events', or 'purchases' fields.","errors":[` +
				`{"type":"bad 0","input_array":"attributes","index":0},{"type":"bad 1","input_array":"attributes","index":1},{"type":"bad 2","input_array":"attributes","index":2}]}`,
			want: []destination.Status{R, R, R}, reason: "bad 1"},
		{name: "fatal 400", status: 400, body: `{"message":"Max Input Length Exceeded"}`, cat: connectors.CategoryConfiguration},
		{name: "fatal message on 2xx", status: 201, body: `{"message":"something went wrong","errors":[{"type":"bad","input_array":"attributes","index":0}]}`,
			cat: connectors.CategoryConfiguration},
		{name: "unknown key (404)", status: 404, body: `{"message":"Unknown REST API key"}`, cat: connectors.CategoryCredentials},
		{name: "missing permission (403)", status: 403, body: `{"message":"forbidden"}`, cat: connectors.CategoryCredentials},
		{name: "invalid key echoed (401)", status: 401, body: `{"message":"Invalid API key: secret-key-123"}`, cat: connectors.CategoryCredentials},
		{name: "rate limited", status: 429, body: `{"message":"API rate limit exceeded"}`, cat: connectors.CategoryRateLimit, retryable: true},
		{name: "server error", status: 500, body: `{"message":"oops"}`, cat: connectors.CategoryConnection, retryable: true},
		{name: "unreadable 2xx", status: 201, body: `<html>ok</html>`, want: []destination.Status{A, A, A}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := canned(t, tc.status, tc.body)
			dest, logs := openAt(t, braze.ServiceUserAttributes, srv.URL, nil)
			out, err := dest.Apply(context.Background(), destination.Batch{Records: three})
			if tc.want == nil {
				if err == nil || connectors.CategoryOf(err) != tc.cat || connectors.IsRetryable(err) != tc.retryable {
					t.Fatalf("err = %v, want %s (retryable %v)", err, tc.cat, tc.retryable)
				}
				if strings.Contains(err.Error(), "secret-key-123") {
					t.Errorf("the error leaks the API key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			wantStatuses(t, out, tc.want...)
			if tc.reason != "" && !strings.Contains(out[1].Reason, tc.reason) {
				t.Errorf("reason = %q, want %q", out[1].Reason, tc.reason)
			}
			if tc.log != "" && !strings.Contains(logs.String(), tc.log) {
				t.Errorf("log lacks %q:\n%s", tc.log, logs.String())
			}
		})
	}
}

func TestCredentialErrorMessages(t *testing.T) {
	srv, _ := canned(t, 403, `{"message":"nope"}`)
	dest, _ := openAt(t, braze.ServiceSubscriptionStatus, srv.URL, map[string]any{braze.OptionSubscriptionGroupID: "g"})
	_, err := dest.Apply(context.Background(), destination.Batch{Records: []destination.Record{
		rec("1", destination.OpAdd, map[string]any{"external_id": "u1"}),
	}})
	if err == nil || !strings.Contains(err.Error(), "subscription.status.set") {
		t.Errorf("err = %v, want the missing permission named", err)
	}
}

func TestRateLimitResetIsHonoured(t *testing.T) {
	e := open(t, braze.ServiceUserAttributes, nil, nil)
	e.fake.FailNext(1, connectortest.Failure{Status: 429, RetryAfter: "2"})
	start := time.Now()
	e.apply(t, rec("1", destination.OpUpsert, map[string]any{"external_id": "u1", "tier": "gold"}))
	// X-RateLimit-Reset is whole epoch seconds, 1 to 2 seconds ahead.
	if d := time.Since(start); d < time.Second {
		t.Errorf("retried after %s, want the wait until X-RateLimit-Reset", d)
	}
	if e.fake.Hits() != 2 {
		t.Errorf("hits = %d, want 2", e.fake.Hits())
	}
}

func checkParams(t *testing.T, baseURL string) destination.OpenParams {
	t.Helper()
	return destination.OpenParams{
		Settings:    map[string]any{braze.SettingRESTEndpoint: endpoint, braze.SettingMaxRetries: int64(0)},
		Credentials: map[string]string{braze.CredentialAPIKey: brazefake.DefaultAPIKey},
		BaseURL:     baseURL,
	}
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	t.Run("valid key, no service: probes /users/track", func(t *testing.T) {
		fake := brazefake.New(t, brazefake.Config{})
		if err := newPlatform().Check(ctx, checkParams(t, fake.URL())); err != nil {
			t.Fatalf("Check: %v", err)
		}
		if fake.Probes() != 1 || fake.Hits() != 0 || len(fake.Violations()) != 0 {
			t.Errorf("probes %d hits %d violations %v", fake.Probes(), fake.Hits(), fake.Violations())
		}
	})
	t.Run("subscription service probes its endpoint", func(t *testing.T) {
		var mu sync.Mutex
		var paths []string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			paths = append(paths, r.URL.Path)
			mu.Unlock()
			w.WriteHeader(http.StatusBadRequest)
		}))
		defer srv.Close()
		p := checkParams(t, srv.URL)
		p.Service, p.Options = braze.ServiceSubscriptionStatus, map[string]any{braze.OptionSubscriptionGroupID: "g"}
		if err := newPlatform().Check(ctx, p); err != nil {
			t.Fatalf("Check: %v", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(paths, []string{braze.PathSubscriptionStatusSet}) {
			t.Errorf("paths = %v", paths)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		fake := brazefake.New(t, brazefake.Config{})
		p := checkParams(t, fake.URL())
		p.Credentials[braze.CredentialAPIKey] = "wrong-key-value"
		err := newPlatform().Check(ctx, p)
		if connectors.CategoryOf(err) != connectors.CategoryCredentials || connectors.IsRetryable(err) {
			t.Fatalf("err = %v, want a permanent credentials error", err)
		}
		if strings.Contains(err.Error(), "wrong-key-value") {
			t.Errorf("the error leaks the key: %v", err)
		}
	})
	for _, st := range []int{401, 403, 404} {
		t.Run(fmt.Sprintf("HTTP %d", st), func(t *testing.T) {
			srv, hits := canned(t, st, `{"message":"no"}`)
			err := newPlatform().Check(ctx, checkParams(t, srv.URL))
			if connectors.CategoryOf(err) != connectors.CategoryCredentials || connectors.IsRetryable(err) || hits.Load() != 1 {
				t.Errorf("err = %v after %d requests, want one request and a permanent credentials error", err, hits.Load())
			}
		})
	}
	t.Run("server error is retryable", func(t *testing.T) {
		srv, _ := canned(t, 503, `{}`)
		err := newPlatform().Check(ctx, checkParams(t, srv.URL))
		if !connectors.IsRetryable(err) {
			t.Errorf("err = %v, want retryable", err)
		}
	})
}

func TestConfigurationErrors(t *testing.T) {
	base := func() destination.OpenParams {
		return destination.OpenParams{
			Service:        braze.ServiceUserAttributes,
			Settings:       map[string]any{braze.SettingRESTEndpoint: endpoint},
			Credentials:    map[string]string{braze.CredentialAPIKey: "k-123456"},
			ActivationName: "VIP",
			// Nothing listens there: a case that wrongly passed validation fails fast offline.
			BaseURL: "http://127.0.0.1:1",
		}
	}
	cases := []struct {
		name string
		mod  func(p *destination.OpenParams)
		want string
	}{
		{"http endpoint", func(p *destination.OpenParams) {
			p.Settings[braze.SettingRESTEndpoint] = "http://rest.iad-01.braze.com"
		}, "https://"},
		{"not a braze host", func(p *destination.OpenParams) { p.Settings[braze.SettingRESTEndpoint] = "https://example.com" }, "braze.com or braze.eu"},
		{"dashboard host", func(p *destination.OpenParams) {
			p.Settings[braze.SettingRESTEndpoint] = "https://dashboard-01.braze.com"
		}, "dashboard address"},
		{"endpoint with path", func(p *destination.OpenParams) {
			p.Settings[braze.SettingRESTEndpoint] = "https://rest.iad-01.braze.com/users/track"
		}, "without a path"},
		{"missing endpoint", func(p *destination.OpenParams) { delete(p.Settings, braze.SettingRESTEndpoint) }, `"rest_endpoint" is required`},
		{"missing key", func(p *destination.OpenParams) { p.Credentials = nil }, `"api_key" is required`},
		{"batch size above 75", func(p *destination.OpenParams) { p.Settings[braze.SettingBatchSize] = int64(100) }, "above the maximum 75"},
		{"bad phone region", func(p *destination.OpenParams) { p.Settings[braze.SettingDefaultPhoneRegion] = "France" }, "ISO 3166-1"},
		{"negative retries", func(p *destination.OpenParams) { p.Settings[braze.SettingMaxRetries] = int64(-1) }, "0 (no retries)"},
		{"unknown service", func(p *destination.OpenParams) { p.Service = "cohorts" }, `unknown service "cohorts"`},
		{"unknown option", func(p *destination.OpenParams) { p.Options = map[string]any{"list_name": "x"} }, `unknown service option "list_name"`},
		{"custom event without name", func(p *destination.OpenParams) { p.Service = braze.ServiceTrackEvents }, `"event_name" is required`},
		{"purchase with a name", func(p *destination.OpenParams) {
			p.Service = braze.ServiceTrackEvents
			p.Options = map[string]any{braze.OptionEventType: "purchase", braze.OptionEventName: "x"}
		}, "does not apply to purchases"},
		{"bad event type", func(p *destination.OpenParams) {
			p.Service = braze.ServiceTrackEvents
			p.Options = map[string]any{braze.OptionEventType: "refund"}
		}, "use one of custom, purchase"},
		{"subscription without group", func(p *destination.OpenParams) { p.Service = braze.ServiceSubscriptionStatus }, `"subscription_group_id" is required`},
		{"list attribute with $", func(p *destination.OpenParams) {
			p.Service = braze.ServiceUserLists
			p.Options = map[string]any{braze.OptionAttributeName: "$vip"}
		}, "must not start with $"},
		{"list attribute is a profile field", func(p *destination.OpenParams) {
			p.Service = braze.ServiceUserLists
			p.Options = map[string]any{braze.OptionAttributeName: "email"}
		}, "profile field"},
		{"list without usable name", func(p *destination.OpenParams) {
			p.Service = braze.ServiceUserLists
			p.ActivationName = "!!!"
		}, `"attribute_name" is required`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := base()
			tc.mod(&p)
			_, err := newPlatform().Open(context.Background(), p)
			if connectors.CategoryOf(err) != connectors.CategoryConfiguration || connectors.IsRetryable(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open: err = %v, want a permanent configuration error containing %q", err, tc.want)
			}
			if err := newPlatform().Check(context.Background(), p); connectors.CategoryOf(err) != connectors.CategoryConfiguration {
				t.Errorf("Check: err = %v, want a configuration error before any request", err)
			}
		})
	}
}

func TestApplyRefusals(t *testing.T) {
	e := open(t, braze.ServiceUserAttributes, nil, map[string]any{braze.SettingBatchSize: int64(2)})
	recs := []destination.Record{
		rec("1", destination.OpUpsert, map[string]any{"external_id": "u1"}),
		rec("2", destination.OpUpsert, map[string]any{"external_id": "u2"}),
		rec("3", destination.OpUpsert, map[string]any{"external_id": "u3"}),
	}
	if _, err := e.dest.Apply(context.Background(), destination.Batch{Records: recs}); err == nil || connectors.IsRetryable(err) {
		t.Errorf("oversized batch: err = %v", err)
	}
	out := e.apply(t, recs[0], rec("x", destination.OpUpsert, map[string]any{}))
	wantStatuses(t, out, destination.Acknowledged, destination.Rejected)
	// Only locally rejected records: nothing is sent.
	hits := e.fake.Hits()
	out = e.apply(t, rec("y", destination.OpDelete, map[string]any{"external_id": "u9"}))
	wantStatuses(t, out, destination.Rejected)
	if e.fake.Hits() != hits {
		t.Errorf("a request was sent for a batch without sendable records")
	}
	if err := e.dest.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.dest.Apply(context.Background(), destination.Batch{Records: recs[:1]}); err == nil {
		t.Errorf("Apply after Close succeeded")
	}
}

func TestSpec(t *testing.T) {
	s := newPlatform().Spec()
	if err := connectors.ValidateFields(s.Settings); err != nil {
		t.Error(err)
	}
	if err := connectors.ValidateFields(s.Credentials); err != nil {
		t.Error(err)
	}
	want := []string{braze.ServiceUserAttributes, braze.ServiceTrackEvents, braze.ServiceSubscriptionStatus, braze.ServiceUserLists}
	var names []string
	for _, svc := range s.Services {
		names = append(names, svc.Name)
		if err := connectors.ValidateFields(svc.Options); err != nil {
			t.Errorf("%s options: %v", svc.Name, err)
		}
		if svc.MaxBatchSize > braze.MaxTrackObjects || svc.DefaultBatchSize > svc.MaxBatchSize || svc.RequestsPerSecond <= 0 {
			t.Errorf("%s limits: %+v", svc.Name, svc)
		}
		for _, id := range svc.Identifiers {
			if !slices.ContainsFunc(svc.Fields, func(f destination.FieldSpec) bool { return f.Name == id }) {
				t.Errorf("%s: identifier %q is not a declared field", svc.Name, id)
			}
		}
	}
	if !slices.Equal(names, want) {
		t.Errorf("services = %v", names)
	}
	if svc, _ := s.Service(braze.ServiceSubscriptionStatus); svc.MaxBatchSize != braze.MaxSubscriptionIDs {
		t.Errorf("subscription batch = %d", svc.MaxBatchSize)
	}
}
