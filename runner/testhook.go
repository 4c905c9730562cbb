package runner

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

// EnvTestPauseAt names the environment variable of the crash-safety test hook. When it is set
// to one of the pause points below, a run that reaches that point writes
// "DINMO_TEST_PAUSE_AT: paused at <point>" to stderr and sleeps for a minute, so the kill test
// (runner/cli) can SIGKILL the runner at a place a timer cannot hit reliably: inside the fold's
// transaction, for instance. Unset (always, outside that test) it does nothing.
//
// Pause points:
//   - PauseBeforeEvaluate: the run is recorded, nothing is written in the warehouse yet.
//   - PauseAfterEvaluate: the run table is written, the acknowledgement table is not.
//   - PauseInPrune: a large DuckDB snapshot was pruned in chunks (the old rows of acknowledged
//     keys are deleted), the fold's transaction has not started.
//   - PauseInFold: inside the fold's transaction, after its first statement.
const EnvTestPauseAt = "DINMO_TEST_PAUSE_AT"

// EnvTestFoldChunkRows, when set to a positive number, replaces deltasql.FoldChunkRows as the
// runner's default fold chunk (Options.FoldChunkRows): the kill test sets a few rows so that
// its small snapshots are pruned in chunks like a large one.
const EnvTestFoldChunkRows = "DINMO_TEST_FOLD_CHUNK_ROWS"

// testFoldChunkRows returns EnvTestFoldChunkRows's value, or def when it is unset or invalid.
func testFoldChunkRows(def int64) int64 {
	if n, err := strconv.ParseInt(os.Getenv(EnvTestFoldChunkRows), 10, 64); err == nil && n > 0 {
		return n
	}
	return def
}

// Pause points of EnvTestPauseAt.
const (
	PauseBeforeEvaluate = "evaluate"
	PauseAfterEvaluate  = "evaluated"
	PauseInPrune        = "prune"
	PauseInFold         = "fold"
)

// testPauseFor is how long the hook sleeps: longer than any kill test waits for it.
const testPauseFor = time.Minute

// testPause is the hook: a no-op unless EnvTestPauseAt names point.
func testPause(point string) {
	if os.Getenv(EnvTestPauseAt) != point {
		return
	}
	fmt.Fprintf(os.Stderr, "%s: paused at %s\n", EnvTestPauseAt, point)
	time.Sleep(testPauseFor)
}
