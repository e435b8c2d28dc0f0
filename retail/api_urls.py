"""The core's REST API (mounted under /api/v1/): the caller, stores, staff, the audit log, and the
OpenAPI schema with its Swagger UI and Redoc pages."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from retail import api
from retail.middleware import brandless
from retail.partners.oauth import TokenView

urlpatterns = [
    path("me/", api.MeView.as_view(), name="api-me"),
    path("stores/", api.StoreListView.as_view(), name="store-list"),
    path("stores/<int:pk>/", api.StoreDetailView.as_view(), name="store-detail"),
    path("staff/", api.StaffListView.as_view(), name="staff-list"),
    path("staff/<int:pk>/", api.StaffDetailView.as_view(), name="staff-detail"),
    path("staff/<int:pk>/deactivate/", api.StaffDeactivateView.as_view(), name="staff-deactivate"),
    path("staff/<int:pk>/reactivate/", api.StaffReactivateView.as_view(), name="staff-reactivate"),
    path("staff/<int:pk>/reinvite/", api.StaffReinviteView.as_view(), name="staff-reinvite"),
    path("audit-log/", api.AuditLogListView.as_view(), name="audit-log-list"),
    # Partner apps: OAuth2 client credentials → Bearer token (never in a session's brand scope).
    path("oauth/token/", brandless(TokenView.as_view()), name="oauth-token"),
    path("schema/", SpectacularAPIView.as_view(api_version="v1"), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]
