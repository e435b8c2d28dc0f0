"""The devices app's pages: the console (devices per store, pairing, event logs) and the web kiosk."""

from django.urls import include, path

urlpatterns = [
    path("dashboard/devices/", include("devices.urls_dashboard")),
    path("kiosk/", include("devices.urls_kiosk")),
]
