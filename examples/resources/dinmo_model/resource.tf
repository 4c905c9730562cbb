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

# A model on a table, without SQL: an events model with its timestamp column and a
# relationship back to customers.
resource "dinmo_model" "orders" {
  workspace_id     = dinmo_workspace.marketing.id
  source_id        = dinmo_source.dwh.id
  name             = "orders"
  type             = "events"
  table            = "sales.orders"
  primary_key      = "order_id"
  timestamp_column = "ordered_at"
  fields = [
    { column = "status", categorical = true },
  ]
  relationships = [
    { name = "customer", to = "buyers", kind = "many_to_one", from_column = "customer_id", to_column = "customer_id" },
  ]
}

# Field declarations, a relationship and calculated fields (aggregates over the related model,
# with a filter and a window, and a formula).
resource "dinmo_model" "buyers" {
  workspace_id = dinmo_workspace.marketing.id
  source_id    = dinmo_source.dwh.id
  name         = "buyers"
  type         = "users"
  table        = "sales.customers"
  primary_key  = "customer_id"
  fields = [
    { column = "email", semantic = "email", display_name = "E-mail" },
    { column = "country", semantic = "country", categorical = true },
    { column = "loyalty_points", type = "integer" },
  ]
  relationships = [
    { name = "orders", to = "orders", kind = "one_to_many", from_column = "customer_id", to_column = "customer_id" },
  ]
  calculated_fields = [
    {
      name        = "ltv", kind = "aggregate", path = ["orders"], function = "sum", column = "amount"
      filter_json = jsonencode({ match = "all", conditions = [{ column = "status", operator = "equals", value = "completed" }] })
    },
    { name = "orders_90d", kind = "aggregate", path = ["orders"], function = "count", window = { last = 90, unit = "days" } },
    { name = "last_order_amount", kind = "aggregate", path = ["orders"], function = "last", column = "amount", order_by = "ordered_at" },
    { name = "average_basket", kind = "formula", expression = "ltv / COALESCE(orders_90d, 0)" },
  ]
  depends_on = [dinmo_model.orders]
}

# A model materialised as a table: apply creates dinmo_segments.mat_daily_revenue from the
# query, segments and activations read the table, and `dinmo-runner serve` refreshes it every
# morning (history: `dinmo-runner tasks marketing/daily_revenue`).
resource "dinmo_model" "daily_revenue" {
  workspace_id = dinmo_workspace.marketing.id
  source_id    = dinmo_source.dwh.id
  name         = "daily_revenue"
  type         = "custom"
  primary_key  = "day"
  sql          = <<-SQL
    SELECT CAST(ordered_at AS DATE) AS day, sum(amount) AS revenue, count(*) AS orders
    FROM sales.orders
    GROUP BY 1
  SQL
  materialization = {
    mode    = "table"
    refresh = { type = "recurrence", rules = [{ days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], times = ["06:00"] }] }
  }
}
