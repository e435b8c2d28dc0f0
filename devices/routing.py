"""The device websocket route: served without the browser origin check and without cookies
(native devices send no Origin header; a device proves itself in its first frame)."""

from django.urls import path

from devices.consumers import DeviceConsumer

websocket_urlpatterns = [
    path("ws/device/", DeviceConsumer.as_asgi()),
]
