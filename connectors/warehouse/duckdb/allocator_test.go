package duckdb

import (
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"strconv"
	"strings"
	"testing"

	"dinmo/connectors/warehouse"
)

// childMemoryEnv makes the test binary, run as a child by TestAllocatorReturnsFreedMemory,
// run childMemory and exit (see TestMain).
const childMemoryEnv = "DINMO_DUCKDB_CHILD_MEMORY"

// childMemory opens an in-memory database, runs an aggregation that fills memory_limit and
// prints the process's anonymous memory before and after it, and the allocator's decay times.
func childMemory() {
	ctx := context.Background()
	w, err := New().Open(ctx, warehouse.Config{Settings: map[string]any{
		SettingPath: MemoryPath, SettingMemoryLimit: "256MB", SettingThreads: 2}}, nil)
	if err != nil {
		fmt.Println("RESULT error", err)
		return
	}
	defer func() { _ = w.Close() }()
	before := rssAnonKiB()
	var groups int64
	// About 4M groups: a hash table of well over 100 MB, freed when the query ends.
	if err := w.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM (SELECT i % 4000000 AS k, COUNT(*) AS n, MAX(i) AS m FROM range(8000000) t(i) GROUP BY k)").Scan(&groups); err != nil {
		fmt.Println("RESULT error", err)
		return
	}
	after := rssAnonKiB()
	dirty, muzzy, err := decayMs()
	if err != nil {
		fmt.Println("RESULT error", err)
		return
	}
	fmt.Printf("RESULT %d %d %d %d %d\n", groups, before, after, dirty, muzzy)
}

// rssAnonKiB is the process's resident anonymous memory (RssAnon), in KiB.
func rssAnonKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "RssAnon:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return -1
}

type memoryOutcome struct {
	groups, beforeKiB, afterKiB int64
	dirtyMs, muzzyMs            int
}

func runMemoryChild(t *testing.T, env ...string) memoryOutcome {
	t.Helper()
	cmd := osexec.CommandContext(t.Context(), os.Args[0], "-test.run=^$") //nolint:gosec // G204: re-executes the running test binary
	cmd.Env = append(append(os.Environ(), childMemoryEnv+"=1"), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child process: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		rest, ok := strings.CutPrefix(line, "RESULT ")
		if !ok {
			continue
		}
		var o memoryOutcome
		if _, err := fmt.Sscan(rest, &o.groups, &o.beforeKiB, &o.afterKiB, &o.dirtyMs, &o.muzzyMs); err != nil {
			t.Fatalf("child: %s", rest)
		}
		return o
	}
	t.Fatalf("child process printed no result:\n%s", out)
	return memoryOutcome{}
}

// TestAllocatorReturnsFreedMemory checks that the memory a DuckDB query frees leaves the
// process when the query ends: with the connector's allocator settings, the process's
// anonymous memory falls back near where it was; with jemalloc's own decay (set through
// DUCKDB_JE_MALLOC_CONF, which the connector then leaves alone) it stays high, which shows the
// setting is what returns it.
func TestAllocatorReturnsFreedMemory(t *testing.T) {
	if !allocatorTuned {
		t.Skip("DuckDB uses jemalloc only on Linux")
	}
	if _, set := os.LookupEnv(EnvAllocatorConf); set {
		t.Skipf("%s is set: the connector leaves the allocator alone", EnvAllocatorConf)
	}
	tuned := runMemoryChild(t)
	kept := runMemoryChild(t, EnvAllocatorConf+"=dirty_decay_ms:60000,muzzy_decay_ms:60000")
	for _, o := range []memoryOutcome{tuned, kept} {
		if o.groups != 4_000_000 {
			t.Fatalf("aggregation returned %d groups, want 4000000", o.groups)
		}
	}
	if tuned.dirtyMs != 0 || tuned.muzzyMs != 0 {
		t.Errorf("tuned decay: dirty %d ms, muzzy %d ms, want 0 and 0", tuned.dirtyMs, tuned.muzzyMs)
	}
	if kept.dirtyMs != 60000 || kept.muzzyMs != 60000 {
		t.Errorf("with %s set: dirty %d ms, muzzy %d ms, want the variable's 60000 and 60000", EnvAllocatorConf, kept.dirtyMs, kept.muzzyMs)
	}
	tunedKept, keptKept := (tuned.afterKiB-tuned.beforeKiB)>>10, (kept.afterKiB-kept.beforeKiB)>>10
	t.Logf("anonymous memory kept after the query: %d MiB tuned, %d MiB with jemalloc's decay", tunedKept, keptKept)
	if tunedKept > 24 {
		t.Errorf("tuned: the process kept %d MiB after the query (%d -> %d KiB), want at most 24", tunedKept, tuned.beforeKiB, tuned.afterKiB)
	}
	if keptKept < tunedKept+48 {
		t.Errorf("with jemalloc's decay the process kept %d MiB, tuned %d MiB: the aggregation no longer shows the difference", keptKept, tunedKept)
	}
}
