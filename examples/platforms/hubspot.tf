# HubSpot: one destination per HubSpot account (private app token), then one activation per
# object type. Records are matched on a property with unique values; the mappings must target it.
resource "dinmo_destination" "hubspot" {
  workspace_id = dinmo_workspace.marketing.id
  name         = "hubspot"
  hubspot = {
    portal_id        = 1234567 # Hub ID: checks refuse a token of another account
    requests_per_10s = 190     # Professional and Enterprise; 100 on Free and Starter
  }
  credentials_wo = {
    # Private app token with crm.objects.{contacts,companies,deals,custom}.read/.write
    # and crm.schemas.{contacts,companies,deals,custom}.read.
    access_token = var.hubspot_access_token
  }
  credentials_wo_version = "1"
}

# Contacts, matched on their e-mail (trimmed and lowercased): "upsert" creates unknown
# contacts, "update" only changes existing ones, "insert" only creates new ones.
resource "dinmo_activation" "customers_to_hubspot" {
  workspace_id   = dinmo_workspace.marketing.id
  name           = "customers-to-hubspot"
  segment_id     = dinmo_segment.all_customers.id
  destination_id = dinmo_destination.hubspot.id
  service        = "contacts"
  sync_mode      = "upsert"
  mappings = {
    email          = "email" # destination property = model column
    firstname      = "first_name"
    lastname       = "last_name"
    lifecyclestage = "lifecycle_stage" # an option's internal value: lead, customer...
    total_spent    = "total_spent"     # a custom contact property, created in HubSpot first
  }
  schedule = {
    type  = "interval"
    every = "1h"
  }
}

# Companies, matched on a custom property with unique values ("Require unique values").
resource "dinmo_activation" "accounts_to_hubspot" {
  workspace_id   = dinmo_workspace.marketing.id
  name           = "accounts-to-hubspot"
  segment_id     = dinmo_segment.active_accounts.id
  destination_id = dinmo_destination.hubspot.id
  service        = "companies"
  sync_mode      = "upsert"
  mappings = {
    account_id        = "account_id"
    name              = "name"
    domain            = "domain"
    numberofemployees = "employees"
  }
  service_options = {
    id_property = "account_id"
  }
  schedule = {
    type  = "interval"
    every = "6h"
  }
}

# Deals: update only, so deals are never created from the warehouse.
resource "dinmo_activation" "orders_to_hubspot" {
  workspace_id   = dinmo_workspace.marketing.id
  name           = "orders-to-hubspot"
  segment_id     = dinmo_segment.open_orders.id
  destination_id = dinmo_destination.hubspot.id
  service        = "deals"
  sync_mode      = "update"
  mappings = {
    order_id  = "order_id"
    amount    = "amount"
    closedate = "expected_close_at"
  }
  service_options = {
    id_property = "order_id"
  }
  schedule = {
    type  = "interval"
    every = "1h"
  }
}

# A custom object, named by its objectTypeId (or fully qualified name, p1234567_cars).
resource "dinmo_activation" "cars_to_hubspot" {
  workspace_id   = dinmo_workspace.marketing.id
  name           = "cars-to-hubspot"
  segment_id     = dinmo_segment.registered_cars.id
  destination_id = dinmo_destination.hubspot.id
  service        = "custom_objects"
  sync_mode      = "insert"
  mappings = {
    vin           = "vin"
    model         = "model"
    registered_on = "registered_on" # DATE columns are sent as YYYY-MM-DD
  }
  service_options = {
    object_type = "2-3508482"
    id_property = "vin"
  }
  schedule = {
    type  = "interval"
    every = "1d"
  }
}

variable "hubspot_access_token" {
  type      = string
  sensitive = true
  ephemeral = true
}
