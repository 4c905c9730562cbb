// Package catalog is the persisted state the provider and the runner share: the declared
// objects (workspaces, sources, models, segments, destinations, activations), run history,
// leases and the audit log. Two back-ends implement Store with one schema, managed by versioned
// migrations: a SQLite file (the embedded default) and PostgreSQL (teams, several runners).
//
// Secrets never reach the catalog in plain text: credential maps hold values sealed by package
// secrets ("enc:v1:...") or references ("env:NAME", "file:PATH").
package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"dinmo/schedule"
)

// Sentinel errors. Back-ends wrap them with an operation prefix.
var (
	// ErrNotFound: no object with that id or name.
	ErrNotFound = errors.New("not found")
	// ErrConflict: an object of that kind and name already exists in the workspace.
	ErrConflict = errors.New("already exists")
	// ErrInUse: the object is still referenced (a model with segments, a destination with
	// activations, ...) and cannot be deleted.
	ErrInUse = errors.New("still in use")
)

// Object kinds, as the audit log names them.
const (
	KindWorkspace   = "workspace"
	KindSource      = "source"
	KindModel       = "model"
	KindSegment     = "segment"
	KindDestination = "destination"
	KindActivation  = "activation"
	KindRun         = "run"
)

// Workspace is an isolated team space owning every other object.
type Workspace struct {
	ID          string
	Name        string
	Description string
	Settings    WorkspaceSettings
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// WorkspaceSettings are workspace-wide options.
type WorkspaceSettings struct {
	CronEnabled bool `json:"cron_enabled,omitempty"`
	// AlertEmails and AlertSlackWebhookRef configure alerts (a later issue sends them).
	AlertEmails []string `json:"alert_emails,omitempty"`
	// Alerts is the workspace's alert configuration, as JSON in the format of package
	// package alert (alert.Settings), which owns it: Slack webhook and SMTP settings whose
	// secrets are sealed values or env:/file: references. Nil when alerts are off.
	Alerts json.RawMessage `json:"alerts,omitempty"`
}

// Source is a connected warehouse.
type Source struct {
	ID          string
	WorkspaceID string
	Name        string
	Engine      string
	// Settings are the engine's non-secret connection settings, as declared by its spec.
	Settings map[string]any
	// Credentials maps credential field names to sealed values or references.
	Credentials map[string]string
	// CredentialsVersion is the user's rotation marker for write-only credentials.
	CredentialsVersion string
	// StatsSchedule is when the runner computes the sizes of the source's segments and
	// re-checks its models' primary keys (results in dinmo_stats). The zero value (Type "")
	// means DefaultStatsSchedule.
	StatsSchedule schedule.Schedule
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// DefaultStatsSchedule is the stats schedule of a source that declares none: daily, as the
// duplicate primary key recheck requires.
var DefaultStatsSchedule = schedule.Schedule{Type: schedule.TypeInterval, Every: "1d"}

// EffectiveStatsSchedule returns the source's stats schedule, DefaultStatsSchedule when unset.
func (s *Source) EffectiveStatsSchedule() schedule.Schedule {
	if s.StatsSchedule.Type == "" {
		return DefaultStatsSchedule
	}
	return s.StatsSchedule
}

// Model types (spec §1.5).
const (
	ModelUsers  = "users"
	ModelEvents = "events"
	ModelCustom = "custom"
)

// Model is a table or SQL query of a source made available to segments and activations.
type Model struct {
	ID          string
	WorkspaceID string
	SourceID    string
	Name        string
	Description string
	Type        string
	// Exactly one of SQL and Table is set. Table may be schema-qualified ("sales.customers").
	SQL        string
	Table      string
	PrimaryKey string
	// ViewName is the unqualified name of the view holding the model's query; the schema is
	// always warehouse.SchemaSegments ("dinmo_segments").
	ViewName string
	// Columns are the introspected result columns at the last apply.
	Columns []Column
	// Fields declare metadata of some of the columns (display name, type override,
	// categorical flag, semantic tag); undeclared columns keep their introspected type.
	Fields []Field
	// TimestampColumn is the date or timestamp column of each row (events models): the default
	// field of time windows on this model.
	TimestampColumn string
	// Relationships lead from this model to other models of the same source.
	Relationships []Relationship
	// Calculated holds the model's calculated fields as JSON: a list in the format of package
	// segment (segment.CalculatedField), which owns it as it owns segment conditions. Nil when
	// the model has none.
	Calculated json.RawMessage
	// Materialization says whether the model is a live view or a table refreshed on a
	// schedule. The zero value means live.
	Materialization Materialization
	// DuplicateKeyShare is the share of rows whose primary key is NULL or repeats another
	// row's, at the last check (DuplicateKeyCheckedAt; nil before the first check).
	DuplicateKeyShare     float64
	DuplicateKeyCheckedAt *time.Time
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// Field declares metadata of one column of a model.
type Field struct {
	Column      string `json:"column"`
	DisplayName string `json:"display_name,omitempty"`
	// Type overrides the introspected type category (a warehouse.TypeCategory).
	Type string `json:"type,omitempty"`
	// Categorical marks a low-cardinality field (breakdowns use them).
	Categorical bool `json:"categorical,omitempty"`
	// Semantic is a well-known meaning (email, phone, country, ...) destinations can map.
	Semantic string `json:"semantic,omitempty"`
}

// Relationship links a model to another of the same source: rows are related when
// this.FromColumn = To.ToColumn. To is the target model's name (not its id), so two models can
// name each other and a renamed target shows up as a validation error where it is used.
type Relationship struct {
	Name       string `json:"name"`
	To         string `json:"to"`
	Kind       string `json:"kind"` // many_to_one or one_to_many
	FromColumn string `json:"from_column"`
	ToColumn   string `json:"to_column"`
}

// Materialization modes of a model.
const (
	MaterializeLive  = "live"
	MaterializeTable = "table"
)

// Materialization is how a model's rows are kept in the warehouse: a live view (the default),
// or a table that the provider fills at apply and the runner refreshes on Refresh (the
// vocabulary of activation schedules; manual means only at apply and from the CLI). The zero
// value (Mode "") is a live model whose configuration did not mention materialisation.
type Materialization struct {
	Mode    string            `json:"mode,omitempty"`
	Refresh schedule.Schedule `json:"refresh,omitzero"`
}

// IsTable reports whether the model is materialised as a table.
func (m Materialization) IsTable() bool { return m.Mode == MaterializeTable }

// Column is an introspected column of a model.
type Column struct {
	Name     string `json:"name"`
	Type     string `json:"type"`     // the engine's type name
	Category string `json:"category"` // warehouse.TypeCategory
}

// Segment is a filtered subset of a model.
type Segment struct {
	ID          string
	WorkspaceID string
	ModelID     string
	Name        string
	Description string
	// Conditions is the condition tree as JSON (package segment defines it).
	Conditions json.RawMessage
	// CompiledSQL is the SELECT the segment's view runs.
	CompiledSQL string
	// ViewName is the unqualified name of the segment's view in dinmo_segments.
	ViewName  string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Destination is a connection to one platform.
type Destination struct {
	ID                 string
	WorkspaceID        string
	Name               string
	Platform           string
	Settings           map[string]any
	Credentials        map[string]string // sealed values or references
	CredentialsVersion string
	// BaseURL, when not empty, replaces the platform's API base URL (a regional instance, a
	// proxy, a test server); it reaches the platform as destination.OpenParams.BaseURL.
	BaseURL   string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Mapping maps one model column to one destination field.
type Mapping struct {
	Column string `json:"column"`
	Field  string `json:"field"`
}

// Schedule types (manual and interval today; recurrence and cron come later).
const (
	ScheduleManual   = "manual"
	ScheduleInterval = "interval"
)

// Schedule says when the runner starts an activation by itself.
type Schedule struct {
	Type string `json:"type"`
	// Every is the interval for ScheduleInterval.
	Every time.Duration `json:"every,omitempty"`
}

// Guards are an activation's per-run safety thresholds. A nil field means "use the default"
// (the runner's DefaultGuards), so rows written before guards existed keep safe behaviour.
type Guards struct {
	// MaxRemovalPercent: a run that would remove more than this share (0-100) of a snapshot
	// of at least MinSnapshotForRemovalGuard rows stops before sending and waits for approval.
	MaxRemovalPercent          *float64 `json:"max_removal_percent,omitempty"`
	MinSnapshotForRemovalGuard *int64   `json:"min_snapshot_for_removal_guard,omitempty"`
	// BlockEmptyResult stops a run whose rows are empty while the previous snapshot was not.
	BlockEmptyResult *bool `json:"block_empty_result,omitempty"`
	// RejectedWarningPercent: a run whose rejected share of the records it sent exceeds this
	// (0-100) gets a warning.
	RejectedWarningPercent *float64 `json:"rejected_warning_percent,omitempty"`
}

// Guard defaults, used for every threshold an activation leaves unset.
const (
	DefaultMaxRemovalPercent          = 50.0
	DefaultMinSnapshotForRemovalGuard = int64(100)
	DefaultBlockEmptyResult           = true
	DefaultRejectedWarningPercent     = 5.0
)

// GuardValues are an activation's guard thresholds with the defaults applied.
type GuardValues struct {
	MaxRemovalPercent          float64
	MinSnapshotForRemovalGuard int64
	BlockEmptyResult           bool
	RejectedWarningPercent     float64
}

// Values returns the thresholds with defaults for the fields left nil.
func (g Guards) Values() GuardValues {
	v := GuardValues{DefaultMaxRemovalPercent, DefaultMinSnapshotForRemovalGuard, DefaultBlockEmptyResult, DefaultRejectedWarningPercent}
	if g.MaxRemovalPercent != nil {
		v.MaxRemovalPercent = *g.MaxRemovalPercent
	}
	if g.MinSnapshotForRemovalGuard != nil {
		v.MinSnapshotForRemovalGuard = *g.MinSnapshotForRemovalGuard
	}
	if g.BlockEmptyResult != nil {
		v.BlockEmptyResult = *g.BlockEmptyResult
	}
	if g.RejectedWarningPercent != nil {
		v.RejectedWarningPercent = *g.RejectedWarningPercent
	}
	return v
}

// Activation pushes a segment's (or a model's) rows to one destination service.
type Activation struct {
	ID          string
	WorkspaceID string
	Name        string
	Description string
	// Exactly one of SegmentID and ModelID is set.
	SegmentID     string
	ModelID       string
	DestinationID string
	Service       string
	RunType       string // destination.RunType used for recurring runs (delta, full or incremental)
	SyncMode      string // destination.SyncMode
	Mappings      []Mapping
	// Lookback is how far before its cursor an incremental run still looks for late events
	// (whole seconds, stored as such; zero for other run types).
	Lookback time.Duration
	// Options are the service options the activation sets (option name to value, of the type
	// the service declares: string, bool or a whole number), without defaults: the runner
	// applies the declared defaults when it opens the destination. Stored as JSON, so a number
	// reads back as float64 (destination.SettingInt accepts it).
	Options map[string]any
	// Schedule is when the runner starts it by itself (package schedule: manual, interval,
	// recurrence, cron). Rows written before recurrence and cron existed (a numeric interval
	// in nanoseconds) still decode.
	Schedule schedule.Schedule
	// Guards are the activation's safety thresholds as declared; nil fields take the runner's
	// defaults (see Guards).
	Guards Guards
	// Enabled is the user's switch; a disabled activation is never scheduled.
	Enabled bool
	// Paused, PauseReason and PausedBy ("user" or "auto") hold the pause state, which the
	// runner changes; the provider only reads it.
	Paused      bool
	PauseReason string
	PausedBy    string
	// FullResyncRequested makes the next run a full one (set when an attribute that requires
	// it changes, or from the CLI).
	FullResyncRequested bool
	// RemovalsApproved lets the next run pass the mass-removal and empty-result guards once
	// (set by `dinmo-runner approve`, cleared by the run that used it). Runner-owned, like
	// the pause state.
	RemovalsApproved bool
	// NextRunAt is when the scheduler starts it next (nil: not scheduled).
	NextRunAt *time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Run statuses.
const (
	RunRunning     = "running"
	RunSucceeded   = "succeeded"
	RunWarning     = "succeeded_with_warnings" // some rows rejected or skipped
	RunFailed      = "failed"
	RunInterrupted = "interrupted" // the runner died; the next run caught up
	// RunBlocked: a guard stopped the run before it sent anything (mass removal, empty
	// result); it waits for `dinmo-runner approve`.
	RunBlocked = "blocked"
)

// Run is one execution of an activation.
type Run struct {
	ID           string
	ActivationID string
	WorkspaceID  string
	RunType      string
	Status       string
	Trigger      string // "manual", "schedule"
	RunnerID     string
	StartedAt    time.Time
	FinishedAt   *time.Time
	// Counts.
	RowsEvaluated int64 // rows of the segment query
	RowsSkipped   int64 // null or duplicate keys, never sent
	Added         int64 // diff: new keys
	Changed       int64 // diff: keys whose mapped values changed
	Removed       int64 // diff: keys that left the segment
	Acknowledged  int64
	Rejected      int64
	Retryable     int64 // still unsent at the end of the run (next run retries)
	Requests      int64 // destination calls made
	// Failure.
	ErrorCategory string
	ErrorMessage  string
	SampleErrors  []SampleError
	Warnings      []string
}

// SampleError is one rejected record of a run (its key and the destination's reason; never
// its field values).
type SampleError struct {
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

// Task kinds: the runner's scheduled work that is not an activation run.
const (
	// TaskModelRefresh refreshes the table of a model materialised as a table (object: model).
	TaskModelRefresh = "model_refresh"
	// TaskSourceStats re-checks the primary keys of a source's models and computes the sizes
	// of its segments into dinmo_stats (object: source).
	TaskSourceStats = "source_stats"
)

// Task is the schedule and lease of one piece of runner work on one object. The runner keeps
// the set of tasks in line with the catalog's objects; a task is claimed by one runner at a
// time, like an activation's run lease.
type Task struct {
	Kind        string
	ObjectID    string
	WorkspaceID string
	// Schedule is the schedule NextRunAt was computed from, as the runner encodes it (a changed
	// schedule resets NextRunAt).
	Schedule string
	// NextRunAt is when it is due next (nil: only on demand).
	NextRunAt  *time.Time
	LeaseOwner string
	LeaseUntil *time.Time
}

// Task run statuses are the run statuses RunRunning, RunSucceeded, RunFailed and RunInterrupted.

// TaskRun is one execution of a task: its history, as runs are an activation's.
type TaskRun struct {
	ID          string
	Kind        string
	ObjectID    string
	WorkspaceID string
	// ObjectName is the model's or source's name when the run started (history outlives
	// renames and deletions).
	ObjectName string
	RunnerID   string
	Trigger    string // "manual", "schedule"
	Status     string
	StartedAt  time.Time
	FinishedAt *time.Time
	// Rows is the table's row count after a refresh, or the number of segments measured.
	Rows    int64
	Message string // the error of a failed run, or a summary
}

// AuditEntry records one change made through the provider, or one run, pause or resume.
type AuditEntry struct {
	ID          int64
	At          time.Time
	Actor       string // "terraform", "runner:<id>", "cli"
	Action      string // create, update, delete, run.start, run.finish, pause, resume
	ObjectKind  string
	ObjectID    string
	ObjectName  string
	WorkspaceID string
	// Details carries non-secret context (changed attribute names, run counts, reasons).
	Details map[string]any
}

// AuditFilter narrows ListAudit; zero fields match everything.
type AuditFilter struct {
	WorkspaceID string
	ObjectID    string
	Limit       int // 0: 100
}

type actorKey struct{}

// WithActor returns a context whose mutations are audited under actor.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor set by WithActor, or "unknown".
func ActorFrom(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "unknown"
}

// Store is the catalog. Every Create/Update/Delete writes its audit entry in the same
// transaction, under the actor of the context. Create assigns ID, CreatedAt and UpdatedAt;
// Update bumps UpdatedAt. Names are unique per kind within a workspace (ErrConflict).
// Deleting a referenced object fails with ErrInUse. Implementations are safe for concurrent
// use by several goroutines and, for PostgreSQL, several processes.
type Store interface {
	CreateWorkspace(ctx context.Context, w *Workspace) error
	GetWorkspace(ctx context.Context, id string) (*Workspace, error)
	GetWorkspaceByName(ctx context.Context, name string) (*Workspace, error)
	ListWorkspaces(ctx context.Context) ([]Workspace, error)
	UpdateWorkspace(ctx context.Context, w *Workspace) error
	DeleteWorkspace(ctx context.Context, id string) error

	CreateSource(ctx context.Context, s *Source) error
	GetSource(ctx context.Context, id string) (*Source, error)
	GetSourceByName(ctx context.Context, workspaceID, name string) (*Source, error)
	ListSources(ctx context.Context, workspaceID string) ([]Source, error)
	UpdateSource(ctx context.Context, s *Source) error
	DeleteSource(ctx context.Context, id string) error

	CreateModel(ctx context.Context, m *Model) error
	GetModel(ctx context.Context, id string) (*Model, error)
	GetModelByName(ctx context.Context, workspaceID, name string) (*Model, error)
	ListModels(ctx context.Context, workspaceID string) ([]Model, error)
	UpdateModel(ctx context.Context, m *Model) error
	DeleteModel(ctx context.Context, id string) error

	CreateSegment(ctx context.Context, s *Segment) error
	GetSegment(ctx context.Context, id string) (*Segment, error)
	GetSegmentByName(ctx context.Context, workspaceID, name string) (*Segment, error)
	ListSegments(ctx context.Context, workspaceID string) ([]Segment, error)
	UpdateSegment(ctx context.Context, s *Segment) error
	DeleteSegment(ctx context.Context, id string) error

	CreateDestination(ctx context.Context, d *Destination) error
	GetDestination(ctx context.Context, id string) (*Destination, error)
	GetDestinationByName(ctx context.Context, workspaceID, name string) (*Destination, error)
	ListDestinations(ctx context.Context, workspaceID string) ([]Destination, error)
	UpdateDestination(ctx context.Context, d *Destination) error
	DeleteDestination(ctx context.Context, id string) error

	CreateActivation(ctx context.Context, a *Activation) error
	GetActivation(ctx context.Context, id string) (*Activation, error)
	GetActivationByName(ctx context.Context, workspaceID, name string) (*Activation, error)
	ListActivations(ctx context.Context, workspaceID string) ([]Activation, error)
	// UpdateActivation writes the user-declared fields. It leaves the runner-owned fields
	// (Paused, PauseReason, PausedBy, NextRunAt) as stored.
	UpdateActivation(ctx context.Context, a *Activation) error
	DeleteActivation(ctx context.Context, id string) error
	// SetActivationPause pauses (paused=true, with reason and by) or resumes it; audited as
	// pause or resume.
	SetActivationPause(ctx context.Context, id string, paused bool, reason, by string) error
	// SetActivationSchedule stores the next run time and whether a full resync is pending.
	SetActivationSchedule(ctx context.Context, id string, next *time.Time, fullResync bool) error
	// SetActivationApproval records (approved=true) or consumes (false) an approval for the
	// next run to pass the removal guards; audited as approve when set.
	SetActivationApproval(ctx context.Context, id string, approved bool) error
	// DueActivations lists enabled, unpaused activations whose NextRunAt <= now, across all
	// workspaces, oldest first.
	DueActivations(ctx context.Context, now time.Time) ([]Activation, error)

	// AcquireLease takes the activation's run lease for owner until now+ttl if it is free,
	// expired, or already owned by owner. It reports whether owner holds it. Holding the lease
	// is what guarantees one run of an activation at a time, across runner processes.
	AcquireLease(ctx context.Context, activationID, owner string, ttl time.Duration) (bool, error)
	// LeaseHolder returns the current owner and expiry (empty owner: free).
	LeaseHolder(ctx context.Context, activationID string) (owner string, until time.Time, err error)
	// StealLease hands the lease from fromOwner to toOwner until now+ttl, only if fromOwner
	// still holds it (expired or not); it reports whether toOwner now holds it. The runner uses
	// it to take over from a runner on the same host whose process is gone.
	StealLease(ctx context.Context, activationID, fromOwner, toOwner string, ttl time.Duration) (bool, error)
	// ReleaseLease frees the lease if owner holds it.
	ReleaseLease(ctx context.Context, activationID, owner string) error

	// CreateRun inserts a run (status running) and audits run.start.
	CreateRun(ctx context.Context, r *Run) error
	// FinishRun stores the final counts and status and audits run.finish.
	FinishRun(ctx context.Context, r *Run) error
	// UpdateRunProgress stores intermediate counts of a running run (not audited).
	UpdateRunProgress(ctx context.Context, r *Run) error
	GetRun(ctx context.Context, id string) (*Run, error)
	// ListRuns returns an activation's runs, newest first (limit 0: 50).
	ListRuns(ctx context.Context, activationID string, limit int) ([]Run, error)
	// MarkInterruptedRuns sets every run of the activation still "running" to "interrupted"
	// (called by the lease holder before it starts a new run) and returns how many it changed.
	MarkInterruptedRuns(ctx context.Context, activationID string) (int, error)

	// ListTasks returns every task, by kind and object.
	ListTasks(ctx context.Context) ([]Task, error)
	// PutTask creates the task of (Kind, ObjectID) or updates its WorkspaceID, Schedule and
	// NextRunAt, leaving a lease in place.
	PutTask(ctx context.Context, t *Task) error
	// DeleteTask removes a task and its run history (its object is gone).
	DeleteTask(ctx context.Context, kind, objectID string) error
	// AcquireTask takes the task's lease for owner until now+ttl when the lease is free,
	// expired or owner's, and, when occurrence is set, the task's NextRunAt is still that
	// occurrence (the due time the caller saw): a runner that finished it moved NextRunAt on,
	// so each occurrence is claimed once, whatever the runners' clocks. It reports whether
	// owner holds it; a missing task is ErrNotFound.
	AcquireTask(ctx context.Context, kind, objectID, owner string, ttl time.Duration, occurrence *time.Time) (bool, error)
	// ReleaseTask frees owner's lease and stores the next due time (nil: only on demand).
	ReleaseTask(ctx context.Context, kind, objectID, owner string, next *time.Time) error
	// CreateTaskRun inserts a running task run (assigning ID and StartedAt unless set);
	// FinishTaskRun stores its final status, rows and message.
	CreateTaskRun(ctx context.Context, r *TaskRun) error
	FinishTaskRun(ctx context.Context, r *TaskRun) error
	// ListTaskRuns returns task runs newest first, of one object (objectID) or of a whole
	// workspace (objectID empty), limit 0: 50.
	ListTaskRuns(ctx context.Context, workspaceID, objectID string, limit int) ([]TaskRun, error)
	// MarkInterruptedTaskRuns sets the object's task runs of that kind still running to
	// interrupted (called by the lease holder before a new run).
	MarkInterruptedTaskRuns(ctx context.Context, kind, objectID string) (int, error)

	// AppendAudit adds an entry (for events not tied to a Store mutation).
	AppendAudit(ctx context.Context, e AuditEntry) error
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)

	Close() error
}
