"""Console pages of attendance (policy, consent text, calibration, shifts, schedules, records)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
