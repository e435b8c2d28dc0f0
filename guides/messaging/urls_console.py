"""The brand's messaging console (/dashboard/messaging/)."""

from django.urls import path

from guides.messaging.views import console

urlpatterns = [
    path("dashboard/messaging/", console.settings_page, name="dash-messaging"),
    path("dashboard/messaging/canned/", console.canned_page, name="dash-messaging-canned"),
    path("dashboard/messaging/canned/<int:pk>/", console.canned_edit, name="dash-messaging-canned-edit"),
    path(
        "dashboard/messaging/canned/<int:pk>/delete/",
        console.canned_delete,
        name="dash-messaging-canned-delete",
    ),
    path(
        "dashboard/messaging/conversations/", console.conversations_page, name="dash-messaging-conversations"
    ),
    path(
        "dashboard/messaging/conversations/<int:pk>/",
        console.conversation_page,
        name="dash-messaging-conversation",
    ),
    path("dashboard/messaging/reports/", console.reports_page, name="dash-messaging-reports"),
    path(
        "dashboard/messaging/reports/<int:pk>/resolve/",
        console.report_resolve,
        name="dash-messaging-report-resolve",
    ),
]
