// Package demodata generates the demo's e-commerce dataset in a DuckDB warehouse (customers,
// orders, products, order lines and web events, deterministic for a given seed) and the known
// changes applied between two runs.
//
// Customers and orders come from the seed's first random stream, exactly as before products,
// order lines and web events were added; those come from a second stream, so adding them did not
// change a single customer or order (nor the quickstart's results).
package demodata

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"dinmo/connectors/warehouse"
	"dinmo/connectors/warehouse/duckdb"
)

// Stats counts what Seed wrote.
type Stats struct {
	Customers  int
	Orders     int
	Products   int
	OrderLines int
	WebEvents  int
}

// Changes counts what Mutate changed.
type Changes struct {
	Inserted     int // new customers that qualify for the segment
	Updated      int // members whose city (a mapped field) changed
	Unsubscribed int // members who left the segment by unsubscribing
	Deleted      int // members deleted from the warehouse
	Untouched    int // non-members whose unmapped last name changed
}

var (
	countries  = []string{"FR", "DE", "ES", "IT", "GB", "US", "NL", "BE"}
	cities     = map[string][]string{"FR": {"Paris", "Lyon", "Lille", "Nantes"}, "DE": {"Berlin", "Hamburg", "Munich"}, "ES": {"Madrid", "Sevilla", "Valencia"}, "IT": {"Roma", "Milano"}, "GB": {"London", "Leeds"}, "US": {"Boston", "Austin"}, "NL": {"Utrecht"}, "BE": {"Gent"}}
	firstNames = []string{"Alice", "Bruno", "Chloé", "David", "Emma", "Farid", "Gaëlle", "Hugo", "Inès", "Jules", "Katia", "Louis", "Maya", "Nora", "Oscar", "Paula"}
	lastNames  = []string{"Martin", "Bernard", "Dubois", "Müller", "García", "Rossi", "Smith", "Jansen", "Peeters", "Lefèvre", "Moreau", "Schmidt"}
	epoch      = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
)

func open(ctx context.Context, path string) (warehouse.Warehouse, error) {
	return duckdb.New().Open(ctx, warehouse.Config{Settings: map[string]any{"path": path}}, nil)
}

// Seed (re)creates main.customers and main.orders with n customers.
func Seed(ctx context.Context, path string, n int, seed uint64) (Stats, error) {
	if n < 100 {
		return Stats{}, fmt.Errorf("need at least 100 customers, got %d", n)
	}
	w, err := open(ctx, path)
	if err != nil {
		return Stats{}, err
	}
	defer w.Close()
	db := w.DB()
	for _, q := range []string{
		`DROP TABLE IF EXISTS main.web_events`,
		`DROP TABLE IF EXISTS main.order_lines`,
		`DROP TABLE IF EXISTS main.products`,
		`DROP TABLE IF EXISTS main.orders`,
		`DROP TABLE IF EXISTS main.customers`,
		`CREATE TABLE main.customers (customer_id BIGINT PRIMARY KEY, email VARCHAR NOT NULL, first_name VARCHAR, last_name VARCHAR,
			country VARCHAR, city VARCHAR, is_subscribed BOOLEAN NOT NULL, signed_up_at TIMESTAMP NOT NULL)`,
		`CREATE TABLE main.orders (order_id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, ordered_at TIMESTAMP NOT NULL,
			amount DECIMAL(10,2) NOT NULL, status VARCHAR NOT NULL)`,
		`CREATE TABLE main.products (product_id BIGINT PRIMARY KEY, name VARCHAR NOT NULL, category VARCHAR NOT NULL,
			price DECIMAL(10,2) NOT NULL)`,
		`CREATE TABLE main.order_lines (line_id BIGINT PRIMARY KEY, order_id BIGINT NOT NULL, product_id BIGINT NOT NULL,
			quantity INTEGER NOT NULL, unit_price DECIMAL(10,2) NOT NULL)`,
		`CREATE TABLE main.web_events (event_id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, event_type VARCHAR NOT NULL,
			page VARCHAR, occurred_at TIMESTAMP NOT NULL)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return Stats{}, fmt.Errorf("seed: %w", err)
		}
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) //nolint:gosec // G404: deterministic demo data
	var st Stats
	var cust, ord [][]any
	orderID := int64(1)
	for id := int64(1); id <= int64(n); id++ {
		cust = append(cust, customerRow(r, id, pick(r, countries), r.IntN(10) < 6))
		for k := r.IntN(6); k > 0; k-- {
			ord = append(ord, orderRow(r, orderID, id))
			orderID++
		}
	}
	if err := insertRows(ctx, db, "main.customers", 8, cust); err != nil {
		return Stats{}, err
	}
	if err := insertRows(ctx, db, "main.orders", 5, ord); err != nil {
		return Stats{}, err
	}
	st.Customers, st.Orders = len(cust), len(ord)
	prods, lines, events := catalogRows(seed, ord, n)
	for _, t := range []struct {
		table string
		cols  int
		rows  [][]any
	}{{"main.products", 4, prods}, {"main.order_lines", 5, lines}, {"main.web_events", 5, events}} {
		if err := insertRows(ctx, db, t.table, t.cols, t.rows); err != nil {
			return Stats{}, err
		}
	}
	st.Products, st.OrderLines, st.WebEvents = len(prods), len(lines), len(events)
	return st, nil
}

var (
	productCategories = []string{"shoes", "apparel", "accessories", "outdoor", "beauty"}
	productWords      = []string{"Classic", "Trail", "Urban", "Soft", "Pro", "Light", "Everyday", "Premium"}
	eventTypes        = []string{"page_view", "page_view", "page_view", "product_view", "add_to_cart", "checkout"}
	pages             = []string{"/", "/new", "/sale", "/shoes", "/apparel", "/accessories", "/cart"}
)

// catalogRows generates products, order lines (1 to 4 per order, dated by their order) and web
// events (0 to 8 per customer) from a random stream of their own.
func catalogRows(seed uint64, orders [][]any, customers int) (prods, lines, events [][]any) {
	r := rand.New(rand.NewPCG(seed^0x5851f42d4c957f2d, seed+0x14057b7ef767814f)) //nolint:gosec // G404: deterministic demo data
	const nProducts = 40
	for id := int64(1); id <= nProducts; id++ {
		cat := productCategories[int(id)%len(productCategories)]
		cents := 990 + r.IntN(15000)
		prods = append(prods, []any{id, fmt.Sprintf("%s %s %d", pick(r, productWords), cat, id), cat, fmt.Sprintf("%d.%02d", cents/100, cents%100)})
	}
	lineID := int64(1)
	for _, o := range orders {
		for k := 1 + r.IntN(4); k > 0; k-- {
			p := prods[r.IntN(nProducts)]
			lines = append(lines, []any{lineID, o[0], p[0], 1 + r.IntN(3), p[3]})
			lineID++
		}
	}
	eventID := int64(1)
	for c := int64(1); c <= int64(customers); c++ {
		for k := r.IntN(9); k > 0; k-- {
			events = append(events, []any{eventID, c, pick(r, eventTypes), pick(r, pages),
				epoch.Add(time.Duration(r.IntN(700*24*60)) * time.Minute)})
			eventID++
		}
	}
	return prods, lines, events
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func customerRow(r *rand.Rand, id int64, country string, subscribed bool) []any {
	first, last := pick(r, firstNames), pick(r, lastNames)
	email := fmt.Sprintf("%s.%s.%d@example.com", strings.ToLower(asciiOnly(first)), strings.ToLower(asciiOnly(last)), id)
	signed := epoch.Add(time.Duration(r.IntN(600*24)) * time.Hour)
	return []any{id, email, first, last, country, pick(r, cities[country]), subscribed, signed}
}

func orderRow(r *rand.Rand, orderID, customerID int64) []any {
	status := "completed"
	if r.IntN(10) == 0 {
		status = "refunded"
	}
	cents := 1500 + r.IntN(25000)
	return []any{orderID, customerID, epoch.Add(time.Duration(r.IntN(700*24*60)) * time.Minute),
		fmt.Sprintf("%d.%02d", cents/100, cents%100), status}
}

func asciiOnly(s string) string {
	repl := strings.NewReplacer("é", "e", "ë", "e", "è", "e", "ü", "u", "í", "i")
	return repl.Replace(s)
}

// insertRows inserts rows in multi-row statements with bind parameters.
func insertRows(ctx context.Context, db *sql.DB, table string, cols int, rows [][]any) error {
	const chunk = 500
	for start := 0; start < len(rows); start += chunk {
		end := min(start+chunk, len(rows))
		var b strings.Builder
		args := make([]any, 0, (end-start)*cols)
		fmt.Fprintf(&b, "INSERT INTO %s VALUES ", table)
		for i, row := range rows[start:end] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(")
			for j := range cols {
				if j > 0 {
					b.WriteString(", ")
				}
				args = append(args, row[j])
				fmt.Fprintf(&b, "$%d", len(args))
			}
			b.WriteString(")")
		}
		if _, err := db.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("insert into %s: %w", table, err)
		}
	}
	return nil
}

// Mutate applies a fixed set of changes chosen among the members of the given segment view
// (in dinmo_segments), so the next delta run has a known diff.
func Mutate(ctx context.Context, path, segmentView string) (Changes, error) {
	w, err := open(ctx, path)
	if err != nil {
		return Changes{}, err
	}
	defer w.Close()
	db := w.DB()
	d := w.Dialect()
	view := d.Qualified(warehouse.SchemaSegments, segmentView)
	members, err := ids(ctx, db, "SELECT customer_id FROM "+view+" ORDER BY customer_id LIMIT 23")
	if err != nil {
		return Changes{}, fmt.Errorf("reading members of %s (run terraform apply first): %w", view, err)
	}
	if len(members) < 23 {
		return Changes{}, fmt.Errorf("segment %s has only %d members; need 23", view, len(members))
	}
	others, err := ids(ctx, db, "SELECT customer_id FROM main.customers WHERE customer_id NOT IN (SELECT customer_id FROM "+view+") ORDER BY customer_id LIMIT 20")
	if err != nil {
		return Changes{}, err
	}
	var maxCust, maxOrder int64
	if err := db.QueryRowContext(ctx, "SELECT max(customer_id) FROM main.customers").Scan(&maxCust); err != nil {
		return Changes{}, err
	}
	if err := db.QueryRowContext(ctx, "SELECT max(order_id) FROM main.orders").Scan(&maxOrder); err != nil {
		return Changes{}, err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return Changes{}, err
	}
	defer func() { _ = tx.Rollback() }()
	exec := func(q string, args ...any) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	}
	var ch Changes
	r := rand.New(rand.NewPCG(7, 11)) //nolint:gosec // G404: deterministic demo data
	// 10 new customers in FR, subscribed, with two large completed orders each.
	for i := range int64(10) {
		id := maxCust + 1 + i
		row := customerRow(r, id, "FR", true)
		if err := exec("INSERT INTO main.customers VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", row...); err != nil {
			return ch, err
		}
		for k := range int64(2) {
			if err := exec("INSERT INTO main.orders VALUES ($1, $2, $3, $4, 'completed')", maxOrder+1+2*i+k, id, epoch.AddDate(1, 0, int(i)), "250.00"); err != nil {
				return ch, err
			}
		}
		ch.Inserted++
	}
	for _, id := range members[:15] { // a mapped field changes
		if err := exec("UPDATE main.customers SET city = 'Moved ' || city WHERE customer_id = $1", id); err != nil {
			return ch, err
		}
		ch.Updated++
	}
	for _, id := range members[15:20] { // they leave the segment
		if err := exec("UPDATE main.customers SET is_subscribed = false WHERE customer_id = $1", id); err != nil {
			return ch, err
		}
		ch.Unsubscribed++
	}
	for _, id := range members[20:23] { // they leave the warehouse
		if err := exec("DELETE FROM main.orders WHERE customer_id = $1", id); err != nil {
			return ch, err
		}
		if err := exec("DELETE FROM main.customers WHERE customer_id = $1", id); err != nil {
			return ch, err
		}
		ch.Deleted++
	}
	for _, id := range others { // unmapped column: nothing to send
		if err := exec("UPDATE main.customers SET last_name = last_name || '-Renamed' WHERE customer_id = $1", id); err != nil {
			return ch, err
		}
		ch.Untouched++
	}
	return ch, tx.Commit()
}

func ids(ctx context.Context, db *sql.DB, q string) ([]int64, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
