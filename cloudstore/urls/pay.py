"""Payment provider endpoints: signed notices (webhook) and the simulated provider's cashier."""

from django.urls import path

from cloudstore.views import pay

urlpatterns = [
    path("pay/notify/<slug:brand_slug>/<slug:provider_name>/", pay.notify, name="pay-notify"),
    path("pay/sim/<slug:brand_slug>/<str:reference>/", pay.simulator, name="pay-sim"),
]
