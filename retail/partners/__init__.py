"""Partner credentials: OAuth2 client-credentials apps of a brand, their scopes, limits and calls.

Each ``PartnerApp`` wraps a django-oauth-toolkit ``Application`` and acts through its own
``retail.Staff`` row (kind "app"), so every existing service, audit entry and idempotency key
works unchanged for partner calls. The token endpoint is ``/api/v1/oauth/token/``; a request
under ``/api/`` carrying ``Authorization: Bearer`` is resolved by ``retail.middleware``.
"""
