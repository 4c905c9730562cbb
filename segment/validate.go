package segment

import (
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"dinmo/connectors/warehouse"
)

// Error is one problem of a condition tree or of a model's definition. Path locates it the way
// the stored JSON (and the HCL blocks) name it, e.g. "conditions[2].value",
// "groups[0].conditions[1].operator", "related[0].filter.conditions[0].column" or, for a model,
// "calculated[1].expression"; the provider maps it onto the attribute path of its resource.
type Error struct {
	Path    string
	Message string
}

// Error returns "path: message".
func (e *Error) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// ValidationError is returned by the Compile and Predicate functions when the tree (or a
// definition it uses) is invalid. It carries every problem found, so callers (the provider) can
// report each at its own path.
type ValidationError struct {
	Errors []*Error
}

// Error lists all problems on one line.
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, err := range e.Errors {
		parts[i] = err.Error()
	}
	return "invalid segment conditions: " + strings.Join(parts, "; ")
}

// Validate checks the tree against the model's columns and returns all problems found (nil when
// the tree is valid). cols are the model's introspected columns; a column whose Category this
// package does not know is treated as warehouse.TypeOther. It is ValidateIn on a schema holding
// only this model, without relationships, calculated fields or other segments.
func Validate(g Group, cols []warehouse.Column) []*Error {
	_, errs := newChecker(singleModel("", "", cols), Options{}, nil).checkRoot(legacyModel, g)
	return errs
}

// ValidateIn checks the tree of a segment of model against the schema: fields, types,
// relationships, calculated fields (their definitions included) and the segments named by
// membership conditions, with cycles. It returns all problems found, nil when the tree is
// valid. Problems that depend on the engine (a construct an engine cannot express) are only
// found by CompileIn.
func ValidateIn(s *Schema, model string, g Group, opts Options) []*Error {
	_, errs := newChecker(s, opts, nil).checkRoot(model, g)
	return errs
}

// ValidateModel checks the definition of one model of the schema: its primary key and
// timestamp column, its relationships and its calculated fields (cycles between calculated
// fields included). Paths are relative to the model: "relationships[0].to",
// "calculated[2].filter.conditions[0].value".
func ValidateModel(s *Schema, model string) []*Error {
	c := newChecker(s, Options{}, nil)
	mi, msg := c.model(model)
	if mi == nil {
		return []*Error{{Message: msg}}
	}
	if mi.m.Name != "" && mi.m.Name != model {
		c.add("name", "the model's name %s differs from its key %s in the schema", quote(mi.m.Name), quote(model))
	}
	if mi.m.View == "" {
		c.add("view", "the model has no view name")
	}
	if pk := mi.m.PrimaryKey; pk != "" {
		if _, ok := mi.cols[pk]; !ok {
			c.add("primary_key", "primary key %s is not a column of the model%s", quote(pk), hint(pk, mi.colNames))
		}
	}
	if tc := mi.m.TimestampColumn; tc != "" {
		if col, ok := mi.cols[tc]; !ok {
			c.add("timestamp_column", "timestamp column %s is not a column of the model%s", quote(tc), hint(tc, mi.colNames))
		} else if cat := normalizeCategory(col.Category); cat != warehouse.TypeTimestamp && cat != warehouse.TypeDate {
			c.add("timestamp_column", "timestamp column %s has type %s; it must be a date or timestamp", quote(tc), typeName(colRef(col)))
		}
	}
	relNames := map[string]bool{}
	for i := range mi.m.Relationships {
		r := &mi.m.Relationships[i]
		p := fmt.Sprintf("relationships[%d]", i)
		switch {
		case r.Name == "":
			c.add(join(p, "name"), "relationship name is required")
		case relNames[r.Name]:
			c.add(join(p, "name"), "relationship %s is declared twice", quote(r.Name))
		}
		relNames[r.Name] = true
		for _, e := range c.relationProblems(mi, r) {
			c.add(join(p, e.Path), "%s", e.Message)
		}
	}
	calcNames := map[string]bool{}
	for i := range mi.m.Calculated {
		f := &mi.m.Calculated[i]
		p := fmt.Sprintf("calculated[%d]", i)
		switch {
		case f.Name == "":
			c.add(join(p, "name"), "calculated field name is required")
		case calcNames[f.Name]:
			c.add(join(p, "name"), "calculated field %s is declared twice", quote(f.Name))
		default:
			if _, ok := mi.cols[f.Name]; ok {
				c.add(join(p, "name"), "calculated field %s has the name of a column of the model; rename it", quote(f.Name))
			}
		}
		calcNames[f.Name] = true
		if f.Name == "" {
			continue
		}
		_, errs := c.calc(mi, f)
		for _, e := range errs {
			c.add(join(p, e.Path), "%s", e.Message)
		}
	}
	return c.errs
}

// Field is one field of a model as conditions see it: a column or a calculated field, with the
// type category that selects its operators.
type Field struct {
	Name       string
	Category   warehouse.TypeCategory
	Calculated bool
}

// Fields returns the fields of a model (its columns, then its calculated fields) with their
// categories, and the problems of the model's definition (see ValidateModel). Invalid
// calculated fields are left out.
func Fields(s *Schema, model string) ([]Field, []*Error) {
	errs := ValidateModel(s, model)
	c := newChecker(s, Options{}, nil)
	mi, _ := c.model(model)
	if mi == nil {
		return nil, errs
	}
	var out []Field
	for _, col := range mi.m.Columns {
		out = append(out, Field{Name: col.Name, Category: normalizeCategory(col.Category)})
	}
	for i := range mi.m.Calculated {
		f := &mi.m.Calculated[i]
		if cc, e := c.calc(mi, f); len(e) == 0 && cc != nil {
			out = append(out, Field{Name: f.Name, Category: cc.cat, Calculated: true})
		}
	}
	return out, errs
}

// legacyModel is the name of the single model of the column-list API.
const legacyModel = "model"

func singleModel(viewSchema, view string, cols []warehouse.Column) *Schema {
	return &Schema{Models: map[string]*Model{legacyModel: {Name: legacyModel, ViewSchema: viewSchema, View: view, Columns: cols}}}
}

// Limits of the graph features, which bound the generated SQL.
const (
	// maxPathLength is the most relationships one path may follow.
	maxPathLength = 8
)

// capabilities are what the target engine can express; nil means "any engine" (ValidateIn).
type capabilities struct {
	engine warehouse.Engine
	dates  DateDialect
	aggs   AggregateDialect
	// nestedAggregates is true when the engine accepts a correlated subquery inside an
	// aggregate function (an aggregate over a calculated field that is itself an aggregate).
	nestedAggregates bool
}

// checkedGroup is a validated tree with its operands already parsed into literals and its
// names resolved, so compilation never parses or resolves anything twice or differently from
// validation.
type checkedGroup struct {
	match   string
	negate  bool
	conds   []checkedCond
	groups  []checkedGroup
	related []checkedRelated
	aggs    []checkedCond
	members []checkedMember
}

func (g *checkedGroup) empty() bool {
	return len(g.conds) == 0 && len(g.groups) == 0 && len(g.related) == 0 && len(g.aggs) == 0 && len(g.members) == 0
}

// correlated reports whether the group's SQL refers to the enclosing row from a subquery, which
// requires the enclosing relation to have an alias.
func (g *checkedGroup) correlated() bool {
	if g == nil {
		return false
	}
	if len(g.related) > 0 || len(g.aggs) > 0 {
		return true
	}
	for _, c := range g.conds {
		if c.field.subquery() {
			return true
		}
	}
	for i := range g.groups {
		if g.groups[i].correlated() {
			return true
		}
	}
	for _, m := range g.members {
		if m.tree.correlated() {
			return true
		}
	}
	return false
}

// fieldRef is a resolved field: a column or a calculated field.
type fieldRef struct {
	name   string
	column bool
	calc   *checkedCalc
	cat    warehouse.TypeCategory
	dbType string
	// adhoc is the description of an aggregate condition's unnamed aggregate.
	adhoc string
}

func colRef(col warehouse.Column) fieldRef {
	return fieldRef{name: col.Name, column: true, cat: normalizeCategory(col.Category), dbType: col.DatabaseType}
}

func (f fieldRef) subquery() bool { return f.calc != nil && f.calc.subquery }

// noun names the field in messages: `column "age"`, `calculated field "total"`.
func (f fieldRef) noun() string {
	switch {
	case f.adhoc != "":
		return "the aggregate " + f.adhoc
	case f.column:
		return "column " + quote(f.name)
	default:
		return "calculated field " + quote(f.name)
	}
}

type checkedCond struct {
	field fieldRef
	op    string
	lits  []literal
	// amount and unit are the shift of relative date operators, in base units (unitDay or
	// unitMonth).
	amount int64
	unit   string
	// ints are the ISO weekdays (1-7) of on_weekday or the months (1-12) of in_month.
	ints []int
}

// checkedCalc is a validated calculated field (named, or the unnamed aggregate of an aggregate
// condition).
type checkedCalc struct {
	model, name string
	agg         *checkedAgg
	formula     *formulaNode
	cat         warehouse.TypeCategory
	// subquery is true when the field's SQL is (or contains) a correlated subquery.
	subquery bool
}

type checkedAgg struct {
	hops    []hop
	fn      string
	arg     *fieldRef // nil for count of rows
	orderBy *fieldRef
	filter  *checkedGroup // nil: every row
	window  *checkedWindow
}

// hop is one relationship followed by a path.
type hop struct {
	rel *Relationship
	to  *modelInfo
}

type checkedWindow struct {
	field fieldRef
	// last: the window is [now - amount unit, now] (dates: [today - amount unit, today]).
	last   bool
	amount int64
	unit   string
	// from and to bound a fixed window; toExclusive means "field < to" (a date bound on a
	// timestamp field, moved to the next day), otherwise "field <= to".
	from, to    *literal
	toExclusive bool
}

type checkedRelated struct {
	hops  []hop
	quant string
	n     int64
	// distinctKey is the primary key of the related model when the path can reach the same
	// related row twice, so counts count distinct rows.
	distinctKey string
	filter      *checkedGroup
	window      *checkedWindow
}

type checkedMember struct {
	// tree is nil when the segment selects every row of the model.
	tree    *checkedGroup
	exclude bool
}

type literalKind int

const (
	litString literalKind = iota
	litNumeric
	litDate
	litTimestamp
)

// literal is a parsed operand. For litNumeric, text is a validated plain decimal emitted as is;
// for litDate and litTimestamp it is normalized ISO-8601 text (UTC for timestamps).
type literal struct {
	kind literalKind
	text string
	// num (numeric) and at (date, timestamp) hold the parsed value for range checks.
	num *big.Rat
	at  time.Time
}

func dateLiteral(t time.Time) literal {
	return literal{kind: litDate, text: t.Format(time.DateOnly), at: t}
}

func timestampLiteral(t time.Time) literal {
	t = t.UTC()
	return literal{kind: litTimestamp, text: t.Format("2006-01-02T15:04:05.999999Z"), at: t}
}

// modelInfo indexes a model of the schema.
type modelInfo struct {
	name     string
	m        *Model
	cols     map[string]warehouse.Column
	calcs    map[string]*CalculatedField
	rels     map[string]*Relationship
	colNames []string
	// names are the column then calculated field names, for hints.
	names []string
}

type calcState struct {
	inProgress bool
	calc       *checkedCalc
	errs       []*Error
}

type segState struct {
	inProgress bool
	tree       *checkedGroup
	errs       []*Error
}

type checker struct {
	schema *Schema
	opts   Options
	caps   *capabilities
	// root is the tree being checked and rootModel its model, for membership conditions that
	// name opts.Segment.
	root      Group
	rootModel string
	errs      []*Error
	models    map[string]*modelInfo
	calcs     map[*CalculatedField]*calcState
	calcStack []string
	segs      map[string]*segState
	segStack  []string
	// selected are the model's calculated fields checked for Options.IncludeCalculated.
	selected []*checkedCalc
}

func newChecker(s *Schema, opts Options, caps *capabilities) *checker {
	if s == nil {
		s = &Schema{}
	}
	return &checker{
		schema: s, opts: opts, caps: caps,
		models: map[string]*modelInfo{},
		calcs:  map[*CalculatedField]*calcState{},
		segs:   map[string]*segState{},
	}
}

func (c *checker) add(path, format string, args ...any) {
	c.errs = append(c.errs, &Error{Path: path, Message: fmt.Sprintf(format, args...)})
}

// collect runs f with a fresh error list and returns the errors f added.
func (c *checker) collect(f func()) []*Error {
	saved := c.errs
	c.errs = nil
	f()
	errs := c.errs
	c.errs = saved
	return errs
}

func join(prefix, field string) string {
	if prefix == "" {
		return field
	}
	if field == "" {
		return prefix
	}
	return prefix + "." + field
}

func index(prefix, field string, i int) string {
	return join(prefix, fmt.Sprintf("%s[%d]", field, i))
}

// model returns the index of a model, or nil and a message.
func (c *checker) model(name string) (*modelInfo, string) {
	if mi, ok := c.models[name]; ok {
		return mi, ""
	}
	m := c.schema.Models[name]
	if m == nil {
		names := make([]string, 0, len(c.schema.Models))
		for n := range c.schema.Models {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, "unknown model " + quote(name) + hint(name, names)
	}
	mi := &modelInfo{
		name: name, m: m,
		cols:  make(map[string]warehouse.Column, len(m.Columns)),
		calcs: make(map[string]*CalculatedField, len(m.Calculated)),
		rels:  make(map[string]*Relationship, len(m.Relationships)),
	}
	for _, col := range m.Columns {
		if _, dup := mi.cols[col.Name]; !dup {
			mi.cols[col.Name] = col
			mi.colNames = append(mi.colNames, col.Name)
		}
	}
	mi.names = slices.Clone(mi.colNames)
	for i := range m.Calculated {
		f := &m.Calculated[i]
		if _, dup := mi.calcs[f.Name]; !dup && f.Name != "" {
			mi.calcs[f.Name] = f
			if _, isCol := mi.cols[f.Name]; !isCol {
				mi.names = append(mi.names, f.Name)
			}
		}
	}
	for i := range m.Relationships {
		r := &m.Relationships[i]
		if _, dup := mi.rels[r.Name]; !dup {
			mi.rels[r.Name] = r
		}
	}
	c.models[name] = mi
	return mi, ""
}

// top checks a top-level group: a segment's tree, a filter, or a segment named by a membership
// condition. emptyNegated is the message for a negated empty group.
func (c *checker) top(g Group, mi *modelInfo, path string, depth int, emptyNegated string) *checkedGroup {
	out := c.group(g, mi, path, depth)
	if g.Negate && g.empty() {
		c.add(join(path, "negate"), "%s", emptyNegated)
	}
	return &out
}

func (c *checker) group(g Group, mi *modelInfo, path string, depth int) checkedGroup {
	out := checkedGroup{match: g.Match, negate: g.Negate}
	switch g.Match {
	case MatchAll, MatchAny:
	case "":
		c.add(join(path, "match"), "match is required: %q (every condition must match) or %q (at least one)", MatchAll, MatchAny)
	default:
		c.add(join(path, "match"), "unknown match %s: use %q (every condition must match) or %q (at least one)", quote(g.Match), MatchAll, MatchAny)
	}
	for i, cond := range g.Conditions {
		p := index(path, "conditions", i)
		ref, refOK := c.field(mi, cond.Column, join(p, "column"))
		if cc, ok := c.attribute(ref, refOK, attrOperands{cond.Operator, cond.Value, cond.Values, cond.Unit}, p); ok {
			out.conds = append(out.conds, cc)
		}
	}
	for i, sub := range g.Groups {
		p := index(path, "groups", i)
		if depth+1 > MaxDepth {
			c.add(p, "groups are nested more than %d levels deep; flatten the conditions", MaxDepth)
			continue
		}
		out.groups = append(out.groups, c.group(sub, mi, p, depth+1))
	}
	for i, r := range g.Related {
		if cr, ok := c.related(r, mi, index(path, "related", i), depth); ok {
			out.related = append(out.related, cr)
		}
	}
	for i, a := range g.Aggregates {
		if cc, ok := c.aggregateCond(a, mi, index(path, "aggregates", i), depth); ok {
			out.aggs = append(out.aggs, cc)
		}
	}
	for i, m := range g.Memberships {
		if cm, ok := c.membership(m, mi, index(path, "memberships", i)); ok {
			out.members = append(out.members, cm)
		}
	}
	return out
}

// field resolves the name of a column or calculated field of mi.
func (c *checker) field(mi *modelInfo, name, path string) (fieldRef, bool) {
	if name == "" {
		c.add(path, "column is required")
		return fieldRef{}, false
	}
	if !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
		// No warehouse has such names, and dialects would alter them while quoting.
		c.add(path, "column name %s is not valid UTF-8 text without NUL characters", quote(name))
		return fieldRef{}, false
	}
	if col, ok := mi.cols[name]; ok {
		return colRef(col), true
	}
	if f, ok := mi.calcs[name]; ok {
		cc, errs := c.calc(mi, f)
		if len(errs) > 0 {
			for _, e := range errs {
				c.add(path, "calculated field %s of model %s is invalid: %s", quote(name), quote(mi.name), e.Error())
			}
			return fieldRef{}, false
		}
		return fieldRef{name: name, calc: cc, cat: cc.cat}, true
	}
	msg := "unknown column " + quote(name) + " (column names are case-sensitive)"
	switch s := closest(name, mi.names); {
	case len(s) > 0:
		msg += "; did you mean " + quoteList(s, " or ") + "?"
	case len(mi.names) == 0:
		msg += "; the model has no columns"
	case len(mi.names) <= 20:
		msg += "; the model's columns are " + quoteList(mi.names, ", ")
	default:
		msg += fmt.Sprintf("; the model has %d columns, none with a similar name", len(mi.names))
	}
	c.add(path, "%s", msg)
	return fieldRef{}, false
}

// hint returns "; did you mean ...?" or the list of names when short, or "".
func hint(name string, names []string) string {
	if s := closest(name, names); len(s) > 0 {
		return "; did you mean " + quoteList(s, " or ") + "?"
	}
	switch {
	case len(names) == 0:
		return ""
	case len(names) <= 20:
		return "; the choices are " + quoteList(names, ", ")
	default:
		return ""
	}
}

// attrOperands are the operator and operands of an attribute or aggregate condition.
type attrOperands struct {
	operator string
	value    *string
	values   []string
	unit     string
}

// attribute checks an operator and its operands against a field (refOK is false when the field
// did not resolve; the operator is still checked).
func (c *checker) attribute(ref fieldRef, refOK bool, in attrOperands, path string) (checkedCond, bool) {
	before := len(c.errs)
	out := checkedCond{field: ref, op: in.operator}
	cat := ref.cat

	op, opOK := LookupOperator(in.operator)
	switch {
	case in.operator == "":
		c.add(join(path, "operator"), "operator is required; %s", operatorHint(refOK, cat))
	case !opOK:
		msg := "unknown operator " + quote(in.operator)
		if s := closest(in.operator, operatorNames()); len(s) > 0 {
			msg += "; did you mean " + quoteList(s, " or ") + "?"
		} else {
			msg += "; " + operatorHint(refOK, cat)
		}
		c.add(join(path, "operator"), "%s", msg)
	case refOK && !op.AppliesTo(cat):
		if cat == warehouse.TypeOther {
			c.add(join(path, "operator"), "%s has type %s, which segment conditions can only test with %q or %q",
				ref.noun(), typeName(ref), OpIsNull, OpIsNotNull)
		} else {
			c.add(join(path, "operator"), "operator %q does not apply to %s of type %s; %s",
				op.Name, ref.noun(), typeName(ref), operatorHint(true, cat))
		}
		opOK = false
	case op.Arity == AmountUnit || op.Name == OpOnWeekday || op.Name == OpInMonth:
		if c.caps != nil && c.caps.dates == nil {
			c.add(join(path, "operator"), "operator %q needs date arithmetic, which dinmo does not have for engine %q", op.Name, c.caps.engine)
			opOK = false
		}
	}

	if opOK {
		c.operands(in, op, path)
		if refOK && len(c.errs) == before {
			c.literals(&out, in, op, ref, path)
		}
	}
	return out, len(c.errs) == before
}

// operands checks that the operand fields used match the operator's arity.
func (c *checker) operands(in attrOperands, op OperatorInfo, path string) {
	switch op.Arity {
	case NoValue:
		if in.value != nil {
			c.add(join(path, "value"), "operator %q takes no value; remove value", op.Name)
		}
		if len(in.values) > 0 {
			c.add(join(path, "values"), "operator %q takes no values; remove values", op.Name)
		}
	case OneValue:
		if in.value == nil {
			c.add(join(path, "value"), "operator %q needs a value", op.Name)
		}
		if len(in.values) > 0 {
			c.add(join(path, "values"), "operator %q takes a single value in value, not values", op.Name)
		}
	case ValueList:
		if in.value != nil {
			c.add(join(path, "value"), "operator %q takes its operands as a list in values, not value", op.Name)
		}
		if len(in.values) == 0 {
			c.add(join(path, "values"), "operator %q needs at least one value in values", op.Name)
		}
	case ValueRange:
		if in.value != nil {
			c.add(join(path, "value"), "operator %q takes its bounds as values = [low, high], not value", op.Name)
		}
		if len(in.values) != 2 {
			c.add(join(path, "values"), "operator %q needs exactly 2 values (low and high, both included), got %d", op.Name, len(in.values))
		}
	case AmountUnit:
		if in.value == nil {
			c.add(join(path, "value"), "operator %q needs the number of units in value", op.Name)
		}
		if len(in.values) > 0 {
			c.add(join(path, "values"), "operator %q takes the number of units in value, not values", op.Name)
		}
		switch {
		case in.unit == "":
			c.add(join(path, "unit"), "operator %q needs a unit: %s", op.Name, strings.Join(Units(), ", "))
		case !slices.Contains(Units(), in.unit):
			c.add(join(path, "unit"), "unknown unit %s: use %s", quote(in.unit), strings.Join(Units(), ", "))
		}
	}
	if op.Arity != AmountUnit && in.unit != "" {
		c.add(join(path, "unit"), "operator %q takes no unit; remove unit", op.Name)
	}
}

// literals parses the operands (whose count is already checked) for the field's category.
func (c *checker) literals(out *checkedCond, in attrOperands, op OperatorInfo, ref fieldRef, path string) {
	switch {
	case op.Arity == NoValue:
		return
	case op.Arity == AmountUnit:
		out.amount, out.unit = c.amount(*in.value, in.unit, join(path, "value"))
		return
	case op.Name == OpOnWeekday:
		for i, v := range in.values {
			d, ok := weekdays[strings.ToLower(v)]
			if !ok {
				c.add(index(path, "values", i), "%s is not a day of the week: use mon, tue, wed, thu, fri, sat or sun", quote(v))
				continue
			}
			if !slices.Contains(out.ints, d) {
				out.ints = append(out.ints, d)
			}
		}
		return
	case op.Name == OpInMonth:
		for i, v := range in.values {
			m, err := strconv.Atoi(v)
			if err != nil || m < 1 || m > 12 || v != strconv.Itoa(m) {
				c.add(index(path, "values", i), "%s is not a month: use 1 (January) to 12 (December)", quote(v))
				continue
			}
			if !slices.Contains(out.ints, m) {
				out.ints = append(out.ints, m)
			}
		}
		return
	case op.Arity == OneValue:
		if l, ok := c.parse(*in.value, ref, join(path, "value")); ok {
			out.lits = append(out.lits, l)
		}
	default: // ValueList, ValueRange
		for i, v := range in.values {
			if l, ok := c.parse(v, ref, index(path, "values", i)); ok {
				out.lits = append(out.lits, l)
			}
		}
	}
	if op.Arity == ValueRange && len(out.lits) == 2 && out.lits[0].greater(out.lits[1]) {
		c.add(join(path, "values"), "between needs low <= high, got low %s > high %s; swap them", quote(in.values[0]), quote(in.values[1]))
	}
}

// weekdays maps the names of on_weekday to ISO weekday numbers.
var weekdays = map[string]int{"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}

// amount parses N of a relative date and returns it in base units (days or months); a bad
// value is reported at path.
func (c *checker) amount(v, unit, path string) (int64, string) {
	limit, ok := maxAmount[unit]
	if !ok {
		return 0, "" // the unit's own error is already reported
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > limit || strings.HasPrefix(v, "+") {
		c.add(path, "%s is not a number of %s: use a whole number from 0 to %d", quote(v), unit, limit)
		return 0, ""
	}
	switch unit {
	case UnitWeeks:
		return n * 7, unitDay
	case UnitMonths:
		return n, unitMonth
	case UnitYears:
		return n * 12, unitMonth
	default:
		return n, unitDay
	}
}

var decimalPattern = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)

// Timestamp layouts accepted, tried in order. Layouts without an offset are read as UTC. When
// parsing, Go accepts fractional seconds after the seconds field even if the layout has none.
var timestampLayouts = []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02T15:04:05"}

func (c *checker) parse(v string, ref fieldRef, path string) (literal, bool) {
	bad := func(what string) (literal, bool) {
		c.add(path, "%s is not %s (%s has type %s)", quote(v), what, ref.noun(), typeName(ref))
		return literal{}, false
	}
	switch ref.cat {
	case warehouse.TypeString:
		if !utf8.ValidString(v) {
			c.add(path, "value is not valid UTF-8 text")
			return literal{}, false
		}
		if strings.ContainsRune(v, 0) {
			c.add(path, "value contains a NUL character, which warehouses cannot store in text")
			return literal{}, false
		}
		return literal{kind: litString, text: v}, true
	case warehouse.TypeInteger:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return bad("an integer (a whole number such as 42 or -7, at most 19 digits)")
		}
		return literal{kind: litNumeric, text: strconv.FormatInt(n, 10), num: new(big.Rat).SetInt64(n)}, true
	case warehouse.TypeNumber:
		if !decimalPattern.MatchString(v) {
			return bad("a decimal number (such as 12 or -3.75, without exponent)")
		}
		text := strings.TrimPrefix(v, "+")
		num, ok := new(big.Rat).SetString(text)
		if !ok {
			return bad("a decimal number")
		}
		return literal{kind: litNumeric, text: text, num: num}, true
	case warehouse.TypeDate:
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return bad("a date in the form YYYY-MM-DD")
		}
		return dateLiteral(t), true
	case warehouse.TypeTimestamp:
		for _, layout := range timestampLayouts {
			t, err := time.Parse(layout, v)
			if err != nil {
				continue
			}
			if t.Nanosecond()%1000 != 0 {
				c.add(path, "%s has more than microsecond precision, which warehouses do not store; use at most 6 fractional digits", quote(v))
				return literal{}, false
			}
			return timestampLiteral(t), true
		}
		return bad(`a timestamp in RFC 3339 form ("2024-05-01T13:45:00Z", "2024-05-01T15:45:00+02:00") or "YYYY-MM-DD HH:MM:SS" (read as UTC)`)
	default:
		// Operators on other categories take no value, so this is unreachable after the
		// operator check; keep it an error rather than a panic.
		c.add(path, "%s has type %s, which takes no values", ref.noun(), typeName(ref))
		return literal{}, false
	}
}

// greater reports whether l > r for literals of the same ordered kind.
func (l literal) greater(r literal) bool {
	switch l.kind {
	case litNumeric:
		return l.num.Cmp(r.num) > 0
	case litDate, litTimestamp:
		return l.at.After(r.at)
	default:
		return false
	}
}

// relationProblems checks a relationship of mi; paths are relative to the relationship.
func (c *checker) relationProblems(mi *modelInfo, r *Relationship) []*Error {
	var errs []*Error
	bad := func(path, format string, args ...any) {
		errs = append(errs, &Error{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	if r.Kind != ManyToOne && r.Kind != OneToMany {
		bad("kind", "unknown relationship kind %s: use %q or %q", quote(r.Kind), ManyToOne, OneToMany)
	}
	from, fromOK := mi.cols[r.FromColumn]
	if !fromOK {
		bad("from_column", "%s is not a column of model %s%s", quote(r.FromColumn), quote(mi.name), hint(r.FromColumn, mi.colNames))
	}
	target, msg := c.model(r.To)
	if target == nil {
		bad("to", "%s", msg)
		return errs
	}
	to, toOK := target.cols[r.ToColumn]
	if !toOK {
		bad("to_column", "%s is not a column of model %s%s", quote(r.ToColumn), quote(target.name), hint(r.ToColumn, target.colNames))
	}
	if fromOK && toOK && !joinable(normalizeCategory(from.Category), normalizeCategory(to.Category)) {
		bad("to_column", "the relationship compares %s (%s) with %s (%s); key columns must have the same type",
			quote(from.Name), typeName(colRef(from)), quote(to.Name), typeName(colRef(to)))
	}
	return errs
}

func joinable(a, b warehouse.TypeCategory) bool {
	numeric := func(c warehouse.TypeCategory) bool { return c == warehouse.TypeInteger || c == warehouse.TypeNumber }
	if a == warehouse.TypeOther || b == warehouse.TypeOther || a == warehouse.TypeBoolean {
		return false
	}
	return a == b || numeric(a) && numeric(b)
}

// path resolves a relationship path from mi; it returns the hops and the related model.
func (c *checker) path(mi *modelInfo, names []string, path string) ([]hop, *modelInfo, bool) {
	if len(names) == 0 {
		c.add(path, "path needs at least one relationship name")
		return nil, nil, false
	}
	if len(names) > maxPathLength {
		c.add(path, "path follows %d relationships; at most %d are allowed", len(names), maxPathLength)
		return nil, nil, false
	}
	hops := make([]hop, 0, len(names))
	cur := mi
	for i, name := range names {
		p := fmt.Sprintf("%s[%d]", path, i)
		r, ok := cur.rels[name]
		if !ok {
			var rels []string
			for _, r := range cur.m.Relationships {
				rels = append(rels, r.Name)
			}
			msg := "model " + quote(cur.name) + " has no relationship " + quote(name)
			if len(rels) == 0 {
				msg += "; it declares none"
			} else {
				msg += hint(name, rels)
			}
			c.add(p, "%s", msg)
			return nil, nil, false
		}
		if errs := c.relationProblems(cur, r); len(errs) > 0 {
			for _, e := range errs {
				c.add(p, "relationship %s of model %s is invalid: %s", quote(name), quote(cur.name), e.Error())
			}
			return nil, nil, false
		}
		target, _ := c.model(r.To)
		if target.m.View == "" {
			c.add(p, "model %s, reached by relationship %s, has no view name", quote(target.name), quote(name))
			return nil, nil, false
		}
		hops = append(hops, hop{rel: r, to: target})
		cur = target
	}
	return hops, cur, true
}

// mayRepeat reports whether following hops can reach the same row of the last model more than
// once from one row: a many-to-one step after a one-to-many step.
func mayRepeat(hops []hop) bool {
	fanOut := false
	for _, h := range hops {
		if h.rel.Kind == OneToMany {
			fanOut = true
		} else if fanOut {
			return true
		}
	}
	return false
}

// filter checks the filter of a related or aggregate condition on the related model; an empty
// filter is nil (every related row).
func (c *checker) filter(g *Group, mi *modelInfo, path string, depth int) *checkedGroup {
	if g == nil {
		return nil
	}
	if depth+1 > MaxDepth {
		c.add(path, "groups are nested more than %d levels deep; flatten the conditions", MaxDepth)
		return nil
	}
	out := c.top(*g, mi, path, depth+1, "an empty filter keeps every related row, so negating it would keep none; add conditions or remove negate")
	if out.empty() {
		return nil
	}
	return out
}

// window checks a time window on the related model mi; problems are reported, and the result
// is only compiled when there are none.
func (c *checker) window(w *Window, mi *modelInfo, path string) *checkedWindow {
	if w == nil {
		return nil
	}
	out := &checkedWindow{}
	name := w.Column
	colPath := join(path, "column")
	if name == "" {
		name = mi.m.TimestampColumn
		colPath = path
		if name == "" {
			c.add(path, "model %s has no timestamp column; set the window's column or declare the model's timestamp field", quote(mi.name))
			return nil
		}
	}
	ref, ok := c.field(mi, name, colPath)
	if ok && ref.cat != warehouse.TypeDate && ref.cat != warehouse.TypeTimestamp {
		c.add(colPath, "%s has type %s; a window needs a date or timestamp", ref.noun(), typeName(ref))
		ok = false
	}
	out.field = ref
	fixed := w.From != "" || w.To != ""
	switch {
	case w.Last != nil && fixed:
		c.add(path, "a window is either last (with unit) or from/to, not both")
	case w.Last != nil:
		out.last = true
		switch {
		case w.Unit == "":
			c.add(join(path, "unit"), "a window with last needs a unit: %s", strings.Join(Units(), ", "))
		case !slices.Contains(Units(), w.Unit):
			c.add(join(path, "unit"), "unknown unit %s: use %s", quote(w.Unit), strings.Join(Units(), ", "))
		default:
			out.amount, out.unit = c.amount(strconv.FormatInt(*w.Last, 10), w.Unit, join(path, "last"))
		}
		if c.caps != nil && c.caps.dates == nil {
			c.add(join(path, "last"), "a relative window needs date arithmetic, which dinmo does not have for engine %q", c.caps.engine)
		}
	case fixed:
		if w.Unit != "" {
			c.add(join(path, "unit"), "unit is only used with last; remove it")
		}
		if ok {
			out.from = c.windowBound(w.From, ref, join(path, "from"), false, out)
			out.to = c.windowBound(w.To, ref, join(path, "to"), true, out)
			if out.from != nil && out.to != nil && out.from.greater(*out.to) ||
				out.from != nil && out.to != nil && out.toExclusive && !out.to.at.After(out.from.at) {
				c.add(path, "the window starts (%s) after it ends (%s); swap from and to", quote(w.From), quote(w.To))
			}
		}
	default:
		c.add(path, "a window needs last and unit (\"in the last N units\"), or from and/or to")
	}
	return out
}

// windowBound parses a from or to bound of a window on ref; a date bound "to" on a timestamp
// field becomes the next midnight, exclusive.
func (c *checker) windowBound(v string, ref fieldRef, path string, isTo bool, w *checkedWindow) *literal {
	if v == "" {
		return nil
	}
	if ref.cat == warehouse.TypeTimestamp {
		if d, err := time.Parse(time.DateOnly, v); err == nil {
			if isTo {
				w.toExclusive = true
				d = d.AddDate(0, 0, 1)
			}
			l := timestampLiteral(d)
			return &l
		}
	}
	l, ok := c.parse(v, ref, path)
	if !ok {
		return nil
	}
	return &l
}

// aggInput is the definition of an aggregate: a calculated field's or an aggregate condition's.
type aggInput struct {
	path                    []string
	function, column, order string
	filter                  *Group
	window                  *Window
}

var aggFunctions = []string{AggCount, AggCountDistinct, AggSum, AggAvg, AggMin, AggMax, AggFirst, AggLast}

// aggregate checks an aggregate over the rows related to mi and returns it with its result
// category.
func (c *checker) aggregate(in aggInput, mi *modelInfo, path string, depth int) (*checkedAgg, warehouse.TypeCategory, bool) {
	before := len(c.errs)
	out := &checkedAgg{fn: in.function}
	hops, target, pathOK := c.path(mi, in.path, join(path, "path"))
	out.hops = hops
	fnPath := join(path, "function")
	if !slices.Contains(aggFunctions, in.function) {
		if in.function == "" {
			c.add(fnPath, "function is required: %s", strings.Join(aggFunctions, ", "))
		} else {
			c.add(fnPath, "unknown function %s: use %s", quote(in.function), strings.Join(aggFunctions, ", "))
		}
		return nil, "", false
	}
	if !pathOK {
		return nil, "", false
	}
	var cat warehouse.TypeCategory
	colPath := join(path, "column")
	if in.column == "" && in.function != AggCount {
		c.add(colPath, "function %q needs the column to aggregate", in.function)
	}
	var arg fieldRef
	argOK := false
	if in.column != "" {
		arg, argOK = c.field(target, in.column, colPath)
	}
	allowed := map[string][]warehouse.TypeCategory{
		AggCount:         catAll,
		AggCountDistinct: {warehouse.TypeString, warehouse.TypeInteger, warehouse.TypeNumber, warehouse.TypeBoolean, warehouse.TypeDate, warehouse.TypeTimestamp},
		AggSum:           {warehouse.TypeInteger, warehouse.TypeNumber},
		AggAvg:           {warehouse.TypeInteger, warehouse.TypeNumber},
		AggMin:           {warehouse.TypeString, warehouse.TypeInteger, warehouse.TypeNumber, warehouse.TypeDate, warehouse.TypeTimestamp},
		AggMax:           {warehouse.TypeString, warehouse.TypeInteger, warehouse.TypeNumber, warehouse.TypeDate, warehouse.TypeTimestamp},
		AggFirst:         {warehouse.TypeString, warehouse.TypeInteger, warehouse.TypeNumber, warehouse.TypeBoolean, warehouse.TypeDate, warehouse.TypeTimestamp},
		AggLast:          {warehouse.TypeString, warehouse.TypeInteger, warehouse.TypeNumber, warehouse.TypeBoolean, warehouse.TypeDate, warehouse.TypeTimestamp},
	}
	if argOK && !slices.Contains(allowed[in.function], arg.cat) {
		names := make([]string, len(allowed[in.function]))
		for i, c := range allowed[in.function] {
			names[i] = string(c)
		}
		c.add(colPath, "function %q does not apply to %s of type %s; it takes %s fields", in.function, arg.noun(), typeName(arg), strings.Join(names, ", "))
		argOK = false
	}
	if argOK && arg.subquery() && c.caps != nil && !c.caps.nestedAggregates {
		c.add(colPath, "%s is computed from related rows itself, and aggregating it needs a subquery inside an aggregate function, which dinmo compiles only for postgres and duckdb, not for engine %q; aggregate a column of the related model instead", arg.noun(), c.caps.engine)
		argOK = false
	}
	if argOK {
		out.arg = &arg
	}
	switch in.function {
	case AggCount, AggCountDistinct:
		cat = warehouse.TypeInteger
	case AggAvg:
		cat = warehouse.TypeNumber
	default:
		cat = arg.cat
	}
	orderPath := join(path, "order_by")
	if in.function == AggFirst || in.function == AggLast {
		if in.order == "" {
			c.add(orderPath, "function %q needs order_by, the field ordering the related rows", in.function)
		} else if o, ok := c.field(target, in.order, orderPath); ok {
			if !slices.Contains(catOrdered, o.cat) && o.cat != warehouse.TypeString {
				c.add(orderPath, "%s has type %s, which cannot order rows", o.noun(), typeName(o))
			} else if o.subquery() && c.caps != nil && !c.caps.nestedAggregates {
				c.add(orderPath, "%s is computed from related rows itself, and ordering by it needs a subquery inside an aggregate function, which dinmo compiles only for postgres and duckdb, not for engine %q; order by a column", o.noun(), c.caps.engine)
			} else {
				out.orderBy = &o
			}
		}
		if c.caps != nil && !c.canValueAtExtreme() {
			c.add(fnPath, "function %q cannot be compiled for engine %q, which has no aggregate returning the value at the first or last row; use min or max", in.function, c.caps.engine)
		}
	} else if in.order != "" {
		c.add(orderPath, "order_by is only used by the first and last functions; remove it")
	}
	out.filter = c.filter(in.filter, target, join(path, "filter"), depth)
	out.window = c.window(in.window, target, join(path, "window"))
	return out, cat, len(c.errs) == before
}

// related checks a related-model condition.
func (c *checker) related(r RelatedCondition, mi *modelInfo, path string, depth int) (checkedRelated, bool) {
	before := len(c.errs)
	out := checkedRelated{quant: r.Quantifier}
	hops, target, pathOK := c.path(mi, r.Path, join(path, "path"))
	out.hops = hops
	quants := Quantifiers()
	counted := false
	switch r.Quantifier {
	case QuantExists, QuantNotExists:
		if r.Count != nil {
			c.add(join(path, "count"), "quantifier %q takes no count; remove count or use count_at_least", r.Quantifier)
		}
	case QuantCountAtLeast, QuantCountAtMost, QuantCountExactly:
		counted = true
		switch {
		case r.Count == nil:
			c.add(join(path, "count"), "quantifier %q needs a count", r.Quantifier)
		case *r.Count < 0:
			c.add(join(path, "count"), "count must be 0 or more, got %d", *r.Count)
		default:
			out.n = *r.Count
		}
	case "":
		c.add(join(path, "quantifier"), "quantifier is required: %s", strings.Join(quants, ", "))
	default:
		c.add(join(path, "quantifier"), "unknown quantifier %s: use %s", quote(r.Quantifier), strings.Join(quants, ", "))
	}
	if !pathOK {
		return out, false
	}
	if counted && mayRepeat(hops) {
		if target.m.PrimaryKey == "" || !hasColumn(target, target.m.PrimaryKey) {
			c.add(join(path, "path"), "this path can reach the same row of model %s several times, so counting needs its primary key, which it does not declare", quote(target.name))
		} else {
			out.distinctKey = target.m.PrimaryKey
		}
	}
	out.filter = c.filter(r.Filter, target, join(path, "filter"), depth)
	out.window = c.window(r.Window, target, join(path, "window"))
	return out, len(c.errs) == before
}

// canValueAtExtreme reports whether the target engine can compile first and last.
func (c *checker) canValueAtExtreme() bool {
	if c.caps.aggs == nil {
		return false
	}
	_, ok := c.caps.aggs.ValueAtExtreme("v", "o", false)
	return ok
}

func hasColumn(mi *modelInfo, name string) bool {
	_, ok := mi.cols[name]
	return ok
}

// aggregateCond checks an aggregate condition: an attribute condition on an unnamed aggregate.
func (c *checker) aggregateCond(a AggregateCondition, mi *modelInfo, path string, depth int) (checkedCond, bool) {
	before := len(c.errs)
	agg, cat, ok := c.aggregate(aggInput{a.Path, a.Function, a.Column, a.OrderBy, a.Filter, a.Window}, mi, path, depth)
	ref := fieldRef{adhoc: adhocName(a), cat: cat}
	if ok {
		ref.calc = &checkedCalc{model: mi.name, agg: agg, cat: cat, subquery: true}
	}
	cc, _ := c.attribute(ref, ok, attrOperands{a.Operator, a.Value, a.Values, a.Unit}, path)
	return cc, len(c.errs) == before
}

func adhocName(a AggregateCondition) string {
	if a.Column == "" {
		return a.Function + " of " + strings.Join(a.Path, ".")
	}
	return a.Function + " of " + strings.Join(a.Path, ".") + "." + a.Column
}

// membership checks a membership condition on a segment of mi's model.
func (c *checker) membership(m MembershipCondition, mi *modelInfo, path string) (checkedMember, bool) {
	p := join(path, "segment")
	name := m.Segment
	if name == "" {
		c.add(p, "segment is required")
		return checkedMember{}, false
	}
	var def SegmentDef
	if name == c.opts.Segment && c.opts.Segment != "" {
		def = SegmentDef{Model: c.rootModel, Tree: c.root}
	} else if d, ok := c.schema.Segments[name]; ok {
		def = d
	} else {
		names := make([]string, 0, len(c.schema.Segments))
		for n := range c.schema.Segments {
			names = append(names, n)
		}
		sort.Strings(names)
		c.add(p, "unknown segment %s%s", quote(name), hint(name, names))
		return checkedMember{}, false
	}
	if def.Model != mi.name {
		c.add(p, "segment %s belongs to model %s, not %s: membership conditions test segments of the same model", quote(name), quote(def.Model), quote(mi.name))
		return checkedMember{}, false
	}
	st := c.segs[name]
	if st != nil && st.inProgress {
		i := slices.Index(c.segStack, name)
		cycle := append(slices.Clone(c.segStack[i:]), name)
		c.add(p, "segment memberships form a cycle: %s", strings.Join(cycle, " -> "))
		return checkedMember{}, false
	}
	if st == nil {
		st = &segState{inProgress: true}
		c.segs[name] = st
		c.segStack = append(c.segStack, name)
		st.errs = c.collect(func() {
			st.tree = c.top(def.Tree, mi, "", 1, "a segment without conditions selects every row of the model, so negating it would select none")
		})
		c.segStack = c.segStack[:len(c.segStack)-1]
		st.inProgress = false
	}
	if len(st.errs) > 0 {
		for _, e := range st.errs {
			c.add(p, "segment %s is invalid: %s", quote(name), e.Error())
		}
		return checkedMember{}, false
	}
	out := checkedMember{exclude: m.Exclude}
	if !st.tree.empty() {
		out.tree = st.tree
	}
	return out, true
}

// calc checks a calculated field of mi, once per check; errors are relative to the field's
// definition.
func (c *checker) calc(mi *modelInfo, f *CalculatedField) (*checkedCalc, []*Error) {
	key := mi.name + "." + f.Name
	if st, ok := c.calcs[f]; ok {
		if st.inProgress {
			i := slices.Index(c.calcStack, key)
			cycle := append(slices.Clone(c.calcStack[i:]), key)
			return nil, []*Error{{Message: "calculated fields form a cycle: " + strings.Join(cycle, " -> ")}}
		}
		return st.calc, st.errs
	}
	st := &calcState{inProgress: true}
	c.calcs[f] = st
	c.calcStack = append(c.calcStack, key)
	var out *checkedCalc
	st.errs = c.collect(func() { out = c.calcDef(mi, f) })
	c.calcStack = c.calcStack[:len(c.calcStack)-1]
	st.inProgress = false
	if len(st.errs) == 0 {
		st.calc = out
	}
	return st.calc, st.errs
}

func (c *checker) calcDef(mi *modelInfo, f *CalculatedField) *checkedCalc {
	out := &checkedCalc{model: mi.name, name: f.Name}
	aggSet := len(f.Path) > 0 || f.Function != "" || f.Column != "" || f.OrderBy != "" || f.Filter != nil || f.Window != nil
	switch f.Kind {
	case CalcAggregate:
		if f.Expression != "" {
			c.add("expression", "expression is only used by formula fields; remove it")
		}
		agg, cat, ok := c.aggregate(aggInput{f.Path, f.Function, f.Column, f.OrderBy, f.Filter, f.Window}, mi, "", 1)
		if !ok {
			return nil
		}
		out.agg, out.cat, out.subquery = agg, cat, true
	case CalcFormula:
		if aggSet {
			c.add("", "path, function, column, order_by, filter and window are only used by aggregate fields; remove them")
		}
		if f.Expression == "" {
			c.add("expression", "a formula field needs an expression")
			return nil
		}
		n, err := parseFormula(f.Expression)
		if err != nil {
			c.add("expression", "%s", err.Error())
			return nil
		}
		out.formula = n
		out.cat = warehouse.TypeInteger
		ok := c.resolveFormula(n, mi, out)
		if !ok {
			return nil
		}
	case "":
		c.add("kind", "kind is required: %q or %q", CalcAggregate, CalcFormula)
		return nil
	default:
		c.add("kind", "unknown kind %s: use %q or %q", quote(f.Kind), CalcAggregate, CalcFormula)
		return nil
	}
	return out
}

// resolveFormula resolves the field references of a formula, all of which must be numeric, and
// sets the field's category and subquery flag.
func (c *checker) resolveFormula(n *formulaNode, mi *modelInfo, out *checkedCalc) bool {
	ok := true
	switch n.kind {
	case fNumber:
		if strings.Contains(n.text, ".") {
			out.cat = warehouse.TypeNumber
		}
	case fField:
		var ref fieldRef
		var refOK bool
		errs := c.collect(func() { ref, refOK = c.field(mi, n.text, "expression") })
		for _, e := range errs {
			c.add("expression", "at character %d: %s", n.pos, e.Message)
		}
		if !refOK {
			return false
		}
		if ref.cat != warehouse.TypeInteger && ref.cat != warehouse.TypeNumber {
			c.add("expression", "at character %d: %s has type %s; formulas only use integer and number fields", n.pos, ref.noun(), typeName(ref))
			return false
		}
		if ref.cat == warehouse.TypeNumber {
			out.cat = warehouse.TypeNumber
		}
		if ref.subquery() {
			out.subquery = true
		}
		n.ref = &ref
	case fBinary:
		if n.op == '/' {
			out.cat = warehouse.TypeNumber
			if c.caps != nil && c.caps.aggs == nil {
				c.add("expression", "at character %d: division needs the floating-point type of engine %q, which dinmo does not know", n.pos, c.caps.engine)
				ok = false
			}
		}
	}
	for _, a := range n.args {
		if !c.resolveFormula(a, mi, out) {
			ok = false
		}
	}
	return ok
}

func operatorHint(known bool, cat warehouse.TypeCategory) string {
	if !known {
		return "operators are " + strings.Join(operatorNames(), ", ")
	}
	cat = normalizeCategory(cat)
	return fmt.Sprintf("operators for %s columns are %s", cat, strings.Join(OperatorsFor(cat), ", "))
}

func operatorNames() []string {
	names := make([]string, len(operatorTable))
	for i, o := range operatorTable {
		names[i] = o.Name
	}
	return names
}

func typeName(f fieldRef) string {
	cat := normalizeCategory(f.cat)
	if f.dbType == "" {
		return string(cat)
	}
	return fmt.Sprintf("%s (%s)", f.dbType, cat)
}

// quote renders a user-written name or value for a message, shortened so one long value does
// not drown the message.
func quote(s string) string {
	const maxRunes = 64
	if utf8.RuneCountInString(s) > maxRunes {
		r := []rune(s)
		return strconv.Quote(string(r[:maxRunes])) + "..."
	}
	return strconv.Quote(s)
}

func quoteList(names []string, sep string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	return strings.Join(q, sep)
}

// closest returns up to three candidates close to name, for "did you mean" hints: those equal
// ignoring case if any, otherwise the nearest ones within an edit distance of about a third of
// the name's length (a transposition counts as one edit).
func closest(name string, candidates []string) []string {
	lower := strings.ToLower(name)
	n := utf8.RuneCountInString(lower)
	best := max(1, n/3)
	var out []string
	for _, cand := range candidates {
		lc := strings.ToLower(cand)
		d := -1
		if lc != lower {
			// The distance is at least the difference in length; skip the quadratic
			// computation when that alone is too far (names can be long in generated input).
			if diff := utf8.RuneCountInString(lc) - n; diff > best || -diff > best {
				continue
			}
			d = editDistance(lower, lc)
		}
		switch {
		case d < best:
			best, out = d, []string{cand}
		case d == best && !slices.Contains(out, cand):
			out = append(out, cand)
		}
	}
	if len(out) > 3 {
		out = out[:3]
	}
	return out
}

// editDistance is the optimal string alignment distance between a and b in runes: insertions,
// deletions, substitutions and transpositions of adjacent runes each cost one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	rows := make([][]int, len(ra)+1)
	for i := range rows {
		rows[i] = make([]int, len(rb)+1)
		rows[i][0] = i
	}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d := min(rows[i-1][j]+1, rows[i][j-1]+1, rows[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d = min(d, rows[i-2][j-2]+1)
			}
			rows[i][j] = d
		}
	}
	return rows[len(ra)][len(rb)]
}
