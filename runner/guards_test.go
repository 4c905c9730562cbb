package runner_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"dinmo/catalog"
	"dinmo/connectors/destination"
	"dinmo/connectors/destination/connectortest"
	"dinmo/runner"
)

func ptr[T any](v T) *T { return &v }

// setGuards stores the activation's guard thresholds.
func (f *fixture) setGuards(g catalog.Guards) {
	f.t.Helper()
	f.act.Guards = g
	must(f.t, f.store.UpdateActivation(f.ctx, f.act))
}

// runBlocked runs the activation and wants it blocked by guard, with nothing sent.
func (f *fixture) runBlocked(r *runner.Runner, guard string) *runner.Result {
	f.t.Helper()
	before := len(f.fake.Accepted())
	res, err := r.Run(f.ctx, f.act.ID, runner.RunOptions{})
	var ge *runner.GuardError
	if !errors.As(err, &ge) || ge.Guard != guard {
		f.t.Fatalf("run: error %v, want a %s GuardError", err, guard)
	}
	if res == nil || res.Run.Status != catalog.RunBlocked || res.Run.ErrorCategory != runner.ErrorCategoryGuard ||
		!strings.Contains(res.Run.ErrorMessage, "dinmo-runner approve shop/vip_to_hook") {
		f.t.Fatalf("blocked run = %+v", res)
	}
	if n := len(f.fake.Accepted()); n != before {
		f.t.Fatalf("a blocked run sent %d requests", n-before)
	}
	stored, err := f.store.GetRun(f.ctx, res.Run.ID)
	must(f.t, err)
	if stored.Status != catalog.RunBlocked || stored.ErrorMessage != res.Run.ErrorMessage {
		f.t.Fatalf("stored blocked run = %+v", stored)
	}
	return res
}

// TestGuardMassRemoval: a run removing more than max_removal_percent of a large enough
// snapshot is blocked before sending anything, blocks again until approved, and the approved
// run sends the removals (once: the approval is used up). Below the snapshot minimum or the
// threshold nothing is blocked.
func TestGuardMassRemoval(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: destination.ModeMirror, rows: 20})
	r := f.newRunner()
	f.run(r, runner.RunOptions{})

	// 5 of 20 removed (25%) with the default 50%: not blocked, even with a small minimum.
	f.setGuards(catalog.Guards{MinSnapshotForRemovalGuard: ptr(int64(10))})
	for i := 1; i <= 5; i++ {
		f.delete(i)
	}
	wantRun(t, f.run(r, runner.RunOptions{}), catalog.RunSucceeded, map[string]int64{"removed": 5, "acked": 5})

	// 12 of 15 removed (80%): blocked, twice, with the snapshot untouched.
	for i := 6; i <= 17; i++ {
		f.delete(i)
	}
	res := f.runBlocked(r, runner.GuardMassRemoval)
	if !strings.Contains(res.Run.ErrorMessage, "remove 12 of 15 records (80.0%") || res.Run.Removed != 12 {
		t.Errorf("blocked run: %q, removed %d", res.Run.ErrorMessage, res.Run.Removed)
	}
	f.runBlocked(r, runner.GuardMassRemoval)

	must(t, f.store.SetActivationApproval(f.ctx, f.act.ID, true))
	res = f.run(r, runner.RunOptions{})
	wantRun(t, res, catalog.RunWarning, map[string]int64{"removed": 12, "acked": 12, "sent": 12})
	if !contains(res.Run.Warnings, "mass_removal guard was passed by approval") {
		t.Errorf("warnings = %v", res.Run.Warnings)
	}
	f.checkState()
	a, err := f.store.GetActivation(f.ctx, f.act.ID)
	must(t, err)
	if a.RemovalsApproved {
		t.Error("the approval was not used up")
	}

	// The next mass removal is blocked again.
	f.delete(18)
	f.delete(19)
	f.setGuards(catalog.Guards{MinSnapshotForRemovalGuard: ptr(int64(3))})
	f.runBlocked(r, runner.GuardMassRemoval)

	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	body := get(t, srv.URL+"/metrics", http.StatusOK)
	for _, want := range []string{
		`dinmo_runs_total{activation="vip_to_hook",status="blocked",workspace="shop"} 3`,
		`dinmo_run_warnings_total{activation="vip_to_hook",workspace="shop"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestGuardEmptyResult: a segment that becomes empty is blocked (even in a mode that sends no
// removals) unless block_empty_result is off.
func TestGuardEmptyResult(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: destination.ModeUpsert, rows: 6})
	slack := newSlackFake(t)
	f.enableSlack(slack)
	r := f.newRunner()
	f.run(r, runner.RunOptions{})
	f.exec("UPDATE " + f.table() + " SET score = 0")
	res := f.runBlocked(r, runner.GuardEmptyResult)
	r.WaitAlerts()
	got := slack.take()
	wantAlerts(t, got, "failed: guard")
	if !strings.Contains(got[0], "dinmo-runner approve shop/vip_to_hook") {
		t.Errorf("the blocked run's alert does not say how to approve: %s", got[0])
	}
	if !strings.Contains(res.Run.ErrorMessage, "returned no rows while the previous run committed 6") {
		t.Errorf("message = %q", res.Run.ErrorMessage)
	}
	f.setGuards(catalog.Guards{BlockEmptyResult: ptr(false)})
	wantRun(t, f.run(r, runner.RunOptions{}), catalog.RunSucceeded, map[string]int64{"removed": 6, "sent": 0})
	// Empty again, with an empty snapshot: nothing to guard.
	f.setGuards(catalog.Guards{})
	wantRun(t, f.run(r, runner.RunOptions{}), catalog.RunSucceeded, map[string]int64{"removed": 0})
}

// TestGuardRejectedShare: rejected records make a warning only above
// rejected_warning_percent of the records sent.
func TestGuardRejectedShare(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: destination.ModeUpsert, rows: 20, batchSize: 10})
	slack := newSlackFake(t)
	f.enableSlack(slack)
	r := f.newRunner()
	// 1 of 20 rejected: 5%, not above the default 5%.
	f.fake.FailNext(1, connectortest.Failure{Reject: map[string]string{"10": "invalid email"}})
	res := f.run(r, runner.RunOptions{})
	wantRun(t, res, catalog.RunSucceeded, map[string]int64{"sent": 20, "acked": 19, "rejected": 1})
	if len(res.Run.Warnings) != 0 {
		t.Errorf("warnings at 5%%: %v", res.Run.Warnings)
	}
	// The retry of that record is rejected again: 1 of 1, above 5%.
	f.fake.FailNext(1, connectortest.Failure{Reject: map[string]string{"10": "invalid email"}})
	res = f.run(r, runner.RunOptions{})
	wantRun(t, res, catalog.RunWarning, map[string]int64{"sent": 1, "rejected": 1})
	if !contains(res.Run.Warnings, "1 records rejected by the destination (100.0% of 1 sent, above the activation's rejected_warning_percent of 5%)") {
		t.Errorf("warnings = %v", res.Run.Warnings)
	}
	r.WaitAlerts()
	wantAlerts(t, slack.take(), "succeeded with warnings")
}
