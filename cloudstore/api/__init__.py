"""REST API of the cloud store for ISVs and staff tools, one module per area: catalogue, inventory
(bulk), orders from external channels (create, status, refunds), promotions (coupons, campaigns)."""
