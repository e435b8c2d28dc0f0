"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "retail.settings")

from retail.asgi_http import BodyLimitMiddleware, get_asgi_application  # noqa: E402

# Oversized request bodies are refused here, before Django spools them.
django_asgi_app = BodyLimitMiddleware(get_asgi_application())

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from retail.routing import SocketRouter, device_websocket_urlpatterns, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SocketRouter(
            device_websocket_urlpatterns(),
            AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        ),
    }
)

from retail import server_heap  # noqa: E402

server_heap.settle()
