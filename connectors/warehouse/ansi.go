package warehouse

import (
	"strconv"
	"strings"
)

// ANSIDialect implements the parts of Dialect that standard SQL engines share: double-quoted
// identifiers, single-quoted strings, $n placeholders, typed DATE/TIMESTAMP literals and the
// IF [NOT] EXISTS DDL forms. It deliberately does not implement TextType, HashType, CastText
// and RowHash, which have no portable form: an engine embeds ANSIDialect and must add them, so
// a missing engine-specific method is a compile error rather than a silently wrong default.
//
// Go has no virtual dispatch: ANSIDialect's methods always quote with ANSI rules, even when the
// embedding engine overrides QuoteIdent or QuoteString. An engine with other quoting rules
// (backticks, E'...' escape strings) must override every method that quotes, or not embed ANSIDialect.
type ANSIDialect struct {
	// Name is the engine the embedding dialect belongs to.
	Name Engine
}

// Engine returns the engine of the embedding dialect.
func (d ANSIDialect) Engine() Engine { return d.Name }

// QuoteIdent quotes one identifier part with double quotes, doubling embedded double quotes.
func (ANSIDialect) QuoteIdent(name string) string { return QuoteIdentANSI(name) }

// Qualified quotes each part with QuoteIdent and joins them with dots.
func (ANSIDialect) Qualified(parts ...string) string { return QualifiedANSI(parts...) }

// QuoteString quotes a string literal with single quotes, doubling embedded single quotes.
func (ANSIDialect) QuoteString(s string) string { return QuoteStringANSI(s) }

// Placeholder returns $n, the positional parameter marker of PostgreSQL and DuckDB.
func (ANSIDialect) Placeholder(n int) string { return "$" + strconv.Itoa(n) }

// DateLiteral returns DATE '<iso>'. The input should be validated with ValidateDate first (the
// segment compiler does); an invalid value still yields a safely quoted literal, which the
// warehouse then rejects.
func (d ANSIDialect) DateLiteral(iso string) string {
	return "DATE " + QuoteStringANSI(iso)
}

// TimestampLiteral returns TIMESTAMP WITH TIME ZONE '<timestamp>', the value normalised to UTC
// by NormalizeTimestamp. Engines whose short spelling differs override it.
func (d ANSIDialect) TimestampLiteral(iso string) string {
	return "TIMESTAMP WITH TIME ZONE " + QuoteStringANSI(NormalizeTimestamp(iso))
}

// CreateSchema returns CREATE SCHEMA IF NOT EXISTS "schema".
func (ANSIDialect) CreateSchema(schema string) string {
	return "CREATE SCHEMA IF NOT EXISTS " + QuoteIdentANSI(schema)
}

// DropSchema returns DROP SCHEMA IF EXISTS "schema" CASCADE: dropping a managed schema drops
// everything dinmo created in it.
func (ANSIDialect) DropSchema(schema string) string {
	return "DROP SCHEMA IF EXISTS " + QuoteIdentANSI(schema) + " CASCADE"
}

// CreateOrReplaceView returns CREATE OR REPLACE VIEW "schema"."name" AS followed by the query
// on its own line, so a trailing line comment in the query cannot swallow anything. On
// PostgreSQL this fails when the view's columns change; use ReplaceView to replace robustly.
func (ANSIDialect) CreateOrReplaceView(schema, name, query string) string {
	return "CREATE OR REPLACE VIEW " + QualifiedANSI(schema, name) + " AS\n" + query
}

// DropView returns DROP VIEW IF EXISTS "schema"."name". It does not cascade: a view that
// others depend on is reported by the warehouse instead of silently taking them with it.
func (ANSIDialect) DropView(schema, name string) string {
	return "DROP VIEW IF EXISTS " + QualifiedANSI(schema, name)
}

// CreateTableAs returns CREATE TABLE "schema"."name" AS followed by the query on its own line.
func (ANSIDialect) CreateTableAs(schema, name, query string) string {
	return "CREATE TABLE " + QualifiedANSI(schema, name) + " AS\n" + query
}

// DropTable returns DROP TABLE IF EXISTS "schema"."name".
func (ANSIDialect) DropTable(schema, name string) string {
	return "DROP TABLE IF EXISTS " + QualifiedANSI(schema, name)
}

// QuoteIdentANSI quotes an identifier with double quotes, doubling embedded double quotes.
// NUL bytes, which no engine accepts in a name and which C-based drivers would treat as the
// end of the statement, are removed; callers that care validate names before quoting them.
func QuoteIdentANSI(name string) string {
	name = stripNUL(name)
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

// QualifiedANSI quotes each part with QuoteIdentANSI and joins them with dots.
func QualifiedANSI(parts ...string) string {
	quoted := make([]string, len(parts))
	for i, p := range parts {
		quoted[i] = QuoteIdentANSI(p)
	}
	return strings.Join(quoted, ".")
}

// QuoteStringANSI quotes a string literal with single quotes, doubling embedded single quotes.
// Backslashes are ordinary characters in standard SQL strings and are kept as they are. NUL
// bytes are removed (PostgreSQL text cannot hold them and C drivers would truncate the
// statement at them); callers that must preserve arbitrary bytes bind parameters instead.
func QuoteStringANSI(s string) string {
	s = stripNUL(s)
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func stripNUL(s string) string {
	if strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(s, "\x00", "")
}
