package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// migration is one schema version. Statements run in order inside the migration transaction;
// they are written once for both back-ends, with {{...}} placeholders for the few types that
// differ (see expand).
type migration struct {
	version    int
	statements []string
}

// migrations is the schema history. Never edit an applied migration: append a new one.
//
// Conventions: timestamps are BIGINT unix microseconds (UTC), maps and lists are JSON text,
// booleans are BOOLEAN (0/1 in SQLite). References between declared objects are ON DELETE
// RESTRICT (deleting something still referenced fails, mapped to ErrInUse); runs cascade with
// their activation; the audit log references nothing so it keeps every entry.
var migrations = []migration{{
	version: 1,
	statements: []string{
		`CREATE TABLE workspaces (
			id          TEXT PRIMARY KEY,
			name        TEXT NOT NULL UNIQUE,
			description TEXT NOT NULL DEFAULT '',
			settings    TEXT NOT NULL DEFAULT 'null',
			created_at  BIGINT NOT NULL,
			updated_at  BIGINT NOT NULL
		)`,
		`CREATE TABLE sources (
			id                  TEXT PRIMARY KEY,
			workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE RESTRICT,
			name                TEXT NOT NULL,
			engine              TEXT NOT NULL,
			settings            TEXT NOT NULL DEFAULT 'null',
			credentials         TEXT NOT NULL DEFAULT 'null',
			credentials_version TEXT NOT NULL DEFAULT '',
			created_at          BIGINT NOT NULL,
			updated_at          BIGINT NOT NULL,
			UNIQUE (workspace_id, name)
		)`,
		`CREATE TABLE models (
			id           TEXT PRIMARY KEY,
			workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE RESTRICT,
			source_id    TEXT NOT NULL REFERENCES sources (id) ON DELETE RESTRICT,
			name         TEXT NOT NULL,
			description  TEXT NOT NULL DEFAULT '',
			model_type   TEXT NOT NULL DEFAULT '',
			sql_text     TEXT NOT NULL DEFAULT '',
			table_name   TEXT NOT NULL DEFAULT '',
			primary_key  TEXT NOT NULL DEFAULT '',
			view_name    TEXT NOT NULL DEFAULT '',
			columns      TEXT NOT NULL DEFAULT 'null',
			created_at   BIGINT NOT NULL,
			updated_at   BIGINT NOT NULL,
			UNIQUE (workspace_id, name)
		)`,
		`CREATE INDEX models_source_id ON models (source_id)`,
		`CREATE TABLE segments (
			id           TEXT PRIMARY KEY,
			workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE RESTRICT,
			model_id     TEXT NOT NULL REFERENCES models (id) ON DELETE RESTRICT,
			name         TEXT NOT NULL,
			description  TEXT NOT NULL DEFAULT '',
			conditions   TEXT NOT NULL DEFAULT '',
			compiled_sql TEXT NOT NULL DEFAULT '',
			view_name    TEXT NOT NULL DEFAULT '',
			created_at   BIGINT NOT NULL,
			updated_at   BIGINT NOT NULL,
			UNIQUE (workspace_id, name)
		)`,
		`CREATE INDEX segments_model_id ON segments (model_id)`,
		`CREATE TABLE destinations (
			id                  TEXT PRIMARY KEY,
			workspace_id        TEXT NOT NULL REFERENCES workspaces (id) ON DELETE RESTRICT,
			name                TEXT NOT NULL,
			platform            TEXT NOT NULL,
			settings            TEXT NOT NULL DEFAULT 'null',
			credentials         TEXT NOT NULL DEFAULT 'null',
			credentials_version TEXT NOT NULL DEFAULT '',
			created_at          BIGINT NOT NULL,
			updated_at          BIGINT NOT NULL,
			UNIQUE (workspace_id, name)
		)`,
		`CREATE TABLE activations (
			id             TEXT PRIMARY KEY,
			workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE RESTRICT,
			name           TEXT NOT NULL,
			description    TEXT NOT NULL DEFAULT '',
			segment_id     TEXT REFERENCES segments (id) ON DELETE RESTRICT,
			model_id       TEXT REFERENCES models (id) ON DELETE RESTRICT,
			destination_id TEXT NOT NULL REFERENCES destinations (id) ON DELETE RESTRICT,
			service        TEXT NOT NULL DEFAULT '',
			run_type       TEXT NOT NULL DEFAULT '',
			sync_mode      TEXT NOT NULL DEFAULT '',
			mappings       TEXT NOT NULL DEFAULT 'null',
			schedule       TEXT NOT NULL DEFAULT 'null',
			enabled        BOOLEAN NOT NULL DEFAULT TRUE,
			paused         BOOLEAN NOT NULL DEFAULT FALSE,
			pause_reason   TEXT NOT NULL DEFAULT '',
			paused_by      TEXT NOT NULL DEFAULT '',
			full_resync    BOOLEAN NOT NULL DEFAULT FALSE,
			next_run_at    BIGINT,
			lease_owner    TEXT,
			lease_until    BIGINT,
			created_at     BIGINT NOT NULL,
			updated_at     BIGINT NOT NULL,
			UNIQUE (workspace_id, name),
			CHECK ((segment_id IS NULL) <> (model_id IS NULL))
		)`,
		`CREATE INDEX activations_segment_id ON activations (segment_id)`,
		`CREATE INDEX activations_model_id ON activations (model_id)`,
		`CREATE INDEX activations_destination_id ON activations (destination_id)`,
		`CREATE INDEX activations_next_run_at ON activations (next_run_at)`,
		`CREATE TABLE runs (
			id             TEXT PRIMARY KEY,
			activation_id  TEXT NOT NULL REFERENCES activations (id) ON DELETE CASCADE,
			workspace_id   TEXT NOT NULL,
			run_type       TEXT NOT NULL DEFAULT '',
			status         TEXT NOT NULL,
			trigger_type   TEXT NOT NULL DEFAULT '',
			runner_id      TEXT NOT NULL DEFAULT '',
			started_at     BIGINT NOT NULL,
			finished_at    BIGINT,
			rows_evaluated BIGINT NOT NULL DEFAULT 0,
			rows_skipped   BIGINT NOT NULL DEFAULT 0,
			added          BIGINT NOT NULL DEFAULT 0,
			changed        BIGINT NOT NULL DEFAULT 0,
			removed        BIGINT NOT NULL DEFAULT 0,
			acknowledged   BIGINT NOT NULL DEFAULT 0,
			rejected       BIGINT NOT NULL DEFAULT 0,
			retryable      BIGINT NOT NULL DEFAULT 0,
			requests       BIGINT NOT NULL DEFAULT 0,
			error_category TEXT NOT NULL DEFAULT '',
			error_message  TEXT NOT NULL DEFAULT '',
			sample_errors  TEXT NOT NULL DEFAULT 'null',
			warnings       TEXT NOT NULL DEFAULT 'null'
		)`,
		`CREATE INDEX runs_activation_started ON runs (activation_id, started_at)`,
		`CREATE TABLE audit_log (
			id           {{autoid}},
			at           BIGINT NOT NULL,
			actor        TEXT NOT NULL,
			action       TEXT NOT NULL,
			object_kind  TEXT NOT NULL DEFAULT '',
			object_id    TEXT NOT NULL DEFAULT '',
			object_name  TEXT NOT NULL DEFAULT '',
			workspace_id TEXT NOT NULL DEFAULT '',
			details      TEXT NOT NULL DEFAULT 'null'
		)`,
		`CREATE INDEX audit_log_workspace ON audit_log (workspace_id, id)`,
		`CREATE INDEX audit_log_object ON audit_log (object_id, id)`,
	},
}, {
	// Version 2: service options of activations (JSON, like mappings) and the API base URL
	// override of destinations.
	version: 2,
	statements: []string{
		`ALTER TABLE activations ADD COLUMN options TEXT NOT NULL DEFAULT 'null'`,
		`ALTER TABLE destinations ADD COLUMN api_base_url TEXT NOT NULL DEFAULT ''`,
	},
}, {
	// Version 3: the model graph (field declarations, timestamp column, relationships and
	// calculated fields, as JSON), materialisation and the last duplicate primary key check.
	version: 3,
	statements: []string{
		`ALTER TABLE models ADD COLUMN fields TEXT NOT NULL DEFAULT 'null'`,
		`ALTER TABLE models ADD COLUMN timestamp_column TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE models ADD COLUMN relationships TEXT NOT NULL DEFAULT 'null'`,
		`ALTER TABLE models ADD COLUMN calculated TEXT NOT NULL DEFAULT 'null'`,
		`ALTER TABLE models ADD COLUMN materialization TEXT NOT NULL DEFAULT 'null'`,
		`ALTER TABLE models ADD COLUMN duplicate_key_share DOUBLE PRECISION NOT NULL DEFAULT 0`,
		`ALTER TABLE models ADD COLUMN duplicate_key_checked_at BIGINT`,
	},
}, {
	// Version 4: per-activation guard thresholds (JSON) and the one-run approval that lets a
	// blocked run pass the removal guards.
	version: 4,
	statements: []string{
		`ALTER TABLE activations ADD COLUMN guards TEXT NOT NULL DEFAULT 'null'`,
		`ALTER TABLE activations ADD COLUMN removals_approved BOOLEAN NOT NULL DEFAULT FALSE`,
	},
}, {
	// Version 5: the lookback window of incremental activations, in whole seconds.
	version: 5,
	statements: []string{
		`ALTER TABLE activations ADD COLUMN lookback_seconds BIGINT NOT NULL DEFAULT 0`,
	},
}, {
	// Version 6: the stats schedule of sources, and the runner's tasks other than activation
	// runs (model table refreshes, source stats) with their leases and history.
	version: 6,
	statements: []string{
		`ALTER TABLE sources ADD COLUMN stats_schedule TEXT NOT NULL DEFAULT 'null'`,
		`CREATE TABLE tasks (
			kind         TEXT NOT NULL,
			object_id    TEXT NOT NULL,
			workspace_id TEXT NOT NULL,
			schedule     TEXT NOT NULL DEFAULT '',
			next_run_at  BIGINT,
			lease_owner  TEXT,
			lease_until  BIGINT,
			PRIMARY KEY (kind, object_id)
		)`,
		`CREATE TABLE task_runs (
			id           TEXT PRIMARY KEY,
			kind         TEXT NOT NULL,
			object_id    TEXT NOT NULL,
			workspace_id TEXT NOT NULL,
			object_name  TEXT NOT NULL DEFAULT '',
			runner_id    TEXT NOT NULL DEFAULT '',
			trigger_type TEXT NOT NULL DEFAULT '',
			status       TEXT NOT NULL,
			started_at   BIGINT NOT NULL,
			finished_at  BIGINT,
			row_count    BIGINT NOT NULL DEFAULT 0,
			message      TEXT NOT NULL DEFAULT ''
		)`,
		`CREATE INDEX task_runs_object ON task_runs (object_id, started_at)`,
		`CREATE INDEX task_runs_workspace ON task_runs (workspace_id, started_at)`,
	},
}}

// schemaVersion is the schema version this build migrates the catalog to. A catalog at a newer
// version (written by a newer dinmo) is refused rather than misread.
var schemaVersion = migrations[len(migrations)-1].version

// migrationLockKey is the PostgreSQL advisory lock that serialises concurrent migrators (two
// runners starting at once, or a runner and terraform apply).
const migrationLockKey int64 = 0x64696e6d6f_01 // "dinmo" + 1

// expand replaces the per-dialect placeholders of a migration statement.
func (s *sqlStore) expand(stmt string) string {
	autoid := "INTEGER PRIMARY KEY AUTOINCREMENT"
	if s.backend == backendPostgres {
		autoid = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
	}
	return strings.ReplaceAll(stmt, "{{autoid}}", autoid)
}

// migrate applies the pending migrations in one transaction, so a failed migration leaves the
// schema as it was. On SQLite the transaction starts with BEGIN IMMEDIATE, which already
// excludes other writers; on PostgreSQL an advisory transaction lock does.
func (s *sqlStore) migrate(ctx context.Context) error {
	return s.applyMigrations(ctx, migrations)
}

// applyMigrations applies the pending migrations of ms, a prefix of the schema history (tests
// build older schemas with a shorter prefix), refusing a catalog newer than schemaVersion.
func (s *sqlStore) applyMigrations(ctx context.Context, ms []migration) error {
	return s.inTx(ctx, func(e execer) error {
		if s.backend == backendPostgres {
			if _, err := e.exec(ctx, `SELECT pg_advisory_xact_lock(?)`, migrationLockKey); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
		}
		if _, err := e.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			applied_at BIGINT NOT NULL
		)`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var current sql.NullInt64
		if err := e.row(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if int(current.Int64) > schemaVersion {
			return fmt.Errorf("catalog schema version %d is newer than this build supports (%d): upgrade dinmo", current.Int64, schemaVersion)
		}
		for _, m := range ms {
			if int64(m.version) <= current.Int64 {
				continue
			}
			for i, stmt := range m.statements {
				if _, err := e.exec(ctx, s.expand(stmt)); err != nil {
					return fmt.Errorf("migration %d statement %d: %w", m.version, i+1, err)
				}
			}
			if _, err := e.exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, m.version, toMicros(now())); err != nil {
				return fmt.Errorf("record migration %d: %w", m.version, err)
			}
		}
		return nil
	})
}

// errNoRows reports whether err is database/sql's "no rows".
func errNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// SchemaChecker is implemented by the stores Open returns. It is not part of Store, so test
// doubles need not implement it; readiness probes use it through a type assertion.
type SchemaChecker interface {
	// SchemaVersion returns the catalog's applied schema version and the version this build
	// migrates to; a catalog is current when they are equal.
	SchemaVersion(ctx context.Context) (applied, supported int, err error)
}

// SchemaVersion reads the highest applied migration.
func (s *sqlStore) SchemaVersion(ctx context.Context) (applied, supported int, err error) {
	var current sql.NullInt64
	if err := s.ro().row(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&current); err != nil {
		return 0, schemaVersion, fmt.Errorf("read schema version: %w", err)
	}
	return int(current.Int64), schemaVersion, nil
}
