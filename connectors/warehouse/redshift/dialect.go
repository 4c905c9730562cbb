package redshift

import (
	"strings"

	"dinmo/connectors/warehouse"
)

// Dialect is Amazon Redshift's SQL dialect. It embeds the ANSI dialect for identifiers, $n
// placeholders and most DDL, and adds Redshift's string literals, types, hashing, datetime
// literals and late-binding views.
//
// Identifiers are double-quoted with embedded double quotes doubled. Redshift forbids double
// quotes inside a delimited identifier altogether, so such a name is rejected by the server
// rather than misread. Note that Redshift folds even quoted identifiers to lower case unless the
// enable_case_sensitive_identifier setting is on: "MixedCase" names the table mixedcase.
type Dialect struct {
	warehouse.ANSIDialect
}

var _ warehouse.Dialect = Dialect{}

// NewDialect returns the Redshift dialect.
func NewDialect() warehouse.Dialect {
	return Dialect{ANSIDialect: warehouse.ANSIDialect{Name: warehouse.Redshift}}
}

// textType is the widest VARCHAR of Redshift, in bytes. Redshift has no unbounded text type in
// tables: TEXT is an alias of VARCHAR(256), which would truncate or reject longer values.
const textType = "VARCHAR(65535)"

// QuoteString returns a single-quoted string literal. Redshift, unlike PostgreSQL 9.1 and later,
// treats a backslash in an ordinary literal as the start of an escape sequence ('\n' is a
// newline), so backslashes are doubled along with single quotes: this is what Redshift's own
// QUOTE_LITERAL does. NUL bytes are removed: Redshift strings cannot hold them and the
// PostgreSQL wire protocol ends the statement at one; callers that must keep arbitrary bytes
// bind parameters instead. Any other character, newlines included, is written as it is.
func (Dialect) QuoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '\'':
			b.WriteString(`''`)
		case 0:
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// TextType is VARCHAR(65535), the widest text column Redshift has.
func (Dialect) TextType() string { return textType }

// HashType is the type FNV_HASH returns.
func (Dialect) HashType() string { return "BIGINT" }

// CastText returns CAST((expr) AS VARCHAR(65535)). A plain VARCHAR or TEXT cast would be
// VARCHAR(256) and fail on longer values.
func (Dialect) CastText(expr string) string { return "CAST((" + expr + ") AS " + textType + ")" }

// RowHash returns a chain of FNV_HASH calls, Redshift's native 64-bit FNV-1a hash, over the text
// of each expression. FNV_HASH(value, seed) continues the hash of seed with the bytes of value,
// so a chain hashes the concatenation of its inputs (the Redshift documentation shows
// FNV_HASH('cd', FNV_HASH('ab')) = FNV_HASH('abcd')): hashing the values alone would make
// ('ab', 'cd') and ('abc', 'd') collide, and a NULL input is not documented. Each expression t
// is therefore hashed as its byte length, a BIGINT that is -1 for NULL, followed by its text
// (empty for NULL):
//
//	h = FNV_HASH(CAST(COALESCE(OCTET_LENGTH(t1), -1) AS BIGINT))
//	h = FNV_HASH(COALESCE(t1, ''), h)
//	h = FNV_HASH(CAST(COALESCE(OCTET_LENGTH(t2), -1) AS BIGINT), h) ...
//
// That encoding is unambiguous: NULL differs from the empty string, and values cannot shift between columns.
// The expressions are cast to VARCHAR(65535) first so every type hashes the same way; the text
// of timestamptz and float values depends on session settings (timezone, extra_float_digits),
// which the connector must pin so hashes are stable between runs. With no expressions it
// returns the constant 0.
//
// Source: Amazon Redshift Database Developer Guide, FNV_HASH function
// (docs.aws.amazon.com/redshift/latest/dg/r_FNV_HASH.html).
func (d Dialect) RowHash(exprs []string) string {
	if len(exprs) == 0 {
		return "CAST(0 AS BIGINT)"
	}
	h := ""
	for _, e := range exprs {
		t := d.CastText(e)
		h = fnvHash("CAST(COALESCE(OCTET_LENGTH("+t+"), -1) AS BIGINT)", h)
		h = fnvHash("COALESCE("+t+", '')", h)
	}
	return h
}

// fnvHash returns FNV_HASH(value), or FNV_HASH(value, seed) when seed is not empty.
func fnvHash(value, seed string) string {
	if seed == "" {
		return "FNV_HASH(" + value + ")"
	}
	return "FNV_HASH(" + value + ", " + seed + ")"
}

// DateLiteral returns CAST('<iso>' AS DATE). An ISO date (year first) reads the same whatever
// the DateStyle; an invalid one is still safely quoted and Redshift rejects it.
func (d Dialect) DateLiteral(iso string) string {
	return "CAST(" + d.QuoteString(iso) + " AS DATE)"
}

// TimestampLiteral returns CAST('<timestamp>' AS TIMESTAMPTZ), the value normalised to UTC with
// an explicit offset, so the session time zone does not change its meaning.
func (d Dialect) TimestampLiteral(iso string) string {
	return "CAST(" + d.QuoteString(warehouse.NormalizeTimestamp(iso)) + " AS TIMESTAMPTZ)"
}

// CreateOrReplaceView returns CREATE OR REPLACE VIEW "schema"."name" AS <query> WITH NO SCHEMA
// BINDING: a late-binding view, checked against its tables when queried rather than bound to
// them when created. dinmo uses late-binding views on Redshift because:
//
//   - the tables under a model are rebuilt by the user's pipelines (dbt drops and re-creates
//     them); a bound view blocks DROP TABLE, or disappears with DROP TABLE ... CASCADE, while a
//     late-binding view keeps working once the table is back;
//   - views over external (Redshift Spectrum) tables must be late-binding;
//   - replacing a model's view does not drop the segment views built on it.
//
// The price is that every table a model's query reads must be schema-qualified (Redshift rejects
// a late-binding view that names an unqualified table), and that a missing table or column is
// reported when the view is queried rather than when it is created; dinmo reads the columns of
// every model query before creating its view, so such errors still surface at apply time.
//
// The query is put on its own line and its trailing semicolons are removed, so neither a
// trailing line comment nor a semicolon can swallow the clause.
func (d Dialect) CreateOrReplaceView(schema, name, query string) string {
	return "CREATE OR REPLACE VIEW " + d.Qualified(schema, name) + " AS\n" +
		warehouse.TrimQuery(query) + "\nWITH NO SCHEMA BINDING"
}
