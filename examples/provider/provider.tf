provider "dinmo" {
  # SQLite file (embedded default, one runner) or PostgreSQL (teams, several runners).
  # Defaults to the DINMO_CATALOG_URL environment variable.
  catalog_url = "sqlite:///var/lib/dinmo/catalog.db"

  # Seals write-only credentials before they reach the catalog; the runner needs the same key
  # (DINMO_SECRET_KEY). Defaults to the DINMO_SECRET_KEY environment variable.
  encryption_key = var.dinmo_secret_key
}

variable "dinmo_secret_key" {
  type      = string
  sensitive = true
}
