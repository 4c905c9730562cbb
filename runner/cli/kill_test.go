package cli_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"reflect"
	"sort"
	"syscall"
	"testing"
	"time"

	"dinmo/connectors/warehouse"
	"dinmo/runner"
	"dinmo/secrets"
)

// TestKilledRunLosesNothing runs the real CLI in a subprocess against a slow webhook (100 ms
// per batch of 10), SIGKILLs it after some batches were acknowledged, then runs the activation
// again and checks that the destination ends up equal to the segment, that every changed key
// was delivered, and that at most the batch in flight was delivered twice. It repeats the kill
// at different points: during the first (full) run and during two delta runs.
func TestKilledRunLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("kills subprocesses; several seconds")
	}
	const (
		rows      = 300
		batchSize = cliBatchSize
	)
	f := newCLIFixture(t, rows, 100*time.Millisecond)
	sealer, err := secrets.NewSealer(secretKey)
	must(t, err)

	iterations := []struct {
		name      string
		mutate    []string // warehouse changes before the run
		changed   []string // keys those changes touch (all keys for the first run)
		killAfter int      // accepted requests of this iteration before the kill
		// killDelay waits after that request was accepted: 0 kills before its acknowledgement
		// is checkpointed (the batch is sent twice), 50ms while the next batch is in flight.
		killDelay time.Duration
	}{
		{name: "first run", changed: keyRange(1, rows), killAfter: 4, killDelay: 0},
		{name: "delta 1",
			mutate: []string{
				"UPDATE src.customers SET email = 'u1-' || email WHERE id % 3 = 0",                   // 100 changed
				"DELETE FROM src.customers WHERE id BETWEEN 1 AND 40 AND id % 3 <> 0",                // 27 removed
				"INSERT INTO src.customers SELECT i, 'n' || i || '@x', 60 FROM range(301, 331) t(i)", // 30 added
			},
			changed:   append(append(multiplesOf3(1, rows), removedKeys(1, 40)...), keyRange(301, 330)...),
			killAfter: 9, killDelay: 50 * time.Millisecond},
		{name: "delta 2",
			mutate: []string{
				"UPDATE src.customers SET score = 10 WHERE id BETWEEN 100 AND 159",         // 60 leave the segment
				"UPDATE src.customers SET score = score + 1 WHERE id > 200 AND score < 99", // fields change
			},
			changed: nil, killAfter: 2, killDelay: 130 * time.Millisecond},
	}

	for i, it := range iterations {
		before := len(f.fake.Accepted())
		stateBefore := f.fake.State()
		if len(it.mutate) > 0 {
			f.withWarehouse(func(w warehouse.Warehouse) {
				for _, q := range it.mutate {
					f.exec(w, q)
				}
			})
		}
		want := f.members()
		changed := it.changed
		if changed == nil {
			changed = diffKeys(stateBefore, want)
		}

		// The runner process, killed mid-run.
		cmd := exec.CommandContext(f.ctx, os.Args[0], "run", actRef, "--log-level", "warn") //nolint:gosec // re-runs this test binary as the CLI
		cmd.Env = append(os.Environ(), envCLI+"=1", "DINMO_CATALOG_URL="+f.catalogURL, secrets.EnvKey+"="+secretKey)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		must(t, cmd.Start())
		deadline := time.Now().Add(60 * time.Second)
		for len(f.fake.Accepted())-before < it.killAfter {
			if time.Now().After(deadline) {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("%s: the runner did not send %d batches in time:\n%s", it.name, it.killAfter, out.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(it.killDelay)
		must(t, cmd.Process.Signal(syscall.SIGKILL))
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("%s: the runner was not killed (it finished first: %v):\n%s", it.name, err, out.String())
		}
		killedAt := len(f.fake.Accepted()) - before

		// The next run, in this process, catches up.
		r, err := runner.New(runner.Options{Store: f.store, Sealer: sealer,
			Logger: slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		must(t, err)
		res, err := r.Run(f.ctx, f.act.ID, runner.RunOptions{})
		if err != nil {
			t.Fatalf("%s: catch-up run: %v\n%s", it.name, err, out.String())
		}
		if res.Recovered == 0 {
			t.Errorf("%s: the catch-up run recovered no acknowledged record", it.name)
		}

		// The destination equals the segment; every change arrived; at most one batch twice.
		if got := f.fake.State(); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: destination state differs from the segment (%d vs %d records)", it.name, len(got), len(want))
		}
		deliveries := map[string]int{}
		for _, req := range f.fake.Accepted()[before:] {
			for _, rec := range req.Payload.Records {
				deliveries[rec.Key]++
			}
		}
		for _, k := range changed {
			if deliveries[k] == 0 {
				t.Errorf("%s: changed key %s was never delivered", it.name, k)
			}
		}
		redelivered := 0
		for _, n := range deliveries {
			redelivered += n - 1
		}
		if redelivered > batchSize {
			t.Errorf("%s: %d records delivered twice, want at most one batch (%d)", it.name, redelivered, batchSize)
		}
		if v := f.fake.Violations(); len(v) > 0 {
			t.Fatalf("%s: contract violations: %v", it.name, v)
		}
		t.Logf("iteration %d (%s): killed after %d requests; catch-up recovered %d acknowledged records and sent %d; %d changed keys; %d re-delivered",
			i, it.name, killedAt, res.Recovered, res.Sent, len(changed), redelivered)
	}
}

func keyRange(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprint(i))
	}
	return out
}

func multiplesOf3(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		if i%3 == 0 {
			out = append(out, fmt.Sprint(i))
		}
	}
	return out
}

func removedKeys(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		if i%3 != 0 {
			out = append(out, fmt.Sprint(i))
		}
	}
	return out
}

// diffKeys lists the keys whose presence or fields differ between two states.
func diffKeys(a, b map[string]map[string]any) []string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok || !reflect.DeepEqual(v, w) {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
