package snowflake

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

// The expected literals are written by hand from Snowflake's escape sequence table
// (docs.snowflake.com/en/sql-reference/data-types-text, "Escape sequences in single-quoted
// string constants").
func TestQuoteString(t *testing.T) {
	d := NewDialect()
	tests := []struct{ in, want string }{
		{"plain", `'plain'`},
		{"it's", `'it''s'`},
		{`C:\dir\n`, `'C:\\dir\\n'`},
		{`\'`, `'\\'''`},
		{`ends with \`, `'ends with \\'`},
		{"a\x00b", `'a\x00b'`},
		{"nul\x00" + "12", `'nul\x0012'`}, // not \012, which would be an octal escape
		{"line\nbreak\r\ttab", "'line\nbreak\r\ttab'"},
		{`a"b`, `'a"b'`},
		{"$$dollar$$ &var", "'$$dollar$$ &var'"},
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
		{"MixedCase", `"MixedCase"`},
		{`a"b`, `"a""b"`},
		{`back\slash`, `"back\slash"`},
		{"nul\x00byte", `"nulbyte"`},
	}
	for _, tt := range tests {
		if got := d.QuoteIdent(tt.in); got != tt.want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got, want := d.Qualified("DB", "s", "t"), `"DB"."s"."t"`; got != want {
		t.Errorf("Qualified = %s, want %s", got, want)
	}
}

// TestQuoteStringReadsBack decodes every literal the way Snowflake does and checks that the
// value is exactly the input and that the literal ends where QuoteString ended it.
func TestQuoteStringReadsBack(t *testing.T) {
	d := NewDialect()
	inputs := append([]string{"\\\\'\\x41\\u0041\\0", "\x00\x00", "'''", "\\"}, dialecttest.Strings...)
	for _, s := range inputs {
		checkReadsBack(t, d.QuoteString(s), s)
	}
}

func FuzzQuoteString(f *testing.F) {
	for _, s := range dialecttest.Strings {
		f.Add(s)
	}
	f.Add("\\0\\x00\\'''\\\\")
	d := NewDialect()
	f.Fuzz(func(t *testing.T, s string) {
		checkReadsBack(t, d.QuoteString(s), s)
	})
}

func checkReadsBack(t *testing.T, lit, want string) {
	t.Helper()
	got, n, ok := readSnowflakeString(lit)
	if !ok {
		t.Fatalf("literal %s does not read as one string constant", lit)
	}
	if n != len(lit) {
		t.Fatalf("literal %s ends at byte %d of %d: the rest would be read as SQL", lit, n, len(lit))
	}
	if got != want {
		t.Fatalf("literal %s reads back as %q, want %q", lit, got, want)
	}
}

// readSnowflakeString reads a single-quoted string constant at the start of sql as Snowflake
// does (two single quotes make one; \0, \ooo, \xhh, \uhhhh and \b \f \n \r \t are escapes, and any other
// escaped character stands for itself) and returns its value and the number of bytes it spans.
func readSnowflakeString(sql string) (string, int, bool) {
	if !strings.HasPrefix(sql, "'") {
		return "", 0, false
	}
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
			case isOctal(sql, i+1, 3):
				v, _ := strconv.ParseUint(sql[i+1:i+4], 8, 8)
				b.WriteRune(rune(v))
				i += 4
			case e == '0':
				b.WriteByte(0)
				i += 2
			case e == 'x' && isHex(sql, i+2, 2):
				v, _ := strconv.ParseUint(sql[i+2:i+4], 16, 8)
				b.WriteRune(rune(v))
				i += 4
			case e == 'u' && isHex(sql, i+2, 4):
				v, _ := strconv.ParseUint(sql[i+2:i+6], 16, 16)
				b.WriteRune(rune(v))
				i += 6
			default:
				// Named escapes; any other escaped character stands for itself.
				if v, ok := namedEscapes[e]; ok {
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

var namedEscapes = map[byte]byte{'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

func isOctal(s string, at, n int) bool {
	if at+n > len(s) {
		return false
	}
	for _, c := range []byte(s[at : at+n]) {
		if c < '0' || c > '7' {
			return false
		}
	}
	return true
}

func isHex(s string, at, n int) bool {
	if at+n > len(s) {
		return false
	}
	for _, c := range []byte(s[at : at+n]) {
		if !strings.ContainsRune("0123456789abcdefABCDEF", rune(c)) {
			return false
		}
	}
	return true
}

func TestTimestampLiteral(t *testing.T) {
	d := NewDialect()
	tests := []struct{ in, want string }{
		{"2024-01-02T03:04:05Z",
			`TO_TIMESTAMP_TZ('2024-01-02 03:04:05.000000 +00:00', 'YYYY-MM-DD HH24:MI:SS.FF6 TZH:TZM')`},
		{"2024-01-02T03:04:05.123456789+02:00",
			`TO_TIMESTAMP_TZ('2024-01-02 01:04:05.123456 +00:00', 'YYYY-MM-DD HH24:MI:SS.FF6 TZH:TZM')`},
		{"2024-01-02",
			`TO_TIMESTAMP_TZ('2024-01-02 00:00:00.000000 +00:00', 'YYYY-MM-DD HH24:MI:SS.FF6 TZH:TZM')`},
		{`bad\' --`,
			`TO_TIMESTAMP_TZ('bad\\'' --', 'YYYY-MM-DD HH24:MI:SS.FF6 TZH:TZM')`},
	}
	for _, tt := range tests {
		if got := d.TimestampLiteral(tt.in); got != tt.want {
			t.Errorf("TimestampLiteral(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got, want := d.DateLiteral("2024-01-02"), `TO_DATE('2024-01-02', 'YYYY-MM-DD')`; got != want {
		t.Errorf("DateLiteral = %s, want %s", got, want)
	}
}

func TestRowHashAndTypes(t *testing.T) {
	d := NewDialect()
	if got, want := d.RowHash([]string{`"id"`, `"a" || "b"`}), `HASH(("id"), ("a" || "b"))`; got != want {
		t.Errorf("RowHash = %s, want %s", got, want)
	}
	if got, want := d.RowHash(nil), "CAST(0 AS NUMBER(19,0))"; got != want {
		t.Errorf("RowHash(nil) = %s, want %s", got, want)
	}
	if d.HashType() != "NUMBER(19,0)" || d.TextType() != "VARCHAR" || d.Placeholder(3) != "?" {
		t.Errorf("types: hash %s, text %s, placeholder %s", d.HashType(), d.TextType(), d.Placeholder(3))
	}
	if d.Engine() != warehouse.Snowflake {
		t.Errorf("Engine = %s", d.Engine())
	}
}
