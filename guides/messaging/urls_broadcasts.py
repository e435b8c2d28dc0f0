"""Mass messages (群发): the guide's on her phone, the brand's in the console."""

from django.urls import path

from guides.messaging.views import broadcasts

urlpatterns = [
    path("m/messages/broadcasts/", broadcasts.m_list, name="m-broadcasts"),
    path("m/messages/broadcasts/new/", broadcasts.m_new, name="m-broadcast-new"),
    path("m/messages/broadcasts/<int:pk>/", broadcasts.m_detail, name="m-broadcast"),
    path("m/messages/broadcasts/<int:pk>/cancel/", broadcasts.m_cancel, name="m-broadcast-cancel"),
    path("dashboard/messaging/broadcasts/", broadcasts.dash_list, name="dash-messaging-broadcasts"),
    path("dashboard/messaging/broadcasts/new/", broadcasts.dash_new, name="dash-messaging-broadcast-new"),
    path("dashboard/messaging/broadcasts/<int:pk>/", broadcasts.dash_detail, name="dash-messaging-broadcast"),
    path(
        "dashboard/messaging/broadcasts/<int:pk>/cancel/",
        broadcasts.dash_cancel,
        name="dash-messaging-broadcast-cancel",
    ),
]
