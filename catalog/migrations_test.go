package catalog

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"testing"

	"dinmo/internal/pgtest"
)

// TestMigrationUpgrade builds a catalog at schema version 1 with one destination and one
// activation, opens it with this build, and checks that the upgrade keeps them (no service
// options, no base URL) and that the new columns work afterwards. It runs on both back-ends.
func TestMigrationUpgrade(t *testing.T) {
	backends := map[string]func(t *testing.T) (*sql.DB, string, string){
		backendSQLite: func(t *testing.T) (*sql.DB, string, string) {
			path := filepath.Join(t.TempDir(), "catalog.db")
			db, err := sql.Open("sqlite", sqliteDSN(path))
			if err != nil {
				t.Fatal(err)
			}
			return db, backendSQLite, "sqlite://" + path
		},
		backendPostgres: func(t *testing.T) (*sql.DB, string, string) {
			dsn := pgtest.DSN(t)
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				t.Fatal(err)
			}
			return db, backendPostgres, dsn
		},
	}
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db, backend, url := open(t)
			old := &sqlStore{db: db, backend: backend}
			if err := old.applyMigrations(ctx, migrations[:1]); err != nil {
				t.Fatalf("migrate to version 1: %v", err)
			}
			// Objects as a version-1 build wrote them.
			for _, stmt := range []string{
				`INSERT INTO workspaces (id, name, created_at, updated_at) VALUES ('ws_1', 'w', 1, 1)`,
				`INSERT INTO sources (id, workspace_id, name, engine, created_at, updated_at) VALUES ('src_1', 'ws_1', 's', 'duckdb', 1, 1)`,
				`INSERT INTO models (id, workspace_id, source_id, name, created_at, updated_at) VALUES ('mdl_1', 'ws_1', 'src_1', 'm', 1, 1)`,
				`INSERT INTO destinations (id, workspace_id, name, platform, settings, created_at, updated_at)
					VALUES ('dst_1', 'ws_1', 'd', 'braze', '{"rest_endpoint":"https://rest.iad-01.braze.com"}', 1, 1)`,
				`INSERT INTO activations (id, workspace_id, name, model_id, destination_id, service, sync_mode, mappings, schedule, created_at, updated_at)
					VALUES ('act_1', 'ws_1', 'a', 'mdl_1', 'dst_1', 'user_attributes', 'upsert', '[{"column":"id","field":"external_id"}]', '{"type":"manual"}', 1, 1)`,
			} {
				if _, err := old.db.ExecContext(ctx, stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			st, err := Open(ctx, url)
			if err != nil {
				t.Fatalf("open and upgrade: %v", err)
			}
			defer st.Close()
			var version int
			if err := sqlOf(t, st).db.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&version); err != nil || version != schemaVersion {
				t.Fatalf("schema version after upgrade = %d (%v), want %d", version, err, schemaVersion)
			}
			d, err := st.GetDestination(ctx, "dst_1")
			if err != nil {
				t.Fatal(err)
			}
			if d.BaseURL != "" || d.Settings["rest_endpoint"] != "https://rest.iad-01.braze.com" {
				t.Errorf("upgraded destination = %+v", d)
			}
			a, err := st.GetActivation(ctx, "act_1")
			if err != nil {
				t.Fatal(err)
			}
			if a.Options != nil || len(a.Mappings) != 1 || a.Service != "user_attributes" {
				t.Errorf("upgraded activation = %+v", a)
			}

			d.BaseURL = "http://127.0.0.1:8080/braze"
			if err := st.UpdateDestination(ctx, d); err != nil {
				t.Fatal(err)
			}
			a.Options = map[string]any{"attribute_name": "vip", "update_existing_only": true, "limit": float64(10)}
			if err := st.UpdateActivation(ctx, a); err != nil {
				t.Fatal(err)
			}
			d2, err := st.GetDestination(ctx, "dst_1")
			if err != nil {
				t.Fatal(err)
			}
			a2, err := st.GetActivation(ctx, "act_1")
			if err != nil {
				t.Fatal(err)
			}
			if d2.BaseURL != d.BaseURL || !reflect.DeepEqual(a2.Options, a.Options) {
				t.Errorf("after update: base URL %q, options %#v", d2.BaseURL, a2.Options)
			}
		})
	}
}
