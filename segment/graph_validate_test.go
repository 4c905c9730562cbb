package segment

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/bigquery"
	"dinmo/connectors/warehouse/duckdb"
	"dinmo/connectors/warehouse/redshift"
)

// checkErrs compares problems with the expected paths and message fragments, in order.
func checkErrs(t *testing.T, got []*Error, want []wantErr) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%s", len(got), len(want), formatErrs(got))
	}
	for i, w := range want {
		if got[i].Path != w.path {
			t.Errorf("error %d: path %q, want %q (message %q)", i, got[i].Path, w.path, got[i].Message)
		}
		for _, sub := range w.contains {
			if !strings.Contains(got[i].Message, sub) {
				t.Errorf("error %d at %s: message %q does not contain %q", i, got[i].Path, got[i].Message, sub)
			}
		}
	}
}

func TestValidateIn(t *testing.T) {
	paid := all(cond(colStatus, OpEquals, "paid"))
	tests := []struct {
		name   string
		model  string
		g      Group
		opts   Options
		modify func(*Schema)
		want   []wantErr
	}{
		{name: "valid graph tree", model: mCustomers, g: all_(
			relative("signup_at", OpInLast, 3, UnitMonths),
			related(QuantCountAtLeast, i64(0), gp(paid), last(2, UnitYears), "orders"),
			withOrder(aggCond(AggFirst, colAmount, OpGT, "1.5"), "ordered_at"),
			member("fr_big", true),
		)},
		{name: "unknown model", model: "nope", g: Group{Match: MatchAll}, want: []wantErr{{"", []string{`unknown model "nope"`}}}},
		{name: "relative date operands", model: mCustomers, g: all(
			Condition{Column: "signup_at", Operator: OpInLast, Value: str("3")},
			Condition{Column: "signup_at", Operator: OpInNext, Value: str("3"), Unit: "fortnights"},
			relative("signup_at", OpMoreThanAgo, 1001, UnitYears),
			Condition{Column: "signup_at", Operator: OpInLast, Value: str("-1"), Unit: UnitDays},
			Condition{Column: "signup_at", Operator: OpInLast, Values: []string{"1"}, Unit: UnitDays},
			Condition{Column: "signup_at", Operator: OpEquals, Value: str("2024-01-01T00:00:00Z"), Unit: UnitDays},
			list("signup_at", OpOnWeekday, "monday", "Sun"),
			list("birth_date", OpInMonth, "01", "13", "12"),
			relative("country", OpInLast, 1, UnitDays),
			cond("birth_date", OpBefore, "2024-01-01T00:00:00Z"),
		), want: []wantErr{
			{"conditions[0].unit", []string{`operator "in_last" needs a unit: days, weeks, months, years`}},
			{"conditions[1].unit", []string{`unknown unit "fortnights"`}},
			{"conditions[2].value", []string{`"1001" is not a number of years`, "from 0 to 1000"}},
			{"conditions[3].value", []string{`"-1" is not a number of days`}},
			{"conditions[4].value", []string{`needs the number of units in value`}},
			{"conditions[4].values", []string{`takes the number of units in value, not values`}},
			{"conditions[5].unit", []string{`operator "equals" takes no unit`}},
			{"conditions[6].values[0]", []string{`"monday" is not a day of the week`}},
			{"conditions[7].values[0]", []string{`"01" is not a month`}},
			{"conditions[7].values[1]", []string{`"13" is not a month`}},
			{"conditions[8].operator", []string{`operator "in_last" does not apply to column "country"`}},
			{"conditions[9].value", []string{`is not a date`}},
		}},
		{name: "paths", model: mCustomers, g: all_(
			related(QuantExists, nil, nil, nil, "order"),
			related(QuantExists, nil, nil, nil),
			related(QuantExists, nil, nil, nil, "orders", "customer", "orders", "customer", "orders", "customer", "orders", "customer", "orders"),
			related(QuantExists, nil, nil, nil, "events", "customer", "orders", "lines", "nope"),
		), want: []wantErr{
			{"related[0].path[0]", []string{`model "customers" has no relationship "order"`, `did you mean "orders"?`}},
			{"related[1].path", []string{"path needs at least one relationship"}},
			{"related[2].path", []string{"path follows 9 relationships; at most 8"}},
			{"related[3].path[4]", []string{`model "order_lines" has no relationship "nope"`, `"order", "product"`}},
		}},
		{name: "quantifiers", model: mCustomers, g: all_(
			related("some", nil, nil, nil, "orders"),
			related("", nil, nil, nil, "orders"),
			related(QuantCountAtLeast, nil, nil, nil, "orders"),
			related(QuantCountExactly, i64(-1), nil, nil, "orders"),
			related(QuantExists, i64(1), nil, nil, "orders"),
		), want: []wantErr{
			{"related[0].quantifier", []string{`unknown quantifier "some"`, "exists, not_exists, count_at_least"}},
			{"related[1].quantifier", []string{"quantifier is required"}},
			{"related[2].count", []string{`quantifier "count_at_least" needs a count`}},
			{"related[3].count", []string{"count must be 0 or more, got -1"}},
			{"related[4].count", []string{`quantifier "exists" takes no count`}},
		}},
		{name: "filters", model: mCustomers, g: all_(
			related(QuantExists, nil, gp(all(cond("country", OpEquals, "FR"))), nil, "orders"),
			related(QuantExists, nil, gp(Group{Match: MatchAll, Negate: true}), nil, "orders"),
			related(QuantExists, nil, gp(all_(related(QuantExists, nil, gp(all(cond("quantity", OpGT, "x"))), nil, "lines"))), nil, "orders"),
		), want: []wantErr{
			{"related[0].filter.conditions[0].column", []string{`unknown column "country"`}},
			{"related[1].filter.negate", []string{"an empty filter keeps every related row"}},
			{"related[2].filter.related[0].filter.conditions[0].value", []string{`"x" is not an integer`, `column "quantity"`}},
		}},
		{name: "windows", model: mCustomers, g: all_(
			related(QuantExists, nil, nil, last(7, UnitDays), "orders", "lines"),
			related(QuantExists, nil, nil, &Window{Last: i64(1), From: "2024-01-01"}, "orders"),
			related(QuantExists, nil, nil, &Window{Last: i64(1)}, "orders"),
			related(QuantExists, nil, nil, &Window{Last: i64(400000), Unit: UnitDays}, "orders"),
			related(QuantExists, nil, nil, &Window{Column: colStatus, Last: i64(1), Unit: UnitDays}, "orders"),
			related(QuantExists, nil, nil, &Window{From: "2024-03-02", To: "2024-03-01"}, "orders"),
			related(QuantExists, nil, nil, &Window{From: "2024-03-01T00:00:00Z", To: "2024-02-29"}, "orders"),
			related(QuantExists, nil, nil, &Window{Column: "launched_on", From: "2024-03-01T00:00:00Z"}, "orders", "lines", "product"),
			related(QuantExists, nil, nil, &Window{}, "orders"),
			related(QuantExists, nil, nil, &Window{To: "2024-01-01", Unit: UnitDays}, "orders"),
			related(QuantExists, nil, nil, &Window{Column: "nope", To: "2024-01-01"}, "orders"),
		), want: []wantErr{
			{"related[0].window", []string{`model "order_lines" has no timestamp column`}},
			{"related[1].window", []string{"either last (with unit) or from/to, not both"}},
			{"related[2].window.unit", []string{"a window with last needs a unit"}},
			{"related[3].window.last", []string{`"400000" is not a number of days`}},
			{"related[4].window.column", []string{`column "Status" has type text (string); a window needs a date or timestamp`}},
			{"related[5].window", []string{"starts", "after it ends"}},
			{"related[6].window", []string{"after it ends"}},
			{"related[7].window.from", []string{`is not a date`}},
			{"related[8].window", []string{"a window needs last and unit"}},
			{"related[9].window.unit", []string{"unit is only used with last"}},
			{"related[10].window.column", []string{`unknown column "nope"`}},
		}},
		{name: "aggregates", model: mCustomers, g: all_(
			aggCond("median", colAmount, OpGT, "1"),
			aggCond(AggSum, colStatus, OpGT, "1"),
			aggCond(AggAvg, "", OpGT, "1"),
			aggCond(AggFirst, colStatus, OpEquals, "x"),
			withOrder(aggCond(AggMax, colAmount, OpGT, "1"), "ordered_at"),
			aggCond(AggCount, "", OpEquals, "1.5"),
			aggCond(AggSum, colAmount, OpContains, "1"),
			aggCond(AggMin, "ordered_at", OpGT, "2024-01-01"),
			withPath(aggCond(AggSum, colAmount, OpGT, "1"), "nope"),
			withOrder(aggCond(AggLast, colStatus, OpEquals, "x"), "vip"),
		), want: []wantErr{
			{"aggregates[0].function", []string{`unknown function "median"`, "count, count_distinct, sum, avg, min, max, first, last"}},
			{"aggregates[1].column", []string{`function "sum" does not apply to column "Status"`, "integer, number"}},
			{"aggregates[2].column", []string{`function "avg" needs the column to aggregate`}},
			{"aggregates[3].order_by", []string{`function "first" needs order_by`}},
			{"aggregates[4].order_by", []string{"order_by is only used by the first and last functions"}},
			{"aggregates[5].value", []string{`"1.5" is not an integer`, `the aggregate count of orders has type integer`}},
			{"aggregates[6].operator", []string{`operator "contains" does not apply to the aggregate sum of orders.amount "€" of type number`}},
			{"aggregates[7].value", []string{`is not a timestamp`}},
			{"aggregates[8].path[0]", []string{`no relationship "nope"`}},
			{"aggregates[9].order_by", []string{`unknown column "vip"`}},
		}},
		{name: "memberships", model: mCustomers, g: all_(
			member("vipp", false),
			member("big_orders", false),
			member("", false),
		), modify: func(s *Schema) { s.Segments["vip"] = SegmentDef{Model: mCustomers, Tree: all(cond("vip", OpIsTrue))} }, want: []wantErr{
			{"memberships[0].segment", []string{`unknown segment "vipp"`, `did you mean "vip"?`}},
			{"memberships[1].segment", []string{`segment "big_orders" belongs to model "orders", not "customers"`}},
			{"memberships[2].segment", []string{"segment is required"}},
		}},
		{name: "membership cycle through the compiled segment", model: mCustomers, opts: Options{Segment: "fr"}, g: all_(member("fr_big", false)), want: []wantErr{
			{"memberships[0].segment", []string{`segment "fr_big" is invalid`, "segment memberships form a cycle: fr -> fr_big -> fr"}},
		}},
		{name: "membership cycle in the schema", model: mCustomers, g: all_(member("a", false)), modify: func(s *Schema) {
			s.Segments["a"] = SegmentDef{Model: mCustomers, Tree: all_(member("b", false))}
			s.Segments["b"] = SegmentDef{Model: mCustomers, Tree: any_(cond("vip", OpIsTrue), member("a", true))}
		}, want: []wantErr{
			{"memberships[0].segment", []string{`segment "a" is invalid`, `segment "b" is invalid`, "cycle: a -> b -> a"}},
		}},
		{name: "self membership", model: mCustomers, opts: Options{Segment: "me"}, g: all_(member("me", false)), want: []wantErr{
			{"memberships[0].segment", []string{"cycle: me -> me"}},
		}},
		{name: "invalid member tree", model: mCustomers, g: all_(member("bad", false)), modify: func(s *Schema) {
			s.Segments["bad"] = SegmentDef{Model: mCustomers, Tree: all(cond("age", OpGT, "1"))}
		}, want: []wantErr{
			{"memberships[0].segment", []string{`segment "bad" is invalid: conditions[0].column: unknown column "age"`}},
		}},
		{name: "calculated field cycle", model: mCustomers, g: all(cond("a", OpGT, "1")), modify: func(s *Schema) {
			m := s.Models[mCustomers]
			m.Calculated = append(m.Calculated,
				CalculatedField{Name: "a", Kind: CalcFormula, Expression: "b + 1"},
				CalculatedField{Name: "b", Kind: CalcAggregate, Path: []string{"orders"}, Function: AggSum, Column: colAmount, Filter: gp(all_(related(QuantExists, nil, gp(all(cond("a", OpGT, "0"))), nil, "customer")))},
			)
		}, want: []wantErr{
			{"conditions[0].column", []string{`calculated field "a" of model "customers" is invalid`, "calculated fields form a cycle: customers.a -> customers.b -> customers.a"}},
		}},
		{name: "invalid calculated fields", model: mCustomers, g: any_(cond("f1", OpGT, "1"), cond("f2", OpGT, "1"), cond("f3", OpGT, "1"), cond("f4", OpIsNull)), modify: func(s *Schema) {
			m := s.Models[mCustomers]
			m.Calculated = append(m.Calculated,
				CalculatedField{Name: "f1", Kind: CalcFormula, Expression: "credit * (2 +"},
				CalculatedField{Name: "f2", Kind: CalcFormula, Expression: "credit + name"},
				CalculatedField{Name: "f3", Kind: CalcAggregate, Path: []string{"orders"}, Function: AggSum},
				CalculatedField{Name: "f4", Kind: "magic"},
			)
		}, want: []wantErr{
			{"conditions[0].column", []string{`calculated field "f1" of model "customers" is invalid: expression: at character 14: unexpected end of the expression`}},
			{"conditions[1].column", []string{`expression: at character 10: column "name" has type text (string); formulas only use integer and number fields`}},
			{"conditions[2].column", []string{`column: function "sum" needs the column to aggregate`}},
			{"conditions[3].column", []string{`kind: unknown kind "magic"`}},
		}},
		{name: "counting distinct rows needs a primary key", model: mCustomers, g: all_(related(QuantCountAtLeast, i64(2), nil, nil, "orders", "lines", "product")),
			modify: func(s *Schema) { s.Models[mProducts].PrimaryKey = "" }, want: []wantErr{
				{"related[0].path", []string{`can reach the same row of model "products" several times`, "primary key"}},
			}},
		{name: "depth through filters", model: mCustomers, g: deepFilter(MaxDepth), want: []wantErr{
			{strings.Repeat("related[0].filter.", MaxDepth-1) + "related[0].filter", []string{"nested more than 16 levels"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := graphSchema()
			if tt.modify != nil {
				tt.modify(s)
			}
			got := ValidateIn(s, tt.model, tt.g, tt.opts)
			checkErrs(t, got, tt.want)
			// CompileIn refuses exactly the trees ValidateIn refuses (on an engine that can
			// express everything).
			_, err := CompileIn(duckdb.NewDialect(), s, tt.model, tt.g, tt.opts)
			var verr *ValidationError
			switch {
			case len(tt.want) == 0 && err != nil:
				t.Errorf("CompileIn: %v", err)
			case len(tt.want) > 0 && !errors.As(err, &verr):
				t.Errorf("CompileIn error = %v, want a *ValidationError", err)
			case len(tt.want) > 0 && len(verr.Errors) != len(got):
				t.Errorf("CompileIn reported %d errors, ValidateIn %d", len(verr.Errors), len(got))
			}
		})
	}
}

// deepFilter nests related-model conditions on customers -> orders -> customer -> ... depth
// times (each filter is one level).
func deepFilter(depth int) Group {
	g := all(cond("id", OpIsNotNull))
	rels := []string{"customer", "orders"}
	for i := range depth {
		g = all_(related(QuantExists, nil, gp(g), nil, rels[i%2]))
	}
	return g
}

func TestValidateModel(t *testing.T) {
	s := graphSchema()
	for name := range s.Models {
		if errs := ValidateModel(s, name); len(errs) > 0 {
			t.Errorf("fixture model %s: %s", name, formatErrs(errs))
		}
	}
	m := s.Models[mCustomers]
	m.PrimaryKey = "pk"
	m.TimestampColumn = "name"
	m.Relationships = append(m.Relationships,
		Relationship{Name: "orders", To: mOrders, Kind: OneToMany, FromColumn: "id", ToColumn: "customer_id"},
		Relationship{Name: "x", To: "nope", Kind: "many", FromColumn: "idd", ToColumn: "id"},
		Relationship{Name: "y", To: mOrders, Kind: ManyToOne, FromColumn: "email", ToColumn: "customer_idd"},
		Relationship{Name: "z", To: mOrders, Kind: ManyToOne, FromColumn: "email", ToColumn: "customer_id"},
		Relationship{To: mOrders, Kind: ManyToOne, FromColumn: "id", ToColumn: "id"},
	)
	m.Calculated = append(m.Calculated,
		CalculatedField{Name: "order_count", Kind: CalcFormula, Expression: "1"},
		CalculatedField{Name: "email", Kind: CalcFormula, Expression: "1"},
		CalculatedField{Name: "both", Kind: CalcFormula, Expression: "1", Function: AggSum},
		CalculatedField{Name: "neither", Kind: CalcAggregate, Expression: "1", Path: []string{"orders"}, Function: AggCount},
		CalculatedField{Kind: CalcFormula, Expression: "1"},
	)
	m.Name = "clients"
	m.View = ""
	checkErrs(t, ValidateModel(s, mCustomers), []wantErr{
		{"name", []string{`the model's name "clients" differs from its key "customers"`}},
		{"view", []string{"no view name"}},
		{"primary_key", []string{`primary key "pk" is not a column`}},
		{"timestamp_column", []string{`timestamp column "name" has type text (string)`}},
		{"relationships[2].name", []string{`relationship "orders" is declared twice`}},
		{"relationships[3].kind", []string{`unknown relationship kind "many"`}},
		{"relationships[3].from_column", []string{`"idd" is not a column of model "customers"`, `did you mean "id"?`}},
		{"relationships[3].to", []string{`unknown model "nope"`}},
		{"relationships[4].to_column", []string{`"customer_idd" is not a column of model "orders"`}},
		{"relationships[5].to_column", []string{`compares "email" (text (string)) with "customer_id" (bigint (integer))`}},
		{"relationships[6].name", []string{"relationship name is required"}},
		{"calculated[12].name", []string{`calculated field "order_count" is declared twice`}},
		{"calculated[13].name", []string{`calculated field "email" has the name of a column`}},
		{"calculated[14]", []string{"only used by aggregate fields"}},
		{"calculated[15].expression", []string{"expression is only used by formula fields"}},
		{"calculated[16].name", []string{"calculated field name is required"}},
	})
	if errs := ValidateModel(s, "nope"); len(errs) != 1 || !strings.Contains(errs[0].Message, `unknown model "nope"`) {
		t.Errorf("ValidateModel(nope) = %s", formatErrs(errs))
	}
}

func TestFields(t *testing.T) {
	fields, errs := Fields(graphSchema(), mCustomers)
	if len(errs) > 0 {
		t.Fatal(formatErrs(errs))
	}
	got := map[string]string{}
	for _, f := range fields {
		got[f.Name] = fmt.Sprintf("%s %v", f.Category, f.Calculated)
	}
	for name, want := range map[string]string{
		"id": "integer false", "birth_date": "date false", "credit": "number false",
		"order_count": "integer true", "paid_total": "number true", "last_order_at": "timestamp true",
		"first_status": "string true", "recent_spend": "number true", "product_count": "integer true",
		"avg_line_qty": "number true", "max_order_lines": "integer true", "avg_basket": "number true",
		"credit_double": "number true", "credit_or_zero": "number true",
	} {
		if got[name] != want {
			t.Errorf("field %s = %q, want %q", name, got[name], want)
		}
	}
	if len(fields) != 8+12 {
		t.Errorf("%d fields, want 20", len(fields))
	}
	s := graphSchema()
	s.Models[mOrders].Calculated = append(s.Models[mOrders].Calculated, CalculatedField{Name: "sum_ids", Kind: CalcFormula, Expression: "id + customer_id"})
	if fields, _ := Fields(s, mOrders); fields[len(fields)-1].Category != warehouse.TypeInteger {
		t.Errorf("a formula over integers without division is %s, want integer", fields[len(fields)-1].Category)
	}
}

func TestEngineLimits(t *testing.T) {
	s := graphSchema()
	tests := []struct {
		d    warehouse.Dialect
		g    Group
		want string
	}{
		{redshift.NewDialect(), all(cond("first_status", OpEquals, "paid")), `function "first" cannot be compiled for engine "redshift"`},
		{redshift.NewDialect(), all_(withOrder(aggCond(AggLast, colStatus, OpEquals, "x"), "ordered_at")), `function "last" cannot be compiled for engine "redshift"`},
		{bigquery.NewDialect(), all(cond("max_order_lines", OpGT, "1")), `aggregating it needs a subquery inside an aggregate function, which dinmo compiles only for postgres and duckdb, not for engine "bigquery"`},
		{noExtensions{testDialect{}}, all(relative("signup_at", OpInLast, 1, UnitDays)), `operator "in_last" needs date arithmetic, which dinmo does not have for engine "plain"`},
		{noExtensions{testDialect{}}, all_(related(QuantExists, nil, nil, last(1, UnitDays), "orders")), `a relative window needs date arithmetic`},
		{noExtensions{testDialect{}}, all(cond("avg_basket", OpGT, "1")), `division needs the floating-point type of engine "plain"`},
	}
	for _, tc := range tests {
		_, err := CompileIn(tc.d, s, mCustomers, tc.g, Options{})
		var verr *ValidationError
		if !errors.As(err, &verr) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: CompileIn error = %v, want a *ValidationError containing %q", tc.d.Engine(), err, tc.want)
		}
		if errs := ValidateIn(s, mCustomers, tc.g, Options{}); len(errs) > 0 {
			t.Errorf("%s: ValidateIn is engine-independent but found %s", tc.d.Engine(), formatErrs(errs))
		}
	}
	// Windows from/to and plain conditions need no extension.
	if _, err := CompileIn(noExtensions{testDialect{}}, s, mCustomers, all_(related(QuantExists, nil, nil, &Window{From: "2024-01-01"}, "orders")), Options{}); err != nil {
		t.Errorf("a fixed window on an engine without extensions: %v", err)
	}
}

// noExtensions hides the test dialect's DateDialect and AggregateDialect and reports an engine
// the compiler has no built-in extensions for.
type noExtensions struct{ warehouse.Dialect }

func (noExtensions) Engine() warehouse.Engine { return "plain" }

func TestCompileInArguments(t *testing.T) {
	s := graphSchema()
	if _, err := CompileIn(nil, s, mCustomers, Group{Match: MatchAll}, Options{}); err == nil {
		t.Error("CompileIn accepted a nil dialect")
	}
	if _, err := PredicateIn(nil, s, mCustomers, "", Group{Match: MatchAll}, Options{}); err == nil {
		t.Error("PredicateIn accepted a nil dialect")
	}
	s.Models[mCustomers].View = ""
	if _, err := CompileIn(testDialect{}, s, mCustomers, Group{Match: MatchAll}, Options{}); err == nil || !strings.Contains(err.Error(), "no view name") {
		t.Errorf("CompileIn without a view name: %v", err)
	}
	s = graphSchema()
	s.Models[mCustomers].ViewSchema = "other"
	got, err := CompileIn(testDialect{}, s, mCustomers, Group{Match: MatchAny}, Options{})
	if err != nil || got != `SELECT * FROM "other"."model_customers"` {
		t.Errorf("CompileIn with a view schema = %s, %v", got, err)
	}
	g := all_(cond("vip", OpIsTrue), related(QuantExists, nil, nil, nil, "orders"))
	if _, err := PredicateIn(testDialect{}, s, mCustomers, "", g, Options{}); err == nil || !strings.Contains(err.Error(), "need an alias") {
		t.Errorf("PredicateIn without alias on a correlated tree: %v", err)
	}
	got, err = PredicateIn(testDialect{}, s, mCustomers, "c", g, Options{})
	want := `("c"."vip" IS TRUE AND EXISTS (SELECT 1 FROM "dinmo_segments"."model ""orders""; --" AS "t1" WHERE "t1"."customer_id" = "c"."id"))`
	if err != nil || got != want {
		t.Errorf("PredicateIn = %s, %v\nwant %s", got, err, want)
	}
	if got, err := PredicateIn(testDialect{}, s, mCustomers, "", Group{Match: MatchAny}, Options{}); err != nil || got != "TRUE" {
		t.Errorf("PredicateIn of an empty tree = %s, %v", got, err)
	}

	// Selected calculated fields need names of their own; related models need a view.
	s = graphSchema()
	s.Models[mOrders].Calculated = append(s.Models[mOrders].Calculated, CalculatedField{Name: "discount", Kind: CalcFormula, Expression: "1"}, CalculatedField{Kind: CalcFormula, Expression: "1"})
	s.Models[mLines].View = ""
	_, err = CompileIn(testDialect{}, s, mOrders, Group{Match: MatchAll}, Options{IncludeCalculated: true})
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("CompileIn with broken calculated fields: %v", err)
	}
	checkErrs(t, verr.Errors, []wantErr{
		{"calculated[0].path[0]", []string{`model "order_lines", reached by relationship "lines", has no view name`}},
		{"calculated[2].path[0]", []string{"has no view name"}},
		{"calculated[3].name", []string{`calculated field "discount" has the name of another field`}},
		{"calculated[4].name", []string{"calculated field name is required"}},
	})
}

func TestOptionsNow(t *testing.T) {
	paris := time.FixedZone("Paris", 2*3600)
	now := time.Date(2024, 3, 1, 1, 30, 0, 123456789, paris) // 2024-02-29T23:30:00.123456Z
	got, err := CompileIn(testDialect{}, graphSchema(), mCustomers, any_(relative("signup_at", OpInLast, 1, UnitDays), relative("birth_date", OpInLast, 1, UnitDays)), Options{Now: &now})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`TIMESTAMP '2024-02-29T23:30:00.123456Z'`, `DATE '2024-02-29'`} {
		if !strings.Contains(got, want) {
			t.Errorf("compiled SQL lacks %s: %s", want, got)
		}
	}
}

func TestMaxSQLLength(t *testing.T) {
	s := graphSchema()
	m := s.Models[mCustomers]
	prev := "credit"
	for i := range 24 {
		name := fmt.Sprintf("f%d", i)
		m.Calculated = append(m.Calculated, CalculatedField{Name: name, Kind: CalcFormula, Expression: prev + " + " + prev})
		prev = name
	}
	_, err := CompileIn(testDialect{}, s, mCustomers, all(cond(prev, OpGT, "1")), Options{})
	if err == nil || !strings.Contains(err.Error(), "would exceed") {
		t.Errorf("CompileIn of an exponential expansion: %v", err)
	}
	if errs := ValidateIn(s, mCustomers, all(cond("f3", OpGT, "1")), Options{}); len(errs) > 0 {
		t.Errorf("a small expansion is valid: %s", formatErrs(errs))
	}
}

func TestFormulaParser(t *testing.T) {
	tests := []struct {
		expr  string
		names []string
		err   string
	}{
		{"a + b * 2", []string{"a", "b"}, ""},
		{"  -a - -(b) / 3.25 ", []string{"a", "b"}, ""},
		{`COALESCE("x y", 0, z) + coalesce(a, a)`, []string{"x y", "z", "a"}, ""},
		{`"it""s" * _u1`, []string{`it"s`, "_u1"}, ""},
		{"+a", []string{"a"}, ""},
		{"", nil, "at character 1: the expression is empty"},
		{"a +", nil, "at character 4: unexpected end of the expression"},
		{"a b", nil, `at character 3: unexpected field "b"; expected an operator`},
		{"(a", nil, "at character 3: unexpected end of the expression; expected )"},
		{"a)", nil, `at character 2: unexpected ")"`},
		{"1e3", nil, `at character 1: "1e3" is not a number`},
		{"1.", nil, `"1." is not a number`},
		{".5", nil, `".5" is not a number`},
		{"2x", nil, `"2x" is not a number`},
		{"a % b", nil, `at character 3: unexpected character '%'`},
		{"a; DROP", nil, `unexpected character ';'`},
		{"a -- b", nil, ""},
		{"sqrt(a)", nil, `at character 1: unknown function "sqrt"`},
		{"coalesce(a)", nil, "COALESCE needs at least 2 arguments"},
		{"coalesce(a b)", nil, `unexpected field "b" in COALESCE`},
		{`"unterminated`, nil, "unterminated quoted field name"},
		{`""`, nil, "empty quoted field name"},
		{"é + a", nil, `at character 1: unexpected character 'é'`},
		{"a\x00", nil, "not valid UTF-8 text without NUL"},
		{strings.Repeat("(", 40) + "a" + strings.Repeat(")", 40), nil, "nested more than 32 levels"},
		{strings.Repeat("-", 40) + "a", nil, "nested more than 32 levels"},
		{strings.Repeat("a+", 2500) + "a", nil, "longer than 4096 characters"},
	}
	for _, tc := range tests {
		names, err := ParseFormula(tc.expr)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("ParseFormula(%q): %v", tc.expr, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseFormula(%q) error = %v, want %q", tc.expr, err, tc.err)
		case tc.err == "" && tc.names != nil && fmt.Sprint(names) != fmt.Sprint(tc.names):
			t.Errorf("ParseFormula(%q) = %q, want %q", tc.expr, names, tc.names)
		}
	}
	// a -- b is a minus of a negation, never a SQL comment.
	s := &Schema{Models: map[string]*Model{"m": {View: "v", Columns: []warehouse.Column{{Name: "a", Category: warehouse.TypeInteger}, {Name: "b", Category: warehouse.TypeInteger}},
		Calculated: []CalculatedField{{Name: "f", Kind: CalcFormula, Expression: "a -- b"}}}}}
	got, err := CompileIn(testDialect{}, s, "m", all(cond("f", OpEquals, "1")), Options{})
	if err != nil || got != `SELECT * FROM "dinmo_segments"."v" WHERE ("a" - (-"b")) = 1` {
		t.Errorf("a -- b compiles to %s, %v", got, err)
	}
}

func TestDecodeEncodeGraph(t *testing.T) {
	g := all_(
		relative("signup_at", OpInLast, 30, UnitDays),
		related(QuantCountAtLeast, i64(0), gp(all(cond(colStatus, OpEquals, "paid"))), &Window{Column: "ordered_at", Last: i64(0), Unit: UnitMonths}, "orders", "lines"),
		withWindow(withOrder(aggCond(AggFirst, colAmount, OpIn, "1", "2"), "ordered_at"), &Window{From: "2024-01-01", To: "2024-01-31"}),
		member("vip", true),
	)
	data, err := Encode(g)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"match":"all","conditions":[{"column":"signup_at","operator":"in_last","value":"30","unit":"days"}],` +
		`"related":[{"path":["orders","lines"],"quantifier":"count_at_least","count":0,"filter":{"match":"all","conditions":[{"column":"Status","operator":"equals","value":"paid"}]},"window":{"column":"ordered_at","last":0,"unit":"months"}}],` +
		`"aggregates":[{"path":["orders"],"function":"first","column":"amount \"€\"","order_by":"ordered_at","window":{"from":"2024-01-01","to":"2024-01-31"},"operator":"in","values":["1","2"]}],` +
		`"memberships":[{"segment":"vip","exclude":true}]}`
	if string(data) != want {
		t.Errorf("Encode = %s\nwant     %s", data, want)
	}
	back, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := json.Marshal(back); string(again) != want {
		t.Errorf("round trip = %s", again)
	}
	for _, bad := range []string{`{"match":"all","related":[{"path":["a"],"quantifier":"exists","extra":1}]}`, `{"match":"all","memberships":[{"segment":"a","include":true}]}`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%s) accepted an unknown field", bad)
		}
	}
}
