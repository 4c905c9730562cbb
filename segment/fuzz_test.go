package segment

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

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
	case k%3 == 0 || len(samples) == 0:
		return f.a
	case k%3 == 1:
		return f.b
	default:
		return samples[(k/3)%len(samples)]
	}
}

func (f *fuzzTree) condition() Condition {
	col := f.cols[f.next()%len(f.cols)]
	var op OperatorInfo
	if k := f.next(); k%(len(operatorTable)+1) == len(operatorTable) {
		op = OperatorInfo{Name: f.a, Arity: fuzzArity(f.next())}
	} else {
		op = operatorTable[k%len(operatorTable)]
	}
	c := Condition{Column: col.Name, Operator: op.Name}
	arity := op.Arity
	if f.next()%8 == 7 { // sometimes the wrong operands
		arity = fuzzArity(f.next())
	}
	cat := normalizeCategory(col.Category)
	switch arity {
	case OneValue:
		v := f.value(cat)
		c.Value = &v
	case ValueList, ValueRange:
		n := f.next() % 4
		if arity == ValueRange {
			n = 2
		}
		for range n {
			c.Values = append(c.Values, f.value(cat))
		}
	}
	return c
}

// fuzzArity maps a fuzz byte to an arity.
func fuzzArity(k int) Arity { return Arity(k % 4) }

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

func FuzzCompile(f *testing.F) {
	f.Add([]byte{0, 1, 9, 4, 0, 0, 0}, "O'Brien", "x", "col")
	f.Add([]byte{1, 3, 1, 4, 0, 0, 2, 0, 0, 1, 0, 0, 0}, "100%_\\", "'; DROP TABLE x; --", `we"ird`)
	f.Add([]byte{2, 2, 2, 7, 0, 0, 0, 3, 0, 2, 0, 1, 1, 1, 1, 4, 12, 0, 0, 5, 2, 0}, "\\'", "café ☕", "naïve 名前")
	f.Add([]byte{0, 1, 4, 2, 0, 5, 2, 1, 2, 2, 1, 0, 0}, "a", "b", "")
	f.Add([]byte{1, 2, 9, 0, 0, 0, 9, 2, 0, 2, 0, 1, 0}, "\"", "''", "x\"y")
	f.Add([]byte{0, 3, 6, 9, 0, 1, 3, 10, 0, 0, 7, 12, 0, 0, 2, 5, 0}, "-1", "2024-01-01", "Country")
	f.Fuzz(func(t *testing.T, shape []byte, a, b, colName string) {
		cols := slices.Clone(goldenColumns)
		if colName != "" && !slices.ContainsFunc(cols, func(c warehouse.Column) bool { return c.Name == colName }) {
			cols = append(cols, warehouse.Column{Name: colName, Category: warehouse.TypeString})
		}
		ft := &fuzzTree{shape: shape, a: a, b: b, cols: cols}
		g := ft.group(1)
		verrs := Validate(g, cols)
		for _, d := range append(engineDialects(), testDialect{}) {
			query, err := Compile(d, goldenSchema, goldenView, g, cols)
			if len(verrs) > 0 {
				var ve *ValidationError
				if !errors.As(err, &ve) || len(ve.Errors) != len(verrs) {
					t.Fatalf("%s: Validate found %d problems, Compile returned %v", d.Engine(), len(verrs), err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: Compile failed on a valid tree: %v", d.Engine(), err)
			}
			again, _ := Compile(d, goldenSchema, goldenView, g, cols)
			if again != query {
				t.Fatalf("%s: Compile is not deterministic", d.Engine())
			}
			if err := checkSQL(query, g, cols); err != nil {
				t.Fatalf("%s: %v\nsql: %s", d.Engine(), err, query)
			}
		}
	})
}

// checkSQL lexes query as PostgreSQL/DuckDB SQL and checks that every piece of user input sits
// inside a correctly escaped literal or identifier: each string literal decodes to an operand
// of the tree (or its LIKE pattern, or a date/timestamp text), each quoted identifier to a
// column or the view's name, each number to a numeric operand, and everything else is one of
// the keywords and symbols the compiler emits.
func checkSQL(query string, g Group, cols []warehouse.Column) error {
	strs, idents, nums := allowed(g, cols)
	toks, err := lexSQL(query)
	if err != nil {
		return err
	}
	for _, tk := range toks {
		switch tk.kind {
		case tokString:
			if !strs[tk.text] && !dateTimeText.MatchString(tk.text) {
				return fmt.Errorf("string literal %q is not an operand of the tree", tk.text)
			}
		case tokIdent:
			if !idents[tk.text] {
				return fmt.Errorf("identifier %q is not a column or the view", tk.text)
			}
		case tokNumber:
			if !nums[tk.text] {
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

// dateTimeText matches the date and UTC timestamp texts of DATE and TIMESTAMP literals: the
// compiler's normalized form and the dialects' canonical form.
var dateTimeText = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}([ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(\+00:00|Z))?$`)

// sqlKeywords are the bare words the compiler may emit.
var sqlKeywords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields("SELECT FROM WHERE AND OR NOT COALESCE TRUE FALSE IS NULL IN LIKE ESCAPE BETWEEN DATE TIMESTAMP TIMESTAMPTZ WITH TIME ZONE CAST AS TEXT text VARCHAR") {
		m[w] = true
	}
	return m
}()

// allowed returns the literal texts the compiled SQL of g may contain.
func allowed(g Group, cols []warehouse.Column) (strs, idents, nums map[string]bool) {
	strs, idents, nums = map[string]bool{likeEscape: true}, map[string]bool{goldenSchema: true, goldenView: true}, map[string]bool{}
	for _, c := range cols {
		idents[c.Name] = true
	}
	var walk func(Group)
	walk = func(g Group) {
		for _, c := range g.Conditions {
			vals := slices.Clone(c.Values)
			if c.Value != nil {
				vals = append(vals, *c.Value)
			}
			for _, v := range vals {
				e := escapeLike(v)
				for _, s := range []string{v, "%" + e + "%", e + "%", "%" + e} {
					strs[s] = true
				}
				n := strings.TrimPrefix(v, "+")
				nums[n] = true
				// Integers are re-formatted: "+042" compiles to 42.
				nums[strings.TrimLeft(n, "0")] = true
				if t := strings.TrimLeft(strings.TrimPrefix(n, "-"), "0"); t != "" {
					nums["-"+t] = true
				}
				nums["0"] = true
			}
		}
		for _, sub := range g.Groups {
			walk(sub)
		}
	}
	walk(g)
	return strs, idents, nums
}

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

// lexSQL tokenizes the SQL the compiler emits with the PostgreSQL and DuckDB dialects:
// '...' (quotes doubled), E'...' (backslashes doubled too), "..." identifiers, numbers, words and
// the comparison and punctuation symbols. Anything else (a comment, a stray quote) is an error.
func lexSQL(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ':
			i++
		case c == 'E' && i+1 < len(s) && s[i+1] == '\'':
			text, n, err := lexQuoted(s[i+1:], '\'', true)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{tokString, text})
			i += 1 + n
		case c == '\'' || c == '"':
			text, n, err := lexQuoted(s[i:], c, false)
			if err != nil {
				return nil, err
			}
			kind := tokString
			if c == '"' {
				kind = tokIdent
			}
			toks = append(toks, token{kind, text})
			i += n
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
				j++
			}
			if s[i:j] == "-" {
				return nil, fmt.Errorf("stray '-' at offset %d (a comment?)", i)
			}
			toks = append(toks, token{tokNumber, s[i:j]})
			i = j
		case unicode.IsLetter(rune(c)) && c < 0x80:
			j := i
			for j < len(s) && (s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 'a' && s[j] <= 'z') {
				j++
			}
			toks = append(toks, token{tokWord, s[i:j]})
			i = j
		default:
			matched := false
			for _, sym := range []string{"<>", "<=", ">=", "=", "<", ">", "(", ")", ",", ".", "*"} {
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
func lexQuoted(s string, q byte, backslash bool) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == q && i+1 < len(s) && s[i+1] == q:
			b.WriteByte(q)
			i++
		case s[i] == q:
			return b.String(), i + 1, nil
		case backslash && s[i] == '\\':
			if i+1 >= len(s) || s[i+1] != '\\' {
				return "", 0, fmt.Errorf("escape string with an undoubled backslash: %q", s)
			}
			b.WriteByte('\\')
			i++
		default:
			b.WriteByte(s[i])
		}
	}
	return "", 0, fmt.Errorf("unterminated %c-quoted token: %q", q, s)
}

func TestLexSQLRejects(t *testing.T) {
	for _, bad := range []string{`'a`, `"a`, `x -- c`, `E'\n'`, `a ; b`, `'a' /* c */`} {
		if _, err := lexSQL(bad); err == nil {
			t.Errorf("lexSQL(%q) accepted it", bad)
		}
	}
	cols := []warehouse.Column{{Name: "c", Category: warehouse.TypeString}}
	g := all(cond("c", OpEquals, "v"))
	if err := checkSQL(`SELECT * FROM "c" WHERE "c" = 'v' OR TRUE`, g, cols); err != nil {
		t.Errorf("checkSQL rejected the control query: %v", err)
	}
	for _, bad := range []string{
		`SELECT * FROM "c" WHERE "c" = 'v' OR "d" = 'v'`,     // unknown identifier
		`SELECT * FROM "c" WHERE "c" = 'w'`,                  // unknown literal
		`SELECT * FROM "c" WHERE "c" = v`,                    // bare value
		`SELECT * FROM "c" WHERE "c" = 5`,                    // unknown number
		`SELECT * FROM "c" WHERE "c" = 'v' UNION SELECT 'v'`, // unknown keyword
	} {
		if err := checkSQL(bad, g, cols); err == nil {
			t.Errorf("checkSQL accepted %s", bad)
		}
	}
}
