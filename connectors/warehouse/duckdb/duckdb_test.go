package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"dinmo/connectors"
	"dinmo/connectors/warehouse"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(childPathEnv); path != "" {
		childOpen(path)
		os.Exit(0)
	}
	if os.Getenv(childMemoryEnv) != "" {
		childMemory()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// open opens a warehouse on path and closes it at the end of the test.
func open(t *testing.T, path string, settings ...any) *Warehouse {
	t.Helper()
	cfg := warehouse.Config{Settings: map[string]any{SettingPath: path}}
	for i := 0; i+1 < len(settings); i += 2 {
		key, ok := settings[i].(string)
		if !ok {
			t.Fatalf("open: setting name %v is a %T, want string", settings[i], settings[i])
		}
		cfg.Settings[key] = settings[i+1]
	}
	w, err := New().Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = w.Close() })
	dw, ok := w.(*Warehouse)
	if !ok {
		t.Fatalf("Open(%s) returned a %T, want *Warehouse", path, w)
	}
	return dw
}

func exec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.ExecContext(t.Context(), s); err != nil {
			t.Fatalf("exec %q: %v", s, err)
		}
	}
}

func TestSpecIsValid(t *testing.T) {
	s := New().Spec()
	if s.Engine != warehouse.DuckDB || !s.Available {
		t.Fatalf("spec = %+v", s)
	}
	if err := connectors.ValidateFields(append(s.Settings, s.Credentials...)); err != nil {
		t.Fatal(err)
	}
}

func TestOpenConfigurationErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		settings map[string]any
		category connectors.Category
		contains string
	}{
		{"missing path", map[string]any{}, connectors.CategoryConfiguration, `"path" is required`},
		{"empty path", map[string]any{SettingPath: ""}, connectors.CategoryConfiguration, `"path" is required`},
		{"missing directory", map[string]any{SettingPath: filepath.Join(dir, "nope", "x.db")}, connectors.CategoryConfiguration, "create it first"},
		{"directory as file", map[string]any{SettingPath: dir}, connectors.CategoryConfiguration, "is a directory"},
		{"question mark", map[string]any{SettingPath: filepath.Join(dir, "a?b.db")}, connectors.CategoryConfiguration, "must not contain '?'"},
		{"read-only missing file", map[string]any{SettingPath: filepath.Join(dir, "missing.db"), SettingReadOnly: true}, connectors.CategoryNotFound, "read-only database cannot be created"},
		{"bad read_only", map[string]any{SettingPath: filepath.Join(dir, "x.db"), SettingReadOnly: "sometimes"}, connectors.CategoryConfiguration, `"read_only" must be true or false`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := New().Open(context.Background(), warehouse.Config{Settings: tt.settings}, nil)
			if err == nil {
				_ = w.Close()
				t.Fatal("Open succeeded")
			}
			if got := connectors.CategoryOf(err); got != tt.category || connectors.IsRetryable(err) {
				t.Errorf("category = %s (retryable %v), want permanent %s: %v", got, connectors.IsRetryable(err), tt.category, err)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
		})
	}
}

func TestNotADatabaseFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(path, []byte("this is not a duckdb file, just text that is long enough to be read as a header"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New().Open(context.Background(), warehouse.Config{Settings: map[string]any{SettingPath: path}}, nil)
	if err == nil {
		t.Fatal("Open of a non-database file succeeded")
	}
	if connectors.CategoryOf(err) != connectors.CategoryConfiguration {
		t.Errorf("category = %s: %v", connectors.CategoryOf(err), err)
	}
	if len(instances) != 0 || len(closing) != 0 {
		t.Errorf("failed open left shared state: %d instances, %d closing", len(instances), len(closing))
	}
}

func TestSharedHandleRefcount(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shared.db")
	ctx := context.Background()

	w1 := open(t, path)
	// A different spelling of the same file shares the instance.
	w2 := open(t, filepath.Join(dir, ".", "sub", "..", "shared.db"), SettingReadOnly, false)
	db3, release3, err := Shared(path)
	if err != nil {
		t.Fatal(err)
	}
	if w1.DB() != w2.DB() || w1.DB() != db3 {
		t.Fatal("opens of the same file got different pools")
	}
	if n := instances[canonical(t, path)].refs; n != 3 {
		t.Fatalf("refs = %d, want 3", n)
	}

	exec(t, w1.DB(), "CREATE TABLE t AS SELECT 1 AS x")
	if err := w1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w1.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	if err := w1.Ping(ctx); err == nil {
		t.Error("Ping after Close succeeded")
	}
	// The other holders still work.
	var x int
	if err := w2.DB().QueryRowContext(ctx, "SELECT x FROM t").Scan(&x); err != nil || x != 1 {
		t.Fatalf("query through second holder: %v (x=%d)", err, x)
	}
	release3()
	release3() // idempotent
	if err := w2.Ping(ctx); err != nil {
		t.Fatalf("Ping of the last holder: %v", err)
	}
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	if len(instances) != 0 || len(closing) != 0 {
		t.Fatalf("after the last close: %d instances, %d closing", len(instances), len(closing))
	}

	// Closed for real: the file can be opened again, read-only this time, and keeps its data.
	w4 := open(t, path, SettingReadOnly, true)
	if err := w4.DB().QueryRowContext(ctx, "SELECT x FROM t").Scan(&x); err != nil || x != 1 {
		t.Fatalf("reopened read-only: %v (x=%d)", err, x)
	}
	_, err = w4.DB().ExecContext(ctx, "CREATE TABLE u (a INTEGER)")
	if err == nil {
		t.Error("write to a read-only database succeeded")
	}
	// A read-write open while it is open read-only in this process is refused.
	_, err = New().Open(ctx, warehouse.Config{Settings: map[string]any{SettingPath: path}}, nil)
	if err == nil || connectors.CategoryOf(err) != connectors.CategoryConfiguration || !strings.Contains(err.Error(), "already open read-only") {
		t.Errorf("read-write open of a read-only shared file: %v", err)
	}
	// A read-only open joins a read-write instance (it cannot be opened twice).
	_ = w4.Close()
	w5 := open(t, path)
	w6 := open(t, path, SettingReadOnly, true)
	if w5.DB() != w6.DB() {
		t.Error("read-only open did not join the read-write instance")
	}
}

func canonical(t *testing.T, path string) string {
	t.Helper()
	key, err := canonicalPath(path)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestSharedSymlinkedDirectory(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	a := open(t, filepath.Join(dir, "s.db"))
	b := open(t, filepath.Join(link, "s.db"))
	if a.DB() != b.DB() {
		t.Error("a path through a symlinked directory got its own instance")
	}
}

func TestSharedConcurrentOpenClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "concurrent.db")
	db, release, err := Shared(path)
	if err != nil {
		t.Fatal(err)
	}
	exec(t, db, "CREATE TABLE t (g INTEGER)")
	release()

	const goroutines, rounds = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*rounds)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				db, release, err := Shared(path)
				if err != nil {
					errs <- err
					return
				}
				if _, err := db.ExecContext(t.Context(), "INSERT INTO t VALUES ($1)", g); err != nil {
					errs <- fmt.Errorf("insert: %w", err)
				}
				release()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(instances) != 0 || len(closing) != 0 {
		t.Fatalf("after all releases: %d instances, %d closing", len(instances), len(closing))
	}
	w := open(t, path)
	var n int
	if err := w.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM t").Scan(&n); err != nil || n != goroutines*rounds {
		t.Errorf("rows = %d (%v), want %d", n, err, goroutines*rounds)
	}
}

func TestMemoryIsPrivate(t *testing.T) {
	a := open(t, MemoryPath)
	b := open(t, MemoryPath)
	exec(t, a.DB(), "CREATE TABLE only_in_a (x INTEGER)")
	ok, err := b.RelationExists(context.Background(), "main", "only_in_a")
	if err != nil || ok {
		t.Errorf("second in-memory database sees the first one's table: %v %v", ok, err)
	}
	ok, err = a.RelationExists(context.Background(), "main", "only_in_a")
	if err != nil || !ok {
		t.Errorf("RelationExists in the first in-memory database: %v %v", ok, err)
	}
}

func TestSessionTimeZoneIsUTC(t *testing.T) {
	w := open(t, filepath.Join(t.TempDir(), "tz.db"))
	// Several connections, each initialised.
	for i := 0; i < 3; i++ {
		conn, err := w.DB().Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var tz, text string
		if err := conn.QueryRowContext(context.Background(),
			"SELECT current_setting('TimeZone'), CAST(TIMESTAMPTZ '2024-01-02 03:04:05+02:00' AS VARCHAR)").Scan(&tz, &text); err != nil {
			t.Fatal(err)
		}
		if tz != "UTC" || text != "2024-01-02 01:04:05+00" {
			t.Errorf("connection %d: TimeZone %q, timestamptz text %q", i, tz, text)
		}
	}
}

func TestDDLAndIntrospection(t *testing.T) {
	ctx := context.Background()
	w := open(t, filepath.Join(t.TempDir(), "ddl.db"))
	d := w.Dialect()
	schema := `we"ird schema`
	exec(t, w.DB(),
		d.CreateSchema(schema),
		d.CreateSchema(schema), // IF NOT EXISTS
		d.CreateTableAs(schema, "src", "SELECT 1 AS id, 'a@x' AS email -- comment"),
	)
	if err := warehouse.ReplaceView(ctx, w, schema, "v", "SELECT id FROM "+d.Qualified(schema, "src")); err != nil {
		t.Fatal(err)
	}
	for _, rel := range []string{"src", "v"} {
		ok, err := w.RelationExists(ctx, schema, rel)
		if err != nil || !ok {
			t.Errorf("RelationExists(%s) = %v, %v", rel, ok, err)
		}
	}
	if ok, err := w.RelationExists(ctx, schema, "missing"); err != nil || ok {
		t.Errorf("RelationExists(missing) = %v, %v", ok, err)
	}
	if ok, err := w.RelationExists(ctx, "main", "v"); err != nil || ok {
		t.Errorf("RelationExists(main.v) = %v, %v", ok, err)
	}
	// Columns change: DuckDB replaces the view anyway.
	if err := warehouse.ReplaceView(ctx, w, schema, "v", "SELECT email, id * 2 AS twice FROM "+d.Qualified(schema, "src")); err != nil {
		t.Fatal(err)
	}
	cols, err := w.QueryColumns(ctx, "SELECT * FROM "+d.Qualified(schema, "v"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) != 2 || cols[0].Name != "email" || cols[1].Name != "twice" {
		t.Errorf("columns after replace = %+v", cols)
	}
	exec(t, w.DB(), d.DropView(schema, "v"), d.DropView(schema, "v"), d.DropTable(schema, "src"), d.DropTable(schema, "src"))
	if ok, _ := w.RelationExists(ctx, schema, "v"); ok {
		t.Error("view still exists after DropView")
	}
	exec(t, w.DB(), d.CreateTableAs(schema, "again", "SELECT 1 AS x"), d.DropSchema(schema), d.DropSchema(schema))
	if ok, _ := w.RelationExists(ctx, schema, "again"); ok {
		t.Error("table still exists after DropSchema CASCADE")
	}
}

func TestQueryColumnsCategories(t *testing.T) {
	w := open(t, filepath.Join(t.TempDir(), "cols.db"))
	q := `SELECT 1::TINYINT a, 1::SMALLINT b, 1::INTEGER c, 1::BIGINT d, 1::HUGEINT e, 1::UTINYINT f, 1::UBIGINT g,
  1.5::DECIMAL(18,3) h, 1.5::DOUBLE i, 1.5::FLOAT j, true k, DATE '2024-01-01' l,
  TIMESTAMP '2024-01-01' m, TIMESTAMPTZ '2024-01-01 00:00:00+00' n, TIMESTAMP_NS '2024-01-01' o,
  'x'::VARCHAR p, gen_random_uuid() q, [1, 2] r, {'a': 1} s, INTERVAL 1 DAY t, 'x'::ENUM('x', 'y') u,
  '{}'::JSON v, '\x00'::BLOB w -- trailing comment`
	cols, err := w.QueryColumns(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]warehouse.TypeCategory{
		"a": warehouse.TypeInteger, "b": warehouse.TypeInteger, "c": warehouse.TypeInteger, "d": warehouse.TypeInteger,
		"e": warehouse.TypeInteger, "f": warehouse.TypeInteger, "g": warehouse.TypeInteger,
		"h": warehouse.TypeNumber, "i": warehouse.TypeNumber, "j": warehouse.TypeNumber,
		"k": warehouse.TypeBoolean, "l": warehouse.TypeDate,
		"m": warehouse.TypeTimestamp, "n": warehouse.TypeTimestamp, "o": warehouse.TypeTimestamp,
		"p": warehouse.TypeString, "q": warehouse.TypeString, "u": warehouse.TypeString,
		"r": warehouse.TypeOther, "s": warehouse.TypeOther, "t": warehouse.TypeOther, "v": warehouse.TypeOther, "w": warehouse.TypeOther,
	}
	if len(cols) != len(want) {
		t.Fatalf("got %d columns, want %d: %+v", len(cols), len(want), cols)
	}
	for _, c := range cols {
		if c.Category != want[c.Name] {
			t.Errorf("column %s (%s): category %s, want %s", c.Name, c.DatabaseType, c.Category, want[c.Name])
		}
		if c.DatabaseType == "" {
			t.Errorf("column %s has no database type", c.Name)
		}
	}
	if cols[7].DatabaseType != "DECIMAL(18,3)" {
		t.Errorf("decimal type name = %q", cols[7].DatabaseType)
	}
}

func TestQueryColumnsErrors(t *testing.T) {
	w := open(t, filepath.Join(t.TempDir(), "err.db"))
	tests := []struct {
		query    string
		category connectors.Category
		contains string
	}{
		{"SELEC 1", connectors.CategoryConfiguration, "syntax error"},
		{"SELECT * FROM no_such_table", connectors.CategoryNotFound, "no_such_table"},
		{"SELECT no_such_column FROM (SELECT 1 AS a)", connectors.CategoryConfiguration, "no_such_column"},
	}
	for _, tt := range tests {
		_, err := w.QueryColumns(context.Background(), tt.query)
		if err == nil {
			t.Errorf("QueryColumns(%q) succeeded", tt.query)
			continue
		}
		if connectors.CategoryOf(err) != tt.category || connectors.IsRetryable(err) {
			t.Errorf("QueryColumns(%q): category %s retryable %v, want permanent %s: %v", tt.query,
				connectors.CategoryOf(err), connectors.IsRetryable(err), tt.category, err)
		}
		if !strings.Contains(err.Error(), tt.contains) {
			t.Errorf("QueryColumns(%q): error %q does not keep DuckDB's message (%q)", tt.query, err, tt.contains)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	time.Sleep(time.Millisecond)
	if _, err := w.QueryColumns(ctx, "SELECT 1"); err == nil || !errors.Is(err, context.DeadlineExceeded) && connectors.CategoryOf(err) != connectors.CategoryTimeout {
		t.Errorf("QueryColumns with an expired context: %v", err)
	}
}
