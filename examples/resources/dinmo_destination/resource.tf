# An in-house API receiving signed JSON batches.
resource "dinmo_destination" "crm_api" {
  workspace_id = dinmo_workspace.marketing.id
  name         = "crm-api"
  webhook = {
    url        = "https://crm.internal/hooks/dinmo"
    batch_size = 500
    headers = {
      "X-Team" = "marketing"
    }
  }
  credentials_wo = {
    signing_secret = var.webhook_signing_secret
  }
  credentials_wo_version = "1"
}

# One JSONL (or CSV) file per run, for audits.
resource "dinmo_destination" "audit" {
  workspace_id = dinmo_workspace.marketing.id
  name         = "audit"
  file = {
    directory = "/var/lib/dinmo/exports"
    format    = "csv"
  }
}

variable "webhook_signing_secret" {
  type      = string
  sensitive = true
  ephemeral = true
}
