# E-commerce model graph: customers, orders, order lines, products and web events of the demo
# warehouse (cmd/dinmo-demo seed), with relationships both ways, calculated fields, and
# segments that use every kind of condition. Statistics, breakdowns and overlaps are read with
# the segment data sources; `dinmo-runner stats|breakdown|overlap` prints the same.

terraform {
  required_version = ">= 1.11"
  required_providers {
    dinmo = {
      source = "dinmo/dinmo"
    }
  }
}

# The catalog and the encryption key come from DINMO_CATALOG_URL and DINMO_SECRET_KEY.
provider "dinmo" {}

variable "warehouse_path" {
  description = "Absolute path of the DuckDB warehouse file seeded by `dinmo-demo seed`."
  type        = string
}

resource "dinmo_workspace" "shop" {
  name        = "ecommerce"
  description = "E-commerce model graph"
}

resource "dinmo_source" "warehouse" {
  workspace_id = dinmo_workspace.shop.id
  name         = "warehouse"
  duckdb = {
    path = var.warehouse_path
  }
  # Segment sizes and the primary key re-check, computed by the runner every night.
  stats_schedule = { type = "interval", every = "1d", at = "03:00" }
}

# ---- models -------------------------------------------------------------------------------

resource "dinmo_model" "products" {
  workspace_id = dinmo_workspace.shop.id
  source_id    = dinmo_source.warehouse.id
  name         = "products"
  type         = "custom"
  table        = "main.products"
  primary_key  = "product_id"
  fields = [
    { column = "category", categorical = true, display_name = "Category" },
    { column = "price", type = "number" },
  ]
}

resource "dinmo_model" "order_lines" {
  workspace_id = dinmo_workspace.shop.id
  source_id    = dinmo_source.warehouse.id
  name         = "order_lines"
  type         = "custom"
  table        = "main.order_lines"
  primary_key  = "line_id"
  relationships = [
    { name = "product", to = "products", kind = "many_to_one", from_column = "product_id", to_column = "product_id" },
    { name = "order", to = "orders", kind = "many_to_one", from_column = "order_id", to_column = "order_id" },
  ]
  calculated_fields = [
    { name = "line_total", kind = "formula", expression = "quantity * unit_price" },
  ]
  depends_on = [dinmo_model.products]
}

resource "dinmo_model" "orders" {
  workspace_id     = dinmo_workspace.shop.id
  source_id        = dinmo_source.warehouse.id
  name             = "orders"
  type             = "events"
  table            = "main.orders"
  primary_key      = "order_id"
  timestamp_column = "ordered_at"
  fields = [
    { column = "status", categorical = true },
  ]
  relationships = [
    { name = "lines", to = "order_lines", kind = "one_to_many", from_column = "order_id", to_column = "order_id" },
    { name = "customer", to = "customers", kind = "many_to_one", from_column = "customer_id", to_column = "customer_id" },
  ]
  calculated_fields = [
    { name = "items", kind = "aggregate", path = ["lines"], function = "sum", column = "quantity" },
  ]
  depends_on = [dinmo_model.order_lines]
}

resource "dinmo_model" "web_events" {
  workspace_id     = dinmo_workspace.shop.id
  source_id        = dinmo_source.warehouse.id
  name             = "web_events"
  type             = "events"
  table            = "main.web_events"
  primary_key      = "event_id"
  timestamp_column = "occurred_at"
  fields = [
    { column = "event_type", categorical = true },
    { column = "page", categorical = true },
  ]
  # The largest model: kept as a table (dinmo_segments.mat_web_events) that segments read
  # instead of the raw events, refreshed by the runner every hour at :05.
  materialization = {
    mode    = "table"
    refresh = { type = "interval", every = "1h", at = "00:05" }
  }
}

resource "dinmo_model" "customers" {
  workspace_id = dinmo_workspace.shop.id
  source_id    = dinmo_source.warehouse.id
  name         = "customers"
  type         = "users"
  table        = "main.customers"
  primary_key  = "customer_id"
  fields = [
    { column = "email", semantic = "email", display_name = "E-mail" },
    { column = "first_name", semantic = "first_name" },
    { column = "last_name", semantic = "last_name" },
    { column = "country", semantic = "country", categorical = true },
    { column = "city", semantic = "city", categorical = true },
    { column = "is_subscribed", categorical = true },
  ]
  relationships = [
    { name = "orders", to = "orders", kind = "one_to_many", from_column = "customer_id", to_column = "customer_id" },
    { name = "events", to = "web_events", kind = "one_to_many", from_column = "customer_id", to_column = "customer_id" },
  ]
  calculated_fields = [
    {
      # Lifetime value: completed orders only.
      name        = "ltv", kind = "aggregate", path = ["orders"], function = "sum", column = "amount"
      filter_json = jsonencode({ match = "all", conditions = [{ column = "status", operator = "equals", value = "completed" }] })
    },
    { name = "orders_count", kind = "aggregate", path = ["orders"], function = "count" },
    { name = "orders_last_year", kind = "aggregate", path = ["orders"], function = "count", window = { last = 12, unit = "months" } },
    { name = "last_order_at", kind = "aggregate", path = ["orders"], function = "max", column = "ordered_at" },
    { name = "first_order_amount", kind = "aggregate", path = ["orders"], function = "first", column = "amount", order_by = "ordered_at" },
    { name = "categories_bought", kind = "aggregate", path = ["orders", "lines", "product"], function = "count_distinct", column = "category" },
    { name = "average_basket", kind = "formula", expression = "ltv / orders_count" },
  ]
  depends_on = [dinmo_model.orders, dinmo_model.web_events]
}

# ---- segments -----------------------------------------------------------------------------

# Attribute conditions only: match and conditions.
resource "dinmo_segment" "subscribed_europe" {
  workspace_id = dinmo_workspace.shop.id
  model_id     = dinmo_model.customers.id
  name         = "subscribed_europe"
  match        = "all"
  conditions = [
    { column = "is_subscribed", operator = "is_true" },
    { column = "country", operator = "in", values = ["FR", "DE", "ES", "IT", "NL", "BE"] },
    { column = "signed_up_at", operator = "more_than_ago", value = "3", unit = "months" },
  ]
}

# Test accounts, excluded by the segments below.
resource "dinmo_segment" "test_accounts" {
  workspace_id = dinmo_workspace.shop.id
  model_id     = dinmo_model.customers.id
  name         = "test_accounts"
  match        = "any"
  conditions = [
    { column = "email", operator = "ends_with", value = "@test.example.com" },
    { column = "last_name", operator = "contains", value = "-Renamed" },
  ]
}

# Related-model conditions (with a filter and a time window, and multi-hop), an aggregate
# condition, conditions on calculated fields, a negated nested group and memberships.
resource "dinmo_segment" "loyal_shoe_buyers" {
  workspace_id = dinmo_workspace.shop.id
  model_id     = dinmo_model.customers.id
  name         = "loyal_shoe_buyers"
  description  = "Subscribed European customers with 2+ completed orders in 2025, who bought shoes, spent 300+ and are not test accounts"
  rules = jsonencode({
    match = "all"
    conditions = [
      { column = "ltv", operator = "gte", value = 300 },
      { column = "average_basket", operator = "between", values = [50, 500] },
    ]
    groups = [{
      # Not (last order before 2025 and no visit since June 2025).
      match  = "all"
      negate = true
      conditions = [
        { column = "last_order_at", operator = "before", value = "2025-01-01 00:00:00" },
      ]
      related = [{ path = ["events"], quantifier = "not_exists", window = { from = "2025-06-01" } }]
    }]
    related = [
      {
        path       = ["orders"]
        quantifier = "count_at_least"
        count      = 2
        filter     = { match = "all", conditions = [{ column = "status", operator = "equals", value = "completed" }] }
        window     = { from = "2025-01-01", to = "2025-12-31" }
      },
      {
        # customers -> orders -> order lines -> product
        path       = ["orders", "lines", "product"]
        quantifier = "exists"
        filter     = { match = "all", conditions = [{ column = "category", operator = "equals", value = "shoes" }] }
      },
    ]
    aggregates = [
      { path = ["orders"], function = "max", column = "amount", operator = "gte", value = 100 },
    ]
    memberships = [
      { segment = "subscribed_europe" },
      { segment = "test_accounts", exclude = true },
    ]
  })
  depends_on = [dinmo_segment.subscribed_europe, dinmo_segment.test_accounts]
}

# Engaged browsers: several product views or a cart in the last 30 days, any weekday but Sunday.
resource "dinmo_segment" "engaged_browsers" {
  workspace_id = dinmo_workspace.shop.id
  model_id     = dinmo_model.customers.id
  name         = "engaged_browsers"
  rules = jsonencode({
    match = "any"
    related = [
      {
        path = ["events"], quantifier = "count_at_least", count = 3
        filter = { match = "all", conditions = [
          { column = "event_type", operator = "equals", value = "product_view" },
          { column = "occurred_at", operator = "on_weekday", values = ["mon", "tue", "wed", "thu", "fri", "sat"] },
        ] }
        window = { last = 30, unit = "days" }
      },
      {
        path   = ["events"], quantifier = "exists"
        filter = { match = "all", conditions = [{ column = "event_type", operator = "in", values = ["add_to_cart", "checkout"] }] }
        window = { from = "2025-01-01" }
      },
    ]
  })
}

# ---- statistics ---------------------------------------------------------------------------

data "dinmo_segment_stats" "loyal_shoe_buyers" {
  segment_id = dinmo_segment.loyal_shoe_buyers.id
}

data "dinmo_segment_breakdown" "loyal_shoe_buyers" {
  segment_id = dinmo_segment.loyal_shoe_buyers.id
  fields     = ["country", "is_subscribed"]
}

data "dinmo_segment_overlap" "audiences" {
  segment_ids = [
    dinmo_segment.subscribed_europe.id,
    dinmo_segment.loyal_shoe_buyers.id,
    dinmo_segment.engaged_browsers.id,
  ]
}

output "loyal_shoe_buyers" {
  value = {
    size  = data.dinmo_segment_stats.loyal_shoe_buyers.size
    share = data.dinmo_segment_stats.loyal_shoe_buyers.share
  }
}

output "loyal_shoe_buyers_by_country" {
  value = [for v in data.dinmo_segment_breakdown.loyal_shoe_buyers.values : "${v.field}=${coalesce(v.value, "(null)")}: ${v.count} (${format("%.1f", v.percent)}%)"]
}

output "overlaps" {
  value = [for p in data.dinmo_segment_overlap.audiences.pairs : "${p.a} & ${p.b}: ${p.common} in common"]
}
