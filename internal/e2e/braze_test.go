package e2e

import (
	"strconv"
	"testing"

	"dinmo/connectors/destination"
	"dinmo/connectors/destination/braze"
	"dinmo/connectors/destination/braze/brazefake"
)

// brazeEnv is an env with a Braze destination pointing at a fake.
func brazeEnv(t *testing.T, batchSize int64) (*env, *brazefake.Server, string) {
	e := newEnv(t)
	fake := brazefake.New(t, brazefake.Config{})
	dest := e.destination(braze.Name, fake.URL(),
		map[string]any{braze.SettingRESTEndpoint: "https://rest.fra-01.braze.eu", braze.SettingBatchSize: batchSize},
		map[string]string{braze.CredentialAPIKey: brazefake.DefaultAPIKey})
	return e, fake, dest.ID
}

// trackObjects decodes the objects of the /users/track requests among reqs, by array.
func trackObjects(t *testing.T, reqs []brazefake.Request) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for _, r := range reqs {
		if r.Path != brazefake.PathUsersTrack {
			t.Fatalf("request to %s, want %s", r.Path, brazefake.PathUsersTrack)
		}
		for array, v := range jsonObject(t, r.Body) {
			list, ok := v.([]any)
			if !ok {
				t.Fatalf("%s is not an array: %s", array, r.Body)
			}
			for _, o := range list {
				obj, ok := o.(map[string]any)
				if !ok {
					t.Fatalf("%s holds a non-object: %s", array, r.Body)
				}
				out[array] = append(out[array], obj)
			}
		}
	}
	return out
}

// ids returns the values of one key of objects.
func ids(objs []map[string]any, key string) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = text(o[key])
	}
	return out
}

// newRequests returns the requests a fake received since it had seen n.
func newRequests[R any](all []R, n int) []R { return all[n:] }

// TestBrazeUserAttributes upserts the loyal subscribers' profiles: the full run sends every
// member in batches of 10 (the destination's batch_size), the delta run only the new members and those whose mapped city
// changed; members who left keep their profile (upsert never deletes).
func TestBrazeUserAttributes(t *testing.T) {
	t.Parallel()
	e, fake, destID := brazeEnv(t, 10)
	mappings := map[string]string{"external_id": "customer_id", "email": "email", "first_name": "first_name",
		"last_name": "last_name", "home_city": "city", "country": "country", "total_spent": "total_spent"}
	dest, err := e.store.GetDestination(e.ctx, destID)
	must(t, err)
	act := e.activation(e.loyal, dest, braze.ServiceUserAttributes, destination.ModeUpsert, mappings, nil)
	cols := []string{"email", "first_name", "last_name", "city", "country", "total_spent"}

	before := e.rows(viewLoyal, "customer_id", cols...)
	if len(before) < 23 {
		t.Fatalf("the segment has %d members; the demo changes need 23", len(before))
	}
	res := e.run(act)
	checkCounts(t, res, len(before), diff{added: keysOf(before)}, len(before), 0)
	reqs := fake.Requests()
	if len(reqs) != batches(len(before), 10) {
		t.Errorf("full run: %d requests, want %d", len(reqs), batches(len(before), 10))
	}
	objs := trackObjects(t, reqs)
	equalKeys(t, "full run: profiles sent", ids(objs["attributes"], "external_id"), keysOf(before))
	for _, o := range objs["attributes"] {
		if o["_update_existing_only"] != false {
			t.Fatalf("upsert must create unknown users: %v", o)
		}
	}
	noViolations(t, fake.Violations())

	e.mutate()
	after := e.rows(viewLoyal, "customer_id", cols...)
	want := diffRows(before, after)
	if len(want.added) != 10 || len(want.changed) != 15 || len(want.removed) != 8 {
		t.Fatalf("unexpected diff: %d added, %d changed, %d removed", len(want.added), len(want.changed), len(want.removed))
	}
	n := len(reqs)
	res = e.run(act)
	checkCounts(t, res, len(after), want, len(want.added)+len(want.changed), len(want.removed))
	reqs = newRequests(fake.Requests(), n)
	if len(reqs) != batches(len(want.added)+len(want.changed), 10) {
		t.Fatalf("delta run: %d requests, want %d", len(reqs), batches(len(want.added)+len(want.changed), 10))
	}
	objs = trackObjects(t, reqs)
	equalKeys(t, "delta run: profiles sent", ids(objs["attributes"], "external_id"), union(want.added, want.changed))
	noViolations(t, fake.Violations())

	// Final state: every member has its current attributes; those who left keep theirs.
	for id, row := range after {
		u, ok := fake.User(id)
		if !ok {
			t.Fatalf("member %s has no Braze profile", id)
		}
		if u["email"] != row[0] || u["home_city"] != row[3] || u["country"] != row[4] || !sameNumber(u["total_spent"], row[5]) {
			t.Errorf("profile %s = %v, want the warehouse's %v", id, u, row)
		}
	}
	for _, id := range want.removed {
		if u, ok := fake.User(id); !ok || u["home_city"] != before[id][3] {
			t.Errorf("departed member %s: profile %v, %v; want it kept with its last values", id, u, ok)
		}
	}
}

// TestBrazeTrackEvents sends each completed order once as a custom event: the first run sends
// every order, the next only the orders that appeared since; deleted orders send nothing.
func TestBrazeTrackEvents(t *testing.T) {
	t.Parallel()
	e, fake, destID := brazeEnv(t, 75)
	dest, err := e.store.GetDestination(e.ctx, destID)
	must(t, err)
	act := e.activation(e.completed, dest, braze.ServiceTrackEvents, destination.ModeEvents,
		map[string]string{"external_id": "customer_id", "time": "ordered_at", "order_ref": "order_id", "amount": "amount"},
		map[string]any{braze.OptionEventName: "order_completed"})
	cols := []string{"customer_id", "amount"}

	before := e.rows(viewCompleted, "order_id", cols...)
	res := e.run(act)
	checkCounts(t, res, len(before), diff{added: keysOf(before)}, len(before), 0)
	reqs := fake.Requests()
	if len(reqs) != batches(len(before), 75) {
		t.Errorf("full run: %d requests, want %d", len(reqs), batches(len(before), 75))
	}
	objs := trackObjects(t, reqs)
	if len(objs["attributes"])+len(objs["purchases"]) != 0 {
		t.Errorf("events must be sent as events only: %v", objs)
	}
	var refs []string
	for _, ev := range objs["events"] {
		props, _ := ev["properties"].(map[string]any)
		if ev["name"] != "order_completed" || props == nil || text(ev["external_id"]) != before[text(props["order_ref"])][0] {
			t.Fatalf("event %v does not match its order", ev)
		}
		refs = append(refs, text(props["order_ref"]))
	}
	equalKeys(t, "full run: events sent", refs, keysOf(before))
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
	refs = nil
	for _, ev := range trackObjects(t, reqs)["events"] {
		props, _ := ev["properties"].(map[string]any)
		refs = append(refs, text(props["order_ref"]))
	}
	equalKeys(t, "delta run: events sent", refs, want.added)
	noViolations(t, fake.Violations())

	// Final state: one event per order ever completed, none twice.
	var stored []string
	for _, ev := range fake.Events() {
		if ev.Name != "order_completed" || ev.IDKind != "external_id" {
			t.Fatalf("stored event %+v", ev)
		}
		stored = append(stored, text(ev.Properties["order_ref"]))
	}
	equalKeys(t, "events stored", stored, union(keysOf(before), keysOf(after)))
}

// TestBrazeSubscriptionStatus subscribes the loyal subscribers to a subscription group: the
// full run subscribes every member (50 ids per request), the delta run subscribes the new
// members and unsubscribes those who left, in one request each; a changed city (not mapped)
// sends nothing.
func TestBrazeSubscriptionStatus(t *testing.T) {
	t.Parallel()
	const group = "3f2a6c1e-0000-4000-8000-00000000beef"
	e, fake, destID := brazeEnv(t, 50)
	dest, err := e.store.GetDestination(e.ctx, destID)
	must(t, err)
	act := e.activation(e.loyal, dest, braze.ServiceSubscriptionStatus, destination.ModeList,
		map[string]string{"external_id": "customer_id", "email": "email"},
		map[string]any{braze.OptionSubscriptionGroupID: group})
	cols := []string{"email"}

	// subscription decodes the requests: state → external ids.
	subscription := func(reqs []brazefake.Request) map[string][]string {
		out := map[string][]string{}
		for _, r := range reqs {
			if r.Path != brazefake.PathSubscriptionStatusSet {
				t.Fatalf("request to %s", r.Path)
			}
			groups, _ := jsonObject(t, r.Body)["subscription_groups"].([]any)
			if len(groups) != 1 {
				t.Fatalf("want one subscription group per request: %s", r.Body)
			}
			g, _ := groups[0].(map[string]any)
			if g["subscription_group_id"] != group {
				t.Fatalf("group %v, want %s", g["subscription_group_id"], group)
			}
			state := text(g["subscription_state"])
			list, _ := g["external_ids"].([]any)
			if len(list) == 0 || len(list) > 50 {
				t.Fatalf("request with %d external ids: %s", len(list), r.Body)
			}
			for _, id := range list {
				out[state] = append(out[state], text(id))
			}
		}
		return out
	}

	before := e.rows(viewLoyal, "customer_id", cols...)
	res := e.run(act)
	checkCounts(t, res, len(before), diff{added: keysOf(before)}, len(before), 0)
	reqs := fake.Requests()
	if len(reqs) != batches(len(before), 50) {
		t.Errorf("full run: %d requests, want %d", len(reqs), batches(len(before), 50))
	}
	got := subscription(reqs)
	equalKeys(t, "full run: subscribed", got["subscribed"], keysOf(before))
	if len(got["unsubscribed"]) != 0 {
		t.Errorf("full run unsubscribed %v", got["unsubscribed"])
	}
	noViolations(t, fake.Violations())

	e.mutate()
	after := e.rows(viewLoyal, "customer_id", cols...)
	want := diffRows(before, after)
	if len(want.added) != 10 || len(want.changed) != 0 || len(want.removed) != 8 {
		t.Fatalf("unexpected diff: %+v", want)
	}
	n := len(reqs)
	res = e.run(act)
	checkCounts(t, res, len(after), want, len(want.added)+len(want.removed), 0)
	reqs = newRequests(fake.Requests(), n)
	if len(reqs) != 2 {
		t.Fatalf("delta run: %d requests, want 2 (one per subscription state)", len(reqs))
	}
	got = subscription(reqs)
	equalKeys(t, "delta run: subscribed", got["subscribed"], want.added)
	equalKeys(t, "delta run: unsubscribed", got["unsubscribed"], want.removed)
	noViolations(t, fake.Violations())

	for _, id := range keysOf(after) {
		if st, _ := fake.Subscription(group, "external_id", id); st != "subscribed" {
			t.Errorf("member %s: state %q, want subscribed", id, st)
		}
	}
	for _, id := range want.removed {
		if st, _ := fake.Subscription(group, "external_id", id); st != "unsubscribed" {
			t.Errorf("departed member %s: state %q, want unsubscribed", id, st)
		}
	}
}

// TestBrazeUserLists exports the segment as a boolean attribute of existing users: true for
// every member on the full run, then true for new members and false for departed ones, in
// batches of 10.
func TestBrazeUserLists(t *testing.T) {
	t.Parallel()
	const attribute = "loyal_subscriber"
	e, fake, destID := brazeEnv(t, 10)
	// The service only updates existing users: every customer, including those the demo
	// changes will add, has a profile.
	var maxID int64
	must(t, e.wh.DB().QueryRowContext(e.ctx, "SELECT max(customer_id) FROM main.customers").Scan(&maxID))
	var all []string
	for id := int64(1); id <= maxID+10; id++ {
		all = append(all, strconv.FormatInt(id, 10))
	}
	fake.SeedUsers(all...)
	dest, err := e.store.GetDestination(e.ctx, destID)
	must(t, err)
	act := e.activation(e.loyal, dest, braze.ServiceUserLists, destination.ModeList,
		map[string]string{"external_id": "customer_id"}, map[string]any{braze.OptionAttributeName: attribute})

	// flags decodes the requests: external id → the attribute's value.
	flags := func(reqs []brazefake.Request) map[string]bool {
		out := map[string]bool{}
		for _, o := range trackObjects(t, reqs)["attributes"] {
			v, ok := o[attribute].(bool)
			if !ok || o["_update_existing_only"] != true {
				t.Fatalf("list object %v: want a boolean %s and _update_existing_only", o, attribute)
			}
			id := text(o["external_id"])
			if _, dup := out[id]; dup {
				t.Fatalf("user %s sent twice", id)
			}
			out[id] = v
		}
		return out
	}
	split := func(m map[string]bool) (in, out []string) {
		for id, v := range m {
			if v {
				in = append(in, id)
			} else {
				out = append(out, id)
			}
		}
		return in, out
	}

	before := e.rows(viewLoyal, "customer_id")
	res := e.run(act)
	checkCounts(t, res, len(before), diff{added: keysOf(before)}, len(before), 0)
	reqs := fake.Requests()
	if len(reqs) != batches(len(before), 10) {
		t.Errorf("full run: %d requests, want %d", len(reqs), batches(len(before), 10))
	}
	in, out := split(flags(reqs))
	equalKeys(t, "full run: set true", in, keysOf(before))
	if len(out) != 0 {
		t.Errorf("full run set false for %v", out)
	}
	noViolations(t, fake.Violations())

	e.mutate()
	after := e.rows(viewLoyal, "customer_id")
	want := diffRows(before, after)
	n := len(reqs)
	res = e.run(act)
	checkCounts(t, res, len(after), want, len(want.added)+len(want.removed), 0)
	reqs = newRequests(fake.Requests(), n)
	if len(reqs) != batches(len(want.added)+len(want.removed), 10) {
		t.Fatalf("delta run: %d requests, want %d (adds and removals share /users/track requests)",
			len(reqs), batches(len(want.added)+len(want.removed), 10))
	}
	in, out = split(flags(reqs))
	equalKeys(t, "delta run: set true", in, want.added)
	equalKeys(t, "delta run: set false", out, want.removed)
	noViolations(t, fake.Violations())

	for _, id := range all {
		u, _ := fake.User(id)
		_, member := after[id]
		_, departed := before[id]
		switch {
		case member && u[attribute] != true:
			t.Errorf("member %s: %s = %v, want true", id, attribute, u[attribute])
		case !member && departed && u[attribute] != false:
			t.Errorf("departed %s: %s = %v, want false", id, attribute, u[attribute])
		case !member && !departed && u[attribute] != nil:
			t.Errorf("never a member %s: %s = %v, want unset", id, attribute, u[attribute])
		}
	}
}
