package segment

import (
	"slices"

	"dinmo/connectors/warehouse"
)

// Operators of attribute conditions, as users write them.
const (
	OpEquals      = "equals"
	OpNotEquals   = "not_equals"
	OpIn          = "in"
	OpNotIn       = "not_in"
	OpContains    = "contains"
	OpNotContains = "not_contains"
	OpStartsWith  = "starts_with"
	OpEndsWith    = "ends_with"
	OpGT          = "gt"
	OpGTE         = "gte"
	OpLT          = "lt"
	OpLTE         = "lte"
	OpBetween     = "between"
	OpBefore      = "before"
	OpAfter       = "after"
	OpInLast      = "in_last"
	OpInNext      = "in_next"
	OpMoreThanAgo = "more_than_ago"
	OpOnWeekday   = "on_weekday"
	OpInMonth     = "in_month"
	OpIsTrue      = "is_true"
	OpIsFalse     = "is_false"
	OpIsNull      = "is_null"
	OpIsNotNull   = "is_not_null"
)

// Arity says which operand fields an operator uses.
type Arity int

// Arities of operators.
const (
	// NoValue: neither value nor values may be set.
	NoValue Arity = iota
	// OneValue: value must be set, values must not.
	OneValue
	// ValueList: values must hold at least one value, value must not be set.
	ValueList
	// ValueRange: values must hold exactly two values, low then high (low <= high).
	ValueRange
	// AmountUnit: value holds a whole number N (0 or more) and unit one of the Unit* constants;
	// values must not be set.
	AmountUnit
)

// String names the arity the way documentation and error messages do.
func (a Arity) String() string {
	switch a {
	case NoValue:
		return "no value"
	case OneValue:
		return "one value"
	case ValueList:
		return "a list of values"
	case ValueRange:
		return "two values (low, high)"
	case AmountUnit:
		return "a count in value and a unit"
	default:
		return "unknown arity"
	}
}

// OperatorInfo documents one operator: the column type categories it applies to and the
// operands it takes. The provider renders this table into its documentation and validators.
type OperatorInfo struct {
	Name       string
	Arity      Arity
	Categories []warehouse.TypeCategory
	// Description is one Markdown sentence stating the operator's meaning, NULLs included.
	Description string
}

// AppliesTo reports whether the operator may be used on a column of category c.
func (o OperatorInfo) AppliesTo(c warehouse.TypeCategory) bool {
	return slices.Contains(o.Categories, c)
}

var (
	catComparable = []warehouse.TypeCategory{warehouse.TypeString, warehouse.TypeInteger, warehouse.TypeNumber, warehouse.TypeDate, warehouse.TypeTimestamp}
	catOrdered    = []warehouse.TypeCategory{warehouse.TypeInteger, warehouse.TypeNumber, warehouse.TypeDate, warehouse.TypeTimestamp}
	catDated      = []warehouse.TypeCategory{warehouse.TypeDate, warehouse.TypeTimestamp}
	catString     = []warehouse.TypeCategory{warehouse.TypeString}
	catBoolean    = []warehouse.TypeCategory{warehouse.TypeBoolean}
	catAll        = []warehouse.TypeCategory{warehouse.TypeString, warehouse.TypeInteger, warehouse.TypeNumber, warehouse.TypeBoolean, warehouse.TypeDate, warehouse.TypeTimestamp, warehouse.TypeOther}
)

// operatorTable is in documentation order.
var operatorTable = []OperatorInfo{
	{OpEquals, OneValue, catComparable, "The column equals `value` (strings compare case-sensitively). Rows where the column is NULL do not match."},
	{OpNotEquals, OneValue, catComparable, "The column is NULL or differs from `value`: the complement of `equals`."},
	{OpIn, ValueList, catComparable, "The column equals one of `values` (at least one). Rows where the column is NULL do not match."},
	{OpNotIn, ValueList, catComparable, "The column is NULL or equals none of `values`: the complement of `in`."},
	{OpContains, OneValue, catString, "The column's text contains `value` literally and case-sensitively (`%`, `_` and `\\` are not wildcards). Rows where the column is NULL do not match."},
	{OpNotContains, OneValue, catString, "The column is NULL or does not contain `value`: the complement of `contains`."},
	{OpStartsWith, OneValue, catString, "The column's text starts with `value`, literally and case-sensitively. Rows where the column is NULL do not match."},
	{OpEndsWith, OneValue, catString, "The column's text ends with `value`, literally and case-sensitively. Rows where the column is NULL do not match."},
	{OpGT, OneValue, catOrdered, "The column is greater than `value`. Rows where the column is NULL do not match."},
	{OpGTE, OneValue, catOrdered, "The column is greater than or equal to `value`. Rows where the column is NULL do not match."},
	{OpLT, OneValue, catOrdered, "The column is less than `value`. Rows where the column is NULL do not match."},
	{OpLTE, OneValue, catOrdered, "The column is less than or equal to `value`. Rows where the column is NULL do not match."},
	{OpBetween, ValueRange, catOrdered, "The column is between `values[0]` and `values[1]`, both included (the first must not be greater than the second). Rows where the column is NULL do not match."},
	{OpBefore, OneValue, catDated, "The date or timestamp is strictly before `value` (the same as `lt`). Rows where it is NULL do not match."},
	{OpAfter, OneValue, catDated, "The date or timestamp is strictly after `value` (the same as `gt`). Rows where it is NULL do not match."},
	{OpInLast, AmountUnit, catDated, "The timestamp is between the current instant minus `value` `unit`s and the current instant, both included (for a date: between today minus `value` `unit`s and today). Relative dates are computed in UTC. Rows where it is NULL do not match."},
	{OpInNext, AmountUnit, catDated, "The timestamp is between the current instant and the current instant plus `value` `unit`s, both included (for a date: between today and today plus `value` `unit`s). Rows where it is NULL do not match."},
	{OpMoreThanAgo, AmountUnit, catDated, "The timestamp is strictly before the current instant minus `value` `unit`s (for a date: before today minus `value` `unit`s), the complement of `in_last` for past values. Rows where it is NULL do not match."},
	{OpOnWeekday, ValueList, catDated, "The day of the week, in UTC, is one of `values` (`mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun`). Rows where it is NULL do not match."},
	{OpInMonth, ValueList, catDated, "The month, in UTC, is one of `values` (1 for January to 12 for December). Rows where it is NULL do not match."},
	{OpIsTrue, NoValue, catBoolean, "The column is true (NULL does not match)."},
	{OpIsFalse, NoValue, catBoolean, "The column is false (NULL does not match)."},
	{OpIsNull, NoValue, catAll, "The column is NULL."},
	{OpIsNotNull, NoValue, catAll, "The column is not NULL."},
}

// Operators returns the operator table in documentation order. The result is a copy the caller
// may keep or modify.
func Operators() []OperatorInfo {
	out := make([]OperatorInfo, len(operatorTable))
	for i, o := range operatorTable {
		o.Categories = slices.Clone(o.Categories)
		out[i] = o
	}
	return out
}

// LookupOperator returns the description of the named operator.
func LookupOperator(name string) (OperatorInfo, bool) {
	for _, o := range operatorTable {
		if o.Name == name {
			o.Categories = slices.Clone(o.Categories)
			return o, true
		}
	}
	return OperatorInfo{}, false
}

// OperatorsFor returns the names of the operators that apply to columns of category c, in
// documentation order. An unknown category is treated as warehouse.TypeOther.
func OperatorsFor(c warehouse.TypeCategory) []string {
	c = normalizeCategory(c)
	var names []string
	for _, o := range operatorTable {
		if o.AppliesTo(c) {
			names = append(names, o.Name)
		}
	}
	return names
}

// normalizeCategory maps categories this package does not know to TypeOther, so a column from a
// newer connector can still be tested for NULL but never compared with a mis-typed literal.
func normalizeCategory(c warehouse.TypeCategory) warehouse.TypeCategory {
	switch c {
	case warehouse.TypeString, warehouse.TypeInteger, warehouse.TypeNumber, warehouse.TypeBoolean,
		warehouse.TypeDate, warehouse.TypeTimestamp:
		return c
	default:
		return warehouse.TypeOther
	}
}
