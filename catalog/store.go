package catalog

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqlStore implements Store on database/sql for both back-ends. Queries are written once with
// "?" placeholders and rebound to "$n" for PostgreSQL.
type sqlStore struct {
	db      *sql.DB
	backend string // backendSQLite or backendPostgres
}

var _ Store = (*sqlStore)(nil)

// Close closes the database handle.
func (s *sqlStore) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close catalog: %w", err)
	}
	return nil
}

// queryer is what *sql.DB and *sql.Tx have in common.
type queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// execer runs "?"-placeholder queries on a database or transaction of either back-end.
type execer struct {
	q  queryer
	pg bool
}

func (e execer) bind(query string) string {
	if e.pg {
		return rebind(query)
	}
	return query
}

func (e execer) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return e.q.ExecContext(ctx, e.bind(query), args...)
}

func (e execer) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return e.q.QueryContext(ctx, e.bind(query), args...)
}

// queryAll runs a query and returns every row scanned by scan; errors are prefixed with op.
func queryAll[T any](ctx context.Context, e execer, op string, scan func(scanner) (*T, error), query string, args ...any) ([]T, error) {
	rows, err := e.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		x, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, *x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

func (e execer) row(ctx context.Context, query string, args ...any) *sql.Row {
	return e.q.QueryRowContext(ctx, e.bind(query), args...)
}

// rebind turns "?" placeholders into PostgreSQL's "$1", "$2", ... leaving quoted literals and
// identifiers alone.
func rebind(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// ro returns an execer for reads outside a transaction.
func (s *sqlStore) ro() execer { return execer{q: s.db, pg: s.backend == backendPostgres} }

// inTx runs fn in a write transaction (BEGIN IMMEDIATE on SQLite, see sqliteDSN) and commits
// it if fn returns nil. Keep fn short: on SQLite it holds the database's write lock.
func (s *sqlStore) inTx(ctx context.Context, fn func(e execer) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(execer{q: tx, pg: s.backend == backendPostgres}); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// lockSuffix makes a transaction's read of a row it is about to change block concurrent
// writers of that row on PostgreSQL. SQLite needs none: the transaction holds the write lock.
func (s *sqlStore) lockSuffix() string {
	if s.backend == backendPostgres {
		return " FOR UPDATE"
	}
	return ""
}

// Constraint violation classes, mapped to the package's sentinel errors.
const (
	violationNone = iota
	violationUnique
	violationForeignKey
)

func violation(err error) int {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return violationUnique
		case "23503":
			return violationForeignKey
		}
		return violationNone
	}
	var sqErr *sqlite.Error
	if errors.As(err, &sqErr) {
		switch sqErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return violationUnique
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return violationForeignKey
		case sqlite3.SQLITE_CONSTRAINT_TRIGGER:
			// ON DELETE RESTRICT fails at once through SQLite's foreign key trigger.
			if strings.Contains(sqErr.Error(), "FOREIGN KEY") {
				return violationForeignKey
			}
		}
	}
	return violationNone
}

// newID returns prefix followed by 16 random lowercase hex characters.
func newID(prefix string) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand does not fail on supported platforms; an ID collision would be worse.
		panic(fmt.Sprintf("catalog: read random bytes: %v", err))
	}
	return prefix + hex.EncodeToString(b)
}

// ID prefixes per kind.
const (
	prefixWorkspace   = "ws_"
	prefixSource      = "src_"
	prefixModel       = "mdl_"
	prefixSegment     = "seg_"
	prefixDestination = "dst_"
	prefixActivation  = "act_"
	prefixRun         = "run_"
	prefixTaskRun     = "trun_"
)

// now is the current time at the catalog's precision (microseconds, UTC), so a value written
// and read back compares equal.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func toMicros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// encodeJSON encodes a map or list for a JSON text column (nil encodes as "null" and decodes
// back to nil, so nil and empty survive a round trip). field names the attribute in errors;
// the value itself is never quoted, it may be secret.
func encodeJSON(field string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("%s: cannot encode as JSON: %w", field, err)
	}
	return string(b), nil
}

func decodeJSON(field, text string, v any) error {
	if text == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(text), v); err != nil {
		return fmt.Errorf("decode stored %s: %w", field, err)
	}
	return nil
}

// audit appends an audit entry inside the caller's transaction.
func (s *sqlStore) audit(ctx context.Context, e execer, a AuditEntry) error {
	if a.At.IsZero() {
		a.At = now()
	}
	if a.Actor == "" {
		a.Actor = ActorFrom(ctx)
	}
	var details any
	if len(a.Details) > 0 {
		details = a.Details
	}
	d, err := encodeJSON("audit details", details)
	if err != nil {
		return err
	}
	if _, err := e.exec(ctx, `INSERT INTO audit_log (at, actor, action, object_kind, object_id, object_name, workspace_id, details)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		toMicros(a.At), a.Actor, a.Action, a.ObjectKind, a.ObjectID, a.ObjectName, a.WorkspaceID, d); err != nil {
		return fmt.Errorf("write audit entry: %w", err)
	}
	return nil
}

// AppendAudit adds an entry for an event that is not a Store mutation. At defaults to now and
// Actor to the context's actor. Details must not hold secrets.
func (s *sqlStore) AppendAudit(ctx context.Context, a AuditEntry) error {
	if a.Action == "" {
		return errEmptyField("append audit entry", "action")
	}
	return s.inTx(ctx, func(e execer) error {
		if err := s.audit(ctx, e, a); err != nil {
			return fmt.Errorf("append audit entry: %w", err)
		}
		return nil
	})
}

// ListAudit returns matching entries, newest first.
func (s *sqlStore) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	q := `SELECT id, at, actor, action, object_kind, object_id, object_name, workspace_id, details FROM audit_log WHERE 1 = 1`
	var args []any
	if f.WorkspaceID != "" {
		q += ` AND workspace_id = ?`
		args = append(args, f.WorkspaceID)
	}
	if f.ObjectID != "" {
		q += ` AND object_id = ?`
		args = append(args, f.ObjectID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit)
	return queryAll(ctx, s.ro(), "list audit", scanAudit, q, args...)
}

func scanAudit(sc scanner) (*AuditEntry, error) {
	var a AuditEntry
	var at int64
	var details string
	if err := sc.Scan(&a.ID, &at, &a.Actor, &a.Action, &a.ObjectKind, &a.ObjectID, &a.ObjectName, &a.WorkspaceID, &details); err != nil {
		return nil, err
	}
	a.At = fromMicros(at)
	if err := decodeJSON("audit details", details, &a.Details); err != nil {
		return nil, err
	}
	return &a, nil
}
