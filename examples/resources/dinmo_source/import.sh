terraform import dinmo_source.dwh marketing/dwh
