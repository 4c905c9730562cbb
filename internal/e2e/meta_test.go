package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"dinmo/connectors/destination"
	"dinmo/connectors/destination/meta"
	"dinmo/connectors/destination/meta/metafake"
)

const (
	metaToken   = "EAA-e2e-system-user-token-0123456789" //nolint:gosec // G101: the fake's test token
	metaSecret  = "e2e-app-secret"                       //nolint:gosec // G101: the fake's test app secret
	metaAccount = "4242"
	metaDataset = "777"
)

// metaEnv is an env with a Meta destination pointing at a fake whose clock is the tests'.
func metaEnv(t *testing.T) (*env, *metafake.Server, string) {
	e := newEnv(t)
	fake := metafake.New(t, metafake.Config{AccessToken: metaToken, AppSecret: metaSecret,
		AdAccounts: []string{metaAccount}, Datasets: []string{metaDataset}, Now: func() time.Time { return now }})
	dest := e.destination(meta.Name, fake.URL(), map[string]any{meta.SettingAdAccountID: "act_" + metaAccount},
		map[string]string{meta.CredentialAccessToken: metaToken, meta.CredentialAppSecret: metaSecret})
	return e, fake, dest.ID
}

// call is a request as the tests compare them: method and path (without the version).
type call struct{ Method, Path string }

func calls(reqs []metafake.Request) []call {
	out := make([]call, len(reqs))
	for i, r := range reqs {
		out[i] = call{r.Method, r.Path}
	}
	return out
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestMetaCustomAudiences keeps a customer-list audience in step with the loyal subscribers:
// the first run finds no audience of that name, creates it and adds every member in one
// request; the second finds it, removes the departed members and adds the new ones. Members
// whose (hashed) city changed are not sent: a list only changes membership.
func TestMetaCustomAudiences(t *testing.T) {
	t.Parallel()
	const audienceName = "Loyal subscribers"
	e, fake, destID := metaEnv(t)
	dest, err := e.store.GetDestination(e.ctx, destID)
	must(t, err)
	act := e.activation(e.loyal, dest, meta.ServiceCustomAudiences, destination.ModeList,
		map[string]string{"email": "email", "first_name": "first_name", "city": "city", "country": "country", "external_id": "customer_id"},
		map[string]any{meta.OptionAudienceName: audienceName})
	cols := []string{"email", "city"}

	// rows decodes the users payload of a data request: one map per row, column → value.
	rows := func(r metafake.Request) []map[string]string {
		var payload struct {
			Schema []string   `json:"schema"`
			Data   [][]string `json:"data"`
		}
		raw := r.Params["payload"]
		if err := json.Unmarshal(raw, &payload); err != nil {
			var s string
			if json.Unmarshal(raw, &s) != nil || json.Unmarshal([]byte(s), &payload) != nil {
				t.Fatalf("payload of %s %s: %s", r.Method, r.Path, raw)
			}
		}
		out := make([]map[string]string, len(payload.Data))
		for i, row := range payload.Data {
			out[i] = map[string]string{}
			for j, col := range payload.Schema {
				out[i][col] = row[j]
			}
		}
		return out
	}
	// members checks the hashed identifiers of payload rows against the warehouse and returns
	// their external ids.
	members := func(rs []map[string]string, wh map[string][]string) []string {
		var ids []string
		for _, r := range rs {
			id := r["EXTERN_ID"]
			row, ok := wh[id]
			if !ok {
				t.Fatalf("row for unknown customer %q", id)
			}
			if r["EMAIL"] != sha(strings.ToLower(row[0])) || r["COUNTRY"] == "" || r["CT"] == "" || len(r["FN"]) != 64 {
				t.Fatalf("row %v does not carry the customer's hashed identifiers", r)
			}
			ids = append(ids, id)
		}
		return ids
	}

	before := e.rows(viewLoyal, "customer_id", cols...)
	res := e.run(act)
	checkCounts(t, res, len(before), diff{added: keysOf(before)}, len(before), 0)
	reqs := fake.Requests()
	audiences := fake.Audiences(metaAccount)
	if len(audiences) != 1 || audiences[0].Name != audienceName || audiences[0].CustomerFileSource != meta.FileSourceUser {
		t.Fatalf("audiences after the first run: %+v", audiences)
	}
	aud := audiences[0].ID
	wantCalls := []call{
		{http.MethodGet, "/act_" + metaAccount + "/customaudiences"},  // find by name
		{http.MethodPost, "/act_" + metaAccount + "/customaudiences"}, // create
		{http.MethodPost, "/" + aud + "/users"},                       // add every member
	}
	if !reflect.DeepEqual(calls(reqs), wantCalls) {
		t.Fatalf("full run requests %v, want %v", calls(reqs), wantCalls)
	}
	equalKeys(t, "full run: members added", members(rows(reqs[2]), before), keysOf(before))
	noViolations(t, fake.Violations())

	e.mutate()
	after := e.rows(viewLoyal, "customer_id", cols...)
	want := diffRows(before, after)
	if len(want.added) != 10 || len(want.changed) != 15 || len(want.removed) != 8 {
		t.Fatalf("unexpected diff: %+v", want)
	}
	n := len(reqs)
	res = e.run(act)
	checkCounts(t, res, len(after), want, len(want.added)+len(want.removed), len(want.changed))
	reqs = newRequests(fake.Requests(), n)
	wantCalls = []call{
		{http.MethodGet, "/act_" + metaAccount + "/customaudiences"}, // found by name, not created again
		{http.MethodDelete, "/" + aud + "/users"},                    // departed members
		{http.MethodPost, "/" + aud + "/users"},                      // new members
	}
	if !reflect.DeepEqual(calls(reqs), wantCalls) {
		t.Fatalf("delta run requests %v, want %v", calls(reqs), wantCalls)
	}
	equalKeys(t, "delta run: members removed", members(rows(reqs[1]), before), want.removed)
	equalKeys(t, "delta run: members added", members(rows(reqs[2]), after), want.added)
	noViolations(t, fake.Violations())
	if fake.TokenInURL() != 0 {
		t.Errorf("%d requests carried the token in the URL", fake.TokenInURL())
	}

	// Final state: the audience holds exactly the current members.
	var got []string
	for _, m := range fake.Members(aud) {
		got = append(got, m["EXTERN_ID"])
	}
	equalKeys(t, "audience members", got, keysOf(after))
	if len(fake.Audiences(metaAccount)) != 1 {
		t.Errorf("audiences: %+v", fake.Audiences(metaAccount))
	}
}

// TestMetaConversions sends each completed order once to the Conversions API as a Purchase:
// the first run sends every order in one request (Meta takes 1,000 events per request), the
// next only the new orders; Meta stores each event once.
func TestMetaConversions(t *testing.T) {
	t.Parallel()
	e, fake, destID := metaEnv(t)
	dest, err := e.store.GetDestination(e.ctx, destID)
	must(t, err)
	act := e.activation(e.completed, dest, meta.ServiceConversions, destination.ModeEvents,
		map[string]string{"event_time": "event_time", "email": "email", "external_id": "customer_id",
			"value": "amount", "currency": "currency", "order_id": "order_id"},
		map[string]any{meta.OptionPixelID: metaDataset, meta.OptionEventName: "Purchase", meta.OptionActionSource: "system_generated"})
	cols := []string{"email", "amount", "event_time"}

	// events decodes the events of data requests, checks each against the warehouse (hashed
	// e-mail, value, currency as Meta writes it, event time) and returns their ids (the order
	// ids: event_id defaults to the record key).
	events := func(reqs []metafake.Request, wh map[string][]string) []string {
		var ids []string
		for _, r := range reqs {
			if r.Method != http.MethodPost || r.Path != "/"+metaDataset+"/events" || !r.Data || r.Status != http.StatusOK {
				t.Fatalf("request %s %s (status %d): want a successful POST /%s/events", r.Method, r.Path, r.Status, metaDataset)
			}
			var data []map[string]any
			if err := json.Unmarshal(r.Params["data"], &data); err != nil {
				t.Fatalf("events of %s: %v", r.Path, err)
			}
			for _, ev := range data {
				id := text(ev["event_id"])
				row, ok := wh[id]
				if !ok {
					t.Fatalf("event for unknown order %q", id)
				}
				user, _ := ev["user_data"].(map[string]any)
				custom, _ := ev["custom_data"].(map[string]any)
				em, _ := user["em"].([]any)
				at, _ := time.Parse(time.DateTime, row[2])
				if ev["event_name"] != "Purchase" || ev["action_source"] != "system_generated" || len(em) != 1 || em[0] != sha(row[0]) ||
					text(custom["currency"]) != "eur" || text(custom["value"]) != strings.TrimRight(strings.TrimRight(row[1], "0"), ".") ||
					text(custom["order_id"]) != id || text(ev["event_time"]) != text(float64(at.Unix())) {
					t.Fatalf("event %v does not match order %s %v", ev, id, row)
				}
				ids = append(ids, id)
			}
		}
		return ids
	}

	before := e.rows(viewCompleted, "order_id", cols...)
	res := e.run(act)
	checkCounts(t, res, len(before), diff{added: keysOf(before)}, len(before), 0)
	reqs := fake.Requests()
	if len(reqs) != batches(len(before), meta.MaxEvents) {
		t.Fatalf("full run: %d requests, want %d", len(reqs), batches(len(before), meta.MaxEvents))
	}
	equalKeys(t, "full run: events sent", events(reqs, before), keysOf(before))
	noViolations(t, fake.Violations())

	e.mutate()
	after := e.rows(viewCompleted, "order_id", cols...)
	want := diffRows(before, after)
	if len(want.added) != 20 || len(want.changed) != 0 || len(want.removed) == 0 {
		t.Fatalf("unexpected diff: %d added, %d changed, %d removed", len(want.added), len(want.changed), len(want.removed))
	}
	n := len(reqs)
	res = e.run(act)
	checkCounts(t, res, len(after), want, len(want.added), len(want.removed))
	reqs = newRequests(fake.Requests(), n)
	if len(reqs) != 1 {
		t.Fatalf("delta run: %d requests, want 1", len(reqs))
	}
	equalKeys(t, "delta run: events sent", events(reqs, after), want.added)
	noViolations(t, fake.Violations())

	// Final state: the dataset holds one event per completed order ever synced.
	var stored []string
	for _, ev := range fake.Events(metaDataset) {
		stored = append(stored, text(ev.Fields["event_id"]))
	}
	equalKeys(t, "events stored", stored, union(keysOf(before), keysOf(after)))
}
