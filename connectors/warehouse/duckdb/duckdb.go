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
	SettingPath     = "path"
	SettingReadOnly = "read_only"
)

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
	if err := r.Err(); err != nil {
		return nil, err
	}
	db, release, err := shared(path, readOnly)
	if err != nil {
		return nil, err
	}
	w := &Warehouse{db: db, release: release, dialect: NewDialect()}
	if err := w.Ping(ctx); err != nil {
		_ = w.Close()
		return nil, fmt.Errorf("duckdb: open %s: %w", path, err)
	}
	logger.Debug("duckdb warehouse opened", "path", path, "read_only", readOnly)
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
	_ warehouse.Warehouse    = (*Warehouse)(nil)
	_ warehouse.ViewReplacer = (*Warehouse)(nil)
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
	case duckdbdriver.ErrorTypeTransaction, duckdbdriver.ErrorTypeOutOfMemory:
		return connectors.Retryable(connectors.CategoryInternal, err)
	case duckdbdriver.ErrorTypeInterrupt:
		return connectors.Retryable(connectors.CategoryTimeout, err)
	case duckdbdriver.ErrorTypeFatal, duckdbdriver.ErrorTypeInternal, duckdbdriver.ErrorTypeNullPointer:
		return connectors.Permanent(connectors.CategoryInternal, err)
	}
	// Parser, binder, conversion, constraint, dependency, ... errors: the SQL or data must change.
	return connectors.Permanent(connectors.CategoryConfiguration, err)
}
