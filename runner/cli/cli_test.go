package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dinmo/catalog"
	"dinmo/connectors/destination"
	"dinmo/connectors/destination/connectortest"
	"dinmo/connectors/destination/webhook"
	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/duckdb"
	"dinmo/runner/cli"
	"dinmo/secrets"
)

// envCLI makes the test binary behave as dinmo-runner (the kill test runs it as a subprocess).
const envCLI = "DINMO_RUNNER_TEST_AS_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(envCLI) == "1" {
		os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

const (
	secretKey = "cli-test-secret-key-0123456789"
	actRef    = "shop/vip_to_hook"
)

// cliFixture is a SQLite catalog, a DuckDB warehouse with customers 1..rows (all in segment
// "vip": score >= 50) and an activation shop/vip_to_hook (mirror) to a fake webhook, reached
// through a proxy that adds latency per request.
type cliFixture struct {
	t          *testing.T
	ctx        context.Context
	dir        string
	catalogURL string
	whPath     string
	store      catalog.Store
	fake       *connectortest.WebhookServer
	act        *catalog.Activation
}

// cliBatchSize is the webhook's batch size in CLI tests.
const cliBatchSize = 10

func newCLIFixture(t *testing.T, rows int, latency time.Duration) *cliFixture {
	t.Helper()
	const batchSize = int64(cliBatchSize)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	dir := t.TempDir()
	f := &cliFixture{t: t, ctx: catalog.WithActor(ctx, "terraform"), dir: dir,
		catalogURL: "sqlite://" + filepath.Join(dir, "catalog.db"), whPath: filepath.Join(dir, "warehouse.duckdb")}
	var err error
	f.store, err = catalog.Open(f.ctx, f.catalogURL)
	must(t, err)
	t.Cleanup(func() { _ = f.store.Close() })
	f.fake = connectortest.NewWebhookServer(t, connectortest.WebhookConfig{MaxBatchSize: int(batchSize)})
	target, err := url.Parse(f.fake.BaseURL())
	must(t, err)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorLog = log.New(io.Discard, "", 0) // a killed runner aborts requests in flight
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(latency)
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(slow.Close)

	f.withWarehouse(func(w warehouse.Warehouse) {
		d := w.Dialect()
		for _, s := range []string{"src", warehouse.SchemaSegments, warehouse.SchemaDeltaStorage} {
			f.exec(w, d.CreateSchema(s))
		}
		f.exec(w, "CREATE TABLE src.customers AS SELECT i AS id, 'c' || i || '@example.com' AS email, 50 + i % 50 AS score FROM range(1, "+fmt.Sprint(rows+1)+") t(i)")
		f.exec(w, d.CreateOrReplaceView(warehouse.SchemaSegments, "model_customers", "SELECT * FROM src.customers"))
		f.exec(w, d.CreateOrReplaceView(warehouse.SchemaSegments, "segment_vip", "SELECT * FROM dinmo_segments.model_customers WHERE score >= 50"))
	})

	ws := &catalog.Workspace{Name: "shop"}
	must(t, f.store.CreateWorkspace(f.ctx, ws))
	src := &catalog.Source{WorkspaceID: ws.ID, Name: "lake", Engine: string(warehouse.DuckDB),
		Settings: map[string]any{duckdb.SettingPath: f.whPath}}
	must(t, f.store.CreateSource(f.ctx, src))
	model := &catalog.Model{WorkspaceID: ws.ID, SourceID: src.ID, Name: "customers", Type: catalog.ModelUsers,
		Table: "src.customers", PrimaryKey: "id", ViewName: "model_customers"}
	must(t, f.store.CreateModel(f.ctx, model))
	// The provider records the view name qualified by its schema; the runner accepts both forms.
	seg := &catalog.Segment{WorkspaceID: ws.ID, ModelID: model.ID, Name: "vip", ViewName: "segment_vip",
		Conditions: json.RawMessage(`{"match":"all"}`), CompiledSQL: "SELECT * FROM model_customers WHERE score >= 50"}
	must(t, f.store.CreateSegment(f.ctx, seg))
	sealer, err := secrets.NewSealer(secretKey)
	must(t, err)
	token, err := sealer.Seal("unused-token")
	must(t, err)
	dest := &catalog.Destination{WorkspaceID: ws.ID, Name: "hook", Platform: webhook.Name,
		Settings:    map[string]any{webhook.SettingURL: slow.URL + "/hook", webhook.SettingBatchSize: batchSize},
		Credentials: map[string]string{webhook.CredentialBearerToken: token}}
	must(t, f.store.CreateDestination(f.ctx, dest))
	f.act = &catalog.Activation{WorkspaceID: ws.ID, Name: "vip_to_hook", SegmentID: seg.ID, DestinationID: dest.ID,
		Service: webhook.ServiceRecords, RunType: string(destination.RunDelta), SyncMode: string(destination.ModeMirror),
		Mappings: []catalog.Mapping{{Column: "email", Field: "email"}, {Column: "score", Field: "score"}},
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

// withWarehouse opens the DuckDB file for fn and closes it again, so a runner subprocess can
// open it afterwards (one process at a time).
func (f *cliFixture) withWarehouse(fn func(w warehouse.Warehouse)) {
	f.t.Helper()
	w, err := duckdb.New().Open(f.ctx, warehouse.Config{Settings: map[string]any{duckdb.SettingPath: f.whPath}}, nil)
	must(f.t, err)
	defer func() { must(f.t, w.Close()) }()
	fn(w)
}

func (f *cliFixture) exec(w warehouse.Warehouse, q string) {
	f.t.Helper()
	if _, err := w.DB().ExecContext(f.ctx, q); err != nil {
		f.t.Fatalf("%v\n%s", err, q)
	}
}

// members returns the segment as the fake should hold it.
func (f *cliFixture) members() map[string]map[string]any {
	out := map[string]map[string]any{}
	f.withWarehouse(func(w warehouse.Warehouse) {
		rows, err := w.DB().QueryContext(f.ctx, "SELECT id, email, score FROM src.customers WHERE score >= 50")
		must(f.t, err)
		defer rows.Close()
		for rows.Next() {
			var id, score int64
			var email string
			must(f.t, rows.Scan(&id, &email, &score))
			out[fmt.Sprint(id)] = map[string]any{"email": email, "score": float64(score)}
		}
		must(f.t, rows.Err())
	})
	return out
}

// cli runs the command line in-process.
func (f *cliFixture) cli(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	all := append([]string{"--catalog", f.catalogURL}, args...)
	f.t.Setenv(secrets.EnvKey, secretKey)
	code = cli.Run(f.ctx, all, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLIRunAndHistory(t *testing.T) {
	f := newCLIFixture(t, 25, 0)
	code, out, errOut := f.cli("run", actRef, "--full", "--log-level", "warn")
	if code != 0 {
		t.Fatalf("run: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"of shop/vip_to_hook: succeeded (full run)", "rows evaluated  25", "diff            +25 added, ~0 changed, -0 removed",
		"25 sent, 25 acknowledged, 0 rejected", "requests        3", "duration"} {
		if !strings.Contains(out, want) {
			t.Errorf("run summary lacks %q:\n%s", want, out)
		}
	}
	if len(f.fake.State()) != 25 {
		t.Errorf("fake holds %d records, want 25", len(f.fake.State()))
	}
	code, out, _ = f.cli("run", actRef)
	if code != 0 || !strings.Contains(out, "succeeded (delta run)") || !strings.Contains(out, "0 sent") {
		t.Errorf("second run: exit %d\n%s", code, out)
	}

	code, out, _ = f.cli("runs", actRef)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "STARTED (UTC)") ||
		!strings.Contains(lines[1], "delta") || !strings.Contains(lines[2], "full") || !strings.Contains(lines[2], "succeeded") {
		t.Errorf("runs: exit %d\n%s", code, out)
	}
	code, out, _ = f.cli("runs", actRef, "--limit", "1", "--json")
	var runs []map[string]any
	if err := json.Unmarshal([]byte(out), &runs); code != 0 || err != nil || len(runs) != 1 {
		t.Fatalf("runs --json: exit %d, %v\n%s", code, err, out)
	}
	if runs[0]["status"] != "succeeded" || runs[0]["run_type"] != "delta" || runs[0]["rows_evaluated"] != float64(25) {
		t.Errorf("runs --json = %v", runs[0])
	}

	for _, args := range [][]string{{"activations"}, {"activations", "shop"}} {
		code, out, _ = f.cli(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d", args, code)
		}
		for _, want := range []string{"ACTIVATION", "shop/vip_to_hook", "segment vip", "hook.records", "mirror", "manual", "enabled", "succeeded at"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v lacks %q:\n%s", args, want, out)
			}
		}
	}
}

func TestCLIErrors(t *testing.T) {
	f := newCLIFixture(t, 3, 0)
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Usage: dinmo-runner"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"run"}, 2, "run needs exactly one <workspace>/<activation>"},
		{[]string{"run", "a/b", "c/d"}, 2, "run needs exactly one"},
		{[]string{"run", "novslash"}, 2, "name the activation as <workspace>/<activation>"},
		{[]string{"run", actRef, "--bogus"}, 2, "flag provided but not defined: -bogus"},
		{[]string{"runs", actRef, "--limit", "0"}, 2, "--limit must be positive"},
		{[]string{"--log-format", "xml", "run", actRef}, 2, `--log-format "xml"`},
		{[]string{"serve", "extra"}, 2, "serve takes no arguments"},
		{[]string{"version", "x"}, 2, "version takes no arguments"},
		{[]string{"run", "shop/nope"}, 1, "activation shop/nope not found; known activations in shop: vip_to_hook"},
		{[]string{"runs", "nope/x"}, 1, "workspace nope not found; known workspaces: shop"},
		{[]string{"activations", "nope"}, 1, "workspace nope not found; known workspaces: shop"},
	}
	for _, tt := range tests {
		code, out, errOut := f.cli(tt.args...)
		if code != tt.code || !strings.Contains(out+errOut, tt.want) {
			t.Errorf("%v: exit %d, want %d with %q\nstdout: %s\nstderr: %s", tt.args, code, tt.code, tt.want, out, errOut)
		}
	}

	var out, errb bytes.Buffer
	t.Setenv(catalog.EnvURL, "")
	if code := cli.Run(f.ctx, []string{"run", actRef}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "no catalog") {
		t.Errorf("no catalog: exit %d, %s", code, errb.String())
	}
	t.Setenv(catalog.EnvURL, f.catalogURL)
	if code := cli.Run(f.ctx, []string{"activations"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "vip_to_hook") {
		t.Errorf("catalog from %s: exit %d, %s", catalog.EnvURL, code, errb.String())
	}
}

func TestCLIHelpAndVersion(t *testing.T) {
	f := newCLIFixture(t, 1, 0)
	code, out, _ := f.cli("help")
	if code != 0 || !strings.Contains(out, "serve") || !strings.Contains(out, "activations") || !strings.Contains(out, "-catalog") {
		t.Errorf("help: exit %d\n%s", code, out)
	}
	code, out, _ = f.cli("help", "run")
	if code != 0 || !strings.Contains(out, "Usage: dinmo-runner run [flags] <workspace>/<activation>") || !strings.Contains(out, "-full") {
		t.Errorf("help run: exit %d\n%s", code, out)
	}
	code, out, _ = f.cli("version")
	if code != 0 || !strings.HasPrefix(out, "dinmo-runner dev") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}

// TestCLIRunFailure: a failed run prints its summary with the error category and exits 1.
func TestCLIRunFailure(t *testing.T) {
	f := newCLIFixture(t, 5, 0)
	f.fake.FailNext(10, connectortest.Failure{Status: http.StatusUnauthorized})
	code, out, errOut := f.cli("run", actRef, "--log-level", "error")
	if code != 1 || !strings.Contains(out, ": failed (full run)") || !strings.Contains(out, "error [credentials]") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if strings.Contains(out+errOut, "unused-token") {
		t.Error("the bearer token leaked")
	}
}
