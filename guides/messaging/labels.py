"""How messaging's audit actions and targets read in words (imported by guides/labels.py)."""

from django.utils.translation import gettext_lazy as _

from retail.labels import register_actions, register_group, register_target

register_actions(
    {
        "messaging.settings_updated": _("Messaging settings changed"),
        "messaging.conversation_read": _("Conversation read"),
        "messaging.reported": _("Shopper reported"),
        "messaging.report_resolved": _("Report handled"),
        "messaging.blocked": _("Shopper blocked"),
        "messaging.unblocked": _("Shopper unblocked"),
        "messaging.canned_created": _("Canned reply added"),
        "messaging.canned_updated": _("Canned reply changed"),
        "messaging.canned_deleted": _("Canned reply deleted"),
    }
)
register_group(_("Messaging"), "messaging.")
register_target("guides.Conversation", _("conversation"))
register_target("guides.CannedReply", _("canned reply"))
register_target("guides.MessagingSettings", _("messaging settings"))
