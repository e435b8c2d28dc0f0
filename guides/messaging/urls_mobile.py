"""The guide's 消息 tab (/m/messages/...)."""

from django.urls import path

from guides.messaging.views import mobile

urlpatterns = [
    path("m/messages/", mobile.inbox, name="messages-tab"),
    path("m/messages/member/<int:member_id>/", mobile.open_member, name="m-chat-member"),
    path("m/messages/<int:pk>/", mobile.conversation, name="m-chat"),
    path("m/messages/<int:pk>/history/", mobile.conversation_history, name="m-chat-history"),
    path("m/messages/<int:pk>/send/", mobile.send, name="m-chat-send"),
    path("m/messages/<int:pk>/image/", mobile.send_image, name="m-chat-image"),
    path("m/messages/<int:pk>/images/<int:message_id>/", mobile.image_file, name="m-chat-image-file"),
    path("m/messages/<int:pk>/pick/<slug:what>/", mobile.pick, name="m-chat-pick"),
]
