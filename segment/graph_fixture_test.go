package segment

import (
	"strconv"
	"time"

	"dinmo/connectors/warehouse"
)

// The e-commerce fixture of the graph tests: customers, orders, order lines, products and web
// events, with relationships both ways, calculated fields of every kind and a few segments.
// Names are hostile where they reach SQL (views, columns) to prove quoting end to end.

const (
	mCustomers = "customers"
	mOrders    = "orders"
	mLines     = "order_lines"
	mProducts  = "products"
	mEvents    = "web_events"

	viewCustomers = "model_customers"
	viewOrders    = `model "orders"; --`
	viewLines     = "order lines"
	viewProducts  = "produits ☕"
	viewEvents    = "web_events"

	colAmount = `amount "€"`
	colStatus = "Status"
)

// fixedNow is the reference instant of the execution tests: the last day of a month, so month
// arithmetic clamps (one month before March 31 is February 29 in 2024). It is a Sunday.
var fixedNow = time.Date(2024, 3, 31, 12, 0, 0, 0, time.UTC)

// tableDef is a fixture table: its model, its columns with per-engine types, and its rows
// (values in column order; nil is NULL; decimals as text, dates as YYYY-MM-DD text, timestamps
// as time.Time).
type tableDef struct {
	model   string
	view    string
	columns []fixtureColumn
	rows    [][]any
}

type fixtureColumn struct {
	name     string
	cat      warehouse.TypeCategory
	pg, duck string
}

func tsp(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

var graphTables = []tableDef{
	{
		model: mCustomers, view: viewCustomers,
		columns: []fixtureColumn{
			{"id", warehouse.TypeInteger, "bigint", "BIGINT"},
			{"name", warehouse.TypeString, "text", "VARCHAR"},
			{"email", warehouse.TypeString, "text", "VARCHAR"},
			{"country", warehouse.TypeString, "text", "VARCHAR"},
			{"birth_date", warehouse.TypeDate, "date", "DATE"},
			{"signup_at", warehouse.TypeTimestamp, "timestamptz", "TIMESTAMPTZ"},
			{"vip", warehouse.TypeBoolean, "boolean", "BOOLEAN"},
			{"credit", warehouse.TypeNumber, "numeric(12,2)", "DECIMAL(12,2)"},
		},
		rows: [][]any{
			{int64(1), "Ana", "ana@x.fr", "FR", "1990-03-31", tsp("2024-03-31T12:00:00Z"), true, "100.50"},
			{int64(2), "Ben", "ben@x.de", "DE", "2024-02-29", tsp("2024-03-01T12:00:00Z"), false, "0"},
			{int64(3), "Cleo", nil, "FR", "2024-02-28", tsp("2024-03-01T11:59:59.999999Z"), nil, nil},
			{int64(4), "Dan", "dan@x.us", "US", nil, tsp("2024-02-29T12:00:00Z"), true, "-20.25"},
			{int64(5), "Eve", "eve@x.fr", nil, "2025-03-31", tsp("2024-02-29T11:59:59.999999Z"), false, "5"},
			{int64(6), "Finn", "finn@x.ie", "IE", "2023-03-31", tsp("2023-03-31T12:00:00Z"), nil, "7.75"},
			{int64(7), "Gus", "gus@x.fr", "FR", "2023-03-30", tsp("2024-04-01T00:00:00Z"), true, "0.01"},
			{int64(8), "Hana", "hana@x.jp", "JP", "2000-01-01", nil, false, "1000"},
			{int64(9), nil, nil, nil, nil, nil, nil, nil},
			{int64(10), "Jo", "jo@x.fr", "FR", "1985-12-25", tsp("2024-03-31T12:00:00.000001Z"), true, "50"},
			{int64(11), "Kai", "kai@x.de", "DE", "1999-07-04", tsp("2024-03-25T08:00:00Z"), false, "12.5"},
			{int64(12), "Lea", "lea@x.fr", "FR", "2024-03-31", tsp("2024-03-30T23:59:59Z"), true, "3"},
		},
	},
	{
		model: mOrders, view: viewOrders,
		columns: []fixtureColumn{
			{"id", warehouse.TypeInteger, "bigint", "BIGINT"},
			{"customer_id", warehouse.TypeInteger, "bigint", "BIGINT"},
			{"ordered_at", warehouse.TypeTimestamp, "timestamptz", "TIMESTAMPTZ"},
			{colStatus, warehouse.TypeString, "text", "VARCHAR"},
			{colAmount, warehouse.TypeNumber, "numeric(12,2)", "DECIMAL(12,2)"},
			{"discount", warehouse.TypeNumber, "numeric(12,2)", "DECIMAL(12,2)"},
		},
		rows: [][]any{
			{int64(101), int64(1), tsp("2024-03-31T12:00:00Z"), "paid", "120.00", "10.00"},
			{int64(102), int64(1), tsp("2024-03-01T12:00:00Z"), "paid", "30.00", nil},
			{int64(103), int64(1), tsp("2024-01-15T09:00:00Z"), "refunded", "45.00", "0"},
			{int64(104), int64(2), tsp("2024-03-01T11:59:59.999999Z"), "paid", "200.00", "20.00"},
			{int64(105), int64(2), tsp("2024-02-29T12:00:00Z"), "pending", "15.00", nil},
			{int64(106), int64(3), tsp("2024-02-29T11:59:59.999999Z"), "paid", "0.00", nil},
			{int64(107), int64(4), tsp("2024-04-01T00:00:00Z"), "paid", "60.00", "60.00"},
			{int64(108), int64(4), tsp("2023-06-10T10:00:00Z"), "paid", "40.00", nil},
			{int64(109), int64(4), tsp("2023-06-11T10:00:00Z"), "cancelled", "0", nil},
			{int64(110), int64(6), tsp("2024-03-20T15:30:00Z"), "paid", "99.99", "0"},
			{int64(111), int64(7), tsp("2024-03-10T08:00:00Z"), nil, "10.00", nil},
			{int64(112), int64(8), tsp("2024-03-30T10:00:00Z"), "paid", "500.00", "50.00"},
			{int64(113), int64(8), tsp("2024-03-29T10:00:00Z"), "paid", "300.00", nil},
			{int64(114), int64(8), tsp("2024-03-28T10:00:00Z"), "paid", "250.00", nil},
			{int64(115), int64(10), nil, "paid", "25.00", nil},
			{int64(116), int64(11), tsp("2024-03-25T08:00:00Z"), "paid", nil, nil},
			{int64(117), int64(11), tsp("2024-03-26T08:00:00Z"), "pending", "70.00", "5.00"},
			{int64(118), int64(12), tsp("2024-03-31T11:59:59Z"), "paid", "15.50", nil},
			{int64(119), nil, tsp("2024-03-15T00:00:00Z"), "paid", "999.00", nil},
			{int64(120), int64(99), tsp("2024-03-15T00:00:00Z"), "paid", "5.00", nil},
		},
	},
	{
		model: mLines, view: viewLines,
		columns: []fixtureColumn{
			{"id", warehouse.TypeInteger, "bigint", "BIGINT"},
			{"order_id", warehouse.TypeInteger, "bigint", "BIGINT"},
			{"product_id", warehouse.TypeInteger, "bigint", "BIGINT"},
			{"quantity", warehouse.TypeInteger, "integer", "INTEGER"},
			{"unit_price", warehouse.TypeNumber, "numeric(12,2)", "DECIMAL(12,2)"},
		},
		rows: [][]any{
			{int64(1001), int64(101), int64(1), int64(2), "20.00"},
			{int64(1002), int64(101), int64(2), int64(1), "80.00"},
			{int64(1003), int64(102), int64(3), int64(3), "8.50"},
			{int64(1004), int64(103), int64(4), int64(1), "45.00"},
			{int64(1005), int64(104), int64(2), int64(2), "80.00"},
			{int64(1006), int64(104), int64(5), int64(1), "25.00"},
			{int64(1007), int64(105), int64(3), int64(1), "8.50"},
			{int64(1008), int64(106), int64(5), nil, nil},
			{int64(1009), int64(107), int64(1), int64(3), "20.00"},
			{int64(1010), int64(108), int64(4), int64(1), "40.00"},
			{int64(1011), int64(110), int64(2), int64(1), "80.00"},
			{int64(1012), int64(110), int64(1), int64(1), "20.00"},
			{int64(1013), int64(112), int64(4), int64(5), "45.00"},
			{int64(1014), int64(112), int64(3), int64(2), "8.50"},
			{int64(1015), int64(113), int64(4), int64(4), "45.00"},
			{int64(1016), int64(114), int64(2), int64(3), "80.00"},
			{int64(1017), int64(116), nil, int64(1), "10.00"},
			{int64(1018), int64(117), int64(1), int64(2), "20.00"},
			{int64(1019), int64(117), int64(1), int64(1), "20.00"},
			{int64(1020), int64(118), int64(3), int64(1), "8.50"},
			{int64(1021), int64(119), int64(2), int64(1), "80.00"},
			{int64(1022), int64(101), int64(3), int64(1), "8.50"},
		},
	},
	{
		model: mProducts, view: viewProducts,
		columns: []fixtureColumn{
			{"id", warehouse.TypeInteger, "bigint", "BIGINT"},
			{"name", warehouse.TypeString, "text", "VARCHAR"},
			{"category", warehouse.TypeString, "text", "VARCHAR"},
			{"price", warehouse.TypeNumber, "numeric(12,2)", "DECIMAL(12,2)"},
			{"launched_on", warehouse.TypeDate, "date", "DATE"},
		},
		rows: [][]any{
			{int64(1), "Shirt", "apparel", "20.00", "2024-03-01"},
			{int64(2), "Shoes", "apparel", "80.00", "2023-11-15"},
			{int64(3), "Mug", "home", "8.50", "2024-02-29"},
			{int64(4), "Lamp", "home", "45.00", "2022-06-01"},
			{int64(5), "Gift card", nil, "25.00", nil},
			{int64(6), "Poster", "art", "12.00", "2024-03-31"},
		},
	},
	{
		model: mEvents, view: viewEvents,
		columns: []fixtureColumn{
			{"id", warehouse.TypeInteger, "bigint", "BIGINT"},
			{"customer_id", warehouse.TypeInteger, "bigint", "BIGINT"},
			{"event_type", warehouse.TypeString, "text", "VARCHAR"},
			{"occurred_at", warehouse.TypeTimestamp, "timestamptz", "TIMESTAMPTZ"},
			{"url", warehouse.TypeString, "text", "VARCHAR"},
		},
		rows: [][]any{
			{int64(1), int64(1), "page_view", tsp("2024-03-31T12:00:00Z"), "/home"},
			{int64(2), int64(1), "add_to_cart", tsp("2024-03-30T10:00:00Z"), "/cart"},
			{int64(3), int64(2), "page_view", tsp("2024-03-24T12:00:00Z"), "/home"},
			{int64(4), int64(2), "page_view", tsp("2024-03-24T11:59:59.999999Z"), "/home"},
			{int64(5), int64(3), "purchase", tsp("2024-03-31T11:00:00Z"), "/checkout"},
			{int64(6), int64(4), "page_view", tsp("2023-12-31T23:59:59Z"), "/home"},
			{int64(7), int64(6), "add_to_cart", tsp("2024-03-31T12:00:00.000001Z"), "/cart"},
			{int64(8), int64(7), "page_view", nil, "/home"},
			{int64(9), int64(8), "page_view", tsp("2024-03-29T00:00:00Z"), "/sale"},
			{int64(10), int64(8), "page_view", tsp("2024-03-29T01:00:00Z"), "/sale"},
			{int64(11), int64(8), "page_view", tsp("2024-03-29T02:00:00Z"), "/sale"},
			{int64(12), int64(11), "add_to_cart", tsp("2024-03-25T08:00:00Z"), "/cart"},
			{int64(13), int64(12), "page_view", tsp("2024-03-31T00:00:00Z"), "/home"},
		},
	},
}

func i64(n int64) *int64 { return &n }

func tableColumns(t tableDef) []warehouse.Column {
	cols := make([]warehouse.Column, len(t.columns))
	for i, c := range t.columns {
		cols[i] = warehouse.Column{Name: c.name, DatabaseType: c.pg, Category: c.cat}
	}
	return cols
}

// graphSchema returns a fresh copy of the fixture's schema (tests may modify it).
func graphSchema() *Schema {
	paid := all(cond(colStatus, OpEquals, "paid"))
	models := map[string]*Model{
		mCustomers: {
			Name: mCustomers, View: viewCustomers, PrimaryKey: "id",
			Relationships: []Relationship{
				{Name: "orders", To: mOrders, Kind: OneToMany, FromColumn: "id", ToColumn: "customer_id"},
				{Name: "events", To: mEvents, Kind: OneToMany, FromColumn: "id", ToColumn: "customer_id"},
			},
			Calculated: []CalculatedField{
				{Name: "order_count", Kind: CalcAggregate, Path: []string{"orders"}, Function: AggCount},
				{Name: "paid_total", Kind: CalcAggregate, Path: []string{"orders"}, Function: AggSum, Column: colAmount, Filter: &paid},
				{Name: "last_order_at", Kind: CalcAggregate, Path: []string{"orders"}, Function: AggMax, Column: "ordered_at"},
				{Name: "first_status", Kind: CalcAggregate, Path: []string{"orders"}, Function: AggFirst, Column: colStatus, OrderBy: "ordered_at"},
				{Name: "last_status", Kind: CalcAggregate, Path: []string{"orders"}, Function: AggLast, Column: colStatus, OrderBy: "ordered_at"},
				{Name: "recent_spend", Kind: CalcAggregate, Path: []string{"orders"}, Function: AggSum, Column: colAmount, Window: &Window{Last: i64(30), Unit: UnitDays}},
				{Name: "product_count", Kind: CalcAggregate, Path: []string{"orders", "lines", "product"}, Function: AggCountDistinct, Column: "id"},
				{Name: "avg_line_qty", Kind: CalcAggregate, Path: []string{"orders", "lines"}, Function: AggAvg, Column: "quantity"},
				{Name: "max_order_lines", Kind: CalcAggregate, Path: []string{"orders"}, Function: AggMax, Column: "line_count"},
				{Name: "avg_basket", Kind: CalcFormula, Expression: "paid_total / order_count"},
				{Name: "credit_double", Kind: CalcFormula, Expression: "credit * 2 + -1"},
				{Name: "credit_or_zero", Kind: CalcFormula, Expression: "COALESCE(credit, 0) - (order_count - 1)"},
			},
		},
		mOrders: {
			Name: mOrders, View: viewOrders, PrimaryKey: "id", TimestampColumn: "ordered_at",
			Relationships: []Relationship{
				{Name: "customer", To: mCustomers, Kind: ManyToOne, FromColumn: "customer_id", ToColumn: "id"},
				{Name: "lines", To: mLines, Kind: OneToMany, FromColumn: "id", ToColumn: "order_id"},
			},
			Calculated: []CalculatedField{
				{Name: "line_count", Kind: CalcAggregate, Path: []string{"lines"}, Function: AggCount},
				{Name: "net", Kind: CalcFormula, Expression: `"amount ""€""" - coalesce(discount, 0)`},
				{Name: "items", Kind: CalcAggregate, Path: []string{"lines"}, Function: AggSum, Column: "quantity"},
			},
		},
		mLines: {
			Name: mLines, View: viewLines, PrimaryKey: "id",
			Relationships: []Relationship{
				{Name: "order", To: mOrders, Kind: ManyToOne, FromColumn: "order_id", ToColumn: "id"},
				{Name: "product", To: mProducts, Kind: ManyToOne, FromColumn: "product_id", ToColumn: "id"},
			},
		},
		mProducts: {
			Name: mProducts, View: viewProducts, PrimaryKey: "id",
			Relationships: []Relationship{
				{Name: "lines", To: mLines, Kind: OneToMany, FromColumn: "id", ToColumn: "product_id"},
			},
			Calculated: []CalculatedField{
				{Name: "units_sold", Kind: CalcAggregate, Path: []string{"lines"}, Function: AggSum, Column: "quantity"},
			},
		},
		mEvents: {
			Name: mEvents, View: viewEvents, PrimaryKey: "id", TimestampColumn: "occurred_at",
			Relationships: []Relationship{
				{Name: "customer", To: mCustomers, Kind: ManyToOne, FromColumn: "customer_id", ToColumn: "id"},
			},
		},
	}
	for _, t := range graphTables {
		models[t.model].Columns = tableColumns(t)
	}
	return &Schema{
		Models: models,
		Segments: map[string]SegmentDef{
			"fr":         {Model: mCustomers, Tree: all(cond("country", OpEquals, "FR"))},
			"big":        {Model: mCustomers, Tree: all(cond("paid_total", OpGTE, "100"))},
			"fr_big":     {Model: mCustomers, Tree: all_(member("fr", false), member("big", false))},
			"everyone":   {Model: mCustomers, Tree: Group{Match: MatchAny}},
			"big_orders": {Model: mOrders, Tree: all(cond(colAmount, OpGTE, "100"))},
		},
	}
}

func member(name string, exclude bool) MembershipCondition {
	return MembershipCondition{Segment: name, Exclude: exclude}
}

func related(quant string, n *int64, filter *Group, w *Window, path ...string) RelatedCondition {
	return RelatedCondition{Path: path, Quantifier: quant, Count: n, Filter: filter, Window: w}
}

func aggCond(fn, column string, op string, values ...string) AggregateCondition {
	a := AggregateCondition{Path: []string{"orders"}, Function: fn, Column: column, Operator: op}
	switch {
	case len(values) == 1:
		a.Value = &values[0]
	case len(values) > 1:
		a.Values = values
	}
	return a
}

func gp(g Group) *Group { return &g }

func last(n int64, unit string) *Window { return &Window{Last: i64(n), Unit: unit} }

// relative returns a relative date condition: column op N unit.
func relative(column, op string, n int64, unit string) Condition {
	v := strconv.FormatInt(n, 10)
	return Condition{Column: column, Operator: op, Value: &v, Unit: unit}
}
