package runner_test

import (
	"context"
	"fmt"
	"net"
	"sort"
	"testing"
	"time"

	"dinmo/catalog"
	"dinmo/internal/pgtest"
	"dinmo/runner"
	"dinmo/schedule"
)

// TestThreeRunnersPostgres: three Serve loops (separate runner ids and catalog connections,
// as three processes would have) share many interval activations through the PostgreSQL
// catalog. Over several schedule periods, one runner is cancelled while runs are in flight
// and a lease is left by a runner that died on another host; every due run still executes
// exactly once (the runs table), no two runs of an activation overlap, and the dead runner's
// lease is taken over once it expires.
func TestThreeRunnersPostgres(t *testing.T) {
	const (
		activations = 8
		rounds      = 4
		leaseTTL    = time.Second
	)
	dsn := pgtest.DSN(t)
	f := newFixture(t, fixtureOptions{rows: 3, catalogURL: dsn})
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	c := &clock{t: t0}
	ids := []string{f.act.ID}
	for i := 1; i < activations; i++ {
		a := *f.act
		a.ID, a.Name = "", fmt.Sprintf("%s_%d", actName, i)
		must(t, f.store.CreateActivation(f.ctx, &a))
		ids = append(ids, a.ID)
	}
	every := schedule.Schedule{Type: schedule.TypeInterval, Every: "1m"}
	for _, id := range ids {
		a, err := f.store.GetActivation(f.ctx, id)
		must(t, err)
		a.Schedule = every
		must(t, f.store.UpdateActivation(f.ctx, a))
		must(t, f.store.SetActivationSchedule(f.ctx, id, &t0, false))
	}

	type serving struct {
		r      *runner.Runner
		cancel context.CancelFunc
		done   chan error
	}
	start := func() *serving {
		st, err := catalog.Open(f.ctx, dsn)
		must(t, err)
		t.Cleanup(func() { _ = st.Close() })
		r := f.newRunner(func(o *runner.Options) { o.Store, o.Now, o.LeaseTTL = st, c.now, leaseTTL })
		ln, err := (&net.ListenConfig{}).Listen(f.ctx, "tcp", "127.0.0.1:0")
		must(t, err)
		ctx, cancel := context.WithCancel(f.ctx)
		s := &serving{r: r, cancel: cancel, done: make(chan error, 1)}
		go func() {
			s.done <- r.Serve(ctx, runner.ServeOptions{Listener: ln, Poll: 20 * time.Millisecond, Concurrency: 2})
		}()
		return s
	}
	runners := []*serving{start(), start(), start()}
	defer func() {
		for _, s := range runners {
			s.cancel()
		}
		for _, s := range runners {
			if err := <-s.done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	}()

	runsOf := func(id string) []catalog.Run {
		runs, err := f.store.ListRuns(f.ctx, id, 100)
		must(t, err)
		return runs
	}
	// waitRound waits until every activation has n finished runs.
	waitRound := func(n int, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			done := 0
			for _, id := range ids {
				finished := 0
				for _, r := range runsOf(id) {
					if r.FinishedAt != nil {
						finished++
					}
				}
				if finished >= n {
					done++
				}
			}
			if done == len(ids) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: only %d of %d activations ran within %s", n, done, len(ids), within)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	waitRound(1, time.Minute)
	const ghostTTL = 3 * time.Second
	var ghostAt time.Time
	for round := 2; round <= rounds; round++ {
		switch round {
		case 3:
			// A runner on another host died holding activation 0's lease.
			ghostAt = time.Now()
			ok, err := f.store.AcquireLease(f.ctx, ids[0], "ghost-host:4242:deadbeef", ghostTTL)
			if err != nil || !ok {
				t.Fatalf("ghost lease: %v, %v", ok, err)
			}
		}
		c.set(t0.Add(time.Duration(round-1)*time.Minute + 30*time.Second))
		if round == 3 {
			// While the dead runner's lease lasts, activation 0 waits; the others run.
			time.Sleep(time.Second)
			if n := len(runsOf(ids[0])); n != 2 && time.Since(ghostAt) < ghostTTL {
				t.Fatalf("activation 0 ran while a dead runner held its lease: %d runs", n)
			}
		}
		if round == 2 {
			// Cancel the first runner while the round's runs start.
			time.Sleep(30 * time.Millisecond)
			runners[0].cancel()
			if err := <-runners[0].done; err != nil {
				t.Fatalf("cancelled runner: %v", err)
			}
			runners[0].done <- nil // for the deferred wait
		}
		waitRound(round, time.Minute)
	}
	// A few more polls at the same time start nothing more.
	time.Sleep(200 * time.Millisecond)

	byRunner := map[string]int{}
	for i, id := range ids {
		runs := runsOf(id)
		if len(runs) != rounds {
			t.Errorf("activation %d: %d runs, want exactly %d (one per due occurrence)", i, len(runs), rounds)
		}
		sort.Slice(runs, func(a, b int) bool { return runs[a].StartedAt.Before(runs[b].StartedAt) })
		for j, r := range runs {
			byRunner[r.RunnerID]++
			if r.Trigger != runner.TriggerSchedule || (r.Status != catalog.RunSucceeded && r.Status != catalog.RunInterrupted) {
				t.Errorf("activation %d run %d: trigger %s status %s (%s)", i, j, r.Trigger, r.Status, r.ErrorMessage)
			}
			if j > 0 && (runs[j-1].FinishedAt == nil || runs[j-1].FinishedAt.After(r.StartedAt)) {
				t.Errorf("activation %d: runs %d and %d overlap", i, j-1, j)
			}
		}
		a, err := f.store.GetActivation(f.ctx, id)
		must(t, err)
		if want := t0.Add(time.Duration(rounds) * time.Minute); a.NextRunAt == nil || !a.NextRunAt.Equal(want) {
			t.Errorf("activation %d: next run %v, want %v", i, a.NextRunAt, want)
		}
	}
	if owner, _, err := f.store.LeaseHolder(f.ctx, ids[0]); err != nil || owner == "ghost-host:4242:deadbeef" {
		t.Errorf("the dead runner's lease was not taken over: holder %q, %v", owner, err)
	}
	if runs := runsOf(ids[0]); len(runs) > 0 && runs[0].RunnerID == "ghost-host:4242:deadbeef" {
		t.Errorf("a run is attributed to the dead runner")
	}
	if len(byRunner) < 2 {
		t.Errorf("the work was not shared: runs by runner %v", byRunner)
	}
}
