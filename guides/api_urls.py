"""The commission REST API (mounted under /api/v1/): an order's attribution, attribution and
commission rules, settlement periods and statements, re-attribution runs, the caller's commission."""

from django.urls import include, path

from guides import api

urlpatterns = [
    path("orders/<int:pk>/attribution/", api.OrderAttributionView.as_view(), name="api-order-attribution"),
    path(
        "commission/attribution-rules/", api.AttributionRuleListView.as_view(), name="api-attribution-rules"
    ),
    path("commission/rules/", api.CommissionRuleListView.as_view(), name="api-commission-rules"),
    path("commission/rules/<int:pk>/", api.CommissionRuleDetailView.as_view(), name="api-commission-rule"),
    path(
        "commission/rules/<int:pk>/end/", api.CommissionRuleEndView.as_view(), name="api-commission-rule-end"
    ),
    path("commission/settings/", api.SettingsView.as_view(), name="api-commission-settings"),
    path("commission/periods/", api.PeriodListView.as_view(), name="api-commission-periods"),
    path("commission/periods/running/", api.RunningPeriodView.as_view(), name="api-commission-running"),
    path("commission/periods/<int:pk>/", api.PeriodDetailView.as_view(), name="api-commission-period"),
    path(
        "commission/periods/<int:pk>/approve/", api.PeriodApproveView.as_view(), name="api-commission-approve"
    ),
    path("commission/statements/", api.StatementListView.as_view(), name="api-commission-statements"),
    path(
        "commission/statements/<int:pk>/", api.StatementDetailView.as_view(), name="api-commission-statement"
    ),
    path("commission/statements/<int:pk>/hold/", api.StatementHoldView.as_view(), name="api-commission-hold"),
    path(
        "commission/statements/<int:pk>/release/",
        api.StatementReleaseView.as_view(),
        name="api-commission-release",
    ),
    path(
        "commission/reattributions/",
        api.ReattributionListView.as_view(),
        name="api-commission-reattributions",
    ),
    path("commission/me/", api.MyCommissionView.as_view(), name="api-commission-me"),
    path("", include("guides.messaging.api_urls")),
]
