"""Websocket routes.

``websocket_urlpatterns``: browser sockets, behind the allowed-hosts origin check and the session
(the staff socket, and the apps' routes listed in settings.BROWSER_WEBSOCKET_ROUTES: the chat).
``device_websocket_urlpatterns()``: the routes of native devices, listed in
settings.DEVICE_WEBSOCKET_ROUTES (the kernel imports no app), served without the origin check and
without cookies: a device authenticates in its first frame."""

from django.conf import settings
from django.urls import path
from django.utils.module_loading import import_string

from retail.consumers import StaffConsumer

websocket_urlpatterns = [
    path("ws/staff/", StaffConsumer.as_asgi()),
    *[p for dotted in settings.BROWSER_WEBSOCKET_ROUTES for p in import_string(dotted)],
]


def device_websocket_urlpatterns() -> list:
    return [p for dotted in settings.DEVICE_WEBSOCKET_ROUTES for p in import_string(dotted)]


class SocketRouter:
    """Device routes first, as they are; every other socket through ``browser_app``."""

    def __init__(self, device_patterns: list, browser_app):
        from channels.routing import URLRouter

        self.device_paths = {"/" + str(p.pattern) for p in device_patterns}
        self.device_app = URLRouter(device_patterns)
        self.browser_app = browser_app

    async def __call__(self, scope, receive, send):
        app = self.device_app if scope.get("path") in self.device_paths else self.browser_app
        return await app(scope, receive, send)
