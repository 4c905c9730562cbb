package demodata

import (
	"context"
	"path/filepath"
	"testing"
)

// TestSeedGraph checks that the e-commerce tables are deterministic for a seed and consistent
// with each other (every order line points at an order and a product, every event at a
// customer), and that customers and orders come out as they did before the graph existed.
func TestSeedGraph(t *testing.T) {
	ctx := context.Background()
	sums := func(path string) [6]string {
		st, err := Seed(ctx, path, 120, 42)
		if err != nil {
			t.Fatal(err)
		}
		if st.Products != 40 || st.OrderLines < st.Orders || st.WebEvents == 0 {
			t.Fatalf("stats: %+v", st)
		}
		w, err := open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		var out [6]string
		for i, q := range []string{
			"SELECT md5(string_agg(customer_id || email || coalesce(city, '') || is_subscribed || signed_up_at, ',' ORDER BY customer_id)) FROM main.customers",
			"SELECT md5(string_agg(order_id || '/' || customer_id || '/' || amount || status || ordered_at, ',' ORDER BY order_id)) FROM main.orders",
			"SELECT md5(string_agg(product_id || name || category || price, ',' ORDER BY product_id)) FROM main.products",
			"SELECT md5(string_agg(line_id || '/' || order_id || '/' || product_id || '/' || quantity, ',' ORDER BY line_id)) FROM main.order_lines",
			"SELECT md5(string_agg(event_id || '/' || customer_id || event_type || occurred_at, ',' ORDER BY event_id)) FROM main.web_events",
			"SELECT (SELECT count(*) FROM main.order_lines l WHERE NOT EXISTS (SELECT 1 FROM main.orders o WHERE o.order_id = l.order_id) " +
				"OR NOT EXISTS (SELECT 1 FROM main.products p WHERE p.product_id = l.product_id)) + " +
				"(SELECT count(*) FROM main.web_events e WHERE NOT EXISTS (SELECT 1 FROM main.customers c WHERE c.customer_id = e.customer_id))",
		} {
			if err := w.DB().QueryRowContext(ctx, q).Scan(&out[i]); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		return out
	}
	a := sums(filepath.Join(t.TempDir(), "a.duckdb"))
	b := sums(filepath.Join(t.TempDir(), "b.duckdb"))
	if a != b {
		t.Errorf("not deterministic:\n%v\n%v", a, b)
	}
	if a[5] != "0" {
		t.Errorf("%s dangling references", a[5])
	}
	// Customers and orders of seed 42 as the generator wrote them before products, order lines
	// and web events were added (the quickstart's expected counts depend on them).
	if a[0] != "13c2dc04c0c8c5b709099d84ac3ce2e4" || a[1] != "3f6296ad32e36b12d6b3fa30859dc5b1" {
		t.Errorf("customers or orders changed: %s %s", a[0], a[1])
	}
}
