package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"               // registers the "sqlite" database/sql driver
	sqlite3 "modernc.org/sqlite/lib"
)

// EnvURL names the environment variable that holds the catalog URL, read by the provider (as
// the default of its catalog_url setting) and by the runner.
const EnvURL = "DINMO_CATALOG_URL"

// sqliteBusyTimeoutMS is how long a SQLite connection waits for another connection or process
// (the provider during terraform apply, the runner) to release the write lock before failing
// with "database is locked". Transactions are short, so waiting is the right answer.
const sqliteBusyTimeoutMS = 10000

// Open connects to the catalog at url and applies pending schema migrations. Accepted forms:
//
//	sqlite:///abs/path/catalog.db   SQLite, absolute path
//	sqlite://relative/catalog.db    SQLite, path relative to the working directory
//	file:catalog.db                 SQLite
//	/var/lib/dinmo/catalog.db       SQLite (a bare filesystem path, absolute or relative)
//	postgres://user@host:5432/db    PostgreSQL (also postgresql://; any libpq URL parameter)
//
// For SQLite the file and its parent directory are created if missing; several processes may
// open the same file at once (WAL journal, busy timeout, immediate write transactions). The
// returned Store is safe for concurrent use; Close it when done.
func Open(ctx context.Context, url string) (Store, error) {
	kind, target, err := parseURL(url)
	if err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	switch kind {
	case backendPostgres:
		return openPostgres(ctx, target)
	default:
		return openSQLite(ctx, target)
	}
}

const (
	backendSQLite   = "sqlite"
	backendPostgres = "postgres"
)

var schemeRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.\-]*):`)

// parseURL returns the back-end and its target: a file path for SQLite, the URL itself for
// PostgreSQL. Errors never repeat the URL, which may hold a password.
func parseURL(url string) (backend, target string, err error) {
	url = strings.TrimSpace(url)
	if url == "" {
		return "", "", fmt.Errorf("catalog URL is empty: set %s (or the provider's catalog URL setting) to a SQLite path such as sqlite:///var/lib/dinmo/catalog.db or to a postgres:// URL", EnvURL)
	}
	m := schemeRE.FindStringSubmatch(url)
	if m == nil {
		return backendSQLite, url, nil // a bare path
	}
	scheme := strings.ToLower(m[1])
	rest := url[len(m[0]):]
	switch scheme {
	case "postgres", "postgresql":
		if !strings.HasPrefix(rest, "//") {
			return "", "", fmt.Errorf("catalog URL: PostgreSQL URLs have the form postgres://user@host:port/database")
		}
		return backendPostgres, url, nil
	case "sqlite", "sqlite3", "file":
		path := strings.TrimPrefix(rest, "//")
		if path == "" {
			return "", "", fmt.Errorf("catalog URL: %s URL has no file path: use sqlite:///absolute/path.db or sqlite://relative/path.db", scheme)
		}
		return backendSQLite, path, nil
	default:
		if len(scheme) == 1 {
			// A Windows drive letter ("C:\dinmo\catalog.db") is a path, not a scheme.
			return backendSQLite, url, nil
		}
		return "", "", fmt.Errorf("catalog URL: unsupported scheme %q: use sqlite:///path.db, file:path.db, a file path, or a postgres:// URL", scheme)
	}
}

// sqliteDSN builds the modernc.org/sqlite DSN for path: busy timeout first, WAL so readers
// never block the writer, foreign keys on (they enforce ErrInUse), and BEGIN IMMEDIATE for
// every transaction so that two writers queue on the busy timeout instead of failing when a
// read lock cannot be upgraded.
func sqliteDSN(path string) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate",
		esc, sqliteBusyTimeoutMS)
}

func openSQLite(ctx context.Context, path string) (Store, error) {
	memory := path == ":memory:"
	if !memory {
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("open sqlite catalog: create directory %s: %w", dir, err)
			}
		}
	}
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		return nil, fmt.Errorf("open sqlite catalog %s: %w", path, err)
	}
	if memory {
		// Each connection to :memory: is its own database: keep exactly one.
		db.SetMaxOpenConns(1)
	}
	s := &sqlStore{db: db, backend: backendSQLite}
	if err := connectSQLite(ctx, db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite catalog %s: connect: %w", path, err)
	}
	if err := s.init(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite catalog %s: %w", path, err)
	}
	return s, nil
}

// connectSQLite opens the first connection, retrying while SQLite answers busy for up to the
// busy timeout. A connection's first statements switch a new file to WAL, and a connection
// opened while another process does so (several runners or terraform and a runner starting on a
// fresh catalog) can be refused with SQLITE_BUSY at once, without the busy handler's wait.
func connectSQLite(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(sqliteBusyTimeoutMS * time.Millisecond)
	wait := 5 * time.Millisecond
	for {
		err := db.PingContext(ctx)
		var sqErr *sqlite.Error
		if err == nil || !errors.As(err, &sqErr) || sqErr.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(wait*2, 200*time.Millisecond)
	}
}

func openPostgres(ctx context.Context, url string) (Store, error) {
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("open postgres catalog: %w", err)
	}
	s := &sqlStore{db: db, backend: backendPostgres}
	if err := s.init(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open postgres catalog: %w", err)
	}
	return s, nil
}

func (s *sqlStore) init(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	return nil
}

// errEmptyField builds the error for a required field left empty.
func errEmptyField(op, field string) error {
	return fmt.Errorf("%s: %s is required", op, field)
}
