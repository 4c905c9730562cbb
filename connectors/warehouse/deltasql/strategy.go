package deltasql

import (
	"errors"
	"fmt"
	"strings"

	"dinmo/connectors/warehouse"
)

// Strategy is how a run computes its run table (the keys that changed since the snapshot).
// Every strategy gives the same run table, so everything after it (counts, the ordered diff,
// acknowledgements, the fold) is shared; they differ in what the warehouse writes and joins.
type Strategy int

// Strategies. `make bench` times each on the same data; DefaultStrategy names the fastest.
const (
	// StrategyChanges keeps the snapshot and writes only the changed keys: the segment query
	// is evaluated once, hashed on the fly and full-outer-joined to the snapshot on the key,
	// and only the rows that differ are written (into the run table). Checking the keys for
	// NULLs and duplicates reads the segment query a second time (an aggregate, no write).
	StrategyChanges Strategy = iota + 1
	// StrategyRewriteJoin writes the whole evaluated segment (key, hash, fields) into the
	// stage table, full-outer-joins it to the snapshot on the key, and writes the rows that
	// differ into the run table. One write of every row per run, one read of the segment query.
	StrategyRewriteJoin
	// StrategyRewriteAntiJoin writes the stage table like StrategyRewriteJoin, then finds added
	// and removed keys with anti-joins (NOT EXISTS) and changed keys with an inner join on the
	// key and a hash comparison.
	StrategyRewriteAntiJoin
	// StrategyRewriteExcept writes the stage table like StrategyRewriteJoin, then compares
	// (key, hash) pairs with EXCEPT in both directions and joins back for the fields.
	StrategyRewriteExcept
)

var strategyNames = map[Strategy]string{
	StrategyChanges:         "changes",
	StrategyRewriteJoin:     "rewrite_join",
	StrategyRewriteAntiJoin: "rewrite_antijoin",
	StrategyRewriteExcept:   "rewrite_except",
}

// Strategies lists every strategy, in declaration order.
func Strategies() []Strategy {
	return []Strategy{StrategyChanges, StrategyRewriteJoin, StrategyRewriteAntiJoin, StrategyRewriteExcept}
}

// String returns the strategy's stable name (changes, rewrite_join, rewrite_antijoin,
// rewrite_except).
func (s Strategy) String() string {
	if n, ok := strategyNames[s]; ok {
		return n
	}
	return fmt.Sprintf("Strategy(%d)", int(s))
}

func (s Strategy) valid() bool {
	_, ok := strategyNames[s]
	return ok
}

// ParseStrategy returns the strategy of a name String returns.
func ParseStrategy(name string) (Strategy, error) {
	for s, n := range strategyNames {
		if strings.EqualFold(n, strings.TrimSpace(name)) {
			return s, nil
		}
	}
	names := make([]string, 0, len(strategyNames))
	for _, s := range Strategies() {
		names = append(names, s.String())
	}
	return 0, fmt.Errorf("deltasql: unknown strategy %q: use one of %s", name, strings.Join(names, ", "))
}

// DefaultStrategy returns the strategy the runner uses on an engine: the fastest `make bench`
// measured (the README's performance section has the figures and the command).
//
// StrategyChanges won on DuckDB and PostgreSQL at 1M and 10M rows with 1% of the rows
// inserted, deleted and updated: writing every evaluated row costs more than everything else
// a delta run does. On 2 cores, 10M rows: DuckDB (with the connector's default memory_limit,
// 192MB, and the narrow join of narrowJoin) 7.9 s for the whole changes pipeline against
// 17-40 s for the rewrites (their stage write alone took 16-19 s); PostgreSQL 43 s against
// 54-100 s. The anti-join and EXCEPT diffs were never faster than the full outer join,
// and rewriting the whole snapshot (CREATE TABLE AS, or the stage table renamed into place)
// lost to patching it. The distributed engines cannot be measured here; they get
// StrategyChanges too, since it writes 1-3% of the rows a rewrite writes and reads the
// segment query with one aggregate and one join.
func DefaultStrategy(warehouse.Engine) Strategy {
	return StrategyChanges
}

// Source is what a run evaluates: a view (or table), its primary key and the mapped columns.
type Source struct {
	// Schema and View name the relation evaluated (the segment's or model's view).
	Schema string
	View   string
	// PrimaryKey is the column identifying a record; it is sent as text.
	PrimaryKey string
	// Fields are the mapped columns.
	Fields []Field
}

// Evaluation builds the statements of one run's evaluation, in the order a run executes
// them:
//
//  1. Stage: statements materialising the segment (none for StrategyChanges).
//  2. KeyStats: one row (rows, non-NULL keys, distinct keys). When they differ, some keys are
//     NULL or duplicated: run SkipBadKeys and count the rows kept with CountKept.
//  3. Probe: the evaluated columns (key, hash, fields with their types), to create the
//     snapshot (CreateSnapshot) or evolve it before the diff reads it.
//  4. CreateRun: statements writing the run table (the changes), which Builder.DiffCounts,
//     Builder.Diff and Builder.Fold read.
type Evaluation struct {
	b      *Builder
	src    Source
	full   bool
	key    string // the primary key cast to text
	sel    string // SELECT key, hash, fields FROM the view
	values string // SELECT key, fields FROM the view (no hash), for narrowJoin's second read
}

// Evaluate returns the evaluation statements of one run. full makes the run table hold the
// unchanged rows too (a full run sends every row).
func (b *Builder) Evaluate(src Source, full bool) (*Evaluation, error) {
	if src.View == "" {
		return nil, errors.New("deltasql: empty source view")
	}
	if src.PrimaryKey == "" {
		return nil, errors.New("deltasql: empty primary key column")
	}
	if err := ValidateFields(src.Fields); err != nil {
		return nil, err
	}
	e := &Evaluation{b: b, src: src, full: full, key: b.d.CastText(b.id(src.PrimaryKey))}
	hashed := make([]string, 0, len(src.Fields))
	for _, f := range src.Fields {
		hashed = append(hashed, b.id(f.Column))
	}
	// With nothing mapped (membership by key only) RowHash is a constant: a key never changes.
	var sb, vb strings.Builder
	sb.WriteString("SELECT " + e.key + " AS " + b.id(KeyColumn))
	vb.WriteString(sb.String())
	sb.WriteString(", " + b.d.RowHash(hashed) + " AS " + b.id(HashColumn))
	for _, f := range src.Fields {
		sb.WriteString(", " + b.id(f.Column) + " AS " + b.id(f.Name))
		vb.WriteString(", " + b.id(f.Column) + " AS " + b.id(f.Name))
	}
	sb.WriteString(" FROM " + e.view())
	vb.WriteString(" FROM " + e.view())
	e.sel, e.values = sb.String(), vb.String()
	return e, nil
}

func (e *Evaluation) view() string { return e.b.d.Qualified(e.src.Schema, e.src.View) }

func (e *Evaluation) rewrites() bool { return e.b.strategy != StrategyChanges }

// Stage returns the statements materialising the whole segment into the stage table (for the
// rewrite strategies; none for StrategyChanges). A stage table left by a killed run is dropped
// first. On PostgreSQL the stage table is UNLOGGED: it lives only until CreateRun, so it need
// not survive a server crash, and skipping the WAL halves the cost of writing it.
func (e *Evaluation) Stage() []string {
	if !e.rewrites() {
		return nil
	}
	b := e.b
	return []string{b.DropStage(), b.createTransient(b.t.Stage, e.sel)}
}

// KeyStats returns one row: the segment's row count, its count of non-NULL keys and its count
// of distinct keys. When all three are equal, every key is present and unique.
//
// StrategyChanges counts on the source with the key's own type (cheaper than text: PostgreSQL
// compares text under the collation): keys equal as values but different as text (numeric 1.0
// and 1.00) then count as duplicates, which CountKept and the run table's filter, working on
// text, correct.
func (e *Evaluation) KeyStats() string {
	b := e.b
	if e.rewrites() {
		k := b.id(KeyColumn)
		return "SELECT COUNT(*), COUNT(" + k + "), COUNT(DISTINCT " + k + ") FROM " + b.q(b.t.Stage)
	}
	k := b.id(e.src.PrimaryKey)
	return "SELECT COUNT(*), COUNT(" + k + "), COUNT(DISTINCT " + k + ") FROM " + e.view()
}

// SkipBadKeys returns the statements removing rows whose key is NULL or appears more than once
// (without an order there is no right row to keep, so none of a duplicated key is sent; a key
// that becomes duplicated therefore counts as removed). For StrategyChanges there is nothing
// to remove: CreateRun(true) filters those rows out.
func (e *Evaluation) SkipBadKeys() []string {
	if !e.rewrites() {
		return nil
	}
	b := e.b
	k := b.id(KeyColumn)
	stage := b.q(b.t.Stage)
	return []string{"DELETE FROM " + stage + " WHERE " + k + " IS NULL OR " + k + " IN (SELECT " + k +
		" FROM " + stage + " WHERE " + k + " IS NOT NULL GROUP BY " + k + " HAVING COUNT(*) > 1)"}
}

// CountKept returns the number of rows kept once NULL and duplicated keys are skipped (run it
// after SkipBadKeys).
func (e *Evaluation) CountKept() string {
	b := e.b
	if e.rewrites() {
		return "SELECT COUNT(*) FROM " + b.q(b.t.Stage)
	}
	return "SELECT COUNT(*) FROM (" + e.badKeys("= 1") + ") x"
}

// badKeys selects the text keys that appear n times (cond is "= 1" or "> 1"), NULL excluded.
func (e *Evaluation) badKeys(cond string) string {
	k := e.b.id(KeyColumn)
	return "SELECT " + k + " FROM (SELECT " + e.key + " AS " + k + " FROM " + e.view() + ") v WHERE " + k +
		" IS NOT NULL GROUP BY " + k + " HAVING COUNT(*) " + cond
}

// Probe selects no row; its result columns are the run's key, hash and fields with their
// types (for Warehouse.QueryColumns).
func (e *Evaluation) Probe() string { return e.sel + " WHERE 1 = 0" }

// CreateSnapshot creates the empty snapshot with the evaluated key, hash and field columns.
func (e *Evaluation) CreateSnapshot() string {
	return e.b.d.CreateTableAs(warehouse.SchemaDeltaStorage, e.b.t.Snapshot, e.Probe())
}

// CreateRun returns the statements writing the run table: the rows that differ between the
// evaluated segment and the snapshot (every row in a full run). The snapshot must hold every
// mapped field (create or evolve it first). skipBadKeys leaves out rows whose key is NULL or
// duplicated (pass true when KeyStats found any; the rewrite strategies removed them from the
// stage table already). The rewrite strategies drop the stage table at the end.
func (e *Evaluation) CreateRun(skipBadKeys bool) []string {
	b := e.b
	if !e.rewrites() {
		src := "(" + e.sel + ")"
		if skipBadKeys {
			k := b.id(KeyColumn)
			src = "(SELECT * FROM (" + e.sel + ") v WHERE " + k + " IS NOT NULL AND " + k + " NOT IN (" + e.badKeys("> 1") + "))"
		}
		diff := e.fullJoin(src)
		if e.narrow() {
			// The second read needs no filter: a NULL key joins nothing, and a duplicated key
			// is in none of the added or changed keys of the first.
			diff = e.narrowJoin(src, "("+e.values+")")
		}
		return []string{b.d.CreateTableAs(warehouse.SchemaDeltaStorage, b.t.Run, b.ordered(diff))}
	}
	stage := b.q(b.t.Stage)
	var diff string
	switch b.strategy {
	case StrategyRewriteAntiJoin:
		diff = e.antiJoin(stage)
	case StrategyRewriteExcept:
		diff = e.except(stage)
	default:
		diff = e.fullJoin(stage)
		if e.narrow() {
			diff = e.narrowJoin(stage, stage)
		}
	}
	return []string{b.d.CreateTableAs(warehouse.SchemaDeltaStorage, b.t.Run, b.ordered(diff)), b.DropStage()}
}

// narrow reports whether the full-outer-join diff joins only keys and hashes (narrowJoin): on
// DuckDB, for a delta run.
//
// DuckDB keeps the build side of a hash join in memory and spills to its temp_directory what
// does not fit in memory_limit, but its spilling needs memory that grows with what is joined:
// joining the whole evaluated rows (every mapped field) to the snapshot took 2.5 GB at 10M
// customers without a limit and failed out of memory under a 128MB limit, where joining keys
// and hashes runs at 10M rows under 64MB, in about the time of the wide join without a limit.
// A full run keeps the wide join: its snapshot is usually empty (the first run), which DuckDB
// then builds on at no cost, and it returns every row anyway, which the narrow join would read
// twice.
func (e *Evaluation) narrow() bool { return e.b.d.Engine() == warehouse.DuckDB && !e.full }

// Aliases of the diff queries: e is the evaluated segment, s the snapshot.
const (
	aliasEval = "e"
	aliasSnap = "s"
)

// col returns alias.column, quoted.
func (e *Evaluation) col(alias, name string) string { return alias + "." + e.b.id(name) }

// fullJoin classifies every key in one full outer join of the evaluated rows (src, a table or
// a parenthesised query) with the snapshot.
func (e *Evaluation) fullJoin(src string) string {
	b := e.b
	ek, sk := e.col(aliasEval, KeyColumn), e.col(aliasSnap, KeyColumn)
	eh, sh := e.col(aliasEval, HashColumn), e.col(aliasSnap, HashColumn)
	var sb strings.Builder
	sb.WriteString("SELECT CASE WHEN " + sk + " IS NULL THEN " + b.d.QuoteString(string(Added)))
	sb.WriteString(" WHEN " + ek + " IS NULL THEN " + b.d.QuoteString(string(Removed)))
	sb.WriteString(" WHEN " + eh + " <> " + sh + " THEN " + b.d.QuoteString(string(Changed)))
	sb.WriteString(" ELSE " + b.d.QuoteString(string(Unchanged)) + " END AS " + b.id(KindColumn))
	sb.WriteString(", CASE WHEN " + ek + " IS NULL THEN " + sk + " ELSE " + ek + " END AS " + b.id(KeyColumn))
	sb.WriteString(", " + eh + " AS " + b.id(HashColumn))
	for _, f := range e.src.Fields {
		sb.WriteString(", CASE WHEN " + ek + " IS NULL THEN " + e.col(aliasSnap, f.Name) + " ELSE " +
			e.col(aliasEval, f.Name) + " END AS " + b.id(f.Name))
	}
	sb.WriteString(" FROM " + src + " " + aliasEval + " FULL OUTER JOIN " + b.q(b.t.Snapshot) + " " + aliasSnap +
		" ON " + ek + " = " + sk)
	if !e.full {
		sb.WriteString(" WHERE " + ek + " IS NULL OR " + sk + " IS NULL OR " + eh + " <> " + sh)
	}
	return sb.String()
}

// Aliases of narrowJoin: d holds the changed keys, v the evaluated values.
const (
	aliasDelta  = "d"
	aliasValues = "v"
)

// narrowJoin builds the same rows as fullJoin (delta runs only) in two steps of one statement,
// so both read the source at the same moment: the changed keys are classified by a full outer
// join of the evaluated keys and hashes (from src) with the snapshot's keys and hashes, and
// materialised (a delta holds few keys); then the added and changed keys take their fields from
// values (the evaluated keys and fields) and the removed ones from the snapshot. The hash
// tables of both steps hold keys and hashes, or only the changed keys, never every field.
func (e *Evaluation) narrowJoin(src, values string) string {
	b := e.b
	k, h, kind := b.id(KeyColumn), b.id(HashColumn), b.id(KindColumn)
	ek, sk := e.col(aliasEval, KeyColumn), e.col(aliasSnap, KeyColumn)
	eh, sh := e.col(aliasEval, HashColumn), e.col(aliasSnap, HashColumn)
	delta := b.id(aliasDelta)
	var sb strings.Builder
	sb.WriteString("WITH " + delta + " AS MATERIALIZED (")
	sb.WriteString("SELECT CASE WHEN " + sk + " IS NULL THEN " + b.d.QuoteString(string(Added)))
	sb.WriteString(" WHEN " + ek + " IS NULL THEN " + b.d.QuoteString(string(Removed)))
	sb.WriteString(" ELSE " + b.d.QuoteString(string(Changed)) + " END AS " + kind)
	sb.WriteString(", CASE WHEN " + ek + " IS NULL THEN " + sk + " ELSE " + ek + " END AS " + k)
	sb.WriteString(", " + eh + " AS " + h)
	sb.WriteString(" FROM (SELECT " + k + ", " + h + " FROM " + src + " " + aliasValues + ") " + aliasEval)
	sb.WriteString(" FULL OUTER JOIN (SELECT " + k + ", " + h + " FROM " + b.q(b.t.Snapshot) + ") " + aliasSnap)
	sb.WriteString(" ON " + ek + " = " + sk)
	sb.WriteString(" WHERE " + ek + " IS NULL OR " + sk + " IS NULL OR " + eh + " <> " + sh + ")")
	// Added and changed keys, with the evaluated fields.
	dk, dh, dkind := e.col(aliasDelta, KeyColumn), e.col(aliasDelta, HashColumn), e.col(aliasDelta, KindColumn)
	removed := b.d.QuoteString(string(Removed))
	sb.WriteString(" SELECT " + dkind + " AS " + kind + ", " + dk + " AS " + k + ", " + dh + " AS " + h)
	for _, f := range e.src.Fields {
		sb.WriteString(", " + e.col(aliasValues, f.Name) + " AS " + b.id(f.Name))
	}
	sb.WriteString(" FROM (SELECT * FROM " + delta + " WHERE " + kind + " <> " + removed + ") " + aliasDelta)
	sb.WriteString(" JOIN " + values + " " + aliasValues + " ON " + e.col(aliasValues, KeyColumn) + " = " + dk)
	// Removed keys, with the snapshot's fields.
	sb.WriteString(" UNION ALL SELECT " + dkind + ", " + dk + ", " + dh)
	for _, f := range e.src.Fields {
		sb.WriteString(", " + e.col(aliasSnap, f.Name) + " AS " + b.id(f.Name))
	}
	sb.WriteString(" FROM (SELECT * FROM " + delta + " WHERE " + kind + " = " + removed + ") " + aliasDelta)
	sb.WriteString(" JOIN " + b.q(b.t.Snapshot) + " " + aliasSnap + " ON " + sk + " = " + dk)
	return sb.String()
}

// evalRow selects kind, key, hash and fields of an evaluated row.
func (e *Evaluation) evalRow(kind string) string {
	b := e.b
	var sb strings.Builder
	sb.WriteString("SELECT " + kind + " AS " + b.id(KindColumn))
	sb.WriteString(", " + e.col(aliasEval, KeyColumn) + " AS " + b.id(KeyColumn))
	sb.WriteString(", " + e.col(aliasEval, HashColumn) + " AS " + b.id(HashColumn))
	for _, f := range e.src.Fields {
		sb.WriteString(", " + e.col(aliasEval, f.Name) + " AS " + b.id(f.Name))
	}
	return sb.String()
}

// removedRow selects a removed snapshot row: its key, a NULL hash and its fields.
func (e *Evaluation) removedRow() string {
	b := e.b
	var sb strings.Builder
	sb.WriteString("SELECT " + b.d.QuoteString(string(Removed)) + " AS " + b.id(KindColumn))
	sb.WriteString(", " + e.col(aliasSnap, KeyColumn) + " AS " + b.id(KeyColumn))
	sb.WriteString(", CAST(NULL AS " + b.d.HashType() + ") AS " + b.id(HashColumn))
	for _, f := range e.src.Fields {
		sb.WriteString(", " + e.col(aliasSnap, f.Name) + " AS " + b.id(f.Name))
	}
	return sb.String()
}

// antiJoin finds added and removed keys with NOT EXISTS and changed ones with an inner join.
func (e *Evaluation) antiJoin(stage string) string {
	b := e.b
	ek, sk := e.col(aliasEval, KeyColumn), e.col(aliasSnap, KeyColumn)
	eh, sh := e.col(aliasEval, HashColumn), e.col(aliasSnap, HashColumn)
	snap := b.q(b.t.Snapshot)
	both := b.d.QuoteString(string(Changed))
	if e.full {
		both = "CASE WHEN " + eh + " <> " + sh + " THEN " + both + " ELSE " + b.d.QuoteString(string(Unchanged)) + " END"
	}
	q := e.evalRow(b.d.QuoteString(string(Added))) + " FROM " + stage + " " + aliasEval +
		" WHERE NOT EXISTS (SELECT 1 FROM " + snap + " " + aliasSnap + " WHERE " + sk + " = " + ek + ")" +
		" UNION ALL " + e.evalRow(both) + " FROM " + stage + " " + aliasEval + " JOIN " + snap + " " + aliasSnap +
		" ON " + sk + " = " + ek
	if !e.full {
		q += " WHERE " + eh + " <> " + sh
	}
	return q + " UNION ALL " + e.removedRow() + " FROM " + snap + " " + aliasSnap +
		" WHERE NOT EXISTS (SELECT 1 FROM " + stage + " " + aliasEval + " WHERE " + ek + " = " + sk + ")"
}

// except compares (key, hash) pairs with EXCEPT both ways: n holds the new versions (added or
// changed keys), o the old ones (removed or changed keys).
func (e *Evaluation) except(stage string) string {
	b := e.b
	k, h := b.id(KeyColumn), b.id(HashColumn)
	snap := b.q(b.t.Snapshot)
	ek, sk := e.col(aliasEval, KeyColumn), e.col(aliasSnap, KeyColumn)
	nk, ok := "n."+k, "o."+k
	q := "WITH n AS (SELECT " + k + ", " + h + " FROM " + stage + " EXCEPT SELECT " + k + ", " + h + " FROM " + snap + ")" +
		", o AS (SELECT " + k + ", " + h + " FROM " + snap + " EXCEPT SELECT " + k + ", " + h + " FROM " + stage + ") " +
		e.evalRow("CASE WHEN "+ok+" IS NULL THEN "+b.d.QuoteString(string(Added))+" ELSE "+b.d.QuoteString(string(Changed))+" END") +
		" FROM n JOIN " + stage + " " + aliasEval + " ON " + ek + " = " + nk + " LEFT JOIN o ON " + ok + " = " + nk +
		" UNION ALL " + e.removedRow() + " FROM o JOIN " + snap + " " + aliasSnap + " ON " + sk + " = " + ok +
		" WHERE NOT EXISTS (SELECT 1 FROM n WHERE " + nk + " = " + ok + ")"
	if e.full {
		q += " UNION ALL " + e.evalRow(b.d.QuoteString(string(Unchanged))) + " FROM " + stage + " " + aliasEval +
			" WHERE NOT EXISTS (SELECT 1 FROM n WHERE " + nk + " = " + ek + ")"
	}
	return q
}

// createTransient creates a table that lives only within one run's evaluation.
func (b *Builder) createTransient(name, query string) string {
	if b.d.Engine() == warehouse.Postgres {
		return "CREATE UNLOGGED TABLE " + b.q(name) + " AS\n" + query
	}
	return b.d.CreateTableAs(warehouse.SchemaDeltaStorage, name, query)
}
