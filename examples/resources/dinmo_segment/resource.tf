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

# Any other condition tree is written as rules, to any depth: nested and negated groups,
# related-model conditions (counts, filters, time windows, multi-hop paths), aggregates,
# calculated fields and segment memberships.
resource "dinmo_segment" "repeat_buyers" {
  workspace_id = dinmo_workspace.marketing.id
  model_id     = dinmo_model.buyers.id
  name         = "repeat_buyers"
  rules = jsonencode({
    match      = "all"
    conditions = [{ column = "ltv", operator = "gte", value = 300 }]
    groups = [{
      match      = "any"
      negate     = true
      conditions = [{ column = "email", operator = "ends_with", value = "@test.example.com" }]
    }]
    related = [{
      path       = ["orders"]
      quantifier = "count_at_least"
      count      = 2
      filter     = { match = "all", conditions = [{ column = "status", operator = "equals", value = "completed" }] }
      window     = { last = 12, unit = "months" }
    }]
    aggregates  = [{ path = ["orders"], function = "max", column = "amount", operator = "gte", value = 100 }]
    memberships = [{ segment = "internal_buyers", exclude = true }]
  })
  depends_on = [dinmo_segment.internal_buyers]
}

# Excluded by repeat_buyers through a membership condition (segments of the same model).
resource "dinmo_segment" "internal_buyers" {
  workspace_id = dinmo_workspace.marketing.id
  model_id     = dinmo_model.buyers.id
  name         = "internal_buyers"
  conditions = [
    { column = "email", operator = "ends_with", value = "@ourcompany.example" },
  ]
}
