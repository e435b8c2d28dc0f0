"""Messaging URLs."""

urlpatterns: list = []
