package bench

import (
	"fmt"
	"os"
	"regexp"
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
	envDuckMemory  = "DINMO_BENCH_DUCKDB_MEMORY_LIMIT"
	envChild       = "DINMO_BENCH_CHILD"       // set in a child process: path of its job file
	envPGPassword  = "DINMO_BENCH_PG_PASSWORD" //nolint:gosec // G101: the name of the variable carrying the child's password, not a password
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
	duckMemory string // the source's memory_limit in the extra DuckDB delta run ("": none)
}

// defaultAltMemory is the memory_limit of the extra DuckDB delta run: more than the machine
// needs, which shows what the connector's default limit costs in time and saves in memory.
const defaultAltMemory = "16GB"

func loadConfig() (config, error) {
	c := config{out: os.Getenv(envOut), duckMemory: envOr(envDuckMemory, defaultAltMemory)}
	if strings.EqualFold(c.duckMemory, "off") {
		c.duckMemory = ""
	} else if !memoryLimit.MatchString(c.duckMemory) {
		return c, fmt.Errorf("%s=%q: use a size such as 1GB, or off", envDuckMemory, c.duckMemory)
	}
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

// memoryLimit is the form of a DuckDB memory_limit the benchmark accepts.
var memoryLimit = regexp.MustCompile(`(?i)^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$`)

// repeats returns how many times each strategy and the runner's delta run are timed at a size
// (the best is kept): 3 up to 2M rows; above, 2 on DuckDB and 1 on PostgreSQL, which keeps
// `make bench` within about 30 minutes on 2 cores.
func (c config) repeats(e warehouse.Engine, size int) int {
	switch {
	case c.repeat > 0:
		return c.repeat
	case size <= 2_000_000:
		return 3
	case e == warehouse.DuckDB:
		return 2
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
