package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"dinmo/connectors/warehouse"
	"dinmo/internal/pgtest"
)

// Environment variables (see doc.go).
const (
	envSizes       = "DINMO_BENCH_SIZES"
	envEngines     = "DINMO_BENCH_ENGINES"
	envBatch       = "DINMO_BENCH_BATCH"
	envRepeat      = "DINMO_BENCH_REPEAT"
	envStrategies  = "DINMO_BENCH_STRATEGIES"
	envFullRunMax  = "DINMO_BENCH_FULL_RUN_MAX"
	envRate        = "DINMO_BENCH_RATE"
	envRateBatch   = "DINMO_BENCH_RATE_BATCH"
	envRateRows    = "DINMO_BENCH_RATE_ROWS"
	envOut         = "DINMO_BENCH_OUT"
	envChild       = "DINMO_BENCH_CHILD"       // set in a child process: path of its job file
	envPGPassword  = "DINMO_BENCH_PG_PASSWORD" // the child's PostgreSQL password (never in files)
	defaultSizes   = "1000000,10000000"
	defaultBatch   = 1000
	defaultFullMax = 1000000
)

// TestMain runs a child job when the benchmark re-executed this binary for one (the
// measurement then covers nothing but that job), and the tests and benchmarks otherwise.
func TestMain(m *testing.M) {
	if path := os.Getenv(envChild); path != "" {
		os.Exit(childMain(path))
	}
	pgtest.Main(m)
}

// config is the benchmark's configuration, from the environment.
type config struct {
	sizes      []int
	engines    []warehouse.Engine
	batch      int
	repeat     int // 0: automatic
	strategies map[string]bool
	fullRunMax int
	rate       int
	rateBatch  int
	rateRows   int
	out        string
}

func loadConfig() (config, error) {
	c := config{out: os.Getenv(envOut)}
	var err error
	if c.sizes, err = intList(envSizes, defaultSizes); err != nil {
		return c, err
	}
	for _, e := range strings.Split(envOr(envEngines, "duckdb,postgres"), ",") {
		switch e = strings.TrimSpace(e); warehouse.Engine(e) {
		case warehouse.DuckDB, warehouse.Postgres:
			c.engines = append(c.engines, warehouse.Engine(e))
		default:
			return c, fmt.Errorf("%s: unknown engine %q (duckdb, postgres)", envEngines, e)
		}
	}
	ints := []struct {
		name string
		dst  *int
		def  int
		min  int
	}{
		{envBatch, &c.batch, defaultBatch, 1},
		{envRepeat, &c.repeat, 0, 0},
		{envFullRunMax, &c.fullRunMax, defaultFullMax, 0},
		{envRate, &c.rate, 50, 1},
		{envRateBatch, &c.rateBatch, 100, 1},
		{envRateRows, &c.rateRows, 20000, 1},
	}
	for _, x := range ints {
		if *x.dst, err = intEnv(x.name, x.def); err != nil {
			return c, err
		}
		if *x.dst < x.min {
			return c, fmt.Errorf("%s must be at least %d", x.name, x.min)
		}
	}
	if s := os.Getenv(envStrategies); s != "" {
		c.strategies = map[string]bool{}
		for _, n := range strings.Split(s, ",") {
			c.strategies[strings.TrimSpace(n)] = true
		}
	}
	return c, nil
}

// repeats returns how many times each strategy is timed at a size.
func (c config) repeats(size int) int {
	if c.repeat > 0 {
		return c.repeat
	}
	if size <= 2_000_000 {
		return 3
	}
	return 1
}

func envOr(name, def string) string {
	if v := strings.TrimSpace(os.Getenv(name)); v != "" {
		return v
	}
	return def
}

func intEnv(name string, def int) (int, error) {
	v := strings.TrimSpace(os.Getenv(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(strings.ReplaceAll(v, "_", ""))
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not an integer", name, v)
	}
	return n, nil
}

func intList(name, def string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(envOr(name, def), ",") {
		n, err := strconv.Atoi(strings.ReplaceAll(strings.TrimSpace(p), "_", ""))
		if err != nil || n < 100 {
			return nil, fmt.Errorf("%s: %q is not a row count of at least 100", name, p)
		}
		out = append(out, n)
	}
	return out, nil
}
