// Package dialecttest renders every method of a warehouse.Dialect over a fixed set of inputs,
// hostile ones included, so each engine's SQL text is pinned by a golden file in its testdata
// directory. Run the engine's tests with -update to rewrite the golden files after an
// intended change, and review the diff.
package dialecttest

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dinmo/connectors/warehouse"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// Identifiers are the names every identifier-taking method is rendered with.
var Identifiers = []string{
	"plain",
	"MixedCase",
	`a"b`,
	`x'; DROP TABLE t; --`,
	"with space",
	"unicodé_名前",
	"",
	"nul\x00byte",
	`back\slash`,
}

// Strings are the values every string literal is rendered with.
var Strings = []string{
	"plain",
	"it's",
	`x'; DROP TABLE t; --`,
	`a"b`,
	`back\slash`,
	`\'`,
	"unicodé_名前 ☃",
	"",
	"nul\x00byte",
	"line\nbreak",
}

// Dates and Timestamps are the literal inputs, valid and invalid.
var (
	Dates      = []string{"2024-01-02", "1999-12-31", "2024-13-45", "x'; DROP TABLE t; --"}
	Timestamps = []string{
		"2024-01-02T03:04:05Z",
		"2024-01-02T03:04:05.123456789+02:00",
		"2024-01-02 03:04:05",
		"2024-01-02",
		"not a timestamp' --",
	}
)

// Render returns the text of every Dialect method applied to the inputs above.
func Render(d warehouse.Dialect) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("engine: %s", d.Engine())
	line("text_type: %s", d.TextType())
	line("hash_type: %s", d.HashType())
	line("")
	line("## QuoteIdent")
	for _, id := range Identifiers {
		line("%q => %s", id, d.QuoteIdent(id))
	}
	line("")
	line("## Qualified")
	line("(s, t) => %s", d.Qualified("s", "t"))
	line("(db, s, t) => %s", d.Qualified("db", "s", "t"))
	line("(%q, %q) => %s", Identifiers[2], Identifiers[3], d.Qualified(Identifiers[2], Identifiers[3]))
	line("")
	line("## QuoteString")
	for _, s := range Strings {
		line("%q => %s", s, d.QuoteString(s))
	}
	line("")
	line("## Placeholder")
	for _, n := range []int{1, 2, 10} {
		line("%d => %s", n, d.Placeholder(n))
	}
	line("")
	line("## CastText")
	line("%s", d.CastText(`"t"."c"`))
	line("%s", d.CastText("a + b"))
	line("")
	line("## RowHash")
	line("%s", d.RowHash([]string{`"id"`}))
	line("%s", d.RowHash([]string{`"id"`, `"email"`, `"amount" * 2`}))
	line("%s", d.RowHash(nil))
	line("")
	line("## DateLiteral")
	for _, s := range Dates {
		line("%q => %s", s, d.DateLiteral(s))
	}
	line("")
	line("## TimestampLiteral")
	for _, s := range Timestamps {
		line("%q => %s", s, d.TimestampLiteral(s))
	}
	line("")
	line("## DDL")
	for _, s := range []string{warehouse.SchemaSegments, Identifiers[3]} {
		line("%s", d.CreateSchema(s))
		line("%s", d.DropSchema(s))
	}
	query := "SELECT id, email\nFROM public.users -- trailing comment"
	line("%s", d.CreateOrReplaceView(warehouse.SchemaSegments, "model_users", query))
	line("%s", d.CreateOrReplaceView(Identifiers[2], Identifiers[3], "SELECT 1"))
	line("%s", d.DropView(warehouse.SchemaSegments, "model_users"))
	line("%s", d.DropView(Identifiers[2], Identifiers[3]))
	line("%s", d.CreateTableAs(warehouse.SchemaDeltaStorage, "run_42", query))
	line("%s", d.CreateTableAs(Identifiers[2], Identifiers[3], "SELECT 1"))
	line("%s", d.DropTable(warehouse.SchemaDeltaStorage, "run_42"))
	line("%s", d.DropTable(Identifiers[2], Identifiers[3]))
	return b.String()
}

// Golden compares got with testdata/<name>.golden, or rewrites it when -update is given.
func Golden(t testing.TB, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o750); err != nil {
			t.Fatalf("create testdata: %v", err)
		}
		if err := os.WriteFile(path, []byte(got), 0o600); err != nil {
			t.Fatalf("write golden file: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path) //nolint:gosec // G304: path is testdata/<name>.golden, name chosen by the calling test
	if err != nil {
		t.Fatalf("read golden file (run the test with -update to create it): %v", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file; run with -update after checking the change\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}
