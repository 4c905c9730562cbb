package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"

	"dinmo/connectors"
)

// MemoryPath is the path of an in-memory database. Every open of it is a new, empty, private
// database, gone when closed: two Opens of ":memory:" do not see each other. Tests that need
// two handles on the same data use a file in a temporary directory.
const MemoryPath = ":memory:"

// Pool limits. DuckDB runs many connections on one database instance; each query is itself
// parallel, so a few connections are enough for the runner's concurrent activations.
const (
	maxOpenConns = 8
	maxIdleConns = 4
)

// instance is one open database file, shared by every user in the process.
type instance struct {
	db     *sql.DB
	opts   options // what it was opened with
	refs   int
	closed chan struct{} // closed once db.Close has returned, after the last release
}

var (
	sharedMu  sync.Mutex
	instances = map[string]*instance{} // by canonical path
	closing   = map[string]*instance{} // released, db.Close in progress
)

// Shared returns the process-wide connection pool of the DuckDB database file at path, opened
// read-write (the file is created if missing; its directory must exist), and a release func.
// A database file can be opened by only one DuckDB instance per process (and one process at a
// time), so everything in dinmo that opens DuckDB goes through Shared or Open: the first call
// for a path opens it, later calls share it, and the instance is closed when the last holder
// calls release. release is idempotent; do not use the *sql.DB after calling it. Paths are
// compared after making them absolute, cleaning them and resolving symbolic links.
//
// Every connection of the pool has TimeZone set to UTC, like the PostgreSQL connector, so
// TIMESTAMPTZ text and date arithmetic do not depend on the machine's zone.
//
// Shared joins the instance with whatever settings it was opened with (memory_limit, threads,
// temp_directory); when it opens the file itself, it uses the defaults of the connector's
// settings (DefaultMemoryLimit).
//
// Errors are connectors.Error values: configuration for a bad path, connection (retryable)
// when another process holds the file's lock.
func Shared(path string) (*sql.DB, func(), error) {
	db, release, _, err := shared(path, defaultOptions())
	return db, release, err
}

// shared returns the pool of the instance of path, opening it with opts when this process
// has not opened it yet. DuckDB fixes an instance's settings when it opens it: an open that
// asks for other settings while the instance is open joins it as it is, and differs says how
// (for a warning; the new settings apply once every holder closed the file, which a runner
// does at the end of each run, so a source whose settings were just changed must not fail
// the runs in progress). read_only follows its own rule: a read-only open joins a read-write
// instance, never the reverse.
func shared(path string, opts options) (db *sql.DB, release func(), differs string, err error) {
	if path == MemoryPath {
		db, err := openDB("", opts)
		if err != nil {
			return nil, nil, "", err
		}
		var once sync.Once
		return db, func() { once.Do(func() { _ = db.Close() }) }, "", nil
	}
	key, err := canonicalPath(path)
	if err != nil {
		return nil, nil, "", err
	}

	sharedMu.Lock()
	for {
		c, ok := closing[key]
		if !ok {
			break
		}
		// The last holder released it and its close is in progress: opening the file now
		// would race with the close, so wait for it.
		sharedMu.Unlock()
		<-c.closed
		sharedMu.Lock()
	}
	defer sharedMu.Unlock()

	inst, ok := instances[key]
	if ok {
		if inst.opts.readOnly && !opts.readOnly {
			return nil, nil, "", connectors.Permanent(connectors.CategoryConfiguration, fmt.Errorf(
				"duckdb: %s is already open read-only in this process; open it read-write everywhere or read-only everywhere", key))
		}
		differs = opts.conflict(inst.opts)
	} else {
		if opts.readOnly {
			if _, err := os.Stat(key); errors.Is(err, os.ErrNotExist) {
				return nil, nil, "", connectors.Permanent(connectors.CategoryNotFound, fmt.Errorf(
					"duckdb: %s does not exist, and a read-only database cannot be created; create it or set read_only = false", key))
			}
		}
		db, err := openDB(key, opts)
		if err != nil {
			return nil, nil, "", err
		}
		inst = &instance{db: db, opts: opts, closed: make(chan struct{})}
		instances[key] = inst
	}
	inst.refs++
	var once sync.Once
	release = func() { once.Do(func() { releaseInstance(key, inst) }) }
	return inst.db, release, differs, nil
}

func releaseInstance(key string, inst *instance) {
	sharedMu.Lock()
	inst.refs--
	if inst.refs > 0 {
		sharedMu.Unlock()
		return
	}
	delete(instances, key)
	closing[key] = inst
	sharedMu.Unlock()

	// sql.DB.Close waits for running queries; do it without holding the lock.
	_ = inst.db.Close()

	sharedMu.Lock()
	delete(closing, key)
	sharedMu.Unlock()
	close(inst.closed)
}

// canonicalPath returns the key of a database file: absolute, clean, symbolic links of the
// directory (and of the file, when it exists) resolved. The directory must exist.
func canonicalPath(path string) (string, error) {
	if strings.TrimSpace(path) == "" {
		return "", connectors.Permanent(connectors.CategoryConfiguration,
			errors.New("duckdb: setting \"path\" must be a file path or \":memory:\""))
	}
	// The driver reads everything after '?' as options and parses the path as a URL, where
	// a '#' would start a fragment and swallow the options.
	if strings.ContainsAny(path, "?#") {
		return "", connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("duckdb: path %q must not contain '?' or '#'", path))
	}
	if _, err := url.Parse(path); err != nil {
		return "", connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("duckdb: path %q is not usable (avoid '%%' escapes): %w", path, err))
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", connectors.Permanent(connectors.CategoryConfiguration, fmt.Errorf("duckdb: path %q: %w", path, err))
	}
	dir, base := filepath.Split(abs)
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", connectors.Permanent(connectors.CategoryConfiguration, fmt.Errorf(
			"duckdb: directory %s of the database file does not exist or is not accessible; create it first: %w", dir, err))
	}
	if info, err := os.Stat(realDir); err != nil || !info.IsDir() {
		return "", connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("duckdb: %s is not a directory", realDir))
	}
	full := filepath.Join(realDir, base)
	if resolved, err := filepath.EvalSymlinks(full); err == nil {
		full = resolved
	}
	if info, err := os.Stat(full); err == nil && info.IsDir() {
		return "", connectors.Permanent(connectors.CategoryConfiguration,
			fmt.Errorf("duckdb: %s is a directory; path must name a database file", full))
	}
	return full, nil
}

// openDB opens a DuckDB instance ("" for in-memory) with dinmo's connection settings and the
// instance settings of opts, given as DSN options so they hold from the first query.
func openDB(path string, opts options) (*sql.DB, error) {
	tuneAllocator()
	dsn := path + "?" + opts.dsnQuery()
	connector, err := duckdbdriver.NewConnector(dsn, initConn)
	if err != nil {
		shown := path
		if shown == "" {
			shown = MemoryPath
		}
		return nil, classifyOpen(fmt.Errorf("duckdb: open %s: %w", shown, err))
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxIdleConns)
	return db, nil
}

// initConn pins the session settings of every new connection.
func initConn(execer driver.ExecerContext) error {
	if _, err := execer.ExecContext(context.Background(), "SET TimeZone = 'UTC'", nil); err != nil {
		return fmt.Errorf("duckdb: set TimeZone: %w", err)
	}
	return nil
}
