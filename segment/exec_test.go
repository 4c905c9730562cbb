package segment

import (
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"dinmo/connectors/warehouse"
)

// The execution tests create the same fixture table on each engine, compile every case of
// execCases against it, run the SQL and compare the selected ids with those an independent Go
// evaluator of the documented semantics selects from the same fixture rows.

// Hostile names prove that identifiers are quoted end to end.
const (
	fixtureSchema = `seg "test"`
	fixtureTable  = `rows; --`
	fixtureView   = `Model 'view'`
	colCountry    = "Country Code"
	colOdd        = `it's "odd"`
)

type fixtureRow struct {
	id       int64
	name     *string
	country  *string
	age      *int64
	score    *string // exact decimal text
	odd      *bool
	signup   *string // YYYY-MM-DD
	lastSeen *time.Time
	payload  []byte // nil is NULL
}

func p[T any](v T) *T { return &v }

func ts(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return &t
}

var fixtureRows = []fixtureRow{
	{1, p("Alice"), p("FR"), p[int64](34), p("12.5000"), p(true), p("2023-01-15"), ts("2024-05-01T10:00:00Z"), []byte("x")},
	{2, p("alice"), p("fr"), p[int64](17), p("0"), p(false), p("2023-01-16"), ts("2024-05-01T10:00:00.000001Z"), nil},
	{3, p("Bob"), nil, p[int64](45), p("-3.25"), nil, p("2022-12-31"), ts("2024-04-30T23:59:59.999999Z"), []byte{}},
	{4, nil, p("FR"), nil, nil, p(true), nil, nil, nil},
	{5, p("100% sure"), p("DE"), p[int64](0), p("99999999.9999"), p(true), p("2024-02-29"), ts("2024-03-10T02:30:00Z"), nil},
	{6, p("100 sure"), p("DE"), p[int64](-1), p("-99999999.9999"), p(false), p("2000-01-01"), ts("1999-12-31T23:59:59Z"), []byte("y")},
	{7, p("under_score"), p("US"), p[int64](2147483647), p("0.0001"), p(true), p("1970-01-01"), ts("1970-01-01T00:00:00Z"), nil},
	{8, p("underXscore"), p("US"), p[int64](-2147483648), p("-0.0001"), nil, p("1969-12-31"), ts("2038-01-19T03:14:08Z"), nil},
	{9, p(`back\slash`), p("GB"), p[int64](18), p("18.0000"), p(false), p("2024-01-01"), ts("2024-01-01T00:00:00Z"), nil},
	{10, p("backslash"), p("GB"), p[int64](19), p("18.0001"), p(true), p("2024-12-31"), ts("2024-12-31T23:59:59Z"), nil},
	{11, p("O'Brien"), p("IE"), p[int64](18), p("17.9999"), nil, nil, ts("2024-05-01T12:00:00+02:00"), nil},
	{12, p("OBrien"), p("IE"), nil, p("1"), p(false), p("2023-06-30"), nil, []byte("z")},
	{13, p("'; DROP TABLE x; --"), p("XX"), p[int64](1), p("1.5"), p(true), p("2023-07-01"), ts("2023-07-01T00:00:00Z"), nil},
	{14, p(""), p(""), p[int64](2), p("2.25"), p(false), p("2023-07-02"), ts("2023-07-02T12:30:00Z"), nil},
	{15, p("café ☕"), p("FR"), p[int64](65), p("65"), p(true), p("2021-03-04"), ts("2021-03-04T05:06:07.5Z"), nil},
	{16, p("CAFÉ"), p("fr"), p[int64](66), p("66.6"), nil, p("2021-03-05"), nil, nil},
	{17, p(`"quoted"`), nil, nil, p("7"), p(true), nil, ts("2022-02-02T02:02:02Z"), nil},
	{18, p("  spaced  "), p("ES"), p[int64](25), nil, p(false), p("2022-08-08"), nil, nil},
	{19, p("Zoë"), p("ES"), p[int64](30), p("30.3"), p(true), p("2022-09-09"), ts("2022-09-09T09:09:09Z"), nil},
	{20, p("%"), p("PT"), p[int64](40), p("-40"), nil, p("2020-02-29"), ts("2020-02-29T00:00:00Z"), nil},
	{21, p("_"), p("PT"), p[int64](41), p("-41.5"), p(false), nil, ts("2020-03-01T00:00:00Z"), nil},
	{22, p(`\`), nil, p[int64](42), p("42"), p(true), p("2019-01-01"), nil, nil},
	{23, p(`a%b_c\d`), p("US"), p[int64](43), p("43.21"), nil, p("2019-01-02"), ts("2019-01-02T00:00:00Z"), nil},
	{24, p("ab_cd"), p("US"), p[int64](44), p("44"), p(true), p("2019-01-03"), ts("2019-01-03T00:00:00Z"), nil},
	{25, p("abXcd"), p("FR"), nil, p("0.5"), nil, nil, nil, nil},
	{26, nil, nil, nil, nil, nil, nil, nil, nil},
	{27, p("Émile"), p("BE"), p[int64](18), p("18"), p(true), p("2024-05-01"), ts("2024-05-01T08:00:00Z"), nil},
	{28, p("li"), p("BE"), p[int64](99), p("12.5"), p(false), p("2024-05-02"), ts("2024-05-02T00:00:00Z"), nil},
	{29, p("Oli"), nil, p[int64](-18), p("-12.5"), p(true), p("2024-04-30"), ts("2024-04-30T00:00:00Z"), []byte("w")},
	{30, p("line\nbreak"), p("FR"), p[int64](5), p("5.0001"), p(false), p("2024-05-01"), ts("2024-05-01T10:00:00Z"), nil},
}

// fixtureColumns are the model's columns as the compiler sees them. The engine tests also
// check that introspection yields these categories.
var fixtureColumns = []warehouse.Column{
	{Name: "id", Category: warehouse.TypeInteger},
	{Name: "name", Category: warehouse.TypeString},
	{Name: colCountry, Category: warehouse.TypeString},
	{Name: "age", Category: warehouse.TypeInteger},
	{Name: "score", Category: warehouse.TypeNumber},
	{Name: colOdd, Category: warehouse.TypeBoolean},
	{Name: "signup", Category: warehouse.TypeDate},
	{Name: "last_seen", Category: warehouse.TypeTimestamp},
	{Name: "payload", Category: warehouse.TypeOther},
	// seen_naive holds last_seen's UTC wall-clock time in a timestamp without time zone: the
	// connectors pin the session time zone to UTC, so operands compare as UTC there too.
	{Name: "seen_naive", Category: warehouse.TypeTimestamp},
}

type execCase struct {
	name string
	g    Group
}

func any_(items ...any) Group { return group(MatchAny, items) }
func all_(items ...any) Group { return group(MatchAll, items) }
func not(g Group) Group       { g.Negate = true; return g }

func group(match string, items []any) Group {
	g := Group{Match: match}
	for _, it := range items {
		switch v := it.(type) {
		case Condition:
			g.Conditions = append(g.Conditions, v)
		case Group:
			g.Groups = append(g.Groups, v)
		case RelatedCondition:
			g.Related = append(g.Related, v)
		case AggregateCondition:
			g.Aggregates = append(g.Aggregates, v)
		case MembershipCondition:
			g.Memberships = append(g.Memberships, v)
		default:
			panic(fmt.Sprintf("unexpected %T", it))
		}
	}
	return g
}

var execCases = []execCase{
	// Every operator alone.
	{"equals string", all_(cond("name", OpEquals, "Alice"))},
	{"equals quote", all_(cond("name", OpEquals, "O'Brien"))},
	{"equals injection", all_(cond("name", OpEquals, "'; DROP TABLE x; --"))},
	{"equals empty string", all_(cond("name", OpEquals, ""))},
	{"equals backslash", all_(cond("name", OpEquals, `\`))},
	{"equals unicode", all_(cond("name", OpEquals, "café ☕"))},
	{"equals newline", all_(cond("name", OpEquals, "line\nbreak"))},
	{"equals integer", all_(cond("age", OpEquals, "18"))},
	{"equals number scale", all_(cond("score", OpEquals, "12.5"))},
	{"equals date", all_(cond("signup", OpEquals, "2024-05-01"))},
	{"equals timestamp", all_(cond("last_seen", OpEquals, "2024-05-01T10:00:00Z"))},
	{"equals timestamp offset", all_(cond("last_seen", OpEquals, "2024-05-01T12:00:00+02:00"))},
	{"equals timestamp space form", all_(cond("last_seen", OpEquals, "2024-05-01 10:00:00.000001"))},
	{"not_equals includes null", all_(cond(colCountry, OpNotEquals, "FR"))},
	{"not_equals number", all_(cond("score", OpNotEquals, "12.5"))},
	{"in strings", all_(list(colCountry, OpIn, "FR", "DE", "fr"))},
	{"in numbers", all_(list("score", OpIn, "0", "-0.0001", "18", "99999999.9999"))},
	{"in dates", all_(list("signup", OpIn, "2024-02-29", "1970-01-01"))},
	{"not_in includes null", all_(list(colCountry, OpNotIn, "FR", "US"))},
	{"not_in integers", all_(list("age", OpNotIn, "18", "-1"))},
	{"contains", all_(cond("name", OpContains, "li"))},
	{"contains percent", all_(cond("name", OpContains, "%"))},
	{"contains underscore", all_(cond("name", OpContains, "_"))},
	{"contains backslash", all_(cond("name", OpContains, `\`))},
	{"contains all wildcards", all_(cond("name", OpContains, `%b_c\`))},
	{"contains quote", all_(cond("name", OpContains, "'"))},
	{"contains case sensitive", all_(cond("name", OpContains, "É"))},
	{"contains empty", all_(cond("name", OpContains, ""))},
	{"not_contains includes null", all_(cond("name", OpNotContains, "a"))},
	{"not_contains underscore", all_(cond("name", OpNotContains, "_"))},
	{"starts_with", all_(cond("name", OpStartsWith, "100%"))},
	{"starts_with underscore", all_(cond("name", OpStartsWith, "ab_"))},
	{"starts_with unicode", all_(cond("name", OpStartsWith, "ca"))},
	{"ends_with", all_(cond("name", OpEndsWith, `_c\d`))},
	{"ends_with case", all_(cond("name", OpEndsWith, "ce"))},
	{"gt integer", all_(cond("age", OpGT, "18"))},
	{"gte integer", all_(cond("age", OpGTE, "18"))},
	{"lt negative", all_(cond("age", OpLT, "-1"))},
	{"lte extreme", all_(cond("age", OpLTE, "-2147483648"))},
	{"gt number", all_(cond("score", OpGT, "18.00005"))},
	{"lt number", all_(cond("score", OpLT, "-0.00005"))},
	{"gte date", all_(cond("signup", OpGTE, "2024-01-01"))},
	{"lt date", all_(cond("signup", OpLT, "1970-01-01"))},
	{"gt timestamp micro", all_(cond("last_seen", OpGT, "2024-05-01T10:00:00Z"))},
	{"lte timestamp offset", all_(cond("last_seen", OpLTE, "2024-05-01T12:00:00+02:00"))},
	{"between integers", all_(list("age", OpBetween, "18", "30"))},
	{"between equal bounds", all_(list("age", OpBetween, "18", "18"))},
	{"between numbers", all_(list("score", OpBetween, "-3.25", "12.5"))},
	{"between dates", all_(list("signup", OpBetween, "2023-01-01", "2023-12-31"))},
	{"between timestamps", all_(list("last_seen", OpBetween, "2024-04-30T23:59:59.999999Z", "2024-05-01 10:00:00"))},
	{"naive timestamp equals", all_(cond("seen_naive", OpEquals, "2024-05-01T12:00:00+02:00"))},
	{"naive timestamp between", all_(list("seen_naive", OpBetween, "2024-04-30T23:59:59.999999Z", "2024-05-01 10:00:00"))},
	{"naive timestamp gt", all_(cond("seen_naive", OpGT, "2024-05-01T05:00:00-05:00"))},
	{"is_true", all_(cond(colOdd, OpIsTrue))},
	{"is_false", all_(cond(colOdd, OpIsFalse))},
	{"is_null string", all_(cond("name", OpIsNull))},
	{"is_null boolean", all_(cond(colOdd, OpIsNull))},
	{"is_null timestamp", all_(cond("last_seen", OpIsNull))},
	{"is_not_null other", all_(cond("payload", OpIsNotNull))},
	{"is_null other", all_(cond("payload", OpIsNull))},

	// Groups.
	{"empty top level all", Group{Match: MatchAll}},
	{"empty top level any", Group{Match: MatchAny}},
	{"empty nested any", all_(cond("age", OpGT, "0"), any_())},
	{"empty nested all", any_(cond("age", OpGT, "60"), all_())},
	{"negated empty nested any", all_(cond("age", OpGT, "60"), not(any_()))},
	{"negated empty nested all", any_(cond("age", OpGT, "60"), not(all_()))},
	{"all", all_(cond(colCountry, OpEquals, "FR"), cond(colOdd, OpIsTrue))},
	{"any", any_(cond(colCountry, OpEquals, "FR"), cond("age", OpLT, "0"), cond("name", OpIsNull))},
	{"negate includes nulls", not(all_(cond("age", OpGT, "18")))},
	{"negate any", not(any_(cond(colCountry, OpEquals, "FR"), cond("score", OpLT, "0")))},
	{"negate not_equals", not(all_(cond(colCountry, OpNotEquals, "FR")))},
	{"negate is_true", not(all_(cond(colOdd, OpIsTrue)))},
	{"nested", all_(
		list(colCountry, OpIn, "FR", "US", "DE"),
		not(any_(cond("age", OpLT, "18"), cond(colOdd, OpIsFalse))),
		any_(cond("score", OpGT, "1"), all_(cond("name", OpContains, "_"), cond("signup", OpIsNotNull))),
	)},
	{"deep", any_(all_(any_(all_(cond("name", OpStartsWith, "a"), not(all_(cond("age", OpIsNull)))), cond("signup", OpLT, "2020-01-01")), cond("payload", OpIsNull)), cond("id", OpEquals, "26"))},
	{"double negation", not(all_(not(any_(cond("age", OpGT, "40"), cond("age", OpIsNull)))))},
	{"negate null comparison inside any", any_(not(all_(cond("signup", OpGT, "2023-01-01"), cond("age", OpLT, "50"))), cond("id", OpEquals, "1"))},
}

// evalGroup is the reference semantics, written independently of the compiler.
func evalGroup(g Group, r fixtureRow) bool {
	var res bool
	if g.Match == MatchAll {
		res = true
		for _, c := range g.Conditions {
			res = res && evalCond(c, r)
		}
		for _, sub := range g.Groups {
			res = res && evalGroup(sub, r)
		}
	} else {
		for _, c := range g.Conditions {
			res = res || evalCond(c, r)
		}
		for _, sub := range g.Groups {
			res = res || evalGroup(sub, r)
		}
	}
	if g.Negate {
		return !res
	}
	return res
}

// value returns the row's value of a column as a comparable key, or nil for NULL.
func (r fixtureRow) value(col string) any {
	switch col {
	case "id":
		return r.id
	case "name":
		return deref(r.name)
	case colCountry:
		return deref(r.country)
	case "age":
		return deref(r.age)
	case "score":
		if r.score == nil {
			return nil
		}
		v, _ := new(big.Rat).SetString(*r.score)
		return v
	case colOdd:
		return deref(r.odd)
	case "signup":
		return deref(r.signup)
	case "last_seen", "seen_naive":
		return deref(r.lastSeen)
	case "payload":
		if r.payload == nil {
			return nil
		}
		return r.payload
	}
	panic("unknown column " + col)
}

func deref[T any](v *T) any {
	if v == nil {
		return nil
	}
	return *v
}

// compare returns -1, 0 or 1 comparing a row value with an operand written as in HCL.
func compare(v any, operand string) int {
	switch x := v.(type) {
	case string: // strings and dates (YYYY-MM-DD sorts as text)
		return strings.Compare(x, operand)
	case int64:
		var n int64
		if _, err := fmt.Sscan(operand, &n); err != nil {
			panic(err)
		}
		return cmpInt(x, n)
	case *big.Rat:
		o, ok := new(big.Rat).SetString(operand)
		if !ok {
			panic(operand)
		}
		return x.Cmp(o)
	case time.Time:
		var o time.Time
		var err error
		if strings.Contains(operand, "T") {
			o, err = time.Parse(time.RFC3339Nano, operand)
		} else {
			o, err = time.Parse("2006-01-02 15:04:05.999999", operand)
		}
		if err != nil {
			panic(err)
		}
		return x.Compare(o)
	}
	panic(fmt.Sprintf("compare %T", v))
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func evalCond(c Condition, r fixtureRow) bool {
	v := r.value(c.Column)
	if c.Operator == OpIsNull {
		return v == nil
	}
	if c.Operator == OpIsNotNull {
		return v != nil
	}
	positive := map[string]string{OpNotEquals: OpEquals, OpNotIn: OpIn, OpNotContains: OpContains}
	if pos, ok := positive[c.Operator]; ok {
		return !evalCond(Condition{Column: c.Column, Operator: pos, Value: c.Value, Values: c.Values}, r)
	}
	if v == nil {
		return false
	}
	switch c.Operator {
	case OpEquals:
		return compare(v, *c.Value) == 0
	case OpIn:
		return slices.ContainsFunc(c.Values, func(o string) bool { return compare(v, o) == 0 })
	case OpContains:
		return strings.Contains(asString(v), *c.Value)
	case OpStartsWith:
		return strings.HasPrefix(asString(v), *c.Value)
	case OpEndsWith:
		return strings.HasSuffix(asString(v), *c.Value)
	case OpGT:
		return compare(v, *c.Value) > 0
	case OpGTE:
		return compare(v, *c.Value) >= 0
	case OpLT:
		return compare(v, *c.Value) < 0
	case OpLTE:
		return compare(v, *c.Value) <= 0
	case OpBetween:
		return compare(v, c.Values[0]) >= 0 && compare(v, c.Values[1]) <= 0
	case OpIsTrue:
		return v == true
	case OpIsFalse:
		return v == false
	}
	panic("unknown operator " + c.Operator)
}

func asString(v any) string {
	s, ok := v.(string)
	if !ok {
		panic(fmt.Sprintf("string operator on a %T value", v))
	}
	return s
}

func expectedIDs(g Group) []int64 {
	// An empty top-level group selects the whole model, whatever its match.
	wholeModel := len(g.Conditions) == 0 && len(g.Groups) == 0
	ids := []int64{}
	for _, r := range fixtureRows {
		if wholeModel || evalGroup(g, r) {
			ids = append(ids, r.id)
		}
	}
	return ids
}

// loadFixture creates the schema, table and model view on w and inserts the rows with bind
// parameters (so the fixture does not depend on the code under test). types are the engine's
// types of fixtureColumns, in order. It returns the view's columns as the connector
// introspects them, after checking they have the categories the cases expect.
func loadFixture(t *testing.T, w warehouse.Warehouse, types []string) []warehouse.Column {
	t.Helper()
	ctx := t.Context()
	d := w.Dialect()
	db := w.DB()
	defs := make([]string, len(fixtureColumns))
	names := make([]string, len(fixtureColumns))
	marks := make([]string, len(fixtureColumns))
	for i, c := range fixtureColumns {
		names[i] = d.QuoteIdent(c.Name)
		defs[i] = names[i] + " " + types[i]
		marks[i] = d.Placeholder(i + 1)
	}
	stmts := []string{
		d.CreateSchema(fixtureSchema),
		"CREATE TABLE " + d.Qualified(fixtureSchema, fixtureTable) + " (" + strings.Join(defs, ", ") + ")",
		d.CreateOrReplaceView(fixtureSchema, fixtureView, "SELECT * FROM "+d.Qualified(fixtureSchema, fixtureTable)),
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("fixture: %s: %v", s, err)
		}
	}
	insert := "INSERT INTO " + d.Qualified(fixtureSchema, fixtureTable) + " (" + strings.Join(names, ", ") + ") VALUES (" + strings.Join(marks, ", ") + ")" //nolint:gosec // quoted names and placeholders
	for _, r := range fixtureRows {
		var payload any
		if r.payload != nil {
			payload = r.payload
		}
		var naive any
		if r.lastSeen != nil {
			naive = r.lastSeen.UTC().Format("2006-01-02 15:04:05.999999")
		}
		args := []any{r.id, r.name, r.country, r.age, r.score, r.odd, r.signup, r.lastSeen, payload, naive}
		if _, err := db.ExecContext(ctx, insert, args...); err != nil {
			t.Fatalf("fixture: insert row %d: %v", r.id, err)
		}
	}
	cols, err := w.QueryColumns(ctx, "SELECT * FROM "+d.Qualified(fixtureSchema, fixtureView))
	if err != nil {
		t.Fatalf("fixture: introspect the view: %v", err)
	}
	if len(cols) != len(fixtureColumns) {
		t.Fatalf("fixture: introspected %d columns, want %d: %+v", len(cols), len(fixtureColumns), cols)
	}
	for i, c := range cols {
		if c.Name != fixtureColumns[i].Name || c.Category != fixtureColumns[i].Category {
			t.Errorf("fixture: column %d introspected as %q %s (%s), want %q %s", i, c.Name, c.Category, c.DatabaseType, fixtureColumns[i].Name, fixtureColumns[i].Category)
		}
	}
	return cols
}

// runExecCases runs every case on w, whose fixture is loaded and has the columns cols.
func runExecCases(t *testing.T, w warehouse.Warehouse, cols []warehouse.Column) {
	ctx := t.Context()
	nonTrivial := 0
	for _, tc := range execCases {
		t.Run(tc.name, func(t *testing.T) {
			// Round-trip through the stored JSON form, as the runner will read it.
			data, err := Encode(tc.g)
			if err != nil {
				t.Fatal(err)
			}
			g, err := Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			query, err := Compile(w.Dialect(), fixtureSchema, fixtureView, g, cols)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			want := expectedIDs(tc.g)
			if len(want) > 0 && len(want) < len(fixtureRows) {
				nonTrivial++
			}
			ids := "SELECT id FROM (\n" + query + "\n) AS q ORDER BY id"
			rows, err := w.DB().QueryContext(ctx, ids)
			if err != nil {
				t.Fatalf("query %s: %v", query, err)
			}
			defer rows.Close()
			got := []int64{}
			for rows.Next() {
				var id int64
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				got = append(got, id)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("ids = %v\nwant  %v\nsql: %s", got, want, query)
			}
		})
	}
	// Guard against a fixture that makes the comparisons meaningless.
	if nonTrivial < len(execCases)*3/4 {
		t.Errorf("only %d of %d cases select a proper, non-empty subset of the fixture", nonTrivial, len(execCases))
	}
}
