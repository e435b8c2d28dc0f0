"""REST API of attendance (partners: punches and day records read, schedules write)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
