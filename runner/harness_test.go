package runner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"dinmo/catalog"
	"dinmo/connectors/destination"
	"dinmo/connectors/destination/connectortest"
	"dinmo/connectors/destination/file"
	"dinmo/connectors/destination/webhook"
	"dinmo/connectors/registry"
	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/duckdb"
	"dinmo/connectors/warehouse/postgres"
	"dinmo/internal/pgtest"
	"dinmo/runner"
	"dinmo/secrets"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Names used by every fixture.
const (
	wsName   = "shop"
	actName  = "vip_to_hook"
	viewMdl  = "model_customers"
	viewSeg  = "segment_vip"
	keyParam = "test-secret-key-0123456789"
)

// engine says which warehouse a fixture uses.
type engine string

const (
	onDuckDB   engine = "duckdb"
	onPostgres engine = "postgres"
)

// fixture is a catalog (SQLite in a temp dir), a warehouse with a customers table and the
// model and segment views the provider would create, a fake webhook receiver, and one
// activation of the segment to the webhook.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	dir    string
	store  catalog.Store
	wh     warehouse.Warehouse
	fake   *connectortest.WebhookServer
	sealer *secrets.Sealer
	reg    *registry.Registry
	logs   *connectortest.SyncBuffer

	ws    *catalog.Workspace
	src   *catalog.Source
	model *catalog.Model
	seg   *catalog.Segment
	dest  *catalog.Destination
	act   *catalog.Activation
}

// fixtureOptions adjusts a fixture.
type fixtureOptions struct {
	engine    engine
	mode      destination.SyncMode
	batchSize int64
	rows      int // customers 1..rows; rows with score >= 50 are in the segment
	webhook   connectortest.WebhookConfig
	// destSettings and destCreds override the webhook destination's (sealed by the fixture).
	destSettings map[string]any
	destCreds    map[string]string
	// pgPassword is the source's password when the test server's DSN has none.
	pgPassword string
	// catalogURL, when set, is the catalog (a PostgreSQL DSN for several runners); default a
	// SQLite file in the fixture's directory.
	catalogURL string
}

func newFixture(t *testing.T, o fixtureOptions) *fixture {
	t.Helper()
	if o.engine == "" {
		o.engine = onDuckDB
	}
	if o.mode == "" {
		o.mode = destination.ModeMirror
	}
	if o.batchSize == 0 {
		o.batchSize = 10
	}
	if o.rows == 0 {
		o.rows = 20
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	f := &fixture{t: t, ctx: catalog.WithActor(ctx, "terraform"), dir: t.TempDir(), logs: &connectortest.SyncBuffer{}}
	var err error
	f.sealer, err = secrets.NewSealer(keyParam)
	must(t, err)
	if o.catalogURL == "" {
		o.catalogURL = "sqlite://" + filepath.Join(f.dir, "catalog.db")
	}
	f.store, err = catalog.Open(f.ctx, o.catalogURL)
	must(t, err)
	t.Cleanup(func() { _ = f.store.Close() })
	f.reg, err = registry.New(registry.Warehouses(), []destination.Platform{
		file.New(),
		webhook.New(webhook.WithBackoff(time.Millisecond, 5*time.Millisecond)),
	})
	must(t, err)
	f.fake = connectortest.NewWebhookServer(t, o.webhook)

	f.ws = &catalog.Workspace{Name: wsName}
	must(t, f.store.CreateWorkspace(f.ctx, f.ws))
	switch o.engine {
	case onDuckDB:
		path := filepath.Join(f.dir, "warehouse.duckdb")
		f.wh, err = duckdb.New().Open(f.ctx, warehouse.Config{Settings: map[string]any{duckdb.SettingPath: path}}, nil)
		must(t, err)
		f.src = &catalog.Source{WorkspaceID: f.ws.ID, Name: "lake", Engine: string(warehouse.DuckDB),
			Settings: map[string]any{duckdb.SettingPath: path}, Credentials: map[string]string{}}
	case onPostgres:
		cfg, err := pgx.ParseConfig(pgtest.DSN(t))
		must(t, err)
		settings := map[string]any{
			postgres.SettingHost: cfg.Host, postgres.SettingPort: int64(cfg.Port),
			postgres.SettingDatabase: cfg.Database, postgres.SettingUser: cfg.User, postgres.SettingSSLMode: "disable",
		}
		password := cfg.Password
		if password == "" {
			password = o.pgPassword // the throwaway cluster trusts local connections
		}
		f.wh, err = postgres.New().Open(f.ctx, warehouse.Config{Settings: settings,
			Credentials: map[string]string{postgres.CredentialPassword: password}}, nil)
		must(t, err)
		sealed, err := f.sealer.Seal(password)
		must(t, err)
		f.src = &catalog.Source{WorkspaceID: f.ws.ID, Name: "pg", Engine: string(warehouse.Postgres), Settings: settings,
			Credentials: map[string]string{postgres.CredentialPassword: sealed}}
	}
	t.Cleanup(func() { _ = f.wh.Close() })
	must(t, f.store.CreateSource(f.ctx, f.src))

	d := f.wh.Dialect()
	for _, s := range []string{"src", warehouse.SchemaSegments, warehouse.SchemaDeltaStorage} {
		f.exec(d.CreateSchema(s))
	}
	f.exec("CREATE TABLE " + d.Qualified("src", "customers") + " (id INTEGER, email VARCHAR(200), name VARCHAR(200), score INTEGER)")
	for i := 1; i <= o.rows; i++ {
		f.insert(i, 50+i%50)
	}
	f.exec(d.CreateOrReplaceView(warehouse.SchemaSegments, viewMdl, "SELECT * FROM "+d.Qualified("src", "customers")))
	f.exec(d.CreateOrReplaceView(warehouse.SchemaSegments, viewSeg,
		"SELECT * FROM "+d.Qualified(warehouse.SchemaSegments, viewMdl)+" WHERE score >= 50"))

	f.model = &catalog.Model{WorkspaceID: f.ws.ID, SourceID: f.src.ID, Name: "customers", Type: catalog.ModelUsers,
		Table: "src.customers", PrimaryKey: "id", ViewName: viewMdl,
		Columns: []catalog.Column{{Name: "id", Type: "INTEGER", Category: "integer"}, {Name: "email", Type: "VARCHAR", Category: "string"},
			{Name: "name", Type: "VARCHAR", Category: "string"}, {Name: "score", Type: "INTEGER", Category: "integer"}}}
	must(t, f.store.CreateModel(f.ctx, f.model))
	f.seg = &catalog.Segment{WorkspaceID: f.ws.ID, ModelID: f.model.ID, Name: "vip",
		Conditions:  json.RawMessage(`{"match":"all","conditions":[{"column":"score","operator":"gte","value":"50"}]}`),
		CompiledSQL: "SELECT * FROM model_customers WHERE score >= 50", ViewName: viewSeg}
	must(t, f.store.CreateSegment(f.ctx, f.seg))

	settings := map[string]any{webhook.SettingURL: f.fake.URL(), webhook.SettingBatchSize: o.batchSize}
	for k, v := range o.destSettings {
		settings[k] = v
	}
	creds := map[string]string{}
	for k, v := range o.destCreds {
		sealed, err := f.sealer.Seal(v)
		must(t, err)
		creds[k] = sealed
	}
	f.dest = &catalog.Destination{WorkspaceID: f.ws.ID, Name: "hook", Platform: webhook.Name, Settings: settings, Credentials: creds}
	must(t, f.store.CreateDestination(f.ctx, f.dest))
	f.act = &catalog.Activation{WorkspaceID: f.ws.ID, Name: actName, SegmentID: f.seg.ID, DestinationID: f.dest.ID,
		Service: webhook.ServiceRecords, RunType: string(destination.RunDelta), SyncMode: string(o.mode),
		Mappings: []catalog.Mapping{{Column: "email", Field: "email"}, {Column: "name", Field: "name"}, {Column: "score", Field: "score"}},
		Enabled:  true}
	must(t, f.store.CreateActivation(f.ctx, f.act))
	return f
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) exec(q string, args ...any) {
	f.t.Helper()
	if _, err := f.wh.DB().ExecContext(f.ctx, q, args...); err != nil {
		f.t.Fatalf("%v\n%s", err, q)
	}
}

func (f *fixture) table() string { return f.wh.Dialect().Qualified("src", "customers") }

// insert adds customer i with a score.
func (f *fixture) insert(i, score int) {
	f.t.Helper()
	d := f.wh.Dialect()
	f.exec("INSERT INTO "+f.table()+" (id, email, name, score) VALUES ("+d.Placeholder(1)+", "+d.Placeholder(2)+", "+
		d.Placeholder(3)+", "+d.Placeholder(4)+")", i, fmt.Sprintf("c%d@example.com", i), fmt.Sprintf("Customer %d", i), score)
}

func (f *fixture) update(i int, email string) {
	f.t.Helper()
	d := f.wh.Dialect()
	f.exec("UPDATE "+f.table()+" SET email = "+d.Placeholder(1)+" WHERE id = "+d.Placeholder(2), email, i)
}

func (f *fixture) delete(i int) {
	f.t.Helper()
	f.exec("DELETE FROM "+f.table()+" WHERE id = "+f.wh.Dialect().Placeholder(1), i)
}

// newRunner returns a runner on the fixture's catalog with quick retries and a debug logger
// writing into f.logs.
func (f *fixture) newRunner(mod ...func(*runner.Options)) *runner.Runner {
	f.t.Helper()
	o := runner.Options{
		Store: f.store, Registry: f.reg, Sealer: f.sealer,
		Logger:       slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		BatchBackoff: time.Millisecond, MaxBatchBackoff: 5 * time.Millisecond,
	}
	for _, m := range mod {
		m(&o)
	}
	r, err := runner.New(o)
	must(f.t, err)
	return r
}

// run runs the activation once and fails the test on error.
func (f *fixture) run(r *runner.Runner, opts runner.RunOptions) *runner.Result {
	f.t.Helper()
	res, err := r.Run(f.ctx, f.act.ID, opts)
	if err != nil {
		f.t.Fatalf("run: %v\nlogs:\n%s", err, f.logs.String())
	}
	return res
}

// sentRecord is one record a run delivered to the fake.
type sentRecord struct {
	Key string
	Op  string
}

// sent returns the records the fake accepted for a run, sorted by key.
func (f *fixture) sent(runID string) []sentRecord {
	var out []sentRecord
	for _, req := range f.fake.Accepted() {
		if req.Payload.RunID != runID {
			continue
		}
		for _, r := range req.Payload.Records {
			out = append(out, sentRecord{Key: r.Key, Op: r.Op})
		}
	}
	sort.Slice(out, func(i, j int) bool { return keyLess(out[i].Key, out[j].Key) })
	return out
}

// keyLess orders numeric keys numerically.
func keyLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// members returns the expected destination state: segment members (score >= 50) with their
// fields as the fake stores them (JSON numbers are float64).
func (f *fixture) members() map[string]map[string]any {
	f.t.Helper()
	rows, err := f.wh.DB().QueryContext(f.ctx, "SELECT id, email, name, score FROM "+f.table()+" WHERE score >= 50 AND id IS NOT NULL")
	must(f.t, err)
	defer rows.Close()
	out := map[string]map[string]any{}
	for rows.Next() {
		var id, score int64
		var email, name string
		must(f.t, rows.Scan(&id, &email, &name, &score))
		out[fmt.Sprint(id)] = map[string]any{"email": email, "name": name, "score": float64(score)}
	}
	must(f.t, rows.Err())
	return out
}

// checkState compares the fake's state with the warehouse's segment members.
func (f *fixture) checkState() {
	f.t.Helper()
	got, want := f.fake.State(), f.members()
	if !reflect.DeepEqual(got, want) {
		f.t.Fatalf("destination state differs from the segment:\n got %d records: %v\nwant %d records: %v", len(got), got, len(want), want)
	}
	if v := f.fake.Violations(); len(v) > 0 {
		f.t.Fatalf("webhook contract violations: %v", v)
	}
}

func keysOf(recs []sentRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Key
	}
	return out
}

func wantRun(t *testing.T, res *runner.Result, status string, counts map[string]int64) {
	t.Helper()
	r := res.Run
	got := map[string]int64{
		"evaluated": r.RowsEvaluated, "skipped": r.RowsSkipped, "added": r.Added, "changed": r.Changed,
		"removed": r.Removed, "acked": r.Acknowledged, "rejected": r.Rejected, "retryable": r.Retryable,
		"sent": res.Sent, "not_sent": res.NotSent,
	}
	if r.Status != status {
		t.Errorf("status = %s, want %s (error %s: %s; warnings %v)", r.Status, status, r.ErrorCategory, r.ErrorMessage, r.Warnings)
	}
	for k, v := range counts {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
}

func contains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
