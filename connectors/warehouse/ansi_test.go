package warehouse_test

import (
	"testing"

	"dinmo/connectors/warehouse"
)

func TestQuoteIdentANSI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{"MixedCase", `"MixedCase"`},
		{`a"b`, `"a""b"`},
		{`""`, `""""""`},
		{`x'; DROP TABLE t; --`, `"x'; DROP TABLE t; --"`},
		{"unicodé_名前", `"unicodé_名前"`},
		{"nul\x00byte", `"nulbyte"`},
		{"", `""`},
	}
	for _, tt := range tests {
		if got := warehouse.QuoteIdentANSI(tt.in); got != tt.want {
			t.Errorf("QuoteIdentANSI(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got := warehouse.QualifiedANSI("s", `t"x`); got != `"s"."t""x"` {
		t.Errorf("QualifiedANSI = %s", got)
	}
}

func TestQuoteStringANSI(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `'plain'`},
		{"it's", `'it''s'`},
		{`x'; DROP TABLE t; --`, `'x''; DROP TABLE t; --'`},
		{`back\slash`, `'back\slash'`},
		{"nul\x00byte", `'nulbyte'`},
		{"", `''`},
	}
	for _, tt := range tests {
		if got := warehouse.QuoteStringANSI(tt.in); got != tt.want {
			t.Errorf("QuoteStringANSI(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestANSIDialectStatements(t *testing.T) {
	d := warehouse.ANSIDialect{Name: warehouse.Postgres}
	tests := []struct{ got, want string }{
		{string(d.Engine()), "postgres"},
		{d.Placeholder(3), "$3"},
		{d.DateLiteral("2024-01-02"), "DATE '2024-01-02'"},
		{d.TimestampLiteral("2024-01-02T03:04:05+02:00"), "TIMESTAMP WITH TIME ZONE '2024-01-02 01:04:05+00:00'"},
		{d.CreateSchema("s"), `CREATE SCHEMA IF NOT EXISTS "s"`},
		{d.DropSchema("s"), `DROP SCHEMA IF EXISTS "s" CASCADE`},
		{d.CreateOrReplaceView("s", "v", "SELECT 1"), "CREATE OR REPLACE VIEW \"s\".\"v\" AS\nSELECT 1"},
		{d.DropView("s", "v"), `DROP VIEW IF EXISTS "s"."v"`},
		{d.CreateTableAs("s", "t", "SELECT 1"), "CREATE TABLE \"s\".\"t\" AS\nSELECT 1"},
		{d.DropTable("s", "t"), `DROP TABLE IF EXISTS "s"."t"`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestTimestampValidation(t *testing.T) {
	valid := map[string]string{
		"2024-01-02T03:04:05Z":                "2024-01-02 03:04:05+00:00",
		"2024-01-02T03:04:05.5Z":              "2024-01-02 03:04:05.5+00:00",
		"2024-01-02T03:04:05.123456789-01:30": "2024-01-02 04:34:05.123456+00:00",
		"2024-01-02 03:04:05":                 "2024-01-02 03:04:05+00:00",
		"2024-01-02T03:04":                    "2024-01-02 03:04:00+00:00",
		"2024-01-02":                          "2024-01-02 00:00:00+00:00",
	}
	for in, want := range valid {
		if err := warehouse.ValidateTimestamp(in); err != nil {
			t.Errorf("ValidateTimestamp(%q): %v", in, err)
		}
		if got := warehouse.NormalizeTimestamp(in); got != want {
			t.Errorf("NormalizeTimestamp(%q) = %q, want %q", in, got, want)
		}
	}
	for _, in := range []string{"", "yesterday", "2024-13-01", "2024-01-02T25:00:00Z", "x'; --"} {
		if err := warehouse.ValidateTimestamp(in); err == nil {
			t.Errorf("ValidateTimestamp(%q) accepted an invalid timestamp", in)
		}
		if got := warehouse.NormalizeTimestamp(in); got != in {
			t.Errorf("NormalizeTimestamp(%q) = %q, want the input unchanged", in, got)
		}
	}
	if err := warehouse.ValidateDate("2024-02-29"); err != nil {
		t.Errorf("ValidateDate: %v", err)
	}
	for _, in := range []string{"2023-02-29", "2024-1-2", "02/01/2024", "2024-01-02T00:00:00Z"} {
		if err := warehouse.ValidateDate(in); err == nil {
			t.Errorf("ValidateDate(%q) accepted an invalid date", in)
		}
	}
}

func TestTrimQueryAndProbe(t *testing.T) {
	if got := warehouse.TrimQuery("SELECT 1;\n  ;  \n"); got != "SELECT 1" {
		t.Errorf("TrimQuery = %q", got)
	}
	// The trailing ";" ends up trimmed even inside a line comment, which is harmless: the
	// wrapper starts on the next line.
	want := "SELECT * FROM (\nSELECT 1 -- c\n) AS dinmo_probe LIMIT 0"
	if got := warehouse.ColumnsProbe("SELECT 1 -- c;\n"); got != want {
		t.Errorf("ColumnsProbe = %q, want %q", got, want)
	}
}
