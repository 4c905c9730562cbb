package databricks

import (
	"strings"

	"dinmo/connectors/warehouse"
)

// Dialect is the SQL dialect of Databricks SQL warehouses (Spark SQL with Unity Catalog). It
// does not embed the ANSI dialect: every method that quotes uses backticks for identifiers and
// backslash escapes for strings.
//
// Sources: Databricks SQL language reference, "Identifiers" and "STRING type" (literals), and
// Apache Spark's SparkParserUtils.unescapeSQLString, which decodes string literals.
type Dialect struct{}

var _ warehouse.Dialect = Dialect{}

// NewDialect returns the Databricks dialect.
func NewDialect() warehouse.Dialect { return Dialect{} }

// Engine returns warehouse.Databricks.
func (Dialect) Engine() warehouse.Engine { return warehouse.Databricks }

// QuoteIdent quotes one name part with backticks, doubling embedded backticks; backslashes have
// no special meaning between backticks. NUL bytes, which no name may hold, are removed.
// Databricks identifiers are case-insensitive even when quoted, and Unity Catalog further
// restricts the characters of schema and table names (no dot, space, slash or control
// character), which the server enforces.
//
// Spark substitutes ${...} variables in the statement text before parsing it, and a
// backtick-quoted identifier has no escape that can prevent it: names containing "${" must be
// rejected by the caller (dinmo's own names never contain one).
func (Dialect) QuoteIdent(name string) string {
	name = strings.ReplaceAll(name, "\x00", "")
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

// Qualified quotes each part with QuoteIdent and joins them with dots:
// `catalog`.`schema`.`table`.
func (d Dialect) Qualified(parts ...string) string {
	quoted := make([]string, len(parts))
	for i, p := range parts {
		quoted[i] = d.QuoteIdent(p)
	}
	return strings.Join(quoted, ".")
}

// QuoteString returns a single-quoted string literal that reads back exactly:
//
//   - a backslash starts an escape sequence, so it is doubled, and a single quote is written \'
//     (two adjacent quotes would be two literals, which Spark concatenates without the quote);
//   - NUL is written \u0000 (not \0, which Spark reads as an octal escape when two octal digits
//     follow);
//   - "$" is written \u0024 when "{" follows, because Spark replaces ${name}, ${env:NAME} and
//     ${system:name} in the statement text before parsing it (spark.sql.variable.substitute,
//     on by default), even inside literals: an unknown name becomes an empty string, and
//     ${env:...} would read the server's environment;
//   - newlines and other characters are written as they are: a literal may span lines.
//
// Literals assume spark.sql.parser.escapedStringLiterals is off, its default.
func (Dialect) QuoteString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' || c == '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == 0:
			b.WriteString(`\u0000`)
		case c == '$' && i+1 < len(s) && s[i+1] == '{':
			b.WriteString(`\u0024`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// Placeholder returns ?, an unnamed parameter marker: the n-th marker of a statement takes the
// n-th argument, so callers pass arguments in the order the markers appear (every dinmo
// statement numbers them in that order).
func (Dialect) Placeholder(int) string { return "?" }

// TextType is Databricks' unbounded text type.
func (Dialect) TextType() string { return "STRING" }

// HashType is the type xxhash64 returns.
func (Dialect) HashType() string { return "BIGINT" }

// CastText returns CAST((expr) AS STRING).
func (Dialect) CastText(expr string) string { return "CAST((" + expr + ") AS STRING)" }

// RowHash returns xxhash64((e1) IS NULL, (e1), (e2) IS NULL, (e2), ...): Spark's native 64-bit
// xxHash of the values, hashed by type (not through their text, so the session time zone does
// not matter). xxhash64 skips NULL arguments, leaving the running hash unchanged, so on its own
// xxhash64(NULL, 'x') = xxhash64('x', NULL) = xxhash64('x'): a value moving between nullable
// columns would go unnoticed. Each value is therefore preceded by its NULL flag, which makes the
// sequence of hashed values unambiguous (a NULL contributes TRUE, a value FALSE and then
// itself). An empty string still hashes differently from NULL. Columns of MAP type cannot be
// hashed (Spark rejects them); string columns with a non-binary collation hash by their
// collation key. With no expressions it returns the constant 0.
//
// Source: Apache Spark, catalyst/expressions/hash.scala (HashExpression, XxHash64; seed 42).
func (Dialect) RowHash(exprs []string) string {
	if len(exprs) == 0 {
		return "CAST(0 AS BIGINT)"
	}
	args := make([]string, 0, 2*len(exprs))
	for _, e := range exprs {
		args = append(args, "("+e+") IS NULL", "("+e+")")
	}
	return "xxhash64(" + strings.Join(args, ", ") + ")"
}

// DateLiteral returns DATE '<iso>'. An invalid date is still safely quoted, and Databricks
// rejects it.
func (d Dialect) DateLiteral(iso string) string { return "DATE " + d.QuoteString(iso) }

// TimestampLiteral returns TIMESTAMP '<timestamp>', the value normalised to UTC with an explicit
// offset, so it denotes the same instant whatever the session time zone.
func (d Dialect) TimestampLiteral(iso string) string {
	return "TIMESTAMP " + d.QuoteString(warehouse.NormalizeTimestamp(iso))
}

// CreateSchema returns CREATE SCHEMA IF NOT EXISTS `schema`, created in the session's current
// catalog (the source's catalog setting).
func (d Dialect) CreateSchema(schema string) string {
	return "CREATE SCHEMA IF NOT EXISTS " + d.QuoteIdent(schema)
}

// DropSchema returns DROP SCHEMA IF EXISTS `schema` CASCADE, which drops every table and view
// dinmo created in it.
func (d Dialect) DropSchema(schema string) string {
	return "DROP SCHEMA IF EXISTS " + d.QuoteIdent(schema) + " CASCADE"
}

// CreateOrReplaceView returns CREATE OR REPLACE VIEW `schema`.`name` AS followed by the query on
// its own line, so a trailing line comment in the query cannot swallow anything. Databricks
// replaces a view whatever its columns were.
func (d Dialect) CreateOrReplaceView(schema, name, query string) string {
	return "CREATE OR REPLACE VIEW " + d.Qualified(schema, name) + " AS\n" + query
}

// DropView returns DROP VIEW IF EXISTS `schema`.`name`.
func (d Dialect) DropView(schema, name string) string {
	return "DROP VIEW IF EXISTS " + d.Qualified(schema, name)
}

// CreateTableAs returns CREATE TABLE `schema`.`name` AS followed by the query on its own line
// (a managed Delta table).
func (d Dialect) CreateTableAs(schema, name, query string) string {
	return "CREATE TABLE " + d.Qualified(schema, name) + " AS\n" + query
}

// DropTable returns DROP TABLE IF EXISTS `schema`.`name`.
func (d Dialect) DropTable(schema, name string) string {
	return "DROP TABLE IF EXISTS " + d.Qualified(schema, name)
}
