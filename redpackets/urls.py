"""Red packet URLs: the payout provider's webhook and the pages (guide wallet, manager send form,
brand dashboard). The REST API is in redpackets/api_urls.py."""

from django.urls import path

from redpackets import urls_dashboard, urls_staff
from redpackets.views import webhook

urlpatterns = [
    path("pay/payout-notify/<slug:brand_slug>/<slug:provider_name>/", webhook.notify, name="payout-notify"),
    *urls_staff.urlpatterns,
    *urls_dashboard.urlpatterns,
]
