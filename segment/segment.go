// Package segment defines the condition tree of a segment (a filtered subset of a model), checks
// it against the model's introspected columns and compiles it to SQL through a
// warehouse.Dialect. The provider uses it at plan time (Validate) and at apply (Compile, to
// create the segment's view); the runner uses the same code, so a segment means the same thing
// wherever it is evaluated.
//
// # Semantics
//
// A Group combines its conditions and sub-groups with AND (match "all") or OR (match "any").
// Every condition and group is two-valued: a row either matches it or does not; SQL NULLs never
// leak into the result:
//
//   - A positive operator (equals, in, contains, gt, between, is_true, ...) never matches a row
//     whose column is NULL.
//   - A negative operator (not_equals, not_in, not_contains) is the exact complement of its
//     positive form, so it matches rows whose column is NULL: "country not_equals FR" includes
//     rows with an unknown country. Use an extra is_not_null condition to exclude them.
//   - A negated group (negate = true) matches exactly the rows the same group without negate does
//     not match; it compiles to NOT COALESCE((inner), FALSE).
//   - An empty group (no conditions, no groups) is the neutral element of its match: "all"
//     matches every row, "any" matches none. An empty top-level group means "every row of the
//     model" whatever its match; negating it is rejected, since the segment could never have a
//     member.
//   - String comparisons are case-sensitive (equals and in follow the column's collation, which
//     is binary by default; a case-insensitive type such as PostgreSQL citext compares without
//     case). contains, starts_with and ends_with test the column's text form (CAST to the
//     engine's text type, so they also work on uuid and enum columns) against a LIKE pattern in
//     which %, _ and \ from the value are escaped, with an explicit ESCAPE '\': the value always
//     matches literally and case-sensitively.
//   - between is inclusive at both ends and needs low <= high.
//   - Numbers are compared exactly as decimals; on floating-point columns (real, double) equals
//     compares the stored binary value, so prefer between, gte or lte there.
//   - Timestamps are compared as instants in UTC. Operands without an offset are read as UTC;
//     columns without a time zone are read in the session time zone, which the warehouse
//     connectors pin to UTC.
//
// Values are written as strings (as in HCL) and parsed according to the column's type category:
// integers as base-10 int64, numbers as plain decimals (12, -3.75; no exponent), dates as
// YYYY-MM-DD, timestamps as RFC 3339 or "YYYY-MM-DD HH:MM:SS[.ffffff]" (UTC when no offset is
// given; at most microsecond precision). Columns are matched by their exact, case-sensitive
// introspected name.
package segment

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Match values of a Group.
const (
	// MatchAll requires every condition and sub-group to match (AND).
	MatchAll = "all"
	// MatchAny requires at least one condition or sub-group to match (OR).
	MatchAny = "any"
)

// MaxDepth is the deepest nesting of groups Validate accepts (the top-level group is depth 1).
// It bounds the size of the generated SQL and the recursion of every consumer of the tree.
const MaxDepth = 16

// Group is a node of the condition tree. The catalog stores the top-level Group of a segment as
// JSON, so the field tags are part of the stored format.
type Group struct {
	// Match is MatchAll or MatchAny.
	Match string `json:"match"`
	// Negate selects the rows the group would not select.
	Negate bool `json:"negate,omitempty"`
	// Conditions are tested on the model's columns.
	Conditions []Condition `json:"conditions,omitempty"`
	// Groups are nested groups, combined with the conditions under Match.
	Groups []Group `json:"groups,omitempty"`
}

// Condition tests one column of the model with one operator.
type Condition struct {
	// Column is the exact name of a column of the model.
	Column string `json:"column"`
	// Operator is one of the Op* constants.
	Operator string `json:"operator"`
	// Value is the operand of single-value operators (equals, gt, contains, ...).
	Value *string `json:"value,omitempty"`
	// Values are the operands of list operators (in, not_in) and of between (low, high).
	Values []string `json:"values,omitempty"`
}

// Decode parses a condition tree from its stored JSON form. Unknown fields are rejected, so a
// tree written by a newer dinmo is not silently misread by an older one.
func Decode(data []byte) (Group, error) {
	var g Group
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return Group{}, fmt.Errorf("decode segment conditions: %w", err)
	}
	if dec.More() {
		return Group{}, fmt.Errorf("decode segment conditions: trailing data after the JSON object")
	}
	return g, nil
}

// Encode returns the stored JSON form of a condition tree.
func Encode(g Group) ([]byte, error) {
	data, err := json.Marshal(g)
	if err != nil {
		return nil, fmt.Errorf("encode segment conditions: %w", err)
	}
	return data, nil
}
