package segment

import (
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"dinmo/connectors/warehouse"
)

// The reference semantics of the graph features, written independently of the compiler: it
// walks the fixture rows in Go, following the documented rules (see the package doc), and
// reads the Schema's definitions (paths, functions, filters, windows) but never the compiler's
// resolved forms. Formula fields are given as Go functions (graphFormulas) rather than parsed.

// civil is a date value (no time of day).
type civil struct{ time.Time }

func parseCivil(s string) civil {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return civil{t}
}

type gRow map[string]any

// graphData converts the fixture tables to typed Go rows: integers int64, decimals *big.Rat,
// dates civil, timestamps time.Time (UTC), nil for NULL.
func graphData() map[string][]gRow {
	out := map[string][]gRow{}
	for _, t := range graphTables {
		for _, raw := range t.rows {
			r := gRow{}
			for i, c := range t.columns {
				v := raw[i]
				if v != nil {
					switch c.cat {
					case warehouse.TypeNumber:
						v = rat(as[string](v))
					case warehouse.TypeDate:
						v = parseCivil(as[string](v))
					case warehouse.TypeTimestamp:
						v = as[time.Time](v).UTC()
					}
				}
				r[c.name] = v
			}
			out[t.model] = append(out[t.model], r)
		}
	}
	return out
}

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("bad decimal " + s)
	}
	return r
}

// graphFormulas are the formula fields of graphSchema as Go functions of the row's fields,
// with NULL in, NULL out and division by zero giving NULL.
var graphFormulas = map[string]func(get func(string) any) any{
	mCustomers + ".avg_basket": func(get func(string) any) any {
		return arith('/', get("paid_total"), get("order_count"))
	},
	mCustomers + ".credit_double": func(get func(string) any) any {
		return arith('+', arith('*', get("credit"), int64(2)), int64(-1))
	},
	mCustomers + ".credit_or_zero": func(get func(string) any) any {
		credit := get("credit")
		if credit == nil {
			credit = int64(0)
		}
		return arith('-', credit, arith('-', get("order_count"), int64(1)))
	},
	mOrders + ".net": func(get func(string) any) any {
		discount := get("discount")
		if discount == nil {
			discount = int64(0)
		}
		return arith('-', get(colAmount), discount)
	},
}

func toRat(v any) *big.Rat {
	switch x := v.(type) {
	case int64:
		return new(big.Rat).SetInt64(x)
	case *big.Rat:
		return x
	}
	panic(fmt.Sprintf("not a number: %T", v))
}

func arith(op byte, a, b any) any {
	if a == nil || b == nil {
		return nil
	}
	x, y := toRat(a), toRat(b)
	switch op {
	case '+':
		return new(big.Rat).Add(x, y)
	case '-':
		return new(big.Rat).Sub(x, y)
	case '*':
		return new(big.Rat).Mul(x, y)
	default:
		if y.Sign() == 0 {
			return nil
		}
		return new(big.Rat).Quo(x, y)
	}
}

type evaluator struct {
	s    *Schema
	data map[string][]gRow
	now  time.Time
}

func newEvaluator(s *Schema) *evaluator {
	return &evaluator{s: s, data: graphData(), now: fixedNow}
}

// members returns the ids of the rows of model the tree selects, ascending.
func (e *evaluator) members(model string, g Group) []int64 {
	ids := []int64{}
	for _, r := range e.data[model] {
		if e.top(model, g, r) {
			ids = append(ids, as[int64](r["id"]))
		}
	}
	slices.Sort(ids)
	return ids
}

// top evaluates a top-level group: an empty one selects every row.
func (e *evaluator) top(model string, g Group, r gRow) bool {
	if g.empty() {
		return true
	}
	return e.group(model, g, r)
}

func (e *evaluator) group(model string, g Group, r gRow) bool {
	var results []bool
	for _, c := range g.Conditions {
		results = append(results, e.attribute(e.value(model, c.Column, r), c.Operator, c.Value, c.Values, c.Unit))
	}
	for _, sub := range g.Groups {
		results = append(results, e.group(model, sub, r))
	}
	for _, rc := range g.Related {
		results = append(results, e.related(model, rc, r))
	}
	for _, a := range g.Aggregates {
		v := e.aggregate(model, a.Path, a.Function, a.Column, a.OrderBy, a.Filter, a.Window, r)
		results = append(results, e.attribute(v, a.Operator, a.Value, a.Values, a.Unit))
	}
	for _, m := range g.Memberships {
		def := e.s.Segments[m.Segment]
		in := e.top(model, def.Tree, r)
		results = append(results, in != m.Exclude)
	}
	res := g.Match == MatchAll
	for _, b := range results {
		if g.Match == MatchAll {
			res = res && b
		} else {
			res = res || b
		}
	}
	return res != g.Negate
}

// value returns a field of the row: a column or a calculated field.
func (e *evaluator) value(model, name string, r gRow) any {
	if v, ok := r[name]; ok {
		return v
	}
	m := e.s.Models[model]
	for _, f := range m.Calculated {
		if f.Name != name {
			continue
		}
		if f.Kind == CalcFormula {
			fn := graphFormulas[model+"."+name]
			if fn == nil {
				panic("no Go formula for " + model + "." + name)
			}
			return fn(func(n string) any { return e.value(model, n, r) })
		}
		return e.aggregate(model, f.Path, f.Function, f.Column, f.OrderBy, f.Filter, f.Window, r)
	}
	panic("unknown field " + model + "." + name)
}

// follow returns the model reached by path and the rows reached from r, one per way of
// reaching them (like an inner join).
func (e *evaluator) follow(model string, path []string, r gRow) (string, []gRow) {
	rows := []gRow{r}
	for _, name := range path {
		var rel *Relationship
		for i := range e.s.Models[model].Relationships {
			if e.s.Models[model].Relationships[i].Name == name {
				rel = &e.s.Models[model].Relationships[i]
			}
		}
		var next []gRow
		for _, from := range rows {
			key := from[rel.FromColumn]
			if key == nil {
				continue
			}
			for _, to := range e.data[rel.To] {
				if k := to[rel.ToColumn]; k != nil && compareValues(k, key) == 0 {
					next = append(next, to)
				}
			}
		}
		rows, model = next, rel.To
	}
	return model, rows
}

// reached returns the related rows passing the filter and window.
func (e *evaluator) reached(model string, path []string, filter *Group, w *Window, r gRow) (string, []gRow) {
	target, rows := e.follow(model, path, r)
	var out []gRow
	for _, t := range rows {
		if filter != nil && !e.top(target, *filter, t) {
			continue
		}
		if w != nil && !e.inWindow(target, w, t) {
			continue
		}
		out = append(out, t)
	}
	return target, out
}

func (e *evaluator) related(model string, rc RelatedCondition, r gRow) bool {
	target, rows := e.reached(model, rc.Path, rc.Filter, rc.Window, r)
	// Counts are of distinct related rows.
	distinct := map[any]bool{}
	for _, t := range rows {
		distinct[t[e.s.Models[target].PrimaryKey]] = true
	}
	n := int64(len(distinct))
	switch rc.Quantifier {
	case QuantExists:
		return n > 0
	case QuantNotExists:
		return n == 0
	case QuantCountAtLeast:
		return n >= *rc.Count
	case QuantCountAtMost:
		return n <= *rc.Count
	case QuantCountExactly:
		return n == *rc.Count
	}
	panic("quantifier " + rc.Quantifier)
}

func (e *evaluator) aggregate(model string, path []string, fn, column, orderBy string, filter *Group, w *Window, r gRow) any {
	target, rows := e.reached(model, path, filter, w, r)
	var vals []any
	for _, t := range rows {
		if column == "" {
			vals = append(vals, true)
			continue
		}
		if v := e.value(target, column, t); v != nil {
			vals = append(vals, v)
		}
	}
	switch fn {
	case AggCount:
		return int64(len(vals))
	case AggCountDistinct:
		seen := map[string]bool{}
		for _, v := range vals {
			seen[fmt.Sprint(v)] = true
		}
		return int64(len(seen))
	case AggSum:
		var sum any = int64(0)
		for _, v := range vals {
			if n, isInt := v.(int64); isInt {
				if s, ok := sum.(int64); ok {
					sum = s + n
					continue
				}
			}
			sum = arith('+', sum, v)
		}
		return sum
	case AggAvg:
		if len(vals) == 0 {
			return nil
		}
		var sum any = int64(0)
		for _, v := range vals {
			sum = arith('+', sum, v)
		}
		return arith('/', sum, int64(len(vals)))
	case AggMin, AggMax:
		var best any
		for _, v := range vals {
			c := 0
			if best != nil {
				c = compareValues(v, best)
			}
			if best == nil || fn == AggMin && c < 0 || fn == AggMax && c > 0 {
				best = v
			}
		}
		return best
	case AggFirst, AggLast:
		var best, bestOrder any
		for _, t := range rows {
			v, o := e.value(target, column, t), e.value(target, orderBy, t)
			if v == nil || o == nil {
				continue
			}
			c := 0
			if bestOrder != nil {
				c = compareValues(o, bestOrder)
			}
			if bestOrder == nil || fn == AggFirst && c < 0 || fn == AggLast && c > 0 {
				best, bestOrder = v, o
			}
		}
		return best
	}
	panic("function " + fn)
}

// shiftTime moves t by n units with calendar months clamped to the month's last day.
func shiftTime(t time.Time, n int64, unit string) time.Time {
	switch unit {
	case UnitDays:
		return t.AddDate(0, 0, int(n))
	case UnitWeeks:
		return t.AddDate(0, 0, 7*int(n))
	}
	months := int(n)
	if unit == UnitYears {
		months *= 12
	}
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(months), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	lastDay := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(d, lastDay)-1)
}

func (e *evaluator) today() civil {
	y, m, d := e.now.Date()
	return civil{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)}
}

// window returns [low, high] of "the last n units" for a value like v (a date or a timestamp).
func (e *evaluator) lastRange(v any, n int64, unit string) (low, high any) {
	if _, isDate := v.(civil); isDate {
		t := e.today()
		return civil{shiftTime(t.Time, -n, unit)}, t
	}
	return shiftTime(e.now, -n, unit), e.now
}

func (e *evaluator) inWindow(model string, w *Window, r gRow) bool {
	col := w.Column
	if col == "" {
		col = e.s.Models[model].TimestampColumn
	}
	v := e.value(model, col, r)
	if v == nil {
		return false
	}
	if w.Last != nil {
		low, high := e.lastRange(v, *w.Last, w.Unit)
		return compareValues(v, low) >= 0 && compareValues(v, high) <= 0
	}
	if w.From != "" && compareValues(v, windowBound(v, w.From, false)) < 0 {
		return false
	}
	if w.To != "" {
		b := windowBound(v, w.To, true)
		if _, isDate := b.(civil); !isDate && len(w.To) == len(time.DateOnly) {
			return compareValues(v, b) < 0 // the day after a date bound, exclusive
		}
		return compareValues(v, b) <= 0
	}
	return true
}

// windowBound parses a window bound for a value like v; a date "to" bound on a timestamp is the
// next midnight.
func windowBound(v any, s string, isTo bool) any {
	if _, isDate := v.(civil); isDate {
		return parseCivil(s)
	}
	if len(s) == len(time.DateOnly) {
		t := parseCivil(s).Time
		if isTo {
			t = t.AddDate(0, 0, 1)
		}
		return t
	}
	return parseOperand(v, s)
}

// attribute applies an operator to a value (nil is NULL).
func (e *evaluator) attribute(v any, op string, value *string, values []string, unit string) bool {
	switch op {
	case OpIsNull:
		return v == nil
	case OpIsNotNull:
		return v != nil
	case OpNotEquals:
		return !e.attribute(v, OpEquals, value, values, unit)
	case OpNotIn:
		return !e.attribute(v, OpIn, value, values, unit)
	case OpNotContains:
		return !e.attribute(v, OpContains, value, values, unit)
	}
	if v == nil {
		return false
	}
	cmp := func(s string) int { return compareValues(v, parseOperand(v, s)) }
	switch op {
	case OpEquals:
		return cmp(*value) == 0
	case OpIn:
		return slices.ContainsFunc(values, func(s string) bool { return cmp(s) == 0 })
	case OpContains:
		return strings.Contains(as[string](v), *value)
	case OpStartsWith:
		return strings.HasPrefix(as[string](v), *value)
	case OpEndsWith:
		return strings.HasSuffix(as[string](v), *value)
	case OpGT, OpAfter:
		return cmp(*value) > 0
	case OpGTE:
		return cmp(*value) >= 0
	case OpLT, OpBefore:
		return cmp(*value) < 0
	case OpLTE:
		return cmp(*value) <= 0
	case OpBetween:
		return cmp(values[0]) >= 0 && cmp(values[1]) <= 0
	case OpIsTrue:
		return v == true
	case OpIsFalse:
		return v == false
	case OpInLast, OpInNext, OpMoreThanAgo:
		n, err := strconv.ParseInt(*value, 10, 64)
		if err != nil {
			panic(err)
		}
		low, now := e.lastRange(v, n, unit)
		switch op {
		case OpInLast:
			return compareValues(v, low) >= 0 && compareValues(v, now) <= 0
		case OpMoreThanAgo:
			return compareValues(v, low) < 0
		default:
			upper, _ := e.lastRange(v, -n, unit) // now moved n units forward
			return compareValues(v, now) >= 0 && compareValues(v, upper) <= 0
		}
	case OpOnWeekday:
		t := asTime(v)
		iso := (int(t.Weekday())+6)%7 + 1
		names := []string{"", "mon", "tue", "wed", "thu", "fri", "sat", "sun"}
		return slices.ContainsFunc(values, func(s string) bool { return strings.EqualFold(s, names[iso]) })
	case OpInMonth:
		return slices.Contains(values, strconv.Itoa(int(asTime(v).Month())))
	}
	panic("operator " + op)
}

func asTime(v any) time.Time {
	switch x := v.(type) {
	case civil:
		return x.Time
	case time.Time:
		return x.UTC()
	}
	panic(fmt.Sprintf("not a date: %T", v))
}

// parseOperand parses an operand written as in HCL for comparison with a value like v.
func parseOperand(v any, s string) any {
	switch v.(type) {
	case int64, *big.Rat:
		return rat(strings.TrimPrefix(s, "+"))
	case civil:
		return parseCivil(s)
	case time.Time:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999", "2006-01-02T15:04:05.999999"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t
			}
		}
		panic("bad timestamp operand " + s)
	case string:
		return s
	}
	panic(fmt.Sprintf("operand for %T", v))
}

// compareValues orders two non-NULL values of the same kind (integers and decimals mix).
func compareValues(a, b any) int {
	switch x := a.(type) {
	case int64, *big.Rat:
		return toRat(x).Cmp(toRat(b))
	case string:
		return strings.Compare(x, as[string](b))
	case civil:
		return x.Compare(as[civil](b).Time)
	case time.Time:
		return x.Compare(as[time.Time](b))
	case bool:
		if x == as[bool](b) {
			return 0
		}
		if !x {
			return -1
		}
		return 1
	}
	panic(fmt.Sprintf("compare %T", a))
}

// as asserts the type of a fixture value; a mismatch is a bug of the test.
func as[T any](v any) T {
	x, ok := v.(T)
	if !ok {
		panic(fmt.Sprintf("fixture value %v is a %T", v, v))
	}
	return x
}

// sortedKeys is a helper for deterministic iteration in tests.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
