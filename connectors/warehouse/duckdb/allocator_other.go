//go:build !linux || !cgo

package duckdb

// allocatorTuned reports that this build can tune DuckDB's allocator: DuckDB uses jemalloc
// only in its Linux builds.
const allocatorTuned = false

func purgeFreedPages() error { return nil }

func compactMalloc() error { return nil }

func decayMs() (dirty, muzzy int, err error) { return -1, -1, nil }
