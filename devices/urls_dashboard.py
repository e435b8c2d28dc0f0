"""Console pages for devices (/dashboard/devices/)."""

urlpatterns: list = []
