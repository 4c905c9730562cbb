package segment

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Limits of the formula language, which bound the parser's recursion and the generated SQL.
const (
	maxFormulaLength = 4096
	maxFormulaDepth  = 32
)

// formulaKind is the kind of a formula AST node.
type formulaKind int

const (
	fNumber   formulaKind = iota // a numeric literal: text is validated decimal text
	fField                       // a field reference: text is the field name
	fNeg                         // unary minus: args[0]
	fBinary                      // args[0] op args[1], op one of + - * /
	fCoalesce                    // COALESCE(args...)
)

// formulaNode is a node of a parsed formula. Nothing of the source text reaches SQL except
// through it: numbers are re-checked decimal text, field names are quoted by the dialect.
type formulaNode struct {
	kind formulaKind
	op   byte
	text string
	args []*formulaNode
	// pos is the 1-based character position of the node in the expression, for messages.
	pos int
	// ref is the resolved field of an fField node (set by the checker).
	ref *fieldRef
}

// FormulaError is a syntax error of a formula, at a 1-based character position.
type FormulaError struct {
	Pos     int
	Message string
}

// Error returns "at character N: message".
func (e *FormulaError) Error() string {
	return fmt.Sprintf("at character %d: %s", e.Pos, e.Message)
}

// ParseFormula parses a formula and returns the names of the fields it references, in order of
// first appearance. The provider can use it to validate a formula's syntax before the model's
// fields are known. A syntax error is a *FormulaError.
func ParseFormula(expr string) ([]string, error) {
	n, err := parseFormula(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	seen := map[string]bool{}
	var walk func(*formulaNode)
	walk = func(n *formulaNode) {
		if n.kind == fField && !seen[n.text] {
			seen[n.text] = true
			names = append(names, n.text)
		}
		for _, a := range n.args {
			walk(a)
		}
	}
	walk(n)
	return names, nil
}

type formulaToken struct {
	kind byte // 'n' number, 'i' identifier, 'q' quoted identifier, 'e' end, or the symbol itself
	text string
	pos  int
}

type formulaParser struct {
	toks  []formulaToken
	i     int
	depth int
}

func parseFormula(expr string) (*formulaNode, error) {
	if !utf8.ValidString(expr) || strings.ContainsRune(expr, 0) {
		return nil, &FormulaError{Pos: 1, Message: "the expression is not valid UTF-8 text without NUL characters"}
	}
	if utf8.RuneCountInString(expr) > maxFormulaLength {
		return nil, &FormulaError{Pos: maxFormulaLength, Message: fmt.Sprintf("the expression is longer than %d characters", maxFormulaLength)}
	}
	toks, err := lexFormula(expr)
	if err != nil {
		return nil, err
	}
	p := &formulaParser{toks: toks}
	if p.peek().kind == 'e' {
		return nil, &FormulaError{Pos: 1, Message: "the expression is empty"}
	}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != 'e' {
		return nil, &FormulaError{Pos: t.pos, Message: fmt.Sprintf("unexpected %s; expected an operator (+ - * /) or the end", describeToken(t))}
	}
	return n, nil
}

func lexFormula(s string) ([]formulaToken, error) {
	rs := []rune(s)
	isDigit := func(r rune) bool { return r >= '0' && r <= '9' }
	isIdent := func(r rune) bool { return r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || isDigit(r) }
	var toks []formulaToken
	for i := 0; i < len(rs); {
		r := rs[i]
		pos := i + 1
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			i++
		case isDigit(r) || r == '.':
			j := i
			// Read letters too, so "1e3" or "2x" is one bad number rather than a number
			// followed by a field.
			for j < len(rs) && (isIdent(rs[j]) || rs[j] == '.') {
				j++
			}
			text := string(rs[i:j])
			if !unsignedDecimal.MatchString(text) {
				return nil, &FormulaError{Pos: pos, Message: fmt.Sprintf("%s is not a number: write numbers as 12 or 3.75 (digits on both sides of the point, no exponent)", quote(text))}
			}
			toks = append(toks, formulaToken{'n', text, pos})
			i = j
		case isIdent(r):
			j := i
			for j < len(rs) && isIdent(rs[j]) {
				j++
			}
			toks = append(toks, formulaToken{'i', string(rs[i:j]), pos})
			i = j
		case r == '"':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(rs) {
				if rs[j] == '"' {
					if j+1 < len(rs) && rs[j+1] == '"' {
						b.WriteByte('"')
						j += 2
						continue
					}
					j++
					closed = true
					break
				}
				b.WriteRune(rs[j])
				j++
			}
			if !closed {
				return nil, &FormulaError{Pos: pos, Message: `unterminated quoted field name: close it with " (write "" for a quote inside the name)`}
			}
			if b.Len() == 0 {
				return nil, &FormulaError{Pos: pos, Message: "empty quoted field name"}
			}
			toks = append(toks, formulaToken{'q', b.String(), pos})
			i = j
		case strings.ContainsRune("+-*/(),", r):
			toks = append(toks, formulaToken{byte(r), string(r), pos})
			i++
		default:
			return nil, &FormulaError{Pos: pos, Message: fmt.Sprintf("unexpected character %q: formulas use numbers, field names, + - * /, parentheses and COALESCE(...); write a field name with spaces or symbols in double quotes", r)}
		}
	}
	return append(toks, formulaToken{kind: 'e', pos: len(rs) + 1}), nil
}

// unsignedDecimal is a numeric literal of a formula (the sign is a unary operator).
var unsignedDecimal = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

func describeToken(t formulaToken) string {
	switch t.kind {
	case 'e':
		return "end of the expression"
	case 'n':
		return "number " + t.text
	case 'i', 'q':
		return "field " + quote(t.text)
	default:
		return fmt.Sprintf("%q", t.text)
	}
}

func (p *formulaParser) peek() formulaToken { return p.toks[p.i] }
func (p *formulaParser) next() formulaToken {
	t := p.toks[p.i]
	if t.kind != 'e' {
		p.i++
	}
	return t
}

func (p *formulaParser) enter(pos int) error {
	p.depth++
	if p.depth > maxFormulaDepth {
		return &FormulaError{Pos: pos, Message: fmt.Sprintf("the expression is nested more than %d levels deep", maxFormulaDepth)}
	}
	return nil
}

// expr parses a sum: term (('+' | '-') term)*.
func (p *formulaParser) expr() (*formulaNode, error) {
	left, err := p.term()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != '+' && t.kind != '-' {
			return left, nil
		}
		p.next()
		right, err := p.term()
		if err != nil {
			return nil, err
		}
		left = &formulaNode{kind: fBinary, op: t.kind, args: []*formulaNode{left, right}, pos: t.pos}
	}
}

// term parses a product: unary (('*' | '/') unary)*.
func (p *formulaParser) term() (*formulaNode, error) {
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != '*' && t.kind != '/' {
			return left, nil
		}
		p.next()
		right, err := p.unary()
		if err != nil {
			return nil, err
		}
		left = &formulaNode{kind: fBinary, op: t.kind, args: []*formulaNode{left, right}, pos: t.pos}
	}
}

// unary parses a signed operand: ('-' | '+') unary | primary.
func (p *formulaParser) unary() (*formulaNode, error) {
	t := p.peek()
	if t.kind != '-' && t.kind != '+' {
		return p.primary()
	}
	p.next()
	if err := p.enter(t.pos); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	inner, err := p.unary()
	if err != nil {
		return nil, err
	}
	if t.kind == '+' {
		return inner, nil
	}
	return &formulaNode{kind: fNeg, args: []*formulaNode{inner}, pos: t.pos}, nil
}

// primary parses an operand: a number, a field, COALESCE '(' expr (',' expr)+ ')' or '(' expr ')'.
func (p *formulaParser) primary() (*formulaNode, error) {
	t := p.next()
	switch t.kind {
	case 'n':
		return &formulaNode{kind: fNumber, text: t.text, pos: t.pos}, nil
	case 'q':
		return &formulaNode{kind: fField, text: t.text, pos: t.pos}, nil
	case 'i':
		if p.peek().kind != '(' {
			return &formulaNode{kind: fField, text: t.text, pos: t.pos}, nil
		}
		if !strings.EqualFold(t.text, "coalesce") {
			return nil, &FormulaError{Pos: t.pos, Message: fmt.Sprintf("unknown function %s: the only function is COALESCE(x, default, ...); quote a field name followed by a parenthesis", quote(t.text))}
		}
		p.next() // (
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		n := &formulaNode{kind: fCoalesce, pos: t.pos}
		for {
			arg, err := p.expr()
			if err != nil {
				return nil, err
			}
			n.args = append(n.args, arg)
			sep := p.next()
			if sep.kind == ')' {
				break
			}
			if sep.kind != ',' {
				return nil, &FormulaError{Pos: sep.pos, Message: fmt.Sprintf("unexpected %s in COALESCE; expected , or )", describeToken(sep))}
			}
		}
		if len(n.args) < 2 {
			return nil, &FormulaError{Pos: t.pos, Message: "COALESCE needs at least 2 arguments: the value and its default"}
		}
		return n, nil
	case '(':
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		inner, err := p.expr()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != ')' {
			return nil, &FormulaError{Pos: c.pos, Message: fmt.Sprintf("unexpected %s; expected )", describeToken(c))}
		}
		return inner, nil
	default:
		return nil, &FormulaError{Pos: t.pos, Message: fmt.Sprintf("unexpected %s; expected a number, a field, COALESCE(...) or (", describeToken(t))}
	}
}
