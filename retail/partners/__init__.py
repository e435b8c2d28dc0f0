"""Partner apps: OAuth2 client credentials with scopes for the ISVs that integrate with a brand."""
