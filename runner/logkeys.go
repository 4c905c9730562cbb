package runner

// Keys of the runner's structured log attributes. Every log call uses these constants so that
// log queries ("all records of run X") work across the code base. Values are identifiers,
// names, counts and durations: never row data, never credentials.
const (
	LogRunner       = "runner"     // runner id (host:pid:rand)
	LogRunID        = "run_id"     // catalog run id
	LogActivation   = "activation" // activation name
	LogActivationID = "activation_id"
	LogWorkspace    = "workspace"   // workspace name
	LogDestination  = "destination" // destination name
	LogPlatform     = "platform"    // destination platform
	LogService      = "service"     // destination service
	LogSource       = "source"      // source name
	LogEngine       = "engine"      // warehouse engine
	LogSyncMode     = "sync_mode"
	LogRunType      = "run_type" // full or delta, as executed
	LogTrigger      = "trigger"  // manual or schedule
	LogPhase        = "phase"    // evaluate, diff, send, commit
	LogStatus       = "status"   // final run status
	LogCategory     = "category" // error category
	LogError        = "error"
	LogHolder       = "holder"   // lease holder
	LogUntil        = "until"    // lease expiry
	LogRows         = "rows"     // rows evaluated
	LogSkipped      = "skipped"  // rows skipped (null or duplicate key)
	LogStrategy     = "strategy" // deltasql diff strategy
	LogAdded        = "added"
	LogChanged      = "changed"
	LogRemoved      = "removed"
	LogSent         = "sent"
	LogAcked        = "acknowledged"
	LogRejected     = "rejected"
	LogRetryable    = "retryable"
	LogNotSent      = "not_sent"
	LogRequests     = "requests"
	LogBatch        = "batch" // batch number within the run
	LogBatchSize    = "batch_size"
	LogChunks       = "chunks"
	LogAttempt      = "attempt"
	LogBackoff      = "backoff"
	LogDuration     = "duration"
	LogNextRun      = "next_run"
	LogAddr         = "addr"
	LogPoll         = "poll"
	LogConcurrency  = "concurrency"
	LogTask         = "task"      // task kind: model_refresh, source_stats
	LogObjectID     = "object_id" // the task's model or source id
	LogObject       = "object"    // the task's model or source name
	LogCount        = "count"
	LogField        = "field" // a destination field (name only)
	LogTypeChanged  = "type_changed"
	LogRecovered    = "recovered" // acknowledged records of an interrupted run folded at start
	LogGuard        = "guard"     // the guard that blocked a run
	LogEntity       = "entity"    // source, model, segment or destination (auto-pause)
	LogResumed      = "resumed"   // activations resumed by a check
	LogPanic        = "panic"
	LogStack        = "stack"
)
