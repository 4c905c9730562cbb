package redshift

import (
	"strconv"
	"strings"
	"testing"

	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/internal/dialecttest"
)

func TestDialectGolden(t *testing.T) {
	dialecttest.Golden(t, "dialect", dialecttest.Render(NewDialect()))
}

// The expected literals are written by hand: Redshift treats a backslash in an ordinary literal
// as an escape (its QUOTE_LITERAL doubles backslashes and single quotes,
// docs.aws.amazon.com/redshift/latest/dg/r_QUOTE_LITERAL.html), and cannot hold NUL.
func TestQuoteString(t *testing.T) {
	d := NewDialect()
	tests := []struct{ in, want string }{
		{"plain", `'plain'`},
		{"it's", `'it''s'`},
		{`C:\dir\n`, `'C:\\dir\\n'`},
		{`\'`, `'\\'''`},
		{`ends with \`, `'ends with \\'`},
		{"a\x00b", `'ab'`},
		{"line\nbreak\r\ttab", "'line\nbreak\r\ttab'"},
		{`a"b`, `'a"b'`},
		{"", "''"},
	}
	for _, tt := range tests {
		if got := d.QuoteString(tt.in); got != tt.want {
			t.Errorf("QuoteString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestQuoteIdent(t *testing.T) {
	d := NewDialect()
	tests := []struct{ in, want string }{
		{"dinmo_segments", `"dinmo_segments"`},
		{`a"b`, `"a""b"`},
		{`back\slash`, `"back\slash"`},
		{"nul\x00byte", `"nulbyte"`},
	}
	for _, tt := range tests {
		if got := d.QuoteIdent(tt.in); got != tt.want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// TestQuoteStringReadsBack decodes every literal the way Redshift does and checks that the
// value is the input without its NUL bytes and that the literal ends where QuoteString ended it.
func TestQuoteStringReadsBack(t *testing.T) {
	d := NewDialect()
	inputs := append([]string{`\\'\x41\101\n`, "'''", `\`}, dialecttest.Strings...)
	for _, s := range inputs {
		checkReadsBack(t, d.QuoteString(s), s)
	}
}

func FuzzQuoteString(f *testing.F) {
	for _, s := range dialecttest.Strings {
		f.Add(s)
	}
	f.Add(`\x41\'''\\`)
	d := NewDialect()
	f.Fuzz(func(t *testing.T, s string) {
		checkReadsBack(t, d.QuoteString(s), s)
	})
}

func checkReadsBack(t *testing.T, lit, in string) {
	t.Helper()
	want := strings.ReplaceAll(in, "\x00", "")
	got, n, ok := readRedshiftString(lit)
	if !ok {
		t.Fatalf("literal %s does not read as one string literal", lit)
	}
	if n != len(lit) {
		t.Fatalf("literal %s ends at byte %d of %d: the rest would be read as SQL", lit, n, len(lit))
	}
	if got != want {
		t.Fatalf("literal %s reads back as %q, want %q", lit, got, want)
	}
	if strings.IndexByte(lit, 0) >= 0 {
		t.Fatalf("literal %q holds a NUL byte", lit)
	}
}

// readRedshiftString reads a single-quoted literal at the start of sql the way Redshift (and
// PostgreSQL with standard_conforming_strings off) does: two single quotes make one, and a backslash escapes
// the next character (\b \f \n \r \t, octal \o to \ooo, hex \xh or \xhh, anything else stands
// for itself). It returns the value and the number of bytes the literal spans.
func readRedshiftString(sql string) (string, int, bool) {
	if !strings.HasPrefix(sql, "'") {
		return "", 0, false
	}
	named := map[byte]byte{'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}
	var b strings.Builder
	for i := 1; i < len(sql); {
		c := sql[i]
		switch {
		case c == '\'' && i+1 < len(sql) && sql[i+1] == '\'':
			b.WriteByte('\'')
			i += 2
		case c == '\'':
			return b.String(), i + 1, true
		case c == '\\':
			if i+1 >= len(sql) {
				return "", 0, false
			}
			e := sql[i+1]
			switch {
			case e >= '0' && e <= '7':
				j := i + 1
				for j < len(sql) && j < i+4 && sql[j] >= '0' && sql[j] <= '7' {
					j++
				}
				v, _ := strconv.ParseUint(sql[i+1:j], 8, 8)
				b.WriteByte(byte(v))
				i = j
			case e == 'x' && i+2 < len(sql) && isHexDigit(sql[i+2]):
				j := i + 2
				for j < len(sql) && j < i+4 && isHexDigit(sql[j]) {
					j++
				}
				v, _ := strconv.ParseUint(sql[i+2:j], 16, 8)
				b.WriteByte(byte(v))
				i = j
			default:
				if v, ok := named[e]; ok {
					b.WriteByte(v)
				} else {
					b.WriteByte(e)
				}
				i += 2
			}
		default:
			b.WriteByte(c)
			i++
		}
	}
	return "", 0, false
}

func isHexDigit(c byte) bool {
	return strings.IndexByte("0123456789abcdefABCDEF", c) >= 0
}

func TestRowHash(t *testing.T) {
	d := NewDialect()
	want := `FNV_HASH(COALESCE(CAST(("b") AS VARCHAR(65535)), ''), ` +
		`FNV_HASH(CAST(COALESCE(OCTET_LENGTH(CAST(("b") AS VARCHAR(65535))), -1) AS BIGINT), ` +
		`FNV_HASH(COALESCE(CAST(("a") AS VARCHAR(65535)), ''), ` +
		`FNV_HASH(CAST(COALESCE(OCTET_LENGTH(CAST(("a") AS VARCHAR(65535))), -1) AS BIGINT)))))`
	if got := d.RowHash([]string{`"a"`, `"b"`}); got != want {
		t.Errorf("RowHash =\n%s\nwant\n%s", got, want)
	}
	if got, want := d.RowHash(nil), "CAST(0 AS BIGINT)"; got != want {
		t.Errorf("RowHash(nil) = %s, want %s", got, want)
	}
	if strings.Count(d.RowHash([]string{"x", "y", "z"}), "(") != strings.Count(d.RowHash([]string{"x", "y", "z"}), ")") {
		t.Error("RowHash parentheses are unbalanced")
	}
}

func TestTypesAndLiterals(t *testing.T) {
	d := NewDialect()
	if d.Engine() != warehouse.Redshift || d.TextType() != "VARCHAR(65535)" || d.HashType() != "BIGINT" ||
		d.Placeholder(2) != "$2" || d.CastText("x") != "CAST((x) AS VARCHAR(65535))" {
		t.Errorf("engine %s, text %s, hash %s, placeholder %s, cast %s",
			d.Engine(), d.TextType(), d.HashType(), d.Placeholder(2), d.CastText("x"))
	}
	if got, want := d.DateLiteral("2024-01-02"), `CAST('2024-01-02' AS DATE)`; got != want {
		t.Errorf("DateLiteral = %s, want %s", got, want)
	}
	if got, want := d.TimestampLiteral("2024-01-02T03:04:05.5+01:00"), `CAST('2024-01-02 02:04:05.5+00:00' AS TIMESTAMPTZ)`; got != want {
		t.Errorf("TimestampLiteral = %s, want %s", got, want)
	}
	if got, want := d.TimestampLiteral(`x\' --`), `CAST('x\\'' --' AS TIMESTAMPTZ)`; got != want {
		t.Errorf("TimestampLiteral = %s, want %s", got, want)
	}
}

func TestCreateOrReplaceViewIsLateBinding(t *testing.T) {
	d := NewDialect()
	got := d.CreateOrReplaceView("dinmo_segments", "model_users", "SELECT id FROM public.users -- note\n;\n")
	want := "CREATE OR REPLACE VIEW \"dinmo_segments\".\"model_users\" AS\nSELECT id FROM public.users -- note\nWITH NO SCHEMA BINDING"
	if got != want {
		t.Errorf("CreateOrReplaceView =\n%s\nwant\n%s", got, want)
	}
}
