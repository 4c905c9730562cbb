package bench

import (
	"strings"
	"testing"

	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/duckdb"
)

// TestHarness runs the benchmark's scenarios on tiny tables, so the harness (data generation,
// children, every pipeline, the runner's full and delta runs, the rate-limited run) stays
// working without running `make bench`. It checks correctness only: the pipelines' and the
// runner's diffs and snapshots, the requests sent.
func TestHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the harness test starts a dozen child processes")
	}
	cfg := config{batch: 100, repeat: 1, rate: 200, rateBatch: 10, rateRows: 300, duckMemory: "64MB"}
	for _, tc := range []struct {
		engine  warehouse.Engine
		fullMax int // 0: the snapshot is seeded by SQL
	}{{warehouse.DuckDB, 5000}, {warehouse.Postgres, 0}} {
		t.Run(string(tc.engine), func(t *testing.T) {
			c := cfg
			c.fullRunMax = tc.fullMax
			r := measureDelta(t, nil, c, tc.engine, 3000)
			if len(r.pipes) != len(pipelines) || r.bestPipe() == nil {
				t.Fatalf("pipelines measured: %d", len(r.pipes))
			}
			if r.delta.VmHWMKiB <= 0 || r.delta.GoPeakBytes == 0 {
				t.Errorf("memory not measured: VmHWM %d KiB, Go %d bytes", r.delta.VmHWMKiB, r.delta.GoPeakBytes)
			}
			if (tc.engine == warehouse.DuckDB) != (r.alt != nil) {
				t.Errorf("DuckDB run with another memory_limit: %v", r.alt)
			}
			if (tc.engine == warehouse.DuckDB) != strings.Contains(r.settings, "memory_limit "+duckdb.DefaultMemoryLimit) {
				t.Errorf("memory settings reported: %q", r.settings)
			}
			for _, p := range r.pipes {
				if p.failed != "" {
					t.Errorf("pipeline %s failed on a tiny table: %s", p.spec.name, p.failed)
				}
			}
			if len(r.violations) > 0 {
				t.Errorf("violations: %v", r.violations)
			}
		})
	}
	t.Run("throughput", func(t *testing.T) {
		r := measureThroughput(t, nil, cfg)
		if r.achieved <= 0 || r.achieved > 1.2*r.limit {
			t.Errorf("achieved %.0f records/s against a limit of %.0f", r.achieved, r.limit)
		}
	})
}
