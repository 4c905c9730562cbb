// Package destination defines the contract of a destination platform: the services it offers
// and, per service, its capabilities (run types, sync modes, identifiers, field schema, batch
// size, rate limit), its configuration, and how it applies batches of changes with an outcome
// per record. One package per platform lives below it. The provider derives plan-time
// validation and documentation from these declarations; the runner derives batching, rate
// limiting and operations from them. They are written once, in the platform's package.
package destination

import (
	"context"
	"log/slog"
	"time"

	"dinmo/connectors"
)

// RunType says how much of the source a run processes (spec §6.3).
type RunType string

// Run types.
const (
	RunFull        RunType = "full"        // every row of the source, whatever the snapshot says
	RunDelta       RunType = "delta"       // only what changed since the last committed snapshot
	RunIncremental RunType = "incremental" // events: only event rows not sent before
)

// SyncMode says how processed rows are applied in the destination (spec §6.4).
type SyncMode string

// Sync modes.
const (
	ModeInsert SyncMode = "insert" // create new records only
	ModeUpdate SyncMode = "update" // update existing records only; never create or delete
	ModeUpsert SyncMode = "upsert" // create or update; never delete
	ModeMirror SyncMode = "mirror" // create, update and delete what left the source
	ModeList   SyncMode = "list"   // audience membership: add entering, remove leaving members
	ModeEvents SyncMode = "events" // send each new event row once
)

// Operation is what one record asks of the destination.
type Operation string

// Operations. The runner chooses them from the diff and the sync mode.
const (
	OpInsert Operation = "insert"
	OpUpdate Operation = "update"
	OpUpsert Operation = "upsert"
	OpDelete Operation = "delete"
	OpAdd    Operation = "add"    // add to a list or audience
	OpRemove Operation = "remove" // remove from a list or audience
	OpEvent  Operation = "event"
)

// Family groups services the way the product does: objects, lists and events.
type Family string

// Families.
const (
	FamilyObjects Family = "objects"
	FamilyLists   Family = "lists"
	FamilyEvents  Family = "events"
)

// FieldSpec declares one destination field a mapping may target.
type FieldSpec struct {
	Name        string
	Description string
	Type        string // string, number, integer, boolean, timestamp, object
	Required    bool
	// PII names the normalisation rule the platform applies to the value before sending
	// (package connectors/pii: "email", "phone", "first_name", "last_name", "zip", "country",
	// "city", "gender", "date_of_birth", "external_id"); empty for none.
	PII string
	// Hashed says the platform sends SHA-256 hex of the normalised value (values that already
	// look like SHA-256 hex pass through unchanged).
	Hashed bool
}

// ServiceSpec declares one service of a platform and its capabilities.
type ServiceSpec struct {
	// Name is the stable snake_case service name users write in an activation.
	Name        string
	Description string
	Family      Family
	RunTypes    []RunType
	SyncModes   []SyncMode
	// Identifiers lists destination fields that can identify a record; empty means the
	// record key (the model's primary key) is the identity.
	Identifiers []string
	// Fields lists known destination fields; AllowCustomFields lets mappings target others.
	Fields            []FieldSpec
	AllowCustomFields bool
	// RequireIdentifier says a mapping must target at least one of Identifiers.
	RequireIdentifier bool
	// IdentifierOption names the service option (one of Options, a string) whose value, with
	// its default applied, is the destination field that identifies records, for services
	// that match records on a field the user chooses (a HubSpot unique property). A mapping
	// must then target that field; this rule replaces Identifiers and RequireIdentifier
	// whenever the option has a value. Empty: the service has no such option.
	IdentifierOption string
	// Options are the per-activation settings of the service (an audience name, an event
	// name, a subscription group, a matching property), validated by the provider and passed
	// to Open with defaults applied.
	Options []connectors.ConfigField
	// CreatesUnknownRecords tells whether writing an unknown identifier creates a record.
	CreatesUnknownRecords bool
	// MaxBatchSize is the most records one Apply call may carry; DefaultBatchSize is used when
	// the destination's settings do not choose one.
	MaxBatchSize     int
	DefaultBatchSize int
	// RequestsPerSecond is the documented rate limit (0: none); Burst its bucket size.
	RequestsPerSecond float64
	Burst             int
	// MinAudienceSize is the platform's minimum list size (0: none).
	MinAudienceSize int
}

// SupportsMode reports whether the service supports a sync mode.
func (s ServiceSpec) SupportsMode(m SyncMode) bool {
	for _, x := range s.SyncModes {
		if x == m {
			return true
		}
	}
	return false
}

// SupportsRunType reports whether the service supports a run type.
func (s ServiceSpec) SupportsRunType(r RunType) bool {
	for _, x := range s.RunTypes {
		if x == r {
			return true
		}
	}
	return false
}

// PlatformSpec declares a platform: its configuration and its services.
type PlatformSpec struct {
	// Platform is the stable snake_case name users write and the catalog stores.
	Platform    string
	DisplayName string
	Description string
	Settings    []connectors.ConfigField
	Credentials []connectors.ConfigField
	Services    []ServiceSpec
}

// Service returns the declaration of a service by name.
func (p PlatformSpec) Service(name string) (ServiceSpec, bool) {
	for _, s := range p.Services {
		if s.Name == name {
			return s, true
		}
	}
	return ServiceSpec{}, false
}

// Record is one change to apply: the record key (the model's primary key as text), the
// operation, and the mapped fields (destination field name to value). Values are JSON-ready:
// string, float64, int64, bool, time.Time, nil, or nested maps and slices of those.
type Record struct {
	Key    string
	Op     Operation
	Fields map[string]any
}

// Batch is one call's worth of records, never more than the service's batch size.
type Batch struct {
	RunID        string
	ActivationID string
	Records      []Record
}

// Status is the outcome of one record.
type Status string

// Statuses.
const (
	Acknowledged Status = "acknowledged" // the destination accepted it
	Rejected     Status = "rejected"     // permanently refused; Reason says why
	Retryable    Status = "retryable"    // not applied now; may succeed if sent again
)

// Outcome is the result of one record of a batch.
type Outcome struct {
	Status Status
	Reason string
}

// OpenParams is what a platform receives to open a destination for one run.
type OpenParams struct {
	Service     string
	Settings    map[string]any    // declared settings with defaults applied
	Options     map[string]any    // the activation's service options with defaults applied
	Credentials map[string]string // resolved secrets; never log them
	RunID       string
	// ActivationID and ActivationName identify the activation (file names, list names).
	ActivationID   string
	ActivationName string
	// StartedAt is the run's start time, for names that must be stable within a run (files).
	StartedAt time.Time
	Logger    *slog.Logger
	// BaseURL overrides the platform's API base URL (regional instances, proxies, tests).
	BaseURL string
}

// Destination applies batches for one run of one activation. Apply calls are made one at a
// time (not concurrently) in the order of the run.
type Destination interface {
	// Apply sends one batch and returns one Outcome per record, in the same order. It blocks
	// until the destination answered or ctx is done. A non-nil error means no record of the
	// batch is known to be applied (all are to be sent again); the error is a connectors.Error
	// whose category says why. Retries of transient failures happen inside (shared transport)
	// before a record is reported Retryable.
	Apply(ctx context.Context, batch Batch) ([]Outcome, error)
	// Close finishes the run (flushes and closes files, ends upload sessions). Records not
	// finalised by a failed Close are reported by its error.
	Close(ctx context.Context) error
}

// Platform opens destinations of one platform.
type Platform interface {
	Spec() PlatformSpec
	// Check verifies settings and credentials without sending data (used at apply time and by
	// auto-resume checks).
	Check(ctx context.Context, p OpenParams) error
	Open(ctx context.Context, p OpenParams) (Destination, error)
}

// Compile-time reminder of the error type destinations return.
var _ error = (*connectors.Error)(nil)
