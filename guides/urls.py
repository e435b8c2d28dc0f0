"""Commission URLs: the guide's pages and the dashboard (the REST API is in guides/api_urls.py)."""

from django.urls import include, path

from guides.views import dashboard, mobile

urlpatterns = [
    # Messaging: the 消息 tab, the shopper's chat, the console (guides/messaging/urls.py)
    path("", include("guides.messaging.urls")),
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
