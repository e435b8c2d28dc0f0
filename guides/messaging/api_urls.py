"""Messaging API (/api/v1/conversations/...): conversations and their messages read, messages sent
as the brand."""

from django.urls import path

from guides.messaging import api

urlpatterns = [
    path("conversations/", api.ConversationListView.as_view(), name="api-conversations"),
    path(
        "conversations/<int:pk>/messages/",
        api.ConversationMessagesView.as_view(),
        name="api-conversation-messages",
    ),
    path("members/<int:pk>/messages/", api.MemberMessagesView.as_view(), name="api-member-messages"),
]
