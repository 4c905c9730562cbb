package duckdb

import (
	"errors"
	"os"
	"sync"
)

// EnvAllocatorConf is jemalloc's configuration variable in DuckDB's Linux builds. When it is
// set, tuneAllocator leaves the allocator as the variable configures it.
const EnvAllocatorConf = "DUCKDB_JE_MALLOC_CONF"

var (
	tuneOnce sync.Once
	// errTune is why tuneAllocator could not tune the allocator (Open logs it as a warning).
	errTune error
)

// tuneAllocator makes DuckDB give the memory it frees back to the system at once, the first
// time this process opens a DuckDB database.
//
// DuckDB runs inside dinmo's processes, and both of its allocators keep freed memory for
// later: jemalloc (its buffers: joins, aggregates, sorts, cached blocks) keeps freed pages
// until a decay that runs only when it allocates again, and glibc's malloc (its C++ objects)
// keeps one arena per thread. Kept pages still count in the process's memory (RSS). A delta
// run executes a few large statements in a row (the key check, the diff, the prune, the
// fold), each filling memory_limit and freeing it, and what one freed stayed resident under
// the next. Measured on a 10M-row diff under a 64MB memory_limit, in a process doing only
// that: 157 MiB at the peak with the allocators' defaults, 129 MiB with jemalloc purging what
// is freed (decay 0 ms; 69 MiB between statements instead of 150) and 117-126 MiB with glibc
// also keeping one arena and trimming (mallopt: M_ARENA_MAX 1, M_TRIM_THRESHOLD and
// M_MMAP_THRESHOLD 128 KiB). The diff statement took about 20% longer in that test; `make
// bench`'s delta runs showed no difference beyond their noise.
//
// The environment keeps the allocators' own behaviour: DUCKDB_JE_MALLOC_CONF (jemalloc's
// options, such as "dirty_decay_ms:1000") for jemalloc, any of mallocEnv for glibc's malloc.
// Both must be set before the process starts.
func tuneAllocator() {
	tuneOnce.Do(func() {
		var errs []error
		if _, set := os.LookupEnv(EnvAllocatorConf); !set {
			errs = append(errs, purgeFreedPages())
		}
		if !mallocConfigured() {
			errs = append(errs, compactMalloc())
		}
		errTune = errors.Join(errs...)
	})
}

// mallocEnv are the environment variables that configure glibc's malloc: when one is set,
// tuneAllocator leaves glibc's malloc as it says.
var mallocEnv = []string{"GLIBC_TUNABLES", "MALLOC_ARENA_MAX", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"}

func mallocConfigured() bool {
	for _, name := range mallocEnv {
		if _, set := os.LookupEnv(name); set {
			return true
		}
	}
	return false
}
