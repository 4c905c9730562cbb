resource "dinmo_segment" "loyal_subscribers" {
  workspace_id = dinmo_workspace.marketing.id
  model_id     = dinmo_model.customers.id
  name         = "loyal_subscribers"
  description  = "Subscribed customers in FR, DE or ES who spent at least 300"
  match        = "all" # every condition must hold; "any" for at least one
  conditions = [
    { column = "is_subscribed", operator = "is_true" },
    { column = "country", operator = "in", values = ["FR", "DE", "ES"] },
    { column = "total_spent", operator = "gte", value = "300" },
    { column = "email", operator = "not_contains", value = "@test." },
  ]
}
