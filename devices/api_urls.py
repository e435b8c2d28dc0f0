"""The devices app's REST endpoints (mounted under /api/v1/)."""

from django.urls import path

from devices import pairing_api
from retail.middleware import brandless

urlpatterns = [
    # A device's own calls: its pairing code or secret names the brand (no session, no token).
    path("devices/pair/", brandless(pairing_api.PairView.as_view()), name="device-pair"),
    path("devices/ticket/", brandless(pairing_api.TicketView.as_view()), name="device-ticket"),
]
