package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"dinmo/connectors"
	"dinmo/connectors/warehouse"
	"dinmo/internal/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutine leak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// configFromDSN turns a pgtest URL into connector settings.
func configFromDSN(t *testing.T, dsn string) warehouse.Config {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		port = 5432
	}
	cfg := warehouse.Config{
		Settings: map[string]any{
			SettingHost:     u.Hostname(),
			SettingPort:     int64(port),
			SettingDatabase: strings.TrimPrefix(u.Path, "/"),
			SettingUser:     u.User.Username(),
			SettingSSLMode:  "disable",
		},
		Credentials: map[string]string{},
	}
	if mode := u.Query().Get("sslmode"); mode != "" {
		cfg.Settings[SettingSSLMode] = mode
	}
	if p, ok := u.User.Password(); ok {
		cfg.Credentials[CredentialPassword] = p
	}
	return cfg
}

func openPG(t *testing.T, cfg warehouse.Config) *Warehouse {
	t.Helper()
	w, err := New().Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = w.Close() })
	pw, ok := w.(*Warehouse)
	if !ok {
		t.Fatalf("Open returned a %T, want *Warehouse", w)
	}
	return pw
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
	if s.Engine != warehouse.Postgres || !s.Available {
		t.Fatalf("spec = %+v", s)
	}
	if err := connectors.ValidateFields(append(s.Settings, s.Credentials...)); err != nil {
		t.Fatal(err)
	}
}

func TestOpenConfigurationErrors(t *testing.T) {
	tests := []struct {
		name     string
		settings map[string]any
		contains []string
	}{
		{"missing required", map[string]any{}, []string{`"host" is required`, `"database" is required`, `"user" is required`}},
		{"bad sslmode and port", map[string]any{SettingHost: "h", SettingDatabase: "d", SettingUser: "u", SettingSSLMode: "always", SettingPort: int64(0)},
			[]string{`"sslmode" must be one of`, `"port" must be between 1 and 65535`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			creds := map[string]string{CredentialPassword: "pw-in-config"} //nolint:gosec // G101: fake password, asserted never to appear in errors
			_, err := New().Open(context.Background(), warehouse.Config{Settings: tt.settings, Credentials: creds}, nil)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if connectors.CategoryOf(err) != connectors.CategoryConfiguration || connectors.IsRetryable(err) {
				t.Errorf("category %s retryable %v: %v", connectors.CategoryOf(err), connectors.IsRetryable(err), err)
			}
			for _, c := range tt.contains {
				if !strings.Contains(err.Error(), c) {
					t.Errorf("error %q does not contain %q", err, c)
				}
			}
			if strings.Contains(err.Error(), "pw-in-config") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func TestConnectionRefused(t *testing.T) {
	var lc net.ListenConfig
	l, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		t.Fatalf("listener address %v is a %T, want *net.TCPAddr", l.Addr(), l.Addr())
	}
	port := addr.Port
	_ = l.Close()
	cfg := warehouse.Config{
		Settings: map[string]any{SettingHost: "127.0.0.1", SettingPort: int64(port), SettingDatabase: "d", SettingUser: "u",
			SettingSSLMode: "disable", SettingConnectTimeout: int64(2)},
		Credentials: map[string]string{CredentialPassword: "refused-secret-pw"},
	}
	_, err = New().Open(context.Background(), cfg, nil)
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	if connectors.CategoryOf(err) != connectors.CategoryConnection || !connectors.IsRetryable(err) {
		t.Errorf("category %s retryable %v, want retryable connection: %v", connectors.CategoryOf(err), connectors.IsRetryable(err), err)
	}
	if strings.Contains(err.Error(), "refused-secret-pw") {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestOpenPingAndSession(t *testing.T) {
	dsn := pgtest.DSN(t)
	cfg := configFromDSN(t, dsn)
	// Database defaults must not leak into dinmo's sessions.
	database, ok := cfg.Settings[SettingDatabase].(string)
	if !ok {
		t.Fatalf("database setting is a %T, want string", cfg.Settings[SettingDatabase])
	}
	admin := openPG(t, cfg)
	exec(t, admin.DB(), "ALTER DATABASE "+admin.Dialect().QuoteIdent(database)+
		" SET timezone = 'America/New_York'")
	_ = admin.Close()

	cfg.Settings[SettingApplicationName] = "dinmo-test"
	w := openPG(t, cfg)
	if w.Engine() != warehouse.Postgres || w.Dialect().Engine() != warehouse.Postgres {
		t.Error("wrong engine")
	}
	if err := w.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	var tz, dateStyle, scs, app string
	if err := w.DB().QueryRowContext(t.Context(), "SELECT current_setting('TimeZone'), current_setting('DateStyle'), current_setting('standard_conforming_strings'), current_setting('application_name')").
		Scan(&tz, &dateStyle, &scs, &app); err != nil {
		t.Fatal(err)
	}
	if tz != "UTC" || dateStyle != "ISO, MDY" || scs != "on" || app != "dinmo-test" {
		t.Errorf("session: TimeZone %q DateStyle %q standard_conforming_strings %q application_name %q", tz, dateStyle, scs, app)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := w.Ping(context.Background()); err == nil {
		t.Error("Ping after Close succeeded")
	}
}

func TestUnknownDatabase(t *testing.T) {
	cfg := configFromDSN(t, pgtest.DSN(t))
	cfg.Settings[SettingDatabase] = "dinmo_no_such_database"
	_, err := New().Open(context.Background(), cfg, nil)
	if err == nil {
		t.Fatal("Open of an unknown database succeeded")
	}
	if connectors.CategoryOf(err) != connectors.CategoryNotFound || connectors.IsRetryable(err) {
		t.Errorf("category %s retryable %v, want permanent not_found: %v", connectors.CategoryOf(err), connectors.IsRetryable(err), err)
	}
	t.Logf("unknown database error: %v", err)
	if !strings.Contains(err.Error(), "dinmo_no_such_database") {
		t.Errorf("error does not name the database: %v", err)
	}
}

// TestBadPassword needs password authentication. pgtest's throwaway cluster trusts every
// local connection, so the test switches its pg_hba.conf to scram-sha-256 for one role of its
// own (the cluster belongs to this test process). Against a TEST_PG_DSN server it only runs if
// that server already checks passwords.
func TestBadPassword(t *testing.T) {
	dsn := pgtest.DSN(t)
	cfg := configFromDSN(t, dsn)
	admin := openPG(t, cfg)
	const role = "dinmo_pw_test"
	const goodPassword = "C0rrect-Horse-pw"
	const badPassword = "Wr0ng-Secret-pw"
	exec(t, admin.DB(),
		"DROP ROLE IF EXISTS "+role,
		"CREATE ROLE "+role+" LOGIN PASSWORD "+admin.Dialect().QuoteString(goodPassword))
	t.Cleanup(func() { _, _ = admin.DB().ExecContext(context.Background(), "DROP ROLE IF EXISTS "+role) })

	userCfg := func(password string) warehouse.Config {
		c := configFromDSN(t, dsn)
		c.Settings[SettingUser] = role
		c.Credentials = map[string]string{CredentialPassword: password}
		return c
	}
	rejected := func() bool {
		w, err := New().Open(context.Background(), userCfg(badPassword), nil)
		if err == nil {
			_ = w.Close()
			return false
		}
		return true
	}
	if !rejected() {
		if os.Getenv(pgtest.EnvDSN) != "" {
			t.Skipf("the server at %s accepts any password (trust authentication); cannot test a bad password", pgtest.EnvDSN)
		}
		requirePasswordAuth(t, admin, role)
		deadline := time.Now().Add(10 * time.Second)
		for !rejected() {
			if time.Now().After(deadline) {
				t.Fatal("pg_hba.conf reload did not take effect")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	_, err := New().Open(context.Background(), userCfg(badPassword), nil)
	if err == nil {
		t.Fatal("Open with a bad password succeeded")
	}
	if connectors.CategoryOf(err) != connectors.CategoryCredentials || connectors.IsRetryable(err) {
		t.Errorf("category %s retryable %v, want permanent credentials: %v", connectors.CategoryOf(err), connectors.IsRetryable(err), err)
	}
	if strings.Contains(err.Error(), badPassword) || strings.Contains(err.Error(), goodPassword) {
		t.Errorf("error leaks the password: %v", err)
	}
	t.Logf("bad password error: %v", err)
	if !strings.Contains(err.Error(), "28P01") {
		t.Errorf("error does not keep the server's message: %v", err)
	}

	w := openPG(t, userCfg(goodPassword))
	if err := w.Ping(context.Background()); err != nil {
		t.Fatalf("Ping with the right password: %v", err)
	}
}

// requirePasswordAuth rewrites the throwaway cluster's pg_hba.conf so that role must log in
// with a password over TCP, everything else staying trusted, and reloads it.
func requirePasswordAuth(t *testing.T, admin *Warehouse, role string) {
	t.Helper()
	var hbaFile string
	if err := admin.DB().QueryRowContext(t.Context(), "SHOW hba_file").Scan(&hbaFile); err != nil {
		t.Fatal(err)
	}
	lines := []string{
		"local all all trust",
		"host all " + role + " 127.0.0.1/32 scram-sha-256",
		"host all " + role + " ::1/128 scram-sha-256",
		"host all all 127.0.0.1/32 trust",
		"host all all ::1/128 trust",
	}
	d := admin.Dialect()
	quoted := make([]string, len(lines))
	for i, l := range lines {
		quoted[i] = d.QuoteString(l)
	}
	exec(t, admin.DB(),
		"COPY (SELECT unnest(ARRAY["+strings.Join(quoted, ", ")+"])) TO "+d.QuoteString(hbaFile),
		"SELECT pg_reload_conf()")
	var bad int
	if err := admin.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL").Scan(&bad); err != nil || bad != 0 {
		t.Fatalf("pg_hba.conf rewrite: %d bad rules, %v", bad, err)
	}
}

func TestQueryColumns(t *testing.T) {
	w := openPG(t, configFromDSN(t, pgtest.DSN(t)))
	exec(t, w.DB(),
		"CREATE TYPE mood AS ENUM ('happy', 'sad')",
		"CREATE DOMAIN email_d AS text",
		"CREATE DOMAIN count_d AS int8")
	q := `SELECT 1::int2 a, 1::int4 b, 1::int8 c, 1.5::numeric(10,2) d, 1.5::float4 e, 1.5::float8 f,
  true g, DATE '2024-01-01' h, now()::timestamp i, now() j, 'x'::text k, 'x'::varchar(5) l,
  'x'::char(3) m, gen_random_uuid() n, '{}'::json o, '{}'::jsonb p, 'happy'::mood q,
  'a@b'::email_d r, 3::count_d s, ARRAY[1] t, interval '1 day' u, 'x'::bytea v -- comment;
;`
	cols, err := w.QueryColumns(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		typ string
		cat warehouse.TypeCategory
	}{
		{"int2", warehouse.TypeInteger}, {"int4", warehouse.TypeInteger}, {"int8", warehouse.TypeInteger},
		{"numeric", warehouse.TypeNumber}, {"float4", warehouse.TypeNumber}, {"float8", warehouse.TypeNumber},
		{"bool", warehouse.TypeBoolean}, {"date", warehouse.TypeDate}, {"timestamp", warehouse.TypeTimestamp},
		{"timestamptz", warehouse.TypeTimestamp}, {"text", warehouse.TypeString}, {"varchar", warehouse.TypeString},
		{"bpchar", warehouse.TypeString}, {"uuid", warehouse.TypeString}, {"json", warehouse.TypeOther},
		{"jsonb", warehouse.TypeOther}, {"mood", warehouse.TypeString},
		// PostgreSQL describes a domain column by its base type.
		{"text", warehouse.TypeString}, {"int8", warehouse.TypeInteger}, {"_int4", warehouse.TypeOther}, {"interval", warehouse.TypeOther},
		{"bytea", warehouse.TypeOther},
	}
	if len(cols) != len(want) {
		t.Fatalf("got %d columns, want %d: %+v", len(cols), len(want), cols)
	}
	for i, c := range cols {
		if c.Name != string(rune('a'+i)) || c.DatabaseType != want[i].typ || c.Category != want[i].cat {
			t.Errorf("column %d = %+v, want name %c type %s category %s", i, c, 'a'+i, want[i].typ, want[i].cat)
		}
	}

	// Nothing in the query runs (LIMIT 0), and what could write is refused.
	exec(t, w.DB(), "CREATE TABLE counter (n int)", "CREATE FUNCTION bump() RETURNS int LANGUAGE sql AS 'INSERT INTO counter VALUES (1) RETURNING n'")
	if _, err := w.QueryColumns(context.Background(), "SELECT bump() AS n"); err != nil {
		t.Errorf("QueryColumns(SELECT bump()): %v", err)
	}
	if _, err := w.QueryColumns(context.Background(), "WITH x AS (INSERT INTO counter VALUES (2) RETURNING n) SELECT * FROM x"); err == nil {
		t.Error("QueryColumns accepted a data-modifying query")
	}
	var n int
	if err := w.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM counter").Scan(&n); err != nil || n != 0 {
		t.Errorf("QueryColumns wrote %d rows (%v)", n, err)
	}

	errs := []struct {
		query    string
		category connectors.Category
		contains string
	}{
		{"SELEC 1", connectors.CategoryConfiguration, "syntax error"},
		{"SELECT * FROM no_such_table", connectors.CategoryNotFound, "no_such_table"},
		{"SELECT no_such_column FROM (SELECT 1 AS a) x", connectors.CategoryConfiguration, "no_such_column"},
		{"SELECT 1; DROP TABLE counter", connectors.CategoryConfiguration, "syntax error"},
	}
	for _, tt := range errs {
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
			t.Errorf("QueryColumns(%q): error %q does not keep the server's message (%q)", tt.query, err, tt.contains)
		}
	}
	ok, err := w.RelationExists(context.Background(), "public", "counter")
	if err != nil || !ok {
		t.Errorf("counter table dropped or missing: %v %v", ok, err)
	}
	// A query blocked on a lock past its deadline fails as a retryable timeout.
	locker, err := w.DB().BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = locker.Rollback() }()
	if _, err := locker.ExecContext(t.Context(), "LOCK TABLE counter IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = w.QueryColumns(ctx, "SELECT * FROM counter")
	if err == nil || !connectors.IsRetryable(err) || connectors.CategoryOf(err) != connectors.CategoryTimeout {
		t.Errorf("QueryColumns past its deadline: category %s retryable %v: %v", connectors.CategoryOf(err), connectors.IsRetryable(err), err)
	}
}

func TestRelationExistsAndDDL(t *testing.T) {
	ctx := context.Background()
	w := openPG(t, configFromDSN(t, pgtest.DSN(t)))
	d := w.Dialect()
	for _, s := range warehouse.ManagedSchemas {
		exec(t, w.DB(), d.CreateSchema(s), d.CreateSchema(s))
	}
	exec(t, w.DB(),
		"CREATE TABLE public.people (id int, email text)",
		d.CreateTableAs(warehouse.SchemaDeltaStorage, "run_1", "SELECT * FROM public.people -- c"),
		d.CreateOrReplaceView(warehouse.SchemaSegments, "model_people", "SELECT id FROM public.people"),
		"CREATE MATERIALIZED VIEW public.mv AS SELECT 1 AS x")
	cases := []struct {
		schema, name string
		want         bool
	}{
		{"public", "people", true},
		{warehouse.SchemaDeltaStorage, "run_1", true},
		{warehouse.SchemaSegments, "model_people", true},
		{"public", "mv", true},
		{"public", "PEOPLE", false},
		{"public", "missing", false},
		{"missing_schema", "people", false},
		{`x'; DROP TABLE people; --`, "people", false},
	}
	for _, c := range cases {
		got, err := w.RelationExists(ctx, c.schema, c.name)
		if err != nil || got != c.want {
			t.Errorf("RelationExists(%q, %q) = %v, %v; want %v", c.schema, c.name, got, err, c.want)
		}
	}
	exec(t, w.DB(),
		d.DropView(warehouse.SchemaSegments, "model_people"), d.DropView(warehouse.SchemaSegments, "model_people"),
		d.DropTable(warehouse.SchemaDeltaStorage, "run_1"), d.DropTable(warehouse.SchemaDeltaStorage, "run_1"))
	for _, rel := range [][2]string{{warehouse.SchemaSegments, "model_people"}, {warehouse.SchemaDeltaStorage, "run_1"}} {
		if ok, _ := w.RelationExists(ctx, rel[0], rel[1]); ok {
			t.Errorf("%s.%s still exists after drop", rel[0], rel[1])
		}
	}
	exec(t, w.DB(), d.CreateTableAs(warehouse.SchemaStats, "t", "SELECT 1 AS x"), d.DropSchema(warehouse.SchemaStats), d.DropSchema(warehouse.SchemaStats))
	if ok, _ := w.RelationExists(ctx, warehouse.SchemaStats, "t"); ok {
		t.Error("table survived DropSchema CASCADE")
	}
}

// TestViewChangedUnderPooledConnection: a query read through a pooled connection before a view
// changed its columns reads the new columns afterwards. With server-side statement caching,
// PostgreSQL answers "cached plan must not change result type" instead.
func TestViewChangedUnderPooledConnection(t *testing.T) {
	w := openPG(t, configFromDSN(t, pgtest.DSN(t)))
	ctx := t.Context()
	w.DB().SetMaxOpenConns(1) // one connection: the second query reuses the first one's
	d := w.Dialect()
	for _, q := range []string{d.CreateSchema("s"), d.CreateOrReplaceView("s", "v", "SELECT 1 AS a")} {
		if _, err := w.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	const probe = "SELECT * FROM s.v"
	for i, want := range []string{"a", "a,b"} {
		if i == 1 {
			if err := w.ReplaceView(ctx, "s", "v", "SELECT 'x'::text AS a, 2 AS b"); err != nil {
				t.Fatal(err)
			}
		}
		cols, err := w.QueryColumns(ctx, probe)
		if err != nil {
			t.Fatalf("query columns after change %d: %v", i, err)
		}
		var names []string
		for _, c := range cols {
			names = append(names, c.Name)
		}
		if strings.Join(names, ",") != want {
			t.Fatalf("columns after change %d = %v, want %s", i, names, want)
		}
		var n int
		if err := w.DB().QueryRowContext(ctx, "SELECT count(*) FROM ("+probe+") AS q").Scan(&n); err != nil || n != 1 {
			t.Fatalf("query after change %d: %d rows, %v", i, n, err)
		}
	}
}
