"""The web kiosk (/kiosk/): any tablet as a clock-in or door terminal."""

from django.urls import path

from devices import kiosk_views

urlpatterns = [
    path("", kiosk_views.kiosk, name="device-kiosk"),
]
