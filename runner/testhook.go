package runner

import (
	"fmt"
	"os"
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
//   - PauseInFold: inside the fold's transaction, after its first statement.
const EnvTestPauseAt = "DINMO_TEST_PAUSE_AT"

// Pause points of EnvTestPauseAt.
const (
	PauseBeforeEvaluate = "evaluate"
	PauseAfterEvaluate  = "evaluated"
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
