package segment

import (
	"database/sql"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"dinmo/connectors/warehouse"
)

// The graph execution tests load the e-commerce fixture on an engine, compile every case of
// graphCases with the fixed reference instant, run it, and compare the selected ids with those
// the Go evaluator (graph_eval_test.go) selects. They also compare every calculated field's
// value, row by row, and check that each case's clock-based form (no fixed instant) runs.

type graphCase struct {
	name  string
	model string
	g     Group
}

var graphCases = []graphCase{
	// Relative dates on timestamp columns, at their boundaries (now is 2024-03-31T12:00:00Z).
	{"ts in_last days", mCustomers, all(relative("signup_at", OpInLast, 30, UnitDays))},
	{"ts in_last months clamps", mCustomers, all(relative("signup_at", OpInLast, 1, UnitMonths))},
	{"ts in_last weeks", mCustomers, all(relative("signup_at", OpInLast, 2, UnitWeeks))},
	{"ts in_last years", mCustomers, all(relative("signup_at", OpInLast, 1, UnitYears))},
	{"ts in_next days", mCustomers, all(relative("signup_at", OpInNext, 1, UnitDays))},
	{"ts in_next zero", mCustomers, all(relative("signup_at", OpInNext, 0, UnitDays))},
	{"ts more_than_ago", mCustomers, all(relative("signup_at", OpMoreThanAgo, 30, UnitDays))},
	{"ts more_than_ago year boundary", mCustomers, all(relative("signup_at", OpMoreThanAgo, 1, UnitYears))},
	{"ts negated in_last includes nulls", mCustomers, not(all(relative("signup_at", OpInLast, 30, UnitDays)))},
	{"ts on_weekday sunday", mCustomers, all(list("signup_at", OpOnWeekday, "sun"))},
	{"ts on_weekday several", mCustomers, all(list("signup_at", OpOnWeekday, "mon", "SAT", "thu"))},
	{"ts in_month", mCustomers, all(list("signup_at", OpInMonth, "2", "4"))},
	{"ts before", mCustomers, all(cond("signup_at", OpBefore, "2024-03-01T12:00:00Z"))},
	{"ts after", mCustomers, all(cond("signup_at", OpAfter, "2024-03-01 11:59:59.999999"))},
	// Relative dates on date columns (today is 2024-03-31).
	{"date in_last months clamps", mCustomers, all(relative("birth_date", OpInLast, 1, UnitMonths))},
	{"date in_last zero is today", mCustomers, all(relative("birth_date", OpInLast, 0, UnitDays))},
	{"date in_next years", mCustomers, all(relative("birth_date", OpInNext, 1, UnitYears))},
	{"date more_than_ago years", mCustomers, all(relative("birth_date", OpMoreThanAgo, 1, UnitYears))},
	{"date in_month", mCustomers, all(list("birth_date", OpInMonth, "3", "12"))},
	{"date on_weekday", mCustomers, all(list("birth_date", OpOnWeekday, "thu", "sun"))},
	{"date after", mCustomers, all(cond("birth_date", OpAfter, "2024-02-28"))},

	// Calculated fields in attribute conditions.
	{"calc count gte", mCustomers, all(cond("order_count", OpGTE, "2"))},
	{"calc count zero", mCustomers, all(cond("order_count", OpEquals, "0"))},
	{"calc filtered sum gt", mCustomers, all(cond("paid_total", OpGT, "100"))},
	{"calc filtered sum zero when none", mCustomers, all(cond("paid_total", OpEquals, "0"))},
	{"calc max timestamp in_last", mCustomers, all(relative("last_order_at", OpInLast, 7, UnitDays))},
	{"calc max null", mCustomers, all(cond("last_order_at", OpIsNull))},
	{"calc first", mCustomers, all(cond("first_status", OpEquals, "paid"))},
	{"calc last not_equals includes null", mCustomers, all(cond("last_status", OpNotEquals, "paid"))},
	{"calc last starts_with", mCustomers, all(cond("last_status", OpStartsWith, "pe"))},
	{"calc window sum", mCustomers, all(cond("recent_spend", OpGTE, "100"))},
	{"calc count distinct multi-hop", mCustomers, all(cond("product_count", OpGTE, "3"))},
	{"calc avg multi-hop gt", mCustomers, all(cond("avg_line_qty", OpGT, "2"))},
	{"calc avg multi-hop gte", mCustomers, all(cond("avg_line_qty", OpGTE, "2"))},
	{"calc aggregate of calculated", mCustomers, all(cond("max_order_lines", OpGTE, "2"))},
	{"formula division by zero is null", mCustomers, all(cond("avg_basket", OpIsNull))},
	{"formula division", mCustomers, all(cond("avg_basket", OpGT, "40"))},
	{"formula null in null out", mCustomers, all(cond("credit_double", OpIsNull))},
	{"formula negative", mCustomers, all(cond("credit_double", OpLT, "0"))},
	{"formula coalesce between", mCustomers, all(list("credit_or_zero", OpBetween, "0", "1"))},
	{"formula in", mCustomers, all(list("credit_or_zero", OpIn, "0", "1", "3"))},

	// Related-model conditions.
	{"exists", mCustomers, all_(related(QuantExists, nil, nil, nil, "orders"))},
	{"not_exists", mCustomers, all_(related(QuantNotExists, nil, nil, nil, "orders"))},
	{"exists filter and window days", mCustomers, all_(related(QuantExists, nil, gp(all(cond(colStatus, OpEquals, "paid"))), last(30, UnitDays), "orders"))},
	{"exists window months clamps", mCustomers, all_(related(QuantExists, nil, nil, last(1, UnitMonths), "orders"))},
	{"count_at_least", mCustomers, all_(related(QuantCountAtLeast, i64(3), nil, nil, "orders"))},
	{"count_exactly", mCustomers, all_(related(QuantCountExactly, i64(1), nil, nil, "orders"))},
	{"count_at_most includes zero", mCustomers, all_(related(QuantCountAtMost, i64(1), nil, nil, "orders"))},
	{"count_at_least filtered", mCustomers, all_(related(QuantCountAtLeast, i64(2), gp(all(cond(colStatus, OpEquals, "paid"))), nil, "orders"))},
	{"multi-hop exists", mCustomers, all_(related(QuantExists, nil, gp(all(cond("category", OpEquals, "home"))), nil, "orders", "lines", "product"))},
	{"multi-hop count distinct", mCustomers, all_(related(QuantCountAtLeast, i64(2), nil, nil, "orders", "lines", "product"))},
	{"multi-hop count exactly distinct", mCustomers, all_(related(QuantCountExactly, i64(1), nil, nil, "orders", "lines", "product"))},
	{"nested related", mCustomers, all_(related(QuantExists, nil, gp(all_(related(QuantExists, nil, gp(all(cond("quantity", OpGTE, "3"))), nil, "lines"))), nil, "orders"))},
	{"nested not_exists", mCustomers, all_(related(QuantExists, nil, gp(all_(related(QuantNotExists, nil, nil, nil, "lines"))), nil, "orders"))},
	{"window on a date column of the last model", mCustomers, all_(related(QuantExists, nil, nil, &Window{Column: "launched_on", From: "2024-02-01", To: "2024-03-31"}, "orders", "lines", "product"))},
	{"window from to dates on timestamps", mCustomers, all_(related(QuantExists, nil, nil, &Window{From: "2024-03-01", To: "2024-03-01"}, "orders"))},
	{"window to timestamp inclusive", mCustomers, all_(related(QuantExists, nil, nil, &Window{To: "2024-01-15T09:00:00Z"}, "orders"))},
	{"window from timestamp", mCustomers, all_(related(QuantExists, nil, nil, &Window{From: "2024-03-31T11:59:59Z"}, "orders"))},
	{"events count in window", mCustomers, all_(related(QuantCountAtLeast, i64(2), nil, last(7, UnitDays), "events"))},
	{"negated related", mCustomers, not(any_(related(QuantExists, nil, gp(all(cond(colStatus, OpEquals, "paid"))), nil, "orders")))},
	{"related with empty filter", mCustomers, all_(related(QuantExists, nil, gp(Group{Match: MatchAny}), nil, "orders"))},
	{"related filter with empty nested any", mCustomers, all_(related(QuantExists, nil, gp(all_(cond(colStatus, OpEquals, "paid"), any_())), nil, "orders"))},
	{"related and attribute", mCustomers, any_(cond("country", OpEquals, "DE"), related(QuantCountAtLeast, i64(3), nil, nil, "orders"))},
	{"many_to_one from orders", mOrders, all_(related(QuantExists, nil, gp(all(cond("country", OpEquals, "FR"))), nil, "customer"))},
	{"orders calc formula", mOrders, all(cond("net", OpEquals, "0"))},
	{"orders calc count zero", mOrders, all(cond("line_count", OpEquals, "0"))},
	{"orders on_weekday", mOrders, all(list("ordered_at", OpOnWeekday, "fri"))},
	{"orders not in_last", mOrders, not(all(relative("ordered_at", OpInLast, 30, UnitDays)))},
	{"products calc sum", mProducts, all(cond("units_sold", OpGT, "8"))},
	{"products three hops back", mProducts, all_(related(QuantExists, nil, gp(all(cond("country", OpEquals, "DE"))), nil, "lines", "order", "customer"))},
	{"products never sold", mProducts, all_(related(QuantNotExists, nil, nil, nil, "lines"))},

	// Aggregate conditions.
	{"aggregate sum", mCustomers, all_(aggCond(AggSum, colAmount, OpGTE, "100"))},
	{"aggregate avg ignores nulls", mCustomers, all_(aggCond(AggAvg, colAmount, OpLT, "20"))},
	{"aggregate min before", mCustomers, all_(aggCond(AggMin, "ordered_at", OpBefore, "2024-01-01T00:00:00Z"))},
	{"aggregate max in_last", mCustomers, all_(withUnit(aggCond(AggMax, "ordered_at", OpInLast, "1"), UnitDays))},
	{"aggregate count rows filtered", mCustomers, all_(withFilter(aggCond(AggCount, "", OpGTE, "1"), all(cond(colStatus, OpIsNull))))},
	{"aggregate count column", mCustomers, all_(aggCond(AggCount, "ordered_at", OpEquals, "0"))},
	{"aggregate count distinct", mCustomers, all_(aggCond(AggCountDistinct, colStatus, OpEquals, "2"))},
	{"aggregate max multi-hop", mCustomers, all_(withPath(aggCond(AggMax, "unit_price", OpGT, "50"), "orders", "lines"))},
	{"aggregate first", mCustomers, all_(withOrder(aggCond(AggFirst, colStatus, OpEquals, "refunded"), "ordered_at"))},
	{"aggregate last in", mCustomers, all_(withOrder(aggCond(AggLast, colAmount, OpIn, "120", "200", "70"), "ordered_at"))},
	{"aggregate sum window and filter", mCustomers, all_(withWindow(withFilter(aggCond(AggSum, colAmount, OpLT, "50"), all(cond(colStatus, OpEquals, "paid"))), last(30, UnitDays)))},
	{"aggregate not_equals includes null", mCustomers, all_(aggCond(AggMax, colAmount, OpNotEquals, "120"))},
	{"aggregate between", mCustomers, all_(aggCond(AggSum, colAmount, OpBetween, "10", "100"))},

	// Memberships.
	{"member", mCustomers, all_(member("fr", false))},
	{"member exclude includes nulls", mCustomers, all_(member("fr", true))},
	{"member of memberships", mCustomers, all_(member("fr_big", false))},
	{"member any", mCustomers, any_(member("fr_big", false), member("big", true))},
	{"member of everyone", mCustomers, all_(member("everyone", false), cond("vip", OpIsTrue))},
	{"member excluded everyone", mCustomers, any_(member("everyone", true), cond("vip", OpIsFalse))},
	{"member in a related filter", mCustomers, all_(related(QuantExists, nil, gp(all_(member("big_orders", false))), nil, "orders"))},
	{"negated member", mCustomers, not(all_(member("big", false), cond("country", OpEquals, "FR")))},
	{"everything nested", mCustomers, all_(
		any_(member("fr", false), related(QuantCountAtLeast, i64(2), nil, last(1, UnitMonths), "orders")),
		not(any_(aggCond(AggSum, colAmount, OpGT, "1000"), cond("credit", OpIsNull))),
		any_(relative("signup_at", OpInLast, 1, UnitYears), all_(cond("order_count", OpGTE, "1"), list("signup_at", OpOnWeekday, "sun"))),
	)},
}

func withUnit(a AggregateCondition, unit string) AggregateCondition { a.Unit = unit; return a }
func withFilter(a AggregateCondition, f Group) AggregateCondition   { a.Filter = &f; return a }
func withWindow(a AggregateCondition, w *Window) AggregateCondition { a.Window = w; return a }
func withOrder(a AggregateCondition, o string) AggregateCondition   { a.OrderBy = o; return a }
func withPath(a AggregateCondition, path ...string) AggregateCondition {
	a.Path = path
	return a
}

// loadGraph creates the fixture tables in schema "raw", their views in dinmo_segments, and
// inserts the rows with bind parameters. duck selects the DuckDB column types.
func loadGraph(t *testing.T, w warehouse.Warehouse, duck bool) {
	t.Helper()
	ctx := t.Context()
	d := w.Dialect()
	for _, s := range []string{d.CreateSchema("raw"), d.CreateSchema(warehouse.SchemaSegments)} {
		if _, err := w.DB().ExecContext(ctx, s); err != nil {
			t.Fatalf("graph fixture: %s: %v", s, err)
		}
	}
	for _, tb := range graphTables {
		defs := make([]string, len(tb.columns))
		names := make([]string, len(tb.columns))
		marks := make([]string, len(tb.columns))
		for i, c := range tb.columns {
			typ := c.pg
			if duck {
				typ = c.duck
			}
			names[i] = d.QuoteIdent(c.name)
			defs[i] = names[i] + " " + typ
			marks[i] = d.Placeholder(i + 1)
		}
		table := d.Qualified("raw", tb.model)
		for _, s := range []string{
			"CREATE TABLE " + table + " (" + strings.Join(defs, ", ") + ")",
			d.CreateOrReplaceView(warehouse.SchemaSegments, tb.view, "SELECT * FROM "+table),
		} {
			if _, err := w.DB().ExecContext(ctx, s); err != nil {
				t.Fatalf("graph fixture: %s: %v", s, err)
			}
		}
		insert := "INSERT INTO " + table + " (" + strings.Join(names, ", ") + ") VALUES (" + strings.Join(marks, ", ") + ")"
		for _, r := range tb.rows {
			if _, err := w.DB().ExecContext(ctx, insert, r...); err != nil {
				t.Fatalf("graph fixture: insert into %s %v: %v", tb.model, r, err)
			}
		}
	}
}

func queryIDs(t *testing.T, db *sql.DB, query string) []int64 {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT "id" FROM (`+"\n"+query+"\n"+`) AS q ORDER BY "id"`) //nolint:gosec // compiled SQL, every name and value quoted by the dialect
	if err != nil {
		t.Fatalf("query %s: %v", query, err)
	}
	defer rows.Close()
	ids := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

func runGraphCases(t *testing.T, w warehouse.Warehouse) {
	s := graphSchema()
	e := newEvaluator(s)
	d := w.Dialect()
	now := fixedNow
	nonTrivial := 0
	for _, tc := range graphCases {
		t.Run(tc.name, func(t *testing.T) {
			data, err := Encode(tc.g)
			if err != nil {
				t.Fatal(err)
			}
			g, err := Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if errs := ValidateIn(s, tc.model, g, Options{}); len(errs) > 0 {
				t.Fatalf("ValidateIn: %s", formatErrs(errs))
			}
			query, err := CompileIn(d, s, tc.model, g, Options{Now: &now})
			if err != nil {
				t.Fatalf("CompileIn: %v", err)
			}
			want := e.members(tc.model, tc.g)
			if len(want) > 0 && len(want) < len(e.data[tc.model]) {
				nonTrivial++
			}
			if got := queryIDs(t, w.DB(), query); !slices.Equal(got, want) {
				t.Errorf("ids = %v\nwant  %v\nsql: %s", got, want, query)
			}
			// The form views use, on the engine's clock, runs too.
			live, err := CompileIn(d, s, tc.model, g, Options{})
			if err != nil {
				t.Fatalf("CompileIn without Now: %v", err)
			}
			queryIDs(t, w.DB(), live)
		})
	}
	if nonTrivial < len(graphCases)*3/4 {
		t.Errorf("only %d of %d graph cases select a proper, non-empty subset of the fixture", nonTrivial, len(graphCases))
	}
	t.Run("calculated values", func(t *testing.T) { checkCalculatedValues(t, w, s, e) })
}

// checkCalculatedValues selects every calculated field of each model (IncludeCalculated) and
// compares each row's values with the evaluator's.
func checkCalculatedValues(t *testing.T, w warehouse.Warehouse, s *Schema, e *evaluator) {
	for _, model := range sortedKeys(s.Models) {
		if len(s.Models[model].Calculated) > 0 {
			checkModelValues(t, w, s, e, model)
		}
	}
}

func checkModelValues(t *testing.T, w warehouse.Warehouse, s *Schema, e *evaluator, model string) {
	d := w.Dialect()
	m := s.Models[model]
	now := fixedNow
	query, err := CompileIn(d, s, model, Group{Match: MatchAll}, Options{Now: &now, IncludeCalculated: true})
	if err != nil {
		t.Fatalf("%s: %v", model, err)
	}
	fields, errs := Fields(s, model)
	if len(errs) > 0 {
		t.Fatalf("%s: Fields: %s", model, formatErrs(errs))
	}
	cats := map[string]warehouse.TypeCategory{}
	for _, f := range fields {
		cats[f.Name] = f.Category
	}
	sel := []string{d.QuoteIdent("id")}
	for _, f := range m.Calculated {
		sel = append(sel, d.CastText(d.QuoteIdent(f.Name)))
	}
	rows, err := w.DB().QueryContext(t.Context(), "SELECT "+strings.Join(sel, ", ")+" FROM (\n"+query+"\n) AS q ORDER BY 1")
	if err != nil {
		t.Fatalf("%s: %v\nsql: %s", model, err, query)
	}
	defer rows.Close()
	byID := map[int64]gRow{}
	for _, r := range e.data[model] {
		byID[as[int64](r["id"])] = r
	}
	n := 0
	for rows.Next() {
		var id int64
		vals := make([]sql.NullString, len(m.Calculated))
		dest := []any{&id}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		n++
		for i, f := range m.Calculated {
			want := e.value(model, f.Name, byID[id])
			if msg := sameValue(cats[f.Name], vals[i], want); msg != "" {
				t.Errorf("%s %d: %s = %s", model, id, f.Name, msg)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(e.data[model]) {
		t.Errorf("%s: %d rows with calculated fields, want %d", model, n, len(e.data[model]))
	}
}

// sameValue compares a value read as text with the evaluator's; it returns "" when they agree.
func sameValue(cat warehouse.TypeCategory, got sql.NullString, want any) string {
	if !got.Valid || want == nil {
		if got.Valid == (want != nil) {
			return ""
		}
		return fmt.Sprintf("%v (valid %v), want %v", got.String, got.Valid, want)
	}
	switch cat {
	case warehouse.TypeInteger, warehouse.TypeNumber:
		g, ok := new(big.Rat).SetString(got.String)
		if !ok {
			return fmt.Sprintf("%q is not a number, want %v", got.String, want)
		}
		w := toRat(want)
		diff, _ := new(big.Rat).Sub(g, w).Float64()
		scale, _ := new(big.Rat).Abs(w).Float64()
		if diff < 0 {
			diff = -diff
		}
		if diff > 1e-9*max(1, scale) {
			return fmt.Sprintf("%s, want %s", got.String, w.FloatString(6))
		}
	case warehouse.TypeTimestamp:
		for _, layout := range []string{"2006-01-02 15:04:05.999999-07", "2006-01-02 15:04:05.999999-07:00"} {
			if g, err := time.Parse(layout, got.String); err == nil {
				if !g.Equal(as[time.Time](want)) {
					return fmt.Sprintf("%s, want %s", got.String, want)
				}
				return ""
			}
		}
		return fmt.Sprintf("%q is not a timestamp", got.String)
	default:
		if got.String != fmt.Sprint(want) {
			return fmt.Sprintf("%q, want %q", got.String, want)
		}
	}
	return ""
}
