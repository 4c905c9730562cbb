package segment

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"dinmo/connectors/warehouse"
)

// fuzzTree builds a condition tree from fuzz input: shape drives the structure and the choice
// of columns and operators; a and b are the values (and, sometimes, names) it uses.
type fuzzTree struct {
	shape []byte
	pos   int
	a, b  string
	cols  []warehouse.Column
}

func (f *fuzzTree) next() int {
	if f.pos >= len(f.shape) {
		return 0
	}
	v := f.shape[f.pos]
	f.pos++
	return int(v)
}

// typedSamples are valid operands per category, so fuzzing reaches valid trees often.
var typedSamples = map[warehouse.TypeCategory][]string{
	warehouse.TypeInteger:   {"0", "-7", "+42", "9223372036854775807"},
	warehouse.TypeNumber:    {"0", "-3.75", "12.50", "+1"},
	warehouse.TypeDate:      {"2024-02-29", "1970-01-01"},
	warehouse.TypeTimestamp: {"2024-05-01T15:45:00+02:00", "2024-05-01 13:45:00.5"},
}

func (f *fuzzTree) value(cat warehouse.TypeCategory) string {
	k := f.next()
	samples := typedSamples[cat]
	switch {
	case k%4 == 0 || len(samples) == 0 && k%2 == 0:
		return f.a
	case k%4 == 1 || len(samples) == 0:
		return f.b
	default:
		return samples[(k/4)%len(samples)]
	}
}

// operands fills the operands of an operator (sometimes of the wrong arity) for a field of
// category cat.
func (f *fuzzTree) operands(op OperatorInfo, cat warehouse.TypeCategory) (value *string, values []string, unit string) {
	arity := op.Arity
	if f.next()%8 == 7 { // sometimes the wrong operands
		arity = fuzzArity(f.next())
	}
	switch {
	case op.Name == OpOnWeekday && arity == ValueList:
		for range 1 + f.next()%3 {
			values = append(values, []string{"mon", "SUN", "fri", "tue", "sat", f.a}[f.next()%6])
		}
	case op.Name == OpInMonth && arity == ValueList:
		for range 1 + f.next()%3 {
			values = append(values, []string{"1", "12", "2", "7", "6", "13", f.b}[f.next()%7])
		}
	case arity == AmountUnit:
		v := []string{"0", "3", "12", "1", "30", f.a}[f.next()%6]
		value = &v
		unit = []string{UnitDays, UnitWeeks, UnitMonths, UnitYears, UnitDays, UnitMonths, f.b, ""}[f.next()%8]
	case arity == OneValue:
		v := f.value(cat)
		value = &v
	case arity == ValueList, arity == ValueRange:
		n := f.next() % 4
		if arity == ValueRange {
			n = 2
		}
		for range n {
			values = append(values, f.value(cat))
		}
	}
	return value, values, unit
}

// operator picks an operator, usually one that applies to category cat.
func (f *fuzzTree) operator(cat warehouse.TypeCategory) OperatorInfo {
	switch f.next() % 8 {
	case 7:
		return OperatorInfo{Name: f.a, Arity: fuzzArity(f.next())}
	case 6:
		return operatorTable[f.next()%len(operatorTable)]
	default:
		names := OperatorsFor(cat)
		op, _ := LookupOperator(names[f.next()%len(names)])
		return op
	}
}

func (f *fuzzTree) condition() Condition {
	col := f.cols[f.next()%len(f.cols)]
	op := f.operator(normalizeCategory(col.Category))
	c := Condition{Column: col.Name, Operator: op.Name}
	c.Value, c.Values, c.Unit = f.operands(op, normalizeCategory(col.Category))
	return c
}

// fuzzArity maps a fuzz byte to an arity.
func fuzzArity(k int) Arity { return Arity(k % 5) }

func (f *fuzzTree) group(depth int) Group {
	g := Group{Match: MatchAll}
	k := f.next()
	if k%2 == 1 {
		g.Match = MatchAny
	}
	g.Negate = k%3 == 2
	for range f.next() % 4 {
		g.Conditions = append(g.Conditions, f.condition())
	}
	if depth < 5 {
		for range f.next() % 3 {
			g.Groups = append(g.Groups, f.group(depth+1))
		}
	}
	return g
}

// fuzzDialects are the dialects fuzzed: every engine's, and the minimal test dialect.
func fuzzDialects() []warehouse.Dialect { return append(engineDialects(), testDialect{}) }

// checkCompile checks what Compile or CompileIn returned for a tree Validate(In) judged: the
// same refusal for an invalid tree; for a valid one, success (or an error naming what the
// engine cannot express), deterministic output, and SQL whose every piece of user input sits
// in a correctly escaped literal or identifier.
func checkCompile(t *testing.T, d warehouse.Dialect, verrs []*Error, compile func() (string, error), allow allowed) {
	t.Helper()
	query, err := compile()
	if len(verrs) > 0 {
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Errors) < len(verrs) {
			t.Fatalf("%s: validation found %d problems, compilation returned %v", d.Engine(), len(verrs), err)
		}
		return
	}
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			for _, e := range ve.Errors {
				if !strings.Contains(e.Message, fmt.Sprintf("engine %q", d.Engine())) {
					t.Fatalf("%s: compilation failed on a valid tree: %v", d.Engine(), err)
				}
			}
			return
		}
		if strings.Contains(err.Error(), "would exceed") {
			return
		}
		t.Fatalf("%s: compilation failed on a valid tree: %v", d.Engine(), err)
	}
	if again, _ := compile(); again != query {
		t.Fatalf("%s: compilation is not deterministic", d.Engine())
	}
	if err := checkSQL(d.Engine(), query, allow); err != nil {
		t.Fatalf("%s: %v\nsql: %s", d.Engine(), err, query)
	}
}

func FuzzCompile(f *testing.F) {
	f.Add([]byte{0, 1, 9, 4, 0, 0, 0}, "O'Brien", "x", "col")
	f.Add([]byte{1, 3, 1, 4, 0, 0, 2, 0, 0, 1, 0, 0, 0}, "100%_\\", "'; DROP TABLE x; --", `we"ird`)
	f.Add([]byte{2, 2, 2, 7, 0, 0, 0, 3, 0, 2, 0, 1, 1, 1, 1, 4, 12, 0, 0, 5, 2, 0}, "\\'", "café ☕", "naïve 名前")
	f.Add([]byte{0, 1, 4, 2, 0, 5, 2, 1, 2, 2, 1, 0, 0}, "a", "b", "")
	f.Add([]byte{1, 2, 9, 0, 0, 0, 9, 2, 0, 2, 0, 1, 0}, "\"", "''", "x\"y")
	f.Add([]byte{0, 3, 6, 9, 0, 1, 3, 10, 0, 0, 7, 12, 0, 0, 2, 5, 0}, "-1", "2024-01-01", "Country")
	f.Add([]byte{0, 2, 7, 15, 0, 1, 8, 16, 0, 2, 0, 0}, "`x` ${env:HOME}", "a\\`b", "col`")
	f.Add([]byte{1, 3, 7, 16, 0, 0, 7, 18, 0, 1, 2, 3, 7, 19, 0, 1, 0}, "7", "days", "")
	f.Fuzz(func(t *testing.T, shape []byte, a, b, colName string) {
		cols := slices.Clone(goldenColumns)
		if colName != "" && !slices.ContainsFunc(cols, func(c warehouse.Column) bool { return c.Name == colName }) {
			cols = append(cols, warehouse.Column{Name: colName, Category: warehouse.TypeString})
		}
		ft := &fuzzTree{shape: shape, a: a, b: b, cols: cols}
		g := ft.group(1)
		verrs := Validate(g, cols)
		allow := newAllowed()
		allow.idents(goldenSchema, goldenView)
		for _, c := range cols {
			allow.idents(c.Name)
		}
		allow.tree(g)
		for _, d := range fuzzDialects() {
			checkCompile(t, d, verrs, func() (string, error) { return Compile(d, goldenSchema, goldenView, g, cols) }, allow)
		}
	})
}

// graphFuzz builds trees over graphSchema: attribute conditions on columns and calculated
// fields, related-model and aggregate conditions along relationship paths, and memberships.
type graphFuzz struct {
	fuzzTree
	s      *Schema
	fields map[string][]Field
}

func newGraphFuzz(shape []byte, a, b string, s *Schema) *graphFuzz {
	gf := &graphFuzz{fuzzTree: fuzzTree{shape: shape, a: a, b: b}, s: s, fields: map[string][]Field{}}
	for name := range s.Models {
		gf.fields[name], _ = Fields(s, name)
	}
	return gf
}

// field picks a field of model (sometimes a name that does not exist).
func (f *graphFuzz) field(model string) (string, warehouse.TypeCategory) {
	fields := f.fields[model]
	k := f.next() % (len(fields) + 1)
	if k == len(fields) {
		return f.b, warehouse.TypeString
	}
	return fields[k].Name, fields[k].Category
}

// path walks 1 to 3 relationships from model (sometimes a bogus name); it returns the model
// reached when the path is valid.
func (f *graphFuzz) path(model string) ([]string, string) {
	var path []string
	for range 1 + f.next()%3 {
		m := f.s.Models[model]
		if m == nil || f.next()%9 == 8 {
			path = append(path, f.a)
			model = ""
			continue
		}
		r := m.Relationships[f.next()%len(m.Relationships)]
		path = append(path, r.Name)
		model = r.To
	}
	return path, model
}

func (f *graphFuzz) window() *Window {
	switch f.next() % 7 {
	case 0, 1:
		return &Window{Last: i64(int64(f.next() % 40)), Unit: []string{UnitDays, UnitMonths, UnitYears, UnitWeeks, f.b}[f.next()%5]}
	case 2:
		return &Window{From: []string{"2024-01-01", "2024-01-01T10:00:00Z", f.a}[f.next()%3], To: []string{"", "2024-02-29", "2024-03-01T00:00:00+01:00", f.b}[f.next()%4]}
	case 3:
		return &Window{Column: []string{f.a, "launched_on", "ordered_at"}[f.next()%3], Last: i64(1), Unit: UnitDays}
	default:
		return nil
	}
}

func (f *graphFuzz) filter(model string, depth int) *Group {
	if model == "" || f.next()%3 != 0 {
		return nil
	}
	g := f.group(model, depth+1)
	return &g
}

func (f *graphFuzz) group(model string, depth int) Group {
	g := Group{Match: MatchAll}
	k := f.next()
	if k%2 == 1 {
		g.Match = MatchAny
	}
	g.Negate = k%5 == 4
	target := model
	if target == "" {
		target = mCustomers
	}
	for range f.next() % 3 {
		name, cat := f.field(target)
		op := f.operator(cat)
		c := Condition{Column: name, Operator: op.Name}
		c.Value, c.Values, c.Unit = f.operands(op, cat)
		g.Conditions = append(g.Conditions, c)
	}
	if depth < 4 {
		for range f.next() % 2 {
			g.Groups = append(g.Groups, f.group(target, depth+1))
		}
		for range f.next() % 2 {
			path, to := f.path(target)
			r := RelatedCondition{Path: path, Quantifier: []string{QuantExists, QuantNotExists, QuantCountAtLeast, QuantCountAtMost, QuantCountExactly, f.a}[f.next()%6]}
			if k := f.next() % 8; k == 7 || strings.HasPrefix(r.Quantifier, "count") && k > 0 {
				r.Count = i64(int64(k) - 2)
			}
			r.Filter = f.filter(to, depth)
			r.Window = f.window()
			g.Related = append(g.Related, r)
		}
		for range f.next() % 2 {
			path, to := f.path(target)
			a := AggregateCondition{Path: path, Function: aggFunctions[f.next()%len(aggFunctions)]}
			cat := warehouse.TypeInteger
			if to != "" && f.next()%4 != 0 {
				a.Column, cat = f.field(to)
				if a.Function == AggFirst || a.Function == AggLast || f.next()%5 == 0 {
					a.OrderBy, _ = f.field(to)
				}
			}
			if a.Function == AggCount || a.Function == AggCountDistinct {
				cat = warehouse.TypeInteger
			}
			op := f.operator(cat)
			a.Operator = op.Name
			a.Value, a.Values, a.Unit = f.operands(op, cat)
			a.Filter = f.filter(to, depth)
			a.Window = f.window()
			g.Aggregates = append(g.Aggregates, a)
		}
	}
	for range f.next() % 2 {
		names := []string{"fr", "big", "fr_big", "everyone", "big_orders", "fuzzy", f.a}
		g.Memberships = append(g.Memberships, MembershipCondition{Segment: names[f.next()%len(names)], Exclude: f.next()%2 == 1})
	}
	return g
}

func FuzzCompileIn(f *testing.F) {
	f.Add([]byte{0, 1, 9, 4, 0, 1, 0, 0, 1, 1, 2, 0, 0, 0}, "O'Brien", "paid_total * 2")
	f.Add([]byte{1, 2, 3, 20, 3, 7, 1, 1, 0, 1, 2, 1, 3, 1, 1, 0, 0, 4, 1}, "100%_\\", "(order_count - 1) / COALESCE(credit, 0)")
	f.Add([]byte{2, 1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 5, 2, 1, 2, 0, 0, 1, 1}, "`x` ${env:HOME}", `"weird "" name" + 1`)
	f.Add([]byte{0, 2, 16, 3, 1, 7, 17, 2, 2, 0, 1, 1, 1, 1, 1, 2, 9, 3, 1, 1, 1, 0, 0, 1}, "12", "-credit")
	f.Add([]byte{4, 0, 0, 1, 1, 1, 0, 2, 1, 0, 0, 3, 0, 0, 1, 1, 0, 2, 1}, "'; DROP TABLE x; --", "1 +")
	f.Add([]byte{3, 1, 5, 18, 2, 0, 1, 1, 2, 2, 0, 1, 1, 0, 2, 1, 1, 1, 0, 1, 6, 0}, "fuzzy", "fuzzy + 1")
	// Shapes that give valid trees with related-model and aggregate conditions.
	f.Add([]byte{22, 13, 3, 12, 17, 6, 12, 21, 3, 22, 23, 4, 19, 15, 0, 8, 3, 15, 18, 8, 12, 10, 6, 17, 8, 23, 18, 4, 0, 18, 11, 19, 4, 9, 16, 20, 5, 13, 10, 22}, "O'Brien", "credit + 1")
	f.Add([]byte{9, 13, 13, 10, 3, 10, 10, 9, 8, 21, 18, 23, 12, 20, 10, 11, 11, 23, 1, 4, 11, 19, 2, 22, 17, 5, 17, 19, 3, 9, 2, 18, 10, 18, 3, 10, 3, 0, 20, 13}, "x", "credit + 1")
	f.Add([]byte{8, 11, 14, 19, 12, 7, 0, 18, 0, 16, 18, 18, 10, 6, 13, 19, 10, 14, 7, 4, 15, 5, 1, 1, 6, 2, 1, 18, 2, 18, 12, 7, 20, 7, 10, 12, 6, 3, 4, 11}, `\'`, "credit / (order_count - 2)")
	f.Add([]byte{5, 10, 1, 16, 3, 19, 0, 12, 14, 14, 10, 3, 8, 23, 5, 1, 2, 21, 20, 14, 21, 22, 6, 15, 15, 12, 18, 7, 15, 11, 6, 16, 1, 12, 14, 9, 11, 6, 17, 19}, "x", "credit + 1")
	f.Fuzz(func(t *testing.T, shape []byte, a, formula string) {
		s := graphSchema()
		// A formula field whose expression is fuzzed, usable in conditions and memberships.
		s.Models[mCustomers].Calculated = append(s.Models[mCustomers].Calculated, CalculatedField{Name: "fuzzy", Kind: CalcFormula, Expression: formula})
		gf := newGraphFuzz(shape, a, formula, s)
		models := []string{mCustomers, mOrders, mLines, mProducts, mEvents}
		model := models[gf.next()%len(models)]
		g := gf.group(model, 1)
		s.Segments["fuzzy"] = SegmentDef{Model: model, Tree: gf.group(model, 2)}
		opts := Options{IncludeCalculated: gf.next()%3 == 0}
		if gf.next()%2 == 0 {
			now := time.Date(2024, 2, 29, 23, 59, 59, 999999000, time.UTC)
			opts.Now = &now
		}
		if gf.next()%4 == 0 {
			opts.Segment = "fuzzy"
		}
		verrs := ValidateIn(s, model, g, opts)
		allow := newAllowed()
		allow.schema(s)
		allow.tree(g)
		for _, d := range fuzzDialects() {
			checkCompile(t, d, verrs, func() (string, error) { return CompileIn(d, s, model, g, opts) }, allow)
		}
	})
}

// FuzzFormula compiles arbitrary formulas over fields of the names they use: the parser never
// panics, and a formula it accepts compiles to SQL in which every name is a quoted identifier
// and every number a number of the formula.
func FuzzFormula(f *testing.F) {
	for _, seed := range []string{
		"a + b * 2", "(a - -b) / 0", `COALESCE("x y", 1.5, z)`, `"a""b" / "c"`, "--a", "a/*b*/", "1e3", "a # b",
		"coalesce(a)", "f(a)", "((((a))))", "a -- comment", `"unterminated`, "12.", ".5", "a - - - 1", "a\x00", "\xff",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		names, err := ParseFormula(expr)
		if err != nil {
			var fe *FormulaError
			if !errors.As(err, &fe) || fe.Pos < 1 {
				t.Fatalf("ParseFormula(%q) error %v is not a positioned *FormulaError", expr, err)
			}
			return
		}
		cols := []warehouse.Column{{Name: "id", Category: warehouse.TypeInteger}}
		for _, n := range names {
			if n != "id" {
				cols = append(cols, warehouse.Column{Name: n, Category: warehouse.TypeNumber})
			}
		}
		s := &Schema{Models: map[string]*Model{"m": {Name: "m", View: "v", Columns: cols,
			Calculated: []CalculatedField{{Name: "f", Kind: CalcFormula, Expression: expr}}}}}
		if errs := ValidateModel(s, "m"); len(errs) > 0 {
			if slices.ContainsFunc(errs, func(e *Error) bool { return strings.Contains(e.Message, "column of the model") }) {
				return // a field named "f" collides with the formula field
			}
			t.Fatalf("ValidateModel(%q): %s", expr, formatErrs(errs))
		}
		allow := newAllowed()
		allow.schema(s)
		for _, n := range formulaNumber.FindAllString(strings.Join(quotedName.Split(expr, -1), " "), -1) {
			allow.nums[n] = true
		}
		g := all(cond("f", OpIsNotNull))
		for _, d := range fuzzDialects() {
			checkCompile(t, d, nil, func() (string, error) {
				return CompileIn(d, s, "m", g, Options{IncludeCalculated: true})
			}, allow)
		}
	})
}

// quotedName matches a quoted field name of a formula, formulaNumber a number in it.
var (
	quotedName    = regexp.MustCompile(`"(?:[^"]|"")*"`)
	formulaNumber = regexp.MustCompile(`[0-9]+(\.[0-9]+)?`)
)

// allowed is what the compiled SQL of a tree may contain besides keywords and symbols: the
// identifiers of the schema, the literal texts of the tree's operands (and their LIKE
// patterns), and numbers derived from operands.
type allowed struct {
	strs, ids, nums map[string]bool
}

func newAllowed() allowed {
	a := allowed{strs: map[string]bool{likeEscape: true, "UTC": true}, ids: map[string]bool{}, nums: map[string]bool{}}
	for _, n := range []string{"0", "1", "5", "6", "7", "65535"} {
		a.nums[n] = true
	}
	for i := range 200 {
		a.ids["t"+strconv.Itoa(i)] = true
	}
	return a
}

func (a allowed) idents(names ...string) {
	for _, n := range names {
		a.ids[n] = true
	}
}

// operand allows the SQL forms of one operand written by the user.
func (a allowed) operand(v string) {
	e := escapeLike(v)
	for _, s := range []string{v, "%" + e + "%", e + "%", "%" + e} {
		a.strs[s] = true
	}
	n := strings.TrimLeft(strings.TrimLeft(v, "+-"), "0")
	if n == "" || strings.HasPrefix(n, ".") {
		n = "0" + n
	}
	a.nums[n] = true
	a.nums[strings.TrimLeft(v, "+-")] = true
	if i, err := strconv.ParseInt(strings.TrimLeft(v, "+-"), 10, 64); err == nil {
		for _, m := range []int64{7, 12} {
			a.nums[strconv.FormatInt(i*m, 10)] = true
		}
	}
}

// tree allows every string of a tree (all its operands, at any depth), found through its JSON
// form so that no operand field is forgotten.
func (a allowed) tree(g Group) {
	data, err := json.Marshal(g)
	if err != nil {
		panic(err)
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		panic(err)
	}
	a.json(v)
}

func (a allowed) json(v any) {
	switch x := v.(type) {
	case string:
		a.operand(x)
	case float64:
		a.operand(strconv.FormatFloat(x, 'f', -1, 64))
	case []any:
		for _, e := range x {
			a.json(e)
		}
	case map[string]any:
		for _, e := range x {
			a.json(e)
		}
	}
}

// schema allows the identifiers of a schema and the operands of its definitions.
func (a allowed) schema(s *Schema) {
	a.idents(warehouse.SchemaSegments)
	for _, m := range s.Models {
		a.idents(m.View, m.ViewSchema)
		for _, c := range m.Columns {
			a.idents(c.Name)
		}
		for _, cf := range m.Calculated {
			a.idents(cf.Name)
			if cf.Filter != nil {
				a.tree(*cf.Filter)
			}
			if cf.Window != nil {
				a.json(map[string]any{"from": cf.Window.From, "to": cf.Window.To})
				if cf.Window.Last != nil {
					a.operand(strconv.FormatInt(*cf.Window.Last, 10))
				}
			}
			for _, n := range formulaNumber.FindAllString(cf.Expression, -1) {
				a.nums[n] = true
			}
		}
	}
	for _, seg := range s.Segments {
		a.tree(seg.Tree)
	}
}

// dateTimeText matches the date and UTC timestamp texts of date and timestamp literals: the
// compiler's normalized form and the dialects' canonical forms.
var dateTimeText = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?( ?[+-][0-9]{2}:[0-9]{2}|Z)?)?$`)

// constantTexts are string literals the compiler and dialects emit on their own.
var constantTexts = regexp.MustCompile(`^([0-9]+ (days|months)|YYYY-MM-DD|YYYY-MM-DD HH24:MI:SS\.FF6 TZH:TZM)$`)

// sqlKeywords are the bare words the compiler and dialects may emit.
var sqlKeywords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`SELECT FROM WHERE AND OR NOT COALESCE TRUE FALSE IS NULL IN LIKE ESCAPE BETWEEN
		DATE TIMESTAMP TIMESTAMPTZ WITH TIME ZONE CAST AS TEXT text VARCHAR STRING date
		EXISTS COUNT DISTINCT SUM AVG MIN MAX JOIN ON NULLIF DOUBLE PRECISION FLOAT64 ORDER BY ASC DESC
		array_agg MIN_BY MAX_BY CURRENT_TIMESTAMP CURRENT_DATE GETDATE SYSDATE AT INTERVAL DAY MONTH day month
		timezone DATEADD TIMESTAMP_ADD DATETIME_ADD DATETIME DATE_ADD ADD_MONTHS TIMESTAMPADD EXTRACT ISODOW DOW
		DAYOFWEEK DAYOFWEEKISO WEEKDAY MOD INTEGER TO_DATE TO_TIMESTAMP_TZ CONVERT_TIMEZONE`) {
		m[w] = true
	}
	return m
}()

type tokKind int

const (
	tokWord tokKind = iota
	tokString
	tokIdent
	tokNumber
	tokSymbol
)

type token struct {
	kind tokKind
	text string // decoded
}

// quoting describes how an engine's dialect writes string literals and quoted identifiers.
type quoting struct {
	// strDouble: a doubled quote stands for one; strBackslash: backslash escapes are decoded;
	// eStrings: E'...' strings (backslash escapes and doubled quotes) exist.
	strDouble, strBackslash, eStrings bool
	ident                             byte
	identDouble, identBackslash       bool
}

func quotingOf(e warehouse.Engine) quoting {
	switch e {
	case warehouse.Postgres:
		return quoting{strDouble: true, eStrings: true, ident: '"', identDouble: true}
	case warehouse.Snowflake, warehouse.Redshift:
		return quoting{strDouble: true, strBackslash: true, ident: '"', identDouble: true}
	case warehouse.BigQuery:
		return quoting{strBackslash: true, ident: '`', identBackslash: true}
	case warehouse.Databricks:
		return quoting{strBackslash: true, ident: '`', identDouble: true}
	default: // duckdb, test
		return quoting{strDouble: true, ident: '"', identDouble: true}
	}
}

// checkSQL lexes query with the engine's quoting rules and checks that every piece of user
// input sits inside a correctly escaped literal or identifier: each string literal decodes to
// an operand (or its LIKE pattern, or a date/timestamp text, or a compiler constant), each
// quoted identifier to a name of the schema or an alias, each number to a number derived from
// the operands, and everything else is one of the keywords and symbols the compiler emits.
func checkSQL(engine warehouse.Engine, query string, allow allowed) error {
	toks, err := lexSQL(quotingOf(engine), query)
	if err != nil {
		return err
	}
	for _, tk := range toks {
		switch tk.kind {
		case tokString:
			if !allow.strs[tk.text] && !dateTimeText.MatchString(tk.text) && !constantTexts.MatchString(tk.text) {
				return fmt.Errorf("string literal %q is not an operand of the tree", tk.text)
			}
		case tokIdent:
			if !allow.ids[tk.text] {
				return fmt.Errorf("identifier %q is not a name of the schema", tk.text)
			}
		case tokNumber:
			if !allow.nums[tk.text] {
				return fmt.Errorf("number %s is not an operand of the tree", tk.text)
			}
		case tokWord:
			if !sqlKeywords[tk.text] {
				return fmt.Errorf("unexpected bare word %q", tk.text)
			}
		}
	}
	return nil
}

// lexSQL tokenizes SQL: quoted strings and identifiers (decoded), numbers, words and the
// symbols the compiler emits. Anything else (a comment, a stray quote, a $ or #) is an error.
func lexSQL(q quoting, s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ':
			i++
		case q.eStrings && c == 'E' && i+1 < len(s) && s[i+1] == '\'':
			// PostgreSQL escape strings: the dialect only doubles backslashes and quotes.
			text, n, err := lexQuoted(s[i+1:], '\'', true, true)
			if err == nil && strings.Contains(strings.ReplaceAll(s[i+1:i+1+n], `\\`, ""), `\`) {
				err = fmt.Errorf("escape string with an undoubled backslash: %q", s[i:i+1+n])
			}
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{tokString, text})
			i += 1 + n
		case c == '\'':
			text, n, err := lexQuoted(s[i:], '\'', q.strDouble, q.strBackslash)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{tokString, text})
			i += n
		case c == q.ident:
			text, n, err := lexQuoted(s[i:], q.ident, q.identDouble, q.identBackslash)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{tokIdent, text})
			i += n
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
				j++
			}
			toks = append(toks, token{tokNumber, s[i:j]})
			i = j
		case c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
			j := i
			for j < len(s) && (s[j] == '_' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			toks = append(toks, token{tokWord, s[i:j]})
			i = j
		case strings.HasPrefix(s[i:], "--") || strings.HasPrefix(s[i:], "/*"):
			return nil, fmt.Errorf("comment at offset %d", i)
		default:
			matched := false
			for _, sym := range []string{"<>", "<=", ">=", "=", "<", ">", "(", ")", ",", ".", "*", "+", "-", "/", "[", "]"} {
				if strings.HasPrefix(s[i:], sym) {
					toks = append(toks, token{tokSymbol, sym})
					i += len(sym)
					matched = true
					break
				}
			}
			if !matched {
				return nil, fmt.Errorf("unexpected character %q at offset %d", c, i)
			}
		}
	}
	return toks, nil
}

// lexQuoted reads a quoted token at the start of s and returns its decoded text and length.
// double: a doubled quote stands for one; backslash: backslash escape sequences are decoded.
func lexQuoted(s string, q byte, double, backslash bool) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch {
		case double && s[i] == q && i+1 < len(s) && s[i+1] == q:
			b.WriteByte(q)
			i++
		case s[i] == q:
			return b.String(), i + 1, nil
		case backslash && s[i] == '\\':
			if i+1 >= len(s) {
				return "", 0, fmt.Errorf("dangling backslash: %q", s)
			}
			i++
			switch e := s[i]; e {
			case '\\', '\'', '"', '`':
				b.WriteByte(e)
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'x', 'u':
				width := 2
				if e == 'u' {
					width = 4
				}
				if i+width >= len(s) {
					return "", 0, fmt.Errorf("short \\%c escape: %q", e, s)
				}
				n, err := strconv.ParseUint(s[i+1:i+1+width], 16, 32)
				if err != nil {
					return "", 0, fmt.Errorf("bad \\%c escape: %q", e, s)
				}
				if e == 'x' {
					b.WriteByte(byte(n))
				} else {
					b.WriteRune(rune(n))
				}
				i += width
			default:
				return "", 0, fmt.Errorf("unknown escape \\%c in %q", e, s)
			}
		default:
			b.WriteByte(s[i])
		}
	}
	return "", 0, fmt.Errorf("unterminated %c-quoted token: %q", q, s)
}

func TestLexSQLRejects(t *testing.T) {
	ansi := quotingOf(warehouse.DuckDB)
	for _, bad := range []string{`'a`, `"a`, `x -- c`, `a ; b`, `'a' /* c */`, `a # b`, "${x}"} {
		if _, err := lexSQL(ansi, bad); err == nil {
			t.Errorf("lexSQL(%q) accepted it", bad)
		}
	}
	if _, err := lexSQL(quotingOf(warehouse.Postgres), `E'\n'`); err == nil {
		t.Error(`lexSQL accepted E'\n' on postgres`)
	}
	if toks, err := lexSQL(quotingOf(warehouse.BigQuery), "`a\\`b` = 'it\\'s\\x00'"); err != nil || toks[0].text != "a`b" || toks[2].text != "it's\x00" {
		t.Errorf("bigquery lexing = %+v, %v", toks, err)
	}
	if toks, err := lexSQL(quotingOf(warehouse.Databricks), "`a``b` = '\\u0024{x}'"); err != nil || toks[0].text != "a`b" || toks[2].text != "${x}" {
		t.Errorf("databricks lexing = %+v, %v", toks, err)
	}
	allow := newAllowed()
	allow.idents("c")
	allow.tree(all(cond("c", OpEquals, "v")))
	if err := checkSQL(warehouse.DuckDB, `SELECT * FROM "c" WHERE "c" = 'v' OR TRUE`, allow); err != nil {
		t.Errorf("checkSQL rejected the control query: %v", err)
	}
	for _, bad := range []string{
		`SELECT * FROM "c" WHERE "c" = 'v' OR "d" = 'v'`,     // unknown identifier
		`SELECT * FROM "c" WHERE "c" = 'w'`,                  // unknown literal
		`SELECT * FROM "c" WHERE "c" = v`,                    // bare value
		`SELECT * FROM "c" WHERE "c" = 42`,                   // unknown number
		`SELECT * FROM "c" WHERE "c" = 'v' UNION SELECT 'v'`, // unknown keyword
	} {
		if err := checkSQL(warehouse.DuckDB, bad, allow); err == nil {
			t.Errorf("checkSQL accepted %s", bad)
		}
	}
}
