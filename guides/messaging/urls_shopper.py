"""The shopper's chat (/s/<brand_slug>/chat/...)."""

from django.urls import path

from guides.messaging.views import shopper

urlpatterns = [
    path("s/<slug:brand_slug>/chat/", shopper.chat, name="shopper-chat"),
    path("s/<slug:brand_slug>/chat/history/", shopper.chat_history, name="shopper-chat-history"),
    path("s/<slug:brand_slug>/chat/send/", shopper.chat_send, name="shopper-chat-send"),
    path("s/<slug:brand_slug>/chat/image/", shopper.chat_image, name="shopper-chat-image"),
    path(
        "s/<slug:brand_slug>/chat/images/<int:message_id>/",
        shopper.chat_image_file,
        name="shopper-chat-image-file",
    ),
]
