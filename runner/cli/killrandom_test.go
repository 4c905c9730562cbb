package cli_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"dinmo/connectors/warehouse"
	"dinmo/runner"
	"dinmo/secrets"
)

// envKillSeed overrides the random kill test's seed (to replay a failure it logged).
const envKillSeed = "DINMO_KILL_SEED"

// killPoint is where an iteration of TestKilledAtRandomPointsLosesNothing kills the runner.
type killPoint string

const (
	killBeforeEvaluate killPoint = runner.PauseBeforeEvaluate // run recorded, warehouse untouched
	killAfterEvaluate  killPoint = runner.PauseAfterEvaluate  // run table written, no ack table
	killMidBatches     killPoint = "mid-batches"              // a random moment while batches are sent
	killInPrune        killPoint = runner.PauseInPrune        // the snapshot pruned in chunks, before the fold's transaction
	killInFold         killPoint = runner.PauseInFold         // inside the fold's transaction
)

var killPoints = []killPoint{killBeforeEvaluate, killAfterEvaluate, killMidBatches, killInPrune, killInFold}

// killFoldChunk is the fold chunk of every run of the test (runner.EnvTestFoldChunkRows), so
// that its snapshot of about 150 rows is pruned in chunks like a large DuckDB one.
const killFoldChunk = 40

// TestKilledAtRandomPointsLosesNothing runs the real CLI in a subprocess many times, each time
// after random (seeded) changes to the warehouse, and SIGKILLs it at a random point: before
// the evaluation, between the evaluation and the first batch, at a random moment among the
// batches (just after a batch was accepted, or while the next one is in flight), after the
// snapshot was pruned in chunks, or inside the fold's transaction (through the runner's
// DINMO_TEST_PAUSE_AT hook). A catch-up run follows
// each kill. After it the destination must equal the segment, every changed key must have been
// delivered, and no more records may have been delivered twice than the batches in flight at
// the kill (none for the kills outside sending, one batch for a kill among the batches).
// The seed is logged; DINMO_KILL_SEED replays it.
func TestKilledAtRandomPointsLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("kills subprocesses; tens of seconds")
	}
	const (
		rows       = 150
		iterations = 15
		latency    = 30 * time.Millisecond
		batchSize  = cliBatchSize
	)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(envKillSeed); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		must(t, err)
		seed = s
	}
	t.Logf("seed %d (replay with %s=%d)", seed, envKillSeed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) //nolint:gosec // test randomness, not security

	f := newCLIFixture(t, rows, latency)
	sealer, err := secrets.NewSealer(secretKey)
	must(t, err)
	nextID := rows + 1
	// Every kill point is drawn iterations/len(killPoints) times, in a random order.
	schedule := make([]killPoint, 0, iterations)
	for len(schedule) < iterations {
		schedule = append(schedule, killPoints...)
	}
	rng.Shuffle(len(schedule), func(i, j int) { schedule[i], schedule[j] = schedule[j], schedule[i] })
	started := time.Now()

	// The first run (full) is killed too; it sends everything.
	for it := 0; it < iterations; it++ {
		before := len(f.fake.Accepted())
		stateBefore := f.fake.State()
		if it > 0 {
			var qs []string
			qs, nextID = randomChanges(rng, it, nextID)
			f.withWarehouse(func(w warehouse.Warehouse) {
				for _, q := range qs {
					f.exec(w, q)
				}
			})
		}
		want := f.members()
		changed := diffKeys(stateBefore, want)
		batches := (len(changed) + batchSize - 1) / batchSize

		point := schedule[it]
		if point == killMidBatches && batches < 2 {
			point = killInFold // too few batches to land among them
		}
		if point == killInPrune && it == 0 {
			point = killInFold // the first run's snapshot is empty: nothing to prune
		}
		killAfter := 0
		var killDelay time.Duration
		if point == killMidBatches {
			// After 1..batches-1 accepted requests: at least one more batch (>= latency) is
			// still to come, so a delay below the latency kills the runner while sending.
			killAfter = 1 + rng.IntN(batches-1)
			killDelay = time.Duration(rng.IntN(int(latency * 8 / 10)))
		}

		killRunner(t, f, actRef, point, before, killAfter, killDelay, fmt.Sprintf("iteration %d", it))
		sentByKilled := len(f.fake.Accepted()) - before

		// The catch-up run, in this process.
		var logs bytes.Buffer
		r, err := runner.New(runner.Options{Store: f.store, Sealer: sealer, FoldChunkRows: killFoldChunk,
			Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		must(t, err)
		res, err := r.Run(f.ctx, f.act.ID, runner.RunOptions{})
		if err != nil {
			t.Fatalf("iteration %d (%s): catch-up run: %v\n%s", it, point, err, logs.String())
		}

		if got := f.fake.State(); !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d iteration %d (%s): destination state differs from the segment (%d vs %d records)",
				seed, it, point, len(got), len(want))
		}
		deliveries := map[string]int{}
		for _, req := range f.fake.Accepted()[before:] {
			for _, rec := range req.Payload.Records {
				deliveries[rec.Key]++
			}
		}
		for _, k := range changed {
			if deliveries[k] == 0 {
				t.Errorf("seed %d iteration %d (%s): changed key %s was never delivered", seed, it, point, k)
			}
		}
		redelivered := 0
		for _, n := range deliveries {
			redelivered += n - 1
		}
		inFlight := 0 // kills outside sending leave no batch in flight
		if point == killMidBatches {
			inFlight = batchSize
		}
		if redelivered > inFlight {
			t.Errorf("seed %d iteration %d (%s): %d records delivered twice, want at most %d (the batches in flight)",
				seed, it, point, redelivered, inFlight)
		}
		if (point == killInFold || point == killInPrune) && len(changed) > 0 && res.Recovered != int64(len(changed)) {
			t.Errorf("seed %d iteration %d (%s): the catch-up run recovered %d acknowledged records, want all %d the killed run sent",
				seed, it, point, res.Recovered, len(changed))
		}
		if v := f.fake.Violations(); len(v) > 0 {
			t.Fatalf("seed %d iteration %d (%s): contract violations: %v", seed, it, point, v)
		}
		t.Logf("iteration %d: killed %s (after %d requests, +%s); %d changed keys; catch-up recovered %d, sent %d; %d re-delivered",
			it, point, sentByKilled, killDelay, len(changed), res.Recovered, res.Sent, redelivered)
	}
	t.Logf("%d iterations in %s", iterations, time.Since(started).Round(time.Millisecond))
}

// killRunner starts `dinmo-runner run ref` in a subprocess and SIGKILLs it at point: when
// the runner announces it paused there (DINMO_TEST_PAUSE_AT), or for killMidBatches killDelay
// after the fake accepted killAfter requests more than before.
func killRunner(t *testing.T, f *cliFixture, ref string, point killPoint, before, killAfter int, killDelay time.Duration, label string) {
	t.Helper()
	cmd := exec.CommandContext(f.ctx, os.Args[0], "run", ref, "--log-level", "warn") //nolint:gosec // re-runs this test binary as the CLI
	cmd.Env = append(os.Environ(), envCLI+"=1", "DINMO_CATALOG_URL="+f.catalogURL, secrets.EnvKey+"="+secretKey,
		runner.EnvTestFoldChunkRows+"="+strconv.Itoa(killFoldChunk))
	if point != killMidBatches {
		cmd.Env = append(cmd.Env, runner.EnvTestPauseAt+"="+string(point))
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	must(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	reached := func() bool {
		if point == killMidBatches {
			return len(f.fake.Accepted())-before >= killAfter
		}
		return strings.Contains(out.String(), runner.EnvTestPauseAt+": paused at "+string(point))
	}
	for !reached() {
		select {
		case err := <-exited:
			t.Fatalf("%s (%s): the runner exited (%v) before the kill point:\n%s", label, point, err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			waitErr := <-exited
			t.Fatalf("%s (%s): the runner did not reach the kill point in time (%v):\n%s", label, point, waitErr, out.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(killDelay)
	must(t, cmd.Process.Signal(syscall.SIGKILL))
	err := <-exited
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("%s (%s): the runner was not killed (it finished first: %v):\n%s", label, point, err, out.String())
	}
}

// randomChanges returns statements changing the customers table: some emails updated, some
// rows deleted, some inserted, some scores moved out of (and back into) the segment. It returns
// the next free id.
func randomChanges(rng *rand.Rand, it, nextID int) ([]string, int) {
	var qs []string
	pick := func(n int) string {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = strconv.Itoa(1 + rng.IntN(nextID-1))
		}
		return strings.Join(ids, ", ")
	}
	qs = append(qs, fmt.Sprintf("UPDATE src.customers SET email = 'i%d-' || email WHERE id IN (%s)", it, pick(5+rng.IntN(20))))
	qs = append(qs, fmt.Sprintf("DELETE FROM src.customers WHERE id IN (%s)", pick(1+rng.IntN(7))))
	qs = append(qs, fmt.Sprintf("UPDATE src.customers SET score = 10 WHERE id IN (%s)", pick(1+rng.IntN(7))))
	qs = append(qs, fmt.Sprintf("UPDATE src.customers SET score = 50 + %d WHERE score < 50 AND id IN (%s)", rng.IntN(50), pick(10)))
	if n := rng.IntN(12); n > 0 {
		qs = append(qs, fmt.Sprintf("INSERT INTO src.customers SELECT i, 'n' || i || '@x', 50 + i %% 50 FROM range(%d, %d) t(i)", nextID, nextID+n))
		nextID += n
	}
	return qs, nextID
}

// syncBuffer is a bytes.Buffer safe for the subprocess's output copier and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
