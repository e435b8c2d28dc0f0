"""Messaging API (/api/v1/conversations/...)."""

urlpatterns: list = []
