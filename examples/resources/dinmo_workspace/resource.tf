resource "dinmo_workspace" "marketing" {
  name         = "marketing"
  description  = "Marketing team: audiences for ads and CRM"
  cron_enabled = false

  # Alerts on failed or blocked runs, warnings, and automatic pauses and resumes.
  alerts = {
    slack_webhook_url_ref = "env:DINMO_SLACK_WEBHOOK_URL" # or slack_webhook_url_wo (write-only)
    email = {
      host         = "smtp.example.com"
      username     = "alerts"
      password_ref = "env:DINMO_SMTP_PASSWORD"
      from         = "dinmo <alerts@example.com>"
      to           = ["data-team@example.com"]
    }
    repeat = "24h" # alert an ongoing problem again once a day
  }
}
