# Size of a segment and its share of the parent model, computed in the warehouse (and appended
# to dinmo_stats.segment_sizes).
data "dinmo_segment_stats" "loyal" {
  segment_id = dinmo_segment.loyal_subscribers.id
}

output "loyal_subscribers" {
  value = "${data.dinmo_segment_stats.loyal.size} of ${data.dinmo_segment_stats.loyal.parent_size} customers (${format("%.1f", data.dinmo_segment_stats.loyal.share * 100)}%)"
}
