"""Staff pages of the cloud store: guide and store manager mobile UI, brand dashboard."""

urlpatterns: list = []
