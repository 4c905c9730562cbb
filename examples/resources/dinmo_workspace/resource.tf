resource "dinmo_workspace" "marketing" {
  name         = "marketing"
  description  = "Marketing team: audiences for ads and CRM"
  cron_enabled = false
}
