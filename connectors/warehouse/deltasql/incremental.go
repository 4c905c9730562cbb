package deltasql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"dinmo/connectors/warehouse"
)

// Incremental runs (run type "incremental", events models) send each event row exactly once.
// They keep no snapshot; instead each activation owns two more tables in
// dinmo_delta_storage:
//
//   - sent_<activation id>: the events the destination acknowledged (_dinmo_key, the model's
//     primary key as text, and _dinmo_ts, the event's timestamp), kept only while they are
//     inside the window: PruneSent deletes the older ones after each commit.
//   - cursor_<activation id>: two marks, one row each (_dinmo_kind, _dinmo_ts). The "cursor"
//     row is the high-water mark of acknowledged events. It lives here rather than as
//     MAX(_dinmo_ts) of the sent table because it may lag behind that maximum: it never passes
//     an event of a run that the destination left pending (answered retryable, or not sent
//     because the run stopped), so later runs still evaluate that event whatever the lookback.
//     The "horizon" row is the floor of every later window: the cursor minus the lookback at
//     the last prune, below which the sent table no longer remembers what was sent. Windows
//     never reach below it, so raising the lookback cannot send a pruned event twice.
//
// A run evaluates only the rows whose timestamp is at least the cursor minus the lookback and
// at least the horizon (every row on the first run, when there is no cursor), skips those
// already in the sent table (an anti-join on the key) and writes the rest, all of kind
// "added", into the run table (with _dinmo_ts). Everything after that is the delta run's
// machinery: DiffCounts, CreateAck, the acknowledgements, the rejected table;
// IncrementalDiff reads the run table in timestamp order and IncrementalFold commits it.
//
// Guarantees and limits:
//   - An acknowledged event is never sent again by an incremental run: it is in the sent table
//     while it is inside the window, and outside every later window afterwards. (A forced full
//     run sends every event again.)
//   - A late event (one that appears in the source after the cursor has passed its timestamp)
//     is sent if its timestamp is within the lookback of the cursor (and not below the horizon)
//     when it appears, and is never sent otherwise: choose a lookback longer than the source's
//     worst delay.
//   - An event the destination rejected (permanently) does not hold the cursor back; later runs
//     retry it while it is inside the window, and it stays in the rejected table.
//   - Rows with a NULL timestamp, or a NULL or duplicated key within the window, are skipped.
//   - A killed run loses nothing: its acknowledged keys are folded by the next run (the run and
//     acknowledgement tables are still there), which re-sends at most the batches in flight.

// IncrementalTimestampColumn holds an event's timestamp in the run, sent and cursor tables.
const IncrementalTimestampColumn = "_dinmo_ts"

// Table-name prefixes of the incremental tables.
const (
	prefixSent   = "sent_"
	prefixCursor = "cursor_"
)

// IncrementalTables names an activation's incremental tables (unqualified; the schema is
// warehouse.SchemaDeltaStorage).
type IncrementalTables struct {
	Sent   string
	Cursor string
}

// IncrementalTables returns the builder's activation's incremental table names.
func (b *Builder) IncrementalTables() IncrementalTables {
	return IncrementalTablesFor(strings.TrimPrefix(b.t.Run, prefixRun))
}

// IncrementalTablesFor returns the incremental table names of an activation.
func IncrementalTablesFor(activationID string) IncrementalTables {
	return IncrementalTables{Sent: prefixSent + activationID, Cursor: prefixCursor + activationID}
}

// IncrementalSource is what an incremental run evaluates: an events view, its primary key
// (the event id), its timestamp column and the mapped columns.
type IncrementalSource struct {
	Schema     string
	View       string
	PrimaryKey string
	// Timestamp is the event time column (a date or timestamp) the cursor follows.
	Timestamp string
	Fields    []Field
	// Lookback is how far before the cursor a run still looks for late events; zero or more,
	// in whole seconds.
	Lookback time.Duration
}

// Incremental builds the statements of one incremental run.
type Incremental struct {
	b   *Builder
	t   IncrementalTables
	src IncrementalSource
	// windowed restricts the evaluation to the lookback window (the cursor is set) and skips
	// the sent events; a first run or a forced full run evaluates every row and skips none.
	windowed bool
	key      string // the primary key cast to text
}

// Incremental returns the statements of an incremental run. windowed is true when the cursor
// is set (CursorIsSet) and the run is not a forced full one: it evaluates only the lookback
// window and leaves out the events already sent. A full run (windowed false) sends every event
// again.
func (b *Builder) Incremental(src IncrementalSource, windowed bool) (*Incremental, error) {
	if src.View == "" {
		return nil, errors.New("deltasql: empty source view")
	}
	if src.PrimaryKey == "" {
		return nil, errors.New("deltasql: empty primary key column")
	}
	if src.Timestamp == "" {
		return nil, errors.New("deltasql: incremental run without a timestamp column: declare timestamp_column on the events model")
	}
	if src.Lookback < 0 || src.Lookback%time.Second != 0 {
		return nil, fmt.Errorf("deltasql: lookback %s must be zero or more whole seconds", src.Lookback)
	}
	if err := ValidateFields(src.Fields); err != nil {
		return nil, err
	}
	return &Incremental{b: b, t: b.IncrementalTables(), src: src, windowed: windowed,
		key: b.d.CastText(b.id(src.PrimaryKey))}, nil
}

// Tables returns the incremental table names.
func (x *Incremental) Tables() IncrementalTables { return x.t }

// window selects key, timestamp and fields of the evaluated rows: those with a timestamp, in
// the lookback window when windowed.
func (x *Incremental) window() string {
	b := x.b
	ts := b.id(x.src.Timestamp)
	var sb strings.Builder
	sb.WriteString("SELECT " + x.key + " AS " + b.id(KeyColumn) + ", " + ts + " AS " + b.id(IncrementalTimestampColumn))
	for _, f := range x.src.Fields {
		sb.WriteString(", " + b.id(f.Column) + " AS " + b.id(f.Name))
	}
	sb.WriteString(" FROM " + b.d.Qualified(x.src.Schema, x.src.View) + " WHERE " + ts + " IS NOT NULL")
	if x.windowed {
		sb.WriteString(" AND " + ts + " >= (SELECT " + x.minus("MAX("+x.b.id(IncrementalTimestampColumn)+")") +
			" FROM " + x.b.q(x.t.Cursor) + " WHERE " + x.isMark(markCursor) + ")")
		sb.WriteString(" AND " + ts + " >= COALESCE((" + x.b.mark(markHorizon) + "), " + ts + ")")
	}
	return sb.String()
}

// Marks of the cursor table (values of its _dinmo_kind column).
const (
	markCursor  = "cursor"
	markHorizon = "horizon"
)

// mark selects the value of a mark (NULL when it is not set).
func (b *Builder) mark(kind string) string {
	return "SELECT MAX(" + b.id(IncrementalTimestampColumn) + ") FROM " + b.q(b.IncrementalTables().Cursor) +
		" WHERE " + b.id(KindColumn) + " = " + b.d.QuoteString(kind)
}

func (x *Incremental) isMark(kind string) string {
	return x.b.id(KindColumn) + " = " + x.b.d.QuoteString(kind)
}

// minus subtracts the lookback from a date or timestamp expression, in the engine's syntax.
func (x *Incremental) minus(expr string) string {
	secs := int64(x.src.Lookback / time.Second)
	if secs == 0 {
		return expr
	}
	switch x.b.d.Engine() {
	case warehouse.Snowflake:
		return fmt.Sprintf("DATEADD(second, -%d, %s)", secs, expr)
	case warehouse.BigQuery:
		return fmt.Sprintf("TIMESTAMP_SUB(%s, INTERVAL %d SECOND)", expr, secs)
	case warehouse.Databricks:
		return fmt.Sprintf("(%s - INTERVAL %d SECONDS)", expr, secs)
	default: // PostgreSQL, DuckDB, Redshift
		return fmt.Sprintf("(%s - INTERVAL '%d seconds')", expr, secs)
	}
}

// CreateSent creates the empty sent table (key as text, timestamp typed like the source's):
// run it when the table does not exist.
func (x *Incremental) CreateSent() string {
	b := x.b
	return b.d.CreateTableAs(warehouse.SchemaDeltaStorage, x.t.Sent,
		"SELECT "+x.key+" AS "+b.id(KeyColumn)+", "+b.id(x.src.Timestamp)+" AS "+b.id(IncrementalTimestampColumn)+
			" FROM "+b.d.Qualified(x.src.Schema, x.src.View)+" WHERE 1 = 0")
}

// IndexSent returns a statement indexing the sent table's key on engines whose anti-joins
// benefit from it (PostgreSQL), and false for the others.
func (x *Incremental) IndexSent() (string, bool) {
	b := x.b
	if b.d.Engine() != warehouse.Postgres {
		return "", false
	}
	return "CREATE INDEX IF NOT EXISTS " + b.id(x.t.Sent+"_key") + " ON " + b.q(x.t.Sent) +
		" (" + b.id(KeyColumn) + ")", true
}

// CreateCursor creates the empty cursor table (the mark's name as text, the timestamp typed
// like the source's): run it when the table does not exist.
func (x *Incremental) CreateCursor() string {
	b := x.b
	return b.d.CreateTableAs(warehouse.SchemaDeltaStorage, x.t.Cursor,
		"SELECT "+b.d.CastText(b.d.QuoteString(markCursor))+" AS "+b.id(KindColumn)+", "+b.id(x.src.Timestamp)+" AS "+
			b.id(IncrementalTimestampColumn)+" FROM "+b.d.Qualified(x.src.Schema, x.src.View)+" WHERE 1 = 0")
}

// CursorIsSet returns one row, one column: the number of cursor rows (0 before the first
// acknowledged event, 1 after).
func (x *Incremental) CursorIsSet() string {
	return "SELECT COUNT(*) FROM " + x.b.q(x.t.Cursor) + " WHERE " + x.isMark(markCursor)
}

// KeyStats returns one row over the evaluated window: rows, non-NULL keys, distinct keys.
func (x *Incremental) KeyStats() string {
	k := x.b.id(KeyColumn)
	return "SELECT COUNT(*), COUNT(" + k + "), COUNT(DISTINCT " + k + ") FROM (" + x.window() + ") w"
}

// CountKept returns the number of window rows kept once NULL and duplicated keys are skipped.
func (x *Incremental) CountKept() string {
	return "SELECT COUNT(*) FROM (" + x.goodKeys() + ") w"
}

// goodKeys selects the window's keys that appear exactly once.
func (x *Incremental) goodKeys() string {
	k := x.b.id(KeyColumn)
	return "SELECT " + k + " FROM (" + x.window() + ") w WHERE " + k + " IS NOT NULL GROUP BY " + k + " HAVING COUNT(*) = 1"
}

// Probe selects no row; its result columns are the run table's key, timestamp and fields.
func (x *Incremental) Probe() string { return x.window() + " AND 1 = 0" }

// CreateRun returns the statement writing the run table: kind ("added"), key, timestamp and
// fields of every window row whose key is not in the sent table (when windowed).
// skipBadKeys leaves out rows whose key is NULL or duplicated within the window (pass true
// when KeyStats found any).
func (x *Incremental) CreateRun(skipBadKeys bool) string {
	b := x.b
	k := b.id(KeyColumn)
	wk := "w." + k
	var sb strings.Builder
	sb.WriteString("SELECT " + b.d.QuoteString(string(Added)) + " AS " + b.id(KindColumn) + ", w.*")
	sb.WriteString(" FROM (" + x.window() + ") w WHERE " + wk + " IS NOT NULL")
	if skipBadKeys {
		sb.WriteString(" AND " + wk + " IN (" + x.goodKeys() + ")")
	}
	if x.windowed {
		sb.WriteString(" AND NOT EXISTS (SELECT 1 FROM " + b.q(x.t.Sent) + " s WHERE s." + k + " = " + wk + ")")
	}
	q := sb.String()
	if b.pages() {
		// Written in send order, so that ReadIncrementalDiff's pages of row ids come in it.
		q = "SELECT * FROM (" + q + ") r ORDER BY " + b.id(IncrementalTimestampColumn) + ", " + b.id(KeyColumn)
	}
	return b.d.CreateTableAs(warehouse.SchemaDeltaStorage, b.t.Run, q)
}

// IncrementalDiff returns the run table's events in timestamp order (then key): columns
// _dinmo_kind, _dinmo_key, then the given fields, like Builder.Diff. Sending in time order
// keeps a run that stops early from leaving a gap before the cursor.
func (b *Builder) IncrementalDiff(fields []string) string { return b.incrementalDiff(fields, false) }

func (b *Builder) incrementalDiff(fields []string, paged bool) string {
	var sb strings.Builder
	sb.WriteString("SELECT " + b.id(KindColumn) + ", " + b.id(KeyColumn))
	for _, f := range fields {
		sb.WriteString(", " + b.id(f))
	}
	sb.WriteString(" FROM " + b.q(b.t.Run))
	if paged {
		sb.WriteString(" WHERE " + rowID + " >= " + b.d.Placeholder(1) + " AND " + rowID + " < " + b.d.Placeholder(2))
	}
	sb.WriteString(" ORDER BY " + b.id(IncrementalTimestampColumn) + ", " + b.id(KeyColumn))
	return sb.String()
}

// IncrementalDiffPage returns IncrementalDiff restricted to the run-table rows whose row id is
// in [$1, $2) (DuckDB only).
func (b *Builder) IncrementalDiffPage(fields []string) string { return b.incrementalDiff(fields, true) }

// ReadIncrementalDiff reads the rows of IncrementalDiff, in time order, and calls row for each,
// as ReadDiff does: on DuckDB page by page (the run table is written in time order).
func (b *Builder) ReadIncrementalDiff(ctx context.Context, db Queryer, fields []string,
	row func(types []*sql.ColumnType, vals []any) error) error {
	if !b.pagesFields(fields) {
		return ReadQuery(ctx, db, b.IncrementalDiff(fields), nil, fields, row)
	}
	return b.readPages(ctx, db, b.IncrementalDiffPage(fields), fields, row)
}

// IncrementalFold returns the statements committing an incremental run, to execute in order
// in one transaction: the acknowledged events go into the sent table (replacing any earlier
// row of the same key, which only a full run re-sends), the cursor advances to the latest
// acknowledged timestamp that no pending event of the run precedes, and the acknowledgement
// and run tables are dropped. An event is pending when it was neither acknowledged nor, if
// runID is not empty, rejected in run runID (the recovery of an interrupted run passes "":
// its rejected events then hold the cursor back once, which only widens the next window).
func (b *Builder) IncrementalFold(runID string) []string {
	t := b.IncrementalTables()
	k, ts := b.id(KeyColumn), b.id(IncrementalTimestampColumn)
	ack := "SELECT " + k + " FROM " + b.q(b.t.Ack)
	pending := "u." + k + " NOT IN (" + ack + ")"
	if runID != "" {
		pending += " AND u." + k + " NOT IN (SELECT " + b.id(RejectedKey) + " FROM " + b.q(b.t.Rejected) +
			" WHERE " + b.id(RejectedRun) + " = " + b.d.QuoteString(runID) + ")"
	}
	cursor := b.q(t.Cursor)
	isCursor := b.id(KindColumn) + " = " + b.d.QuoteString(markCursor)
	return []string{
		"DELETE FROM " + b.q(t.Sent) + " WHERE " + k + " IN (" + ack + ")",
		"INSERT INTO " + b.q(t.Sent) + " (" + k + ", " + ts + ") SELECT " + k + ", " + ts + " FROM " + b.q(b.t.Run) +
			" WHERE " + k + " IN (" + ack + ")",
		"INSERT INTO " + cursor + " (" + b.id(KindColumn) + ", " + ts + ") SELECT " + b.d.QuoteString(markCursor) + ", n." + ts + " FROM (SELECT MAX(r." + ts + ") AS " + ts +
			" FROM " + b.q(b.t.Run) + " r WHERE r." + k + " IN (" + ack + ") AND r." + ts + " <= COALESCE((SELECT MIN(u." + ts +
			") FROM " + b.q(b.t.Run) + " u WHERE " + pending + "), r." + ts + ")) n WHERE n." + ts + " IS NOT NULL" +
			" AND NOT EXISTS (SELECT 1 FROM " + cursor + " c WHERE c." + isCursor + " AND c." + ts + " >= n." + ts + ")",
		"DELETE FROM " + cursor + " WHERE " + isCursor + " AND " + ts + " < (" + b.mark(markCursor) + ")",
		b.DropAck(),
		b.DropRun(),
	}
}

// PruneSent returns the statements, to execute in order after the fold has committed, that
// raise the horizon to the cursor minus the lookback and delete the sent events below the
// horizon: no later window reaches them. The horizon is stored before the sent rows go, so a
// run killed in between leaves only rows a later prune deletes. Pruning reads the stored
// horizon rather than recomputing it, so the window and the sent table always agree (even
// where storing the horizon rounds it, as in a DATE column).
func (x *Incremental) PruneSent() []string {
	b := x.b
	ts := b.id(IncrementalTimestampColumn)
	cursor := b.q(x.t.Cursor)
	isHorizon := x.isMark(markHorizon)
	return []string{
		"INSERT INTO " + cursor + " (" + b.id(KindColumn) + ", " + ts + ") SELECT " + b.d.QuoteString(markHorizon) + ", n.h FROM (SELECT " +
			x.minus("MAX("+ts+")") + " AS h FROM " + cursor + " WHERE " + x.isMark(markCursor) + ") n WHERE n.h IS NOT NULL" +
			" AND NOT EXISTS (SELECT 1 FROM " + cursor + " c WHERE c." + isHorizon + " AND c." + ts + " >= n.h)",
		"DELETE FROM " + cursor + " WHERE " + isHorizon + " AND " + ts + " < (" + b.mark(markHorizon) + ")",
		"DELETE FROM " + b.q(x.t.Sent) + " WHERE " + ts + " < (" + b.mark(markHorizon) + ")",
	}
}
