package bigquery

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

// The expected literals are written by hand from the GoogleSQL lexical rules: backslash escapes,
// \' for a quote, no raw newline in a quoted string, \xhh with exactly two hex digits.
func TestQuoteString(t *testing.T) {
	d := NewDialect()
	tests := []struct{ in, want string }{
		{"plain", `'plain'`},
		{"it's", `'it\'s'`},
		{`C:\dir\n`, `'C:\\dir\\n'`},
		{`\'`, `'\\\''`},
		{`ends with \`, `'ends with \\'`},
		{"a\x00b", `'a\x00b'`},
		{"line\nbreak\r\ttab", `'line\nbreak\r\ttab'`},
		{"bell\x07 del\x7f esc\x1b", `'bell\x07 del\x7f esc\x1b'`},
		{"a\"b`c", "'a\"b`c'"},
		{"unicodé ☃", "'unicodé ☃'"},
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
		{"my-project", "`my-project`"},
		{"a`b", "`a\\`b`"},
		{`back\slash`, "`back\\\\slash`"},
		{"it's", "`it's`"},
		{"new\nline", "`new\\nline`"},
		{"nul\x00byte", "`nulbyte`"},
	}
	for _, tt := range tests {
		if got := d.QuoteIdent(tt.in); got != tt.want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got, want := d.Qualified("my-project", "dinmo_segments", "t"), "`my-project`.`dinmo_segments`.`t`"; got != want {
		t.Errorf("Qualified = %s, want %s", got, want)
	}
}

// TestQuotedReadsBack decodes every literal and identifier the way GoogleSQL does and checks
// that the value is exactly the input (without NUL for identifiers) and that the token ends
// where the dialect ended it.
func TestQuotedReadsBack(t *testing.T) {
	d := NewDialect()
	inputs := append([]string{"\\\\'\\x41\\101\\`", "\x00\x01\x1f", "'''", "\\", "```"}, dialecttest.Strings...)
	for _, s := range inputs {
		checkReadsBack(t, d.QuoteString(s), s, '\'')
		checkReadsBack(t, d.QuoteIdent(s), strings.ReplaceAll(s, "\x00", ""), '`')
	}
}

func FuzzQuoteString(f *testing.F) {
	for _, s := range dialecttest.Strings {
		f.Add(s)
	}
	f.Add("\\x41\\'''\\\\\r\n`")
	d := NewDialect()
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			t.Skip("GoogleSQL statements are UTF-8")
		}
		checkReadsBack(t, d.QuoteString(s), s, '\'')
		checkReadsBack(t, d.QuoteIdent(s), strings.ReplaceAll(s, "\x00", ""), '`')
	})
}

func checkReadsBack(t *testing.T, tok, want string, delim byte) {
	t.Helper()
	got, n, ok := readGoogleSQLQuoted(tok, delim)
	if !ok {
		t.Fatalf("%s does not read as one quoted token", tok)
	}
	if n != len(tok) {
		t.Fatalf("%s ends at byte %d of %d: the rest would be read as SQL", tok, n, len(tok))
	}
	if got != want {
		t.Fatalf("%s reads back as %q, want %q", tok, got, want)
	}
}

// readGoogleSQLQuoted reads a quoted string or identifier (delim ' or `) at the start of sql as
// GoogleSQL does: a raw newline is an error, and a backslash starts one of the escapes \a \b \f
// \n \r \t \v \\ \? \" \' \` \ooo (three octal digits) \xhh (two hex digits) \uhhhh
// \Uhhhhhhhh; any other escape is an error. It returns the value and the bytes the token spans.
func readGoogleSQLQuoted(sql string, delim byte) (string, int, bool) {
	if len(sql) == 0 || sql[0] != delim {
		return "", 0, false
	}
	named := map[byte]byte{'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v',
		'\\': '\\', '?': '?', '"': '"', '\'': '\'', '`': '`'}
	var b strings.Builder
	for i := 1; i < len(sql); {
		switch c := sql[i]; c {
		case delim:
			return b.String(), i + 1, true
		case '\n', '\r':
			return "", 0, false
		case '\\':
			if i+1 >= len(sql) {
				return "", 0, false
			}
			e := sql[i+1]
			digits := map[byte]int{'x': 2, 'X': 2, 'u': 4, 'U': 8}
			switch {
			case named[e] != 0:
				b.WriteByte(named[e])
				i += 2
			case e >= '0' && e <= '7':
				if i+4 > len(sql) {
					return "", 0, false
				}
				v, err := strconv.ParseUint(sql[i+1:i+4], 8, 32)
				if err != nil {
					return "", 0, false
				}
				b.WriteRune(rune(v))
				i += 4
			case digits[e] > 0:
				n := digits[e]
				if i+2+n > len(sql) {
					return "", 0, false
				}
				v, err := strconv.ParseUint(sql[i+2:i+2+n], 16, 32)
				if err != nil || strings.ContainsAny(sql[i+2:i+2+n], "+-_") {
					return "", 0, false
				}
				b.WriteRune(rune(v))
				i += 2 + n
			default:
				return "", 0, false
			}
		default:
			b.WriteByte(c)
			i++
		}
	}
	return "", 0, false
}

func TestRowHashAndTypes(t *testing.T) {
	d := NewDialect()
	got := d.RowHash([]string{"`id`", "`a` || `b`"})
	want := "FARM_FINGERPRINT(TO_JSON_STRING(STRUCT((`id`) AS c1, (`a` || `b`) AS c2)))"
	if got != want {
		t.Errorf("RowHash = %s, want %s", got, want)
	}
	if got, want := d.RowHash(nil), "CAST(0 AS INT64)"; got != want {
		t.Errorf("RowHash(nil) = %s, want %s", got, want)
	}
	if d.Engine() != warehouse.BigQuery || d.TextType() != "STRING" || d.HashType() != "INT64" ||
		d.Placeholder(4) != "?" || d.CastText("x") != "CAST((x) AS STRING)" {
		t.Errorf("engine %s, text %s, hash %s, placeholder %s, cast %s",
			d.Engine(), d.TextType(), d.HashType(), d.Placeholder(4), d.CastText("x"))
	}
	if got, want := d.TimestampLiteral("2024-01-02T03:04:05+01:00"), `TIMESTAMP '2024-01-02 02:04:05+00:00'`; got != want {
		t.Errorf("TimestampLiteral = %s, want %s", got, want)
	}
	if got, want := d.DateLiteral(`2024-01-02'`), `DATE '2024-01-02\''`; got != want {
		t.Errorf("DateLiteral = %s, want %s", got, want)
	}
}
