"""Commission URLs: the REST API (mounted under /api/v1/), the guide's pages and the dashboard."""

from django.urls import path

from guides import api
from guides.views import dashboard, mobile

api_urlpatterns = [
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
]

urlpatterns = [
    # Guide's phone pages
    path("m/performance/", mobile.performance, name="performance"),
    path("m/performance/statements/<int:pk>/", mobile.statement, name="performance-statement"),
    path("m/notifications/", mobile.notifications, name="notifications"),
    # Brand dashboard
    path("dashboard/commission/", dashboard.reports, name="dash-commission"),
    path("dashboard/commission/export.csv", dashboard.reports_export, name="dash-commission-export"),
    path("dashboard/commission/rules/", dashboard.rules, name="dash-commission-rules"),
    path("dashboard/commission/rules/new/", dashboard.rule_new, name="dash-commission-rule-new"),
    path("dashboard/commission/rules/<int:pk>/end/", dashboard.rule_end, name="dash-commission-rule-end"),
    path(
        "dashboard/commission/attribution/", dashboard.attribution_rules, name="dash-commission-attribution"
    ),
    path("dashboard/commission/reattribute/", dashboard.reattribute, name="dash-commission-reattribute"),
    path("dashboard/commission/settings/", dashboard.settings_page, name="dash-commission-settings"),
    path("dashboard/commission/settlements/", dashboard.settlements, name="dash-commission-settlements"),
    path(
        "dashboard/commission/settlements/close-running/",
        dashboard.settlements_close_running,
        name="dash-commission-close-running",
    ),
    path(
        "dashboard/commission/settlements/<int:pk>/", dashboard.settlement, name="dash-commission-settlement"
    ),
    path(
        "dashboard/commission/settlements/<int:pk>/approve/",
        dashboard.settlement_approve,
        name="dash-commission-approve",
    ),
    path("dashboard/commission/statements/<int:pk>/", dashboard.statement, name="dash-commission-statement"),
    path(
        "dashboard/commission/statements/<int:pk>/hold/",
        dashboard.statement_hold,
        name="dash-commission-hold",
    ),
    path(
        "dashboard/commission/statements/<int:pk>/release/",
        dashboard.statement_release,
        name="dash-commission-release",
    ),
]
