"""The webhooks REST API, mounted under /api/v1/ (retail/urls.py)."""

from django.urls import path

from retail.webhooks import api

urlpatterns = [
    path("webhooks/endpoints/", api.EndpointListView.as_view(), name="api-webhook-endpoints"),
    path("webhooks/endpoints/<int:pk>/", api.EndpointDetailView.as_view(), name="api-webhook-endpoint"),
    path(
        "webhooks/endpoints/<int:pk>/rotate-secret/",
        api.EndpointRotateSecretView.as_view(),
        name="api-webhook-endpoint-rotate",
    ),
    path(
        "webhooks/endpoints/<int:pk>/test/", api.EndpointTestView.as_view(), name="api-webhook-endpoint-test"
    ),
    path("webhooks/deliveries/", api.DeliveryListView.as_view(), name="api-webhook-deliveries"),
    path("webhooks/deliveries/<int:pk>/", api.DeliveryDetailView.as_view(), name="api-webhook-delivery"),
    path(
        "webhooks/deliveries/<int:pk>/replay/",
        api.DeliveryReplayView.as_view(),
        name="api-webhook-delivery-replay",
    ),
    path("webhooks/event-types/", api.EventTypeListView.as_view(), name="api-webhook-event-types"),
]
