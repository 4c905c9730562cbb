package bigquery

import (
	"strconv"
	"strings"

	"dinmo/connectors/warehouse"
)

// Dialect is BigQuery's SQL dialect (GoogleSQL). It does not embed the ANSI dialect: every
// method that quotes uses backticks for identifiers and backslash escapes for strings.
//
// Source for the quoting rules: GoogleSQL for BigQuery, "Lexical structure and syntax"
// (cloud.google.com/bigquery/docs/reference/standard-sql/lexical).
type Dialect struct{}

var _ warehouse.Dialect = Dialect{}

// NewDialect returns the BigQuery dialect.
func NewDialect() warehouse.Dialect { return Dialect{} }

// Engine returns warehouse.BigQuery.
func (Dialect) Engine() warehouse.Engine { return warehouse.BigQuery }

// QuoteIdent quotes one name part with backticks. Quoted identifiers take the escape sequences
// of string literals, so backslashes, backticks, newlines and control characters are escaped
// (\\, \`, \n, ...). NUL bytes, which no BigQuery name may hold, are removed.
//
// A backtick-quoted identifier is one name part everywhere except in a table path, where
// BigQuery splits it at dots (`project.dataset.table` is a valid path): no single dataset,
// table or column name may contain a dot, so dinmo only quotes names without one, and callers
// quoting user-supplied names must validate them first.
func (Dialect) QuoteIdent(name string) string {
	return quote(strings.ReplaceAll(name, "\x00", ""), '`')
}

// Qualified quotes each part with QuoteIdent and joins them with dots:
// `project`.`dataset`.`table`.
func (d Dialect) Qualified(parts ...string) string {
	quoted := make([]string, len(parts))
	for i, p := range parts {
		quoted[i] = d.QuoteIdent(p)
	}
	return strings.Join(quoted, ".")
}

// QuoteString returns a single-quoted string literal. In GoogleSQL a backslash always starts an
// escape sequence, a single quote is written \' (two quotes would be two literals), and a quoted
// string cannot span lines, so backslashes, single quotes, newlines, carriage returns and every
// other control character are escaped (\\, \', \n, \r, \t, \xhh with exactly two hex digits).
// NUL is written \x00, so every value reads back exactly.
func (Dialect) QuoteString(s string) string { return quote(s, '\'') }

// quote encloses s in delim with GoogleSQL escapes.
func quote(s string, delim byte) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte(delim)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' || c == delim:
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c == 0x7f:
			b.WriteString(`\x`)
			if c < 0x10 {
				b.WriteByte('0')
			}
			b.WriteString(strconv.FormatUint(uint64(c), 16))
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte(delim)
	return b.String()
}

// Placeholder returns ?, a positional query parameter: the n-th marker of a statement takes the
// n-th parameter, so callers pass arguments in the order the markers appear (every dinmo
// statement numbers them in that order).
func (Dialect) Placeholder(int) string { return "?" }

// TextType is BigQuery's unbounded text type.
func (Dialect) TextType() string { return "STRING" }

// HashType is the type FARM_FINGERPRINT returns.
func (Dialect) HashType() string { return "INT64" }

// CastText returns CAST((expr) AS STRING).
func (Dialect) CastText(expr string) string { return "CAST((" + expr + ") AS STRING)" }

// RowHash returns FARM_FINGERPRINT(TO_JSON_STRING(STRUCT((e1) AS c1, (e2) AS c2, ...))): the
// row is serialised as one JSON object with a key per position and fingerprinted with BigQuery's
// stable 64-bit FarmHash. The serialisation is unambiguous, which concatenating values is not:
// a NULL is written null and an empty string "" (they differ), strings are quoted and escaped
// so no value can bleed into the next, and each value keeps its type (1 and '1' differ).
// TO_JSON_STRING writes timestamps in UTC, so the hash of a row does not depend on who reads
// it. With no expressions it returns the constant 0.
//
// Sources: GoogleSQL for BigQuery, FARM_FINGERPRINT (hash functions) and TO_JSON_STRING (JSON
// functions).
func (Dialect) RowHash(exprs []string) string {
	if len(exprs) == 0 {
		return "CAST(0 AS INT64)"
	}
	fields := make([]string, len(exprs))
	for i, e := range exprs {
		fields[i] = "(" + e + ") AS c" + strconv.Itoa(i+1)
	}
	return "FARM_FINGERPRINT(TO_JSON_STRING(STRUCT(" + strings.Join(fields, ", ") + ")))"
}

// DateLiteral returns DATE '<iso>'. An invalid date is still safely quoted, and BigQuery
// rejects it.
func (d Dialect) DateLiteral(iso string) string { return "DATE " + d.QuoteString(iso) }

// TimestampLiteral returns TIMESTAMP '<timestamp>', the value normalised to UTC with an explicit
// offset. A BigQuery TIMESTAMP is an absolute instant (microsecond precision).
func (d Dialect) TimestampLiteral(iso string) string {
	return "TIMESTAMP " + d.QuoteString(warehouse.NormalizeTimestamp(iso))
}

// CreateSchema returns CREATE SCHEMA IF NOT EXISTS `dataset`. The dataset is created in the
// project and location the query job runs in: the connector runs its jobs in the source's
// location, so the dinmo_* datasets sit next to the data they are joined with.
func (d Dialect) CreateSchema(schema string) string {
	return "CREATE SCHEMA IF NOT EXISTS " + d.QuoteIdent(schema)
}

// DropSchema returns DROP SCHEMA IF EXISTS `dataset` CASCADE, which deletes the dataset with
// every table and view dinmo created in it.
func (d Dialect) DropSchema(schema string) string {
	return "DROP SCHEMA IF EXISTS " + d.QuoteIdent(schema) + " CASCADE"
}

// CreateOrReplaceView returns CREATE OR REPLACE VIEW `dataset`.`name` AS followed by the query
// on its own line, so a trailing line comment in the query cannot swallow anything. BigQuery
// replaces a view whatever its columns were.
func (d Dialect) CreateOrReplaceView(schema, name, query string) string {
	return "CREATE OR REPLACE VIEW " + d.Qualified(schema, name) + " AS\n" + query
}

// DropView returns DROP VIEW IF EXISTS `dataset`.`name`.
func (d Dialect) DropView(schema, name string) string {
	return "DROP VIEW IF EXISTS " + d.Qualified(schema, name)
}

// CreateTableAs returns CREATE TABLE `dataset`.`name` AS followed by the query on its own line.
func (d Dialect) CreateTableAs(schema, name, query string) string {
	return "CREATE TABLE " + d.Qualified(schema, name) + " AS\n" + query
}

// DropTable returns DROP TABLE IF EXISTS `dataset`.`name`.
func (d Dialect) DropTable(schema, name string) string {
	return "DROP TABLE IF EXISTS " + d.Qualified(schema, name)
}
