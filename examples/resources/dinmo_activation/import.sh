terraform import dinmo_activation.loyal_to_crm marketing/loyal-to-crm
