package segment

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"dinmo/connectors/warehouse"
)

// Options tune compilation (and, for Segment, validation).
type Options struct {
	// Now fixes the current instant of relative dates (in_last, in_next, more_than_ago and
	// windows with last): the SQL then holds it as a timestamp literal (and its UTC date as
	// today) instead of the engine's current time. Tests and previews set it; views leave it
	// nil so that they follow the clock.
	Now *time.Time
	// Segment is the name of the segment whose tree is compiled, if it is one. Membership
	// conditions that lead back to it are cycles, and membership conditions of other segments
	// that name it see the tree being compiled rather than Schema.Segments' (older) one.
	Segment string
	// IncludeCalculated adds every calculated field of the model to the SELECT list, after the
	// model's columns, each named after its field. Without it the query selects exactly the
	// columns of the model's view.
	IncludeCalculated bool
}

// MaxSQLLength bounds the compiled SQL. Calculated fields and segment memberships are expanded
// inline, so a chain of definitions that each use the previous one twice grows exponentially;
// compilation stops with an error instead.
const MaxSQLLength = 1 << 20

// Compile returns the SELECT of the segment: every column of the model's view, restricted to
// the rows the tree selects. modelSchema and modelView name the model's view (normally in
// warehouse.SchemaSegments); they are quoted by the dialect. The tree is validated first; an
// invalid tree returns a *ValidationError listing every problem. The output is deterministic, so
// an unchanged tree compiles to the same text and plans show no spurious diff. It is CompileIn
// on a schema holding only this model.
func Compile(d warehouse.Dialect, modelSchema, modelView string, g Group, cols []warehouse.Column) (string, error) {
	if d == nil {
		return "", errors.New("compile segment: no SQL dialect given")
	}
	if modelView == "" {
		return "", errors.New("compile segment: the model's view name is empty")
	}
	pred, err := Predicate(d, g, cols)
	if err != nil {
		return "", fmt.Errorf("compile segment: %w", err)
	}
	var rel string
	if modelSchema == "" {
		rel = d.QuoteIdent(modelView)
	} else {
		rel = d.Qualified(modelSchema, modelView)
	}
	if pred == sqlTrue {
		return "SELECT * FROM " + rel, nil
	}
	return "SELECT * FROM " + rel + " WHERE " + pred, nil
}

// Predicate returns only the boolean expression of the tree, for use in a WHERE clause or as a
// building block of a larger query. Column references are bare quoted names, resolved against
// the relation of the enclosing query. An empty top-level group returns TRUE.
func Predicate(d warehouse.Dialect, g Group, cols []warehouse.Column) (string, error) {
	if d == nil {
		return "", errors.New("segment predicate: no SQL dialect given")
	}
	return PredicateIn(d, singleModel("", "", cols), legacyModel, "", g, Options{})
}

// CompileIn returns the SELECT of a segment of model in the schema: the columns of the model's
// view (and its calculated fields with Options.IncludeCalculated) for the rows the tree
// selects. Related-model, aggregate and membership conditions and calculated fields compile to
// correlated subqueries on the related models' views, which every supported engine runs; the
// model's view then gets the alias "t0" and subqueries "t1", "t2", ... in order. The tree is
// validated first, including what the dialect's engine cannot express; an invalid tree returns
// a *ValidationError listing every problem.
func CompileIn(d warehouse.Dialect, s *Schema, model string, g Group, opts Options) (string, error) {
	if d == nil {
		return "", errors.New("compile segment: no SQL dialect given")
	}
	caps := capabilitiesOf(d)
	c := newChecker(s, opts, caps)
	cg, errs := c.checkRoot(model, g)
	if len(errs) > 0 {
		return "", fmt.Errorf("compile segment: %w", &ValidationError{Errors: errs})
	}
	mi, _ := c.model(model)
	calcs := c.selected
	if mi.m.View == "" {
		return "", fmt.Errorf("compile segment: model %s has no view name", quote(model))
	}
	alias := ""
	if cg.correlated() {
		alias = outerAlias
	}
	for _, cc := range calcs {
		if cc.subquery {
			alias = outerAlias
		}
	}
	comp := newCompiler(d, caps, opts)
	sel := "*"
	if alias != "" {
		sel = d.QuoteIdent(alias) + ".*"
	}
	for _, cc := range calcs {
		sel += ", " + comp.calc(cc, alias) + " AS " + d.QuoteIdent(cc.name)
	}
	rel := comp.relation(mi)
	if alias != "" {
		rel += " AS " + d.QuoteIdent(alias)
	}
	query := "SELECT " + sel + " FROM " + rel
	if !cg.empty() {
		query += " WHERE " + comp.group(cg, alias)
	}
	if err := comp.finish(len(query)); err != nil {
		return "", fmt.Errorf("compile segment: %w", err)
	}
	return query, nil
}

// PredicateIn returns the boolean expression of a segment of model in the schema, for a
// query whose FROM clause holds the model's view under alias (an empty alias means bare column
// names, which only trees without subqueries allow). An empty top-level group returns TRUE.
func PredicateIn(d warehouse.Dialect, s *Schema, model, alias string, g Group, opts Options) (string, error) {
	if d == nil {
		return "", errors.New("segment predicate: no SQL dialect given")
	}
	caps := capabilitiesOf(d)
	c := newChecker(s, opts, caps)
	cg, errs := c.checkRoot(model, g)
	if len(errs) > 0 {
		return "", &ValidationError{Errors: errs}
	}
	if cg.empty() {
		return sqlTrue, nil
	}
	if alias == "" && cg.correlated() {
		return "", errors.New("segment predicate: the conditions use subqueries on related models, which need an alias for the model's relation")
	}
	comp := newCompiler(d, caps, opts)
	pred := comp.group(cg, alias)
	if err := comp.finish(len(pred)); err != nil {
		return "", fmt.Errorf("segment predicate: %w", err)
	}
	return pred, nil
}

// checkRoot validates the tree of a segment of model.
func (c *checker) checkRoot(model string, g Group) (*checkedGroup, []*Error) {
	mi, msg := c.model(model)
	if mi == nil {
		return nil, []*Error{{Message: msg}}
	}
	c.root, c.rootModel = g, model
	if c.opts.Segment != "" {
		c.segStack = []string{c.opts.Segment}
		c.segs[c.opts.Segment] = &segState{inProgress: true}
	}
	out := c.top(g, mi, "", 1, "a segment without conditions selects every row of the model, so negating it would select none; add conditions or remove negate")
	if c.opts.IncludeCalculated {
		// Every calculated field is selected, so every one must be valid and have a name of
		// its own.
		seen := map[string]bool{}
		for i := range mi.m.Calculated {
			f := &mi.m.Calculated[i]
			p := fmt.Sprintf("calculated[%d]", i)
			switch _, isColumn := mi.cols[f.Name]; {
			case f.Name == "":
				c.add(join(p, "name"), "calculated field name is required")
				continue
			case isColumn || seen[f.Name]:
				c.add(join(p, "name"), "calculated field %s has the name of another field of the model; rename it", quote(f.Name))
				continue
			}
			seen[f.Name] = true
			cc, errs := c.calc(mi, f)
			for _, e := range errs {
				c.add(join(fmt.Sprintf("calculated[%d]", i), e.Path), "%s", e.Message)
			}
			c.selected = append(c.selected, cc)
		}
	}
	return out, c.errs
}

func capabilitiesOf(d warehouse.Dialect) *capabilities {
	dd, ad := extensions(d)
	e := d.Engine()
	return &capabilities{engine: e, dates: dd, aggs: ad, nestedAggregates: e == warehouse.Postgres || e == warehouse.DuckDB}
}

const (
	sqlTrue  = "TRUE"
	sqlFalse = "FALSE"
	// outerAlias is the alias of the segment's model when subqueries refer to it.
	outerAlias = "t0"
)

type compiler struct {
	d     warehouse.Dialect
	dates DateDialect
	aggs  AggregateDialect
	now   *time.Time
	// aliases counts the subquery aliases handed out.
	aliases int
	// tooLarge is set once an expansion exceeds MaxSQLLength; every later rendering is cut
	// short.
	tooLarge bool
}

func newCompiler(d warehouse.Dialect, caps *capabilities, opts Options) *compiler {
	c := &compiler{d: d, dates: caps.dates, aggs: caps.aggs}
	if opts.Now != nil {
		now := opts.Now.UTC().Truncate(time.Microsecond)
		c.now = &now
	}
	return c
}

func (c *compiler) finish(n int) error {
	if c.tooLarge || n > MaxSQLLength {
		return fmt.Errorf("the compiled SQL would exceed %d bytes: calculated fields or segment memberships expand to too much SQL; simplify their definitions", MaxSQLLength)
	}
	return nil
}

// bound marks the compilation as too large when s is.
func (c *compiler) bound(s string) string {
	if len(s) > MaxSQLLength {
		c.tooLarge = true
		return ""
	}
	return s
}

func (c *compiler) newAlias() string {
	c.aliases++
	return "t" + strconv.Itoa(c.aliases)
}

// relation is the quoted name of a model's view.
func (c *compiler) relation(mi *modelInfo) string {
	schema := mi.m.ViewSchema
	if schema == "" {
		schema = warehouse.SchemaSegments
	}
	return c.d.Qualified(schema, mi.m.View)
}

// column references a column of the relation under alias ("" for a bare name).
func (c *compiler) column(alias, name string) string {
	if alias == "" {
		return c.d.QuoteIdent(name)
	}
	return c.d.QuoteIdent(alias) + "." + c.d.QuoteIdent(name)
}

// field renders a field of the row under alias.
func (c *compiler) field(f fieldRef, alias string) string {
	if f.calc != nil {
		return c.calc(f.calc, alias)
	}
	ref := c.column(alias, f.name)
	if c.d.Engine() == warehouse.BigQuery && f.cat == warehouse.TypeTimestamp && strings.EqualFold(f.dbType, "DATETIME") {
		// A DATETIME is a civil time: compare it as the instant it denotes in UTC, like every
		// other engine's timestamp without time zone.
		return "TIMESTAMP(" + ref + ")"
	}
	return ref
}

// group renders a group as a self-contained expression: it can be joined with AND/OR or
// preceded by NOT without extra parentheses.
func (c *compiler) group(g *checkedGroup, alias string) string {
	if c.tooLarge {
		return ""
	}
	if g.empty() {
		// The neutral element of the match; negation folds into the other constant.
		isTrue := g.match == MatchAll
		if g.negate {
			isTrue = !isTrue
		}
		if isTrue {
			return sqlTrue
		}
		return sqlFalse
	}
	parts := make([]string, 0, len(g.conds)+len(g.groups)+len(g.related)+len(g.aggs)+len(g.members))
	for _, cond := range g.conds {
		parts = append(parts, c.condition(cond, alias))
	}
	for i := range g.groups {
		parts = append(parts, c.group(&g.groups[i], alias))
	}
	for _, r := range g.related {
		parts = append(parts, c.related(r, alias))
	}
	for _, cond := range g.aggs {
		parts = append(parts, c.condition(cond, alias))
	}
	for _, m := range g.members {
		parts = append(parts, c.member(m, alias))
	}
	sep := " AND "
	if g.match == MatchAny {
		sep = " OR "
	}
	inner := strings.Join(parts, sep)
	if g.negate {
		// A row is selected when the inner group is not true for it; COALESCE turns the NULL a
		// comparison on NULL yields into "not matched" before negating.
		return c.bound("NOT COALESCE(" + inner + ", " + sqlFalse + ")")
	}
	if len(parts) == 1 {
		return c.bound(inner)
	}
	return c.bound("(" + inner + ")")
}

// member renders a membership condition: the other segment's tree, evaluated on the same row.
func (c *compiler) member(m checkedMember, alias string) string {
	if m.tree == nil {
		// A segment without conditions holds every row.
		if m.exclude {
			return sqlFalse
		}
		return sqlTrue
	}
	inner := c.group(m.tree, alias)
	if m.exclude {
		return "NOT COALESCE(" + inner + ", " + sqlFalse + ")"
	}
	return inner
}

// condition renders one attribute or aggregate condition as a self-contained expression
// (compound forms are parenthesized).
func (c *compiler) condition(cond checkedCond, alias string) string {
	col := c.field(cond.field, alias)
	if c.tooLarge {
		return ""
	}
	lit := func(i int) string { return c.literal(cond.lits[i]) }
	list := func() string {
		items := make([]string, len(cond.lits))
		for i := range cond.lits {
			items[i] = lit(i)
		}
		return strings.Join(items, ", ")
	}
	if cond.field.calc != nil {
		// A calculated field may be a subquery: evaluate it once, with a NULL comparison
		// counted as "matches" (the complement of the positive operator).
		switch cond.op {
		case OpNotEquals:
			return "COALESCE(" + col + " <> " + lit(0) + ", " + sqlTrue + ")"
		case OpNotIn:
			return "COALESCE(" + col + " NOT IN (" + list() + "), " + sqlTrue + ")"
		case OpNotContains:
			return "COALESCE(" + c.like(col, "NOT LIKE", "%"+escapeLike(cond.lits[0].text)+"%") + ", " + sqlTrue + ")"
		}
	}
	switch cond.op {
	case OpEquals:
		return col + " = " + lit(0)
	case OpNotEquals:
		return "(" + col + " IS NULL OR " + col + " <> " + lit(0) + ")"
	case OpIn:
		return col + " IN (" + list() + ")"
	case OpNotIn:
		return "(" + col + " IS NULL OR " + col + " NOT IN (" + list() + "))"
	case OpContains:
		return c.like(col, "LIKE", "%"+escapeLike(cond.lits[0].text)+"%")
	case OpNotContains:
		return "(" + col + " IS NULL OR " + c.like(col, "NOT LIKE", "%"+escapeLike(cond.lits[0].text)+"%") + ")"
	case OpStartsWith:
		return c.like(col, "LIKE", escapeLike(cond.lits[0].text)+"%")
	case OpEndsWith:
		return c.like(col, "LIKE", "%"+escapeLike(cond.lits[0].text))
	case OpGT, OpAfter:
		return col + " > " + lit(0)
	case OpGTE:
		return col + " >= " + lit(0)
	case OpLT, OpBefore:
		return col + " < " + lit(0)
	case OpLTE:
		return col + " <= " + lit(0)
	case OpBetween:
		return "(" + col + " BETWEEN " + lit(0) + " AND " + lit(1) + ")"
	case OpInLast:
		return "(" + col + " BETWEEN " + c.shifted(cond.field.cat, -cond.amount, cond.unit) + " AND " + c.current(cond.field.cat) + ")"
	case OpInNext:
		return "(" + col + " BETWEEN " + c.current(cond.field.cat) + " AND " + c.shifted(cond.field.cat, cond.amount, cond.unit) + ")"
	case OpMoreThanAgo:
		return col + " < " + c.shifted(cond.field.cat, -cond.amount, cond.unit)
	case OpOnWeekday:
		return c.dates.ISOWeekday(col, cond.field.cat) + " IN (" + joinInts(cond.ints) + ")"
	case OpInMonth:
		return c.dates.Month(col, cond.field.cat) + " IN (" + joinInts(cond.ints) + ")"
	case OpIsTrue:
		return col + " IS TRUE"
	case OpIsFalse:
		return col + " IS FALSE"
	case OpIsNull:
		return col + " IS NULL"
	case OpIsNotNull:
		return col + " IS NOT NULL"
	default:
		// check rejects unknown operators; reaching this is a bug in this package.
		panic(fmt.Sprintf("segment: operator %q passed validation but has no SQL form", cond.op))
	}
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// current is the current instant (timestamps) or UTC date (dates).
func (c *compiler) current(cat warehouse.TypeCategory) string {
	if cat == warehouse.TypeDate {
		if c.now != nil {
			return c.d.DateLiteral(c.now.Format(time.DateOnly))
		}
		return c.dates.CurrentDate()
	}
	if c.now != nil {
		return c.d.TimestampLiteral(c.now.Format("2006-01-02T15:04:05.999999Z"))
	}
	return c.dates.CurrentTimestamp()
}

// shifted is current(cat) moved by n base units.
func (c *compiler) shifted(cat warehouse.TypeCategory, n int64, unit string) string {
	if cat == warehouse.TypeDate {
		return c.dates.AddToDate(c.current(cat), n, unit)
	}
	return c.dates.AddToTimestamp(c.current(cat), n, unit)
}

// calc renders a calculated field of the row under alias.
func (c *compiler) calc(cc *checkedCalc, alias string) string {
	if c.tooLarge {
		return ""
	}
	if cc.agg != nil {
		return c.bound(c.aggregate(cc.agg, alias))
	}
	return c.bound(c.formula(cc.formula, alias))
}

// formula renders a formula: every operation parenthesized, division in floating point with a
// zero divisor turned into NULL.
func (c *compiler) formula(n *formulaNode, alias string) string {
	switch n.kind {
	case fNumber:
		return n.text
	case fField:
		return c.field(*n.ref, alias)
	case fNeg:
		// The operand is a number, a quoted name or parenthesized, so "-" is never followed
		// by another "-" (which would start a comment).
		return "(-" + c.formula(n.args[0], alias) + ")"
	case fBinary:
		a, b := c.formula(n.args[0], alias), c.formula(n.args[1], alias)
		if n.op == '/' {
			return "(CAST(" + a + " AS " + c.aggs.FloatType() + ") / NULLIF(" + b + ", 0))"
		}
		return "(" + a + " " + string(n.op) + " " + b + ")"
	case fCoalesce:
		args := make([]string, len(n.args))
		for i, a := range n.args {
			args[i] = c.formula(a, alias)
		}
		return "COALESCE(" + strings.Join(args, ", ") + ")"
	default:
		panic(fmt.Sprintf("segment: formula node kind %d has no SQL form", n.kind))
	}
}

// path renders the FROM clause joining the hops' views, and the condition correlating the
// first hop with the row under outer. last is the alias of the related model.
func (c *compiler) path(hops []hop, outer string) (from, corr, last string) {
	prev := ""
	for i, h := range hops {
		a := c.newAlias()
		rel := c.relation(h.to) + " AS " + c.d.QuoteIdent(a)
		on := c.column(a, h.rel.ToColumn) + " = "
		if i == 0 {
			from = rel
			corr = on + c.column(outer, h.rel.FromColumn)
		} else {
			from += " JOIN " + rel + " ON " + on + c.column(prev, h.rel.FromColumn)
		}
		prev = a
	}
	return from, corr, prev
}

// where joins the correlation, filter and window conditions of a subquery on the related rows
// under alias last.
func (c *compiler) where(corr string, filter *checkedGroup, w *checkedWindow, last string, extra ...string) string {
	conds := []string{corr}
	if filter != nil {
		conds = append(conds, c.group(filter, last))
	}
	if w != nil {
		conds = append(conds, c.window(w, last))
	}
	conds = append(conds, extra...)
	return strings.Join(conds, " AND ")
}

// aggregate renders an aggregate as a scalar subquery.
func (c *compiler) aggregate(a *checkedAgg, alias string) string {
	from, corr, last := c.path(a.hops, alias)
	var expr string
	var extra []string
	arg := ""
	if a.arg != nil {
		arg = c.field(*a.arg, last)
	}
	switch a.fn {
	case AggCount:
		if a.arg == nil {
			expr = "COUNT(*)"
		} else {
			expr = "COUNT(" + arg + ")"
		}
	case AggCountDistinct:
		expr = "COUNT(DISTINCT " + arg + ")"
	case AggSum:
		// A sum over no rows (or only NULLs) is 0, like a count.
		expr = "COALESCE(SUM(" + arg + "), 0)"
	case AggAvg:
		expr = "AVG(" + arg + ")"
	case AggMin:
		expr = "MIN(" + arg + ")"
	case AggMax:
		expr = "MAX(" + arg + ")"
	case AggFirst, AggLast:
		order := c.field(*a.orderBy, last)
		extra = append(extra, arg+" IS NOT NULL", order+" IS NOT NULL")
		expr, _ = c.aggs.ValueAtExtreme(arg, order, a.fn == AggLast)
	default:
		panic(fmt.Sprintf("segment: aggregate function %q passed validation but has no SQL form", a.fn))
	}
	return "(SELECT " + expr + " FROM " + from + " WHERE " + c.where(corr, a.filter, a.window, last, extra...) + ")"
}

// related renders a related-model condition.
func (c *compiler) related(r checkedRelated, alias string) string {
	from, corr, last := c.path(r.hops, alias)
	where := c.where(corr, r.filter, r.window, last)
	quant, n := r.quant, r.n
	if c.d.Engine() == warehouse.Snowflake {
		// Snowflake runs a correlated EXISTS only directly in a WHERE clause, never under OR
		// or inside a function (such as the COALESCE of a negated group), but an aggregated
		// correlated subquery anywhere: compare the count instead.
		switch quant {
		case QuantExists:
			quant, n = QuantCountAtLeast, 1
		case QuantNotExists:
			quant, n = QuantCountExactly, 0
		}
	}
	switch quant {
	case QuantExists:
		return "EXISTS (SELECT 1 FROM " + from + " WHERE " + where + ")"
	case QuantNotExists:
		return "NOT EXISTS (SELECT 1 FROM " + from + " WHERE " + where + ")"
	}
	count := "COUNT(*)"
	if r.distinctKey != "" {
		count = "COUNT(DISTINCT " + c.column(last, r.distinctKey) + ")"
	}
	op := map[string]string{QuantCountAtLeast: " >= ", QuantCountAtMost: " <= ", QuantCountExactly: " = "}[quant]
	return "(SELECT " + count + " FROM " + from + " WHERE " + where + ")" + op + itoa(n)
}

// window renders a time window on the related rows under alias.
func (c *compiler) window(w *checkedWindow, alias string) string {
	f := c.field(w.field, alias)
	if w.last {
		return "(" + f + " BETWEEN " + c.shifted(w.field.cat, -w.amount, w.unit) + " AND " + c.current(w.field.cat) + ")"
	}
	var parts []string
	if w.from != nil {
		parts = append(parts, f+" >= "+c.literal(*w.from))
	}
	if w.to != nil {
		if w.toExclusive {
			parts = append(parts, f+" < "+c.literal(*w.to))
		} else {
			parts = append(parts, f+" <= "+c.literal(*w.to))
		}
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "(" + strings.Join(parts, " AND ") + ")"
}

// likeEscape is the escape character of LIKE patterns built by escapeLike.
const likeEscape = `\`

// escapeLike makes s match itself literally inside a LIKE pattern: the escape character and the
// wildcards % and _ are each preceded by the escape character.
func escapeLike(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 4)
	for _, r := range s {
		switch r {
		case '\\', '%', '_':
			b.WriteString(likeEscape)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// like renders "CAST(expr AS text) LIKE pattern ESCAPE '\'" (op is LIKE or NOT LIKE).
//
// The column is cast to the engine's text type so the operators work on every string-category
// type (PostgreSQL uuid and enums have no LIKE operator) and stay case-sensitive on
// case-insensitive types such as citext; on text columns the cast is a no-op. The escape
// character is stated explicitly because engines disagree on the default (PostgreSQL uses
// backslash, DuckDB has none). BigQuery has no ESCAPE clause and always treats backslash as the
// escape character, so it gets the bare form. The pattern and the escape character are string
// literals of the dialect, so engines whose literals treat backslash specially double it there.
func (c *compiler) like(expr, op, pattern string) string {
	s := c.d.CastText(expr) + " " + op + " " + c.d.QuoteString(pattern)
	if c.d.Engine() == warehouse.BigQuery {
		return s
	}
	return s + " ESCAPE " + c.d.QuoteString(likeEscape)
}

func (c *compiler) literal(l literal) string {
	switch l.kind {
	case litNumeric:
		// Validated decimal text (or a formatted int64): emitted as is, never through a float.
		return l.text
	case litDate:
		return c.d.DateLiteral(l.text)
	case litTimestamp:
		return c.d.TimestampLiteral(l.text)
	default:
		return c.d.QuoteString(l.text)
	}
}
