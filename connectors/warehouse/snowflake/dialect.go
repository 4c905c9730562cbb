package snowflake

import (
	"strings"
	"time"

	"dinmo/connectors/warehouse"
)

// Dialect is Snowflake's SQL dialect. It embeds the ANSI dialect for identifiers and DDL, and
// adds Snowflake's string literals, bind markers, types, hashing and datetime literals.
//
// Identifiers are always double-quoted (embedded double quotes doubled). A quoted identifier
// is case-sensitive in Snowflake, while an unquoted one is stored upper-cased: the schemas dinmo
// creates are therefore the lower-case "dinmo_segments", "dinmo_stats", ... and must be quoted
// when queried by hand (SELECT * FROM "dinmo_segments"."segment_x"). Backslashes have no
// special meaning inside quoted identifiers.
type Dialect struct {
	warehouse.ANSIDialect
}

var _ warehouse.Dialect = Dialect{}

// NewDialect returns the Snowflake dialect.
func NewDialect() warehouse.Dialect {
	return Dialect{ANSIDialect: warehouse.ANSIDialect{Name: warehouse.Snowflake}}
}

// QuoteString returns a single-quoted string constant. In Snowflake a backslash starts an escape
// sequence inside single-quoted constants (\\, \', \n, \0, \ooo, \xhh, \uhhhh, and any other
// escaped character stands for itself), so backslashes are doubled; single quotes are doubled as
// in standard SQL. A NUL is written \x00 (not \0, which a following digit would turn into an
// octal escape), so every value reads back exactly. Other characters, newlines included, are
// written as they are: a single-quoted constant may span lines.
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
			b.WriteString(`\x00`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// Placeholder returns ?, the positional bind marker gosnowflake binds in argument order. The
// n-th marker of a statement takes the n-th argument, so callers pass arguments in the order
// the markers appear (every dinmo statement numbers them in that order).
func (Dialect) Placeholder(int) string { return "?" }

// TextType is Snowflake's text type; VARCHAR without a length is the maximum length.
func (Dialect) TextType() string { return "VARCHAR" }

// HashType is the type HASH returns: a signed 64-bit integer, NUMBER(19,0).
func (Dialect) HashType() string { return "NUMBER(19,0)" }

// CastText returns CAST((expr) AS VARCHAR).
func (Dialect) CastText(expr string) string { return "CAST((" + expr + ") AS VARCHAR)" }

// RowHash returns HASH((e1), (e2), ...): Snowflake's native, deterministic 64-bit hash of several
// values of any type, which never returns NULL. A NULL argument contributes to the hash like
// any value (the documented HASH(NULL), HASH(NULL, NULL) and HASH(NULL, NULL, NULL) all differ),
// so NULL is distinct from an empty string, and the arguments are combined in order, so a value
// moving from one column to another changes the hash. The values are hashed natively, not
// through their text, so session formats (TIMESTAMP_OUTPUT_FORMAT, TIMEZONE) do not affect
// it. Numbers hash by value whatever their type (10 and 10.0 agree), but a number and its text
// differ. With no expressions it returns the constant 0.
//
// Source: Snowflake SQL reference, HASH (docs.snowflake.com/en/sql-reference/functions/hash).
func (Dialect) RowHash(exprs []string) string {
	if len(exprs) == 0 {
		return "CAST(0 AS NUMBER(19,0))"
	}
	wrapped := make([]string, len(exprs))
	for i, e := range exprs {
		wrapped[i] = "(" + e + ")"
	}
	return "HASH(" + strings.Join(wrapped, ", ") + ")"
}

// CreateOrReplaceView returns CREATE OR REPLACE VIEW "schema"."name" COPY GRANTS AS followed by
// the query on its own line. COPY GRANTS keeps the privileges granted on the view being replaced
// (a BI role's SELECT on a segment view, say): without it Snowflake drops them on every
// replacement. Snowflake replaces a view whatever its columns were.
func (d Dialect) CreateOrReplaceView(schema, name, query string) string {
	return "CREATE OR REPLACE VIEW " + d.Qualified(schema, name) + " COPY GRANTS AS\n" + query
}

// dateFormat and timestampFormat are the explicit Snowflake format models of DateLiteral and
// TimestampLiteral, so the literals do not depend on the session's DATE_INPUT_FORMAT or
// TIMESTAMP_INPUT_FORMAT (which an account may set to something other than AUTO).
const (
	dateFormat      = "YYYY-MM-DD"
	timestampFormat = "YYYY-MM-DD HH24:MI:SS.FF6 TZH:TZM"
	// timestampLayout is the Go layout producing text that timestampFormat reads: always six
	// fraction digits and an explicit offset.
	timestampLayout = "2006-01-02 15:04:05.000000 -07:00"
	// normalizedLayout is what warehouse.NormalizeTimestamp produces.
	normalizedLayout = "2006-01-02 15:04:05.999999-07:00"
)

// DateLiteral returns TO_DATE('<iso>', 'YYYY-MM-DD'). An invalid date still yields a safely
// quoted literal, which Snowflake rejects when it runs the statement.
func (d Dialect) DateLiteral(iso string) string {
	return "TO_DATE(" + d.QuoteString(iso) + ", " + d.QuoteString(dateFormat) + ")"
}

// TimestampLiteral returns TO_TIMESTAMP_TZ('<timestamp>', 'YYYY-MM-DD HH24:MI:SS.FF6 TZH:TZM'),
// the value normalised to UTC with microsecond precision. Input that is not a timestamp is
// quoted as given, and Snowflake rejects it.
func (d Dialect) TimestampLiteral(iso string) string {
	text := warehouse.NormalizeTimestamp(iso)
	if t, err := time.Parse(normalizedLayout, text); err == nil {
		text = t.UTC().Format(timestampLayout)
	}
	return "TO_TIMESTAMP_TZ(" + d.QuoteString(text) + ", " + d.QuoteString(timestampFormat) + ")"
}
