# Every destination platform this provider build supports, with its services and their
# capabilities, as declared by the connectors.
data "dinmo_destination_platforms" "all" {}

locals {
  braze = one([for p in data.dinmo_destination_platforms.all.platforms : p if p.platform == "braze"])
}

# The services of Braze and the sync modes each supports.
output "braze_services" {
  value = { for s in local.braze.services : s.name => s.sync_modes }
}

# The fields a Meta custom audience mapping may target, and which are hashed.
output "meta_audience_fields" {
  value = {
    for f in one([
      for s in one([for p in data.dinmo_destination_platforms.all.platforms : p if p.platform == "meta"]).services : s
      if s.name == "custom_audiences"
    ]).fields : f.name => f.hashed
  }
}
