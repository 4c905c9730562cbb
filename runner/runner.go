// Package runner executes activation runs: it evaluates a segment once in the warehouse, diffs
// it against the committed snapshot in SQL, streams only the delta to the destination in
// batches, checkpoints what the destination acknowledged, and commits the new snapshot
// atomically (DESIGN.md, "The sync"). It also schedules due activations, serves /healthz and
// /metrics, and holds the per-activation leases that keep several runners from running the same
// activation at once.
//
// All SQL comes from package deltasql (built on the warehouse dialects); the runner never
// writes SQL text itself. Rate limits and HTTP retries live in the destinations' shared
// transport; the runner only retries whole batches a destination reported as retryable.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"dinmo/catalog"
	"dinmo/connectors/httpx"
	"dinmo/connectors/registry"
	"dinmo/connectors/warehouse/deltasql"
	"dinmo/secrets"
)

// Defaults of Options fields left zero.
const (
	DefaultLeaseTTL         = 30 * time.Second
	DefaultProgressInterval = 5 * time.Second
	DefaultBatchRetries     = 3
	DefaultBatchBackoff     = time.Second
	DefaultMaxBatchBackoff  = 30 * time.Second
	DefaultStopGrace        = 30 * time.Second
)

// Options configures a Runner.
type Options struct {
	// Store is the catalog (required).
	Store catalog.Store
	// Registry lists the warehouse engines and destination platforms (default: registry.Default()).
	Registry *registry.Registry
	// Sealer opens sealed credentials; nil allows only env: and file: references.
	Sealer *secrets.Sealer
	// Logger receives the runner's logs (default: discard). Never row data or credentials.
	Logger *slog.Logger
	// Metrics records every finished run (default: a fresh NewMetrics()).
	Metrics *Metrics
	// ID identifies this runner in leases and run history (default: NewRunnerID()).
	ID string
	// LeaseTTL is how long a lease lasts without renewal; the heartbeat renews it every TTL/3.
	LeaseTTL time.Duration
	// ProgressInterval is how often a running run's counts are stored in the catalog.
	ProgressInterval time.Duration
	// BatchRetries bounds how many times a batch the destination failed as a whole with a
	// retryable error is sent again within the run; BatchBackoff is the first wait (doubling,
	// up to MaxBatchBackoff).
	BatchRetries    int
	BatchBackoff    time.Duration
	MaxBatchBackoff time.Duration
	// StopGrace is how long a batch in flight may still complete after the run was asked to
	// stop (SIGINT/SIGTERM); then it is abandoned (and sent again by the next run).
	StopGrace time.Duration
	// Now returns the current time (default time.Now); the scheduler uses it.
	Now func() time.Time
	// AlertHTTP configures the transport of Slack alerts (timeouts, retries; tests point it
	// at a fake). Alert channels themselves are configured per workspace in the catalog.
	AlertHTTP httpx.Options
	// FoldChunkRows is how many snapshot rows one step of the fold's chunked delete covers on
	// DuckDB (default deltasql.FoldChunkRows; tests make it small to exercise the chunks).
	FoldChunkRows int64
}

// Runner executes runs of activations. It is safe for concurrent use; one Runner never runs
// the same activation twice at once, and its lease keeps other runners from doing so.
type Runner struct {
	store       catalog.Store
	reg         *registry.Registry
	sealer      *secrets.Sealer
	logger      *slog.Logger
	metrics     *Metrics
	id          string
	host        string
	leaseTTL    time.Duration
	progressInt time.Duration
	retries     int
	backoff     time.Duration
	maxBackoff  time.Duration
	stopGrace   time.Duration
	now         func() time.Time
	foldChunk   int64

	alerts *alerting
	tasks  *taskRunner // model refreshes and source stats (TickTasks)

	mu      sync.Mutex
	running map[string]bool // activation ids running in this process
}

// New returns a Runner.
func New(opts Options) (*Runner, error) {
	if opts.Store == nil {
		return nil, errors.New("runner: a catalog store is required")
	}
	r := &Runner{
		store:       opts.Store,
		reg:         opts.Registry,
		sealer:      opts.Sealer,
		logger:      opts.Logger,
		metrics:     opts.Metrics,
		id:          opts.ID,
		leaseTTL:    opts.LeaseTTL,
		progressInt: opts.ProgressInterval,
		retries:     opts.BatchRetries,
		backoff:     opts.BatchBackoff,
		maxBackoff:  opts.MaxBatchBackoff,
		stopGrace:   opts.StopGrace,
		now:         opts.Now,
		foldChunk:   opts.FoldChunkRows,
		running:     map[string]bool{},
		alerts:      &alerting{http: opts.AlertHTTP, notifiers: map[string]*wsNotifier{}},
	}
	if r.reg == nil {
		r.reg = registry.Default()
	}
	if r.logger == nil {
		r.logger = slog.New(slog.DiscardHandler)
	}
	if r.metrics == nil {
		r.metrics = NewMetrics()
	}
	if r.id == "" {
		r.id = NewRunnerID()
	}
	if host, _, ok := parseRunnerID(r.id); ok {
		r.host = host
	} else if h, err := os.Hostname(); err == nil {
		r.host = h
	}
	if r.leaseTTL <= 0 {
		r.leaseTTL = DefaultLeaseTTL
	}
	if r.progressInt <= 0 {
		r.progressInt = DefaultProgressInterval
	}
	if r.retries < 0 {
		r.retries = 0
	} else if opts.BatchRetries == 0 {
		r.retries = DefaultBatchRetries
	}
	if r.backoff <= 0 {
		r.backoff = DefaultBatchBackoff
	}
	if r.maxBackoff <= 0 {
		r.maxBackoff = DefaultMaxBatchBackoff
	}
	if r.stopGrace <= 0 {
		r.stopGrace = DefaultStopGrace
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.foldChunk <= 0 {
		r.foldChunk = testFoldChunkRows(deltasql.FoldChunkRows)
	}
	r.logger = r.logger.With(LogRunner, r.id)
	r.tasks = r.newTaskRunner(DefaultTaskConcurrency)
	return r, nil
}

// ID returns the runner's identity, as leases and run history show it.
func (r *Runner) ID() string { return r.id }

// Metrics returns the runner's metrics.
func (r *Runner) Metrics() *Metrics { return r.metrics }

// Triggers recorded on runs.
const (
	TriggerManual   = "manual"
	TriggerSchedule = "schedule"
)

// RunOptions adjusts one run.
type RunOptions struct {
	// Full forces a full run: every present row is sent, whatever the snapshot says.
	Full bool
	// Trigger is recorded on the run (TriggerManual by default).
	Trigger string
	// Progress, when set, is called from the run's goroutine at each phase change and after
	// each batch. It must return quickly.
	Progress func(Progress)
}

// Phases of a run, as Progress reports them.
const (
	PhaseStarting   = "starting"
	PhaseEvaluating = "evaluating"
	PhaseDiffing    = "diffing"
	PhaseSending    = "sending"
	PhaseCommitting = "committing"
	PhaseDone       = "done"
)

// Progress is a snapshot of a running run's counts.
type Progress struct {
	RunID         string
	Phase         string
	Full          bool
	StartedAt     time.Time
	RowsEvaluated int64
	RowsSkipped   int64
	Added         int64
	Changed       int64
	Removed       int64
	// ToSend is how many records this run means to send; Sent how many it sent so far.
	ToSend       int64
	Sent         int64
	Acknowledged int64
	Rejected     int64
	Requests     int64
}

// Result describes a finished run.
type Result struct {
	// Run is the run as stored in the catalog.
	Run catalog.Run
	// Full tells whether the run sent every present row.
	Full bool
	// Sent counts records included in batches the destination answered (whatever their
	// outcome).
	Sent int64
	// NotSent counts diff records the sync mode does not send (for example changed records in
	// insert mode); they are acknowledged into the snapshot so they do not come back every run.
	NotSent int64
	// RejectedTable is the qualified table holding the activation's rejected records.
	RejectedTable string
	// Recovered counts acknowledged records of an interrupted earlier run folded at start.
	Recovered int64
	// Duration is the run's wall time.
	Duration time.Duration
}

// Run executes one run of an activation now: it takes the activation's lease (a *BusyError
// when another runner holds it), runs the sync and releases the lease. The returned error is
// nil when the run succeeded (possibly with warnings). When a run was recorded, Result is not
// nil even if the run failed. Cancelling ctx stops the run between batches; what the
// destination acknowledged until then is committed.
func (r *Runner) Run(ctx context.Context, activationID string, opts RunOptions) (*Result, error) {
	act, err := r.store.GetActivation(ctx, activationID)
	if err != nil {
		return nil, fmt.Errorf("run activation %s: %w", activationID, err)
	}
	if opts.Trigger == "" {
		opts.Trigger = TriggerManual
	}
	if !r.markRunning(act.ID) {
		return nil, fmt.Errorf("run activation %s: it is already running in this runner", act.Name)
	}
	defer r.unmarkRunning(act.ID)
	return r.runMarked(ctx, act, opts, nil)
}

// runMarked runs an activation already marked running in this process: it takes the lease,
// calls beforeRun (when set) with the activation as stored once the lease is held — false
// skips the run — and executes the sync. A skipped run returns (nil, nil).
func (r *Runner) runMarked(ctx context.Context, act *catalog.Activation, opts RunOptions, beforeRun func(*catalog.Activation) (bool, error)) (*Result, error) {
	ws, err := r.store.GetWorkspace(ctx, act.WorkspaceID)
	if err != nil {
		return nil, fmt.Errorf("run activation %s: workspace: %w", act.Name, err)
	}
	logger := r.logger.With(LogWorkspace, ws.Name, LogActivation, act.Name, LogActivationID, act.ID)
	l, err := r.acquireLease(ctx, act, logger)
	if err != nil {
		return nil, err
	}
	defer l.release()
	if beforeRun != nil {
		// Re-read under the lease: another runner may have run it since the caller looked.
		fresh, err := r.store.GetActivation(ctx, act.ID)
		if err != nil {
			return nil, fmt.Errorf("run activation %s: %w", act.Name, err)
		}
		ok, err := beforeRun(fresh)
		if err != nil || !ok {
			return nil, err
		}
		act = fresh
	}
	return r.execute(ctx, ws, act, l, opts, logger)
}

// markRunning records that an activation runs in this process; false if it already does.
func (r *Runner) markRunning(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running[id] {
		return false
	}
	r.running[id] = true
	return true
}

func (r *Runner) unmarkRunning(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.running, id)
}
