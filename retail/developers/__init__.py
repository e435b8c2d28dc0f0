"""The developer centre of the brand dashboard (开放平台): partner apps, their webhook endpoints and
deliveries, the partner activity log and the developer docs. Brand admins only.

Pages only: partner credentials live in retail.partners, webhooks in retail.webhooks; these views
validate forms, call their services and selectors, and render."""
