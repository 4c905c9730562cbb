package segment

import (
	"strings"

	"dinmo/connectors/warehouse"
)

// testDialect is a minimal ANSI dialect independent of the engine packages, so the validation
// tests do not depend on their evolution. Only the methods the compiler uses matter.
type testDialect struct{}

var _ warehouse.Dialect = testDialect{}

func (testDialect) Engine() warehouse.Engine { return "test" }
func (testDialect) QuoteIdent(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func (d testDialect) Qualified(parts ...string) string {
	q := make([]string, len(parts))
	for i, p := range parts {
		q[i] = d.QuoteIdent(p)
	}
	return strings.Join(q, ".")
}
func (testDialect) QuoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
func (testDialect) Placeholder(n int) string    { return "?" }
func (testDialect) TextType() string            { return "TEXT" }
func (testDialect) HashType() string            { return "BIGINT" }
func (testDialect) CastText(expr string) string { return "CAST(" + expr + " AS TEXT)" }
func (testDialect) RowHash(exprs []string) string {
	return "hash(" + strings.Join(exprs, ", ") + ")"
}
func (d testDialect) DateLiteral(iso string) string      { return "DATE " + d.QuoteString(iso) }
func (d testDialect) TimestampLiteral(iso string) string { return "TIMESTAMP " + d.QuoteString(iso) }
func (testDialect) CreateSchema(schema string) string    { return "" }
func (testDialect) DropSchema(schema string) string      { return "" }
func (testDialect) CreateOrReplaceView(schema, name, query string) string {
	return ""
}
func (testDialect) DropView(schema, name string) string             { return "" }
func (testDialect) CreateTableAs(schema, name, query string) string { return "" }
func (testDialect) DropTable(schema, name string) string            { return "" }

// bigQueryDialect only differs from testDialect by its engine, which selects the LIKE form
// without an ESCAPE clause.
type bigQueryDialect struct{ testDialect }

func (bigQueryDialect) Engine() warehouse.Engine { return warehouse.BigQuery }

// The test dialect has date and aggregate SQL of its own, so trees using them compile with it.
var (
	_ DateDialect      = testDialect{}
	_ AggregateDialect = testDialect{}
)

func (testDialect) CurrentTimestamp() string { return "CURRENT_TIMESTAMP" }
func (testDialect) CurrentDate() string      { return "CURRENT_DATE" }
func (testDialect) AddToTimestamp(expr string, n int64, unit string) string {
	return "(" + expr + " " + sign(n) + " INTERVAL " + itoa(abs(n)) + " " + upper(unit) + ")"
}
func (d testDialect) AddToDate(expr string, n int64, unit string) string {
	return "CAST(" + d.AddToTimestamp(expr, n, unit) + " AS DATE)"
}
func (testDialect) ISOWeekday(expr string, _ warehouse.TypeCategory) string {
	return "EXTRACT(ISODOW FROM " + expr + ")"
}
func (testDialect) Month(expr string, _ warehouse.TypeCategory) string {
	return "EXTRACT(MONTH FROM " + expr + ")"
}
func (testDialect) FloatType() string { return "DOUBLE" }
func (testDialect) ValueAtExtreme(value, order string, last bool) (string, bool) {
	if last {
		return "MAX_BY(" + value + ", " + order + ")", true
	}
	return "MIN_BY(" + value + ", " + order + ")", true
}
