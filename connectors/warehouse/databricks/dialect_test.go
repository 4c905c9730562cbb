package databricks

import (
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/internal/dialecttest"
)

func TestDialectGolden(t *testing.T) {
	dialecttest.Golden(t, "dialect", dialecttest.Render(NewDialect()))
}

// The expected literals are written by hand from Spark's string literal rules (backslash
// escapes, \' for a quote, \u0000 for NUL) and its ${...} variable substitution.
func TestQuoteString(t *testing.T) {
	d := NewDialect()
	tests := []struct{ in, want string }{
		{"plain", `'plain'`},
		{"it's", `'it\'s'`},
		{`C:\dir\n`, `'C:\\dir\\n'`},
		{`\'`, `'\\\''`},
		{`ends with \`, `'ends with \\'`},
		{"a\x00b", `'a\u0000b'`},
		{"nul\x00" + "12", `'nul\u000012'`}, // not \012, an octal escape
		{"line\nbreak\r\ttab", "'line\nbreak\r\ttab'"},
		{"${env:HOME} costs $5 {x}", `'\u0024{env:HOME} costs $5 {x}'`},
		{"$${a}$", `'$\u0024{a}$'`},
		{"a\"b`c", "'a\"b`c'"},
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
		{"dinmo_segments", "`dinmo_segments`"},
		{"a`b", "`a``b`"},
		{`back\slash`, "`back\\slash`"},
		{"a.b", "`a.b`"},
		{"nul\x00byte", "`nulbyte`"},
	}
	for _, tt := range tests {
		if got := d.QuoteIdent(tt.in); got != tt.want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got, want := d.Qualified("main", "dinmo_segments", "t"), "`main`.`dinmo_segments`.`t`"; got != want {
		t.Errorf("Qualified = %s, want %s", got, want)
	}
}

// TestQuotedReadsBack decodes every literal and identifier the way Spark does (after checking
// that variable substitution has nothing to replace) and checks that the value is exactly the
// input and that the token ends where the dialect ended it.
func TestQuotedReadsBack(t *testing.T) {
	d := NewDialect()
	inputs := append([]string{`\\'\u0041\101\0`, "\x00\x00", "'''", `\`, "```", "${x}", "$", "${"}, dialecttest.Strings...)
	for _, s := range inputs {
		checkString(t, d.QuoteString(s), s)
		checkIdent(t, d.QuoteIdent(s), strings.ReplaceAll(s, "\x00", ""))
	}
}

func FuzzQuoteString(f *testing.F) {
	for _, s := range dialecttest.Strings {
		f.Add(s)
	}
	f.Add(`\u0041\'''\\${env:X}`)
	d := NewDialect()
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			t.Skip("statements are UTF-8")
		}
		checkString(t, d.QuoteString(s), s)
		checkIdent(t, d.QuoteIdent(s), strings.ReplaceAll(s, "\x00", ""))
	})
}

func checkString(t *testing.T, lit, want string) {
	t.Helper()
	if strings.Contains(lit, "${") {
		t.Fatalf("literal %s would be rewritten by variable substitution", lit)
	}
	n, ok := sparkStringToken(lit)
	if !ok || n != len(lit) {
		t.Fatalf("literal %s is not exactly one string token (ends at %d of %d)", lit, n, len(lit))
	}
	if got := unescapeSparkString(lit); got != want {
		t.Fatalf("literal %s reads back as %q, want %q", lit, got, want)
	}
}

func checkIdent(t *testing.T, id, want string) {
	t.Helper()
	got, n, ok := readBackquoted(id)
	if !ok || n != len(id) {
		t.Fatalf("identifier %s is not exactly one token (ends at %d of %d)", id, n, len(id))
	}
	if got != want {
		t.Fatalf("identifier %s reads back as %q, want %q", id, got, want)
	}
}

// sparkStringToken returns the length of the string token at the start of sql, per Spark's
// lexer rule:
//
//	STRING_LITERAL: '\'' ( ~('\''|'\\') | ('\\' .) )* '\''
func sparkStringToken(sql string) (int, bool) {
	if !strings.HasPrefix(sql, "'") {
		return 0, false
	}
	for i := 1; i < len(sql); i++ {
		switch sql[i] {
		case '\\':
			i++
		case '\'':
			return i + 1, true
		}
	}
	return 0, false
}

// unescapeSparkString is a transcription of Spark's SparkParserUtils.unescapeSQLString for a
// single-quoted literal.
func unescapeSparkString(lit string) string {
	u := utf16Units(lit)
	var out []uint16
	i, length := 1, len(u)-1
	hex := func(at, n int) (uint64, bool) {
		if at+n > length {
			return 0, false
		}
		var s strings.Builder
		for _, c := range u[at : at+n] {
			if !strings.ContainsRune("0123456789abcdefABCDEF", rune(c)) {
				return 0, false
			}
			s.WriteRune(rune(c))
		}
		v, err := strconv.ParseUint(s.String(), 16, 64)
		return v, err == nil
	}
	for i < length {
		c := u[i]
		if c != '\\' || i+1 == length {
			out = append(out, c)
			i++
			continue
		}
		i++
		e := u[i]
		if v, ok := hex(i+1, 4); e == 'u' && ok {
			out = append(out, uint16(v))
			i += 5
		} else if v, ok := hex(i+1, 8); e == 'U' && ok {
			out = append(out, utf16Units(string(rune(v)))...)
			i += 9
		} else if i+3 <= length && (u[i] == '0' || u[i] == '1') && isOctal(u[i+1]) && isOctal(u[i+2]) {
			v, _ := strconv.ParseUint(string([]rune{rune(u[i]), rune(u[i+1]), rune(u[i+2])}), 8, 16)
			out = append(out, uint16(v))
			i += 3
		} else {
			switch e {
			case '0':
				out = append(out, 0)
			case 'b':
				out = append(out, '\b')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'Z':
				out = append(out, 0x1a)
			case '%', '_':
				out = append(out, '\\', e)
			default:
				out = append(out, e)
			}
			i++
		}
	}
	return fromUTF16(out)
}

func isOctal(c uint16) bool { return c >= '0' && c <= '7' }

// readBackquoted reads a backquoted identifier at the start of sql, per Spark's lexer rule:
//
//	BACKQUOTED_IDENTIFIER: '`' ( ~'`' | '``' )* '`'
func readBackquoted(sql string) (string, int, bool) {
	if !strings.HasPrefix(sql, "`") {
		return "", 0, false
	}
	var b strings.Builder
	for i := 1; i < len(sql); i++ {
		if sql[i] != '`' {
			b.WriteByte(sql[i])
			continue
		}
		if i+1 < len(sql) && sql[i+1] == '`' {
			b.WriteByte('`')
			i++
			continue
		}
		return b.String(), i + 1, true
	}
	return "", 0, false
}

func utf16Units(s string) []uint16 {
	var u []uint16
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			u = append(u, uint16(0xD800+(r>>10)), uint16(0xDC00+(r&0x3FF)))
		} else {
			u = append(u, uint16(r))
		}
	}
	return u
}

func fromUTF16(u []uint16) string {
	var b strings.Builder
	for i := 0; i < len(u); i++ {
		c := rune(u[i])
		if c >= 0xD800 && c < 0xDC00 && i+1 < len(u) {
			c = 0x10000 + (c-0xD800)<<10 + (rune(u[i+1]) - 0xDC00)
			i++
		}
		b.WriteRune(c)
	}
	return b.String()
}

func TestRowHashAndTypes(t *testing.T) {
	d := NewDialect()
	got := d.RowHash([]string{"`id`", "`a` || `b`"})
	want := "xxhash64((`id`) IS NULL, (`id`), (`a` || `b`) IS NULL, (`a` || `b`))"
	if got != want {
		t.Errorf("RowHash = %s, want %s", got, want)
	}
	if got, want := d.RowHash(nil), "CAST(0 AS BIGINT)"; got != want {
		t.Errorf("RowHash(nil) = %s, want %s", got, want)
	}
	if d.Engine() != warehouse.Databricks || d.TextType() != "STRING" || d.HashType() != "BIGINT" ||
		d.Placeholder(4) != "?" || d.CastText("x") != "CAST((x) AS STRING)" {
		t.Errorf("engine %s, text %s, hash %s, placeholder %s, cast %s",
			d.Engine(), d.TextType(), d.HashType(), d.Placeholder(4), d.CastText("x"))
	}
	if got, want := d.TimestampLiteral("2024-01-02T03:04:05-01:30"), `TIMESTAMP '2024-01-02 04:34:05+00:00'`; got != want {
		t.Errorf("TimestampLiteral = %s, want %s", got, want)
	}
	if got, want := d.DateLiteral(`2024-01-02'`), `DATE '2024-01-02\''`; got != want {
		t.Errorf("DateLiteral = %s, want %s", got, want)
	}
	if got, want := d.CreateTableAs("dinmo_delta_storage", "run_1", "SELECT 1"),
		"CREATE TABLE `dinmo_delta_storage`.`run_1` AS\nSELECT 1"; got != want {
		t.Errorf("CreateTableAs = %s, want %s", got, want)
	}
}
