package duckdb

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"

	"dinmo/connectors"
)

// DefaultMemoryLimit is the memory_limit of a database opened without one.
//
// DuckDB runs inside the process that opens it (the runner, the provider), so its memory is
// that process's memory, and DuckDB's own default (80% of the machine's RAM, which it also
// fills with a cache of the file's blocks) let one large diff take gigabytes. `make bench`,
// the runner's delta run with 1% of the rows inserted, deleted and updated, with this limit
// (and the allocators returning freed memory, see tuneAllocator): 210 MiB of peak RSS at 1M
// customers and 273 MiB at 10M. A run's own statements fit in less (64MB: 130 MiB at 1M,
// 147-159 MiB at 10M, where 2 of 9 runs ran out of memory; a 10M-row diff fails under 48MB),
// but the product's analytical queries
// running side by side do not: the segment statistics, breakdowns and overlap of
// examples/ecommerce, a few thousand rows, which the provider computes in parallel, run out
// of memory under 96MB (DuckDB's joins and aggregates reserve their working memory per
// thread and per query, whatever the data's size; one at a time they fit in 64MB). 192MB
// leaves them room.
const DefaultMemoryLimit = "192MB"

// maxDefaultThreads caps the default thread count: every DuckDB thread needs its own working
// buffers within memory_limit, so on a many-core machine one thread per core would leave each
// too little of a small limit.
const maxDefaultThreads = 4

// minMemoryLimit is the smallest memory_limit accepted: below it DuckDB cannot hold the few
// 256 KiB blocks a query pins per thread.
const minMemoryLimit = 16 << 20

// options are the settings of a DuckDB instance. They are fixed when the file is opened:
// every holder of the process-wide instance shares them (see shared).
type options struct {
	readOnly bool
	// memoryLimit is DuckDB's memory_limit as the user wrote it; memoryBytes its value.
	memoryLimit string
	memoryBytes int64
	// threads is DuckDB's thread count (0: DuckDB's default, one per core).
	threads int
	// tempDirectory is where DuckDB spills ("": DuckDB's default, <file>.tmp).
	tempDirectory string
}

// defaultOptions are the options of Shared and of an Open that sets nothing but the path.
func defaultOptions() options {
	o, err := newOptions(false, DefaultMemoryLimit, 0, "")
	if err != nil {
		panic(err) // DefaultMemoryLimit is a constant that parses
	}
	return o
}

// defaultThreads is the thread count used when the threads setting is not set.
func defaultThreads() int { return min(runtime.NumCPU(), maxDefaultThreads) }

// newOptions validates the settings of an open. threads 0 means the default.
func newOptions(readOnly bool, memoryLimit string, threads int64, tempDirectory string) (options, error) {
	o := options{readOnly: readOnly, memoryLimit: strings.TrimSpace(memoryLimit), threads: int(threads)}
	n, err := parseSize(o.memoryLimit)
	if err != nil {
		return o, connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("duckdb: setting %q: %w", SettingMemoryLimit, err))
	}
	if n < minMemoryLimit {
		return o, connectors.Permanent(connectors.CategoryConfiguration, fmt.Errorf(
			"duckdb: setting %q is %q: DuckDB needs at least 16MB to run a query; use a size such as %s", SettingMemoryLimit, memoryLimit, DefaultMemoryLimit))
	}
	o.memoryBytes = n
	if o.threads == 0 {
		o.threads = defaultThreads()
	}
	if tempDirectory != "" {
		dir, err := tempDir(tempDirectory)
		if err != nil {
			return o, err
		}
		o.tempDirectory = dir
	}
	return o, nil
}

// dsnQuery returns the DSN options applying o when the database is opened.
func (o options) dsnQuery() string {
	v := url.Values{}
	if o.readOnly {
		v.Set("access_mode", "READ_ONLY")
	}
	v.Set("memory_limit", o.memoryLimit)
	v.Set("threads", strconv.Itoa(o.threads))
	if o.tempDirectory != "" {
		v.Set("temp_directory", o.tempDirectory)
	}
	return v.Encode()
}

// conflict explains how o differs from the options inst was opened with, in the instance's
// settings (memory_limit, threads, temp_directory), or returns "" when they agree. read_only
// has its own rule (see shared).
func (o options) conflict(inst options) string {
	var diffs []string
	if o.memoryBytes != inst.memoryBytes {
		diffs = append(diffs, fmt.Sprintf("%s %q (asked %q)", SettingMemoryLimit, inst.memoryLimit, o.memoryLimit))
	}
	if o.threads != inst.threads {
		diffs = append(diffs, fmt.Sprintf("%s %d (asked %d)", SettingThreads, inst.threads, o.threads))
	}
	if o.tempDirectory != inst.tempDirectory {
		diffs = append(diffs, fmt.Sprintf("%s %q (asked %q)", SettingTempDirectory, inst.tempDirectory, o.tempDirectory))
	}
	return strings.Join(diffs, ", ")
}

// sizePattern is the form of a DuckDB memory size dinmo accepts: a number and a unit. DuckDB
// reads KB, MB, GB and TB as powers of 1000 and KiB, MiB, GiB and TiB as powers of 1024.
var sizePattern = regexp.MustCompile(`(?i)^([0-9]+(?:\.[0-9]+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$`)

var sizeUnits = map[string]float64{
	"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// parseSize returns the bytes of a DuckDB memory size such as 192MB or 1.5GiB.
func parseSize(s string) (int64, error) {
	m := sizePattern.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a memory size: use a number and a unit (KB, MB, GB, TB or KiB, MiB, GiB, TiB), such as %s", s, DefaultMemoryLimit)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a memory size: %w", s, err)
	}
	bytes := n * sizeUnits[strings.ToLower(m[2])]
	if bytes >= math.MaxInt64 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return int64(bytes), nil
}

// tempDir checks the temp_directory setting: DuckDB creates the directory when it first
// spills, so its parent must exist. It returns the absolute, clean path.
func tempDir(dir string) (string, error) {
	bad := func(format string, args ...any) error {
		return connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("duckdb: setting %q: "+format, append([]any{SettingTempDirectory}, args...)...))
	}
	if strings.TrimSpace(dir) == "" {
		return "", bad("must be a directory path (or be left unset for DuckDB's default, the database file's path followed by .tmp)")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", bad("%q: %w", dir, err)
	}
	if info, err := os.Stat(abs); err == nil {
		if !info.IsDir() {
			return "", bad("%s is a file; name a directory", abs)
		}
		return abs, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", bad("%s: %w", abs, err)
	}
	parent := filepath.Dir(abs)
	if info, err := os.Stat(parent); err != nil || !info.IsDir() {
		return "", bad("the directory %s holding %s does not exist; create it first", parent, abs)
	}
	return abs, nil
}
