package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"dinmo/internal/pgtest"
)

// pgSettings tune the throwaway cluster for an analytical workload on this machine (the
// figures PERF-NOTES.md was measured with). shared_buffers needs a restart; the others a
// reload. Nothing here is a session setting: the runner's connections get them as any client
// of a tuned server would.
var pgSettings = []struct{ name, value string }{
	{"shared_buffers", "2GB"},
	{"work_mem", "256MB"},
	{"maintenance_work_mem", "1GB"},
	{"effective_cache_size", "8GB"},
	{"max_wal_size", "16GB"},
	{"checkpoint_timeout", "1h"},
	{"max_parallel_workers_per_gather", "2"},
	{"parallel_tuple_cost", "0.01"},
	{"random_page_cost", "1.1"},
}

var (
	tuneOnce  sync.Once
	tuneNotes []string
)

// tunePostgres applies pgSettings once per process with ALTER SYSTEM and restarts the
// throwaway cluster so shared_buffers takes effect (a server given by TEST_PG_DSN is only
// reloaded). It returns notes for the report: the settings in effect, or why they are not.
func tunePostgres(tb testing.TB, ctx context.Context, dsn string) []string {
	tb.Helper()
	tuneOnce.Do(func() { tuneNotes = tune(ctx, dsn) })
	return tuneNotes
}

func tune(ctx context.Context, dsn string) []string {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return []string{"PostgreSQL not tuned: " + err.Error()}
	}
	var notes []string
	for _, s := range pgSettings {
		if _, err := conn.Exec(ctx, "ALTER SYSTEM SET "+s.name+" = '"+s.value+"'"); err != nil {
			notes = append(notes, fmt.Sprintf("ALTER SYSTEM SET %s failed: %v", s.name, err))
		}
	}
	var dataDir string
	_ = conn.QueryRow(ctx, "SHOW data_directory").Scan(&dataDir)
	_, _ = conn.Exec(ctx, "SELECT pg_reload_conf()")
	_ = conn.Close(ctx)

	if os.Getenv(pgtest.EnvDSN) == "" && dataDir != "" {
		if err := restart(ctx, dataDir); err != nil {
			notes = append(notes, "restart for shared_buffers failed (reload only): "+err.Error())
		}
	} else {
		notes = append(notes, "server from "+pgtest.EnvDSN+": reloaded, shared_buffers unchanged until its restart")
	}
	// Report what is in effect.
	conn, err = connectRetry(ctx, dsn)
	if err != nil {
		return append(notes, "after tuning: "+err.Error())
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var version string
	_ = conn.QueryRow(ctx, "SHOW server_version").Scan(&version)
	line := "PostgreSQL " + version + ":"
	for _, s := range pgSettings {
		var v string
		if err := conn.QueryRow(ctx, "SHOW "+s.name).Scan(&v); err == nil {
			line += " " + s.name + "=" + v
		}
	}
	for _, name := range []string{"fsync", "synchronous_commit", "full_page_writes", "jit"} {
		var v string
		if err := conn.QueryRow(ctx, "SHOW "+name).Scan(&v); err == nil {
			line += " " + name + "=" + v
		}
	}
	return append([]string{line}, notes...)
}

// restart restarts the throwaway cluster with pg_ctl (keeping its port and options, which
// pg_ctl reads from postmaster.opts), as user postgres when running as root, like pgtest.
func restart(ctx context.Context, dataDir string) error {
	bin, err := pgBin()
	if err != nil {
		return err
	}
	args := []string{filepath.Join(bin, "pg_ctl"), "-D", dataDir, "-l", filepath.Join(filepath.Dir(dataDir), "server.log"),
		"-w", "-t", "120", "-m", "fast", "restart"}
	if os.Geteuid() == 0 {
		args = append([]string{"runuser", "-u", "postgres", "--"}, args...)
	}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(cctx, args[0], args[1:]...).CombinedOutput() //nolint:gosec // G204: the server binaries and the cluster's own directory
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

func connectRetry(ctx context.Context, dsn string) (*pgx.Conn, error) {
	var err error
	for i := 0; i < 50; i++ {
		var c *pgx.Conn
		if c, err = pgx.Connect(ctx, dsn); err == nil {
			return c, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil, err
}

// pgBin finds the server binaries the way pgtest does (PGBIN, then the newest
// /usr/lib/postgresql/*/bin).
func pgBin() (string, error) {
	if d := os.Getenv(pgtest.EnvBin); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dirs[i])), 64)
		vj, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dirs[j])), 64)
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", fmt.Errorf("pg_ctl not found (set %s)", pgtest.EnvBin)
}
