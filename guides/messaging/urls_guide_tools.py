"""The guide's messaging tools under /m/messages/: her settings, report, block, notes."""

from django.urls import path

from guides.messaging.views import guide_tools as v

urlpatterns = [
    path("m/messages/settings/", v.settings_page, name="messages-settings"),
    path("m/messages/settings/busy/", v.busy_toggle, name="messages-busy"),
    path("m/messages/settings/auto-reply/", v.auto_reply_save, name="messages-auto-reply"),
    path("m/messages/settings/canned/", v.canned_add, name="messages-canned-add"),
    path("m/messages/settings/canned/<int:pk>/delete/", v.canned_delete, name="messages-canned-delete"),
    path("m/messages/<int:conversation_id>/report/", v.report, name="messages-report"),
    path("m/messages/<int:conversation_id>/block/", v.block, name="messages-block"),
    path("m/messages/<int:conversation_id>/unblock/", v.unblock, name="messages-unblock"),
    path("m/messages/<int:conversation_id>/notes/", v.note_add, name="messages-note-add"),
    path(
        "m/messages/<int:conversation_id>/notes/<int:note_id>/delete/",
        v.note_delete,
        name="messages-note-delete",
    ),
]
