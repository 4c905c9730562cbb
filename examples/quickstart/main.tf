# Quickstart: a DuckDB warehouse, one model, one segment, and an activation that writes the
# segment's changes to JSONL files. `make demo` applies it with the local provider build.

terraform {
  required_version = ">= 1.11"
  required_providers {
    dinmo = {
      source = "dinmo/dinmo"
    }
  }
}

# The catalog and the encryption key come from DINMO_CATALOG_URL and DINMO_SECRET_KEY, which
# the runner reads too.
provider "dinmo" {}

variable "warehouse_path" {
  description = "Absolute path of the DuckDB warehouse file."
  type        = string
}

variable "output_dir" {
  description = "Directory where the file destination writes one file per run."
  type        = string
}

resource "dinmo_workspace" "shop" {
  name        = "shop"
  description = "Demo e-commerce workspace"
}

resource "dinmo_source" "warehouse" {
  workspace_id = dinmo_workspace.shop.id
  name         = "warehouse"
  duckdb = {
    path = var.warehouse_path
  }
}

resource "dinmo_model" "customers" {
  workspace_id = dinmo_workspace.shop.id
  source_id    = dinmo_source.warehouse.id
  name         = "customers"
  type         = "users"
  primary_key  = "customer_id"
  sql          = <<-SQL
    SELECT c.customer_id, c.email, c.first_name, c.last_name, c.country, c.city, c.is_subscribed,
           count(o.order_id) AS orders_count,
           coalesce(sum(o.amount), 0) AS total_spent,
           max(o.ordered_at) AS last_order_at
    FROM main.customers AS c
    LEFT JOIN main.orders AS o ON o.customer_id = c.customer_id AND o.status = 'completed'
    GROUP BY c.customer_id, c.email, c.first_name, c.last_name, c.country, c.city, c.is_subscribed
  SQL
}

resource "dinmo_segment" "loyal_subscribers" {
  workspace_id = dinmo_workspace.shop.id
  model_id     = dinmo_model.customers.id
  name         = "loyal_subscribers"
  description  = "Subscribed customers in FR, DE or ES who spent at least 300"
  match        = "all"
  conditions = [
    { column = "is_subscribed", operator = "is_true" },
    { column = "country", operator = "in", values = ["FR", "DE", "ES"] },
    { column = "total_spent", operator = "gte", value = "300" },
  ]
}

resource "dinmo_destination" "audit_files" {
  workspace_id = dinmo_workspace.shop.id
  name         = "audit-files"
  file = {
    directory = var.output_dir
    format    = "jsonl"
  }
}

resource "dinmo_activation" "loyal_to_files" {
  workspace_id   = dinmo_workspace.shop.id
  name           = "loyal-to-files"
  segment_id     = dinmo_segment.loyal_subscribers.id
  destination_id = dinmo_destination.audit_files.id
  service        = "records"
  sync_mode      = "mirror"
  mappings = {
    email       = "email"
    first_name  = "first_name"
    city        = "city"
    country     = "country"
    total_spent = "total_spent"
  }
  schedule = {
    type = "manual"
  }
}

output "activation" {
  description = "Run it with: dinmo-runner run shop/loyal-to-files"
  value       = "${dinmo_workspace.shop.name}/${dinmo_activation.loyal_to_files.name}"
}
