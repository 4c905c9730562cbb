resource "dinmo_model" "customers" {
  workspace_id = dinmo_workspace.marketing.id
  source_id    = dinmo_source.dwh.id
  name         = "customers"
  type         = "users"
  primary_key  = "customer_id"
  sql          = <<-SQL
    SELECT c.customer_id, c.email, c.country, c.is_subscribed,
           coalesce(sum(o.amount), 0) AS total_spent
    FROM sales.customers AS c
    LEFT JOIN sales.orders AS o ON o.customer_id = c.customer_id
    GROUP BY c.customer_id, c.email, c.country, c.is_subscribed
  SQL
}

# A model on a table, without SQL.
resource "dinmo_model" "orders" {
  workspace_id = dinmo_workspace.marketing.id
  source_id    = dinmo_source.dwh.id
  name         = "orders"
  type         = "events"
  table        = "sales.orders"
  primary_key  = "order_id"
}
