package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"dinmo/catalog"
	"dinmo/connectors/destination"
	"dinmo/connectors/destination/braze"
	"dinmo/connectors/destination/connectortest"
	"dinmo/connectors/destination/hubspot"
	"dinmo/connectors/destination/meta"
	"dinmo/connectors/registry"
	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/duckdb"
	"dinmo/internal/demodata"
	"dinmo/runner"
	"dinmo/secrets"
)

// Dataset and clock shared by the tests.
const (
	customers = 200
	seed      = 7
	key       = "e2e-test-encryption-key-0123456789"
)

// now is the clock of the Meta platform and its fake: the conversions model dates its events
// in the hours before it, within Meta's seven days.
var now = time.Date(2030, 1, 10, 12, 0, 0, 0, time.UTC)

// Model and segment views, as the provider would create them in dinmo_segments.
const (
	viewCustomers = "model_customers"
	viewLoyal     = "segment_loyal_subscribers"
	viewOrders    = "model_orders"
	viewCompleted = "segment_completed_orders"
)

// customersSQL is the quickstart's customers model.
const customersSQL = `SELECT c.customer_id, c.email, c.first_name, c.last_name, c.country, c.city, c.is_subscribed,
       count(o.order_id) AS orders_count,
       coalesce(sum(o.amount), 0) AS total_spent,
       max(o.ordered_at) AS last_order_at
FROM main.customers AS c
LEFT JOIN main.orders AS o ON o.customer_id = c.customer_id AND o.status = 'completed'
GROUP BY c.customer_id, c.email, c.first_name, c.last_name, c.country, c.city, c.is_subscribed`

// ordersSQL is an events model of orders with their customer's e-mail, a deal name, a
// currency, and an event time in the hours before now (Meta refuses events older than seven
// days; the demo's order dates are years old).
var ordersSQL = `SELECT o.order_id, o.customer_id, c.email, o.ordered_at, o.amount, o.status,
       'Order ' || CAST(o.order_id AS VARCHAR) AS deal_name, 'EUR' AS currency,
       TIMESTAMP '` + now.Format("2006-01-02 15:04:05") + `' - to_minutes(CAST(o.order_id AS BIGINT)) AS event_time
FROM main.orders AS o
JOIN main.customers AS c ON c.customer_id = o.customer_id`

// env is one test's world: the demo dataset in a DuckDB file with the model and segment views,
// a SQLite catalog holding the source, models and segments, and a registry whose platforms
// retry quickly.
type env struct {
	t      *testing.T
	ctx    context.Context
	dir    string
	whPath string
	wh     warehouse.Warehouse
	store  catalog.Store
	sealer *secrets.Sealer
	reg    *registry.Registry
	logs   *connectortest.SyncBuffer

	ws        *catalog.Workspace
	src       *catalog.Source
	customers *catalog.Model
	orders    *catalog.Model
	loyal     *catalog.Segment
	completed *catalog.Segment
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: catalog.WithActor(ctx, "terraform"), dir: t.TempDir(), logs: &connectortest.SyncBuffer{}}
	e.whPath = filepath.Join(e.dir, "warehouse.duckdb")
	if _, err := demodata.Seed(e.ctx, e.whPath, customers, seed); err != nil {
		t.Fatalf("seed: %v", err)
	}
	var err error
	e.wh, err = duckdb.New().Open(e.ctx, warehouse.Config{Settings: map[string]any{duckdb.SettingPath: e.whPath}}, nil)
	must(t, err)
	t.Cleanup(func() { _ = e.wh.Close() })
	e.sealer, err = secrets.NewSealer(key)
	must(t, err)
	e.store, err = catalog.Open(e.ctx, "sqlite://"+filepath.Join(e.dir, "catalog.db"))
	must(t, err)
	t.Cleanup(func() { _ = e.store.Close() })
	e.reg, err = registry.New(registry.Warehouses(), []destination.Platform{
		braze.New(braze.WithBackoff(time.Millisecond, 5*time.Millisecond)),
		hubspot.New(hubspot.WithBackoff(time.Millisecond, 5*time.Millisecond)),
		meta.New(meta.WithBackoff(time.Millisecond, 5*time.Millisecond), meta.WithClock(func() time.Time { return now })),
	})
	must(t, err)

	d := e.wh.Dialect()
	for _, s := range []string{warehouse.SchemaSegments, warehouse.SchemaDeltaStorage} {
		e.exec(d.CreateSchema(s))
	}
	e.exec(d.CreateOrReplaceView(warehouse.SchemaSegments, viewCustomers, customersSQL))
	e.exec(d.CreateOrReplaceView(warehouse.SchemaSegments, viewLoyal, "SELECT * FROM "+d.Qualified(warehouse.SchemaSegments, viewCustomers)+
		" WHERE is_subscribed AND country IN ("+d.QuoteString("FR")+", "+d.QuoteString("DE")+", "+d.QuoteString("ES")+") AND total_spent >= 300"))
	e.exec(d.CreateOrReplaceView(warehouse.SchemaSegments, viewOrders, ordersSQL))
	e.exec(d.CreateOrReplaceView(warehouse.SchemaSegments, viewCompleted, "SELECT * FROM "+d.Qualified(warehouse.SchemaSegments, viewOrders)+
		" WHERE status = "+d.QuoteString("completed")))

	e.ws = &catalog.Workspace{Name: "shop"}
	must(t, e.store.CreateWorkspace(e.ctx, e.ws))
	e.src = &catalog.Source{WorkspaceID: e.ws.ID, Name: "lake", Engine: string(warehouse.DuckDB),
		Settings: map[string]any{duckdb.SettingPath: e.whPath}, Credentials: map[string]string{}}
	must(t, e.store.CreateSource(e.ctx, e.src))
	e.customers = e.model("customers", catalog.ModelUsers, viewCustomers, "customer_id", customersSQL)
	e.orders = e.model("orders", catalog.ModelEvents, viewOrders, "order_id", ordersSQL)
	e.loyal = e.segment(e.customers, "loyal_subscribers", viewLoyal,
		`{"match":"all","conditions":[{"column":"is_subscribed","operator":"is_true"},{"column":"country","operator":"in","values":["FR","DE","ES"]},{"column":"total_spent","operator":"gte","value":"300"}]}`)
	e.completed = e.segment(e.orders, "completed_orders", viewCompleted,
		`{"match":"all","conditions":[{"column":"status","operator":"equals","value":"completed"}]}`)
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) exec(q string) {
	e.t.Helper()
	if _, err := e.wh.DB().ExecContext(e.ctx, q); err != nil {
		e.t.Fatalf("%v\n%s", err, q)
	}
}

// model stores a model whose view exists, with its introspected columns.
func (e *env) model(name, typ, view, pk, query string) *catalog.Model {
	e.t.Helper()
	cols, err := e.wh.QueryColumns(e.ctx, "SELECT * FROM "+e.wh.Dialect().Qualified(warehouse.SchemaSegments, view))
	must(e.t, err)
	m := &catalog.Model{WorkspaceID: e.ws.ID, SourceID: e.src.ID, Name: name, Type: typ, SQL: query, PrimaryKey: pk, ViewName: view}
	for _, c := range cols {
		m.Columns = append(m.Columns, catalog.Column{Name: c.Name, Type: c.DatabaseType, Category: string(c.Category)})
	}
	must(e.t, e.store.CreateModel(e.ctx, m))
	return m
}

func (e *env) segment(m *catalog.Model, name, view, conditions string) *catalog.Segment {
	e.t.Helper()
	s := &catalog.Segment{WorkspaceID: e.ws.ID, ModelID: m.ID, Name: name, Conditions: json.RawMessage(conditions),
		CompiledSQL: "SELECT * FROM " + e.wh.Dialect().Qualified(warehouse.SchemaSegments, m.ViewName), ViewName: view}
	must(e.t, e.store.CreateSegment(e.ctx, s))
	return s
}

// destination stores a destination of platform whose API base URL is the fake's, with its
// credentials sealed as the provider seals write-only credentials.
func (e *env) destination(platform, baseURL string, settings map[string]any, creds map[string]string) *catalog.Destination {
	e.t.Helper()
	sealed := map[string]string{}
	for k, v := range creds {
		s, err := e.sealer.Seal(v)
		must(e.t, err)
		sealed[k] = s
	}
	d := &catalog.Destination{WorkspaceID: e.ws.ID, Name: platform, Platform: platform, Settings: settings,
		Credentials: sealed, CredentialsVersion: "1", BaseURL: baseURL}
	must(e.t, e.store.CreateDestination(e.ctx, d))
	return d
}

// activation stores an activation of a segment. mappings is destination field → model column.
func (e *env) activation(seg *catalog.Segment, dest *catalog.Destination, service string, mode destination.SyncMode,
	mappings map[string]string, options map[string]any,
) *catalog.Activation {
	e.t.Helper()
	a := &catalog.Activation{WorkspaceID: e.ws.ID, Name: dest.Platform + "-" + service, SegmentID: seg.ID, DestinationID: dest.ID,
		Service: service, RunType: string(destination.RunDelta), SyncMode: string(mode), Options: options,
		Enabled: true}
	for _, f := range sortedKeys(mappings) {
		a.Mappings = append(a.Mappings, catalog.Mapping{Field: f, Column: mappings[f]})
	}
	must(e.t, e.store.CreateActivation(e.ctx, a))
	return a
}

// run runs an activation once with a fresh runner and checks that it succeeded without
// rejections.
func (e *env) run(a *catalog.Activation) *runner.Result {
	e.t.Helper()
	r, err := runner.New(runner.Options{
		Store: e.store, Registry: e.reg, Sealer: e.sealer,
		Logger:       slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		BatchBackoff: time.Millisecond, MaxBatchBackoff: 5 * time.Millisecond,
	})
	must(e.t, err)
	res, err := r.Run(e.ctx, a.ID, runner.RunOptions{})
	if err != nil {
		e.t.Fatalf("run %s: %v\nlogs:\n%s", a.Name, err, e.logs.String())
	}
	if res.Run.Status != catalog.RunSucceeded || res.Run.Rejected != 0 || res.Run.Retryable != 0 {
		e.t.Fatalf("run %s: status %s, rejected %d (%v), retryable %d, error %s: %s\nlogs:\n%s", a.Name, res.Run.Status,
			res.Run.Rejected, res.Run.SampleErrors, res.Run.Retryable, res.Run.ErrorCategory, res.Run.ErrorMessage, e.logs.String())
	}
	return res
}

// mutate applies the demo's known changes to the warehouse (new subscribers, moved, departed
// and deleted members, untouched non-members) and checks that they happened.
func (e *env) mutate() {
	e.t.Helper()
	ch, err := demodata.Mutate(e.ctx, e.whPath, viewLoyal)
	must(e.t, err)
	if ch.Inserted != 10 || ch.Updated != 15 || ch.Unsubscribed != 5 || ch.Deleted != 3 || ch.Untouched == 0 {
		e.t.Fatalf("unexpected demo changes: %+v", ch)
	}
}

// rows returns the rows of a view of dinmo_segments: key → the given columns' values as text
// (NULL as "<null>").
func (e *env) rows(view, keyCol string, cols ...string) map[string][]string {
	e.t.Helper()
	d := e.wh.Dialect()
	exprs := []string{d.CastText(d.QuoteIdent(keyCol))}
	for _, c := range cols {
		exprs = append(exprs, d.CastText(d.QuoteIdent(c)))
	}
	q := "SELECT " + strings.Join(exprs, ", ") + " FROM " + d.Qualified(warehouse.SchemaSegments, view)
	rs, err := e.wh.DB().QueryContext(e.ctx, q)
	must(e.t, err)
	defer rs.Close()
	out := map[string][]string{}
	for rs.Next() {
		vals := make([]sql.NullString, len(exprs))
		ptrs := make([]any, len(exprs))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		must(e.t, rs.Scan(ptrs...))
		row := make([]string, len(cols))
		for i := range cols {
			row[i] = "<null>"
			if vals[i+1].Valid {
				row[i] = vals[i+1].String
			}
		}
		out[vals[0].String] = row
	}
	must(e.t, rs.Err())
	return out
}

// diff is what a delta run must find between two states of a view.
type diff struct {
	added, changed, removed []string
}

func diffRows(before, after map[string][]string) diff {
	var d diff
	for k, v := range after {
		old, ok := before[k]
		switch {
		case !ok:
			d.added = append(d.added, k)
		case !reflect.DeepEqual(old, v):
			d.changed = append(d.changed, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			d.removed = append(d.removed, k)
		}
	}
	sortKeys(d.added)
	sortKeys(d.changed)
	sortKeys(d.removed)
	return d
}

// checkCounts compares a run's counts with the expected diff.
func checkCounts(t *testing.T, res *runner.Result, evaluated int, want diff, sent, notSent int) {
	t.Helper()
	r := res.Run
	got := []int64{r.RowsEvaluated, r.Added, r.Changed, r.Removed, res.Sent, res.NotSent, r.Acknowledged}
	exp := []int64{int64(evaluated), int64(len(want.added)), int64(len(want.changed)), int64(len(want.removed)), int64(sent), int64(notSent), int64(sent)}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("run counts [evaluated added changed removed sent not_sent acknowledged] = %v, want %v", got, exp)
	}
}

// keysOf returns a map's keys, sorted as numbers.
func keysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sortKeys(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sortKeys sorts numeric keys numerically (others as text).
func sortKeys(keys []string) {
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) < len(keys[j])
		}
		return keys[i] < keys[j]
	})
}

// union returns the sorted union of key lists.
func union(lists ...[]string) []string {
	seen := map[string]bool{}
	for _, l := range lists {
		for _, k := range l {
			seen[k] = true
		}
	}
	return keysOf(seen)
}

// equalKeys fails when two key lists differ as sets (or either has duplicates).
func equalKeys(t *testing.T, what string, got, want []string) {
	t.Helper()
	g := append([]string(nil), got...)
	w := append([]string(nil), want...)
	sortKeys(g)
	sortKeys(w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: got %d keys %v, want %d keys %v", what, len(g), abbreviate(g), len(w), abbreviate(w))
	}
}

func abbreviate(keys []string) string {
	if len(keys) > 30 {
		return fmt.Sprint(keys[:30]) + "…"
	}
	return fmt.Sprint(keys)
}

// batches is the number of requests n records need at size per request.
func batches(n, size int) int { return (n + size - 1) / size }

// jsonObject decodes a JSON object.
func jsonObject(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

// text returns a decoded JSON value as text (numbers without exponent).
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%f", x), "0"), ".")
	case nil:
		return "<null>"
	}
	return fmt.Sprint(v)
}

// sameNumber reports whether a value a fake received (a JSON number, so decimals must arrive as
// numbers, not text) equals the warehouse's decimal text.
func sameNumber(got any, want string) bool {
	f, ok := got.(float64)
	if !ok {
		return false
	}
	w, err := strconv.ParseFloat(want, 64)
	return err == nil && f == w
}

// noViolations fails on any contract violation a fake saw.
func noViolations(t *testing.T, v []string) {
	t.Helper()
	if len(v) > 0 {
		t.Fatalf("contract violations: %v", v)
	}
}
