"""The web kiosk (/kiosk/): any tablet as a clock-in or door terminal."""

urlpatterns: list = []
