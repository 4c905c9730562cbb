# Members of a segment per country and per subscription status (categorical fields).
data "dinmo_segment_breakdown" "loyal" {
  segment_id = dinmo_segment.loyal_subscribers.id
  fields     = ["country", "is_subscribed"]
}

output "loyal_by_country" {
  value = {
    for v in data.dinmo_segment_breakdown.loyal.values : coalesce(v.value, "(null)") => v.percent
    if v.field == "country"
  }
}
