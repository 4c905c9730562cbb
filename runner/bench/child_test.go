package bench

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dinmo/catalog"
	"dinmo/connectors"
	"dinmo/connectors/destination"
	"dinmo/connectors/destination/webhook"
	"dinmo/connectors/registry"
	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/deltasql"
	"dinmo/runner"
	"dinmo/secrets"
)

// Child job modes.
const (
	modeRun      = "run"      // one run of the real runner
	modePipeline = "pipeline" // the SQL of one strategy, without a destination
	modeScan     = "scan"     // plain scans of the segment query
)

// Fold variants of a pipeline.
const (
	foldPatch = "patch" // deltasql's Fold: delete and insert the acknowledged keys
	foldCTAS  = "ctas"  // rewrite the whole snapshot with CREATE TABLE AS, then swap names
	foldSwap  = "swap"  // the rewrite strategies' stage table becomes the snapshot
)

// job is one measurement made in a child process (a re-execution of this test binary), so
// that its memory is its own and, on DuckDB, it opens the database file like a runner does.
type job struct {
	Mode       string `json:"mode"`
	Warehouse  whSpec `json:"warehouse"`
	Catalog    string `json:"catalog,omitempty"`
	Activation string `json:"activation"`
	Strategy   string `json:"strategy,omitempty"`
	Fold       string `json:"fold,omitempty"`
	Batch      int    `json:"batch,omitempty"`
	Reps       int    `json:"reps,omitempty"`
	Out        string `json:"out"`
	// AllowFail makes a failed job a result with Error set rather than a failed benchmark (a
	// candidate strategy may run out of memory under the connector's memory_limit).
	AllowFail bool `json:"-"`
}

// result is what a child reports.
type result struct {
	Error       string `json:"error,omitempty"`
	VmHWMKiB    int64  `json:"vm_hwm_kib"`
	GoPeakBytes uint64 `json:"go_peak_bytes"`

	Run *runResult `json:"run,omitempty"`

	Steps    []step        `json:"steps,omitempty"`
	Total    time.Duration `json:"total,omitempty"`
	DiffRows int64         `json:"diff_rows,omitempty"`

	ScanCount []time.Duration `json:"scan_count,omitempty"`
	ScanAll   []time.Duration `json:"scan_all,omitempty"`
}

type runResult struct {
	Status      string                   `json:"status"`
	Error       string                   `json:"error,omitempty"`
	Full        bool                     `json:"full"`
	Evaluated   int64                    `json:"evaluated"`
	Added       int64                    `json:"added"`
	Changed     int64                    `json:"changed"`
	Removed     int64                    `json:"removed"`
	Sent        int64                    `json:"sent"`
	Acked       int64                    `json:"acked"`
	Rejected    int64                    `json:"rejected"`
	Requests    int64                    `json:"requests"`
	Duration    time.Duration            `json:"duration"`
	DestTime    time.Duration            `json:"dest_time"`
	CatalogTime time.Duration            `json:"catalog_time"`
	Phases      map[string]time.Duration `json:"phases"`
	// PhasePeakKiB is the peak RSS within each phase (from its start to the next phase's; the
	// last one, "done", includes closing the warehouse), and PeakKiB the highest of them.
	PhasePeakKiB map[string]int64 `json:"phase_peak_kib"`
	PeakKiB      int64            `json:"peak_kib"`
}

type step struct {
	Name string        `json:"name"`
	Dur  time.Duration `json:"dur"`
}

// warehouseTime is the run's time outside the destination and the catalog: the SQL, and the
// runner's handling of the streamed rows.
func (r *runResult) warehouseTime() time.Duration { return r.Duration - r.DestTime - r.CatalogTime }

// sendPhase is the time from the first batch's start to the fold's.
func (r *runResult) sendPhase() time.Duration {
	return r.Phases[runner.PhaseCommitting] - r.Phases[runner.PhaseSending]
}

var childSeq atomic.Int64

// runChild runs a job in a child process and returns its result; a failed job fails tb.
func runChild(tb testing.TB, ctx context.Context, dir string, j job) result {
	tb.Helper()
	n := childSeq.Add(1)
	j.Out = filepath.Join(dir, fmt.Sprintf("result-%d.json", n))
	path := filepath.Join(dir, fmt.Sprintf("job-%d.json", n))
	b, err := json.Marshal(j)
	must(tb, err)
	must(tb, os.WriteFile(path, b, 0o600))
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$", "-test.bench=^$") //nolint:gosec // G204: this test binary
	cmd.Env = append(os.Environ(), envChild+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	runErr := cmd.Run()
	var res result
	raw, err := os.ReadFile(j.Out)
	if err == nil {
		err = json.Unmarshal(raw, &res)
	}
	switch {
	case err != nil:
		tb.Fatalf("child %s job: no result (%v, exit %v)\n%s", j.Mode, err, runErr, stderr.String())
	case res.Error != "" && !j.AllowFail:
		tb.Fatalf("child %s job failed: %s\n%s", j.Mode, res.Error, stderr.String())
	}
	return res
}

// childMain runs the job of path and writes its result; it returns the process exit code.
func childMain(path string) int {
	raw, err := os.ReadFile(path) //nolint:gosec // G304: the job file the parent wrote
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		return 2
	}
	var j job
	if err := json.Unmarshal(raw, &j); err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Minute)
	defer cancel()
	mem := startMemSampler()
	var res result
	switch j.Mode {
	case modeRun:
		res.Run, err = childRun(ctx, j)
	case modePipeline:
		res.Steps, res.DiffRows, err = childPipeline(ctx, j)
		for _, s := range res.Steps {
			res.Total += s.Dur
		}
	case modeScan:
		res.ScanCount, res.ScanAll, err = childScan(ctx, j)
	default:
		err = fmt.Errorf("unknown mode %q", j.Mode)
	}
	if err != nil {
		res.Error = err.Error()
	}
	res.GoPeakBytes = mem.stop()
	res.VmHWMKiB = vmHWM()
	if res.Run != nil {
		// A run job resets the kernel's peak at each phase: its peak is the highest phase's.
		res.VmHWMKiB = max(res.VmHWMKiB, res.Run.PeakKiB)
	}
	out, _ := json.Marshal(res)
	if err := os.WriteFile(j.Out, out, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		return 2
	}
	return 0
}

// memSampler tracks the peak of the memory the Go runtime maps (heap, stacks, metadata).
type memSampler struct {
	peak atomic.Uint64
	done chan struct{}
	wg   sync.WaitGroup
}

func startMemSampler() *memSampler {
	m := &memSampler{done: make(chan struct{})}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			m.sample()
			select {
			case <-m.done:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *memSampler) sample() {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(s)
	if v := s[0].Value.Uint64(); v > m.peak.Load() {
		m.peak.Store(v)
	}
}

func (m *memSampler) stop() uint64 {
	close(m.done)
	m.wg.Wait()
	m.sample()
	return m.peak.Load()
}

// resetHWM resets the process's peak resident set size to its current size (Linux: writing 5
// to /proc/self/clear_refs; a no-op elsewhere), so that vmHWM then measures from now on.
func resetHWM() {
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// vmHWM returns the process's peak resident set size in KiB (Linux; 0 elsewhere).
func vmHWM() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// childRun runs the activation once with the real runner.
func childRun(ctx context.Context, j job) (*runResult, error) {
	var tm timing
	reg, err := registry.New(registry.Warehouses(), []destination.Platform{
		timedPlatform{Platform: countingPlatform{}, t: &tm},
		timedPlatform{Platform: webhook.New(), t: &tm},
	})
	if err != nil {
		return nil, err
	}
	store, err := catalog.Open(catalog.WithActor(ctx, "bench"), j.Catalog)
	if err != nil {
		return nil, err
	}
	defer func() { _ = store.Close() }()
	sealer, err := secrets.NewSealer(sealerKey)
	if err != nil {
		return nil, err
	}
	r, err := runner.New(runner.Options{
		Store: timedStore{Store: store, t: &tm}, Registry: reg, Sealer: sealer,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return nil, err
	}
	phases := map[string]time.Duration{}
	peaks := map[string]int64{}
	phase := "before"
	endPhase := func(next string) {
		// The kernel's peak (VmHWM) is reset at each phase, so it measures that phase alone.
		peaks[phase] = max(peaks[phase], vmHWM())
		resetHWM()
		phase = next
	}
	start := time.Now()
	res, err := r.Run(ctx, j.Activation, runner.RunOptions{Progress: func(p runner.Progress) {
		if _, seen := phases[p.Phase]; !seen {
			phases[p.Phase] = time.Since(start)
			endPhase(p.Phase)
		}
	}})
	wall := time.Since(start)
	endPhase("")
	var peak int64
	for _, kib := range peaks {
		peak = max(peak, kib)
	}
	if res == nil {
		return nil, fmt.Errorf("run: %w", err)
	}
	out := &runResult{
		Status: res.Run.Status, Full: res.Full, Evaluated: res.Run.RowsEvaluated, Added: res.Run.Added,
		Changed: res.Run.Changed, Removed: res.Run.Removed, Sent: res.Sent, Acked: res.Run.Acknowledged,
		Rejected: res.Run.Rejected, Requests: res.Run.Requests, Duration: wall,
		DestTime: time.Duration(tm.dest.Load()), CatalogTime: time.Duration(tm.catalog.Load()), Phases: phases,
		PhasePeakKiB: peaks, PeakKiB: peak,
	}
	if err != nil {
		out.Error = err.Error()
	}
	return out, nil
}

// childPipeline runs one strategy's SQL as a run does: evaluate, diff, stream the delta in
// batches with a checkpoint per batch (every record acknowledged), fold.
func childPipeline(ctx context.Context, j job) ([]step, int64, error) {
	w, err := j.Warehouse.open(ctx)
	if err != nil {
		return nil, 0, err
	}
	strategy, err := deltasql.ParseStrategy(j.Strategy)
	if err != nil {
		_ = w.Close()
		return nil, 0, err
	}
	steps, diffRows, err := pipeline(ctx, w, strategy, j.Fold, j.Activation, j.Batch)
	if err != nil {
		return nil, 0, err
	}
	// A run closes its warehouse too; DuckDB then checkpoints the run's writes into the file.
	start := time.Now()
	if err := w.Close(); err != nil {
		return nil, 0, err
	}
	return append(steps, step{Name: "close", Dur: time.Since(start)}), diffRows, nil
}

func pipeline(ctx context.Context, w warehouse.Warehouse, strategy deltasql.Strategy, foldKind, activationID string, batch int) ([]step, int64, error) {
	d, db := w.Dialect(), w.DB()
	b, err := deltasql.NewWithStrategy(d, activationID, strategy)
	if err != nil {
		return nil, 0, err
	}
	src := source()
	names := deltasql.FieldNames(src.Fields)
	t := b.Tables()
	var steps []step
	t0 := time.Now()
	mark := func(name string) {
		now := time.Now()
		steps = append(steps, step{Name: name, Dur: now.Sub(t0)})
		t0 = now
	}
	exists := func(table string) (bool, error) { return w.RelationExists(ctx, b.Schema(), table) }

	// What a run checks first: an interrupted run's tables, the snapshot.
	for _, tbl := range []string{t.Run, t.Ack, t.Snapshot} {
		if _, err := exists(tbl); err != nil {
			return nil, 0, err
		}
	}
	ev, err := b.Evaluate(src, false)
	if err != nil {
		return nil, 0, err
	}
	if err := execAll(ctx, w, ev.Stage()...); err != nil {
		return nil, 0, err
	}
	if len(ev.Stage()) > 0 {
		mark("stage")
	}
	var total, keyed, distinct int64
	if err := db.QueryRowContext(ctx, ev.KeyStats()).Scan(&total, &keyed, &distinct); err != nil {
		return nil, 0, fmt.Errorf("key stats: %w", err)
	}
	if distinct != total {
		return nil, 0, fmt.Errorf("key stats: %d rows, %d distinct keys: the generated data has duplicates", total, distinct)
	}
	mark("key check")
	if _, err := w.QueryColumns(ctx, ev.Probe()); err != nil {
		return nil, 0, err
	}
	if _, err := exists(t.Snapshot); err != nil {
		return nil, 0, err
	}
	if _, err := w.QueryColumns(ctx, b.ProbeSnapshot()); err != nil {
		return nil, 0, err
	}
	create := ev.CreateRun(false)
	if foldKind == foldSwap {
		if strategy == deltasql.StrategyChanges {
			return nil, 0, fmt.Errorf("fold %s needs a rewrite strategy's stage table", foldSwap)
		}
		create = create[:len(create)-1] // keep the stage table: it becomes the snapshot
	}
	if err := execAll(ctx, w, create...); err != nil {
		return nil, 0, err
	}
	mark("diff")
	if err := execAll(ctx, w, b.DropAck(), b.CreateAck()); err != nil {
		return nil, 0, err
	}
	if ok, err := exists(t.Rejected); err != nil {
		return nil, 0, err
	} else if !ok {
		if err := execAll(ctx, w, b.CreateRejected()); err != nil {
			return nil, 0, err
		}
	}
	var counts [4]int64
	if err := db.QueryRowContext(ctx, b.DiffCounts()).Scan(&counts[0], &counts[1], &counts[2], &counts[3]); err != nil {
		return nil, 0, fmt.Errorf("diff counts: %w", err)
	}
	mark("count")

	var ackTime time.Duration
	ack := func(keys []string) error {
		start := time.Now()
		defer func() { ackTime += time.Since(start) }()
		for len(keys) > 0 {
			n := min(len(keys), deltasql.AckChunk)
			q, args := b.InsertAcks(keys[:n])
			if _, err := db.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("checkpoint: %w", err)
			}
			keys = keys[n:]
		}
		return nil
	}
	keys := make([]string, 0, batch)
	var diffRows int64
	err = b.ReadDiff(ctx, db, names, false, func(_ []*sql.ColumnType, vals []any) error {
		diffRows++
		keys = append(keys, fmt.Sprint(vals[1]))
		if len(keys) == batch {
			if err := ack(keys); err != nil {
				return err
			}
			keys = keys[:0]
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	if err := ack(keys); err != nil {
		return nil, 0, err
	}
	if want := counts[0] + counts[1] + counts[2]; diffRows != want {
		return nil, 0, fmt.Errorf("diff streamed %d rows, DiffCounts says %d", diffRows, want)
	}
	steps = append(steps, step{Name: "stream", Dur: time.Since(t0) - ackTime}, step{Name: "checkpoint", Dur: ackTime})
	t0 = time.Now()

	var qs []string
	switch foldKind {
	case foldPatch, "":
		if _, err := b.Prune(ctx, db, deltasql.FoldChunkRows); err != nil {
			return nil, 0, fmt.Errorf("fold: prune: %w", err)
		}
		qs = b.Fold(names)
	case foldCTAS:
		qs = ctasFold(b, d, names)
	case foldSwap:
		qs = swapFold(b, d)
	default:
		return nil, 0, fmt.Errorf("unknown fold %q", foldKind)
	}
	if err := fold(ctx, w, qs); err != nil {
		return nil, 0, fmt.Errorf("fold: %w", err)
	}
	mark("fold")
	return steps, diffRows, nil
}

// ctasFold rewrites the whole snapshot: a new table of the unacknowledged snapshot rows and
// the acknowledged run rows, then renamed over the old one (with its index on PostgreSQL).
func ctasFold(b *deltasql.Builder, d warehouse.Dialect, names []string) []string {
	t := b.Tables()
	k := d.QuoteIdent(deltasql.KeyColumn)
	cols := k + ", " + d.QuoteIdent(deltasql.HashColumn)
	for _, n := range names {
		cols += ", " + d.QuoteIdent(n)
	}
	acked := "(SELECT " + k + " FROM " + d.Qualified(b.Schema(), t.Ack) + ")"
	next := t.Snapshot + "_next"
	qs := []string{
		d.DropTable(b.Schema(), next),
		d.CreateTableAs(b.Schema(), next, "SELECT "+cols+" FROM "+d.Qualified(b.Schema(), t.Snapshot)+" WHERE "+k+" NOT IN "+acked+
			" UNION ALL SELECT "+cols+" FROM "+d.Qualified(b.Schema(), t.Run)+" WHERE "+d.QuoteIdent(deltasql.HashColumn)+" IS NOT NULL AND "+k+" IN "+acked),
		b.DropSnapshot(),
		"ALTER TABLE " + d.Qualified(b.Schema(), next) + " RENAME TO " + d.QuoteIdent(t.Snapshot),
	}
	if ix, ok := b.IndexSnapshot(); ok {
		qs = append(qs, ix)
	}
	return append(qs, b.DropAck(), b.DropRun())
}

// swapFold makes the stage table (the whole evaluated segment) the snapshot. It is right only
// when every change was acknowledged (the benchmark's case); a real run would first put back
// the old state of the keys that were not. On PostgreSQL the stage table is UNLOGGED, so it is
// made LOGGED (a rewrite) like a snapshot must be, and indexed.
func swapFold(b *deltasql.Builder, d warehouse.Dialect) []string {
	t := b.Tables()
	qs := []string{b.DropSnapshot(), "ALTER TABLE " + d.Qualified(b.Schema(), t.Stage) + " RENAME TO " + d.QuoteIdent(t.Snapshot)}
	if ix, ok := b.IndexSnapshot(); ok {
		qs = append(qs, "ALTER TABLE "+d.Qualified(b.Schema(), t.Snapshot)+" SET LOGGED", ix)
	}
	return append(qs, b.DropAck(), b.DropRun())
}

// childScan times plain scans of the segment query: COUNT(*), and an aggregate reading the key
// and every mapped column.
func childScan(ctx context.Context, j job) (count, all []time.Duration, err error) {
	w, err := j.Warehouse.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = w.Close() }()
	d := w.Dialect()
	view := d.Qualified(warehouse.SchemaSegments, segView)
	agg := "SELECT COUNT(*), MAX(" + d.QuoteIdent(primaryKey) + ")"
	for _, c := range mapped {
		if c == "vip" { // boolean: PostgreSQL has no MAX(boolean)
			agg += ", MAX(CASE WHEN " + d.QuoteIdent(c) + " THEN 1 ELSE 0 END)"
			continue
		}
		agg += ", MAX(" + d.QuoteIdent(c) + ")"
	}
	agg += " FROM " + view
	for i := 0; i < max(1, j.Reps); i++ {
		for _, q := range []struct {
			sql string
			dst *[]time.Duration
		}{{"SELECT COUNT(*) FROM " + view, &count}, {agg, &all}} {
			start := time.Now()
			if err := drain(ctx, w.DB(), q.sql); err != nil {
				return nil, nil, err
			}
			*q.dst = append(*q.dst, time.Since(start))
		}
	}
	return count, all, nil
}

// timing accumulates the time a run spends in the destination and in the catalog.
type timing struct {
	dest, catalog atomic.Int64
}

func (t *timing) since(counter *atomic.Int64, start time.Time) { counter.Add(int64(time.Since(start))) }

// Names of the counting platform.
const (
	countPlatform = "bench_count"
	countService  = "records"
)

// countingPlatform is an in-process destination that acknowledges every record at once, so a
// run's time is the runner's and the warehouse's.
type countingPlatform struct{}

func (countingPlatform) Spec() destination.PlatformSpec {
	return destination.PlatformSpec{
		Platform: countPlatform, DisplayName: "Benchmark counter", Description: "Acknowledges every record.",
		Settings: []connectors.ConfigField{{Name: destination.SettingBatchSize, Type: connectors.FieldInt,
			Default: int64(defaultBatch), Min: 1, Max: 10000, Description: "Records per call."}},
		Services: []destination.ServiceSpec{{
			Name: countService, Description: "Counts records.", Family: destination.FamilyObjects,
			RunTypes: []destination.RunType{destination.RunFull, destination.RunDelta},
			SyncModes: []destination.SyncMode{destination.ModeInsert, destination.ModeUpdate, destination.ModeUpsert,
				destination.ModeMirror, destination.ModeList},
			AllowCustomFields: true, CreatesUnknownRecords: true, MaxBatchSize: 10000, DefaultBatchSize: defaultBatch,
		}},
	}
}

func (countingPlatform) Check(context.Context, destination.OpenParams) error { return nil }

func (countingPlatform) Open(context.Context, destination.OpenParams) (destination.Destination, error) {
	return &countingDest{}, nil
}

type countingDest struct {
	requests, records int64
}

func (d *countingDest) Apply(_ context.Context, b destination.Batch) ([]destination.Outcome, error) {
	d.requests++
	d.records += int64(len(b.Records))
	out := make([]destination.Outcome, len(b.Records))
	for i := range out {
		out[i].Status = destination.Acknowledged
	}
	return out, nil
}

func (d *countingDest) Close(context.Context) error { return nil }

// Requests counts Apply calls (the runner reads it as the requests sent).
func (d *countingDest) Requests() int64 { return d.requests }

// timedPlatform measures the time its destinations spend in Apply and Close.
type timedPlatform struct {
	destination.Platform
	t *timing
}

func (p timedPlatform) Open(ctx context.Context, params destination.OpenParams) (destination.Destination, error) {
	start := time.Now()
	defer p.t.since(&p.t.dest, start)
	d, err := p.Platform.Open(ctx, params)
	if err != nil {
		return nil, err
	}
	return &timedDest{d: d, t: p.t}, nil
}

type timedDest struct {
	d destination.Destination
	t *timing
}

func (d *timedDest) Apply(ctx context.Context, b destination.Batch) ([]destination.Outcome, error) {
	start := time.Now()
	defer d.t.since(&d.t.dest, start)
	return d.d.Apply(ctx, b)
}

func (d *timedDest) Close(ctx context.Context) error {
	start := time.Now()
	defer d.t.since(&d.t.dest, start)
	return d.d.Close(ctx)
}

// Requests passes the wrapped destination's request count through.
func (d *timedDest) Requests() int64 {
	if rc, ok := d.d.(interface{ Requests() int64 }); ok {
		return rc.Requests()
	}
	return 0
}

// timedStore measures the time a run spends in the catalog (the calls a run makes).
type timedStore struct {
	catalog.Store
	t *timing
}

func (s timedStore) start() func() {
	start := time.Now()
	return func() { s.t.since(&s.t.catalog, start) }
}

func (s timedStore) GetActivation(ctx context.Context, id string) (*catalog.Activation, error) {
	defer s.start()()
	return s.Store.GetActivation(ctx, id)
}

func (s timedStore) GetWorkspace(ctx context.Context, id string) (*catalog.Workspace, error) {
	defer s.start()()
	return s.Store.GetWorkspace(ctx, id)
}

func (s timedStore) GetSegment(ctx context.Context, id string) (*catalog.Segment, error) {
	defer s.start()()
	return s.Store.GetSegment(ctx, id)
}

func (s timedStore) GetModel(ctx context.Context, id string) (*catalog.Model, error) {
	defer s.start()()
	return s.Store.GetModel(ctx, id)
}

func (s timedStore) GetSource(ctx context.Context, id string) (*catalog.Source, error) {
	defer s.start()()
	return s.Store.GetSource(ctx, id)
}

func (s timedStore) GetDestination(ctx context.Context, id string) (*catalog.Destination, error) {
	defer s.start()()
	return s.Store.GetDestination(ctx, id)
}

func (s timedStore) MarkInterruptedRuns(ctx context.Context, id string) (int, error) {
	defer s.start()()
	return s.Store.MarkInterruptedRuns(ctx, id)
}

func (s timedStore) CreateRun(ctx context.Context, r *catalog.Run) error {
	defer s.start()()
	return s.Store.CreateRun(ctx, r)
}

func (s timedStore) FinishRun(ctx context.Context, r *catalog.Run) error {
	defer s.start()()
	return s.Store.FinishRun(ctx, r)
}

func (s timedStore) UpdateRunProgress(ctx context.Context, r *catalog.Run) error {
	defer s.start()()
	return s.Store.UpdateRunProgress(ctx, r)
}

func (s timedStore) AcquireLease(ctx context.Context, id, owner string, ttl time.Duration) (bool, error) {
	defer s.start()()
	return s.Store.AcquireLease(ctx, id, owner, ttl)
}

func (s timedStore) ReleaseLease(ctx context.Context, id, owner string) error {
	defer s.start()()
	return s.Store.ReleaseLease(ctx, id, owner)
}

func (s timedStore) SetActivationSchedule(ctx context.Context, id string, next *time.Time, full bool) error {
	defer s.start()()
	return s.Store.SetActivationSchedule(ctx, id, next, full)
}

// drain runs a query and reads every row of its result.
func drain(ctx context.Context, db *sql.DB, query string) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
	}
	return rows.Err()
}
