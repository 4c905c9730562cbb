package segment

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dinmo/connectors/warehouse"
)

// graphGoldenCase is a golden case of the graph features: a tree compiled in graphSchema, with
// the fixed instant (fixed) or the engine's clock, optionally selecting calculated fields.
type graphGoldenCase struct {
	name  string
	model string
	g     Group
	fixed bool
	calc  bool
}

var graphGoldenCases = []graphGoldenCase{
	{name: "plain condition keeps bare names", model: mCustomers, g: all(cond("country", OpEquals, "FR"))},
	{name: "relative timestamps clock", model: mCustomers, g: any_(relative("signup_at", OpInLast, 30, UnitDays), relative("signup_at", OpInNext, 2, UnitWeeks), relative("signup_at", OpMoreThanAgo, 1, UnitMonths), relative("signup_at", OpInLast, 2, UnitYears))},
	{name: "relative timestamps fixed", model: mCustomers, fixed: true, g: any_(relative("signup_at", OpInLast, 30, UnitDays), relative("signup_at", OpInNext, 2, UnitWeeks), relative("signup_at", OpMoreThanAgo, 1, UnitMonths))},
	{name: "relative dates clock", model: mCustomers, g: any_(relative("birth_date", OpInLast, 3, UnitDays), relative("birth_date", OpInNext, 1, UnitYears), relative("birth_date", OpMoreThanAgo, 6, UnitMonths))},
	{name: "relative dates fixed", model: mCustomers, fixed: true, g: any_(relative("birth_date", OpInLast, 3, UnitDays), relative("birth_date", OpMoreThanAgo, 6, UnitMonths))},
	{name: "weekday and month", model: mCustomers, g: all(list("signup_at", OpOnWeekday, "mon", "sun"), list("birth_date", OpInMonth, "1", "12"), cond("birth_date", OpBefore, "2000-01-01"), cond("signup_at", OpAfter, "2024-01-01T00:00:00Z"))},
	{name: "calculated count", model: mCustomers, g: all(cond("order_count", OpGTE, "2"))},
	{name: "calculated filtered sum", model: mCustomers, g: all(cond("paid_total", OpNotEquals, "0"))},
	{name: "calculated first and last", model: mCustomers, g: any_(cond("first_status", OpEquals, "paid"), cond("last_status", OpContains, "pa"))},
	{name: "calculated window sum clock", model: mCustomers, g: all(cond("recent_spend", OpGT, "10"))},
	{name: "calculated count distinct three hops", model: mCustomers, g: all(cond("product_count", OpGTE, "3"))},
	{name: "calculated aggregate of calculated", model: mCustomers, g: all(cond("max_order_lines", OpGTE, "2"))},
	{name: "formulas", model: mCustomers, g: any_(cond("avg_basket", OpGT, "40.5"), cond("credit_double", OpIsNull), list("credit_or_zero", OpBetween, "-1", "1"))},
	{name: "formula over quoted column", model: mOrders, g: all(cond("net", OpEquals, "0"))},
	{name: "exists", model: mCustomers, g: all_(related(QuantExists, nil, nil, nil, "orders"))},
	{name: "not exists with filter", model: mCustomers, g: all_(related(QuantNotExists, nil, gp(all(cond(colStatus, OpEquals, "paid"))), nil, "orders"))},
	{name: "count with window clock", model: mCustomers, g: all_(related(QuantCountAtLeast, i64(2), nil, last(1, UnitMonths), "orders"))},
	{name: "count with window fixed", model: mCustomers, fixed: true, g: all_(related(QuantCountAtMost, i64(2), nil, last(7, UnitDays), "events"))},
	{name: "count exactly distinct multi-hop", model: mCustomers, g: all_(related(QuantCountExactly, i64(1), gp(all(cond("category", OpEquals, "home"))), nil, "orders", "lines", "product"))},
	{name: "nested related", model: mCustomers, g: all_(related(QuantExists, nil, gp(all_(related(QuantExists, nil, gp(all(cond("quantity", OpGTE, "3"))), nil, "lines"))), nil, "orders"))},
	{name: "window fixed period", model: mCustomers, g: any_(
		related(QuantExists, nil, nil, &Window{From: "2024-03-01", To: "2024-03-01"}, "orders"),
		related(QuantExists, nil, nil, &Window{From: "2024-01-01T10:00:00+02:00"}, "orders"),
		related(QuantExists, nil, nil, &Window{Column: "launched_on", To: "2024-03-31"}, "orders", "lines", "product"),
	)},
	{name: "many to one", model: mOrders, g: all_(related(QuantExists, nil, gp(all(cond("country", OpEquals, "FR"))), nil, "customer"))},
	{name: "aggregate conditions", model: mCustomers, g: any_(
		aggCond(AggSum, colAmount, OpGTE, "100"),
		aggCond(AggAvg, colAmount, OpLT, "20"),
		withUnit(aggCond(AggMax, "ordered_at", OpInLast, "1"), UnitDays),
		withFilter(aggCond(AggCount, "", OpGTE, "1"), all(cond(colStatus, OpIsNull))),
		aggCond(AggCountDistinct, colStatus, OpEquals, "2"),
		withOrder(aggCond(AggLast, colAmount, OpIn, "120", "200"), "ordered_at"),
	)},
	{name: "memberships", model: mCustomers, g: any_(member("fr_big", false), member("big", true), member("everyone", false))},
	{name: "membership in a filter", model: mCustomers, g: all_(related(QuantExists, nil, gp(all_(member("big_orders", false))), nil, "orders"))},
	{name: "negated mix", model: mCustomers, g: not(any_(cond("vip", OpIsTrue), related(QuantExists, nil, nil, nil, "events"), aggCond(AggMin, colAmount, OpLT, "1")))},
	{name: "hostile values", model: mCustomers, g: all_(related(QuantExists, nil, gp(any_(cond(colStatus, OpEquals, "O'Brien \\ \"x\" `y` ${env:HOME}"), cond(colStatus, OpContains, "100%_"))), nil, "orders"))},
	{name: "calculated columns selected", model: mCustomers, calc: true, g: Group{Match: MatchAll}},
	{name: "calculated columns with filter", model: mOrders, calc: true, fixed: true, g: all(cond("line_count", OpGT, "0"))},
}

func compileGraphGolden(d warehouse.Dialect, tc graphGoldenCase) (string, error) {
	opts := Options{IncludeCalculated: tc.calc}
	if tc.fixed {
		now := fixedNow
		opts.Now = &now
	}
	return CompileIn(d, graphSchema(), tc.model, tc.g, opts)
}

func TestGraphGolden(t *testing.T) {
	for _, d := range engineDialects() {
		t.Run(string(d.Engine()), func(t *testing.T) {
			var b strings.Builder
			for _, tc := range graphGoldenCases {
				query, err := compileGraphGolden(d, tc)
				if err != nil {
					// What an engine cannot express is a clear error, recorded in the golden file.
					if strings.Contains(err.Error(), fmt.Sprintf("engine %q", d.Engine())) {
						b.WriteString("-- " + tc.name + "\n-- error: " + err.Error() + "\n\n")
						continue
					}
					t.Fatalf("%s: %v", tc.name, err)
				}
				b.WriteString("-- " + tc.name + "\n" + query + "\n\n")
			}
			path := filepath.Join("testdata", "graph."+string(d.Engine())+".golden")
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

// runGraphGoldenQueries runs every graph golden case on w, whose graph fixture is loaded, so
// the golden SQL of the engine is known to be accepted by it.
func runGraphGoldenQueries(t *testing.T, w warehouse.Warehouse) {
	t.Helper()
	for _, tc := range graphGoldenCases {
		query, err := compileGraphGolden(w.Dialect(), tc)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var n int64
		if err := w.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM (\n"+query+"\n) AS q").Scan(&n); err != nil {
			t.Errorf("graph golden case %q does not run: %v\nsql: %s", tc.name, err, query)
		}
	}
}
