// Package pgtest gives tests a fresh, empty PostgreSQL database without assuming a running
// server. By default it starts one throwaway cluster per test process (initdb and pg_ctl on a
// free port in a temporary directory, as user postgres when running as root) the first time a
// test asks for a database, and stops it when the process ends. If env TEST_PG_DSN is set it
// uses that server instead. Either way every DSN call creates its own database, dropped when
// the test ends, so tests never see each other's tables.
//
// Usage in a package's tests:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		dsn := pgtest.DSN(t)
//		...
//	}
//
// Main is required to stop the cluster promptly when the tests end. Without it a watchdog
// process still stops the cluster and removes its directory about a second after the test
// process exits, but that is only best effort.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the environment variable holding the DSN of an existing server to use instead
// of starting a throwaway cluster. The role in it must be allowed to create databases.
const EnvDSN = "TEST_PG_DSN"

// EnvBin names the environment variable holding the directory of the PostgreSQL server
// binaries (initdb, pg_ctl), overriding the search of /usr/lib/postgresql/*/bin and PATH.
const EnvBin = "PGBIN"

// opTimeout bounds each administrative statement (create or drop a database).
const opTimeout = 60 * time.Second

// cluster is the process-wide throwaway cluster (or external server).
type cluster struct {
	adminDSN string // DSN of database "postgres" (or of TEST_PG_DSN)
	err      error  // start failure, reported by every DSN call

	// Set only for a cluster this process started.
	dir      string
	pgCtl    string
	asUser   []string // "runuser -u postgres --" prefix when running as root
	watchdog *exec.Cmd
}

var (
	startOnce sync.Once
	shared    *cluster
	stopOnce  sync.Once
)

// Main runs the package's tests, stops the cluster if one was started, and exits with the
// tests' exit code. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops the cluster started by this process, if any, and removes its directory. Main
// calls it; call it yourself only from a TestMain that cannot use Main. It is idempotent.
func Stop() {
	stopOnce.Do(func() {
		if shared == nil || shared.dir == "" {
			return
		}
		c := shared
		if c.pgCtl != "" {
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			defer cancel()
			args := append(append([]string{}, c.asUser...), c.pgCtl, "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop")
			_ = exec.CommandContext(ctx, args[0], args[1:]...).Run() //nolint:gosec // G204: the found server binaries on our own paths
		}
		if c.watchdog != nil && c.watchdog.Process != nil {
			_ = c.watchdog.Process.Kill()
			_ = c.watchdog.Wait()
		}
		_ = os.RemoveAll(c.dir)
	})
}

// Available reports whether DSN can provide a database: TEST_PG_DSN is set or the PostgreSQL
// server binaries were found. It does not start anything.
func Available() bool {
	if os.Getenv(EnvDSN) != "" {
		return true
	}
	_, err := findBin()
	return err == nil
}

// DSN returns the URL of a fresh, empty database, dropped (with FORCE, so open connections do
// not block it) when the test ends. It skips the test when neither TEST_PG_DSN nor the server
// binaries exist, and fails it with the server log when the cluster cannot start.
func DSN(t testing.TB) string {
	t.Helper()
	if !Available() {
		t.Skipf("pgtest: PostgreSQL not available: set %s to a server URL, or install the PostgreSQL server binaries (initdb, pg_ctl; e.g. apt-get install postgresql) or point %s at them", EnvDSN, EnvBin)
	}
	startOnce.Do(func() { shared = start() })
	if shared.err != nil {
		t.Fatalf("pgtest: %v", shared.err)
	}
	name := "pgtest_" + randomHex(8)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := exec1(ctx, shared.adminDSN, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		q := "DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize()
		if err := exec1(ctx, shared.adminDSN, q+" WITH (FORCE)"); err != nil {
			// Servers before PostgreSQL 13 have no FORCE.
			if err2 := exec1(ctx, shared.adminDSN, q); err2 != nil {
				t.Errorf("pgtest: drop database %s: %v", name, err)
			}
		}
	})
	dsn, err := withDatabase(shared.adminDSN, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return dsn
}

// exec1 runs one statement on a short-lived connection.
func exec1(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		return err
	}
	return nil
}

// withDatabase returns dsn pointing at database name. It accepts URL and keyword/value DSNs.
func withDatabase(dsn, name string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse %s: %w", EnvDSN, err)
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	// Keyword/value form: a later keyword overrides an earlier one.
	return dsn + " dbname=" + name, nil
}

// start starts the throwaway cluster, or validates TEST_PG_DSN.
func start() *cluster {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		c := &cluster{adminDSN: dsn}
		if _, err := pgx.ParseConfig(dsn); err != nil {
			c.err = fmt.Errorf("parse %s: %w", EnvDSN, err)
		}
		return c
	}
	c := &cluster{}
	c.err = c.startLocal()
	return c
}

func (c *cluster) startLocal() error {
	bin, err := findBin()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("/tmp", "pgtest-")
	if err != nil {
		return fmt.Errorf("create cluster directory: %w", err)
	}
	c.dir = dir
	if os.Geteuid() == 0 {
		// initdb refuses to run as root: run the server binaries as user postgres.
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root needs a user named postgres to run the server: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return fmt.Errorf("chown cluster directory to postgres: %w", err)
		}
		c.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	data := filepath.Join(dir, "data")
	initdb := append(append([]string{}, c.asUser...), filepath.Join(bin, "initdb"),
		"-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
	ctx, cancel := context.WithTimeout(context.Background(), 4*opTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, initdb[0], initdb[1:]...).CombinedOutput(); err != nil { //nolint:gosec // G204: the found server binaries on our own paths
		return fmt.Errorf("initdb failed: %w\n%s", err, tail(string(out)))
	}
	c.pgCtl = filepath.Join(bin, "pg_ctl")
	c.startWatchdog()

	logPath := filepath.Join(dir, "server.log")
	var lastErr error
	// The free port is found by binding and closing, so another process could take it before
	// the server binds it: retry with a new port a few times.
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort(ctx)
		if err != nil {
			return err
		}
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200", port, dir)
		args := append(append([]string{}, c.asUser...), c.pgCtl, "-D", data, "-l", logPath, "-w", "-t", "60", "-o", opts, "start")
		out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput() //nolint:gosec // G204: the found server binaries on our own paths
		if err == nil {
			c.adminDSN = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
			return nil
		}
		logText, _ := os.ReadFile(logPath) //nolint:gosec // G304: the server log in our own temp dir
		lastErr = fmt.Errorf("pg_ctl start failed: %w\n%s\nserver log (%s):\n%s", err, tail(string(out)), logPath, tail(string(logText)))
	}
	return lastErr
}

// startWatchdog starts a small shell process, in its own process group so that a Ctrl-C of
// the test run does not kill it first, that stops the cluster and removes its directory once
// this process is gone. It covers tests that do not call Main and test binaries that die
// (timeouts, panics) before Main can stop the cluster. Failure to start it is ignored.
func (c *cluster) startWatchdog() {
	const script = `pid=$1; shift; dir=$1; shift
while kill -0 "$pid" 2>/dev/null; do sleep 1; done
"$@" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1
rm -rf "$dir"`
	args := []string{"-c", script, "pgtest-watchdog", strconv.Itoa(os.Getpid()), c.dir}
	args = append(append(args, c.asUser...), c.pgCtl)
	// Not tied to a context: the watchdog must outlive everything in this process.
	cmd := exec.CommandContext(context.Background(), "/bin/sh", args...) //nolint:gosec // G204: fixed script, our own paths as arguments
	cmd.SysProcAttr = watchdogAttr()
	// Stdin, Stdout and Stderr stay nil (/dev/null): go test must not wait for this process
	// to close the test binary's output pipes.
	if err := cmd.Start(); err != nil {
		return
	}
	c.watchdog = cmd
}

// findBin locates the directory holding initdb and pg_ctl.
func findBin() (string, error) {
	if dir := os.Getenv(EnvBin); dir != "" {
		if hasServerBinaries(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("%s=%s does not contain initdb and pg_ctl", EnvBin, dir)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if hasServerBinaries(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if d := filepath.Dir(p); hasServerBinaries(d) {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found")
}

// versionOf extracts the major version from /usr/lib/postgresql/<version>/bin.
func versionOf(binDir string) float64 {
	v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	if err != nil {
		return -1
	}
	return v
}

func hasServerBinaries(dir string) bool {
	for _, name := range []string{"initdb", "pg_ctl"} {
		fi, err := os.Stat(filepath.Join(dir, name)) //nolint:gosec // G703: dir is the operator-set EnvBin or a PostgreSQL install directory; probing it is the point
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

func freePort(ctx context.Context) (int, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return 0, fmt.Errorf("find a free port: unexpected address %v", l.Addr())
	}
	return addr.Port, nil
}

// tail returns the last lines of a log, enough to diagnose a failed start.
func tail(s string) string {
	const limit = 4000
	s = strings.TrimSpace(s)
	if len(s) > limit {
		s = "..." + s[len(s)-limit:]
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("pgtest: read random bytes: %v", err))
	}
	return hex.EncodeToString(b)
}
