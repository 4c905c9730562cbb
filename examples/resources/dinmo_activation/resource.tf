resource "dinmo_activation" "loyal_to_crm" {
  workspace_id   = dinmo_workspace.marketing.id
  name           = "loyal-to-crm"
  description    = "Keep the CRM's loyal-subscriber records identical to the segment"
  segment_id     = dinmo_segment.loyal_subscribers.id
  destination_id = dinmo_destination.crm_api.id
  service        = "records"
  sync_mode      = "mirror" # insert, update, upsert, mirror, list or events
  run_type       = "delta"  # only what changed since the last run; "full" resends everything
  mappings = {
    email       = "email" # destination field = model column
    country     = "country"
    total_spent = "total_spent"
  }
  schedule = {
    type  = "interval"
    every = "1h"
  }
  # Safety thresholds, checked before anything is sent. A blocked run waits for
  # `dinmo-runner approve marketing/loyal-to-crm`.
  guards = {
    max_removal_percent            = 20  # stop a run removing more than 20% of the records...
    min_snapshot_for_removal_guard = 100 # ...once at least 100 were synced
    block_empty_result             = true
    rejected_warning_percent       = 5
  }
  enabled = true
  # paused = true # the user's pause switch; automatic pauses show in paused_by and pause_reason
}

# A Meta Ads custom audience: service_options are the service's own settings (here the
# audience, found by name in the ad account or created). Changing them makes the next run full.
resource "dinmo_activation" "loyal_to_meta" {
  workspace_id   = dinmo_workspace.marketing.id
  name           = "loyal-to-meta"
  segment_id     = dinmo_segment.loyal_subscribers.id
  destination_id = dinmo_destination.meta.id
  service        = "custom_audiences"
  sync_mode      = "list"
  mappings = {
    email   = "email" # normalised and SHA-256 hashed before it leaves the runner
    country = "country"
  }
  service_options = {
    audience_name        = "Loyal subscribers"
    customer_file_source = "USER_PROVIDED_ONLY"
  }
  # Mondays and Wednesdays at 09:00 UTC, weekends at 20:00 UTC. Also available: an anchored
  # interval ({ type = "interval", every = "6h", at = "01:30" }) and, when the workspace sets
  # cron_enabled, { type = "cron", cron = "0 3 * * mon-fri" } (UTC).
  schedule = {
    type = "recurrence"
    rules = [
      { days = ["mon", "wed"], times = ["09:00"] },
      { days = ["sat", "sun"], times = ["20:00"] },
    ]
  }
}
