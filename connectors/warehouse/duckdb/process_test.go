package duckdb

import (
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"

	"dinmo/connectors"
	"dinmo/connectors/warehouse"
)

// childPathEnv makes the test binary, run as a child process by TestFileLockAcrossProcesses,
// open the file it names, print the outcome and exit (see TestMain).
const childPathEnv = "DINMO_DUCKDB_CHILD_PATH"

// childOpen is the whole life of the child process.
func childOpen(path string) {
	w, err := New().Open(context.Background(), warehouse.Config{Settings: map[string]any{SettingPath: path}}, nil)
	if err != nil {
		fmt.Printf("RESULT err %s %v: %v\n", connectors.CategoryOf(err), connectors.IsRetryable(err), err)
		return
	}
	_ = w.Close()
	fmt.Println("RESULT ok")
}

func openInChild(t *testing.T, path string) string {
	t.Helper()
	// The child is this test binary itself, with fixed arguments; only its environment varies.
	cmd := osexec.CommandContext(t.Context(), os.Args[0], "-test.run=^$") //nolint:gosec // G204: re-executes the running test binary
	cmd.Env = append(os.Environ(), childPathEnv+"="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child process: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "RESULT ") {
			return strings.TrimPrefix(line, "RESULT ")
		}
	}
	t.Fatalf("child process printed no result:\n%s", out)
	return ""
}

// TestFileLockAcrossProcesses checks that an open file is locked against other processes
// (reported as a retryable connection error), and that closing the last holder really
// closes the DuckDB instance, so another process can open the file.
func TestFileLockAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locked.db")
	a := open(t, path)
	b := open(t, path)
	exec(t, a.DB(), "CREATE TABLE t AS SELECT 1 AS x")

	got := openInChild(t, path)
	if !strings.HasPrefix(got, "err connection true: ") || !strings.Contains(strings.ToLower(got), "lock") {
		t.Errorf("child open while the file is held: %s", got)
	}
	_ = a.Close()
	if got := openInChild(t, path); !strings.HasPrefix(got, "err connection true") {
		t.Errorf("child open while one holder remains: %s", got)
	}
	_ = b.Close()
	if got := openInChild(t, path); got != "ok" {
		t.Errorf("child open after the last close: %s", got)
	}
}
