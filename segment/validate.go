package segment

import (
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"dinmo/connectors/warehouse"
)

// Error is one problem of a condition tree. Path locates it in the tree the way the stored JSON
// (and the HCL blocks) name it, e.g. "conditions[2].value" or "groups[0].conditions[1].operator";
// the provider maps it onto the attribute path of the segment resource.
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

// ValidationError is returned by Compile and Predicate when the tree is invalid. It carries every
// problem found, so callers (the provider) can report each at its own path.
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
// package does not know is treated as warehouse.TypeOther.
func Validate(g Group, cols []warehouse.Column) []*Error {
	_, errs := check(g, cols)
	return errs
}

// checked is a validated tree with its operands already parsed into literals, so compilation
// never parses a value twice or differently from validation.
type checkedGroup struct {
	match  string
	negate bool
	conds  []checkedCond
	groups []checkedGroup
}

func (g checkedGroup) empty() bool { return len(g.conds) == 0 && len(g.groups) == 0 }

type checkedCond struct {
	column string
	op     string
	lits   []literal
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

type checker struct {
	cols  []warehouse.Column
	byKey map[string]warehouse.Column
	errs  []*Error
}

func check(g Group, cols []warehouse.Column) (checkedGroup, []*Error) {
	c := &checker{cols: cols, byKey: make(map[string]warehouse.Column, len(cols))}
	for _, col := range cols {
		if _, dup := c.byKey[col.Name]; !dup {
			c.byKey[col.Name] = col
		}
	}
	out := c.group(g, "", 1)
	if g.Negate && len(g.Conditions) == 0 && len(g.Groups) == 0 {
		c.add("negate", "a segment without conditions selects every row of the model, so negating it would select none; add conditions or remove negate")
	}
	return out, c.errs
}

func (c *checker) add(path, format string, args ...any) {
	c.errs = append(c.errs, &Error{Path: path, Message: fmt.Sprintf(format, args...)})
}

func join(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + "." + field
}

func (c *checker) group(g Group, path string, depth int) checkedGroup {
	out := checkedGroup{match: g.Match, negate: g.Negate}
	switch g.Match {
	case MatchAll, MatchAny:
	case "":
		c.add(join(path, "match"), "match is required: %q (every condition must match) or %q (at least one)", MatchAll, MatchAny)
	default:
		c.add(join(path, "match"), "unknown match %s: use %q (every condition must match) or %q (at least one)", quote(g.Match), MatchAll, MatchAny)
	}
	for i, cond := range g.Conditions {
		if cc, ok := c.condition(cond, join(path, fmt.Sprintf("conditions[%d]", i))); ok {
			out.conds = append(out.conds, cc)
		}
	}
	for i, sub := range g.Groups {
		p := join(path, fmt.Sprintf("groups[%d]", i))
		if depth+1 > MaxDepth {
			c.add(p, "groups are nested more than %d levels deep; flatten the conditions", MaxDepth)
			continue
		}
		out.groups = append(out.groups, c.group(sub, p, depth+1))
	}
	return out
}

func (c *checker) condition(cond Condition, path string) (checkedCond, bool) {
	before := len(c.errs)
	out := checkedCond{column: cond.Column, op: cond.Operator}

	col, colOK := c.column(cond.Column, join(path, "column"))
	cat := normalizeCategory(col.Category)

	op, opOK := LookupOperator(cond.Operator)
	switch {
	case cond.Operator == "":
		c.add(join(path, "operator"), "operator is required; %s", c.operatorHint(colOK, col))
	case !opOK:
		msg := "unknown operator " + quote(cond.Operator)
		if s := closest(cond.Operator, operatorNames()); len(s) > 0 {
			msg += "; did you mean " + quoteList(s, " or ") + "?"
		} else {
			msg += "; " + c.operatorHint(colOK, col)
		}
		c.add(join(path, "operator"), "%s", msg)
	case colOK && !op.AppliesTo(cat):
		if cat == warehouse.TypeOther {
			c.add(join(path, "operator"), "column %s has type %s, which segment conditions can only test with %q or %q",
				quote(col.Name), typeName(col), OpIsNull, OpIsNotNull)
		} else {
			c.add(join(path, "operator"), "operator %q does not apply to column %s of type %s; %s",
				op.Name, quote(col.Name), typeName(col), c.operatorHint(true, col))
		}
		opOK = false
	}

	if opOK {
		c.operands(cond, op, path)
		if colOK && len(c.errs) == before {
			out.lits = c.literals(cond, op, col, cat, path)
		}
	}
	return out, len(c.errs) == before
}

// operands checks that the operand fields used match the operator's arity.
func (c *checker) operands(cond Condition, op OperatorInfo, path string) {
	switch op.Arity {
	case NoValue:
		if cond.Value != nil {
			c.add(join(path, "value"), "operator %q takes no value; remove value", op.Name)
		}
		if len(cond.Values) > 0 {
			c.add(join(path, "values"), "operator %q takes no values; remove values", op.Name)
		}
	case OneValue:
		if cond.Value == nil {
			c.add(join(path, "value"), "operator %q needs a value", op.Name)
		}
		if len(cond.Values) > 0 {
			c.add(join(path, "values"), "operator %q takes a single value in value, not values", op.Name)
		}
	case ValueList:
		if cond.Value != nil {
			c.add(join(path, "value"), "operator %q takes its operands as a list in values, not value", op.Name)
		}
		if len(cond.Values) == 0 {
			c.add(join(path, "values"), "operator %q needs at least one value in values", op.Name)
		}
	case ValueRange:
		if cond.Value != nil {
			c.add(join(path, "value"), "operator %q takes its bounds as values = [low, high], not value", op.Name)
		}
		if len(cond.Values) != 2 {
			c.add(join(path, "values"), "operator %q needs exactly 2 values (low and high, both included), got %d", op.Name, len(cond.Values))
		}
	}
}

// literals parses the operands (whose count is already checked) for the column's category.
func (c *checker) literals(cond Condition, op OperatorInfo, col warehouse.Column, cat warehouse.TypeCategory, path string) []literal {
	var lits []literal
	switch op.Arity {
	case NoValue:
		return nil
	case OneValue:
		if l, ok := c.parse(*cond.Value, col, cat, join(path, "value")); ok {
			lits = append(lits, l)
		}
	case ValueList, ValueRange:
		for i, v := range cond.Values {
			if l, ok := c.parse(v, col, cat, join(path, fmt.Sprintf("values[%d]", i))); ok {
				lits = append(lits, l)
			}
		}
	}
	if op.Arity == ValueRange && len(lits) == 2 && lits[0].greater(lits[1]) {
		c.add(join(path, "values"), "between needs low <= high, got low %s > high %s; swap them", quote(cond.Values[0]), quote(cond.Values[1]))
	}
	return lits
}

var decimalPattern = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)

// Timestamp layouts accepted, tried in order. Layouts without an offset are read as UTC. When
// parsing, Go accepts fractional seconds after the seconds field even if the layout has none.
var timestampLayouts = []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02T15:04:05"}

func (c *checker) parse(v string, col warehouse.Column, cat warehouse.TypeCategory, path string) (literal, bool) {
	bad := func(what string) (literal, bool) {
		c.add(path, "%s is not %s (column %s has type %s)", quote(v), what, quote(col.Name), typeName(col))
		return literal{}, false
	}
	switch cat {
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
		return literal{kind: litDate, text: t.Format(time.DateOnly), at: t}, true
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
			t = t.UTC()
			return literal{kind: litTimestamp, text: t.Format("2006-01-02T15:04:05.999999Z"), at: t}, true
		}
		return bad(`a timestamp in RFC 3339 form ("2024-05-01T13:45:00Z", "2024-05-01T15:45:00+02:00") or "YYYY-MM-DD HH:MM:SS" (read as UTC)`)
	default:
		// Operators on other categories take no value, so this is unreachable after the
		// operator check; keep it an error rather than a panic.
		c.add(path, "column %s has type %s, which takes no values", quote(col.Name), typeName(col))
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

func (c *checker) column(name, path string) (warehouse.Column, bool) {
	if name == "" {
		c.add(path, "column is required")
		return warehouse.Column{}, false
	}
	if !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
		// No warehouse has such names, and dialects would alter them while quoting.
		c.add(path, "column name %s is not valid UTF-8 text without NUL characters", quote(name))
		return warehouse.Column{}, false
	}
	if col, ok := c.byKey[name]; ok {
		return col, true
	}
	names := make([]string, 0, len(c.cols))
	for _, col := range c.cols {
		names = append(names, col.Name)
	}
	msg := "unknown column " + quote(name) + " (column names are case-sensitive)"
	switch s := closest(name, names); {
	case len(s) > 0:
		msg += "; did you mean " + quoteList(s, " or ") + "?"
	case len(names) == 0:
		msg += "; the model has no columns"
	case len(names) <= 20:
		msg += "; the model's columns are " + quoteList(names, ", ")
	default:
		msg += fmt.Sprintf("; the model has %d columns, none with a similar name", len(names))
	}
	c.add(path, "%s", msg)
	return warehouse.Column{}, false
}

func (c *checker) operatorHint(colOK bool, col warehouse.Column) string {
	if !colOK {
		return "operators are " + strings.Join(operatorNames(), ", ")
	}
	cat := normalizeCategory(col.Category)
	return fmt.Sprintf("operators for %s columns are %s", cat, strings.Join(OperatorsFor(cat), ", "))
}

func operatorNames() []string {
	names := make([]string, len(operatorTable))
	for i, o := range operatorTable {
		names[i] = o.Name
	}
	return names
}

func typeName(col warehouse.Column) string {
	cat := normalizeCategory(col.Category)
	if col.DatabaseType == "" {
		return string(cat)
	}
	return fmt.Sprintf("%s (%s)", col.DatabaseType, cat)
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
