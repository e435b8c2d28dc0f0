"""The chat sockets (listed in settings.BROWSER_WEBSOCKET_ROUTES)."""

from django.urls import path

from guides.messaging.consumers import ShopperChatConsumer, StaffChatConsumer

websocket_urlpatterns: list = [
    path("ws/chat/", StaffChatConsumer.as_asgi()),
    path("ws/s/<slug:brand_slug>/chat/", ShopperChatConsumer.as_asgi()),
]
