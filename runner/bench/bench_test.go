package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"dinmo/catalog"
	"dinmo/connectors/destination"
	"dinmo/connectors/destination/webhook"
	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/deltasql"
	"dinmo/connectors/warehouse/duckdb"
	"dinmo/runner"
)

// pipelineSpec is one candidate way of running a delta: a deltasql strategy and a fold.
type pipelineSpec struct {
	name     string
	strategy deltasql.Strategy
	fold     string
	what     string
}

// pipelines are the candidates timed on the same data.
var pipelines = []pipelineSpec{
	{"changes", deltasql.StrategyChanges, foldPatch,
		"keep the snapshot; full outer join of the segment query with it; write only the changed keys; patch the snapshot"},
	{"rewrite_join", deltasql.StrategyRewriteJoin, foldPatch,
		"write the whole evaluated segment; full outer join on the key; patch the snapshot"},
	{"rewrite_antijoin", deltasql.StrategyRewriteAntiJoin, foldPatch,
		"write the whole evaluated segment; NOT EXISTS anti-joins (added, removed) and an inner join on key with hash <> (changed); patch the snapshot"},
	{"rewrite_except", deltasql.StrategyRewriteExcept, foldPatch,
		"write the whole evaluated segment; (key, hash) EXCEPT both ways, joined back for fields; patch the snapshot"},
	{"changes+snapshot_ctas", deltasql.StrategyChanges, foldCTAS,
		"as changes, but the fold rewrites the whole snapshot with CREATE TABLE AS and renames it"},
	{"rewrite_join+snapshot_swap", deltasql.StrategyRewriteJoin, foldSwap,
		"rewrite the whole snapshot: as rewrite_join, and the evaluated segment becomes the new snapshot (rename; PostgreSQL: SET LOGGED and index)"},
}

// pipeResult is the timing of one pipeline at one engine and size.
type pipeResult struct {
	spec   pipelineSpec
	best   result // the fastest repetition
	totals []time.Duration
	failed string // the error of a repetition that failed (out of memory under memory_limit)
}

// deltaReport is everything measured for one engine and size.
type deltaReport struct {
	engine      warehouse.Engine
	rows        int
	batch       int
	generate    time.Duration
	seed        time.Duration // SQL-only full run, when no real one was made
	full        *result       // the real full run, when made
	scanCount   time.Duration // best plain COUNT(*) of the segment query
	scanAll     time.Duration // best plain scan reading every mapped column
	pipes       []pipeResult
	delta       result          // the fastest of the runner's delta runs
	deltaTotals []time.Duration // every delta run's wall time
	peakRSS     int64           // the highest VmHWM of the delta runs, KiB
	peakGo      uint64          // the highest Go memory of the delta runs
	pgActive    time.Duration   // PostgreSQL's own count of time executing the fastest delta run's statements
	settings    string          // the warehouse settings that bound memory (DuckDB), as the report shows them
	alt         *result         // DuckDB: a delta run with the source's memory_limit set to DINMO_BENCH_DUCKDB_MEMORY_LIMIT
	notes       []string
	violations  []string
}

// bestPipe returns the fastest pipeline that completed every repetition.
func (r *deltaReport) bestPipe() *pipeResult {
	var best *pipeResult
	for i := range r.pipes {
		if r.pipes[i].failed != "" || len(r.pipes[i].totals) == 0 {
			continue
		}
		if best == nil || r.pipes[i].best.Total < best.best.Total {
			best = &r.pipes[i]
		}
	}
	return best
}

func (r *deltaReport) minRequests() int64 {
	n := r.delta.Run.Sent
	return (n + int64(r.batch) - 1) / int64(r.batch)
}

var (
	reportMu sync.Mutex
	reports  []*deltaReport
	rates    []*rateReport
)

// BenchmarkDelta measures delta runs per engine and size (see doc.go). The benchmark's own
// time (ns/op) is the runner's fastest delta run, child process start included; the other
// figures are reported as metrics and in the Markdown report printed at the end.
func BenchmarkDelta(b *testing.B) {
	cfg, err := loadConfig()
	must(b, err)
	for _, e := range cfg.engines {
		for _, n := range cfg.sizes {
			b.Run(fmt.Sprintf("%s/%s", e, rowsLabel(n)), func(b *testing.B) {
				b.StopTimer()
				r := measureDelta(b, b, cfg, e, n)
				reportMu.Lock()
				reports = append(reports, r)
				reportMu.Unlock()
				run := r.delta.Run
				// ns/op is the fastest delta run (the timer ran during every repetition).
				b.ReportMetric(float64(run.Duration.Nanoseconds()), "ns/op")
				b.ReportMetric(run.Duration.Seconds(), "delta-s")
				b.ReportMetric(run.warehouseTime().Seconds(), "warehouse-s")
				b.ReportMetric(float64(run.Sent), "rows-sent")
				b.ReportMetric(float64(run.Requests), "requests")
				b.ReportMetric(float64(r.minRequests()), "min-requests")
				b.ReportMetric(float64(r.peakRSS)/1024, "peak-RSS-MiB")
				b.ReportMetric(r.scanAll.Seconds(), "scan-s")
				b.ReportMetric(run.Duration.Seconds()/r.scanAll.Seconds(), "delta/scan")
				if best := r.bestPipe(); best != nil {
					b.ReportMetric(run.Duration.Seconds()/best.best.Total.Seconds(), "delta/best")
				}
			})
		}
	}
	printReport(b, cfg)
}

// measureDelta runs the whole scenario of one engine and size. When bt is set, its timer runs
// only during the runner's delta run.
func measureDelta(b testing.TB, bt *testing.B, cfg config, engine warehouse.Engine, rows int) *deltaReport {
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Minute)
	defer cancel()
	s := newScenario(b, ctx, cfg, engine, rows)
	r := &deltaReport{engine: engine, rows: rows, batch: cfg.batch, notes: s.notes, settings: s.memorySettings()}
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "bench %s %s: %s\n", engine, rowsLabel(rows), fmt.Sprintf(format, args...))
	}

	r.generate = s.generate()
	logf("generated in %s", r.generate.Round(time.Millisecond))
	act := s.declare(countPlatform, map[string]any{destination.SettingBatchSize: int64(cfg.batch)})
	if rows <= cfg.fullRunMax {
		full := runChild(b, ctx, s.dir, job{Mode: modeRun, Warehouse: s.wh, Catalog: s.catalogURL, Activation: act.ID})
		r.full = &full
		if !full.Run.Full || full.Run.Sent != int64(rows) || full.Run.Status == catalog.RunFailed {
			b.Fatalf("full run: %+v", full.Run)
		}
		logf("full run in %s", full.Run.Duration.Round(time.Millisecond))
	} else {
		r.seed = s.seed(act.ID)
		logf("snapshot seeded in %s", r.seed.Round(time.Millisecond))
	}
	s.change()

	scan := runChild(b, ctx, s.dir, job{Mode: modeScan, Warehouse: s.wh, Reps: 3})
	r.scanCount, r.scanAll = minDur(scan.ScanCount), minDur(scan.ScanAll)
	logf("scan %s (all columns %s)", r.scanCount.Round(time.Millisecond), r.scanAll.Round(time.Millisecond))

	added, changed, removed := s.expected()
	wantDiff := added + changed + removed
	r.pipes = make([]pipeResult, 0, len(pipelines))
	var specs []pipelineSpec
	for _, p := range pipelines {
		if cfg.strategies == nil || cfg.strategies[p.name] {
			specs = append(specs, p)
			r.pipes = append(r.pipes, pipeResult{spec: p})
		}
	}
	// The runner's delta run is repeated like the pipelines: before each, the activation's
	// snapshot is restored from a copy of the state after the full run.
	const pristine = "bench_pristine"
	s.clone(act.ID, pristine)
	// Repetitions are interleaved, so slow phases of the machine spread over every candidate.
	for rep := 0; rep < cfg.repeats(engine, rows); rep++ {
		for i, p := range specs {
			id := fmt.Sprintf("bench_pipe%d", i)
			pr := &r.pipes[i]
			if pr.failed != "" {
				continue
			}
			s.clone(pristine, id)
			res := runChild(b, ctx, s.dir, job{Mode: modePipeline, Warehouse: s.wh, Activation: id,
				Strategy: p.strategy.String(), Fold: p.fold, Batch: cfg.batch, AllowFail: true})
			if res.Error != "" {
				// Reported, and left out of the comparison: the runner could not use it.
				pr.failed = res.Error
				logf("pipeline %s failed: %s", p.name, firstLine(res.Error))
				continue
			}
			if res.DiffRows != wantDiff {
				b.Fatalf("pipeline %s streamed %d rows, want %d", p.name, res.DiffRows, wantDiff)
			}
			if rep == 0 && rows <= 2_000_000 {
				s.verify(id)
			}
			pr.totals = append(pr.totals, res.Total)
			if len(pr.totals) == 1 || res.Total < pr.best.Total {
				pr.best = res
			}
			logf("pipeline %s: %s", p.name, res.Total.Round(time.Millisecond))
		}
		if rep > 0 || r.full != nil {
			// Start from the same physical snapshot as the pipelines (a full run builds it by
			// inserts into an indexed table; the copies are written at once and indexed after).
			s.clone(pristine, act.ID)
		}
		before := pgActiveTime(s)
		if bt != nil {
			bt.StartTimer()
		}
		res := runChild(b, ctx, s.dir, job{Mode: modeRun, Warehouse: s.wh, Catalog: s.catalogURL, Activation: act.ID})
		if bt != nil {
			bt.StopTimer()
		}
		run := res.Run
		logf("runner delta run: %s", run.Duration.Round(time.Millisecond))
		if run.Full || run.Status == catalog.RunFailed || run.Added != added || run.Changed != changed || run.Removed != removed ||
			run.Sent != wantDiff || run.Acked != wantDiff {
			b.Fatalf("delta run: %+v; want added %d changed %d removed %d, all sent and acknowledged", run, added, changed, removed)
		}
		r.deltaTotals = append(r.deltaTotals, run.Duration)
		r.peakRSS = max(r.peakRSS, res.VmHWMKiB)
		r.peakGo = max(r.peakGo, res.GoPeakBytes)
		if len(r.deltaTotals) == 1 || run.Duration < r.delta.Run.Duration {
			r.delta = res
			if after := pgActiveTime(s); before >= 0 && after >= before {
				r.pgActive = after - before
			}
		}
		if rep == 0 && rows <= 2_000_000 {
			s.verify(act.ID)
		}
	}
	if engine == warehouse.DuckDB && cfg.duckMemory != "" {
		// The same delta run with the source's memory_limit set to another value, as a user
		// would set it: what the connector's default limit costs or saves.
		s.clone(pristine, act.ID)
		restore := s.setSourceSetting(duckdb.SettingMemoryLimit, cfg.duckMemory)
		res := runChild(b, ctx, s.dir, job{Mode: modeRun, Warehouse: s.wh, Catalog: s.catalogURL, Activation: act.ID, AllowFail: true})
		restore()
		switch {
		case res.Error != "":
			b.Fatalf("delta run with memory_limit %s: %s", cfg.duckMemory, res.Error)
		case res.Run.Status != catalog.RunFailed && res.Run.Sent != wantDiff:
			b.Fatalf("delta run with memory_limit %s: %+v", cfg.duckMemory, res.Run)
		}
		r.alt = &res // a failed run (out of memory) is reported, not fatal
		logf("runner delta run with memory_limit %s: %s, peak RSS %d MiB", cfg.duckMemory,
			res.Run.Duration.Round(time.Millisecond), res.VmHWMKiB/1024)
	}
	for i := range specs {
		s.drop(fmt.Sprintf("bench_pipe%d", i))
	}
	s.drop(pristine)
	if run := r.delta.Run; run.Requests != r.minRequests() {
		r.violations = append(r.violations, fmt.Sprintf("requests %d, minimum %d", run.Requests, r.minRequests()))
	}
	return r
}

// phasePeaks lists a run's peak RSS per phase, in MiB.
func phasePeaks(pk map[string]int64) string {
	return fmt.Sprintf("before %s, starting %s, evaluating %s, diffing %s, sending %s, committing %s, done %s",
		mib(pk["before"]), mib(pk[runner.PhaseStarting]), mib(pk[runner.PhaseEvaluating]), mib(pk[runner.PhaseDiffing]),
		mib(pk[runner.PhaseSending]), mib(pk[runner.PhaseCommitting]), mib(pk[runner.PhaseDone]))
}

// pgActiveTime returns PostgreSQL's cumulative active_time of the scenario's database (-1 when
// not PostgreSQL or unreadable). The server counts it per session and publishes it when the
// session ends, so read it once the child's connections are closed.
func pgActiveTime(s *scenario) time.Duration {
	if s.engine != warehouse.Postgres {
		return -1
	}
	var ms float64 = -1
	s.withWH(func(w warehouse.Warehouse) error {
		time.Sleep(200 * time.Millisecond) // the child's sessions report at exit
		_, _ = w.DB().ExecContext(s.ctx, "SELECT pg_stat_clear_snapshot()")
		return w.DB().QueryRowContext(s.ctx, "SELECT COALESCE(active_time, -1) FROM pg_stat_database WHERE datname = current_database()").Scan(&ms)
	})
	if ms < 0 {
		return -1
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// rateReport is the throughput benchmark's outcome.
type rateReport struct {
	rows, batch, rate   int
	requests            int
	sendPhase           time.Duration
	steady              float64 // records per second between the first and the last request
	achieved            float64 // records per second over the send phase
	limit               float64 // rate × batch
	rss                 int64
	firstSeen, lastSeen time.Time
}

// BenchmarkThroughput sends DINMO_BENCH_RATE_ROWS records to a local webhook receiver
// through the webhook platform with requests_per_second = DINMO_BENCH_RATE, so the rate limit
// is the bottleneck, and reports the records per second achieved against rate × batch size.
func BenchmarkThroughput(b *testing.B) {
	cfg, err := loadConfig()
	must(b, err)
	b.StopTimer()
	r := measureThroughput(b, b, cfg)
	b.ReportMetric(r.achieved, "records/s")
	b.ReportMetric(r.limit, "limit-records/s")
	b.ReportMetric(100*r.achieved/r.limit, "%-of-limit")
	reportMu.Lock()
	rates = append(rates, r)
	reportMu.Unlock()
	printReport(b, cfg)
}

// measureThroughput runs the throughput scenario. When bt is set, its timer runs only during
// the run.
func measureThroughput(tb testing.TB, bt *testing.B, cfg config) *rateReport {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	s := newScenario(tb, ctx, cfg, warehouse.DuckDB, cfg.rateRows)
	s.generate()
	recv := newReceiver(cfg.rateBatch)
	defer recv.close()
	act := s.declare(webhook.Name, map[string]any{
		webhook.SettingURL: recv.url(), webhook.SettingBatchSize: int64(cfg.rateBatch),
		webhook.SettingRequestsPerSecond: int64(cfg.rate),
	})
	if bt != nil {
		bt.StartTimer()
	}
	res := runChild(tb, ctx, s.dir, job{Mode: modeRun, Warehouse: s.wh, Catalog: s.catalogURL, Activation: act.ID})
	if bt != nil {
		bt.StopTimer()
	}
	run := res.Run
	if run.Status == catalog.RunFailed || run.Sent != int64(cfg.rateRows) {
		tb.Fatalf("run: %+v", run)
	}
	r := recv.report()
	r.rows, r.batch, r.rate = cfg.rateRows, cfg.rateBatch, cfg.rate
	r.sendPhase = run.sendPhase()
	r.achieved = float64(run.Sent) / r.sendPhase.Seconds()
	r.limit = float64(cfg.rate * cfg.rateBatch)
	r.rss = res.VmHWMKiB
	if bad := recv.violation(); bad != "" {
		tb.Fatal(bad)
	}
	if want := (cfg.rateRows + cfg.rateBatch - 1) / cfg.rateBatch; r.requests != want {
		tb.Fatalf("the receiver got %d requests, want %d", r.requests, want)
	}
	return r
}

// receiver is a minimal webhook endpoint: it counts requests and records and acknowledges
// everything, keeping nothing else.
type receiver struct {
	srv     *httptest.Server
	batch   int
	mu      sync.Mutex
	times   []time.Time
	records int
	bad     string
}

func newReceiver(batch int) *receiver {
	r := &receiver{batch: batch}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		now := time.Now()
		body, err := io.ReadAll(req.Body)
		var p webhook.Payload
		if err == nil {
			err = json.Unmarshal(body, &p)
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		switch {
		case err != nil:
			r.bad = "receiver: " + err.Error()
		case len(p.Records) > r.batch:
			r.bad = fmt.Sprintf("receiver: a request carried %d records, batch size %d", len(p.Records), r.batch)
		}
		r.times = append(r.times, now)
		r.records += len(p.Records)
		w.WriteHeader(http.StatusOK)
	}))
	return r
}

func (r *receiver) url() string { return r.srv.URL + "/hook" }
func (r *receiver) close()      { r.srv.Close() }

func (r *receiver) violation() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bad
}

func (r *receiver) report() *rateReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := &rateReport{requests: len(r.times)}
	if n := len(r.times); n > 1 {
		out.firstSeen, out.lastSeen = r.times[0], r.times[n-1]
		// Between the first and the last request, n-1 intervals carried all but the last batch.
		out.steady = float64(r.records-r.records/n) / r.times[n-1].Sub(r.times[0]).Seconds()
	}
	return out
}

func minDur(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	m := ds[0]
	for _, d := range ds[1:] {
		m = min(m, d)
	}
	return m
}

func rowsLabel(n int) string {
	switch {
	case n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n%1_000 == 0:
		return fmt.Sprintf("%dk", n/1_000)
	}
	return fmt.Sprint(n)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f", d.Seconds()) }

// firstLine returns the first line of an error message (DuckDB's errors go on with advice).
func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

func mib(kib int64) string { return fmt.Sprintf("%.0f", float64(kib)/1024) }

// printReport prints the Markdown report of everything measured so far in this process, and
// writes it to DINMO_BENCH_OUT when set.
func printReport(tb testing.TB, cfg config) {
	reportMu.Lock()
	defer reportMu.Unlock()
	var sb strings.Builder
	host, _ := os.Hostname()
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(&sb, "\n## dinmo delta-sync benchmark\n\n%s, %s, %d CPUs (GOMAXPROCS %d), load average %s, %s/%s, %s\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), host, runtime.NumCPU(), runtime.GOMAXPROCS(0),
		strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "), runtime.GOOS, runtime.GOARCH, runtime.Version())
	if len(reports) > 0 {
		sb.WriteString("Customers table, 10 mapped columns; between the runs 1% of the rows inserted, 1% deleted, 1% updated. " +
			"Destination: an in-process counter (acknowledges every record), batch size " + fmt.Sprint(cfg.batch) + ". " +
			"Times in seconds; every measurement in a fresh process.\n\n")
		sb.WriteString("### Delta run of the runner\n\n")
		sb.WriteString("| engine | rows | scan (count / all columns) | delta run (all runs) | warehouse | destination | catalog | rows sent | requests (min) | peak RSS MiB (Go) | delta / scan | delta / best strategy | default strategy |\n")
		sb.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range reports {
			run := r.delta.Run
			best := r.bestPipe()
			ratioBest := "-"
			if best != nil {
				ratioBest = fmt.Sprintf("%.2f (%s %s)", run.Duration.Seconds()/best.best.Total.Seconds(), best.spec.name, secs(best.best.Total))
			}
			wh := secs(run.warehouseTime())
			if r.pgActive > 0 {
				wh += fmt.Sprintf(" (server %s)", secs(r.pgActive))
			}
			var all []string
			for _, d := range r.deltaTotals {
				all = append(all, secs(d))
			}
			fmt.Fprintf(&sb, "| %s | %s | %s / %s | %s (%s) | %s | %s | %s | %d | %d (%d) | %s (%.0f) | %.1f | %s | %s |\n",
				r.engine, rowsLabel(r.rows), secs(r.scanCount), secs(r.scanAll), secs(run.Duration), strings.Join(all, " "), wh,
				secs(run.DestTime), secs(run.CatalogTime), run.Sent, run.Requests, r.minRequests(), mib(r.peakRSS),
				float64(r.peakGo)/(1<<20), run.Duration.Seconds()/r.scanAll.Seconds(), ratioBest,
				deltasql.DefaultStrategy(r.engine))
		}
		settings := map[string]bool{}
		for _, r := range reports {
			if r.settings != "" && !settings[r.settings] {
				settings[r.settings] = true
				fmt.Fprintf(&sb, "\n%s runs inside the measured process, with the connector's default settings: %s.\n", r.engine, r.settings)
			}
		}
		for _, r := range reports {
			if r.alt != nil {
				ar := r.alt.Run
				outcome := "delta run " + secs(ar.Duration) + " s"
				if ar.Status == catalog.RunFailed {
					outcome = "the delta run failed after " + secs(ar.Duration) + " s: " + firstLine(ar.Error)
				}
				fmt.Fprintf(&sb, "\n%s %s with the source's `memory_limit = %q` instead: %s, peak RSS %s MiB (Go %.0f MiB).\n",
					r.engine, rowsLabel(r.rows), cfg.duckMemory, outcome, mib(r.alt.VmHWMKiB), float64(r.alt.GoPeakBytes)/(1<<20))
			}
		}
		sb.WriteString("\nPhases of the delta run (seconds from its start: evaluation and diff → first batch → fold → done):\n\n")
		for _, r := range reports {
			p := r.delta.Run.Phases
			fmt.Fprintf(&sb, "- %s %s: evaluating %s, diffing %s, sending %s, committing %s, done %s\n", r.engine, rowsLabel(r.rows),
				secs(p[runner.PhaseEvaluating]), secs(p[runner.PhaseDiffing]), secs(p[runner.PhaseSending]),
				secs(p[runner.PhaseCommitting]), secs(p[runner.PhaseDone]))
		}
		sb.WriteString("\nPeak RSS within each phase of that run, MiB (before: process start, opening the catalog; starting: recovery checks; " +
			"evaluating: the key check and the diff into the run table; diffing: counts, guards; sending: the ordered diff read, " +
			"batches and checkpoints; committing: the fold; done: closing, which checkpoints the database):\n\n")
		for _, r := range reports {
			fmt.Fprintf(&sb, "- %s %s: %s\n", r.engine, rowsLabel(r.rows), phasePeaks(r.delta.Run.PhasePeakKiB))
			if r.alt != nil && r.alt.Run != nil {
				fmt.Fprintf(&sb, "- %s %s with `memory_limit = %q`: %s\n", r.engine, rowsLabel(r.rows), cfg.duckMemory, phasePeaks(r.alt.Run.PhasePeakKiB))
			}
		}
		sb.WriteString("\n### Candidate strategies (the SQL of a delta run, no destination; best of the repetitions)\n\n")
		sb.WriteString("| engine | rows | strategy | total | stage | key check | diff | count | stream | checkpoint | fold | close | all repetitions |\n")
		sb.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range reports {
			best := r.bestPipe()
			for _, p := range r.pipes {
				steps := map[string]time.Duration{}
				for _, st := range p.best.Steps {
					steps[st.Name] = st.Dur
				}
				name := p.spec.name
				if best != nil && p.spec.name == best.spec.name {
					name = "**" + name + "**"
				}
				var all []string
				for _, t := range p.totals {
					all = append(all, secs(t))
				}
				get := func(n string) string {
					if d, ok := steps[n]; ok {
						return secs(d)
					}
					return "-"
				}
				if p.failed != "" {
					fmt.Fprintf(&sb, "| %s | %s | %s | failed: %s |  |  |  |  |  |  |  |  | %s |\n", r.engine, rowsLabel(r.rows), name,
						strings.ReplaceAll(firstLine(p.failed), "|", "/"), strings.Join(all, " "))
					continue
				}
				fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.engine, rowsLabel(r.rows), name,
					secs(p.best.Total), get("stage"), get("key check"), get("diff"), get("count"), get("stream"), get("checkpoint"),
					get("fold"), get("close"), strings.Join(all, " "))
			}
		}
		sb.WriteString("\nStrategies:\n\n")
		for _, p := range pipelines {
			fmt.Fprintf(&sb, "- `%s`: %s\n", p.name, p.what)
		}
		var fulls []string
		for _, r := range reports {
			if r.full != nil {
				fr := r.full.Run
				fulls = append(fulls, fmt.Sprintf("- %s %s: full run %s s, %d rows sent in %d requests, peak RSS %s MiB (Go %.0f MiB)",
					r.engine, rowsLabel(r.rows), secs(fr.Duration), fr.Sent, fr.Requests, mib(r.full.VmHWMKiB), float64(r.full.GoPeakBytes)/(1<<20)))
			} else {
				fulls = append(fulls, fmt.Sprintf("- %s %s: snapshot committed by the SQL of a full run (no sending) in %s s", r.engine, rowsLabel(r.rows), secs(r.seed)))
			}
		}
		sb.WriteString("\nSetup (data generation, first run):\n\n")
		for i, r := range reports {
			fmt.Fprintf(&sb, "- %s %s: generated in %s s\n%s\n", r.engine, rowsLabel(r.rows), secs(r.generate), fulls[i])
		}
		notes := map[string]bool{}
		for _, r := range reports {
			for _, n := range r.notes {
				notes[n] = true
			}
			for _, v := range r.violations {
				notes[fmt.Sprintf("%s %s: %s", r.engine, rowsLabel(r.rows), v)] = true
			}
		}
		if len(notes) > 0 {
			sb.WriteString("\nNotes:\n\n")
			var ns []string
			for n := range notes {
				ns = append(ns, n)
			}
			sort.Strings(ns)
			for _, n := range ns {
				sb.WriteString("- " + n + "\n")
			}
		}
	}
	if len(rates) > 0 {
		sb.WriteString("\n### Throughput against a rate limit (webhook platform, local receiver)\n\n")
		sb.WriteString("| records | batch | requests_per_second | requests | send phase s | achieved records/s | steady records/s | limit records/s | achieved / limit | peak RSS MiB |\n")
		sb.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range rates {
			fmt.Fprintf(&sb, "| %d | %d | %d | %d | %s | %.0f | %.0f | %.0f | %.1f%% | %s |\n", r.rows, r.batch, r.rate, r.requests,
				secs(r.sendPhase), r.achieved, r.steady, r.limit, 100*r.achieved/r.limit, mib(r.rss))
		}
	}
	fmt.Print(sb.String())
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(sb.String()), 0o600); err != nil {
			tb.Errorf("write %s: %v", cfg.out, err)
		}
	}
}
