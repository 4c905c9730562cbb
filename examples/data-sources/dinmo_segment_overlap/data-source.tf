# How much two or more segments of the same model have in common.
data "dinmo_segment_overlap" "audiences" {
  segment_ids = [dinmo_segment.repeat_buyers.id, dinmo_segment.internal_buyers.id]
}

output "common_members" {
  value = [for p in data.dinmo_segment_overlap.audiences.pairs : "${p.a} & ${p.b}: ${p.common} (${format("%.0f", p.share_of_a * 100)}% of ${p.a})"]
}
