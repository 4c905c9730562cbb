# Braze: one destination per Braze workspace, then one activation per service.
resource "dinmo_destination" "braze" {
  workspace_id = dinmo_workspace.marketing.id
  name         = "braze-eu"
  braze = {
    rest_endpoint        = "https://rest.fra-01.braze.eu" # Settings → APIs and Identifiers
    batch_size           = 75                             # 50 on "Monthly Active Users - CY 24-25" contracts
    default_phone_region = "FR"                           # for numbers written without +33
  }
  credentials_wo = {
    api_key = var.braze_api_key # needs users.track (+ subscription.status.set)
  }
  credentials_wo_version = "1"
}

# Standard and custom attributes; "upsert" creates unknown users, "update" never does.
resource "dinmo_activation" "customers_to_braze" {
  workspace_id   = dinmo_workspace.marketing.id
  name           = "customers-to-braze"
  segment_id     = dinmo_segment.all_customers.id
  destination_id = dinmo_destination.braze.id
  service        = "user_attributes"
  sync_mode      = "upsert"
  mappings = {
    external_id    = "customer_id" # destination field = model column
    email          = "email"
    first_name     = "first_name"
    country        = "country"
    lifetime_value = "total_spent" # not a profile field: a custom attribute
  }
  schedule = {
    type  = "interval"
    every = "1h"
  }
}

# One custom event per new row of an events segment (event_type = "purchase" sends purchases
# instead, with product_id, currency, price and quantity mapped).
resource "dinmo_activation" "orders_to_braze" {
  workspace_id   = dinmo_workspace.marketing.id
  name           = "orders-to-braze"
  segment_id     = dinmo_segment.completed_orders.id
  destination_id = dinmo_destination.braze.id
  service        = "track_events"
  sync_mode      = "events"
  mappings = {
    external_id = "customer_id"
    time        = "ordered_at"
    amount      = "amount" # other fields become event properties
    order_id    = "order_id"
  }
  service_options = {
    event_type = "custom"
    event_name = "order_completed"
  }
  schedule = {
    type  = "interval"
    every = "15m"
  }
}

# Segment members are subscribed to a subscription group; leavers are unsubscribed.
resource "dinmo_activation" "newsletter_in_braze" {
  workspace_id   = dinmo_workspace.marketing.id
  name           = "newsletter-in-braze"
  segment_id     = dinmo_segment.loyal_subscribers.id
  destination_id = dinmo_destination.braze.id
  service        = "subscription_status"
  sync_mode      = "list"
  mappings = {
    external_id = "customer_id"
    email       = "email" # used for rows without a customer_id
  }
  service_options = {
    subscription_group_id = "6b1b5c2e-0000-4000-8000-000000000000"
  }
  schedule = {
    type  = "interval"
    every = "1h"
  }
}

# The segment as a boolean attribute (true on entry, false on exit); build a Braze segment
# on "loyal_subscribers is true".
resource "dinmo_activation" "loyal_as_braze_attribute" {
  workspace_id   = dinmo_workspace.marketing.id
  name           = "loyal-as-braze-attribute"
  segment_id     = dinmo_segment.loyal_subscribers.id
  destination_id = dinmo_destination.braze.id
  service        = "user_lists"
  sync_mode      = "list"
  mappings = {
    external_id = "customer_id"
  }
  service_options = {
    attribute_name = "loyal_subscribers" # default: the activation name, sanitised
  }
  schedule = {
    type  = "interval"
    every = "1h"
  }
}

variable "braze_api_key" {
  type      = string
  sensitive = true
  ephemeral = true
}
