package postgres

import (
	"strings"

	"dinmo/connectors/warehouse"
)

// Dialect is PostgreSQL's SQL dialect. It embeds the ANSI dialect for identifiers, placeholders
// and DDL, and adds PostgreSQL's types, hashing and string quoting.
type Dialect struct {
	warehouse.ANSIDialect
}

var _ warehouse.Dialect = Dialect{}

// NewDialect returns the PostgreSQL dialect.
func NewDialect() Dialect {
	return Dialect{ANSIDialect: warehouse.ANSIDialect{Name: warehouse.Postgres}}
}

// QuoteString quotes a string literal. A string containing a backslash is written as an
// escape string (E'...', backslashes doubled) so its meaning does not depend on the server's
// standard_conforming_strings setting; any other string is a standard literal. This is what
// libpq's PQescapeLiteral does. NUL bytes are removed (PostgreSQL text cannot hold them).
func (Dialect) QuoteString(s string) string {
	if !strings.Contains(s, `\`) {
		return warehouse.QuoteStringANSI(s)
	}
	s = strings.ReplaceAll(s, "\x00", "")
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "E'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// DateLiteral returns DATE '<iso>', quoted with QuoteString.
func (d Dialect) DateLiteral(iso string) string {
	return "DATE " + d.QuoteString(iso)
}

// TimestampLiteral returns TIMESTAMPTZ '<timestamp>', the value normalised to UTC.
func (d Dialect) TimestampLiteral(iso string) string {
	return "TIMESTAMPTZ " + d.QuoteString(warehouse.NormalizeTimestamp(iso))
}

// TextType is PostgreSQL's unbounded text type.
func (Dialect) TextType() string { return "text" }

// HashType is the type hash_record_extended returns.
func (Dialect) HashType() string { return "bigint" }

// CastText returns CAST((expr) AS text).
func (Dialect) CastText(expr string) string { return "CAST((" + expr + ") AS text)" }

// RowHash returns hash_record_extended(ROW(CAST((e1) AS text), ...), 0): a 64-bit hash of the
// row (PostgreSQL 14 or later). Every expression is cast to text first so any type hashes,
// including json, which has no hash function; NULL fields hash differently from empty strings. The text of
// timestamptz, interval and float values depends on session settings, which the connector pins
// (see Warehouse.DB) so the hash is stable between runs and sessions.
// With no expressions it returns the constant 0.
func (d Dialect) RowHash(exprs []string) string {
	if len(exprs) == 0 {
		return "CAST(0 AS bigint)"
	}
	cast := make([]string, len(exprs))
	for i, e := range exprs {
		cast[i] = d.CastText(e)
	}
	return "hash_record_extended(ROW(" + strings.Join(cast, ", ") + "), 0)"
}
