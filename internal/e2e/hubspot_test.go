package e2e

import (
	"net/http"
	"testing"
	"time"

	"dinmo/connectors/destination"
	"dinmo/connectors/destination/hubspot"
	"dinmo/connectors/destination/hubspot/hubspotfake"
)

// hubspotEnv is an env with a HubSpot destination pointing at a fake.
func hubspotEnv(t *testing.T, cfg hubspotfake.Config, batchSize int64) (*env, *hubspotfake.Server, string) {
	e := newEnv(t)
	fake := hubspotfake.New(t, cfg)
	dest := e.destination(hubspot.Name, fake.URL(),
		map[string]any{hubspot.SettingPortalID: int64(hubspotfake.DefaultPortalID), hubspot.SettingBatchSize: batchSize,
			hubspot.SettingRequestsPer10s: int64(250)},
		map[string]string{hubspot.CredentialAccessToken: fake.Token()})
	return e, fake, dest.ID
}

// inputIDs checks that every request is a batch upsert of objectType matched on idProperty
// and returns the ids of its inputs.
func inputIDs(t *testing.T, reqs []hubspotfake.Request, objectType, idProperty string) []string {
	t.Helper()
	var out []string
	for _, r := range reqs {
		if r.Method != http.MethodPost || r.Path != "/crm/v3/objects/"+objectType+"/batch/upsert" || r.Endpoint != "upsert" || r.Status != http.StatusOK {
			t.Fatalf("request %s %s (%s), status %d: want a successful batch upsert of %s", r.Method, r.Path, r.Endpoint, r.Status, objectType)
		}
		if len(r.Inputs) == 0 {
			t.Fatalf("request %s without inputs", r.Path)
		}
		for _, in := range r.Inputs {
			if in.IDProperty != idProperty || in.Properties[idProperty] != in.ID {
				t.Fatalf("input %+v: want it matched on %s", in, idProperty)
			}
			out = append(out, in.ID)
		}
	}
	return out
}

// TestHubSpotContacts upserts the loyal subscribers as contacts matched on their e-mail:
// batches of 10 on the full run, then only the new members and those whose city changed;
// contacts of departed members stay (upsert never deletes).
func TestHubSpotContacts(t *testing.T) {
	t.Parallel()
	e, fake, destID := hubspotEnv(t, hubspotfake.Config{}, 10)
	dest, err := e.store.GetDestination(e.ctx, destID)
	must(t, err)
	act := e.activation(e.loyal, dest, hubspot.ServiceContacts, destination.ModeUpsert,
		map[string]string{"email": "email", "firstname": "first_name", "lastname": "last_name", "city": "city", "country": "country"}, nil)
	cols := []string{"email", "first_name", "last_name", "city", "country"}
	// emails turns member keys into the contacts' e-mails.
	emails := func(rows map[string][]string, keys []string) []string {
		out := make([]string, len(keys))
		for i, k := range keys {
			out[i] = rows[k][0]
		}
		return out
	}

	before := e.rows(viewLoyal, "customer_id", cols...)
	res := e.run(act)
	checkCounts(t, res, len(before), diff{added: keysOf(before)}, len(before), 0)
	reqs := fake.Requests()
	if len(reqs) != batches(len(before), 10) {
		t.Errorf("full run: %d requests, want %d", len(reqs), batches(len(before), 10))
	}
	equalKeys(t, "full run: contacts sent", inputIDs(t, reqs, "contacts", "email"), emails(before, keysOf(before)))
	if fake.MaxBatchSeen() != 10 {
		t.Errorf("largest batch %d, want the batch_size 10", fake.MaxBatchSeen())
	}
	noViolations(t, fake.Violations())

	e.mutate()
	after := e.rows(viewLoyal, "customer_id", cols...)
	want := diffRows(before, after)
	if len(want.added) != 10 || len(want.changed) != 15 || len(want.removed) != 8 {
		t.Fatalf("unexpected diff: %+v", want)
	}
	n := len(reqs)
	res = e.run(act)
	sent := len(want.added) + len(want.changed)
	checkCounts(t, res, len(after), want, sent, len(want.removed))
	reqs = newRequests(fake.Requests(), n)
	if len(reqs) != batches(sent, 10) {
		t.Fatalf("delta run: %d requests, want %d", len(reqs), batches(sent, 10))
	}
	equalKeys(t, "delta run: contacts sent", inputIDs(t, reqs, "contacts", "email"),
		append(emails(after, want.added), emails(after, want.changed)...))
	noViolations(t, fake.Violations())

	// Final state: one contact per member ever synced, with the current values.
	if got := len(fake.Objects("contacts")); got != len(union(keysOf(before), keysOf(after))) {
		t.Errorf("%d contacts, want %d", got, len(union(keysOf(before), keysOf(after))))
	}
	for id, row := range after {
		c, ok := fake.Find("contacts", "email", row[0])
		if !ok {
			t.Fatalf("member %s has no contact", id)
		}
		if c.Properties["firstname"] != row[1] || c.Properties["lastname"] != row[2] || c.Properties["city"] != row[3] || c.Properties["country"] != row[4] {
			t.Errorf("contact %s = %v, want the warehouse's %v", row[0], c.Properties, row)
		}
	}
	for _, id := range want.removed {
		if c, ok := fake.Find("contacts", "email", before[id][0]); !ok || c.Properties["city"] != before[id][3] {
			t.Errorf("departed member %s: contact %v, %v; want it kept", id, c.Properties, ok)
		}
	}
}

// TestHubSpotDeals upserts completed orders as deals matched on a custom unique property
// named by the id_property option: 100 per request on the full run, then only the new orders.
func TestHubSpotDeals(t *testing.T) {
	t.Parallel()
	const idProp = "order_ref"
	e, fake, destID := hubspotEnv(t, hubspotfake.Config{
		ExtraProperties: map[string][]hubspotfake.Property{"deals": {{Name: idProp, Unique: true}}},
	}, 100)
	dest, err := e.store.GetDestination(e.ctx, destID)
	must(t, err)
	act := e.activation(e.completed, dest, hubspot.ServiceDeals, destination.ModeUpsert,
		map[string]string{idProp: "order_id", "dealname": "deal_name", "amount": "amount", "closedate": "ordered_at"},
		map[string]any{hubspot.OptionIDProperty: idProp})
	cols := []string{"deal_name", "amount", "ordered_at"}

	before := e.rows(viewCompleted, "order_id", cols...)
	res := e.run(act)
	checkCounts(t, res, len(before), diff{added: keysOf(before)}, len(before), 0)
	reqs := fake.Requests()
	if len(reqs) != batches(len(before), 100) {
		t.Errorf("full run: %d requests, want %d", len(reqs), batches(len(before), 100))
	}
	equalKeys(t, "full run: deals sent", inputIDs(t, reqs, "deals", idProp), keysOf(before))
	noViolations(t, fake.Violations())

	e.mutate()
	after := e.rows(viewCompleted, "order_id", cols...)
	want := diffRows(before, after)
	if len(want.added) != 20 || len(want.changed) != 0 {
		t.Fatalf("unexpected diff: %+v", want)
	}
	n := len(reqs)
	res = e.run(act)
	checkCounts(t, res, len(after), want, len(want.added), len(want.removed))
	reqs = newRequests(fake.Requests(), n)
	if len(reqs) != 1 {
		t.Fatalf("delta run: %d requests, want 1", len(reqs))
	}
	equalKeys(t, "delta run: deals sent", inputIDs(t, reqs, "deals", idProp), want.added)
	noViolations(t, fake.Violations())

	// Final state: one deal per completed order ever synced, with its name, amount and date.
	all := union(keysOf(before), keysOf(after))
	if got := len(fake.Objects("deals")); got != len(all) {
		t.Errorf("%d deals, want %d", got, len(all))
	}
	for _, id := range want.added {
		d, ok := fake.Find("deals", idProp, id)
		if !ok {
			t.Fatalf("order %s has no deal", id)
		}
		row := after[id]
		closed, err := time.Parse(time.RFC3339Nano, d.Properties["closedate"])
		if err != nil {
			closed, err = time.Parse(time.DateOnly, d.Properties["closedate"])
		}
		wantClosed, perr := time.Parse(time.DateTime, row[2])
		if d.Properties["dealname"] != row[0] || d.Properties["amount"] != row[1] || err != nil || perr != nil || !closed.Equal(wantClosed) {
			t.Errorf("deal %s = %v, want the warehouse's %v", id, d.Properties, row)
		}
	}
}
