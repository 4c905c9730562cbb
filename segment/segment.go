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

// MaxDepth is the deepest nesting of groups Validate accepts (the top-level group is depth 1; a
// filter of a related-model or aggregate condition counts as one level below its group). It
// bounds the size of the generated SQL and the recursion of every consumer of the tree.
const MaxDepth = 16

// Group is a node of the condition tree. The catalog stores the top-level Group of a segment as
// JSON, so the field tags are part of the stored format. Fields added after the first release
// are all omitted when empty, so a tree that does not use them encodes exactly as before.
type Group struct {
	// Match is MatchAll or MatchAny.
	Match string `json:"match"`
	// Negate selects the rows the group would not select.
	Negate bool `json:"negate,omitempty"`
	// Conditions are tested on the model's fields (columns and calculated fields).
	Conditions []Condition `json:"conditions,omitempty"`
	// Groups are nested groups, combined with the conditions under Match.
	Groups []Group `json:"groups,omitempty"`
	// Related test the rows of a related model reached through relationships.
	Related []RelatedCondition `json:"related,omitempty"`
	// Aggregates compare an aggregate of a related model's rows with a value.
	Aggregates []AggregateCondition `json:"aggregates,omitempty"`
	// Memberships test whether the row belongs to another segment of the same model.
	Memberships []MembershipCondition `json:"memberships,omitempty"`
}

// empty reports whether the group has nothing to test.
func (g Group) empty() bool {
	return len(g.Conditions) == 0 && len(g.Groups) == 0 && len(g.Related) == 0 &&
		len(g.Aggregates) == 0 && len(g.Memberships) == 0
}

// Condition tests one field of the model with one operator.
type Condition struct {
	// Column is the exact name of a column or calculated field of the model.
	Column string `json:"column"`
	// Operator is one of the Op* constants.
	Operator string `json:"operator"`
	// Value is the operand of single-value operators (equals, gt, contains, ...) and the count
	// N of relative date operators (in_last, in_next, more_than_ago).
	Value *string `json:"value,omitempty"`
	// Values are the operands of list operators (in, not_in, on_weekday, in_month) and of
	// between (low, high).
	Values []string `json:"values,omitempty"`
	// Unit is the unit of relative date operators: one of the Unit* constants.
	Unit string `json:"unit,omitempty"`
}

// Quantifiers of related-model conditions.
const (
	// QuantExists matches rows with at least one related row passing the filter and window.
	QuantExists = "exists"
	// QuantNotExists matches rows with no such related row.
	QuantNotExists = "not_exists"
	// QuantCountAtLeast matches rows with at least Count such related rows.
	QuantCountAtLeast = "count_at_least"
	// QuantCountAtMost matches rows with at most Count such related rows (zero included).
	QuantCountAtMost = "count_at_most"
	// QuantCountExactly matches rows with exactly Count such related rows.
	QuantCountExactly = "count_exactly"
)

// Quantifiers lists the quantifiers of related-model conditions, in documentation order.
func Quantifiers() []string {
	return []string{QuantExists, QuantNotExists, QuantCountAtLeast, QuantCountAtMost, QuantCountExactly}
}

// RelatedCondition tests the rows of a model reached from the segment's model by following
// relationships ("customers with at least 2 paid orders in the last 30 days").
type RelatedCondition struct {
	// Path names the relationships to follow, from the model of the enclosing group; the last
	// one leads to the related model the filter, window and count apply to.
	Path []string `json:"path"`
	// Quantifier is one of the Quant* constants.
	Quantifier string `json:"quantifier"`
	// Count is N of the count_* quantifiers (0 or more); it must be absent for the others.
	Count *int64 `json:"count,omitempty"`
	// Filter restricts the related rows; it is a top-level group on the related model (empty
	// means every related row) and may itself hold related-model conditions, to any depth.
	Filter *Group `json:"filter,omitempty"`
	// Window restricts the related rows to a time window on the related model's timestamp.
	Window *Window `json:"window,omitempty"`
}

// AggregateCondition compares an aggregate over the rows of a related model with a value
// ("total of paid orders gte 100", "last order in the last 30 days"). It is an attribute
// condition on an unnamed aggregate calculated field, so its operator and operands follow the
// aggregate's result type exactly as for a column of that type.
type AggregateCondition struct {
	// Path names the relationships to follow, as in RelatedCondition.
	Path []string `json:"path"`
	// Function is one of the Agg* constants.
	Function string `json:"function"`
	// Column is the field of the related model aggregated; not used by count without a column
	// (which counts rows).
	Column string `json:"column,omitempty"`
	// OrderBy is the field ordering the rows for first and last.
	OrderBy string `json:"order_by,omitempty"`
	// Filter and Window restrict the aggregated rows, as in RelatedCondition.
	Filter *Group  `json:"filter,omitempty"`
	Window *Window `json:"window,omitempty"`
	// Operator, Value, Values and Unit compare the aggregate, as in Condition.
	Operator string   `json:"operator"`
	Value    *string  `json:"value,omitempty"`
	Values   []string `json:"values,omitempty"`
	Unit     string   `json:"unit,omitempty"`
}

// MembershipCondition tests whether the row belongs to another segment of the same model.
type MembershipCondition struct {
	// Segment is the name of the other segment (a key of Schema.Segments).
	Segment string `json:"segment"`
	// Exclude selects the rows that are not members instead of those that are.
	Exclude bool `json:"exclude,omitempty"`
}

// Window restricts related rows to a period of time, tested on a date or timestamp field of the
// related model. Exactly one form is used: Last and Unit ("in the last 30 days", up to the
// current instant included), or From and/or To (a fixed period, both bounds included; a date as
// To includes that whole day).
type Window struct {
	// Column is the date or timestamp field tested; empty means the related model's
	// TimestampColumn.
	Column string `json:"column,omitempty"`
	// Last is N of "in the last N units" (0 or more).
	Last *int64 `json:"last,omitempty"`
	// Unit is one of the Unit* constants, used with Last.
	Unit string `json:"unit,omitempty"`
	// From and To bound a fixed period: a date (YYYY-MM-DD) or, on timestamp fields, a
	// timestamp. Either may be empty for an open-ended period.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
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
