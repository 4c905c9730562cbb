// Package segment defines the condition tree of a segment (a filtered subset of a model), checks
// it against the model's fields, relationships and calculated fields, and compiles it to SQL
// through a warehouse.Dialect. The provider uses it at plan time (ValidateIn, ValidateModel,
// and CompileIn for the plan's compiled SQL) and at apply (CompileIn, to create the segment's
// view); the runner uses the same code, so a segment means the same thing wherever it is
// evaluated.
//
// Two entry points exist. Validate, Compile and Predicate take a model as a list of columns and
// know nothing of other models; ValidateIn, CompileIn and PredicateIn take a Schema, the graph of
// models with their relationships, calculated fields and segments, and accept every node kind.
// For a tree without relationship features both produce the same SQL.
//
// # Condition tree
//
// A Group combines its conditions with AND (match "all") or OR (match "any"). Its members are
// attribute conditions (Conditions, on a column or calculated field of the model), nested
// groups (Groups), related-model conditions (Related), aggregate conditions (Aggregates) and
// segment memberships (Memberships); SQL lists them in that order. Stored as JSON:
//
//	{"match": "all", "negate": false,
//	 "conditions": [{"column": "signup_at", "operator": "in_last", "value": "30", "unit": "days"}],
//	 "groups": [{"match": "any", "conditions": [...]}],
//	 "related": [{"path": ["orders", "lines"], "quantifier": "count_at_least", "count": 2,
//	              "filter": {"match": "all", "conditions": [...]},
//	              "window": {"last": 30, "unit": "days"}}],
//	 "aggregates": [{"path": ["orders"], "function": "sum", "column": "amount",
//	                 "filter": {...}, "window": {"from": "2024-01-01", "to": "2024-03-31"},
//	                 "operator": "gte", "value": "100"}],
//	 "memberships": [{"segment": "vip", "exclude": true}]}
//
// Every condition and group is two-valued: a row either matches it or does not; SQL NULLs never
// leak into the result:
//
//   - A positive operator (equals, in, contains, gt, between, in_last, on_weekday, is_true, ...)
//     never matches a row whose field is NULL.
//   - A negative operator (not_equals, not_in, not_contains) is the exact complement of its
//     positive form, so it matches rows whose field is NULL: "country not_equals FR" includes
//     rows with an unknown country. Use an extra is_not_null condition to exclude them.
//   - A negated group (negate = true) matches exactly the rows the same group without negate does
//     not match; it compiles to NOT COALESCE((inner), FALSE).
//   - An empty group (no members) is the neutral element of its match: "all" matches every row,
//     "any" matches none. An empty top-level group (a segment's tree, a filter, or a segment named
//     by a membership) means "every row" whatever its match; negating it is rejected.
//   - String comparisons are case-sensitive (equals and in follow the column's collation, which
//     is binary by default). contains, starts_with and ends_with test the field's text form
//     against a LIKE pattern in which %, _ and \ from the value are escaped: the value always
//     matches literally and case-sensitively.
//   - between is inclusive at both ends and needs low <= high.
//   - Numbers are compared exactly as decimals; on floating-point fields (real, double, and
//     formulas that divide) equals compares the stored binary value, so prefer between there.
//   - Timestamps are compared as instants in UTC. Operands without an offset are read as UTC;
//     columns without a time zone are read in the session time zone, which the warehouse
//     connectors pin to UTC (BigQuery DATETIME columns are compared as the UTC instant they
//     denote).
//
// Values are written as strings (as in HCL) and parsed according to the field's type category:
// integers as base-10 int64, numbers as plain decimals (12, -3.75; no exponent), dates as
// YYYY-MM-DD, timestamps as RFC 3339 or "YYYY-MM-DD HH:MM:SS[.ffffff]" (UTC when no offset is
// given; at most microsecond precision). Fields are matched by their exact, case-sensitive name.
//
// # Dates and relative dates
//
// before and after are strict comparisons. in_last, in_next and more_than_ago take a whole
// number N in value (0 or more) and a unit: days, weeks (7 days), months or years (12 months).
// They compare with the current instant "now" (timestamps) or the current UTC date "today"
// (dates), computed by the warehouse when the query runs (CURRENT_TIMESTAMP), or fixed by
// Options.Now (the SQL then holds a literal; tests and previews use it):
//
//   - in_last N: now - N units <= field <= now (dates: today - N units <= field <= today, so
//     "in_last 7 days" on a date covers today and the 7 days before it, and "in_last 0 days" is
//     today);
//   - in_next N: now <= field <= now + N units;
//   - more_than_ago N: field < now - N units, the complement of in_last for values in the past.
//
// Month arithmetic is calendar arithmetic in UTC, clamped to the end of shorter months: one
// month before March 31 is February 29 (leap year) or 28. on_weekday takes a list of mon, tue,
// wed, thu, fri, sat, sun (case-insensitive) and tests the ISO weekday in UTC (the compiler
// numbers Monday 1 to Sunday 7 on every engine); in_month takes months 1 (January) to 12.
//
// # Models, relationships and paths
//
// A Relationship of a model names a target model and two key columns: rows are related when
// this.FromColumn = target.ToColumn (both non-NULL). Its Kind, many_to_one or one_to_many, says
// whether a row has at most one or possibly many related rows. A path is a list of relationship
// names followed from the condition's model; it may cross several models (customers -> orders ->
// lines -> product), in either direction when both directions are declared. Following a path
// behaves like an inner join: the related rows are one per way of reaching them.
//
// # Related-model conditions
//
// A related-model condition counts the rows of the path's last model that pass its filter (a
// top-level group on that model, which may hold further related-model conditions, to any depth)
// and its window: exists (at least one), not_exists (none), count_at_least, count_at_most and
// count_exactly N (N >= 0; at_most includes rows with no related row). Counts are of distinct
// related rows: when the path can reach the same row twice (a many-to-one step after a
// one-to-many step, such as customers -> orders -> lines -> product), the compiler counts
// distinct primary keys of the last model, which must then declare one.
//
// A window restricts related rows by a date or timestamp field of the last model (its
// TimestampColumn unless the window names a column): "last": N with "unit" is [now - N units,
// now] as for in_last; "from" and "to" bound a fixed period, both included, either optional;
// a date bound on a timestamp field means the start of that day (from) or the end of it (to:
// before the next midnight, UTC).
//
// # Aggregates and calculated fields
//
// An aggregate applies a function to a field of the rows reached by a path, after its filter
// and window: count (rows, or non-NULL values of a column), count_distinct (distinct non-NULL
// values), sum, avg, min, max, first and last (the value at the row with the lowest or highest
// order_by, among rows where both are non-NULL; ties are resolved arbitrarily by the engine).
// Over no rows, count, count_distinct and sum are 0; avg, min, max, first and last are NULL,
// which positive operators never match. Aggregates range over the rows of the path one per way
// of reaching them (like a join): sum of product prices over customers -> orders -> lines ->
// product counts a product once per order line; count_distinct counts distinct values.
//
// An aggregate condition compares an aggregate with a value using the operators of the
// aggregate's type: count and count_distinct are integers, avg a number, the others have the
// type of their field (so "max of ordered_at in_last 30 days" works).
//
// A calculated field (Model.Calculated) is a named aggregate or formula of a model. It is used
// like a column everywhere: in attribute conditions, in filters, in windows, as the field of
// another aggregate (on postgres and duckdb only, see below), and in the SELECT list with
// Options.IncludeCalculated. Calculated fields may use other calculated fields, of the same or
// other models; cycles are rejected with the cycle's path.
//
// # Formulas
//
// A formula field computes arithmetic over fields of the same row (columns and calculated
// fields, of integer or number type): numbers (12, 3.75), field names (letters, digits and
// underscores, not starting with a digit; any other name in double quotes, with "" for a
// quote), + - * /, unary minus, parentheses, and COALESCE(x, default, ...), the only function
// (case-insensitive). Nothing of the text reaches SQL unparsed: names are quoted by the dialect
// and numbers re-emitted from their validated form. Semantics:
//
//   - NULL in, NULL out: any NULL operand makes the result NULL; COALESCE replaces it.
//   - Division is floating-point division (7 / 2 = 3.5, never integer division), and division by
//     zero gives NULL (NULLIF) rather than an error.
//   - + - * keep the operands' types (exact for decimals); the result is an integer when every
//     operand is and there is no division, a number otherwise. An overflow of the engine's type
//     is the engine's error.
//
// # Membership
//
// A membership condition is true for a row that belongs to the named segment of the same
// model (or, with exclude, that does not). The other segment's tree is evaluated inline on the
// same row, so it follows every rule above; a segment without conditions holds every row.
// Membership cycles (a includes b includes a) are rejected with the cycle's path; set
// Options.Segment to the name of the segment being compiled so that its own tree is part of the
// check.
//
// # SQL and engines
//
// Related-model, aggregate and membership conditions and calculated fields compile to correlated
// subqueries (EXISTS, scalar aggregate subqueries) on the related models' views, each correlated
// only with the query immediately enclosing it by equality in its WHERE clause, which every
// supported engine runs. The segment's model then gets the alias "t0" and subqueries "t1",
// "t2", ... in order; a tree without subqueries keeps bare column names. Identifiers and
// literals always go through the dialect. Engine-specific SQL (current time, date arithmetic,
// weekday, float type, first/last) comes from DateDialect and AggregateDialect, built in for
// postgres, duckdb, snowflake, bigquery, redshift and databricks. Limits, reported as
// validation errors naming the engine:
//
//   - snowflake runs a correlated EXISTS only directly in a WHERE clause (not under OR, NOT or
//     a function), so exists and not_exists compile there to a comparison of the count of
//     related rows with 0, which it runs anywhere;
//   - redshift has no first and last (no MIN_BY, and correlated subqueries cannot use ORDER BY
//     with LIMIT);
//   - an aggregate whose field (or order_by) is itself computed from related rows needs a
//     correlated subquery inside an aggregate function, which only postgres and duckdb are
//     known to accept;
//   - weekdays and months of timestamps with time zone, and month arithmetic on snowflake,
//     redshift and databricks, follow the session time zone: the postgres and duckdb connectors
//     pin it to UTC, and the drivers of the other engines must do the same.
package segment
