package deltasql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"dinmo/connectors/warehouse"
)

// Bounded memory on DuckDB.
//
// DuckDB runs inside the runner's process, so what it holds is the runner's memory. Two steps
// of a delta run held memory that grows with the segment, outside what DuckDB's memory_limit
// can spill:
//
//   - the diff read: the Go driver executes a query to completion before its first row is
//     read, so the whole diff sat in memory (about 65 MiB for 300K changed rows);
//   - the fold's DELETE: DuckDB keeps the delete versions of every vector it touches in
//     memory until the next checkpoint, and the acknowledged keys of a delta are spread over
//     the whole snapshot, so one DELETE pinned about 8 bytes per snapshot row (80 MB at 10M
//     rows; it failed under a memory_limit of 140MB).
//
// On DuckDB the run table is therefore written in key order (CreateRun; an incremental run's
// in time order), read back in pages of DiffPageRows row ids (ReadDiff, ReadIncrementalDiff),
// and the snapshot rows of acknowledged keys are deleted in row-id chunks of FoldChunkRows,
// each committed and checkpointed on its own, before the fold's transaction (Prune). Both keep
// what these steps hold independent of the segment's size (the diff's joins still need more
// memory as the segment grows; DuckDB spills them).
// PostgreSQL's driver streams rows and its deletes hold nothing in memory: it does neither.
// Nor does a DuckDB activation with a destination field (or a snapshot column left by an
// unmapped field) named rowid, which hides the row id pseudo-column: it reads its diff in one
// query and folds in one DELETE.

// DiffPageRows is how many run-table rows one page of ReadDiff reads on DuckDB.
const DiffPageRows = 10000

// FoldChunkRows is how many snapshot rows (by row id) one step of Prune covers: about 8 MB of
// DuckDB delete versions.
const FoldChunkRows = 1 << 20

// pages reports whether the engine reads the diff in pages and prunes the snapshot in chunks.
func (b *Builder) pages() bool { return b.d.Engine() == warehouse.DuckDB }

// pagesFields reports whether the diff and the snapshot of these fields can be read and pruned
// by row id: on DuckDB, unless a field named rowid hides the pseudo-column.
func (b *Builder) pagesFields(fields []string) bool {
	if !b.pages() {
		return false
	}
	for _, f := range fields {
		if strings.EqualFold(f, rowID) {
			return false
		}
	}
	return true
}

// ordered wraps a query writing the run table so that, on an engine that pages, the table's
// row ids follow the key: pages read by row id then come in key order.
func (b *Builder) ordered(query string) string {
	if !b.pages() {
		return query
	}
	return "SELECT * FROM (" + query + ") r ORDER BY " + b.id(KeyColumn)
}

// rowID is DuckDB's row id pseudo-column.
const rowID = "rowid"

// RunBound returns one row: the run table's row-id bound (its highest row id plus one; 0 when
// empty). Engines that page only.
func (b *Builder) RunBound() string {
	return "SELECT COALESCE(MAX(" + rowID + ") + 1, 0) FROM " + b.q(b.t.Run)
}

// DiffPage returns Diff restricted to the run-table rows whose row id is in [$1, $2), ordered
// by key (engines that page only).
func (b *Builder) DiffPage(fields []string, full bool) string {
	var sb strings.Builder
	sb.WriteString("SELECT " + b.id(KindColumn) + ", " + b.id(KeyColumn))
	for _, f := range fields {
		sb.WriteString(", " + b.id(f))
	}
	sb.WriteString(" FROM " + b.q(b.t.Run) + " WHERE " + rowID + " >= " + b.d.Placeholder(1) +
		" AND " + rowID + " < " + b.d.Placeholder(2))
	if !full {
		sb.WriteString(" AND " + b.id(KindColumn) + " <> " + b.d.QuoteString(string(Unchanged)))
	}
	sb.WriteString(" ORDER BY " + b.id(KeyColumn))
	return sb.String()
}

// ErrDiffShape is returned (wrapped) when a diff query's columns are not kind, key and the
// fields asked for: a bug, not a warehouse failure.
var ErrDiffShape = errors.New("unexpected diff columns")

// ReadError is a warehouse error met while reading the diff (as opposed to an error the row
// callback returned, which ReadDiff returns unchanged).
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return "read the diff: " + e.Err.Error() }

func (e *ReadError) Unwrap() error { return e.Err }

// Queryer runs a query: *sql.DB, *sql.Conn and *sql.Tx are Queryers.
type Queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// ReadDiff reads the run's changes (the rows of Diff, in key order) and calls row for each,
// with the diff's column types and the scanned values (kind, key, then fields; reused between
// calls). On DuckDB it reads pages of DiffPageRows run-table rows, so at most one page is in
// memory; elsewhere it streams one query. It stops at the first error: row's unchanged, a
// warehouse error as a *ReadError, wrong columns as ErrDiffShape.
func (b *Builder) ReadDiff(ctx context.Context, db Queryer, fields []string, full bool,
	row func(types []*sql.ColumnType, vals []any) error) error {
	if !b.pagesFields(fields) {
		return ReadQuery(ctx, db, b.Diff(fields, full), nil, fields, row)
	}
	return b.readPages(ctx, db, b.DiffPage(fields, full), fields, row)
}

// readPages runs page (with the bounds of a row-id range as $1 and $2) over the run table's
// row ids, b.pageRows at a time.
func (b *Builder) readPages(ctx context.Context, db Queryer, page string, fields []string,
	row func(types []*sql.ColumnType, vals []any) error) error {
	var bound int64
	if err := queryRow(ctx, db, b.RunBound(), &bound); err != nil {
		return &ReadError{Err: err}
	}
	n := b.pageRows
	if n <= 0 {
		n = DiffPageRows
	}
	for lo := int64(0); lo < bound; lo += n {
		if err := ReadQuery(ctx, db, page, []any{lo, lo + n}, fields, row); err != nil {
			return err
		}
	}
	return nil
}

// SetPageRows sets how many run-table rows one page of ReadDiff and ReadIncrementalDiff reads
// (default DiffPageRows; tests make it small to read several pages). Call it before the
// builder is used.
func (b *Builder) SetPageRows(n int64) { b.pageRows = n }

// ReadQuery runs one query whose columns are kind, key, then fields (a diff, a page of one, or
// an incremental diff) and calls row for each result row, as ReadDiff does.
func ReadQuery(ctx context.Context, db Queryer, query string, args []any, fields []string,
	row func(types []*sql.ColumnType, vals []any) error) (err error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return &ReadError{Err: err}
	}
	defer func() {
		if cerr := rows.Close(); cerr != nil && err == nil {
			err = &ReadError{Err: cerr}
		}
	}()
	types, err := rows.ColumnTypes()
	if err != nil {
		return &ReadError{Err: err}
	}
	if len(types) != len(fields)+2 {
		return fmt.Errorf("%w: the diff returned %d columns, expected %d", ErrDiffShape, len(types), len(fields)+2)
	}
	vals := make([]any, len(types))
	ptrs := make([]any, len(types))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return &ReadError{Err: err}
		}
		if err := row(types, vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return &ReadError{Err: err}
	}
	return nil
}

func queryRow(ctx context.Context, db Queryer, query string, dest ...any) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer func() { _ = rows.Close() }()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return errors.New("no row")
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}

// columnsOf returns the column names of a query's result (a probe selecting no row).
func columnsOf(ctx context.Context, db Queryer, query string) ([]string, error) {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	return cols, rows.Err()
}

// SnapshotBound returns one row: the snapshot's row-id bound (its highest row id plus one; 0
// when empty). Engines that page only.
func (b *Builder) SnapshotBound() string {
	return "SELECT COALESCE(MAX(" + rowID + ") + 1, 0) FROM " + b.q(b.t.Snapshot)
}

// PruneChunk returns the statement deleting the snapshot rows of acknowledged keys whose row
// id is in [lo, hi) (engines that page only).
func (b *Builder) PruneChunk(lo, hi int64) string {
	k := b.id(KeyColumn)
	return "DELETE FROM " + b.q(b.t.Snapshot) + " WHERE " + rowID + " >= " + strconv.FormatInt(lo, 10) +
		" AND " + rowID + " < " + strconv.FormatInt(hi, 10) + " AND " + k + " IN (SELECT " + k + " FROM " + b.q(b.t.Ack) + ")"
}

// Checkpoint is DuckDB's statement writing committed changes to the database file, which
// frees the delete versions a DELETE keeps in memory.
const Checkpoint = "CHECKPOINT"

// Execer runs a statement: *sql.DB and *sql.Conn are Execers.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// PruneResult says what Prune did.
type PruneResult struct {
	// Chunks is the number of row-id chunks deleted (0: the engine does not prune, or the
	// snapshot fits in one chunk, which the fold's own DELETE handles).
	Chunks int
	// CheckpointErr is the first CHECKPOINT that failed (DuckDB refuses one while another
	// connection's transaction is open). The delete versions then stay in memory until a
	// later checkpoint; the fold is still right.
	CheckpointErr error
}

// Prune runs before the fold's transaction, outside any transaction (each statement commits on
// its own): on DuckDB, when the snapshot is larger than chunk rows (FoldChunkRows in
// production), it deletes the snapshot rows of acknowledged keys chunk by chunk of row ids and
// checkpoints after each, so DuckDB never holds the delete versions of the whole snapshot.
// The fold's DELETE then finds little or nothing left to delete.
//
// Pruning is safe to interrupt and repeat: the acknowledgement and run tables are untouched,
// so a run killed while pruning leaves the snapshot without the old rows of some
// acknowledged keys, whose new rows the next fold (the recovery of the interrupted run)
// inserts from the run table; every reader of the snapshot runs after that recovery.
func (b *Builder) Prune(ctx context.Context, db Execer, chunk int64) (PruneResult, error) {
	var res PruneResult
	if !b.pages() || chunk <= 0 {
		return res, nil
	}
	// A snapshot column named rowid (a field, mapped now or before) hides the row id.
	cols, err := columnsOf(ctx, db, b.ProbeSnapshot())
	if err != nil {
		return res, fmt.Errorf("snapshot columns: %w", err)
	}
	if !b.pagesFields(cols) {
		return res, nil
	}
	var bound int64
	if err := queryRow(ctx, db, b.SnapshotBound(), &bound); err != nil {
		return res, fmt.Errorf("snapshot bound: %w", err)
	}
	if bound <= chunk {
		return res, nil
	}
	for lo := int64(0); lo < bound; lo += chunk {
		if _, err := db.ExecContext(ctx, b.PruneChunk(lo, lo+chunk)); err != nil {
			return res, err
		}
		res.Chunks++
		if _, err := db.ExecContext(ctx, Checkpoint); err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			if res.CheckpointErr == nil {
				res.CheckpointErr = err
			}
		}
	}
	return res, nil
}
