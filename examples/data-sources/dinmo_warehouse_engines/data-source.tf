# The warehouse engines dinmo_source declares, and whether this build can connect to them.
data "dinmo_warehouse_engines" "all" {}

output "available_engines" {
  value = [for e in data.dinmo_warehouse_engines.all.engines : e.engine if e.available]
}

# The settings of a PostgreSQL source block, with their defaults.
output "postgres_settings" {
  value = {
    for s in one([for e in data.dinmo_warehouse_engines.all.engines : e if e.engine == "postgres"]).settings :
    s.name => s.default
  }
}
