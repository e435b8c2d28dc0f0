"""The chat sockets (listed in settings.BROWSER_WEBSOCKET_ROUTES)."""

websocket_urlpatterns: list = []
