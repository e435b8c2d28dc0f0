"""The devices app's REST endpoints (mounted under /api/v1/)."""

from django.urls import path

from devices import api, pairing_api
from retail.middleware import brandless

urlpatterns = [
    # A device's own calls: its pairing code or secret names the brand (no session, no token).
    path("devices/pair/", brandless(pairing_api.PairView.as_view()), name="device-pair"),
    path("devices/ticket/", brandless(pairing_api.TicketView.as_view()), name="device-ticket"),
    # Staff and partner apps (scope devices:read): the brand's devices and their events.
    path("devices/", api.DeviceListView.as_view(), name="api-devices"),
    path("devices/<int:pk>/", api.DeviceDetailView.as_view(), name="api-device"),
    path("devices/<int:pk>/events/", api.DeviceEventListView.as_view(), name="api-device-events"),
    path("device-events/", api.AllDeviceEventListView.as_view(), name="api-device-events-all"),
]
