"""The guide's 消息 tab (/m/messages/...)."""

from django.urls import path

from guides.messaging.views import mobile

urlpatterns = [
    path("m/messages/", mobile.inbox, name="messages-tab"),
]
