package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"dinmo/connectors"
	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/internal/dialecttest"
	"dinmo/internal/pgtest"
)

// The golden file pins the text; these tests check that PostgreSQL reads it back as intended.

func TestQuotingRoundTrip(t *testing.T) {
	ctx := context.Background()
	w := openPG(t, configFromDSN(t, pgtest.DSN(t)))
	d := w.Dialect()
	// The E'...' form must not depend on standard_conforming_strings: check both settings.
	conn, err := w.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, scs := range []string{"on", "off"} {
		if _, err := conn.ExecContext(ctx, "SET standard_conforming_strings = "+scs); err != nil {
			t.Fatal(err)
		}
		for _, s := range dialecttest.Strings {
			var got string
			if err := conn.QueryRowContext(ctx, "SELECT "+d.QuoteString(s)).Scan(&got); err != nil {
				t.Errorf("standard_conforming_strings=%s: SELECT %s: %v", scs, d.QuoteString(s), err)
				continue
			}
			if want := strings.ReplaceAll(s, "\x00", ""); got != want {
				t.Errorf("standard_conforming_strings=%s: string %q came back as %q", scs, s, got)
			}
		}
	}
	for _, id := range dialecttest.Identifiers {
		if id == "" {
			continue // no engine accepts an empty name
		}
		want := strings.ReplaceAll(id, "\x00", "")
		exec(t, w.DB(), d.CreateSchema(id), d.CreateTableAs(id, id, "SELECT 1 AS "+d.QuoteIdent(id)))
		ok, err := w.RelationExists(ctx, want, want)
		if err != nil || !ok {
			t.Errorf("table %q.%q: exists %v, %v", want, want, ok, err)
		}
		cols, err := w.QueryColumns(ctx, "SELECT * FROM "+d.Qualified(id, id))
		if err != nil || len(cols) != 1 || cols[0].Name != want {
			t.Errorf("columns of %q: %+v, %v", want, cols, err)
		}
		exec(t, w.DB(), d.DropSchema(id))
	}
}

func TestLiterals(t *testing.T) {
	w := openPG(t, configFromDSN(t, pgtest.DSN(t)))
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
	if _, err := w.DB().ExecContext(t.Context(), "SELECT "+d.DateLiteral("x'; DROP TABLE t; --")); err == nil {
		t.Error("invalid date literal accepted")
	}
	var text string
	if err := w.DB().QueryRowContext(t.Context(), "SELECT "+d.CastText("DATE '2024-01-02' + 1")).Scan(&text); err != nil || text != "2024-01-03" {
		t.Errorf("CastText = %q, %v", text, err)
	}
	var p1, p2 string
	if err := w.DB().QueryRowContext(t.Context(), "SELECT "+d.Placeholder(2)+"::text, "+d.Placeholder(1)+"::text", "one", "two").Scan(&p1, &p2); err != nil || p1 != "two" || p2 != "one" {
		t.Errorf("placeholders: %q %q %v", p1, p2, err)
	}
}

// TestRowHash pins what the sync relies on: equal rows hash equally in every evaluation and
// session, and a change in any column, including NULL <-> empty string, changes the hash.
func TestRowHash(t *testing.T) {
	dsn := pgtest.DSN(t)
	w := openPG(t, configFromDSN(t, dsn))
	d := w.Dialect()
	exec(t, w.DB(), `CREATE TABLE people (id int, email text, score float8, born date,
  seen timestamptz, vip bool, note text, amount numeric(10,2), profile json, tags text[])`,
		`INSERT INTO people VALUES
  (1, 'a@x', 1.5, DATE '1990-01-01', TIMESTAMPTZ '2024-01-01 00:00:00+00', true, NULL, 12.50, '{"a": 1}', ARRAY['a']),
  (2, 'b@x', 2.5, DATE '1991-01-01', TIMESTAMPTZ '2024-01-02 00:00:00+00', false, '', 1.00, '[]', ARRAY[]::text[]),
  (3, 'c@x', NULL, NULL, NULL, NULL, 'n', NULL, NULL, NULL)`)
	cols := []string{`"id"`, `"email"`, `"score"`, `"born"`, `"seen"`, `"vip"`, `"note"`, `"amount"`, `"profile"`, `"tags"`}
	query := "SELECT id, " + d.RowHash(cols) + " FROM people"
	hashes := func(w *Warehouse) map[int]int64 {
		t.Helper()
		rows, err := w.DB().QueryContext(t.Context(), query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[int]int64{}
		for rows.Next() {
			var id int
			var h int64
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
	base := hashes(w)
	if len(base) != 3 {
		t.Fatalf("hashes = %v", base)
	}
	// Another pool (new sessions) gives the same hashes.
	other := openPG(t, configFromDSN(t, dsn))
	if again := hashes(other); !reflect.DeepEqual(base, again) {
		t.Fatalf("hashes differ between evaluations: %v vs %v", base, again)
	}
	changes := []struct{ name, stmt string }{
		{"email", "UPDATE people SET email = 'A@x' WHERE id = 1"},
		{"score", "UPDATE people SET score = 1.5000000000000002 WHERE id = 1"},
		{"born", "UPDATE people SET born = DATE '1990-01-02' WHERE id = 1"},
		{"seen", "UPDATE people SET seen = seen + interval '1 microsecond' WHERE id = 1"},
		{"vip", "UPDATE people SET vip = NULL WHERE id = 1"},
		{"NULL to empty string", "UPDATE people SET note = '' WHERE id = 1"},
		{"empty string to NULL", "UPDATE people SET note = NULL WHERE id = 2"},
		{"NULL to value", "UPDATE people SET score = 0 WHERE id = 3"},
		{"amount", "UPDATE people SET amount = 12.51 WHERE id = 1"},
		{"json", `UPDATE people SET profile = '{"a": 2}' WHERE id = 1`},
		{"array", "UPDATE people SET tags = ARRAY[NULL] WHERE id = 2"},
	}
	for _, c := range changes {
		before := hashes(w)
		exec(t, w.DB(), c.stmt)
		after := hashes(w)
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
	pairs := [][2][]string{
		{{"NULL"}, {"''"}},
		{{"NULL", "'a'"}, {"''", "'a'"}},
		{{"'a'", "NULL"}, {"NULL", "'a'"}},
		{{"'a'", "'b'"}, {"'ab'", "''"}},
	}
	for _, p := range pairs {
		var a, b int64
		if err := w.DB().QueryRowContext(t.Context(), "SELECT "+d.RowHash(p[0])+", "+d.RowHash(p[1])).Scan(&a, &b); err != nil {
			t.Fatal(err)
		}
		if a == b {
			t.Errorf("%s = %s = %d", d.RowHash(p[0]), d.RowHash(p[1]), a)
		}
	}
}

func columnsOf(t *testing.T, w *Warehouse, schema, name string) []string {
	t.Helper()
	cols, err := w.QueryColumns(context.Background(), "SELECT * FROM "+w.Dialect().Qualified(schema, name))
	if err != nil {
		t.Fatalf("columns of %s.%s: %v", schema, name, err)
	}
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name + ":" + c.DatabaseType
	}
	return out
}

func TestReplaceView(t *testing.T) {
	ctx := context.Background()
	w := openPG(t, configFromDSN(t, pgtest.DSN(t)))
	d := w.Dialect()
	seg := warehouse.SchemaSegments
	model, segment, nested := d.Qualified(seg, "model_people"), d.Qualified(seg, "segment_adults"), d.Qualified(seg, "segment_adult_ids")
	exec(t, w.DB(), d.CreateSchema(seg),
		"CREATE TABLE public.people (id int, email text, age int)",
		"INSERT INTO public.people VALUES (1, 'a@x', 30), (2, 'b@x', 10)",
		"DROP ROLE IF EXISTS dinmo_reader", "CREATE ROLE dinmo_reader")
	t.Cleanup(func() {
		_, _ = w.DB().ExecContext(context.Background(), "DROP OWNED BY dinmo_reader")
		_, _ = w.DB().ExecContext(context.Background(), "DROP ROLE IF EXISTS dinmo_reader")
	})

	// Create, then replace with compatible columns (the fast path).
	if err := warehouse.ReplaceView(ctx, w, seg, "model_people", "SELECT id, email FROM public.people"); err != nil {
		t.Fatal(err)
	}
	if err := warehouse.ReplaceView(ctx, w, seg, "model_people", "SELECT id, email, age FROM public.people;\n"); err != nil {
		t.Fatal(err)
	}
	exec(t, w.DB(),
		"CREATE VIEW "+segment+" WITH (security_barrier = true) AS SELECT id, email FROM "+model+" WHERE age >= 18",
		"CREATE VIEW "+nested+" AS SELECT id FROM "+segment,
		"GRANT SELECT ON "+model+", "+segment+" TO dinmo_reader",
		"GRANT SELECT ON "+nested+" TO PUBLIC",
		"COMMENT ON VIEW "+model+" IS 'people model'",
		"COMMENT ON VIEW "+segment+" IS 'adults'")

	// A column changes type and one appears in the middle: CREATE OR REPLACE VIEW refuses,
	// ReplaceView recreates the view and its dependents.
	if _, err := w.DB().ExecContext(t.Context(), d.CreateOrReplaceView(seg, "model_people", "SELECT id, 'x' AS source, email, age::bigint AS age FROM public.people")); err == nil {
		t.Fatal("PostgreSQL accepted a column change in CREATE OR REPLACE VIEW; the test premise is wrong")
	}
	if err := warehouse.ReplaceView(ctx, w, seg, "model_people", "SELECT id, 'x' AS source, email, age::bigint AS age FROM public.people"); err != nil {
		t.Fatal(err)
	}
	if got, want := columnsOf(t, w, seg, "model_people"), []string{"id:int4", "source:text", "email:text", "age:int8"}; !reflect.DeepEqual(got, want) {
		t.Errorf("model columns = %v, want %v", got, want)
	}
	if ids := queryIDs(t, w.DB(), "SELECT id FROM "+nested); !reflect.DeepEqual(ids, []int{1}) {
		t.Errorf("nested dependent view returns %v, want [1]", ids)
	}
	var modelGrant, segGrant, nestedPublic bool
	var modelComment, segComment string
	var options string
	if err := w.DB().QueryRowContext(t.Context(), `SELECT has_table_privilege('dinmo_reader', $1, 'SELECT'), has_table_privilege('dinmo_reader', $2, 'SELECT'),
  has_table_privilege('public', $3, 'SELECT'), obj_description($1::regclass, 'pg_class'), obj_description($2::regclass, 'pg_class'),
  array_to_string((SELECT reloptions FROM pg_class WHERE oid = $2::regclass), ',')`,
		model, segment, nested).Scan(&modelGrant, &segGrant, &nestedPublic, &modelComment, &segComment, &options); err != nil {
		t.Fatal(err)
	}
	if !modelGrant || !segGrant || !nestedPublic || modelComment != "people model" || segComment != "adults" || options != "security_barrier=true" {
		t.Errorf("metadata after recreate: grants %v %v %v, comments %q %q, options %q", modelGrant, segGrant, nestedPublic, modelComment, segComment, options)
	}

	// Removing a column a dependent view uses fails, naming it, and changes nothing.
	err := warehouse.ReplaceView(ctx, w, seg, "model_people", "SELECT id, age FROM public.people")
	if err == nil {
		t.Fatal("ReplaceView dropped a column a dependent view needs")
	}
	if connectors.CategoryOf(err) != connectors.CategoryConfiguration || !strings.Contains(err.Error(), "segment_adults") {
		t.Errorf("error: category %s: %v", connectors.CategoryOf(err), err)
	}
	if got, want := columnsOf(t, w, seg, "model_people"), []string{"id:int4", "source:text", "email:text", "age:int8"}; !reflect.DeepEqual(got, want) {
		t.Errorf("model changed by a failed replace: %v", got)
	}
	for _, v := range []string{"segment_adults", "segment_adult_ids"} {
		if ok, err := w.RelationExists(ctx, seg, v); err != nil || !ok {
			t.Errorf("%s lost by a failed replace: %v %v", v, ok, err)
		}
	}

	// A materialized view depending on the view blocks a column change.
	exec(t, w.DB(), "CREATE MATERIALIZED VIEW public.mv AS SELECT id FROM "+model)
	err = warehouse.ReplaceView(ctx, w, seg, "model_people", "SELECT id, email, age FROM public.people")
	if err == nil || connectors.CategoryOf(err) != connectors.CategoryConfiguration || !strings.Contains(err.Error(), "public.mv") {
		t.Errorf("replace with a dependent materialized view: %v", err)
	}
	exec(t, w.DB(), "DROP MATERIALIZED VIEW public.mv")

	// A query that does not compile keeps the server's message.
	err = warehouse.ReplaceView(ctx, w, seg, "model_people", "SELECT nope FROM public.people")
	if err == nil || connectors.CategoryOf(err) != connectors.CategoryConfiguration || !strings.Contains(err.Error(), "nope") {
		t.Errorf("replace with a broken query: %v", err)
	}
	// Replacing a table is refused.
	err = warehouse.ReplaceView(ctx, w, "public", "people", "SELECT 1 AS x")
	if err == nil {
		t.Error("ReplaceView replaced a table")
	}
}

// TestNormalizePostgresValues scans real values through pgx's database/sql driver the way the
// runner does (into any) and checks NormalizeTypedValue.
func TestNormalizePostgresValues(t *testing.T) {
	w := openPG(t, configFromDSN(t, pgtest.DSN(t)))
	q := `SELECT 42::int2 a, 42::int4 b, 9007199254740993::int8 c, 12.50::numeric(10,2) d, 'NaN'::numeric e,
  0.1::float4 f, 1.25::float8 g, true h, 'héllo'::text i, 'x'::varchar j, 'ab'::char(3) k,
  DATE '2024-01-02' l, TIMESTAMP '2024-01-02 03:04:05.123456' m, TIMESTAMPTZ '2024-01-02 03:04:05+02' n,
  'fe2bcfa8-2c82-44da-b52c-d776597f2746'::uuid o, NULL p, NULL::text q, '{"j": [1, "x"]}'::json r,
  '{"k": true}'::jsonb s, '\x616263'::bytea t, TIME '13:04:05' u, interval '1 day 02:00:00' v,
  ARRAY[1, 2] w, 'Infinity'::float8 x`
	rows, err := w.DB().QueryContext(t.Context(), q)
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
		"a": int64(42), "b": int64(42), "c": int64(9007199254740993), "d": json.Number("12.50"), "e": "NaN",
		"f": 0.1, "g": 1.25, "h": true, "i": "héllo", "j": "x", "k": "ab ",
		"l": "2024-01-02", "m": time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC),
		"n": time.Date(2024, 1, 2, 1, 4, 5, 0, time.UTC),
		"o": "fe2bcfa8-2c82-44da-b52c-d776597f2746", "p": nil, "q": nil,
		"r": map[string]any{"j": []any{1.0, "x"}}, "s": map[string]any{"k": true}, "t": "abc",
		"u": "13:04:05", "v": "P1DT2H", "w": "{1,2}", "x": "Infinity",
	}
	for i, ct := range types {
		got := warehouse.NormalizeTypedValue(ct.DatabaseTypeName(), vals[i])
		w := want[ct.Name()]
		if wt, isTime := w.(time.Time); isTime {
			if gt, ok := got.(time.Time); !ok || !gt.Equal(wt) {
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
	}
}

// queryIDs returns the single integer column of every row query returns.
func queryIDs(t *testing.T, db *sql.DB, query string) []int {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}
