// Package demodata generates the demo's e-commerce dataset in a DuckDB warehouse (customers and
// orders, deterministic for a given seed) and the known changes applied between two runs.
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
	Customers int
	Orders    int
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
		`DROP TABLE IF EXISTS main.orders`,
		`DROP TABLE IF EXISTS main.customers`,
		`CREATE TABLE main.customers (customer_id BIGINT PRIMARY KEY, email VARCHAR NOT NULL, first_name VARCHAR, last_name VARCHAR,
			country VARCHAR, city VARCHAR, is_subscribed BOOLEAN NOT NULL, signed_up_at TIMESTAMP NOT NULL)`,
		`CREATE TABLE main.orders (order_id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, ordered_at TIMESTAMP NOT NULL,
			amount DECIMAL(10,2) NOT NULL, status VARCHAR NOT NULL)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return Stats{}, fmt.Errorf("seed: %w", err)
		}
	}
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
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
	return st, nil
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
	r := rand.New(rand.NewPCG(7, 11))
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
