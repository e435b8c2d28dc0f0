"""HTML pages of the cloud store."""
