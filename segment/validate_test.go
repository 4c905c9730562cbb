package segment

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"dinmo/connectors/warehouse"
)

// testColumns is the model every unit test validates against.
var testColumns = []warehouse.Column{
	{Name: "id", DatabaseType: "BIGINT", Category: warehouse.TypeInteger},
	{Name: "email", DatabaseType: "VARCHAR", Category: warehouse.TypeString},
	{Name: "country", DatabaseType: "VARCHAR", Category: warehouse.TypeString},
	{Name: "Country", DatabaseType: "VARCHAR", Category: warehouse.TypeString},
	{Name: "age", DatabaseType: "INTEGER", Category: warehouse.TypeInteger},
	{Name: "score", DatabaseType: "DECIMAL(10,2)", Category: warehouse.TypeNumber},
	{Name: "active", DatabaseType: "BOOLEAN", Category: warehouse.TypeBoolean},
	{Name: "signup", DatabaseType: "DATE", Category: warehouse.TypeDate},
	{Name: "last_seen", DatabaseType: "TIMESTAMPTZ", Category: warehouse.TypeTimestamp},
	{Name: "payload", DatabaseType: "JSON", Category: warehouse.TypeOther},
	{Name: "mystery", DatabaseType: "GEOGRAPHY", Category: "geo"},
}

func str(s string) *string { return &s }

func cond(col, op string, value ...string) Condition {
	c := Condition{Column: col, Operator: op}
	switch {
	case len(value) == 1:
		c.Value = &value[0]
	case len(value) > 1:
		c.Values = value
	}
	return c
}

func list(col, op string, values ...string) Condition {
	return Condition{Column: col, Operator: op, Values: values}
}

func all(conds ...Condition) Group { return Group{Match: MatchAll, Conditions: conds} }

type wantErr struct {
	path string
	// contains are substrings the message must contain.
	contains []string
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		g    Group
		want []wantErr
	}{
		{name: "empty all", g: Group{Match: MatchAll}},
		{name: "empty any", g: Group{Match: MatchAny}},
		{name: "valid everything", g: Group{Match: MatchAny, Conditions: []Condition{
			cond("email", OpEquals, "a@b.c"),
			cond("email", OpNotEquals, ""),
			list("country", OpIn, "FR"),
			list("country", OpNotIn, "FR", "DE", "FR"),
			cond("email", OpContains, "%_\\"),
			cond("email", OpNotContains, "x"),
			cond("email", OpStartsWith, "a"),
			cond("email", OpEndsWith, "z"),
			cond("age", OpGT, "-5"),
			cond("age", OpGTE, "+5"),
			cond("score", OpLT, "12.50"),
			cond("score", OpLTE, "-0.001"),
			list("score", OpBetween, "1", "1"),
			list("signup", OpBetween, "2024-01-01", "2024-12-31"),
			list("last_seen", OpBetween, "2024-01-01T00:00:00Z", "2024-01-01 00:00:00.5"),
			cond("last_seen", OpGT, "2024-01-01T02:00:00+02:00"),
			cond("last_seen", OpLT, "2024-01-01T02:00:00"),
			list("signup", OpIn, "2024-02-29"),
			cond("active", OpIsTrue),
			cond("active", OpIsFalse),
			cond("payload", OpIsNull),
			cond("mystery", OpIsNotNull),
		}, Groups: []Group{{Match: MatchAll, Negate: true}, {Match: MatchAny, Groups: []Group{all(cond("id", OpEquals, "1"))}}}}},
		{
			name: "bad match",
			g:    Group{Match: "every", Groups: []Group{{Match: ""}}},
			want: []wantErr{
				{"match", []string{`unknown match "every"`, `"all"`, `"any"`}},
				{"groups[0].match", []string{"match is required"}},
			},
		},
		{
			name: "unknown column with close match",
			g:    all(cond("emial", OpEquals, "x"), cond("COUNTRY", OpEquals, "x"), cond("zzzzzzz", OpIsNull), cond("", OpIsNull), cond("id\x00", OpIsNull)),
			want: []wantErr{
				{"conditions[0].column", []string{`unknown column "emial"`, `did you mean "email"?`}},
				{"conditions[1].column", []string{`unknown column "COUNTRY"`, `case-sensitive`, `"country" or "Country"`}},
				{"conditions[2].column", []string{`unknown column "zzzzzzz"`, `the model's columns are "id", "email"`}},
				{"conditions[3].column", []string{"column is required"}},
				{"conditions[4].column", []string{`column name "id\x00" is not valid UTF-8 text without NUL characters`}},
			},
		},
		{
			name: "operators",
			g: Group{Match: MatchAll, Groups: []Group{{Match: MatchAny, Conditions: []Condition{
				cond("email", "equal", "x"),
				cond("email", "", "x"),
				cond("age", OpContains, "1"),
				cond("email", OpGT, "a"),
				cond("active", OpEquals, "true"),
				cond("payload", OpEquals, "{}"),
				cond("mystery", OpIn, "x"),
				cond("email", "bogus_operator_name"),
			}}}},
			want: []wantErr{
				{"groups[0].conditions[0].operator", []string{`unknown operator "equal"`, `did you mean "equals"?`}},
				{"groups[0].conditions[1].operator", []string{"operator is required", "operators for string columns are equals, not_equals"}},
				{"groups[0].conditions[2].operator", []string{`operator "contains" does not apply to column "age" of type INTEGER (integer)`, "operators for integer columns are equals, not_equals, in, not_in, gt"}},
				{"groups[0].conditions[3].operator", []string{`operator "gt" does not apply to column "email"`}},
				{"groups[0].conditions[4].operator", []string{`operator "equals" does not apply to column "active"`, "is_true, is_false"}},
				{"groups[0].conditions[5].operator", []string{`column "payload" has type JSON (other)`, `"is_null" or "is_not_null"`}},
				{"groups[0].conditions[6].operator", []string{`column "mystery" has type GEOGRAPHY (other)`}},
				{"groups[0].conditions[7].operator", []string{`unknown operator "bogus_operator_name"`, "operators for string columns are"}},
			},
		},
		{
			name: "value counts",
			g: all(
				cond("email", OpEquals),
				list("email", OpEquals, "a", "b"),
				Condition{Column: "email", Operator: OpEquals, Value: str("a"), Values: []string{"b"}},
				Condition{Column: "email", Operator: OpIn, Values: []string{}},
				Condition{Column: "email", Operator: OpIn, Value: str("a")},
				list("age", OpBetween, "1"),
				list("age", OpBetween, "1", "2", "3"),
				Condition{Column: "age", Operator: OpBetween, Value: str("1"), Values: []string{"1", "2"}},
				cond("active", OpIsTrue, "true"),
				Condition{Column: "payload", Operator: OpIsNull, Values: []string{"x"}},
				// An empty list is the same as no list (HCL and JSON may give either).
				Condition{Column: "payload", Operator: OpIsNull, Values: []string{}},
				Condition{Column: "email", Operator: OpEquals, Value: str(""), Values: []string{}},
			),
			want: []wantErr{
				{"conditions[0].value", []string{`operator "equals" needs a value`}},
				{"conditions[1].value", []string{`needs a value`}},
				{"conditions[1].values", []string{`takes a single value in value, not values`}},
				{"conditions[2].values", []string{`takes a single value in value, not values`}},
				{"conditions[3].values", []string{`operator "in" needs at least one value`}},
				{"conditions[4].value", []string{`a list in values, not value`}},
				{"conditions[4].values", []string{`needs at least one value`}},
				{"conditions[5].values", []string{`needs exactly 2 values`, "got 1"}},
				{"conditions[6].values", []string{`needs exactly 2 values`, "got 3"}},
				{"conditions[7].value", []string{`values = [low, high], not value`}},
				{"conditions[8].value", []string{`operator "is_true" takes no value`}},
				{"conditions[9].values", []string{`operator "is_null" takes no values`}},
			},
		},
		{
			name: "unparseable values",
			g: all(
				cond("age", OpEquals, "1.5"),
				cond("age", OpEquals, "99999999999999999999"),
				cond("age", OpEquals, " 1"),
				list("score", OpIn, "1", "1e3", "abc", ".5", "1."),
				cond("score", OpGT, "NaN"),
				cond("signup", OpEquals, "2024-02-30"),
				cond("signup", OpEquals, "01/02/2024"),
				cond("signup", OpEquals, "2024-01-01T00:00:00Z"),
				cond("last_seen", OpGT, "2024-01-01"),
				cond("last_seen", OpGT, "yesterday"),
				cond("last_seen", OpGT, "2024-01-01T00:00:00.1234567Z"),
				cond("email", OpEquals, "a\x00b"),
				cond("email", OpEquals, "\xff"),
			),
			want: []wantErr{
				{"conditions[0].value", []string{`"1.5" is not an integer`, `column "age" has type INTEGER (integer)`}},
				{"conditions[1].value", []string{`is not an integer`}},
				{"conditions[2].value", []string{`" 1" is not an integer`}},
				{"conditions[3].values[1]", []string{`"1e3" is not a decimal number`, "without exponent"}},
				{"conditions[3].values[2]", []string{`"abc" is not a decimal number`}},
				{"conditions[3].values[3]", []string{`".5" is not a decimal number`}},
				{"conditions[3].values[4]", []string{`"1." is not a decimal number`}},
				{"conditions[4].value", []string{`"NaN" is not a decimal number`}},
				{"conditions[5].value", []string{`"2024-02-30" is not a date in the form YYYY-MM-DD`}},
				{"conditions[6].value", []string{`is not a date`}},
				{"conditions[7].value", []string{`is not a date`}},
				{"conditions[8].value", []string{`"2024-01-01" is not a timestamp`, "RFC 3339"}},
				{"conditions[9].value", []string{`is not a timestamp`}},
				{"conditions[10].value", []string{"more than microsecond precision"}},
				{"conditions[11].value", []string{"NUL character"}},
				{"conditions[12].value", []string{"not valid UTF-8"}},
			},
		},
		{
			name: "between reversed",
			g: all(
				list("age", OpBetween, "10", "9"),
				list("score", OpBetween, "10.5", "10.49999"),
				list("score", OpBetween, "-1", "-2"),
				list("signup", OpBetween, "2024-01-02", "2024-01-01"),
				list("last_seen", OpBetween, "2024-01-01T01:00:00+00:00", "2024-01-01T01:30:00+01:00"),
				list("age", OpBetween, "-10", "9"),
				list("score", OpBetween, "9.99", "10"),
				list("last_seen", OpBetween, "2024-01-01T01:00:00+00:00", "2024-01-01T02:30:00+01:00"),
			),
			want: []wantErr{
				{"conditions[0].values", []string{`between needs low <= high, got low "10" > high "9"`}},
				{"conditions[1].values", []string{`low "10.5" > high "10.49999"`}},
				{"conditions[2].values", []string{`low "-1" > high "-2"`}},
				{"conditions[3].values", []string{`low "2024-01-02"`}},
				{"conditions[4].values", []string{`between needs low <= high`}},
			},
		},
		{
			name: "negated empty top level",
			g:    Group{Match: MatchAll, Negate: true},
			want: []wantErr{{"negate", []string{"would select none"}}},
		},
		{
			name: "deep nesting",
			g:    nest(MaxDepth + 1),
			want: []wantErr{{strings.Repeat("groups[0].", MaxDepth-1) + "groups[0]", []string{"nested more than 16 levels"}}},
		},
		{name: "max nesting", g: nest(MaxDepth)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Validate(tt.g, testColumns)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%s", len(got), len(tt.want), formatErrs(got))
			}
			for i, w := range tt.want {
				if got[i].Path != w.path {
					t.Errorf("error %d: path %q, want %q (message %q)", i, got[i].Path, w.path, got[i].Message)
				}
				for _, sub := range w.contains {
					if !strings.Contains(got[i].Message, sub) {
						t.Errorf("error %d at %s: message %q does not contain %q", i, got[i].Path, got[i].Message, sub)
					}
				}
			}
			// Compile and Predicate refuse exactly the trees Validate refuses.
			_, err := Predicate(testDialect{}, tt.g, testColumns)
			var verr *ValidationError
			switch {
			case len(tt.want) == 0 && err != nil:
				t.Errorf("Predicate: %v", err)
			case len(tt.want) > 0 && !errors.As(err, &verr):
				t.Errorf("Predicate error = %v, want a *ValidationError", err)
			case len(tt.want) > 0 && len(verr.Errors) != len(got):
				t.Errorf("Predicate reported %d errors, Validate %d", len(verr.Errors), len(got))
			}
		})
	}
}

// nest returns depth groups nested in each other, the innermost holding one condition.
func nest(depth int) Group {
	g := all(cond("id", OpIsNotNull))
	for range depth - 1 {
		g = Group{Match: MatchAny, Groups: []Group{g}}
	}
	return g
}

func formatErrs(errs []*Error) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("  " + e.Error() + "\n")
	}
	return b.String()
}

func TestErrorStrings(t *testing.T) {
	e := &Error{Path: "conditions[0].value", Message: "bad"}
	if got := e.Error(); got != "conditions[0].value: bad" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&Error{Message: "bad"}).Error(); got != "bad" {
		t.Errorf("Error() without path = %q", got)
	}
	_, err := Compile(testDialect{}, "s", "v", all(cond("nope", OpIsNull), cond("age", OpEquals, "x")), testColumns)
	if err == nil {
		t.Fatal("Compile accepted an invalid tree")
	}
	want := `compile segment: invalid segment conditions: conditions[0].column: unknown column "nope"`
	if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), `; conditions[1].value: "x" is not an integer`) {
		t.Errorf("Compile error = %q", err)
	}
	var verr *ValidationError
	if !errors.As(err, &verr) || len(verr.Errors) != 2 {
		t.Errorf("Compile error does not unwrap to the 2 validation errors: %#v", err)
	}
	long := strings.Repeat("é", 100)
	errs := Validate(all(cond("age", OpEquals, long)), testColumns)
	if len(errs) != 1 || strings.Contains(errs[0].Message, long) || !strings.Contains(errs[0].Message, `"...`) {
		t.Errorf("a long value is not shortened in the message: %v", errs)
	}
}

func TestCompileArguments(t *testing.T) {
	if _, err := Compile(nil, "s", "v", Group{Match: MatchAll}, testColumns); err == nil {
		t.Error("Compile accepted a nil dialect")
	}
	if _, err := Compile(testDialect{}, "s", "", Group{Match: MatchAll}, testColumns); err == nil {
		t.Error("Compile accepted an empty view name")
	}
	if _, err := Predicate(nil, Group{Match: MatchAll}, testColumns); err == nil {
		t.Error("Predicate accepted a nil dialect")
	}
	got, err := Compile(testDialect{}, "", "v", Group{Match: MatchAll}, testColumns)
	if err != nil || got != `SELECT * FROM "v"` {
		t.Errorf("Compile without schema = %q, %v", got, err)
	}
	g := all(cond("email", OpContains, `a%_\`))
	for d, want := range map[warehouse.Dialect]string{
		testDialect{}:     `CAST("email" AS TEXT) LIKE '%a\%\_\\%' ESCAPE '\'`,
		bigQueryDialect{}: `CAST("email" AS TEXT) LIKE '%a\%\_\\%'`,
	} {
		if got, err := Predicate(d, g, testColumns); err != nil || got != want {
			t.Errorf("%s: Predicate = %s, %v; want %s", d.Engine(), got, err, want)
		}
	}
}

func TestOperatorTable(t *testing.T) {
	ops := Operators()
	if len(ops) != 24 {
		t.Fatalf("%d operators, want 24", len(ops))
	}
	seen := map[string]bool{}
	for _, o := range ops {
		if seen[o.Name] {
			t.Errorf("operator %q listed twice", o.Name)
		}
		seen[o.Name] = true
		if o.Description == "" || len(o.Categories) == 0 {
			t.Errorf("operator %q lacks a description or categories", o.Name)
		}
		// Every operator in the table compiles (no panic in the compiler's switch).
		if _, ok := LookupOperator(o.Name); !ok {
			t.Errorf("LookupOperator(%q) failed", o.Name)
		}
	}
	ops[0].Categories[0] = "mutated"
	if o, _ := LookupOperator(OpEquals); o.Categories[0] != warehouse.TypeString {
		t.Error("Operators() shares its slices with the table")
	}
	if _, ok := LookupOperator("nope"); ok {
		t.Error("LookupOperator found an unknown operator")
	}
	wantFor := map[warehouse.TypeCategory][]string{
		warehouse.TypeString:    {"equals", "not_equals", "in", "not_in", "contains", "not_contains", "starts_with", "ends_with", "is_null", "is_not_null"},
		warehouse.TypeInteger:   {"equals", "not_equals", "in", "not_in", "gt", "gte", "lt", "lte", "between", "is_null", "is_not_null"},
		warehouse.TypeNumber:    {"equals", "not_equals", "in", "not_in", "gt", "gte", "lt", "lte", "between", "is_null", "is_not_null"},
		warehouse.TypeDate:      {"equals", "not_equals", "in", "not_in", "gt", "gte", "lt", "lte", "between", "before", "after", "in_last", "in_next", "more_than_ago", "on_weekday", "in_month", "is_null", "is_not_null"},
		warehouse.TypeTimestamp: {"equals", "not_equals", "in", "not_in", "gt", "gte", "lt", "lte", "between", "before", "after", "in_last", "in_next", "more_than_ago", "on_weekday", "in_month", "is_null", "is_not_null"},
		warehouse.TypeBoolean:   {"is_true", "is_false", "is_null", "is_not_null"},
		warehouse.TypeOther:     {"is_null", "is_not_null"},
		"unknown":               {"is_null", "is_not_null"},
	}
	for cat, want := range wantFor {
		if got := OperatorsFor(cat); !slices.Equal(got, want) {
			t.Errorf("OperatorsFor(%s) = %v, want %v", cat, got, want)
		}
	}
	for a, want := range map[Arity]string{NoValue: "no value", OneValue: "one value", ValueList: "a list of values", ValueRange: "two values (low, high)", AmountUnit: "a count in value and a unit", Arity(9): "unknown arity"} {
		if a.String() != want {
			t.Errorf("Arity(%d).String() = %q, want %q", a, a.String(), want)
		}
	}
}

func TestDecodeEncode(t *testing.T) {
	g := Group{Match: MatchAny, Negate: true, Conditions: []Condition{cond("email", OpEquals, ""), list("age", OpBetween, "1", "2")},
		Groups: []Group{{Match: MatchAll, Conditions: []Condition{cond("active", OpIsTrue)}}}}
	data, err := Encode(g)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"match":"any","negate":true,"conditions":[{"column":"email","operator":"equals","value":""},{"column":"age","operator":"between","values":["1","2"]}],"groups":[{"match":"all","conditions":[{"column":"active","operator":"is_true"}]}]}`
	if string(data) != want {
		t.Errorf("Encode = %s\nwant     %s", data, want)
	}
	back, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(back)
	if string(again) != want {
		t.Errorf("round trip = %s", again)
	}
	for _, bad := range []string{`{"match":"all","extra":1}`, `{"match":"all"} {}`, `[`, `{"match":1}`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%s) succeeded", bad)
		} else if !strings.HasPrefix(err.Error(), "decode segment conditions: ") {
			t.Errorf("Decode(%s) error lacks its prefix: %v", bad, err)
		}
	}
}

func TestClosest(t *testing.T) {
	names := []string{"first_name", "last_name", "email", "Email", "EMAIL", "phone"}
	tests := map[string][]string{
		"emal":       {"email", "Email", "EMAIL"},
		"eMail":      {"email", "Email", "EMAIL"},
		"frist_name": {"first_name"},
		"zip":        nil,
		"":           nil,
		"phnoe":      {"phone"},
	}
	for in, want := range tests {
		if got := closest(in, names); !slices.Equal(got, want) {
			t.Errorf("closest(%q) = %v, want %v", in, got, want)
		}
	}
	for _, tc := range []struct {
		a, b string
		want int
	}{{"kitten", "sitting", 3}, {"", "abc", 3}, {"emial", "email", 1}, {"abc", "abc", 0}, {"éa", "aé", 1}} {
		if d := editDistance(tc.a, tc.b); d != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, d, tc.want)
		}
	}
}
