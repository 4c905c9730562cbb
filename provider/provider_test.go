package provider

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for the PostgreSQL checks

	"dinmo/catalog"
	"dinmo/connectors/registry"
	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/duckdb"
	"dinmo/connectors/warehouse/postgres"
	"dinmo/internal/pgtest"
	"dinmo/secrets"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testKey is the provider's encryption_key in acceptance tests.
const testKey = "dinmo-acceptance-test-key-0123456789"

var testAccProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"dinmo": providerserver.NewProtocol6WithError(New("test", registry.Default())()),
}

var testAccVersionChecks = []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_11_0)}

// TestProviderSchema checks that the framework accepts every schema the provider declares
// (write-only maps, per-engine blocks, defaults), without terraform.
func TestProviderSchema(t *testing.T) {
	srv, err := providerserver.NewProtocol6WithError(New("test", registry.Default())())()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.GetProviderSchema(context.Background(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Diagnostics {
		t.Errorf("schema diagnostic: %s: %s", d.Summary, d.Detail)
	}
	for _, name := range []string{"dinmo_workspace", "dinmo_source", "dinmo_model", "dinmo_segment", "dinmo_destination", "dinmo_activation"} {
		if resp.ResourceSchemas[name] == nil {
			t.Errorf("resource %s missing", name)
		}
	}
	src := resp.ResourceSchemas["dinmo_source"]
	if src == nil {
		return
	}
	attrs := map[string]*tfprotov6.SchemaAttribute{}
	for _, a := range src.Block.Attributes {
		attrs[a.Name] = a
	}
	for _, spec := range registry.Default().WarehouseSpecs() {
		if attrs[string(spec.Engine)] == nil {
			t.Errorf("dinmo_source has no block for engine %s", spec.Engine)
		}
	}
	if wo := attrs["credentials_wo"]; wo == nil || !wo.WriteOnly || !wo.Sensitive {
		t.Errorf("credentials_wo must be write-only and sensitive: %+v", wo)
	}
	var walk func(prefix string, attrs []*tfprotov6.SchemaAttribute)
	walk = func(prefix string, attrs []*tfprotov6.SchemaAttribute) {
		for _, a := range attrs {
			if a.Description == "" {
				t.Errorf("attribute %s%s has no description", prefix, a.Name)
			}
			if a.NestedType != nil {
				walk(prefix+a.Name+".", a.NestedType.Attributes)
			}
		}
	}
	walk("provider.", resp.Provider.Block.Attributes)
	for name, s := range resp.ResourceSchemas {
		walk(name+".", s.Block.Attributes)
	}
	for _, name := range []string{"dinmo_destination_platforms", "dinmo_warehouse_engines"} {
		if resp.DataSourceSchemas[name] == nil {
			t.Errorf("data source %s missing", name)
		}
	}
	for name, s := range resp.DataSourceSchemas {
		walk("data."+name+".", s.Block.Attributes)
	}
}

// env is what one acceptance test works against: a fresh SQLite catalog and, optionally, a
// fresh warehouse with seed tables. Its handles let checks look behind Terraform's back.
type env struct {
	t           *testing.T
	ctx         context.Context
	catalogPath string
	store       catalog.Store
	engine      string
	wh          warehouse.Warehouse // admin connection for seeding and checks
	pg          *pgTarget
	sourceBlock string // the engine block of dinmo_source
}

// pgTarget is a fresh PostgreSQL database and a login role with a password that owns nothing
// but may create schemas in it and read the seed tables.
type pgTarget struct {
	adminDSN string
	host     string
	port     uint16
	database string
	role     string
	password string
}

const seedSQL = `CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(200), country VARCHAR(2), age INTEGER, vip BOOLEAN, created_at TIMESTAMP);
INSERT INTO customers VALUES
 (1, 'ana@example.com', 'FR', 34, TRUE, '2024-01-02 03:04:05'),
 (2, 'ben@example.com', 'DE', 28, FALSE, '2024-02-03 04:05:06'),
 (3, 'cleo@example.com', 'FR', 41, FALSE, NULL)`

// newEnv prepares a catalog and, for engine "duckdb" or "postgres", a seeded warehouse.
func newEnv(t *testing.T, engine string) *env {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1 to run it (make testacc)")
	}
	ctx := context.Background()
	dir := t.TempDir()
	e := &env{t: t, ctx: ctx, catalogPath: filepath.Join(dir, "catalog.db"), engine: engine}
	store, err := catalog.Open(ctx, e.catalogURL())
	if err != nil {
		t.Fatalf("open catalog: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	e.store = store

	switch engine {
	case "duckdb":
		path := filepath.Join(dir, "warehouse.duckdb")
		w, err := duckdb.New().Open(ctx, warehouse.Config{Settings: map[string]any{duckdb.SettingPath: path}}, nil)
		if err != nil {
			t.Fatalf("open duckdb: %v", err)
		}
		t.Cleanup(func() { _ = w.Close() })
		e.wh = w
		for _, stmt := range strings.Split(seedSQL, ";") {
			if _, err := w.DB().ExecContext(ctx, stmt); err != nil {
				t.Fatalf("seed duckdb: %v", err)
			}
		}
		e.sourceBlock = fmt.Sprintf("duckdb = {\n    path = %q\n  }", path)
	case "postgres":
		e.pg = newPGTarget(t)
		w, err := postgres.New().Open(ctx, warehouse.Config{Settings: map[string]any{
			"host": e.pg.host, "port": int64(e.pg.port), "database": e.pg.database, "user": "postgres", "sslmode": "disable",
		}}, nil)
		if err != nil {
			t.Fatalf("open postgres as admin: %v", err)
		}
		t.Cleanup(func() { _ = w.Close() })
		e.wh = w
		if _, err := w.DB().ExecContext(ctx, seedSQL); err != nil {
			t.Fatalf("seed postgres: %v", err)
		}
		if _, err := w.DB().ExecContext(ctx, "GRANT SELECT ON customers TO "+pgx.Identifier{e.pg.role}.Sanitize()); err != nil {
			t.Fatalf("grant: %v", err)
		}
		e.sourceBlock = e.pg.block()
	}
	return e
}

func (e *env) catalogURL() string { return "sqlite://" + e.catalogPath }

// providerHCL is the provider block every configuration starts with.
func (e *env) providerHCL() string {
	return fmt.Sprintf("provider \"dinmo\" {\n  catalog_url    = %q\n  encryption_key = %q\n}\n", e.catalogURL(), testKey)
}

// block is the postgres engine block (settings only; credentials are added by the caller).
func (p *pgTarget) block() string {
	return fmt.Sprintf("postgres = {\n    host     = %q\n    port     = %d\n    database = %q\n    user     = %q\n    sslmode  = \"disable\"\n  }",
		p.host, p.port, p.database, p.role)
}

func randomSuffix(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// passwordGroup is the role whose members must authenticate with a password on the throwaway
// cluster (pgtest initialises it with trust authentication).
const passwordGroup = "dinmo_password_users"

var (
	passwordAuthOnce sync.Once
	errPasswordSetup error
)

// newPGTarget creates a database (pgtest) and a login role with a password.
func newPGTarget(t *testing.T) *pgTarget {
	t.Helper()
	dsn := pgtest.DSN(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("parse pgtest DSN: %v", err)
	}
	p := &pgTarget{adminDSN: dsn, host: cfg.Host, port: cfg.Port, database: cfg.Database,
		role: "dinmo_test_" + randomSuffix(t), password: "pw-" + randomSuffix(t) + "-initial"}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if os.Getenv(pgtest.EnvDSN) == "" {
		passwordAuthOnce.Do(func() { errPasswordSetup = requirePasswords(ctx, db) })
		if errPasswordSetup != nil {
			t.Fatalf("enable password authentication on the test cluster: %v", errPasswordSetup)
		}
	}
	role := pgx.Identifier{p.role}.Sanitize()
	stmts := []string{
		"CREATE ROLE " + role + " LOGIN PASSWORD " + quoteLiteral(p.password),
		"GRANT CREATE ON DATABASE " + pgx.Identifier{p.database}.Sanitize() + " TO " + role,
	}
	if os.Getenv(pgtest.EnvDSN) == "" {
		stmts = append(stmts, "GRANT "+pgx.Identifier{passwordGroup}.Sanitize()+" TO "+role)
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", strings.SplitN(s, " PASSWORD", 2)[0], err)
		}
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.ExecContext(ctx, "DROP OWNED BY "+role)
		_, _ = db.ExecContext(ctx, "DROP ROLE IF EXISTS "+role)
	})
	return p
}

// setPassword changes the role's password (behind Terraform's back).
func (p *pgTarget) setPassword(t *testing.T, pw string) {
	t.Helper()
	db, err := sql.Open("pgx", p.adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), "ALTER ROLE "+pgx.Identifier{p.role}.Sanitize()+" PASSWORD "+quoteLiteral(pw)); err != nil {
		t.Fatalf("alter role password: %v", err)
	}
	p.password = pw
}

// passwordsChecked reports whether the server refuses the role with a wrong password (always
// on the throwaway cluster; on a TEST_PG_DSN server, depending on its pg_hba.conf).
func (p *pgTarget) passwordsChecked() bool {
	u := fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable", p.role, "wrong-"+p.password, p.host, p.port, p.database)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, u)
	if err == nil {
		_ = c.Close(ctx)
		return false
	}
	return true
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// requirePasswords makes the throwaway cluster ask members of passwordGroup for their password
// (scram-sha-256), ahead of its trust rules, and reloads its configuration.
func requirePasswords(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '`+passwordGroup+`') THEN CREATE ROLE `+passwordGroup+` NOLOGIN; END IF;
END $$`); err != nil {
		return fmt.Errorf("create group: %w", err)
	}
	var hbaFile, content string
	if err := db.QueryRowContext(ctx, "SELECT current_setting('hba_file'), pg_read_file(current_setting('hba_file'))").Scan(&hbaFile, &content); err != nil {
		return fmt.Errorf("read pg_hba.conf: %w", err)
	}
	lines := []string{
		"local all +" + passwordGroup + " scram-sha-256",
		"host all +" + passwordGroup + " all scram-sha-256",
	}
	for _, l := range strings.Split(content, "\n") {
		if s := strings.TrimSpace(l); s != "" && !strings.HasPrefix(s, "#") && !strings.Contains(s, passwordGroup) {
			lines = append(lines, strings.ReplaceAll(s, "\t", " "))
		}
	}
	quoted := make([]string, len(lines))
	for i, l := range lines {
		quoted[i] = quoteLiteral(l)
	}
	//nolint:gosec // G202: test setup; every value is quoted with quoteLiteral
	q := "COPY (SELECT l FROM unnest(ARRAY[" + strings.Join(quoted, ",") + "]::text[]) WITH ORDINALITY AS t(l, n) ORDER BY n) TO " +
		quoteLiteral(hbaFile) + " WITH (FORMAT csv, DELIMITER E'\\x01', QUOTE E'\\x02')"
	if _, err := db.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("write pg_hba.conf: %w", err)
	}
	var ok bool
	if err := db.QueryRowContext(ctx, "SELECT pg_reload_conf()").Scan(&ok); err != nil || !ok {
		return fmt.Errorf("reload configuration: %v %w", ok, err)
	}
	// The reload is asynchronous: wait until the rules are in force.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pg_hba_file_rules WHERE '+"+passwordGroup+"' = ANY(user_name)").Scan(&n); err == nil && n > 0 {
			time.Sleep(200 * time.Millisecond)
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("pg_hba.conf rules not loaded after 10s")
}

// schemaExists reports whether a schema exists in the warehouse.
func (e *env) schemaExists(name string) (bool, error) {
	var n int
	q := "SELECT count(*) FROM information_schema.schemata WHERE schema_name = " + e.wh.Dialect().Placeholder(1)
	if err := e.wh.DB().QueryRowContext(e.ctx, q, name).Scan(&n); err != nil {
		return false, err
	}
	return n > 0, nil
}

// dropView drops a view of dinmo_segments behind Terraform's back (with the views depending on
// it on PostgreSQL, as a user running DROP ... CASCADE would).
func (e *env) dropView(name string) {
	e.t.Helper()
	stmt := e.wh.Dialect().DropView(warehouse.SchemaSegments, name)
	if e.engine == "postgres" {
		stmt += " CASCADE"
	}
	if _, err := e.wh.DB().ExecContext(e.ctx, stmt); err != nil {
		e.t.Fatalf("drop view %s: %v", name, err)
	}
}

// checkViews checks that views of dinmo_segments exist (or not).
func (e *env) checkViews(exist bool, names ...string) func(*terraform.State) error {
	return func(*terraform.State) error {
		for _, n := range names {
			ok, err := e.wh.RelationExists(e.ctx, warehouse.SchemaSegments, n)
			if err != nil {
				return err
			}
			if ok != exist {
				return fmt.Errorf("view %s.%s: exists = %v, want %v", warehouse.SchemaSegments, n, ok, exist)
			}
		}
		return nil
	}
}

// checkDestroy checks, after destroy, that every resource is gone from the catalog and, when
// the test has a warehouse, that dinmo's managed schemas are gone too.
func (e *env) checkDestroy(s *terraform.State) error {
	for _, rs := range s.RootModule().Resources {
		id := rs.Primary.ID
		var err error
		switch rs.Type {
		case "dinmo_workspace":
			_, err = e.store.GetWorkspace(e.ctx, id)
		case "dinmo_source":
			_, err = e.store.GetSource(e.ctx, id)
		case "dinmo_model":
			_, err = e.store.GetModel(e.ctx, id)
		case "dinmo_segment":
			_, err = e.store.GetSegment(e.ctx, id)
		case "dinmo_destination":
			_, err = e.store.GetDestination(e.ctx, id)
		case "dinmo_activation":
			_, err = e.store.GetActivation(e.ctx, id)
		default:
			continue
		}
		if err == nil {
			return fmt.Errorf("%s %s is still in the catalog", rs.Type, id)
		}
		if !errors.Is(err, catalog.ErrNotFound) {
			return fmt.Errorf("%s %s: %w", rs.Type, id, err)
		}
	}
	if e.wh == nil {
		return nil
	}
	for _, schema := range warehouse.ManagedSchemas {
		ok, err := e.schemaExists(schema)
		if err != nil {
			return err
		}
		if ok {
			return fmt.Errorf("managed schema %s still exists after destroy", schema)
		}
	}
	var n int
	if err := e.wh.DB().QueryRowContext(e.ctx, "SELECT count(*) FROM customers").Scan(&n); err != nil || n != 3 {
		return fmt.Errorf("the user's table must survive destroy: count = %d, err = %w", n, err)
	}
	return nil
}

// checkSecretsAbsent fails when any secret appears in the state, in the catalog file's bytes
// (database, WAL, shared memory) or in the catalog's credential values.
func (e *env) checkSecretsAbsent(secretValues ...string) func(*terraform.State) error {
	return func(s *terraform.State) error {
		for name, rs := range s.RootModule().Resources {
			for k, v := range rs.Primary.Attributes {
				for _, sec := range secretValues {
					if strings.Contains(v, sec) {
						return fmt.Errorf("secret found in state: %s.%s", name, k)
					}
				}
			}
		}
		for _, p := range []string{e.catalogPath, e.catalogPath + "-wal", e.catalogPath + "-shm"} {
			b, err := os.ReadFile(p) //nolint:gosec // G304: the test's own catalog files
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return err
			}
			for _, sec := range secretValues {
				if bytes.Contains(b, []byte(sec)) {
					return fmt.Errorf("secret found in catalog file %s", filepath.Base(p))
				}
			}
		}
		var stored []map[string]string
		for _, rs := range s.RootModule().Resources {
			switch rs.Type {
			case "dinmo_source":
				src, err := e.store.GetSource(e.ctx, rs.Primary.ID)
				if err != nil {
					return err
				}
				stored = append(stored, src.Credentials)
			case "dinmo_destination":
				d, err := e.store.GetDestination(e.ctx, rs.Primary.ID)
				if err != nil {
					return err
				}
				stored = append(stored, d.Credentials)
			}
		}
		for _, creds := range stored {
			for k, v := range creds {
				if !secrets.IsSealed(v) && secrets.ValidateReference(v) != nil {
					return fmt.Errorf("catalog credential %q is neither sealed nor a reference", k)
				}
				for _, sec := range secretValues {
					if strings.Contains(v, sec) {
						return fmt.Errorf("secret found in catalog credential %q", k)
					}
				}
			}
		}
		audit, err := e.store.ListAudit(e.ctx, catalog.AuditFilter{Limit: 1000})
		if err != nil {
			return err
		}
		for _, a := range audit {
			text := fmt.Sprint(a)
			for _, sec := range secretValues {
				if strings.Contains(text, sec) {
					return fmt.Errorf("secret found in audit entry %d", a.ID)
				}
			}
		}
		return nil
	}
}

// importID returns an ImportStateIdFunc giving "<workspace name>/<name>".
func importID(workspace, name string) func(*terraform.State) (string, error) {
	return func(*terraform.State) (string, error) { return workspace + "/" + name, nil }
}

// stateID returns a resource's id from the state.
func stateID(s *terraform.State, resourceName string) (string, error) {
	const key = "id"
	rs, ok := s.RootModule().Resources[resourceName]
	if !ok {
		return "", fmt.Errorf("%s not in state", resourceName)
	}
	v, ok := rs.Primary.Attributes[key]
	if !ok {
		return "", fmt.Errorf("%s has no attribute %s", resourceName, key)
	}
	return v, nil
}

// expectError builds an ExpectError pattern matching the parts in order, whatever white space
// terraform's line wrapping puts between words.
func expectError(parts ...string) *regexp.Regexp {
	quoted := make([]string, len(parts))
	for i, p := range parts {
		words := strings.Fields(p)
		for j, w := range words {
			words[j] = regexp.QuoteMeta(w)
		}
		quoted[i] = strings.Join(words, `\s+`)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(quoted, ".*"))
}

// logToFile sends the provider's and terraform's logs (TRACE) to a file of the test, for
// tests that check what is logged.
func logToFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(os.Getenv("DEBUG_LOG_DIR"), "tf.log")
	if os.Getenv("DEBUG_LOG_DIR") == "" {
		p = filepath.Join(t.TempDir(), "tf.log")
	}
	t.Setenv("TF_ACC_LOG_PATH", p)
	t.Setenv("TF_LOG", "TRACE")
	return p
}

// checkLogClean fails when any secret appears in the log file, and when the log does not hold
// the provider's own lines (a log that captured nothing would prove nothing).
func checkLogClean(t *testing.T, logPath, mustContain string, secretValues ...string) {
	t.Helper()
	b, err := os.ReadFile(logPath) //nolint:gosec // the test's own temp file
	if err != nil {
		t.Fatalf("read log: %v", err)
	}
	if !bytes.Contains(b, []byte(mustContain)) {
		t.Fatalf("the log (%d bytes) does not contain %q: provider logs were not captured", len(b), mustContain)
	}
	for i, sec := range secretValues {
		for _, line := range bytes.Split(b, []byte("\n")) {
			if bytes.Contains(line, []byte(sec)) {
				shown := strings.ReplaceAll(string(line), sec, "<SECRET>")
				if len(shown) > 600 {
					shown = shown[:600] + "..."
				}
				t.Errorf("secret #%d appears in the log: %s", i, shown)
				break
			}
		}
	}
}

// TestAccProvider_config checks the provider configuration errors: no catalog anywhere, and an
// encryption key too short to use.
func TestAccProvider_config(t *testing.T) {
	e := newEnv(t, "")
	t.Setenv(catalog.EnvURL, "")
	t.Setenv(secrets.EnvKey, "")
	ws := "\nresource \"dinmo_workspace\" \"ws\" {\n  name = \"w\"\n}\n"
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   testAccVersionChecks,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             e.checkDestroy,
		Steps: []resource.TestStep{
			{
				Config:      "provider \"dinmo\" {}\n" + ws,
				PlanOnly:    true,
				ExpectError: expectError("Missing Catalog URL", "catalog_url", catalog.EnvURL),
			},
			{
				Config:      fmt.Sprintf("provider \"dinmo\" {\n  catalog_url    = %q\n  encryption_key = \"short\"\n}\n", e.catalogURL()) + ws,
				PlanOnly:    true,
				ExpectError: expectError("Invalid Encryption Key", "at least 16 characters"),
			},
			{
				// The environment is the fallback of both settings.
				PreConfig: func() {
					t.Setenv(catalog.EnvURL, e.catalogURL())
					t.Setenv(secrets.EnvKey, testKey)
				},
				Config: "provider \"dinmo\" {\n  actor = \"ci-pipeline\"\n}\n" + ws,
				Check: func(s *terraform.State) error {
					id, err := stateID(s, "dinmo_workspace.ws")
					if err != nil {
						return err
					}
					audit, err := e.store.ListAudit(e.ctx, catalog.AuditFilter{ObjectID: id})
					if err != nil {
						return err
					}
					if len(audit) == 0 || audit[0].Actor != "ci-pipeline" {
						return fmt.Errorf("want an audit entry by ci-pipeline, got %+v", audit)
					}
					return nil
				},
			},
		},
	})
}
