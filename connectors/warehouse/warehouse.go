// Package warehouse defines the contract of a warehouse engine: its configuration, its
// connection, its SQL dialect and its introspection. One package per engine lives below it
// (postgres, duckdb today; redshift, snowflake, bigquery and databricks are declared in the
// registry so the provider schema has their place, and report themselves unavailable).
//
// All SQL that dinmo sends to a warehouse is built here, through a Dialect: identifiers and
// literals are always quoted by the dialect, never spliced.
package warehouse

import (
	"context"
	"database/sql"
	"log/slog"

	"dinmo/connectors"
)

// Engine is the stable name of a warehouse engine, as users write it and the catalog stores it.
type Engine string

// The six engines of the design.
const (
	Postgres   Engine = "postgres"
	Redshift   Engine = "redshift"
	Snowflake  Engine = "snowflake"
	BigQuery   Engine = "bigquery"
	Databricks Engine = "databricks"
	DuckDB     Engine = "duckdb"
)

// Names of the schemas dinmo manages in every source. They are stable and documented: users
// query them.
const (
	SchemaSegments     = "dinmo_segments"      // one view per model and per segment
	SchemaStats        = "dinmo_stats"         // segment statistics history
	SchemaDeltaStorage = "dinmo_delta_storage" // per-activation snapshots and run tables
	SchemaPredictions  = "dinmo_predictions"   // outputs of the predictions module
)

// ManagedSchemas lists the schemas created when a source is created, in creation order.
var ManagedSchemas = []string{SchemaSegments, SchemaStats, SchemaDeltaStorage, SchemaPredictions}

// Spec declares an engine: its configuration fields and whether this build can connect to it.
type Spec struct {
	Engine      Engine
	DisplayName string
	// Available is false for engines whose schema is declared but whose driver is not built in
	// yet; the provider rejects them at plan time with a clear message.
	Available bool
	// Settings are the non-secret connection parameters (host, port, database, path, ...).
	Settings []connectors.ConfigField
	// Credentials are the secret parameters (password, private key, service account JSON).
	Credentials []connectors.ConfigField
}

// Config is what Open receives: settings with defaults applied, and credentials already
// resolved to plain text by the caller (never logged, never returned in errors).
type Config struct {
	Settings    map[string]any
	Credentials map[string]string
}

// Connector opens connections to one engine.
type Connector interface {
	Spec() Spec
	// Open connects and returns a ready Warehouse. It does not create any schema. Errors are
	// connectors.Error values with category connection, credentials or configuration.
	Open(ctx context.Context, cfg Config, logger *slog.Logger) (Warehouse, error)
}

// TypeCategory is the portable category of a warehouse column type; segment compilation and
// validation work on categories, not on engine type names.
type TypeCategory string

// Type categories.
const (
	TypeString    TypeCategory = "string"
	TypeInteger   TypeCategory = "integer"
	TypeNumber    TypeCategory = "number"
	TypeBoolean   TypeCategory = "boolean"
	TypeDate      TypeCategory = "date"
	TypeTimestamp TypeCategory = "timestamp"
	TypeOther     TypeCategory = "other"
)

// Column is one column of a relation or query result.
type Column struct {
	Name         string
	DatabaseType string // the engine's own type name, e.g. "BIGINT", "timestamp with time zone"
	Category     TypeCategory
}

// Warehouse is an open connection to one source. It is safe for concurrent use. Close
// releases it; using it after Close is an error.
type Warehouse interface {
	Engine() Engine
	Dialect() Dialect
	// DB is the underlying pool, for streaming queries and transactions built with Dialect.
	DB() *sql.DB
	// Ping checks that the warehouse answers and the credentials work.
	Ping(ctx context.Context) error
	// QueryColumns returns the result columns of a SELECT without reading its rows. A query
	// that does not compile fails with the warehouse's own message.
	QueryColumns(ctx context.Context, query string) ([]Column, error)
	// RelationExists reports whether a table or view exists.
	RelationExists(ctx context.Context, schema, name string) (bool, error)
	// Close releases the connection.
	Close() error
}

// ErrorClassifier is implemented by warehouses that can tell what the error of a statement
// run on their DB() means: its connectors category, whether retrying can help, and what to do
// (the runner runs most of its SQL itself). ClassifyError returns a *connectors.Error wrapping
// err, or err itself when the caller canceled.
type ErrorClassifier interface {
	ClassifyError(ctx context.Context, err error) error
}

// Dialect builds the SQL text of one engine. Every identifier and literal dinmo puts into SQL
// passes through QuoteIdent or a literal method here.
type Dialect interface {
	Engine() Engine
	// QuoteIdent quotes one identifier (a name part), escaping embedded quotes.
	QuoteIdent(name string) string
	// Qualified quotes and joins name parts: Qualified("s", "t") = "s"."t".
	Qualified(parts ...string) string
	// QuoteString returns a string literal.
	QuoteString(s string) string
	// Placeholder returns the bind parameter marker for the n-th (1-based) argument.
	Placeholder(n int) string
	// TextType is the engine's unbounded text type; HashType the type RowHash returns.
	TextType() string
	HashType() string
	// CastText casts an expression to text.
	CastText(expr string) string
	// RowHash returns an expression computing a 64-bit hash of the given expressions, used to
	// detect changed rows (the engine's fastest stable hash; NULLs hash distinctly from '').
	RowHash(exprs []string) string
	// DateLiteral and TimestampLiteral return literals for an ISO-8601 date or UTC timestamp.
	DateLiteral(iso string) string
	TimestampLiteral(iso string) string

	// DDL statements.
	CreateSchema(schema string) string // IF NOT EXISTS
	DropSchema(schema string) string   // IF EXISTS ... CASCADE
	CreateOrReplaceView(schema, name, query string) string
	DropView(schema, name string) string // IF EXISTS
	CreateTableAs(schema, name, query string) string
	DropTable(schema, name string) string // IF EXISTS
}
