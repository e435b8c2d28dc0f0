"""Payment provider endpoints: signed notices (webhook) and the simulated provider's cashier."""

from django.conf import settings
from django.urls import path

from cloudstore.views import pay

urlpatterns = [
    path("pay/notify/<slug:brand_slug>/<slug:provider_name>/", pay.notify, name="pay-notify"),
]
if settings.SIMULATED_PROVIDERS_ENABLED:
    # The simulated provider's cashier is not even routed where no simulated provider is configured.
    urlpatterns += [path("pay/sim/<slug:brand_slug>/<str:reference>/", pay.simulator, name="pay-sim")]
