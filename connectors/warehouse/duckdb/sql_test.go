package duckdb

import (
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/internal/dialecttest"
)

// The golden file pins the text; these tests check that DuckDB reads it back as intended.

func TestQuotingRoundTrip(t *testing.T) {
	w := open(t, filepath.Join(t.TempDir(), "quote.db"))
	d := w.Dialect()
	for _, s := range dialecttest.Strings {
		var got string
		if err := w.DB().QueryRowContext(t.Context(), "SELECT "+d.QuoteString(s)).Scan(&got); err != nil {
			t.Errorf("SELECT %s: %v", d.QuoteString(s), err)
			continue
		}
		if want := strings.ReplaceAll(s, "\x00", ""); got != want {
			t.Errorf("string %q came back as %q", s, got)
		}
	}
	for _, id := range dialecttest.Identifiers {
		if id == "" {
			continue // no engine accepts an empty name
		}
		want := strings.ReplaceAll(id, "\x00", "")
		exec(t, w.DB(), d.CreateSchema(id), d.CreateTableAs(id, id, "SELECT 1 AS "+d.QuoteIdent(id)))
		ok, err := w.RelationExists(context.Background(), want, want)
		if err != nil || !ok {
			t.Errorf("table %q.%q: exists %v, %v", want, want, ok, err)
		}
		cols, err := w.QueryColumns(context.Background(), "SELECT * FROM "+d.Qualified(id, id))
		if err != nil || len(cols) != 1 || cols[0].Name != want {
			t.Errorf("columns of %q: %+v, %v", want, cols, err)
		}
		exec(t, w.DB(), d.DropSchema(id))
	}
}

func TestLiterals(t *testing.T) {
	w := open(t, filepath.Join(t.TempDir(), "lit.db"))
	d := w.Dialect()
	var date, ts time.Time
	q := "SELECT " + d.DateLiteral("2024-02-29") + ", " + d.TimestampLiteral("2024-01-02T03:04:05.123456+02:00")
	if err := w.DB().QueryRowContext(t.Context(), q).Scan(&date, &ts); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if !date.Equal(time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date = %v", date)
	}
	if !ts.Equal(time.Date(2024, 1, 2, 1, 4, 5, 123456000, time.UTC)) {
		t.Errorf("timestamp = %v", ts)
	}
	var n int
	if err := w.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM range(3) WHERE "+d.TimestampLiteral("2024-01-01")+" < now()").Scan(&n); err != nil || n != 3 {
		t.Errorf("timestamp literal compared with now(): %d, %v", n, err)
	}
	// An invalid date stays a quoted literal that DuckDB rejects.
	if _, err := w.DB().ExecContext(t.Context(), "SELECT "+d.DateLiteral("x'; DROP TABLE t; --")); err == nil {
		t.Error("invalid date literal accepted")
	}
	var text string
	if err := w.DB().QueryRowContext(t.Context(), "SELECT "+d.CastText("DATE '2024-01-02' + 1")).Scan(&text); err != nil || text != "2024-01-03" {
		t.Errorf("CastText = %q, %v", text, err)
	}
	var p1, p2 string
	if err := w.DB().QueryRowContext(t.Context(), "SELECT "+d.Placeholder(2)+"::VARCHAR, "+d.Placeholder(1)+"::VARCHAR", "one", "two").Scan(&p1, &p2); err != nil || p1 != "two" || p2 != "one" {
		t.Errorf("placeholders: %q %q %v", p1, p2, err)
	}
}

// TestRowHash pins the behaviour the sync relies on: equal rows hash equally in every
// evaluation, and a change in any column, including NULL <-> ” and a swap between columns,
// changes the hash.
func TestRowHash(t *testing.T) {
	w := open(t, filepath.Join(t.TempDir(), "hash.db"))
	d := w.Dialect()
	exec(t, w.DB(), `CREATE TABLE people (id INTEGER, email VARCHAR, score DOUBLE, born DATE,
  seen TIMESTAMPTZ, vip BOOLEAN, note VARCHAR, amount DECIMAL(10,2), tags VARCHAR[])`,
		`INSERT INTO people VALUES
  (1, 'a@x', 1.5, DATE '1990-01-01', TIMESTAMPTZ '2024-01-01 00:00:00+00', true, NULL, 12.50, ['a']),
  (2, 'b@x', 2.5, DATE '1991-01-01', TIMESTAMPTZ '2024-01-02 00:00:00+00', false, '', 1.00, []),
  (3, 'c@x', NULL, NULL, NULL, NULL, 'n', NULL, NULL)`)
	cols := []string{`"id"`, `"email"`, `"score"`, `"born"`, `"seen"`, `"vip"`, `"note"`, `"amount"`, `"tags"`}
	hashes := func() map[int]uint64 {
		t.Helper()
		rows, err := w.DB().QueryContext(t.Context(), "SELECT id, "+d.RowHash(cols)+" FROM people")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[int]uint64{}
		for rows.Next() {
			var id int
			var h uint64
			if err := rows.Scan(&id, &h); err != nil {
				t.Fatal(err)
			}
			out[id] = h
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	base := hashes()
	if again := hashes(); !reflect.DeepEqual(base, again) {
		t.Fatalf("hashes differ between two evaluations: %v vs %v", base, again)
	}
	// A table materialised from the same rows hashes the same (the run-table path).
	exec(t, w.DB(), d.CreateTableAs("main", "copy", "SELECT * FROM people"))
	var mismatches int
	prefixed := func(alias string) []string {
		out := make([]string, len(cols))
		for i, c := range cols {
			out[i] = alias + "." + c
		}
		return out
	}
	if err := w.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM people p JOIN copy c USING (id) WHERE "+
		d.RowHash(prefixed("p"))+" <> "+d.RowHash(prefixed("c"))).Scan(&mismatches); err != nil {
		t.Fatal(err)
	}
	if mismatches != 0 {
		t.Errorf("%d rows hash differently in a copy", mismatches)
	}

	changes := []struct{ name, stmt string }{
		{"email", "UPDATE people SET email = 'A@x' WHERE id = 1"},
		{"score", "UPDATE people SET score = 1.5000001 WHERE id = 1"},
		{"born", "UPDATE people SET born = DATE '1990-01-02' WHERE id = 1"},
		{"seen", "UPDATE people SET seen = seen + INTERVAL 1 MICROSECOND WHERE id = 1"},
		{"vip", "UPDATE people SET vip = NULL WHERE id = 1"},
		{"NULL to empty string", "UPDATE people SET note = '' WHERE id = 1"},
		{"empty string to NULL", "UPDATE people SET note = NULL WHERE id = 2"},
		{"NULL to value", "UPDATE people SET score = 0 WHERE id = 3"},
		{"amount", "UPDATE people SET amount = 12.51 WHERE id = 1"},
		{"list", "UPDATE people SET tags = [NULL] WHERE id = 2"},
	}
	for _, c := range changes {
		before := hashes()
		exec(t, w.DB(), c.stmt)
		after := hashes()
		changed := 0
		for id := range before {
			if before[id] != after[id] {
				changed++
			}
		}
		if changed != 1 {
			t.Errorf("%s: %d row hashes changed, want 1", c.name, changed)
		}
	}

	// NULL and the empty string, alone and by position.
	pairs := [][2]string{
		{"hash(NULL::VARCHAR)", "hash('')"},
		{"hash(NULL::VARCHAR, 'a')", "hash('', 'a')"},
		{"hash('a', NULL::VARCHAR)", "hash(NULL::VARCHAR, 'a')"},
		{"hash('a', 'b')", "hash('ab', '')"},
		{"hash(NULL::VARCHAR)", "hash(0)"},
	}
	for _, p := range pairs {
		var a, b uint64
		if err := w.DB().QueryRowContext(t.Context(), "SELECT "+p[0]+", "+p[1]).Scan(&a, &b); err != nil {
			t.Fatal(err)
		}
		if a == b {
			t.Errorf("%s = %s = %d", p[0], p[1], a)
		}
	}
	var same bool
	if err := w.DB().QueryRowContext(t.Context(), "SELECT hash(NULL::VARCHAR) = hash(NULL::INTEGER) AND hash(1::INTEGER) = hash(1::BIGINT)").Scan(&same); err != nil || !same {
		t.Errorf("NULLs of any type and integers of any width hash alike: %v %v", same, err)
	}
	var zero uint64
	if err := w.DB().QueryRowContext(t.Context(), "SELECT "+d.RowHash(nil)).Scan(&zero); err != nil || zero != 0 {
		t.Errorf("empty RowHash = %d, %v", zero, err)
	}
}

// TestNormalizeDuckDBValues scans real DuckDB values the way the runner does (into any) and
// checks NormalizeValue and NormalizeTypedValue, which recognise duckdb-go's types by name.
func TestNormalizeDuckDBValues(t *testing.T) {
	w := open(t, filepath.Join(t.TempDir(), "values.db"))
	q := `SELECT 42::INTEGER i, 9007199254740993::BIGINT bi, 170141183460469231731687303715884105727::HUGEINT hi,
  18446744073709551615::UBIGINT ub, 7::UTINYINT ut,
  12.50::DECIMAL(10,2) dc, (-0.005)::DECIMAL(6,3) negdec, 1.25::DOUBLE dbl, 0.1::FLOAT flt,
  true b, 'héllo' s, DATE '2024-01-02' d,
  TIMESTAMP '2024-01-02 03:04:05.123456' ts, TIMESTAMPTZ '2024-01-02 03:04:05+02:00' tstz,
  'fe2bcfa8-2c82-44da-b52c-d776597f2746'::UUID u, NULL n, NULL::VARCHAR nv,
  INTERVAL '1 year 2 months 3 days 04:05:06.5' iv, [1, 2, NULL] l, {'k': 1.5::DECIMAL(3,1), 'n': NULL} st,
  MAP {'a': 1, 'b': 2} m, '{"j": [1, "x"]}'::JSON js, 'x'::ENUM('x', 'y') e, TIME '13:04:05' tm,
  'abc'::BLOB bl, 'nan'::DOUBLE nan`
	rows, err := w.DB().QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	if !rows.Next() {
		t.Fatal("no row")
	}
	vals := make([]any, len(types))
	ptrs := make([]any, len(types))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		t.Fatal(err)
	}
	if rows.Next() {
		t.Fatal("more than one row")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"i": int64(42), "bi": int64(9007199254740993), "hi": "170141183460469231731687303715884105727",
		"ub": "18446744073709551615", "ut": int64(7),
		"dc": json.Number("12.50"), "negdec": json.Number("-0.005"), "dbl": 1.25, "flt": 0.1,
		"b": true, "s": "héllo", "d": "2024-01-02",
		"ts":   time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC),
		"tstz": time.Date(2024, 1, 2, 1, 4, 5, 0, time.UTC),
		"u":    "fe2bcfa8-2c82-44da-b52c-d776597f2746", "n": nil, "nv": nil,
		"iv": "P1Y2M3DT4H5M6.5S", "l": []any{int64(1), int64(2), nil},
		"st": map[string]any{"k": json.Number("1.5"), "n": nil}, "m": map[string]any{"a": int64(1), "b": int64(2)},
		"js": map[string]any{"j": []any{1.0, "x"}}, "e": "x", "tm": "13:04:05", "bl": "abc", "nan": "NaN",
	}
	for i, ct := range types {
		got := warehouse.NormalizeTypedValue(ct.DatabaseTypeName(), vals[i])
		w, ok := want[ct.Name()]
		if !ok {
			t.Errorf("unexpected column %s", ct.Name())
			continue
		}
		if wt, isTime := w.(time.Time); isTime {
			gt, ok := got.(time.Time)
			if !ok || !gt.Equal(wt) {
				t.Errorf("%s (%s): got %#v, want %v", ct.Name(), ct.DatabaseTypeName(), got, wt)
			}
			continue
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s (%s): driver value %#v (%T) normalised to %#v (%T), want %#v", ct.Name(), ct.DatabaseTypeName(), vals[i], vals[i], got, got, w)
		}
		if _, err := json.Marshal(got); err != nil {
			t.Errorf("%s: not JSON-encodable: %v", ct.Name(), err)
		}
		// Without the type, everything but the UUID bytes, DATE and TIME is the same.
		switch ct.Name() {
		case "u", "d", "tm":
		default:
			if plain := warehouse.NormalizeValue(vals[i]); !reflect.DeepEqual(plain, got) {
				if _, isTime := plain.(time.Time); !isTime {
					t.Errorf("%s: NormalizeValue = %#v, NormalizeTypedValue = %#v", ct.Name(), plain, got)
				}
			}
		}
	}
	if f, ok := warehouse.NormalizeValue(math.Inf(1)).(string); !ok || f != "Infinity" {
		t.Errorf("Inf = %v", f)
	}
}
