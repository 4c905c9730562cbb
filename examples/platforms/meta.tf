# Meta Ads: one destination per ad account; identifiers are normalised and SHA-256 hashed
# by the runner before they are sent.
resource "dinmo_destination" "meta" {
  workspace_id = dinmo_workspace.marketing.id
  name         = "meta-ads"
  meta = {
    ad_account_id        = "act_1234567890" # Business Settings → Ad accounts
    default_phone_region = "FR"             # for numbers written without +33
  }
  credentials_wo = {
    access_token = var.meta_access_token # system-user token with ads_management
    app_secret   = var.meta_app_secret   # optional: adds appsecret_proof to every call
  }
  credentials_wo_version = "1"
}

# A customer-list Custom Audience kept in step with the segment: entering people are added,
# leaving people removed. The audience is found by name in the ad account, or created.
resource "dinmo_activation" "vip_to_meta" {
  workspace_id   = dinmo_workspace.marketing.id
  name           = "vip-to-meta"
  segment_id     = dinmo_segment.loyal_subscribers.id
  destination_id = dinmo_destination.meta.id
  service        = "custom_audiences"
  sync_mode      = "list"
  mappings = {
    email       = "email" # destination field = model column
    phone       = "phone"
    first_name  = "first_name"
    last_name   = "last_name"
    country     = "country"
    external_id = "customer_id" # sent unhashed (EXTERN_ID)
  }
  service_options = {
    audience_name        = "dinmo - VIP customers"
    audience_description = "Loyal subscribers, synced by dinmo"
    customer_file_source = "USER_PROVIDED_ONLY"
  }
  schedule = {
    type  = "interval"
    every = "6h"
  }
}

# Offline purchases sent once each to the Conversions API of a dataset. Events older than
# seven days are rejected by Meta, so schedule event activations at least daily.
resource "dinmo_activation" "orders_to_meta" {
  workspace_id   = dinmo_workspace.marketing.id
  name           = "orders-to-meta"
  segment_id     = dinmo_segment.completed_orders.id
  destination_id = dinmo_destination.meta.id
  service        = "conversions"
  sync_mode      = "events"
  mappings = {
    event_time  = "ordered_at"
    event_id    = "order_id" # deduplicates with the pixel's events
    email       = "email"
    phone       = "phone"
    external_id = "customer_id"
    value       = "amount"
    currency    = "currency"
    order_id    = "order_id"
  }
  service_options = {
    pixel_id      = "987654321098765"
    event_name    = "Purchase"
    action_source = "physical_store"
  }
  schedule = {
    type  = "interval"
    every = "1h"
  }
}

variable "meta_access_token" {
  type      = string
  sensitive = true
  ephemeral = true
}

variable "meta_app_secret" {
  type      = string
  sensitive = true
  ephemeral = true
}
