package catalog

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestLegacyScheduleAndGuards: an activation row written before package schedule (a numeric
// interval in nanoseconds) and before guards decodes with its interval as text and default
// guards; SchemaVersion reports a current catalog.
func TestLegacyScheduleAndGuards(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := sqlOf(t, st)
	for _, stmt := range []string{
		`INSERT INTO workspaces (id, name, created_at, updated_at) VALUES ('ws_1', 'w', 1, 1)`,
		`INSERT INTO sources (id, workspace_id, name, engine, created_at, updated_at) VALUES ('src_1', 'ws_1', 's', 'duckdb', 1, 1)`,
		`INSERT INTO models (id, workspace_id, source_id, name, created_at, updated_at) VALUES ('mdl_1', 'ws_1', 'src_1', 'm', 1, 1)`,
		`INSERT INTO destinations (id, workspace_id, name, platform, created_at, updated_at) VALUES ('dst_1', 'ws_1', 'd', 'file', 1, 1)`,
		`INSERT INTO activations (id, workspace_id, name, model_id, destination_id, schedule, created_at, updated_at)
			VALUES ('act_1', 'ws_1', 'a', 'mdl_1', 'dst_1', '{"type":"interval","every":5400000000000}', 1, 1)`,
	} {
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	a, err := st.GetActivation(ctx, "act_1")
	if err != nil {
		t.Fatal(err)
	}
	if a.Schedule.Type != "interval" || a.Schedule.Every != "1h30m" || a.Schedule.Describe() != "every 1h30m" {
		t.Errorf("legacy schedule = %+v", a.Schedule)
	}
	if next, ok := a.Schedule.NextAfterMissed(time.Unix(0, 0), time.Unix(4*3600, 0)); !ok || !next.Equal(time.Unix(4*3600+30*60, 0)) {
		t.Errorf("legacy schedule next = %v, %v", next, ok)
	}
	if g := a.Guards.Values(); g != (GuardValues{DefaultMaxRemovalPercent, DefaultMinSnapshotForRemovalGuard, DefaultBlockEmptyResult, DefaultRejectedWarningPercent}) || a.RemovalsApproved {
		t.Errorf("guards of a legacy row = %+v, approved %v", g, a.RemovalsApproved)
	}
	applied, supported, err := s.SchemaVersion(ctx)
	if err != nil || applied != supported || supported != schemaVersion {
		t.Errorf("SchemaVersion = %d, %d, %v; want %d", applied, supported, err, schemaVersion)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM schema_migrations WHERE version = ?`, schemaVersion); err != nil {
		t.Fatal(err)
	}
	if applied, _, err := s.SchemaVersion(ctx); err != nil || applied != schemaVersion-1 {
		t.Errorf("SchemaVersion after removing the last migration = %d, %v", applied, err)
	}
}
