package cli_test

import (
	"strings"
	"testing"

	"dinmo/catalog"
	"dinmo/connectors/warehouse"
)

// TestCLIOps: a mass removal is blocked with a message naming the approve command; after
// `approve` the next run sends the removals; pause, resume, resync and status show and change
// the runner-owned state.
func TestCLIOps(t *testing.T) {
	f := newCLIFixture(t, 20, 0)
	if code, out, errOut := f.cli("run", actRef, "--log-level", "error"); code != 0 {
		t.Fatalf("first run: exit %d\n%s\n%s", code, out, errOut)
	}
	g := int64(10)
	f.act.Guards = catalog.Guards{MinSnapshotForRemovalGuard: &g}
	must(t, f.store.UpdateActivation(f.ctx, f.act))
	f.withWarehouse(func(w warehouse.Warehouse) { f.exec(w, "DELETE FROM src.customers WHERE id <= 15") })

	code, out, _ := f.cli("run", actRef, "--log-level", "error")
	if code != 1 || !strings.Contains(out, ": blocked") || !strings.Contains(out, "dinmo-runner approve shop/vip_to_hook") {
		t.Fatalf("blocked run: exit %d\n%s", code, out)
	}
	if n := len(f.fake.State()); n != 20 {
		t.Fatalf("a blocked run changed the destination: %d records", n)
	}
	code, out, _ = f.cli("status", actRef)
	for _, want := range []string{"shop/vip_to_hook", "schedule manual", "blocked", "guard: blocked by the mass-removal guard", "lease free", "max removal 50% (snapshots of 10+ rows)"} {
		if code != 0 || !strings.Contains(spaces(out), want) {
			t.Errorf("status (exit %d) lacks %q:\n%s", code, want, out)
		}
	}
	code, out, _ = f.cli("approve", actRef)
	if code != 0 || !strings.Contains(out, "Approved") {
		t.Fatalf("approve: exit %d\n%s", code, out)
	}
	if _, out, _ = f.cli("status", actRef); !strings.Contains(spaces(out), "pending for next run guard approval") {
		t.Errorf("status lacks the pending approval:\n%s", out)
	}
	code, out, _ = f.cli("run", actRef, "--log-level", "error")
	if code != 0 || !strings.Contains(out, "-15 removed") || !strings.Contains(out, "passed by approval") {
		t.Fatalf("approved run: exit %d\n%s", code, out)
	}
	if n := len(f.fake.State()); n != 5 {
		t.Fatalf("after the approved run the destination holds %d records, want 5", n)
	}

	code, out, _ = f.cli("pause", actRef, "--reason", "maintenance of the CRM")
	if code != 0 || !strings.Contains(out, "Paused shop/vip_to_hook: maintenance of the CRM") {
		t.Fatalf("pause: exit %d\n%s", code, out)
	}
	a, err := f.store.GetActivation(f.ctx, f.act.ID)
	must(t, err)
	if !a.Paused || a.PausedBy != "user" || a.PauseReason != "maintenance of the CRM" {
		t.Fatalf("after pause: %+v", a)
	}
	if _, out, _ = f.cli("activations"); !strings.Contains(out, "paused by user: maintenance of the CRM") {
		t.Errorf("activations does not show the pause:\n%s", out)
	}
	// A user's pause is not the check's business.
	if code, out, _ = f.cli("check", "shop"); code != 0 || !strings.Contains(out, "No automatically paused activations.") {
		t.Fatalf("check: exit %d\n%s", code, out)
	}
	if code, out, _ = f.cli("resume", actRef); code != 0 || !strings.Contains(out, "Resumed shop/vip_to_hook") {
		t.Fatalf("resume: exit %d\n%s", code, out)
	}
	if code, out, _ = f.cli("resync", actRef); code != 0 || !strings.Contains(out, "full run") {
		t.Fatalf("resync: exit %d\n%s", code, out)
	}
	a, err = f.store.GetActivation(f.ctx, f.act.ID)
	must(t, err)
	if a.Paused || !a.FullResyncRequested {
		t.Fatalf("after resume and resync: %+v", a)
	}
	code, out, _ = f.cli("run", actRef, "--log-level", "error")
	if code != 0 || !strings.Contains(out, "(full run)") {
		t.Fatalf("run after resync: exit %d\n%s", code, out)
	}
	audit, err := f.store.ListAudit(f.ctx, catalog.AuditFilter{ObjectID: f.act.ID, Limit: 100})
	must(t, err)
	actions := map[string]string{}
	for _, e := range audit {
		actions[e.Action] = e.Actor
	}
	for _, want := range []string{"approve", "pause", "resume", "resync"} {
		if actions[want] != "cli" {
			t.Errorf("audit: %s by %q, want cli (all: %v)", want, actions[want], actions)
		}
	}
	if code, _, errOut := f.cli("approve"); code != 2 || !strings.Contains(errOut, "approve needs exactly one") {
		t.Errorf("approve without argument: exit %d: %s", code, errOut)
	}
}

// spaces collapses runs of white space, so assertions do not depend on column widths.
func spaces(s string) string { return strings.Join(strings.Fields(s), " ") }
