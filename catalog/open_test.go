package catalog

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dinmo/internal/pgtest"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url, backend, target, errText string
	}{
		{url: "sqlite:///var/lib/dinmo/catalog.db", backend: backendSQLite, target: "/var/lib/dinmo/catalog.db"},
		{url: "sqlite://relative/catalog.db", backend: backendSQLite, target: "relative/catalog.db"},
		{url: "sqlite:catalog.db", backend: backendSQLite, target: "catalog.db"},
		{url: "file:catalog.db", backend: backendSQLite, target: "catalog.db"},
		{url: "file:///tmp/c.db", backend: backendSQLite, target: "/tmp/c.db"},
		{url: "/tmp/c.db", backend: backendSQLite, target: "/tmp/c.db"},
		{url: "c.db", backend: backendSQLite, target: "c.db"},
		{url: "  ./dir/c.db  ", backend: backendSQLite, target: "./dir/c.db"},
		{url: `C:\dinmo\catalog.db`, backend: backendSQLite, target: `C:\dinmo\catalog.db`},
		{url: "postgres://u:p@h:5432/db?sslmode=disable", backend: backendPostgres, target: "postgres://u:p@h:5432/db?sslmode=disable"}, //nolint:gosec // G101: test URL
		{url: "postgresql://h/db", backend: backendPostgres, target: "postgresql://h/db"},
		{url: "", errText: EnvURL},
		{url: "   ", errText: EnvURL},
		{url: "mysql://u:secretpw@h/db", errText: `unsupported scheme "mysql"`}, //nolint:gosec // G101: a test password that must not be echoed
		{url: "postgres:u:secretpw@h", errText: "postgres://user@host:port/database"},
		{url: "sqlite://", errText: "no file path"},
	}
	for _, tt := range tests {
		backend, target, err := parseURL(tt.url)
		if tt.errText != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("parseURL(%q) error %v, want one mentioning %q", tt.url, err, tt.errText)
			}
			if err != nil && strings.Contains(err.Error(), "secretpw") {
				t.Errorf("parseURL(%q) error repeats the password: %v", tt.url, err)
			}
			continue
		}
		if err != nil || backend != tt.backend || target != tt.target {
			t.Errorf("parseURL(%q) = %q, %q, %v; want %q, %q", tt.url, backend, target, err, tt.backend, tt.target)
		}
	}
}

func TestRebind(t *testing.T) {
	got := rebind(`SELECT '?', "a?" FROM t WHERE a = ? AND b IN (?, ?) AND c = 'it''s ?'`)
	want := `SELECT '?', "a?" FROM t WHERE a = $1 AND b IN ($2, $3) AND c = 'it''s ?'`
	if got != want {
		t.Errorf("rebind:\n got %s\nwant %s", got, want)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := t.Context()
	if _, err := Open(ctx, ""); err == nil || !strings.Contains(err.Error(), "DINMO_CATALOG_URL") {
		t.Errorf("Open(\"\") error %v, want one naming DINMO_CATALOG_URL", err)
	}
	// Nothing listens on port 1: the error must not repeat the password.
	_, err := Open(ctx, "postgres://dinmo:hunter2secret@127.0.0.1:1/catalog?sslmode=disable&connect_timeout=5")
	if err == nil {
		t.Fatal("Open of an unreachable PostgreSQL: no error")
	}
	if strings.Contains(err.Error(), "hunter2secret") {
		t.Errorf("error repeats the password: %v", err)
	}
	// A directory is not a database file.
	dir := t.TempDir()
	if _, err := Open(ctx, dir); err == nil {
		t.Error("Open of a directory: no error")
	}
}

// TestSQLiteURLForms opens each URL form and checks the file lands where the form says.
func TestSQLiteURLForms(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	t.Chdir(dir)
	odd := filepath.Join(dir, "odd?dir#with%chars")
	forms := []struct{ url, file string }{
		{"sqlite://rel/a.db", filepath.Join(dir, "rel", "a.db")},
		{"sqlite://" + filepath.Join(dir, "abs", "b.db"), filepath.Join(dir, "abs", "b.db")},
		{"file:c.db", filepath.Join(dir, "c.db")},
		{"d.db", filepath.Join(dir, "d.db")},
		{filepath.Join(odd, "e.db"), filepath.Join(odd, "e.db")},
	}
	for _, f := range forms {
		s, err := Open(ctx, f.url)
		if err != nil {
			t.Errorf("Open(%q): %v", f.url, err)
			continue
		}
		if err := s.CreateWorkspace(ctx, &Workspace{Name: "w"}); err != nil {
			t.Errorf("Open(%q): create: %v", f.url, err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Open(%q): close: %v", f.url, err)
		}
		if _, err := os.Stat(f.file); err != nil {
			t.Errorf("Open(%q) did not create %s: %v", f.url, f.file, err)
		}
	}
}

// TestSQLitePragmas checks the settings concurrency and ErrInUse depend on, on every pooled
// connection.
func TestSQLitePragmas(t *testing.T) {
	ctx := t.Context()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "c.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := sqlOf(t, st)
	// Hold three connections at once, so that each is a distinct pooled connection.
	for range 3 {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var fk, busy int
		var mode string
		if err := c.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if err := c.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if fk != 1 || busy != sqliteBusyTimeoutMS || !strings.EqualFold(mode, "wal") {
			t.Errorf("connection pragmas: foreign_keys=%d busy_timeout=%d journal_mode=%s", fk, busy, mode)
		}
	}
}

// TestForeignKeysEnforced checks that the database itself refuses to delete a referenced row
// (the backstop behind the ErrInUse pre-check, for objects referenced concurrently) and that
// both back-ends' constraint errors map to the sentinels.
func TestForeignKeysEnforced(t *testing.T) {
	backends := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "c.db") },
		"postgres": func(t *testing.T) string { return pgtest.DSN(t) },
	}
	for name, newURL := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			st, err := Open(ctx, newURL(t))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			s := sqlOf(t, st)
			w := &Workspace{Name: "w"}
			if err := s.CreateWorkspace(ctx, w); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateSource(ctx, &Source{WorkspaceID: w.ID, Name: "s", Engine: "duckdb"}); err != nil {
				t.Fatal(err)
			}
			_, err = s.ro().exec(ctx, `DELETE FROM workspaces WHERE id = ?`, w.ID)
			if violation(err) != violationForeignKey {
				t.Errorf("raw delete of a referenced workspace: %v, want a foreign key violation", err)
			}
			_, err = s.ro().exec(ctx, `INSERT INTO workspaces (id, name, created_at, updated_at) VALUES ('ws_x', 'w', 0, 0)`)
			if violation(err) != violationUnique {
				t.Errorf("raw insert of a duplicate name: %v, want a unique violation", err)
			}
			// Without the pre-check, the constraint still yields ErrInUse.
			blind := *workspaceKind
			blind.usedBy = nil
			err = remove(ctx, s, &blind, w.ID)
			if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), `delete workspace "w"`) {
				t.Errorf("delete of a referenced workspace without pre-check: %v, want ErrInUse", err)
			}
			if _, err := s.GetWorkspace(ctx, w.ID); err != nil {
				t.Errorf("workspace gone after a refused delete: %v", err)
			}
		})
	}
}

// TestNewerSchemaRefused checks a catalog migrated by a newer build is not misread.
func TestNewerSchemaRefused(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "c.db")
	st, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s := sqlOf(t, st)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, schemaVersion+1); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, path)
	if err == nil || !strings.Contains(err.Error(), "newer than this build") {
		t.Errorf("Open of a newer catalog: %v, want a refusal", err)
	}
}

func TestActorFromDefault(t *testing.T) {
	if got := ActorFrom(t.Context()); got != "unknown" {
		t.Errorf("ActorFrom(background) = %q", got)
	}
	if got := ActorFrom(WithActor(t.Context(), "cli")); got != "cli" {
		t.Errorf("ActorFrom(cli) = %q", got)
	}
}

func sqlOf(t *testing.T, st Store) *sqlStore {
	t.Helper()
	s, ok := st.(*sqlStore)
	if !ok {
		t.Fatalf("Open returned %T, want *sqlStore", st)
	}
	return s
}
