package segment

import (
	"errors"
	"fmt"
	"strings"

	"dinmo/connectors/warehouse"
)

// Compile returns the SELECT of the segment: every column of the model's view, restricted to
// the rows the tree selects. modelSchema and modelView name the model's view (normally in
// warehouse.SchemaSegments); they are quoted by the dialect. The tree is validated first; an
// invalid tree returns a *ValidationError listing every problem. The output is deterministic, so
// an unchanged tree compiles to the same text and plans show no spurious diff.
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
// building block of a larger query (segment membership conditions reuse it). Column references
// are bare quoted names, resolved against the relation of the enclosing query. The expression
// is never NULL for any row. An empty top-level group returns TRUE.
func Predicate(d warehouse.Dialect, g Group, cols []warehouse.Column) (string, error) {
	if d == nil {
		return "", errors.New("segment predicate: no SQL dialect given")
	}
	cg, errs := check(g, cols)
	if len(errs) > 0 {
		return "", &ValidationError{Errors: errs}
	}
	if cg.empty() {
		return sqlTrue, nil
	}
	return compiler{d: d}.group(cg), nil
}

const (
	sqlTrue  = "TRUE"
	sqlFalse = "FALSE"
)

type compiler struct {
	d warehouse.Dialect
}

// group renders a group as a self-contained expression: it can be joined with AND/OR or
// preceded by NOT without extra parentheses.
func (c compiler) group(g checkedGroup) string {
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
	parts := make([]string, 0, len(g.conds)+len(g.groups))
	for _, cond := range g.conds {
		parts = append(parts, c.condition(cond))
	}
	for _, sub := range g.groups {
		parts = append(parts, c.group(sub))
	}
	sep := " AND "
	if g.match == MatchAny {
		sep = " OR "
	}
	inner := strings.Join(parts, sep)
	if g.negate {
		// A row is selected when the inner group is not true for it; COALESCE turns the NULL a
		// comparison on NULL yields into "not matched" before negating.
		return "NOT COALESCE(" + inner + ", " + sqlFalse + ")"
	}
	if len(parts) == 1 {
		return inner
	}
	return "(" + inner + ")"
}

// condition renders one condition as a self-contained expression (compound forms are
// parenthesized).
func (c compiler) condition(cond checkedCond) string {
	col := c.d.QuoteIdent(cond.column)
	lit := func(i int) string { return c.literal(cond.lits[i]) }
	list := func() string {
		items := make([]string, len(cond.lits))
		for i := range cond.lits {
			items[i] = lit(i)
		}
		return strings.Join(items, ", ")
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
	case OpGT:
		return col + " > " + lit(0)
	case OpGTE:
		return col + " >= " + lit(0)
	case OpLT:
		return col + " < " + lit(0)
	case OpLTE:
		return col + " <= " + lit(0)
	case OpBetween:
		return "(" + col + " BETWEEN " + lit(0) + " AND " + lit(1) + ")"
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
func (c compiler) like(expr, op, pattern string) string {
	s := c.d.CastText(expr) + " " + op + " " + c.d.QuoteString(pattern)
	if c.d.Engine() == warehouse.BigQuery {
		return s
	}
	return s + " ESCAPE " + c.d.QuoteString(likeEscape)
}

func (c compiler) literal(l literal) string {
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
