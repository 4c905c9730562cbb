# A PostgreSQL warehouse. The password is write-only: it never reaches the Terraform state and
# is sealed with the provider's encryption key before it is stored in the catalog.
resource "dinmo_source" "dwh" {
  workspace_id = dinmo_workspace.marketing.id
  name         = "dwh"
  postgres = {
    host     = "dwh.internal"
    port     = 5432
    database = "analytics"
    user     = "dinmo"
    sslmode  = "require"
  }
  credentials_wo = {
    password = var.dwh_password
  }
  credentials_wo_version = "1" # bump to rotate
  # When the runner measures segment sizes and re-checks primary keys (default: daily).
  stats_schedule = { type = "interval", every = "6h" }
}

# A DuckDB file, as in the embedded demo.
resource "dinmo_source" "local" {
  workspace_id = dinmo_workspace.marketing.id
  name         = "local"
  duckdb = {
    path = "/var/lib/dinmo/warehouse.duckdb"
  }
}

# Credentials by reference: the runner resolves env:NAME or file:PATH at run time.
resource "dinmo_source" "replica" {
  workspace_id = dinmo_workspace.marketing.id
  name         = "replica"
  postgres = {
    host     = "replica.internal"
    database = "analytics"
    user     = "dinmo_ro"
  }
  credentials_ref = {
    password = "env:REPLICA_PASSWORD"
  }
}

variable "dwh_password" {
  type      = string
  sensitive = true
  ephemeral = true
}
