package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// This file maps each declared kind to its table (see migrations.go for the schema).

func required(kind string, fields ...[2]string) error {
	for _, f := range fields {
		if f[1] == "" {
			return fmt.Errorf("invalid %s: %s is required", kind, f[0])
		}
	}
	return nil
}

// ---- workspaces

var workspaceKind = &kindDef[Workspace]{
	kind: KindWorkspace, table: "workspaces", prefix: prefixWorkspace,
	selectCols: `id, name, description, settings, created_at, updated_at`,
	scan: func(sc scanner) (*Workspace, error) {
		var w Workspace
		var settings string
		var c, u int64
		if err := sc.Scan(&w.ID, &w.Name, &w.Description, &settings, &c, &u); err != nil {
			return nil, err
		}
		if err := decodeJSON("settings", settings, &w.Settings); err != nil {
			return nil, err
		}
		w.CreatedAt, w.UpdatedAt = fromMicros(c), fromMicros(u)
		return &w, nil
	},
	rec: func(w *Workspace) (record, error) {
		settings, err := encodeJSON("settings", w.Settings)
		if err != nil {
			return record{name: w.Name}, err
		}
		return record{id: w.ID, name: w.Name, set: []col{
			{"name", w.Name}, {"description", w.Description}, {"settings", settings},
		}}, nil
	},
	meta: func(w *Workspace) (*string, *time.Time, *time.Time) { return &w.ID, &w.CreatedAt, &w.UpdatedAt },
	validate: func(w *Workspace) error {
		return required(KindWorkspace, [2]string{"name", w.Name})
	},
	usedBy: []usedBy{
		{KindSource, "sources", "workspace_id"},
		{KindDestination, "destinations", "workspace_id"},
		{KindModel, "models", "workspace_id"},
		{KindSegment, "segments", "workspace_id"},
		{KindActivation, "activations", "workspace_id"},
	},
}

// CreateWorkspace stores w, assigning ID (unless set), CreatedAt and UpdatedAt.
func (s *sqlStore) CreateWorkspace(ctx context.Context, w *Workspace) error {
	return create(ctx, s, workspaceKind, w)
}

// GetWorkspace returns the workspace with that ID.
func (s *sqlStore) GetWorkspace(ctx context.Context, id string) (*Workspace, error) {
	return getByID(ctx, s, workspaceKind, id)
}

// GetWorkspaceByName returns the workspace with that (globally unique) name.
func (s *sqlStore) GetWorkspaceByName(ctx context.Context, name string) (*Workspace, error) {
	return getByName(ctx, s, workspaceKind, "", name)
}

// ListWorkspaces returns every workspace, by name.
func (s *sqlStore) ListWorkspaces(ctx context.Context) ([]Workspace, error) {
	return list(ctx, s, workspaceKind, "")
}

// UpdateWorkspace writes w's name, description and settings. An update that changes nothing
// writes nothing (no audit entry, UpdatedAt kept).
func (s *sqlStore) UpdateWorkspace(ctx context.Context, w *Workspace) error {
	return update(ctx, s, workspaceKind, w)
}

// DeleteWorkspace deletes an empty workspace; one that still holds objects fails with ErrInUse.
func (s *sqlStore) DeleteWorkspace(ctx context.Context, id string) error {
	return remove(ctx, s, workspaceKind, id)
}

// ---- sources

var sourceKind = &kindDef[Source]{
	kind: KindSource, table: "sources", prefix: prefixSource, workspaceScoped: true,
	selectCols: `id, workspace_id, name, engine, settings, credentials, credentials_version, stats_schedule, created_at, updated_at`,
	scan: func(sc scanner) (*Source, error) {
		var x Source
		var settings, creds, statsSchedule string
		var c, u int64
		if err := sc.Scan(&x.ID, &x.WorkspaceID, &x.Name, &x.Engine, &settings, &creds, &x.CredentialsVersion, &statsSchedule, &c, &u); err != nil {
			return nil, err
		}
		if err := decodeJSON("stats_schedule", statsSchedule, &x.StatsSchedule); err != nil {
			return nil, err
		}
		if err := decodeJSON("settings", settings, &x.Settings); err != nil {
			return nil, err
		}
		if err := decodeJSON("credentials", creds, &x.Credentials); err != nil {
			return nil, err
		}
		x.CreatedAt, x.UpdatedAt = fromMicros(c), fromMicros(u)
		return &x, nil
	},
	rec: func(x *Source) (record, error) {
		r := record{id: x.ID, workspaceID: x.WorkspaceID, name: x.Name}
		settings, err := encodeJSON("settings", x.Settings)
		if err != nil {
			return r, err
		}
		creds, err := encodeJSON("credentials", x.Credentials)
		if err != nil {
			return r, err
		}
		var sched any
		if x.StatsSchedule.Type != "" {
			sched = x.StatsSchedule
		}
		statsSchedule, err := encodeJSON("stats_schedule", sched)
		if err != nil {
			return r, err
		}
		r.set = []col{{"name", x.Name}, {"engine", x.Engine}, {"settings", settings}, {"credentials", creds}, {"credentials_version", x.CredentialsVersion},
			{"stats_schedule", statsSchedule}}
		return r, nil
	},
	meta: func(x *Source) (*string, *time.Time, *time.Time) { return &x.ID, &x.CreatedAt, &x.UpdatedAt },
	validate: func(x *Source) error {
		return required(KindSource, [2]string{"workspace_id", x.WorkspaceID}, [2]string{"name", x.Name}, [2]string{"engine", x.Engine})
	},
	usedBy: []usedBy{{KindModel, "models", "source_id"}},
}

// CreateSource stores x, assigning ID (unless set), CreatedAt and UpdatedAt.
func (s *sqlStore) CreateSource(ctx context.Context, x *Source) error {
	return create(ctx, s, sourceKind, x)
}

// GetSource returns the source with that ID.
func (s *sqlStore) GetSource(ctx context.Context, id string) (*Source, error) {
	return getByID(ctx, s, sourceKind, id)
}

// GetSourceByName returns the workspace's source with that name.
func (s *sqlStore) GetSourceByName(ctx context.Context, workspaceID, name string) (*Source, error) {
	return getByName(ctx, s, sourceKind, workspaceID, name)
}

// ListSources returns the workspace's sources, by name.
func (s *sqlStore) ListSources(ctx context.Context, workspaceID string) ([]Source, error) {
	return list(ctx, s, sourceKind, workspaceID)
}

// UpdateSource writes x's declared fields; WorkspaceID cannot change. The audit entry lists
// the changed fields ("credentials", never their values).
func (s *sqlStore) UpdateSource(ctx context.Context, x *Source) error {
	return update(ctx, s, sourceKind, x)
}

// DeleteSource deletes a source no model uses (ErrInUse otherwise).
func (s *sqlStore) DeleteSource(ctx context.Context, id string) error {
	return remove(ctx, s, sourceKind, id)
}

// ---- models

var modelKind = &kindDef[Model]{
	kind: KindModel, table: "models", prefix: prefixModel, workspaceScoped: true,
	selectCols: `id, workspace_id, source_id, name, description, model_type, sql_text, table_name, primary_key, view_name, columns, ` +
		`fields, timestamp_column, relationships, calculated, materialization, duplicate_key_share, duplicate_key_checked_at, created_at, updated_at`,
	scan: func(sc scanner) (*Model, error) {
		var x Model
		var columns, fields, rels, calculated, mat string
		var checked sql.NullInt64
		var c, u int64
		if err := sc.Scan(&x.ID, &x.WorkspaceID, &x.SourceID, &x.Name, &x.Description, &x.Type, &x.SQL, &x.Table, &x.PrimaryKey, &x.ViewName, &columns,
			&fields, &x.TimestampColumn, &rels, &calculated, &mat, &x.DuplicateKeyShare, &checked, &c, &u); err != nil {
			return nil, err
		}
		if err := decodeJSON("columns", columns, &x.Columns); err != nil {
			return nil, err
		}
		if err := decodeJSON("fields", fields, &x.Fields); err != nil {
			return nil, err
		}
		if err := decodeJSON("relationships", rels, &x.Relationships); err != nil {
			return nil, err
		}
		if err := decodeJSON("materialization", mat, &x.Materialization); err != nil {
			return nil, err
		}
		if calculated != "" && calculated != "null" {
			x.Calculated = json.RawMessage(calculated)
		}
		if checked.Valid {
			t := fromMicros(checked.Int64)
			x.DuplicateKeyCheckedAt = &t
		}
		x.CreatedAt, x.UpdatedAt = fromMicros(c), fromMicros(u)
		return &x, nil
	},
	rec: func(x *Model) (record, error) {
		r := record{id: x.ID, workspaceID: x.WorkspaceID, name: x.Name,
			refs: []ref{{KindSource, "sources", x.SourceID}}}
		columns, err := encodeJSON("columns", x.Columns)
		if err != nil {
			return r, err
		}
		fields, err := encodeJSON("fields", x.Fields)
		if err != nil {
			return r, err
		}
		rels, err := encodeJSON("relationships", x.Relationships)
		if err != nil {
			return r, err
		}
		var mat any
		if x.Materialization.Mode != "" {
			mat = x.Materialization
		}
		matText, err := encodeJSON("materialization", mat)
		if err != nil {
			return r, err
		}
		calculated := "null"
		if len(x.Calculated) > 0 {
			if !json.Valid(x.Calculated) {
				return r, fmt.Errorf("calculated: not valid JSON")
			}
			calculated = string(x.Calculated)
		}
		r.set = []col{{"name", x.Name}, {"source_id", x.SourceID}, {"description", x.Description}, {"model_type", x.Type},
			{"sql_text", x.SQL}, {"table_name", x.Table}, {"primary_key", x.PrimaryKey}, {"view_name", x.ViewName}, {"columns", columns},
			{"fields", fields}, {"timestamp_column", x.TimestampColumn}, {"relationships", rels}, {"calculated", calculated},
			{"materialization", matText}, {"duplicate_key_share", x.DuplicateKeyShare}, {"duplicate_key_checked_at", nullMicros(x.DuplicateKeyCheckedAt)}}
		return r, nil
	},
	meta: func(x *Model) (*string, *time.Time, *time.Time) { return &x.ID, &x.CreatedAt, &x.UpdatedAt },
	validate: func(x *Model) error {
		if err := required(KindModel, [2]string{"workspace_id", x.WorkspaceID}, [2]string{"source_id", x.SourceID}, [2]string{"name", x.Name}); err != nil {
			return err
		}
		if (x.SQL == "") == (x.Table == "") {
			return fmt.Errorf("invalid model %q: exactly one of sql and table must be set", x.Name)
		}
		return nil
	},
	usedBy: []usedBy{{KindSegment, "segments", "model_id"}, {KindActivation, "activations", "model_id"}},
}

// CreateModel stores x, assigning ID (unless set), CreatedAt and UpdatedAt. Its source must
// exist in the same workspace (ErrNotFound otherwise).
func (s *sqlStore) CreateModel(ctx context.Context, x *Model) error {
	return create(ctx, s, modelKind, x)
}

// GetModel returns the model with that ID.
func (s *sqlStore) GetModel(ctx context.Context, id string) (*Model, error) {
	return getByID(ctx, s, modelKind, id)
}

// GetModelByName returns the workspace's model with that name.
func (s *sqlStore) GetModelByName(ctx context.Context, workspaceID, name string) (*Model, error) {
	return getByName(ctx, s, modelKind, workspaceID, name)
}

// ListModels returns the workspace's models, by name.
func (s *sqlStore) ListModels(ctx context.Context, workspaceID string) ([]Model, error) {
	return list(ctx, s, modelKind, workspaceID)
}

// UpdateModel writes x's declared fields; WorkspaceID cannot change.
func (s *sqlStore) UpdateModel(ctx context.Context, x *Model) error {
	return update(ctx, s, modelKind, x)
}

// DeleteModel deletes a model no segment or activation uses (ErrInUse otherwise).
func (s *sqlStore) DeleteModel(ctx context.Context, id string) error {
	return remove(ctx, s, modelKind, id)
}

// ---- segments

var segmentKind = &kindDef[Segment]{
	kind: KindSegment, table: "segments", prefix: prefixSegment, workspaceScoped: true,
	selectCols: `id, workspace_id, model_id, name, description, conditions, compiled_sql, view_name, created_at, updated_at`,
	scan: func(sc scanner) (*Segment, error) {
		var x Segment
		var conditions string
		var c, u int64
		if err := sc.Scan(&x.ID, &x.WorkspaceID, &x.ModelID, &x.Name, &x.Description, &conditions, &x.CompiledSQL, &x.ViewName, &c, &u); err != nil {
			return nil, err
		}
		if conditions != "" {
			x.Conditions = json.RawMessage(conditions)
		}
		x.CreatedAt, x.UpdatedAt = fromMicros(c), fromMicros(u)
		return &x, nil
	},
	rec: func(x *Segment) (record, error) {
		r := record{id: x.ID, workspaceID: x.WorkspaceID, name: x.Name,
			refs: []ref{{KindModel, "models", x.ModelID}}}
		if len(x.Conditions) > 0 && !json.Valid(x.Conditions) {
			return r, fmt.Errorf("conditions: not valid JSON")
		}
		r.set = []col{{"name", x.Name}, {"model_id", x.ModelID}, {"description", x.Description},
			{"conditions", string(x.Conditions)}, {"compiled_sql", x.CompiledSQL}, {"view_name", x.ViewName}}
		return r, nil
	},
	meta: func(x *Segment) (*string, *time.Time, *time.Time) { return &x.ID, &x.CreatedAt, &x.UpdatedAt },
	validate: func(x *Segment) error {
		return required(KindSegment, [2]string{"workspace_id", x.WorkspaceID}, [2]string{"model_id", x.ModelID}, [2]string{"name", x.Name})
	},
	usedBy: []usedBy{{KindActivation, "activations", "segment_id"}},
}

// CreateSegment stores x, assigning ID (unless set), CreatedAt and UpdatedAt. Its model must
// exist in the same workspace (ErrNotFound otherwise).
func (s *sqlStore) CreateSegment(ctx context.Context, x *Segment) error {
	return create(ctx, s, segmentKind, x)
}

// GetSegment returns the segment with that ID.
func (s *sqlStore) GetSegment(ctx context.Context, id string) (*Segment, error) {
	return getByID(ctx, s, segmentKind, id)
}

// GetSegmentByName returns the workspace's segment with that name.
func (s *sqlStore) GetSegmentByName(ctx context.Context, workspaceID, name string) (*Segment, error) {
	return getByName(ctx, s, segmentKind, workspaceID, name)
}

// ListSegments returns the workspace's segments, by name.
func (s *sqlStore) ListSegments(ctx context.Context, workspaceID string) ([]Segment, error) {
	return list(ctx, s, segmentKind, workspaceID)
}

// UpdateSegment writes x's declared fields; WorkspaceID cannot change.
func (s *sqlStore) UpdateSegment(ctx context.Context, x *Segment) error {
	return update(ctx, s, segmentKind, x)
}

// DeleteSegment deletes a segment no activation uses (ErrInUse otherwise).
func (s *sqlStore) DeleteSegment(ctx context.Context, id string) error {
	return remove(ctx, s, segmentKind, id)
}

// ---- destinations

var destinationKind = &kindDef[Destination]{
	kind: KindDestination, table: "destinations", prefix: prefixDestination, workspaceScoped: true,
	selectCols: `id, workspace_id, name, platform, settings, credentials, credentials_version, api_base_url, created_at, updated_at`,
	scan: func(sc scanner) (*Destination, error) {
		var x Destination
		var settings, creds string
		var c, u int64
		if err := sc.Scan(&x.ID, &x.WorkspaceID, &x.Name, &x.Platform, &settings, &creds, &x.CredentialsVersion, &x.BaseURL, &c, &u); err != nil {
			return nil, err
		}
		if err := decodeJSON("settings", settings, &x.Settings); err != nil {
			return nil, err
		}
		if err := decodeJSON("credentials", creds, &x.Credentials); err != nil {
			return nil, err
		}
		x.CreatedAt, x.UpdatedAt = fromMicros(c), fromMicros(u)
		return &x, nil
	},
	rec: func(x *Destination) (record, error) {
		r := record{id: x.ID, workspaceID: x.WorkspaceID, name: x.Name}
		settings, err := encodeJSON("settings", x.Settings)
		if err != nil {
			return r, err
		}
		creds, err := encodeJSON("credentials", x.Credentials)
		if err != nil {
			return r, err
		}
		r.set = []col{{"name", x.Name}, {"platform", x.Platform}, {"settings", settings}, {"credentials", creds}, {"credentials_version", x.CredentialsVersion},
			{"api_base_url", x.BaseURL}}
		return r, nil
	},
	meta: func(x *Destination) (*string, *time.Time, *time.Time) { return &x.ID, &x.CreatedAt, &x.UpdatedAt },
	validate: func(x *Destination) error {
		return required(KindDestination, [2]string{"workspace_id", x.WorkspaceID}, [2]string{"name", x.Name}, [2]string{"platform", x.Platform})
	},
	usedBy: []usedBy{{KindActivation, "activations", "destination_id"}},
}

// CreateDestination stores x, assigning ID (unless set), CreatedAt and UpdatedAt.
func (s *sqlStore) CreateDestination(ctx context.Context, x *Destination) error {
	return create(ctx, s, destinationKind, x)
}

// GetDestination returns the destination with that ID.
func (s *sqlStore) GetDestination(ctx context.Context, id string) (*Destination, error) {
	return getByID(ctx, s, destinationKind, id)
}

// GetDestinationByName returns the workspace's destination with that name.
func (s *sqlStore) GetDestinationByName(ctx context.Context, workspaceID, name string) (*Destination, error) {
	return getByName(ctx, s, destinationKind, workspaceID, name)
}

// ListDestinations returns the workspace's destinations, by name.
func (s *sqlStore) ListDestinations(ctx context.Context, workspaceID string) ([]Destination, error) {
	return list(ctx, s, destinationKind, workspaceID)
}

// UpdateDestination writes x's declared fields; WorkspaceID cannot change. The audit entry
// lists the changed fields ("credentials", never their values).
func (s *sqlStore) UpdateDestination(ctx context.Context, x *Destination) error {
	return update(ctx, s, destinationKind, x)
}

// DeleteDestination deletes a destination no activation uses (ErrInUse otherwise).
func (s *sqlStore) DeleteDestination(ctx context.Context, id string) error {
	return remove(ctx, s, destinationKind, id)
}

// ---- activations

const activationCols = `id, workspace_id, name, description, segment_id, model_id, destination_id, service, run_type, sync_mode,
	mappings, options, schedule, enabled, paused, pause_reason, paused_by, full_resync, next_run_at, created_at, updated_at,
	guards, removals_approved, lookback_seconds`

func scanActivation(sc scanner) (*Activation, error) {
	var x Activation
	var segmentID, modelID sql.NullString
	var mappings, options, schedule, guards string
	var next sql.NullInt64
	var c, u, lookback int64
	if err := sc.Scan(&x.ID, &x.WorkspaceID, &x.Name, &x.Description, &segmentID, &modelID, &x.DestinationID, &x.Service, &x.RunType, &x.SyncMode,
		&mappings, &options, &schedule, &x.Enabled, &x.Paused, &x.PauseReason, &x.PausedBy, &x.FullResyncRequested, &next, &c, &u,
		&guards, &x.RemovalsApproved, &lookback); err != nil {
		return nil, err
	}
	x.Lookback = time.Duration(lookback) * time.Second
	x.SegmentID, x.ModelID = segmentID.String, modelID.String
	if err := decodeJSON("mappings", mappings, &x.Mappings); err != nil {
		return nil, err
	}
	if err := decodeJSON("options", options, &x.Options); err != nil {
		return nil, err
	}
	if err := decodeJSON("schedule", schedule, &x.Schedule); err != nil {
		return nil, err
	}
	if err := decodeJSON("guards", guards, &x.Guards); err != nil {
		return nil, err
	}
	x.NextRunAt = timePtr(next)
	x.CreatedAt, x.UpdatedAt = fromMicros(c), fromMicros(u)
	return &x, nil
}

var activationKind = &kindDef[Activation]{
	kind: KindActivation, table: "activations", prefix: prefixActivation, workspaceScoped: true,
	selectCols: activationCols,
	scan:       scanActivation,
	rec: func(x *Activation) (record, error) {
		r := record{id: x.ID, workspaceID: x.WorkspaceID, name: x.Name}
		if x.SegmentID != "" {
			r.refs = append(r.refs, ref{KindSegment, "segments", x.SegmentID})
		}
		if x.ModelID != "" {
			r.refs = append(r.refs, ref{KindModel, "models", x.ModelID})
		}
		r.refs = append(r.refs, ref{KindDestination, "destinations", x.DestinationID})
		mappings, err := encodeJSON("mappings", x.Mappings)
		if err != nil {
			return r, err
		}
		options, err := encodeJSON("options", x.Options)
		if err != nil {
			return r, err
		}
		schedule, err := encodeJSON("schedule", x.Schedule)
		if err != nil {
			return r, err
		}
		guards, err := encodeJSON("guards", x.Guards)
		if err != nil {
			return r, err
		}
		r.set = []col{{"name", x.Name}, {"description", x.Description}, {"segment_id", nullString(x.SegmentID)}, {"model_id", nullString(x.ModelID)},
			{"destination_id", x.DestinationID}, {"service", x.Service}, {"run_type", x.RunType}, {"sync_mode", x.SyncMode},
			{"mappings", mappings}, {"options", options}, {"schedule", schedule}, {"enabled", x.Enabled},
			{"guards", guards}, {"lookback_seconds", int64(x.Lookback / time.Second)}}
		r.createOnly = []col{{"paused", x.Paused}, {"pause_reason", x.PauseReason}, {"paused_by", x.PausedBy},
			{"full_resync", x.FullResyncRequested}, {"next_run_at", nullMicros(x.NextRunAt)}, {"removals_approved", x.RemovalsApproved}}
		return r, nil
	},
	meta: func(x *Activation) (*string, *time.Time, *time.Time) { return &x.ID, &x.CreatedAt, &x.UpdatedAt },
	validate: func(x *Activation) error {
		if err := required(KindActivation, [2]string{"workspace_id", x.WorkspaceID}, [2]string{"name", x.Name}, [2]string{"destination_id", x.DestinationID}); err != nil {
			return err
		}
		if (x.SegmentID == "") == (x.ModelID == "") {
			return fmt.Errorf("invalid activation %q: exactly one of segment_id and model_id must be set", x.Name)
		}
		if x.Lookback < 0 || x.Lookback%time.Second != 0 {
			return fmt.Errorf("invalid activation %q: lookback %s must be zero or more whole seconds", x.Name, x.Lookback)
		}
		return nil
	},
	updateExtra: func(old, x *Activation) ([]string, []any, []string) {
		if x.FullResyncRequested && !old.FullResyncRequested {
			return []string{"full_resync = ?"}, []any{true}, []string{"full_resync"}
		}
		return nil, nil, nil
	},
	afterUpdate: func(old, x *Activation) {
		x.Paused, x.PauseReason, x.PausedBy = old.Paused, old.PauseReason, old.PausedBy
		x.NextRunAt = old.NextRunAt
		x.RemovalsApproved = old.RemovalsApproved
		x.FullResyncRequested = old.FullResyncRequested || x.FullResyncRequested
	},
}

// CreateActivation stores x, assigning ID (unless set), CreatedAt and UpdatedAt. Its segment
// or model and its destination must exist in the same workspace (ErrNotFound otherwise). The
// runner-owned fields (Paused, PauseReason, PausedBy, FullResyncRequested, NextRunAt) are
// stored as given, so the caller sets their initial values.
func (s *sqlStore) CreateActivation(ctx context.Context, x *Activation) error {
	return create(ctx, s, activationKind, x)
}

// GetActivation returns the activation with that ID.
func (s *sqlStore) GetActivation(ctx context.Context, id string) (*Activation, error) {
	return getByID(ctx, s, activationKind, id)
}

// GetActivationByName returns the workspace's activation with that name.
func (s *sqlStore) GetActivationByName(ctx context.Context, workspaceID, name string) (*Activation, error) {
	return getByName(ctx, s, activationKind, workspaceID, name)
}

// ListActivations returns the workspace's activations, by name.
func (s *sqlStore) ListActivations(ctx context.Context, workspaceID string) ([]Activation, error) {
	return list(ctx, s, activationKind, workspaceID)
}

// UpdateActivation writes the user-declared fields: Name, Description, SegmentID, ModelID,
// DestinationID, Service, RunType, SyncMode, Mappings, Options, Schedule and Enabled (WorkspaceID cannot
// change). The runner-owned state — Paused, PauseReason, PausedBy, NextRunAt and the run lease
// — is never written, whatever x holds. FullResyncRequested is one-way: true sets the stored
// flag (so the provider can request a full resync when an attribute that needs one changes);
// false leaves the stored flag as it is (only SetActivationSchedule clears it, once the runner
// has done the full run). On return x holds the stored values of the runner-owned fields.
func (s *sqlStore) UpdateActivation(ctx context.Context, x *Activation) error {
	return update(ctx, s, activationKind, x)
}

// DeleteActivation deletes the activation and its run history (the audit log keeps its
// entries).
func (s *sqlStore) DeleteActivation(ctx context.Context, id string) error {
	return remove(ctx, s, activationKind, id)
}
