package duckdb

import (
	"strings"

	"dinmo/connectors/warehouse"
)

// Dialect is DuckDB's SQL dialect. It embeds the ANSI dialect for identifiers, strings,
// placeholders and DDL, and adds DuckDB's types and hashing.
type Dialect struct {
	warehouse.ANSIDialect
}

var _ warehouse.Dialect = Dialect{}

// NewDialect returns the DuckDB dialect.
func NewDialect() Dialect {
	return Dialect{ANSIDialect: warehouse.ANSIDialect{Name: warehouse.DuckDB}}
}

// TextType is DuckDB's unbounded text type.
func (Dialect) TextType() string { return "VARCHAR" }

// HashType is the type hash() returns; scan it into a uint64 (it overflows BIGINT).
func (Dialect) HashType() string { return "UBIGINT" }

// CastText returns CAST((expr) AS VARCHAR).
func (Dialect) CastText(expr string) string { return "CAST((" + expr + ") AS VARCHAR)" }

// TimestampLiteral returns TIMESTAMPTZ '<timestamp>', the value normalised to UTC.
func (d Dialect) TimestampLiteral(iso string) string {
	return "TIMESTAMPTZ " + d.QuoteString(warehouse.NormalizeTimestamp(iso))
}

// RowHash returns hash(e1, e2, ...), DuckDB's native 64-bit hash of several values (UBIGINT).
// It combines per-argument hashes by position, so hash('a', 'b') and hash('ab', <empty string>) differ, NULL (of
// any type) hashes to a fixed value distinct from the empty string, and hash(NULL, 'a') differs
// from hash('a', NULL). Integers hash by value whatever their width (INTEGER 1 = BIGINT 1),
// but values of different type families differ (1 and '1'). The hash function is DuckDB's
// own: it is stable within a DuckDB version, and a DuckDB upgrade that changes it makes the
// next delta run see every row as changed (a full resend, never a lost change). With no
// expressions it returns the constant 0.
func (Dialect) RowHash(exprs []string) string {
	if len(exprs) == 0 {
		return "CAST(0 AS UBIGINT)"
	}
	wrapped := make([]string, len(exprs))
	for i, e := range exprs {
		wrapped[i] = "(" + e + ")"
	}
	return "hash(" + strings.Join(wrapped, ", ") + ")"
}
