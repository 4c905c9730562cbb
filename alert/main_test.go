package alert

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a sender leaves goroutines behind (connections, timers).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
