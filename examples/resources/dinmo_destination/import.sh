terraform import dinmo_destination.crm_api marketing/crm-api
