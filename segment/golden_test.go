package segment

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/bigquery"
	"dinmo/connectors/warehouse/databricks"
	"dinmo/connectors/warehouse/duckdb"
	"dinmo/connectors/warehouse/postgres"
	"dinmo/connectors/warehouse/redshift"
	"dinmo/connectors/warehouse/snowflake"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// engineDialects are the real dialects the compiler is golden-tested and fuzzed with.
func engineDialects() []warehouse.Dialect {
	return []warehouse.Dialect{postgres.NewDialect(), duckdb.NewDialect(), snowflake.NewDialect(), bigquery.NewDialect(), redshift.NewDialect(), databricks.NewDialect()}
}

// Hostile names and values for the golden cases.
const (
	goldenSchema = warehouse.SchemaSegments
	goldenView   = `model "x"; --`
	colWeird     = `we"ird`
	colUnicode   = "naïve 名前"
	colQuote     = "it's"
)

var goldenColumns = []warehouse.Column{
	{Name: "email", DatabaseType: "text", Category: warehouse.TypeString},
	{Name: colWeird, DatabaseType: "text", Category: warehouse.TypeString},
	{Name: colUnicode, DatabaseType: "text", Category: warehouse.TypeString},
	{Name: colQuote, DatabaseType: "bigint", Category: warehouse.TypeInteger},
	{Name: "Amount", DatabaseType: "numeric(12,2)", Category: warehouse.TypeNumber},
	{Name: "flag", DatabaseType: "boolean", Category: warehouse.TypeBoolean},
	{Name: "day", DatabaseType: "date", Category: warehouse.TypeDate},
	{Name: "at", DatabaseType: "timestamptz", Category: warehouse.TypeTimestamp},
	{Name: "blob", DatabaseType: "bytea", Category: warehouse.TypeOther},
	{Name: "ref", DatabaseType: "uuid", Category: warehouse.TypeString},
}

var goldenCases = []execCase{
	{"all rows", Group{Match: MatchAll}},
	{"all rows any", Group{Match: MatchAny}},
	{"equals", all_(cond("email", OpEquals, "a@example.com"))},
	{"not_equals", all_(cond("email", OpNotEquals, "a@example.com"))},
	{"in", all_(list("email", OpIn, "a", "b", "c"))},
	{"not_in", all_(list("email", OpNotIn, "a", "b"))},
	{"contains", all_(cond("email", OpContains, "@example"))},
	{"not_contains", all_(cond("email", OpNotContains, "@example"))},
	{"starts_with", all_(cond("email", OpStartsWith, "admin"))},
	{"ends_with", all_(cond("email", OpEndsWith, ".fr"))},
	{"integer comparisons", all_(cond(colQuote, OpGT, "+18"), cond(colQuote, OpGTE, "-5"), cond(colQuote, OpLT, "007"), cond(colQuote, OpLTE, "9223372036854775807"))},
	{"number comparisons", all_(cond("Amount", OpEquals, "12.50"), cond("Amount", OpNotEquals, "-0.000000000000000000000000000001"), list("Amount", OpBetween, "-1.5", "+123456789012345678901234567890.123456789"))},
	{"number in", all_(list("Amount", OpIn, "1", "2.5", "-3"), list("Amount", OpNotIn, "0"))},
	{"dates", all_(cond("day", OpEquals, "2024-02-29"), list("day", OpBetween, "2024-01-01", "2024-12-31"), list("day", OpNotIn, "2024-05-01"))},
	{"timestamps", all_(cond("at", OpGT, "2024-05-01T15:45:00+02:00"), cond("at", OpLTE, "2024-05-01 13:45:00.123456"), list("at", OpBetween, "2024-01-01T00:00:00Z", "2024-12-31T23:59:59.999999Z"))},
	{"booleans", any_(cond("flag", OpIsTrue), cond("flag", OpIsFalse))},
	{"nulls", all_(cond("blob", OpIsNull), cond("flag", OpIsNotNull), cond(colUnicode, OpIsNull))},
	{"hostile identifiers", all_(cond(colWeird, OpEquals, "x"), cond(colUnicode, OpContains, "y"), cond(colQuote, OpEquals, "1"))},
	{"hostile quote", all_(cond("email", OpEquals, "O'Brien"), cond("email", OpContains, "'"))},
	{"hostile injection", any_(cond("email", OpEquals, "'; DROP TABLE x; --"), cond(colWeird, OpStartsWith, `"; DROP TABLE x; --`))},
	{"hostile like wildcards", any_(cond("email", OpContains, "100%"), cond("email", OpStartsWith, "_"), cond("email", OpEndsWith, `\`), cond("email", OpNotContains, `%_\`))},
	{"hostile backslash quote", any_(cond("email", OpEquals, `\'`), cond("email", OpContains, `\'; --`), list("email", OpIn, `a\`, `'`))},
	{"hostile unicode", all_(cond(colUnicode, OpEquals, "café ☕ 名前 \u202e"), cond("email", OpEndsWith, "ë"))},
	{"hostile newline", all_(cond("email", OpEquals, "a\nb\r\n-- c"))},
	{"nested and negated", all_(
		cond("email", OpIsNotNull),
		not(any_(cond("flag", OpIsTrue), list(colQuote, OpBetween, "1", "10"))),
		any_(cond("day", OpLT, "2020-01-01"), all_(list(colWeird, OpIn, "a"), not(all_(cond("Amount", OpGT, "0"))))),
	)},
	{"empty nested groups", any_(all_(), not(all_()), any_(), not(any_()))},
	{"negated top level", not(any_(cond("email", OpEquals, "a"), cond("email", OpEquals, "b")))},
	{"single condition subgroup", all_(any_(cond("email", OpEquals, "a")))},
	{"uuid column", any_(cond("ref", OpEquals, "6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab"), cond("ref", OpStartsWith, "6f1c"))},
}

// runGoldenQueries runs every golden case on w over an empty table with goldenColumns, so the
// golden SQL (hostile names and values included) is known to be accepted by the engine.
func runGoldenQueries(t *testing.T, w warehouse.Warehouse) {
	t.Helper()
	ctx := t.Context()
	d := w.Dialect()
	defs := make([]string, len(goldenColumns))
	for i, c := range goldenColumns {
		defs[i] = d.QuoteIdent(c.Name) + " " + c.DatabaseType
	}
	for _, s := range []string{
		d.CreateSchema(goldenSchema),
		"CREATE TABLE " + d.Qualified(goldenSchema, "golden") + " (" + strings.Join(defs, ", ") + ")",
		d.CreateOrReplaceView(goldenSchema, goldenView, "SELECT * FROM "+d.Qualified(goldenSchema, "golden")),
	} {
		if _, err := w.DB().ExecContext(ctx, s); err != nil {
			t.Fatalf("golden table: %s: %v", s, err)
		}
	}
	for _, tc := range goldenCases {
		query, err := Compile(d, goldenSchema, goldenView, tc.g, goldenColumns)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var n int64
		count := "SELECT count(*) FROM (\n" + query + "\n) AS q"
		if err := w.DB().QueryRowContext(ctx, count).Scan(&n); err != nil {
			t.Errorf("golden case %q does not run: %v\nsql: %s", tc.name, err, query)
		}
	}
}

func TestGolden(t *testing.T) {
	for _, d := range engineDialects() {
		t.Run(string(d.Engine()), func(t *testing.T) {
			var b strings.Builder
			for _, tc := range goldenCases {
				query, err := Compile(d, goldenSchema, goldenView, tc.g, goldenColumns)
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				b.WriteString("-- " + tc.name + "\n" + query + "\n\n")
			}
			path := filepath.Join("testdata", "compile."+string(d.Engine())+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path) //nolint:gosec // a fixed directory and an engine name
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got := b.String(); got != string(want) {
				t.Errorf("compiled SQL differs from %s (run go test -update after checking the change):\n%s", path, diffLines(string(want), got))
			}
		})
	}
}

// diffLines reports the first differing line of two texts.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + wl + "\n  got:  " + gl
		}
	}
	return "(no line differs)"
}
