package meta_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/destination/connectortest"
	"dinmo/connectors/destination/meta"
	"dinmo/connectors/destination/meta/metafake"
)

// dataRequests returns the users and events requests the fake received.
func dataRequests(fake *metafake.Server) []metafake.Request {
	var out []metafake.Request
	for _, r := range fake.Requests() {
		if r.Data {
			out = append(out, r)
		}
	}
	return out
}

func decodeUsers(t *testing.T, r metafake.Request) meta.UsersRequest {
	t.Helper()
	var u meta.UsersRequest
	if err := json.Unmarshal(r.Params["payload"], &u.Payload); err != nil {
		t.Fatalf("payload: %v", err)
	}
	if err := json.Unmarshal(r.Params["session"], &u.Session); err != nil {
		t.Fatalf("session: %v", err)
	}
	return u
}

func sequentialIDs() meta.Option {
	n := int64(1000)
	return meta.WithSessionIDs(func() int64 { n++; return n })
}

func TestAudienceRequestsAndMembership(t *testing.T) {
	fake := newFake(t)
	id := fake.CreateAudience(testAccount, "VIP customers", "")
	p := fastPlatform(sequentialIDs())
	d := open(t, p, baseParams(fake, meta.ServiceCustomAudiences, nil, map[string]any{meta.OptionAudienceID: id}))
	person := destination.Record{Key: "p1", Op: destination.OpAdd, Fields: map[string]any{
		meta.FieldEmail:      " Person@Example.com ",
		meta.FieldPhone:      "+44 844 412 4653",
		meta.FieldFirstName:  "First",
		meta.FieldMADID:      "6D92078A-8246-4BA4-AE5B-76104861E7DC",
		meta.FieldExternalID: " crm-1 ",
		meta.FieldZip:        nil, // absent values are left out
	}}
	other := destination.Record{Key: "p2", Op: destination.OpAdd, Fields: map[string]any{
		meta.FieldEmail: "A4C1FC0B5F3E8D9A2B7C6D5E4F3A2B1C0D9E8F7A6B5C4D3E2F1A0B9C8D7E6F5A", // already hashed (upper case)
	}}
	out, err := apply(t, d, person, other)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	for i, o := range out {
		if o.Status != destination.Acknowledged {
			t.Errorf("record %d: %+v", i, o)
		}
	}
	reqs := dataRequests(fake)
	if len(reqs) != 1 {
		t.Fatalf("%d data requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/"+id+"/users" {
		t.Errorf("request %s %s, want POST /%s/users", r.Method, r.Path, id)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+testToken {
		t.Errorf("Authorization = %q", got)
	}
	if got := r.Query.Get("appsecret_proof"); got != goldenProof {
		t.Errorf("appsecret_proof = %q, want %s", got, goldenProof)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	u := decodeUsers(t, r)
	if want := []string{"EMAIL", "PHONE", "FN", "MADID", "EXTERN_ID"}; !slices.Equal(u.Payload.Schema, want) {
		t.Errorf("schema = %v, want %v", u.Payload.Schema, want)
	}
	wantRows := [][]string{
		{emailHash, phoneHash, firstNameHash, "6d92078a-8246-4ba4-ae5b-76104861e7dc", "crm-1"},
		{"a4c1fc0b5f3e8d9a2b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a", "", "", "", ""},
	}
	if len(u.Payload.Data) != 2 || !slices.Equal(u.Payload.Data[0], wantRows[0]) || !slices.Equal(u.Payload.Data[1], wantRows[1]) {
		t.Errorf("data = %v, want %v", u.Payload.Data, wantRows)
	}
	if u.Session != (meta.Session{SessionID: 1001, BatchSeq: 1, LastBatchFlag: true, EstimatedNumTotal: 2}) {
		t.Errorf("session = %+v", u.Session)
	}
	if m := fake.Members(id); len(m) != 2 || m[0]["EMAIL"] != emailHash || m[0]["EXTERN_ID"] != "crm-1" {
		t.Errorf("members = %v", m)
	}

	// Removing the person by e-mail alone (what a snapshot may keep) sends a DELETE.
	out, err = apply(t, d, destination.Record{Key: "p1", Op: destination.OpRemove, Fields: map[string]any{meta.FieldEmail: "person@example.com"}})
	if err != nil || out[0].Status != destination.Acknowledged {
		t.Fatalf("remove: %+v, %v", out, err)
	}
	reqs = dataRequests(fake)
	last := reqs[len(reqs)-1]
	u = decodeUsers(t, last)
	if last.Method != http.MethodDelete || !slices.Equal(u.Payload.Schema, []string{"EMAIL"}) || u.Session.SessionID != 1002 {
		t.Errorf("remove request %s %v session %+v", last.Method, u.Payload.Schema, u.Session)
	}
	if m := fake.Members(id); len(m) != 1 || m[0]["EMAIL"] == emailHash {
		t.Errorf("members after removal = %v", m)
	}
	if rc, ok := d.(destination.RequestCounter); !ok || rc.Requests() != 2 {
		t.Errorf("Requests() = %d, want 2 (no lookup with audience_id)", rc.Requests())
	}
	noViolations(t, fake)
}

func TestAudienceFoundByNameAcrossPages(t *testing.T) {
	fake := newFake(t, func(c *metafake.Config) { c.PageSize = 25 })
	for i := range 230 {
		fake.CreateAudience(testAccount, "other "+string(rune('a'+i%26))+strings.Repeat("x", i/26), "")
	}
	fake.CreateAudience(testAccount, "Churn risk", "LOOKALIKE")
	want := fake.CreateAudience(testAccount, "VIP customers", "")
	d := open(t, fastPlatform(), baseParams(fake, meta.ServiceCustomAudiences, nil, nil))
	if _, err := apply(t, d, audienceRecord(1)); err != nil {
		t.Fatal(err)
	}
	if got := dataRequests(fake)[0].Path; got != "/"+want+"/users" {
		t.Errorf("sent to %s, want the existing audience %s", got, want)
	}
	if n := len(fake.Audiences(testAccount)); n != 232 {
		t.Errorf("%d audiences, want no new one", n)
	}
	if fake.ControlHits() != 2 { // 232 audiences at 200 a page
		t.Errorf("%d lookup requests, want 2 pages", fake.ControlHits())
	}
	if rc, ok := d.(destination.RequestCounter); !ok || rc.Requests() != 3 {
		t.Errorf("Requests() = %d, want 3 (two pages and the upload)", rc.Requests())
	}
	noViolations(t, fake)

	// A name held by another kind of audience is refused.
	_, err := fastPlatform().Open(context.Background(), baseParams(fake, meta.ServiceCustomAudiences, nil,
		map[string]any{meta.OptionAudienceName: "Churn risk"}))
	if connectors.CategoryOf(err) != connectors.CategoryConfiguration || !strings.Contains(err.Error(), "LOOKALIKE") {
		t.Errorf("Open on a lookalike name: %v", err)
	}
	// Two audiences with the name: ambiguous.
	fake.CreateAudience(testAccount, "VIP customers", "")
	_, err = fastPlatform().Open(context.Background(), baseParams(fake, meta.ServiceCustomAudiences, nil, nil))
	if connectors.CategoryOf(err) != connectors.CategoryConfiguration || !strings.Contains(err.Error(), meta.OptionAudienceID) {
		t.Errorf("Open with an ambiguous name: %v", err)
	}
}

func TestAudienceCreatedWhenMissing(t *testing.T) {
	fake := newFake(t)
	d := open(t, fastPlatform(), baseParams(fake, meta.ServiceCustomAudiences, nil, map[string]any{
		meta.OptionAudienceName:        "Newsletter readers",
		meta.OptionAudienceDescription: "Managed by dinmo",
		meta.OptionCustomerFileSource:  meta.FileSourceUserPartner,
	}))
	list := fake.Audiences(testAccount)
	if len(list) != 1 {
		t.Fatalf("audiences = %+v", list)
	}
	a := list[0]
	if a.Name != "Newsletter readers" || a.Subtype != "CUSTOM" || a.Description != "Managed by dinmo" || a.CustomerFileSource != meta.FileSourceUserPartner {
		t.Errorf("created audience = %+v", a)
	}
	var create metafake.Request
	for _, r := range fake.Requests() {
		if r.Method == http.MethodPost && r.Path == "/act_"+testAccount+"/customaudiences" {
			create = r
		}
	}
	if string(create.Params["subtype"]) != `"CUSTOM"` {
		t.Errorf("create params = %v", create.Params)
	}
	if _, err := apply(t, d, audienceRecord(1)); err != nil {
		t.Fatal(err)
	}
	if m := fake.Members(a.ID); len(m) != 1 {
		t.Errorf("members of the new audience = %v", m)
	}
	noViolations(t, fake)
}

func TestAudienceRecordsRejectedLocally(t *testing.T) {
	fake := newFake(t)
	id := fake.CreateAudience(testAccount, "VIP customers", "")
	logs := &connectortest.SyncBuffer{}
	params := baseParams(fake, meta.ServiceCustomAudiences, nil, map[string]any{meta.OptionAudienceID: id})
	params.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := open(t, fastPlatform(), params)
	recs := []destination.Record{
		{Key: "bad-email", Op: destination.OpAdd, Fields: map[string]any{meta.FieldEmail: "jane.doe.example.com"}},
		{Key: "upsert", Op: destination.OpUpsert, Fields: map[string]any{meta.FieldEmail: "a@example.com"}},
		{Key: "unknown", Op: destination.OpAdd, Fields: map[string]any{meta.FieldEmail: "a@example.com", "loyalty_tier": "gold"}},
		{Key: "nothing", Op: destination.OpAdd, Fields: map[string]any{meta.FieldFirstName: "Jane"}},
		{Key: "bad-phone-no-region", Op: destination.OpAdd, Fields: map[string]any{meta.FieldPhone: "06 12 34 56 78"}},
		{Key: "phone-ok-email-bad", Op: destination.OpAdd, Fields: map[string]any{meta.FieldEmail: "broken@", meta.FieldPhone: "+33 6 12 34 56 78", meta.FieldGender: "x"}},
	}
	out, err := apply(t, d, recs...)
	if err != nil {
		t.Fatal(err)
	}
	wantReason := []string{"email", "not supported", `"loyalty_tier"`, "no identifier", "country code", ""}
	for i, o := range out {
		if wantReason[i] == "" {
			if o.Status != destination.Acknowledged {
				t.Errorf("%s: %+v, want acknowledged", recs[i].Key, o)
			}
			continue
		}
		if o.Status != destination.Rejected || !strings.Contains(o.Reason, wantReason[i]) {
			t.Errorf("%s: %+v, want rejected mentioning %q", recs[i].Key, o, wantReason[i])
		}
		if strings.Contains(o.Reason, "jane.doe") || strings.Contains(o.Reason, "06 12") {
			t.Errorf("%s: the reason %q contains the value", recs[i].Key, o.Reason)
		}
	}
	u := decodeUsers(t, dataRequests(fake)[0])
	if !slices.Equal(u.Payload.Schema, []string{"PHONE"}) || len(u.Payload.Data) != 1 {
		t.Errorf("sent %v %v, want only the valid phone", u.Payload.Schema, u.Payload.Data)
	}
	if !strings.Contains(logs.String(), "invalid values left out") {
		t.Errorf("no warning about the dropped values:\n%s", logs)
	}
	// A batch with nothing sendable sends nothing.
	hits := fake.Hits()
	if _, err := apply(t, d, recs[0], recs[3]); err != nil || fake.Hits() != hits {
		t.Errorf("all-invalid batch: err %v, %d requests sent", err, fake.Hits()-hits)
	}
	noViolations(t, fake)
}

func TestAudienceInvalidEntriesAreAcknowledgedAndLogged(t *testing.T) {
	fake := newFake(t)
	id := fake.CreateAudience(testAccount, "VIP customers", "")
	logs := &connectortest.SyncBuffer{}
	params := baseParams(fake, meta.ServiceCustomAudiences, nil, map[string]any{meta.OptionAudienceID: id})
	params.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := open(t, fastPlatform(), params)
	fake.FailNext(1, connectortest.Failure{Reject: map[string]string{"k001": "Invalid format"}})
	out, err := apply(t, d, audienceRecord(0), audienceRecord(1), audienceRecord(2))
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		if o.Status != destination.Acknowledged {
			t.Errorf("record %d: %+v (Meta reports counts only: every row is acknowledged)", i, o)
		}
	}
	l := logs.String()
	if !strings.Contains(l, "num_invalid_entries=1") || !strings.Contains(l, "level=WARN") {
		t.Errorf("no warning with the invalid entries count:\n%s", l)
	}
	if strings.Contains(l, "k001") || strings.Contains(l, "user1@") {
		t.Errorf("the log holds row data:\n%s", l)
	}
	if got := fake.Keys(); !slices.Equal(got, []string{"k000", "k002"}) {
		t.Errorf("members = %v", got)
	}
}

func TestAudienceMixedBatchPartialOutcomes(t *testing.T) {
	fake := newFake(t)
	id := fake.CreateAudience(testAccount, "VIP customers", "")
	d := open(t, fastPlatform(), baseParams(fake, meta.ServiceCustomAudiences, nil, map[string]any{meta.OptionAudienceID: id}))
	if _, err := apply(t, d, audienceRecord(0)); err != nil {
		t.Fatal(err)
	}
	leave := audienceRecord(0)
	leave.Op = destination.OpRemove
	enter := audienceRecord(1)

	// The DELETE succeeds, the POST is throttled: removals acknowledged, additions retryable.
	fake.FailNext(1, connectortest.Failure{})
	fake.FailNextGraph(1, metafake.GraphError{Status: 400, Code: 80003, Message: "(#80003) There have been too many calls to this ad-account."})
	out, err := apply(t, d, enter, leave)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if out[0].Status != destination.Retryable || out[1].Status != destination.Acknowledged || !strings.Contains(out[0].Reason, "80003") {
		t.Errorf("outcomes = %+v", out)
	}
	reqs := dataRequests(fake)
	if n := len(reqs); reqs[n-2].Method != http.MethodDelete || reqs[n-1].Method != http.MethodPost {
		t.Errorf("removals must go first: %s then %s", reqs[n-2].Method, reqs[n-1].Method)
	}

	// The first request fails: the whole batch fails, nothing is known applied.
	fake.FailNextGraph(1, metafake.GraphError{Status: 400, Code: 17, Message: "(#17) User request limit reached"})
	_, err = apply(t, d, enter, leave)
	if !connectors.IsRetryable(err) || connectors.CategoryOf(err) != connectors.CategoryRateLimit {
		t.Errorf("err = %v, want a retryable rate_limit error", err)
	}
}

func TestAudienceErrorMapping(t *testing.T) {
	cases := []struct {
		name  string
		err   metafake.GraphError
		cat   connectors.Category
		retry bool
	}{
		{"expired token", metafake.GraphError{Status: 400, Code: 190, Subcode: 463, Message: "Error validating access token"}, connectors.CategoryCredentials, false},
		{"permission", metafake.GraphError{Status: 403, Code: 200, Message: "(#200) Permissions error"}, connectors.CategoryCredentials, false},
		{"user throttled", metafake.GraphError{Status: 400, Code: 17, Message: "(#17) User request limit reached"}, connectors.CategoryRateLimit, true},
		{"app throttled", metafake.GraphError{Status: 403, Code: 4, Message: "(#4) Application request limit reached"}, connectors.CategoryRateLimit, true},
		{"calls limit", metafake.GraphError{Status: 400, Code: 613, Message: "(#613) Calls to this api have exceeded the rate limit."}, connectors.CategoryRateLimit, true},
		{"ad account BUC", metafake.GraphError{Status: 400, Code: 80003, Message: "(#80003) There have been too many calls"}, connectors.CategoryRateLimit, true},
		{"unknown error", metafake.GraphError{Status: 400, Code: 1, Message: "An unknown error occurred"}, connectors.CategoryConnection, true},
		{"transient", metafake.GraphError{Status: 400, Code: 2, IsTransient: true, Message: "Service temporarily unavailable"}, connectors.CategoryConnection, true},
		{"invalid parameter", metafake.GraphError{Status: 400, Code: 100, Message: "(#100) Invalid parameter"}, connectors.CategoryConfiguration, false},
		{"missing object", metafake.GraphError{Status: 400, Code: 100, Subcode: 33, Message: "Unsupported post request."}, connectors.CategoryNotFound, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFake(t)
			id := fake.CreateAudience(testAccount, "VIP customers", "")
			d := open(t, fastPlatform(), baseParams(fake, meta.ServiceCustomAudiences, nil, map[string]any{meta.OptionAudienceID: id}))
			fake.FailNextGraph(1, tc.err)
			_, err := apply(t, d, audienceRecord(1))
			if err == nil || connectors.CategoryOf(err) != tc.cat || connectors.IsRetryable(err) != tc.retry {
				t.Fatalf("err = %v, want %s (retryable %v)", err, tc.cat, tc.retry)
			}
			if !strings.Contains(err.Error(), tc.err.Message) {
				t.Errorf("err = %v, want Meta's message", err)
			}
			if fake.Hits() != 1 {
				t.Errorf("%d requests: Meta errors answered with 4xx are not retried by the transport", fake.Hits())
			}
		})
	}
	t.Run("flagged audience", func(t *testing.T) {
		fake := newFake(t)
		id := fake.CreateAudience(testAccount, "VIP customers", "")
		fake.FlagAudience(id)
		d := open(t, fastPlatform(), baseParams(fake, meta.ServiceCustomAudiences, nil, map[string]any{meta.OptionAudienceID: id}))
		_, err := apply(t, d, audienceRecord(1))
		if connectors.CategoryOf(err) != connectors.CategoryConfiguration || !strings.Contains(err.Error(), "1713230") {
			t.Errorf("err = %v, want a configuration error naming subcode 1713230", err)
		}
	})
}

func TestAudienceBatchLimitAndClose(t *testing.T) {
	fake := newFake(t)
	id := fake.CreateAudience(testAccount, "VIP customers", "")
	d := open(t, fastPlatform(), baseParams(fake, meta.ServiceCustomAudiences,
		map[string]any{meta.SettingBatchSize: int64(2)}, map[string]any{meta.OptionAudienceID: id}))
	_, err := apply(t, d, audienceRecord(1), audienceRecord(2), audienceRecord(3))
	if err == nil || connectors.IsRetryable(err) || fake.Hits() != 0 {
		t.Errorf("oversized batch: err %v, %d requests", err, fake.Hits())
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := apply(t, d, audienceRecord(1)); err == nil {
		t.Errorf("Apply after Close succeeded")
	}
}
