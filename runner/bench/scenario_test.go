package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"dinmo/catalog"
	"dinmo/connectors/destination"
	"dinmo/connectors/destination/webhook"
	"dinmo/connectors/registry"
	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/deltasql"
	"dinmo/connectors/warehouse/duckdb"
	"dinmo/connectors/warehouse/postgres"
	"dinmo/internal/pgtest"
	"dinmo/schedule"
	"dinmo/secrets"
)

// Names of the benchmark's objects.
const (
	srcSchema  = "bench_src"
	srcTable   = "customers"
	modelView  = "model_customers"
	segView    = "segment_customers"
	primaryKey = "id"
	sealerKey  = "bench-sealer-key-0123456789abcdef" // throwaway: seals the throwaway cluster's password
)

// mapped are the customers columns an activation maps (each to a field of the same name).
var mapped = []string{"email", "first_name", "last_name", "phone", "country", "city", "score",
	"lifetime_value", "created_at", "vip"}

// whSpec says how to open the benchmark's warehouse, in this process and in children.
type whSpec struct {
	Engine   warehouse.Engine `json:"engine"`
	Settings map[string]any   `json:"settings"`
}

// open connects through the engine's connector (DuckDB through its process-wide handle).
func (w whSpec) open(ctx context.Context) (warehouse.Warehouse, error) {
	conn, ok := registry.Default().Warehouse(w.Engine)
	if !ok {
		return nil, fmt.Errorf("engine %s is not built in", w.Engine)
	}
	creds := map[string]string{}
	if w.Engine == warehouse.Postgres {
		creds[postgres.CredentialPassword] = os.Getenv(envPGPassword)
	}
	return conn.Open(ctx, warehouse.Config{Settings: w.Settings, Credentials: creds}, nil)
}

// scenario is one engine and size: a warehouse with the customers table and its views, a
// catalog declaring one activation of the segment, and the work directory of both.
type scenario struct {
	tb     testing.TB
	ctx    context.Context
	cfg    config
	engine warehouse.Engine
	rows   int
	dir    string
	wh     whSpec
	pgPass string

	catalogURL string
	store      catalog.Store
	sealer     *secrets.Sealer
	notes      []string
}

// newScenario prepares the warehouse connection (PostgreSQL: a database on the tuned
// throwaway cluster) and the catalog.
func newScenario(tb testing.TB, ctx context.Context, cfg config, engine warehouse.Engine, rows int) *scenario {
	tb.Helper()
	s := &scenario{tb: tb, ctx: ctx, cfg: cfg, engine: engine, rows: rows, dir: tb.TempDir()}
	switch engine {
	case warehouse.DuckDB:
		s.wh = whSpec{Engine: engine, Settings: map[string]any{duckdb.SettingPath: filepath.Join(s.dir, "warehouse.duckdb")}}
	case warehouse.Postgres:
		dsn := pgtest.DSN(tb)
		s.notes = tunePostgres(tb, ctx, dsn)
		pc, err := pgx.ParseConfig(dsn)
		must(tb, err)
		s.pgPass = pc.Password
		s.wh = whSpec{Engine: engine, Settings: map[string]any{
			postgres.SettingHost: pc.Host, postgres.SettingPort: int64(pc.Port), postgres.SettingDatabase: pc.Database,
			postgres.SettingUser: pc.User, postgres.SettingSSLMode: "disable",
		}}
		tb.Setenv(envPGPassword, s.pgPass)
	}
	var err error
	s.sealer, err = secrets.NewSealer(sealerKey)
	must(tb, err)
	s.catalogURL = "sqlite://" + filepath.Join(s.dir, "catalog.db")
	s.store, err = catalog.Open(catalog.WithActor(ctx, "bench"), s.catalogURL)
	must(tb, err)
	tb.Cleanup(func() { _ = s.store.Close() })
	return s
}

// memorySettings describes the warehouse settings that bound a run's memory, as the warehouse
// applied them: on DuckDB the source's memory_limit and threads (the connector's defaults,
// since the benchmark sets neither). "" on PostgreSQL, whose memory is the server's.
func (s *scenario) memorySettings() string {
	if s.engine != warehouse.DuckDB {
		return ""
	}
	var limit, threads string
	w, err := s.wh.open(s.ctx) // the source's settings, as the runner opens it
	must(s.tb, err)
	defer func() { _ = w.Close() }()
	must(s.tb, w.DB().QueryRowContext(s.ctx,
		"SELECT current_setting('memory_limit'), CAST(current_setting('threads') AS VARCHAR)").Scan(&limit, &threads))
	return fmt.Sprintf("memory_limit %s (%s), threads %s", duckdb.DefaultMemoryLimit, limit, threads)
}

// setSourceSetting sets one setting of the catalog's warehouse source, as a user changing the
// source would, and returns the function restoring the previous settings.
func (s *scenario) setSourceSetting(name string, value any) (restore func()) {
	s.tb.Helper()
	ctx := catalog.WithActor(s.ctx, "terraform")
	ws, err := s.store.GetWorkspaceByName(ctx, "bench")
	must(s.tb, err)
	src, err := s.store.GetSourceByName(ctx, ws.ID, "warehouse")
	must(s.tb, err)
	before := src.Settings
	settings := make(map[string]any, len(before)+1)
	for k, v := range before {
		settings[k] = v
	}
	settings[name] = value
	src.Settings = settings
	must(s.tb, s.store.UpdateSource(ctx, src))
	return func() {
		src.Settings = before
		must(s.tb, s.store.UpdateSource(ctx, src))
	}
}

// setupMemoryLimit is DuckDB's memory_limit in the benchmark's own work on the warehouse
// (generating and changing the data, seeding, cloning and verifying snapshots): it stands for
// a user's own warehouse jobs, is not measured, and must not depend on the connector's default
// (a DELETE of 1% of 10M rows runs out of memory under 64MB).
const setupMemoryLimit = "4GB"

// withWH opens the warehouse (DuckDB: with setupMemoryLimit), calls f and closes it: a DuckDB
// file can be open in one process only, and children open it between these calls.
func (s *scenario) withWH(f func(warehouse.Warehouse) error) {
	s.tb.Helper()
	spec := s.wh
	if s.engine == warehouse.DuckDB {
		spec.Settings = make(map[string]any, len(s.wh.Settings)+1)
		for k, v := range s.wh.Settings {
			spec.Settings[k] = v
		}
		spec.Settings[duckdb.SettingMemoryLimit] = setupMemoryLimit
	}
	w, err := spec.open(s.ctx)
	must(s.tb, err)
	defer func() { _ = w.Close() }()
	must(s.tb, f(w))
}

// execAll runs statements in order.
func execAll(ctx context.Context, w warehouse.Warehouse, qs ...string) error {
	for _, q := range qs {
		if _, err := w.DB().ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%w\n%s", err, abbreviate(q))
		}
	}
	return nil
}

func abbreviate(q string) string {
	if len(q) > 300 {
		return q[:300] + "..."
	}
	return q
}

// generate creates the customers table of s.rows rows and the model and segment views.
func (s *scenario) generate() time.Duration {
	start := time.Now()
	s.withWH(func(w warehouse.Warehouse) error {
		d := w.Dialect()
		for _, sc := range []string{srcSchema, warehouse.SchemaSegments, warehouse.SchemaDeltaStorage} {
			if err := execAll(s.ctx, w, d.CreateSchema(sc)); err != nil {
				return err
			}
		}
		table := d.Qualified(srcSchema, srcTable)
		var q []string
		switch s.engine {
		case warehouse.DuckDB:
			q = []string{fmt.Sprintf(`CREATE TABLE %s AS SELECT CAST(i AS BIGINT) AS id,
 'customer' || i || '@example.com' AS email, 'First' || (i %% 5000) AS first_name, 'Last' || (i %% 20000) AS last_name,
 '+1555' || lpad(CAST(i %% 10000000 AS VARCHAR), 7, '0') AS phone,
 (['US', 'FR', 'DE', 'GB', 'ES', 'IT', 'NL', 'BE', 'CA', 'JP'])[1 + i %% 10] AS country, 'City' || (i %% 1000) AS city,
 CAST(i %% 100 AS INTEGER) AS score, CAST(round((i %% 100000) / 7.0, 2) AS DECIMAL(12, 2)) AS lifetime_value,
 TIMESTAMPTZ '2020-01-01 00:00:00+00' + to_minutes(i %% 1000000) AS created_at, (i %% 10 = 0) AS vip
 FROM range(1, %d) AS g(i)`, table, s.rows+1), "CHECKPOINT"}
		case warehouse.Postgres:
			// UNLOGGED: only the generation is faster; scans read the same pages.
			q = []string{fmt.Sprintf(`CREATE UNLOGGED TABLE %s AS SELECT i::bigint AS id,
 'customer' || i || '@example.com' AS email, 'First' || (i %% 5000) AS first_name, 'Last' || (i %% 20000) AS last_name,
 '+1555' || lpad((i %% 10000000)::text, 7, '0') AS phone,
 (ARRAY['US', 'FR', 'DE', 'GB', 'ES', 'IT', 'NL', 'BE', 'CA', 'JP'])[1 + i %% 10] AS country, 'City' || (i %% 1000) AS city,
 (i %% 100)::int AS score, round(((i %% 100000) / 7.0)::numeric, 2)::numeric(12, 2) AS lifetime_value,
 timestamptz '2020-01-01 00:00:00+00' + (i %% 1000000) * interval '1 minute' AS created_at, (i %% 10 = 0) AS vip
 FROM generate_series(1, %d) AS g(i)`, table, s.rows), "VACUUM ANALYZE " + table}
		}
		q = append(q,
			d.CreateOrReplaceView(warehouse.SchemaSegments, modelView, "SELECT * FROM "+table),
			d.CreateOrReplaceView(warehouse.SchemaSegments, segView, "SELECT * FROM "+
				d.Qualified(warehouse.SchemaSegments, modelView)+" WHERE "+d.QuoteIdent("lifetime_value")+" >= 0"))
		return execAll(s.ctx, w, q...)
	})
	return time.Since(start)
}

// change deletes 1% of the rows (id % 100 = 1), updates 1% (id % 100 = 2: email and score)
// and inserts 1% new ones.
func (s *scenario) change() {
	s.withWH(func(w warehouse.Warehouse) error {
		d := w.Dialect()
		table := d.Qualified(srcSchema, srcTable)
		series := fmt.Sprintf("range(1, %d) AS g(i)", s.rows/100+1)
		if s.engine == warehouse.Postgres {
			series = fmt.Sprintf("generate_series(1, %d) AS g(i)", s.rows/100)
		}
		q := []string{
			"DELETE FROM " + table + " WHERE id % 100 = 1",
			"UPDATE " + table + " SET email = 'changed' || id || '@example.com', score = score + 1 WHERE id % 100 = 2",
			fmt.Sprintf("INSERT INTO %s SELECT %d + i, 'new' || i || '@example.com', 'New', 'Customer', '+15550000000', 'US', 'Paris', 50, 10.5, %s, false FROM %s",
				table, s.rows, d.TimestampLiteral("2024-06-01T00:00:00Z"), series),
		}
		if s.engine == warehouse.Postgres {
			q = append(q, "VACUUM ANALYZE "+table)
		} else {
			q = append(q, "CHECKPOINT")
		}
		return execAll(s.ctx, w, q...)
	})
}

// expected returns the diff the 1% changes make: added, changed, removed.
func (s *scenario) expected() (added, changed, removed int64) {
	n := int64(s.rows)
	return n / 100, (n + 98) / 100, (n + 99) / 100
}

// source is the activation's evaluation input.
func source() deltasql.Source {
	fields := make([]deltasql.Field, len(mapped))
	for i, c := range mapped {
		fields[i] = deltasql.Field{Column: c, Name: c}
	}
	return deltasql.Source{Schema: warehouse.SchemaSegments, View: segView, PrimaryKey: primaryKey, Fields: fields}
}

// declare writes the catalog: workspace, source, model, segment, a destination of platform
// (with its settings) and a mirror activation mapping every column.
func (s *scenario) declare(platform string, settings map[string]any) *catalog.Activation {
	s.tb.Helper()
	ctx := catalog.WithActor(s.ctx, "terraform")
	st := s.store
	ws, err := st.GetWorkspaceByName(ctx, "bench")
	if err != nil {
		ws = &catalog.Workspace{Name: "bench"}
		must(s.tb, st.CreateWorkspace(ctx, ws))
	}
	src, err := st.GetSourceByName(ctx, ws.ID, "warehouse")
	if err != nil {
		creds := map[string]string{}
		if s.engine == warehouse.Postgres {
			sealed, err := s.sealer.Seal(s.pgPass)
			must(s.tb, err)
			creds[postgres.CredentialPassword] = sealed
		}
		src = &catalog.Source{WorkspaceID: ws.ID, Name: "warehouse", Engine: string(s.engine), Settings: s.wh.Settings, Credentials: creds}
		must(s.tb, st.CreateSource(ctx, src))
	}
	model, err := st.GetModelByName(ctx, ws.ID, "customers")
	if err != nil {
		cols := []catalog.Column{{Name: primaryKey, Type: "BIGINT", Category: "integer"}}
		for _, c := range mapped {
			cols = append(cols, catalog.Column{Name: c, Type: "VARCHAR", Category: "string"})
		}
		model = &catalog.Model{WorkspaceID: ws.ID, SourceID: src.ID, Name: "customers", Type: catalog.ModelUsers,
			Table: srcSchema + "." + srcTable, PrimaryKey: primaryKey, ViewName: modelView, Columns: cols}
		must(s.tb, st.CreateModel(ctx, model))
	}
	seg, err := st.GetSegmentByName(ctx, ws.ID, "all_customers")
	if err != nil {
		seg = &catalog.Segment{WorkspaceID: ws.ID, ModelID: model.ID, Name: "all_customers",
			Conditions:  json.RawMessage(`{"match":"all","conditions":[{"column":"lifetime_value","operator":"gte","value":"0"}]}`),
			CompiledSQL: "SELECT * FROM " + modelView + " WHERE lifetime_value >= 0", ViewName: segView}
		must(s.tb, st.CreateSegment(ctx, seg))
	}
	dest := &catalog.Destination{WorkspaceID: ws.ID, Name: "dest_" + platform + fmt.Sprint(time.Now().UnixNano()), Platform: platform,
		Settings: settings, Credentials: map[string]string{}}
	must(s.tb, st.CreateDestination(ctx, dest))
	mappings := make([]catalog.Mapping, len(mapped))
	for i, c := range mapped {
		mappings[i] = catalog.Mapping{Column: c, Field: c}
	}
	service := countService
	if platform == webhook.Name {
		service = webhook.ServiceRecords
	}
	act := &catalog.Activation{WorkspaceID: ws.ID, Name: "to_" + dest.Name, SegmentID: seg.ID, DestinationID: dest.ID,
		Service: service, RunType: string(destination.RunDelta), SyncMode: string(destination.ModeMirror),
		Mappings: mappings, Schedule: schedule.Schedule{Type: schedule.TypeManual}, Enabled: true}
	must(s.tb, st.CreateActivation(ctx, act))
	return act
}

// seed commits a snapshot of the whole segment for an activation, as a full run whose every
// record was acknowledged leaves it (key, hash and fields of every row, the key index on
// PostgreSQL), written in one CREATE TABLE AS instead of sending every row. Used above
// DINMO_BENCH_FULL_RUN_MAX rows, where sending every row would dominate the benchmark's time.
func (s *scenario) seed(activationID string) time.Duration {
	start := time.Now()
	s.withWH(func(w warehouse.Warehouse) error {
		b, err := deltasql.New(w.Dialect(), activationID)
		if err != nil {
			return err
		}
		ev, err := b.Evaluate(source(), true)
		if err != nil {
			return err
		}
		q := []string{w.Dialect().CreateTableAs(b.Schema(), b.Tables().Snapshot, evaluated(ev))}
		if ix, ok := b.IndexSnapshot(); ok {
			q = append(q, ix, "ANALYZE "+w.Dialect().Qualified(b.Schema(), b.Tables().Snapshot))
		} else {
			q = append(q, "CHECKPOINT")
		}
		return execAll(s.ctx, w, append(q, b.CreateRejected())...)
	})
	return time.Since(start)
}

// evaluated is the evaluation query of a run: its probe without the "WHERE 1 = 0".
func evaluated(ev *deltasql.Evaluation) string {
	return strings.TrimSuffix(ev.Probe(), " WHERE 1 = 0")
}

// fold runs fold statements in one transaction.
func fold(ctx context.Context, w warehouse.Warehouse, qs []string) error {
	tx, err := w.DB().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	for _, q := range qs {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%w\n%s", err, abbreviate(q))
		}
	}
	return tx.Commit()
}

// clone copies the committed snapshot of activation from into the snapshot of activation to
// (dropping to's tables first), so every strategy starts from the same state. On PostgreSQL
// the copy gets the key index a snapshot has, and is analyzed (as autovacuum would have done
// to a snapshot some time after its last run).
func (s *scenario) clone(from, to string) {
	s.withWH(func(w warehouse.Warehouse) error {
		d := w.Dialect()
		src, err := deltasql.New(d, from)
		if err != nil {
			return err
		}
		dst, err := deltasql.New(d, to)
		if err != nil {
			return err
		}
		q := []string{dst.DropRun(), dst.DropStage(), dst.DropAck(), dst.DropSnapshot(),
			d.DropTable(dst.Schema(), dst.Tables().Rejected),
			d.CreateTableAs(dst.Schema(), dst.Tables().Snapshot, "SELECT * FROM "+d.Qualified(src.Schema(), src.Tables().Snapshot))}
		if ix, ok := dst.IndexSnapshot(); ok {
			q = append(q, ix, "ANALYZE "+d.Qualified(dst.Schema(), dst.Tables().Snapshot))
		} else {
			q = append(q, "CHECKPOINT")
		}
		return execAll(s.ctx, w, q...)
	})
}

// drop removes an activation's delta tables.
func (s *scenario) drop(activationID string) {
	s.withWH(func(w warehouse.Warehouse) error {
		b, err := deltasql.New(w.Dialect(), activationID)
		if err != nil {
			return err
		}
		return execAll(s.ctx, w, b.DropRun(), b.DropStage(), b.DropAck(), b.DropSnapshot(),
			w.Dialect().DropTable(b.Schema(), b.Tables().Rejected))
	})
}

// verify checks that an activation's snapshot holds exactly the segment's keys and hashes.
func (s *scenario) verify(activationID string) {
	s.tb.Helper()
	s.withWH(func(w warehouse.Warehouse) error {
		b, err := deltasql.New(w.Dialect(), activationID)
		if err != nil {
			return err
		}
		ev, err := b.Evaluate(source(), false)
		if err != nil {
			return err
		}
		d := w.Dialect()
		k, h := d.QuoteIdent(deltasql.KeyColumn), d.QuoteIdent(deltasql.HashColumn)
		seg := evaluated(ev)
		q := "SELECT COUNT(*) FROM (SELECT " + k + ", " + h + " FROM (" + seg + ") e EXCEPT SELECT " + k + ", " + h +
			" FROM " + d.Qualified(b.Schema(), b.Tables().Snapshot) + ") x"
		var missing int64
		if err := w.DB().QueryRowContext(s.ctx, q).Scan(&missing); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		var snap, segRows int64
		if err := w.DB().QueryRowContext(s.ctx, "SELECT COUNT(*) FROM "+d.Qualified(b.Schema(), b.Tables().Snapshot)).Scan(&snap); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if err := w.DB().QueryRowContext(s.ctx, "SELECT COUNT(*) FROM "+d.Qualified(warehouse.SchemaSegments, segView)).Scan(&segRows); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if missing != 0 || snap != segRows {
			return fmt.Errorf("verify: the snapshot of %s holds %d rows for %d in the segment, %d segment rows missing or different",
				activationID, snap, segRows, missing)
		}
		return nil
	})
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
