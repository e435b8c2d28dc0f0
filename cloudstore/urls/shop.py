"""Shopper pages of the cloud store."""

urlpatterns: list = []
