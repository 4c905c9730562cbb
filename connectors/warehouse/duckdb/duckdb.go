// Package duckdb is the DuckDB warehouse engine: the embedded default of dinmo (no server, no
// credentials). It owns the process-wide handle of every DuckDB file (see Shared): nothing
// else in dinmo calls sql.Open("duckdb", ...).
package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"

	"dinmo/connectors"
	"dinmo/connectors/warehouse"
)

// Setting keys.
const (
	SettingPath          = "path"
	SettingReadOnly      = "read_only"
	SettingMemoryLimit   = "memory_limit"
	SettingThreads       = "threads"
	SettingTempDirectory = "temp_directory"
)

// maxThreads bounds the threads setting (DuckDB accepts more; no machine dinmo runs on has).
const maxThreads = 1024

// Connector opens DuckDB warehouses.
type Connector struct{}

var _ warehouse.Connector = Connector{}

// New returns the DuckDB connector.
func New() Connector { return Connector{} }

// Spec declares DuckDB's settings. It has no credentials.
func (Connector) Spec() warehouse.Spec {
	return warehouse.Spec{
		Engine:      warehouse.DuckDB,
		DisplayName: "DuckDB",
		Available:   true,
		Settings: []connectors.ConfigField{
			{Name: SettingPath, Type: connectors.FieldString, Required: true,
				Description: "Path of the DuckDB database file, created if missing (its directory must exist). The provider and the runner must use the same file; only one process can have it open at a time. `:memory:` gives a private in-memory database per connection, for tests."},
			{Name: SettingReadOnly, Type: connectors.FieldBool, Default: false,
				Description: "Open the file read-only (DuckDB `access_mode=READ_ONLY`), so several processes can read it at once. dinmo cannot create its schemas, views or snapshots in a read-only file."},
			{Name: SettingMemoryLimit, Type: connectors.FieldString, Default: DefaultMemoryLimit,
				Description: "DuckDB's `memory_limit`: the most memory DuckDB's buffer pool (its cache, joins, sorts and aggregates) may use; what does not fit is spilled to `" + SettingTempDirectory + "`. A number and a unit: KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (at least 16MB). " +
					"DuckDB runs inside the process that opens the file, so this bounds the memory of `dinmo-runner` (and of the provider), which also returns to the system what DuckDB frees: with the default, " + DefaultMemoryLimit + ", `make bench` measured a delta run (1% of the rows added, changed and removed) of a 1M-row segment at 210 MiB of peak process memory and of a 10M-row one at 273 MiB, in about the time a run takes without a limit. " +
					"A source used only for syncs can go lower (with 64MB: 130 MiB at 1M rows, 147 to 159 MiB at 10M, about 20% slower at 10M, but with little headroom: 2 of 9 such 10M-row runs ran out of memory), but segment statistics, overlaps and breakdowns need more when several run at once: the ones of the ecommerce example, which the provider computes in parallel, fail under 96MB. What a delta run needs grows with the segment (a 10M-row one fails under 48MB; larger segments were not measured): raise it for segments well above 10M rows, for several large activations running at once, or for heavy models. " +
					"Sources using the same file should use the same value: a process that has the file open keeps the settings it opened it with (and logs a warning) until it closes it."},
			{Name: SettingThreads, Type: connectors.FieldInt, Min: 1, Max: maxThreads,
				Description: "DuckDB's `threads`: how many threads one query uses. Default: the number of CPUs, at most 4 (each thread needs its own working memory within `" + SettingMemoryLimit + "`). " +
					"Sources using the same file should use the same value: a process that has the file open keeps the settings it opened it with (and logs a warning) until it closes it."},
			{Name: SettingTempDirectory, Type: connectors.FieldString,
				Description: "DuckDB's `temp_directory`: where DuckDB writes, while a query runs, what does not fit in `" + SettingMemoryLimit + "`; created when first needed (its parent directory must exist). Default: DuckDB's, the database file's path followed by `.tmp` (for `:memory:`, `.tmp` in the working directory). " +
					"Sources using the same file should use the same value: a process that has the file open keeps the settings it opened it with (and logs a warning) until it closes it."},
		},
	}
}

// Open opens (or joins, within this process) the database file and pings it.
func (c Connector) Open(ctx context.Context, cfg warehouse.Config, logger *slog.Logger) (warehouse.Warehouse, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := warehouse.NewConfigReader(c.Spec(), cfg)
	path := r.String(SettingPath)
	readOnly := r.Bool(SettingReadOnly)
	memoryLimit := r.String(SettingMemoryLimit)
	threads := r.Int(SettingThreads)
	tempDirectory := r.String(SettingTempDirectory)
	if err := r.Err(); err != nil {
		return nil, err
	}
	opts, err := newOptions(readOnly, memoryLimit, threads, tempDirectory)
	if err != nil {
		return nil, err
	}
	db, release, differs, err := shared(path, opts)
	if err != nil {
		return nil, err
	}
	if errTune != nil {
		logger.Warn("duckdb: could not make the allocator return freed memory at once; the process may hold more memory than memory_limit", "error", errTune)
	}
	if differs != "" {
		logger.Warn("duckdb file already open in this process with other settings; they apply until every user of the file closed it",
			"path", path, "open_with", differs)
	}
	w := &Warehouse{db: db, release: release, dialect: NewDialect()}
	if err := w.Ping(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("duckdb: open %s: %w", path, err)
	}
	logger.Debug("duckdb warehouse opened", "path", path, "read_only", readOnly,
		"memory_limit", opts.memoryLimit, "threads", opts.threads, "temp_directory", opts.tempDirectory)
	return w, nil
}

// Warehouse is an open DuckDB source: one holder of the shared handle of its file. It is safe
// for concurrent use.
type Warehouse struct {
	db        *sql.DB
	release   func()
	dialect   Dialect
	closeOnce sync.Once
	closed    atomic.Bool
}

var (
	_ warehouse.Warehouse       = (*Warehouse)(nil)
	_ warehouse.ViewReplacer    = (*Warehouse)(nil)
	_ warehouse.ErrorClassifier = (*Warehouse)(nil)
)

var errClosed = errors.New("duckdb: warehouse is closed")

// Engine returns warehouse.DuckDB.
func (w *Warehouse) Engine() warehouse.Engine { return warehouse.DuckDB }

// Dialect returns the DuckDB dialect.
func (w *Warehouse) Dialect() warehouse.Dialect { return w.dialect }

// DB returns the shared pool of the file. It stays usable until the last holder of the file
// closes, but must not be used after this Warehouse's Close.
func (w *Warehouse) DB() *sql.DB { return w.db }

func (w *Warehouse) check() error {
	if w.closed.Load() {
		return connectors.Permanent(connectors.CategoryInternal, errClosed)
	}
	return nil
}

// Ping checks that the database answers a query.
func (w *Warehouse) Ping(ctx context.Context) error {
	if err := w.check(); err != nil {
		return err
	}
	var one int
	if err := w.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return classify(ctx, fmt.Errorf("duckdb: ping: %w", err))
	}
	return nil
}

// QueryColumns returns the result columns of a SELECT, run wrapped in LIMIT 0.
func (w *Warehouse) QueryColumns(ctx context.Context, query string) ([]warehouse.Column, error) {
	if err := w.check(); err != nil {
		return nil, err
	}
	rows, err := w.db.QueryContext(ctx, warehouse.ColumnsProbe(query))
	if err != nil {
		return nil, classify(ctx, fmt.Errorf("duckdb: query columns: %w", err))
	}
	defer func() { _ = rows.Close() }()
	types, err := rows.ColumnTypes()
	if err != nil {
		return nil, classify(ctx, fmt.Errorf("duckdb: query columns: %w", err))
	}
	// The probe returns no rows; draining it surfaces an error raised while executing.
	for rows.Next() {
	}
	if err := rows.Err(); err != nil {
		return nil, classify(ctx, fmt.Errorf("duckdb: query columns: %w", err))
	}
	return warehouse.ColumnsFromTypes(types, Category), nil
}

// Category maps a DuckDB type name, as the driver's DatabaseTypeName spells it (DECIMAL(18,3),
// TIMESTAMPTZ, ENUM(...), INTEGER[]), to its portable category.
func Category(databaseType string) warehouse.TypeCategory {
	t := strings.ToUpper(strings.TrimSpace(databaseType))
	if strings.HasSuffix(t, "]") { // LIST and ARRAY types
		return warehouse.TypeOther
	}
	base := t
	if i := strings.IndexByte(t, '('); i >= 0 {
		base = strings.TrimSpace(t[:i])
	}
	switch base {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
		"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "BIGNUM", "VARINT",
		"INT1", "INT2", "INT4", "INT8", "INT", "INT128":
		return warehouse.TypeInteger
	case "DECIMAL", "NUMERIC", "FLOAT", "DOUBLE", "REAL", "FLOAT4", "FLOAT8":
		return warehouse.TypeNumber
	case "BOOLEAN", "BOOL":
		return warehouse.TypeBoolean
	case "DATE":
		return warehouse.TypeDate
	case "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMPTZ", "DATETIME",
		"TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITHOUT TIME ZONE":
		return warehouse.TypeTimestamp
	case "VARCHAR", "UUID", "ENUM", "TEXT", "STRING", "CHAR", "BPCHAR":
		return warehouse.TypeString
	}
	return warehouse.TypeOther
}

// RelationExists reports whether a table or view schema.name exists in the database (DuckDB's
// information_schema.tables lists views too).
func (w *Warehouse) RelationExists(ctx context.Context, schema, name string) (bool, error) {
	if err := w.check(); err != nil {
		return false, err
	}
	const q = `SELECT EXISTS (SELECT 1 FROM information_schema.tables
WHERE table_catalog = current_database() AND table_schema = $1 AND table_name = $2)`
	var exists bool
	if err := w.db.QueryRowContext(ctx, q, schema, name).Scan(&exists); err != nil {
		return false, classify(ctx, fmt.Errorf("duckdb: check relation %s.%s: %w", schema, name, err))
	}
	return exists, nil
}

// ReplaceView runs CREATE OR REPLACE VIEW, which on DuckDB may change the columns. DuckDB does
// not track dependencies between views: a view depending on a column that disappears fails
// when it is queried, not now.
func (w *Warehouse) ReplaceView(ctx context.Context, schema, name, query string) error {
	if err := w.check(); err != nil {
		return err
	}
	if _, err := w.db.ExecContext(ctx, w.dialect.CreateOrReplaceView(schema, name, query)); err != nil {
		return classify(ctx, fmt.Errorf("duckdb: replace view %s.%s: %w", schema, name, err))
	}
	return nil
}

// ClassifyError classifies the error of a statement run on DB() (warehouse.ErrorClassifier):
// DuckDB's error type gives the category; running out of memory names the setting to raise.
func (w *Warehouse) ClassifyError(ctx context.Context, err error) error { return classify(ctx, err) }

// Close releases this holder's reference on the shared file handle; the file is closed when
// the last holder closes. Later calls return nil.
func (w *Warehouse) Close() error {
	w.closeOnce.Do(func() {
		w.closed.Store(true)
		w.release()
	})
	return nil
}

// lockConflict matches DuckDB's message when another process holds the file.
var lockConflict = regexp.MustCompile(`(?i)could not set lock|conflicting lock`)

// classifyOpen classifies an error opening a file: a lock held by another process is worth
// retrying; anything else (unreadable file, not a DuckDB file, newer storage version) is a
// configuration problem.
func classifyOpen(err error) error {
	if lockConflict.MatchString(err.Error()) {
		return connectors.Retryable(connectors.CategoryConnection, err)
	}
	return connectors.Permanent(connectors.CategoryConfiguration, err)
}

// classify marks a query error with the category and retry verdict its cause deserves. The
// message is DuckDB's own.
func classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var ce *connectors.Error
	if errors.As(err, &ce) {
		return err
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return connectors.Retryable(connectors.CategoryTimeout, err)
		}
		return err // canceled by the caller
	}
	var de *duckdbdriver.Error
	if !errors.As(err, &de) {
		if lockConflict.MatchString(err.Error()) {
			return connectors.Retryable(connectors.CategoryConnection, err)
		}
		return connectors.Permanent(connectors.CategoryInternal, err)
	}
	switch de.Type {
	case duckdbdriver.ErrorTypeCatalog:
		if strings.Contains(de.Msg, "does not exist") {
			return connectors.Permanent(connectors.CategoryNotFound, err)
		}
		return connectors.Permanent(connectors.CategoryConfiguration, err)
	case duckdbdriver.ErrorTypePermission:
		return connectors.Permanent(connectors.CategoryCredentials, err)
	case duckdbdriver.ErrorTypeIO, duckdbdriver.ErrorTypeConnection, duckdbdriver.ErrorTypeNetwork:
		return connectors.Retryable(connectors.CategoryConnection, err)
	case duckdbdriver.ErrorTypeOutOfMemory:
		// Running the same statement again needs the same memory: say what to change.
		return connectors.Permanent(connectors.CategoryConfiguration, fmt.Errorf(
			"%w (DuckDB runs inside this process: raise the source's %s setting, or lower %s)", err, SettingMemoryLimit, SettingThreads))
	case duckdbdriver.ErrorTypeTransaction:
		return connectors.Retryable(connectors.CategoryInternal, err)
	case duckdbdriver.ErrorTypeInterrupt:
		return connectors.Retryable(connectors.CategoryTimeout, err)
	case duckdbdriver.ErrorTypeFatal, duckdbdriver.ErrorTypeInternal, duckdbdriver.ErrorTypeNullPointer:
		return connectors.Permanent(connectors.CategoryInternal, err)
	}
	// Parser, binder, conversion, constraint, dependency, ... errors: the SQL or data must change.
	return connectors.Permanent(connectors.CategoryConfiguration, err)
}
