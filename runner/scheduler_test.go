package runner_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"dinmo/catalog"
	"dinmo/connectors/destination"
	"dinmo/connectors/destination/connectortest"
	"dinmo/connectors/destination/webhook"
	"dinmo/connectors/warehouse/postgres"
	"dinmo/runner"
	"dinmo/schedule"
)

// clock is a settable time source for the scheduler.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// setInterval schedules the activation every hour, next at next (nil: not yet scheduled).
func (f *fixture) setInterval(next *time.Time) {
	f.t.Helper()
	f.act.Schedule = schedule.Schedule{Type: schedule.TypeInterval, Every: "1h"}
	must(f.t, f.store.UpdateActivation(f.ctx, f.act))
	must(f.t, f.store.SetActivationSchedule(f.ctx, f.act.ID, next, false))
}

func (f *fixture) runs() []catalog.Run {
	f.t.Helper()
	runs, err := f.store.ListRuns(f.ctx, f.act.ID, 0)
	must(f.t, err)
	return runs
}

func (f *fixture) nextRunAt() *time.Time {
	f.t.Helper()
	a, err := f.store.GetActivation(f.ctx, f.act.ID)
	must(f.t, err)
	return a.NextRunAt
}

func tick(t *testing.T, s *runner.Scheduler, ctx context.Context) int {
	t.Helper()
	n, err := s.Tick(ctx)
	must(t, err)
	s.Wait()
	return n
}

// TestSchedulerInterval: a new interval activation runs at once, then once per period.
func TestSchedulerInterval(t *testing.T) {
	f := newFixture(t, fixtureOptions{rows: 3})
	c := &clock{t: time.Now().Truncate(time.Second)}
	t0 := c.now()
	r := f.newRunner(func(o *runner.Options) { o.Now = c.now })
	s := r.NewScheduler(2)
	f.setInterval(nil)

	if n := tick(t, s, f.ctx); n != 1 {
		t.Fatalf("first tick started %d runs, want 1", n)
	}
	runs := f.runs()
	if len(runs) != 1 || runs[0].Trigger != runner.TriggerSchedule || runs[0].Status != catalog.RunSucceeded {
		t.Fatalf("runs = %+v", runs)
	}
	if next := f.nextRunAt(); next == nil || !next.Equal(t0.Add(time.Hour)) {
		t.Fatalf("next run = %v, want %v", next, t0.Add(time.Hour))
	}
	c.set(t0.Add(30 * time.Minute))
	if n := tick(t, s, f.ctx); n != 0 || len(f.runs()) != 1 {
		t.Fatalf("a tick before the period started %d runs", n)
	}
	c.set(t0.Add(time.Hour + time.Second))
	if n := tick(t, s, f.ctx); n != 1 || len(f.runs()) != 2 {
		t.Fatalf("a tick after the period started %d runs (%d recorded), want 1", n, len(f.runs()))
	}
	if next := f.nextRunAt(); !next.Equal(t0.Add(2 * time.Hour)) {
		t.Fatalf("next run = %v, want %v", next, t0.Add(2*time.Hour))
	}

	// A manual schedule is never due: its next run time is cleared.
	f.act.Schedule = schedule.Schedule{Type: schedule.TypeManual}
	must(t, f.store.UpdateActivation(f.ctx, f.act))
	c.set(t0.Add(3 * time.Hour))
	if n := tick(t, s, f.ctx); n != 0 || f.nextRunAt() != nil {
		t.Fatalf("manual activation: %d runs started, next run %v", n, f.nextRunAt())
	}
}

// TestSchedulerMissedRunsOnce: after five missed periods the activation runs once and its next
// run is the next multiple of the period.
func TestSchedulerMissedRunsOnce(t *testing.T) {
	f := newFixture(t, fixtureOptions{rows: 3})
	c := &clock{t: time.Now().Truncate(time.Second)}
	t0 := c.now()
	r := f.newRunner(func(o *runner.Options) { o.Now = c.now })
	s := r.NewScheduler(4)
	missed := t0.Add(-5*time.Hour - 10*time.Minute)
	f.setInterval(&missed)
	if n := tick(t, s, f.ctx); n != 1 {
		t.Fatalf("started %d runs, want 1", n)
	}
	if n := tick(t, s, f.ctx); n != 0 {
		t.Fatalf("second tick started %d runs, want 0", n)
	}
	if got, want := f.nextRunAt(), missed.Add(6*time.Hour); got == nil || !got.Equal(want) {
		t.Fatalf("next run = %v, want %v", got, want)
	}
	if len(f.runs()) != 1 {
		t.Fatalf("%d runs recorded, want 1", len(f.runs()))
	}
}

func TestNextRun(t *testing.T) {
	base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) // a Thursday
	every := schedule.Schedule{Type: schedule.TypeInterval, Every: "15m"}
	anchored := schedule.Schedule{Type: schedule.TypeInterval, Every: "6h", At: "01:30"}
	rec := schedule.Schedule{Type: schedule.TypeRecurrence, Rules: []schedule.Rule{
		{Days: []string{"mon", "wed"}, Times: []string{"09:00"}}, {Days: []string{"sat", "sun"}, Times: []string{"20:00"}}}}
	cron := schedule.Schedule{Type: schedule.TypeCron, Cron: "0 3 * * 1"}
	later := base.Add(time.Hour)
	tests := []struct {
		name string
		s    schedule.Schedule
		prev *time.Time
		now  time.Time
		want time.Time
	}{
		{"interval first due now", every, nil, base, base},
		{"interval due keeps phase", every, &base, base, base.Add(15 * time.Minute)},
		{"interval missed", every, &base, base.Add(100 * time.Minute), base.Add(105 * time.Minute)},
		{"interval not yet due", every, &later, base, later},
		{"anchored first", anchored, nil, base, time.Date(2026, 1, 1, 13, 30, 0, 0, time.UTC)},
		{"recurrence first", rec, nil, base, time.Date(2026, 1, 3, 20, 0, 0, 0, time.UTC)},
		{"recurrence missed a week", rec, &base, base.Add(7 * 24 * time.Hour), time.Date(2026, 1, 10, 20, 0, 0, 0, time.UTC)},
		{"cron first", cron, nil, base, time.Date(2026, 1, 5, 3, 0, 0, 0, time.UTC)},
		{"cron missed", cron, &base, time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 26, 3, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, ok := runner.NextRun(tt.s, tt.prev, tt.now)
		if !ok || !got.Equal(tt.want) {
			t.Errorf("%s: NextRun = %v, %v; want %v", tt.name, got, ok, tt.want)
		}
	}
	if _, ok := runner.NextRun(schedule.Schedule{}, nil, base); ok {
		t.Error("a manual schedule has a next run")
	}
}

// TestSchedulerRecurrenceAndCron: with an injected clock, a recurrence and a cron activation
// are first due at their next occurrence, run there once, and after a long outage run once
// and move to the next occurrence after now.
func TestSchedulerRecurrenceAndCron(t *testing.T) {
	for _, tc := range []struct {
		name  string
		s     schedule.Schedule
		first time.Time // first due after t0
		after time.Time // next due after a run at first
		late  time.Time // now after an outage
		next  time.Time // next due after the catch-up run
	}{{
		name:  "recurrence",
		s:     schedule.Schedule{Type: schedule.TypeRecurrence, Rules: []schedule.Rule{{Days: []string{"mon", "wed"}, Times: []string{"09:00", "18:00"}}}},
		first: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), // Monday
		after: time.Date(2026, 3, 2, 18, 0, 0, 0, time.UTC),
		late:  time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC), // a Friday, 5 occurrences missed
		next:  time.Date(2026, 3, 23, 9, 0, 0, 0, time.UTC),
	}, {
		name:  "cron",
		s:     schedule.Schedule{Type: schedule.TypeCron, Cron: "*/30 8-9 * * *"},
		first: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC),
		after: time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC),
		late:  time.Date(2026, 3, 4, 9, 10, 0, 0, time.UTC),
		next:  time.Date(2026, 3, 4, 9, 30, 0, 0, time.UTC),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOptions{rows: 2})
			t0 := time.Date(2026, 3, 1, 7, 0, 0, 0, time.UTC) // a Sunday
			c := &clock{t: t0}
			s := f.newRunner(func(o *runner.Options) { o.Now = c.now }).NewScheduler(1)
			f.act.Schedule = tc.s
			must(t, f.store.UpdateActivation(f.ctx, f.act))
			must(t, f.store.SetActivationSchedule(f.ctx, f.act.ID, nil, false))

			if n := tick(t, s, f.ctx); n != 0 {
				t.Fatalf("started %d runs before the first occurrence", n)
			}
			if got := f.nextRunAt(); got == nil || !got.Equal(tc.first) {
				t.Fatalf("first due = %v, want %v", got, tc.first)
			}
			c.set(tc.first.Add(-time.Second))
			if n := tick(t, s, f.ctx); n != 0 {
				t.Fatalf("started %d runs a second early", n)
			}
			c.set(tc.first.Add(20 * time.Second))
			if n := tick(t, s, f.ctx); n != 1 {
				t.Fatalf("started %d runs at the occurrence, want 1", n)
			}
			if got := f.nextRunAt(); got == nil || !got.Equal(tc.after) {
				t.Fatalf("next due = %v, want %v", got, tc.after)
			}
			c.set(tc.late)
			if n := tick(t, s, f.ctx); n != 1 {
				t.Fatalf("after an outage started %d runs, want 1", n)
			}
			if n := tick(t, s, f.ctx); n != 0 {
				t.Fatalf("second tick after an outage started %d runs", n)
			}
			if got := f.nextRunAt(); got == nil || !got.Equal(tc.next) {
				t.Fatalf("next due after catch-up = %v, want %v", got, tc.next)
			}
			if n := len(f.runs()); n != 2 {
				t.Fatalf("%d runs recorded, want 2", n)
			}
		})
	}
}

// TestTwoRunnersOneActivation: two runners sharing a catalog never run an activation at once.
func TestTwoRunnersOneActivation(t *testing.T) {
	f := newFixture(t, fixtureOptions{rows: 25, batchSize: 10})
	other, err := catalog.Open(f.ctx, "sqlite://"+filepath.Join(f.dir, "catalog.db"))
	must(t, err)
	defer other.Close()
	a := f.newRunner()
	b := f.newRunner(func(o *runner.Options) { o.Store = other })

	// While a is sending, b is refused with the holder named.
	var bErr error
	once := sync.Once{}
	res, err := a.Run(f.ctx, f.act.ID, runner.RunOptions{Progress: func(p runner.Progress) {
		if p.Phase == runner.PhaseSending {
			once.Do(func() { _, bErr = b.Run(f.ctx, f.act.ID, runner.RunOptions{}) })
		}
	}})
	must(t, err)
	var busy *runner.BusyError
	if !errors.As(bErr, &busy) || busy.Holder != a.ID() {
		t.Fatalf("second runner: %v, want a BusyError naming %s", bErr, a.ID())
	}
	if res.Run.Acknowledged != 25 || len(f.runs()) != 1 {
		t.Fatalf("runs = %+v", f.runs())
	}

	// Both schedulers tick at once on a due activation: it runs once.
	now := time.Now()
	f.setInterval(&now)
	sa, sb := a.NewScheduler(1), b.NewScheduler(1)
	var wg sync.WaitGroup
	for _, s := range []*runner.Scheduler{sa, sb} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.Tick(f.ctx); err != nil {
				t.Error(err)
			}
			s.Wait()
		}()
	}
	wg.Wait()
	if n := len(f.runs()); n != 2 {
		t.Fatalf("%d runs recorded after both ticks, want 2 (one scheduled run)", n)
	}
}

// TestLeaseHeartbeat: a run longer than the lease TTL keeps its lease; a run whose lease is
// taken away stops and commits nothing.
func TestLeaseHeartbeat(t *testing.T) {
	f := newFixture(t, fixtureOptions{rows: 20, batchSize: 10})
	const ttl = 300 * time.Millisecond
	r := f.newRunner(func(o *runner.Options) { o.LeaseTTL = ttl })
	once := sync.Once{}
	res := f.run(r, runner.RunOptions{Progress: func(p runner.Progress) {
		if p.Phase == runner.PhaseSending && p.Acknowledged == 10 {
			once.Do(func() { time.Sleep(3 * ttl) })
		}
	}})
	wantRun(t, res, catalog.RunSucceeded, map[string]int64{"acked": 20})

	f.insert(30, 90)
	f.insert(31, 90)
	once = sync.Once{}
	res, err := r.Run(f.ctx, f.act.ID, runner.RunOptions{Progress: func(p runner.Progress) {
		if p.Phase == runner.PhaseSending {
			once.Do(func() {
				ok, err := f.store.StealLease(f.ctx, f.act.ID, r.ID(), "thief:1:x", time.Hour)
				if err != nil || !ok {
					t.Errorf("steal: %v %v", ok, err)
				}
				time.Sleep(ttl)
			})
		}
	}})
	if err == nil || !strings.Contains(err.Error(), "lease") {
		t.Fatalf("run after losing its lease: %v, want a lease error", err)
	}
	wantRun(t, res, catalog.RunFailed, map[string]int64{"acked": 0})
	if owner, _, _ := f.store.LeaseHolder(f.ctx, f.act.ID); owner != "thief:1:x" {
		t.Fatalf("lease owner = %q: the runner released a lease it no longer held", owner)
	}
}

// TestSecretsNotLogged: debug logs of runs on PostgreSQL with a signed, authenticated webhook
// hold no credential and no row data.
func TestSecretsNotLogged(t *testing.T) {
	const (
		signing = "whsec-very-secret-signing-key"
		bearer  = "bearer-very-secret-token" //nolint:gosec // test credential
		pgPass  = "pg-very-secret-password"  //nolint:gosec // test credential
	)
	f := newFixture(t, fixtureOptions{engine: onPostgres, rows: 6, pgPassword: pgPass,
		webhook:   connectortest.WebhookConfig{SigningSecret: signing, BearerToken: bearer},
		destCreds: map[string]string{webhook.CredentialSigningSecret: signing, webhook.CredentialBearerToken: bearer}})
	r := f.newRunner()
	f.run(r, runner.RunOptions{})
	f.update(2, "changed@example.com")
	f.run(r, runner.RunOptions{})
	f.checkState()
	logs := f.logs.String()
	if !strings.Contains(logs, "level=DEBUG") || !strings.Contains(logs, "run finished") {
		t.Fatalf("debug logs missing:\n%s", logs)
	}
	src, err := f.store.GetSource(f.ctx, f.src.ID)
	must(t, err)
	password, err := f.sealer.Resolve(src.Credentials[postgres.CredentialPassword])
	must(t, err)
	banned := append([]string{signing, bearer, password, "c1@example.com", "changed@example.com", "Customer 3"}, f.fake.SensitiveValues()...)
	for _, s := range banned {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("logs contain %q", s)
		}
	}
}

// TestOpsEndpoints: /metrics exposes the run counters after a run; /healthz and /readyz answer
// 200 when the catalog does (and, for /readyz, its schema is current) and 503 when it does not.
func TestOpsEndpoints(t *testing.T) {
	f := newFixture(t, fixtureOptions{mode: destination.ModeMirror, rows: 7})
	r := f.newRunner()
	f.run(r, runner.RunOptions{})
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	body := get(t, srv.URL+"/metrics", http.StatusOK)
	for _, want := range []string{
		`dinmo_runs_total{activation="vip_to_hook",status="succeeded",workspace="shop"} 1`,
		`dinmo_rows_evaluated_total{activation="vip_to_hook",workspace="shop"} 7`,
		`dinmo_records_added_total{activation="vip_to_hook",workspace="shop"} 7`,
		`dinmo_records_sent_total{activation="vip_to_hook",workspace="shop"} 7`,
		`dinmo_records_changed_total{activation="vip_to_hook",workspace="shop"} 0`,
		`dinmo_records_removed_total{activation="vip_to_hook",workspace="shop"} 0`,
		`dinmo_records_rejected_total{activation="vip_to_hook",workspace="shop"} 0`,
		`dinmo_run_warnings_total{activation="vip_to_hook",workspace="shop"} 0`,
		`dinmo_run_duration_seconds_count{activation="vip_to_hook",workspace="shop"} 1`,
		`dinmo_activation_last_success_timestamp_seconds{activation="vip_to_hook",workspace="shop"}`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if got := get(t, srv.URL+"/healthz", http.StatusOK); strings.TrimSpace(got) != "ok" {
		t.Errorf("/healthz = %q", got)
	}
	if got := get(t, srv.URL+"/readyz", http.StatusOK); strings.TrimSpace(got) != "ready" {
		t.Errorf("/readyz = %q", got)
	}

	broken, err := catalog.Open(f.ctx, "sqlite://"+filepath.Join(f.dir, "other.db"))
	must(t, err)
	rb, err := runner.New(runner.Options{Store: broken})
	must(t, err)
	must(t, broken.Close())
	srv2 := httptest.NewServer(rb.Handler())
	defer srv2.Close()
	get(t, srv2.URL+"/healthz", http.StatusServiceUnavailable)
	if got := get(t, srv2.URL+"/readyz", http.StatusServiceUnavailable); !strings.Contains(got, "catalog unavailable") {
		t.Errorf("/readyz of a closed catalog = %q", got)
	}
}

func get(t *testing.T, url string, status int) string {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	must(t, err)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	if resp.StatusCode != status {
		t.Fatalf("GET %s = %d, want %d: %s", url, resp.StatusCode, status, b)
	}
	return string(b)
}

// TestServe: serve runs a due activation, answers on its listener and stops cleanly when its
// context ends.
func TestServe(t *testing.T) {
	f := newFixture(t, fixtureOptions{rows: 4})
	now := time.Now()
	f.setInterval(&now)
	r := f.newRunner()
	ln, err := (&net.ListenConfig{}).Listen(f.ctx, "tcp", "127.0.0.1:0")
	must(t, err)
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() {
		done <- r.Serve(ctx, runner.ServeOptions{Listener: ln, Poll: 20 * time.Millisecond, Concurrency: 2})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for len(f.runs()) == 0 || f.runs()[0].Status == catalog.RunRunning {
		if time.Now().After(deadline) {
			t.Fatal("the due activation did not run")
		}
		time.Sleep(20 * time.Millisecond)
	}
	get(t, "http://"+ln.Addr().String()+"/healthz", http.StatusOK)
	cancel()
	select {
	case err := <-done:
		must(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if runs := f.runs(); len(runs) != 1 || runs[0].Status != catalog.RunSucceeded {
		t.Fatalf("runs = %+v", runs)
	}
	f.checkState()
}
