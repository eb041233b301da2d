"""Every write and decision of the commerce app, by area: catalog, orders, hours, webhooks."""
