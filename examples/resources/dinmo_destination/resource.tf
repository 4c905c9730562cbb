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

# HubSpot reached through the company's egress API gateway: api_base_url replaces the
# platform's API address (https://api.hubapi.com) for checks and syncs.
resource "dinmo_destination" "hubspot" {
  workspace_id = dinmo_workspace.marketing.id
  name         = "hubspot"
  hubspot = {
    portal_id = 1234567
  }
  api_base_url = "https://egress-gateway.internal/hubspot"
  credentials_ref = {
    access_token = "env:HUBSPOT_ACCESS_TOKEN"
  }
}

variable "webhook_signing_secret" {
  type      = string
  sensitive = true
  ephemeral = true
}
