package cli_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"dinmo/catalog"
	"dinmo/connectors/destination"
	"dinmo/connectors/destination/webhook"
	"dinmo/connectors/warehouse"
	"dinmo/runner"
	"dinmo/secrets"
)

// TestKilledIncrementalRunSendsEachEventOnce kills incremental runs of an events activation
// (in a subprocess, as TestKilledAtRandomPointsLosesNothing does) among their batches and
// inside their fold, with new and late events between runs, and checks after each catch-up
// run that every event within the lookback was delivered, and that no event was delivered
// twice except those of the batch in flight at a kill.
func TestKilledIncrementalRunSendsEachEventOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("kills subprocesses; several seconds")
	}
	const (
		iterations = 6
		batchSize  = cliBatchSize
		eventsRef  = "shop/events_to_hook"
	)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(envKillSeed); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		must(t, err)
		seed = s
	}
	t.Logf("seed %d (replay with %s=%d)", seed, envKillSeed, seed)
	rng := rand.New(rand.NewPCG(seed, 7)) //nolint:gosec // test randomness, not security

	f := newCLIFixture(t, 10, 30*time.Millisecond)
	sealer, err := secrets.NewSealer(secretKey)
	must(t, err)
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	eventSQL := func(id, minutes int) string {
		return fmt.Sprintf("INSERT INTO src.events VALUES (%d, TIMESTAMP '%s', 'e%d')", id,
			base.Add(time.Duration(minutes)*time.Minute).Format("2006-01-02 15:04:05"), id)
	}
	f.withWarehouse(func(w warehouse.Warehouse) {
		f.exec(w, "CREATE TABLE src.events (id INTEGER, ts TIMESTAMP, name VARCHAR)")
		f.exec(w, w.Dialect().CreateOrReplaceView(warehouse.SchemaSegments, "model_events", "SELECT * FROM src.events"))
	})
	seg, err := f.store.GetSegment(f.ctx, f.act.SegmentID)
	must(t, err)
	customers, err := f.store.GetModel(f.ctx, seg.ModelID)
	must(t, err)
	model := &catalog.Model{WorkspaceID: f.act.WorkspaceID, SourceID: customers.SourceID, Name: "events", Type: catalog.ModelEvents,
		Table: "src.events", PrimaryKey: "id", ViewName: "model_events", TimestampColumn: "ts"}
	must(t, f.store.CreateModel(f.ctx, model))
	act := &catalog.Activation{WorkspaceID: f.act.WorkspaceID, Name: "events_to_hook", ModelID: model.ID, DestinationID: f.act.DestinationID,
		Service: webhook.ServiceRecords, RunType: string(destination.RunIncremental), SyncMode: string(destination.ModeEvents),
		Lookback: time.Hour, Mappings: []catalog.Mapping{{Column: "name", Field: "name"}}, Enabled: true}
	must(t, f.store.CreateActivation(f.ctx, act))

	nextID, minute := 1, 0
	var want []string // every event within reach so far
	points := []killPoint{killMidBatches, killInFold}
	for it := 0; it < iterations; it++ {
		// 25-45 new events, and a late one (10 minutes old: within the lookback).
		var qs []string
		n := 25 + rng.IntN(21)
		for i := 0; i < n; i++ {
			minute++
			qs = append(qs, eventSQL(nextID, minute))
			want = append(want, fmt.Sprint(nextID))
			nextID++
		}
		if it > 0 {
			qs = append(qs, eventSQL(nextID, minute-10))
			want = append(want, fmt.Sprint(nextID))
			nextID++
			n++
		}
		f.withWarehouse(func(w warehouse.Warehouse) {
			for _, q := range qs {
				f.exec(w, q)
			}
		})
		before := len(f.fake.Accepted())
		point := points[it%len(points)]
		batches := (n + batchSize - 1) / batchSize
		killAfter := 1 + rng.IntN(batches-1)
		killDelay := time.Duration(rng.IntN(int(24 * time.Millisecond)))
		if point != killMidBatches {
			killAfter, killDelay = 0, 0
		}
		killRunner(t, f, eventsRef, point, before, killAfter, killDelay, fmt.Sprintf("iteration %d", it))

		var logs bytes.Buffer
		r, err := runner.New(runner.Options{Store: f.store, Sealer: sealer,
			Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		must(t, err)
		res, err := r.Run(f.ctx, act.ID, runner.RunOptions{})
		if err != nil {
			t.Fatalf("iteration %d (%s): catch-up run: %v\n%s", it, point, err, logs.String())
		}

		deliveries := map[string]int{}
		for _, e := range f.fake.Events() {
			deliveries[e.Key]++
		}
		for _, k := range want {
			if deliveries[k] == 0 {
				t.Fatalf("seed %d iteration %d (%s): event %s was never delivered", seed, it, point, k)
			}
		}
		twiceNow := 0
		for _, req := range f.fake.Accepted()[before:] {
			for _, rec := range req.Payload.Records {
				if deliveries[rec.Key] > 1 {
					twiceNow++
				}
			}
		}
		inFlight := 0
		if point == killMidBatches {
			inFlight = batchSize
		}
		// Records of this iteration delivered twice appear twice among its requests.
		if twiceNow/2 > inFlight {
			t.Errorf("seed %d iteration %d (%s): %d events delivered twice, want at most %d", seed, it, point, twiceNow/2, inFlight)
		}
		if len(deliveries) != len(want) {
			t.Fatalf("seed %d iteration %d (%s): %d distinct events delivered, want %d", seed, it, point, len(deliveries), len(want))
		}
		t.Logf("iteration %d: killed %s; %d new events; catch-up recovered %d, sent %d; %d re-delivered",
			it, point, n, res.Recovered, res.Sent, twiceNow/2)
	}
	if v := f.fake.Violations(); len(v) > 0 {
		t.Fatalf("contract violations: %v", v)
	}
}
