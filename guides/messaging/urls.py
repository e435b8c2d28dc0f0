"""Messaging pages: the guide's 消息 tab, the shopper's chat, the brand's console, mass messages."""

from django.urls import include, path

urlpatterns = [
    path("", include("guides.messaging.urls_guide_tools")),
    path("", include("guides.messaging.urls_mobile")),
    path("", include("guides.messaging.urls_shopper")),
    path("", include("guides.messaging.urls_console")),
    path("", include("guides.messaging.urls_broadcasts")),
]
