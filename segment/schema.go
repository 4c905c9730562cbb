package segment

import (
	"slices"

	"dinmo/connectors/warehouse"
)

// Schema is the graph of models a segment is compiled in: each model's view and fields, the
// relationships between models, their calculated fields and the segments that membership
// conditions may name. The provider fills it from the catalog at plan time and the runner from
// the catalog at run time, so both compile a segment identically.
type Schema struct {
	// Models by name. A Model's Name, when set, must equal its key.
	Models map[string]*Model
	// Segments by name, for membership conditions.
	Segments map[string]SegmentDef
}

// Model is one model of the schema: a relation with a primary key, its introspected columns,
// the relationships leaving it and its calculated fields.
type Model struct {
	// Name is the model's name (the key of Schema.Models); used in messages.
	Name string
	// ViewSchema and View name the relation holding the model's rows. ViewSchema defaults to
	// warehouse.SchemaSegments.
	ViewSchema string
	View       string
	// PrimaryKey is the column identifying a row. It is needed to count distinct related rows
	// through a path that can reach the same row twice (see RelatedCondition).
	PrimaryKey string
	// Columns are the model's introspected columns; the provider may override a column's
	// Category with the field type the user declared.
	Columns []warehouse.Column
	// TimestampColumn is the default field of time windows on this model (events models).
	TimestampColumn string
	// Relationships leave this model towards others.
	Relationships []Relationship
	// Calculated are fields computed from other fields or related models; they are used like
	// columns by conditions.
	Calculated []CalculatedField
}

// Relationship kinds.
const (
	// ManyToOne: each row of this model has at most one related row (orders -> customer).
	ManyToOne = "many_to_one"
	// OneToMany: each row of this model may have many related rows (customer -> orders).
	OneToMany = "one_to_many"
)

// Relationship links a model to another through equal key columns:
// this.FromColumn = target.ToColumn. Relationships are directed: declare both directions to use
// both.
type Relationship struct {
	// Name identifies the relationship within its model; paths use it.
	Name string `json:"name"`
	// To is the name of the target model.
	To string `json:"to"`
	// Kind is ManyToOne or OneToMany.
	Kind string `json:"kind"`
	// FromColumn is a column of this model, ToColumn a column of the target model.
	FromColumn string `json:"from_column"`
	ToColumn   string `json:"to_column"`
}

// Kinds of calculated fields.
const (
	// CalcAggregate aggregates a field over the rows of a related model.
	CalcAggregate = "aggregate"
	// CalcFormula computes arithmetic over fields of the same row.
	CalcFormula = "formula"
)

// Aggregate functions of aggregate calculated fields and aggregate conditions.
const (
	AggCount         = "count"
	AggCountDistinct = "count_distinct"
	AggSum           = "sum"
	AggAvg           = "avg"
	AggMin           = "min"
	AggMax           = "max"
	AggFirst         = "first"
	AggLast          = "last"
)

// CalculatedField is a field of a model computed at query time. It behaves like a column in
// conditions (operators follow its result type) and can be selected with
// Options.IncludeCalculated.
type CalculatedField struct {
	// Name is the field's name; it must not collide with a column of the model.
	Name string `json:"name"`
	// Kind is CalcAggregate or CalcFormula.
	Kind string `json:"kind"`

	// Path, Function, Column, OrderBy, Filter and Window define an aggregate field: Function
	// applied to Column of the rows reached by Path that pass Filter and Window, ordered by
	// OrderBy for first and last. See AggregateCondition.
	Path     []string `json:"path,omitempty"`
	Function string   `json:"function,omitempty"`
	Column   string   `json:"column,omitempty"`
	OrderBy  string   `json:"order_by,omitempty"`
	Filter   *Group   `json:"filter,omitempty"`
	Window   *Window  `json:"window,omitempty"`

	// Expression defines a formula field, in the formula language of this package (see the
	// package documentation).
	Expression string `json:"expression,omitempty"`
}

// AggregateFunctions lists the functions of aggregates, in documentation order, for the
// provider's validators and documentation.
func AggregateFunctions() []string { return slices.Clone(aggFunctions) }

// RelationshipKinds lists the kinds of relationships.
func RelationshipKinds() []string { return []string{ManyToOne, OneToMany} }

// SegmentDef is a segment as membership conditions see it.
type SegmentDef struct {
	// Model is the name of the segment's parent model.
	Model string
	// Tree is the segment's condition tree.
	Tree Group
}

// Units of relative date operators and windows.
const (
	UnitDays   = "days"
	UnitWeeks  = "weeks"
	UnitMonths = "months"
	UnitYears  = "years"
)

// maxAmount bounds N of relative dates per unit: about a thousand years, which every engine's
// date range holds on either side of today.
var maxAmount = map[string]int64{UnitDays: 366000, UnitWeeks: 52200, UnitMonths: 12000, UnitYears: 1000}

// Units lists the units of relative date operators and windows, in documentation order.
func Units() []string { return []string{UnitDays, UnitWeeks, UnitMonths, UnitYears} }
