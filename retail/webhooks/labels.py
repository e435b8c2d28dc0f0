"""How webhook audit events read in words."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from retail.labels import register_actions, register_group, register_target

register_actions(
    {
        "webhook.endpoint_created": _("Webhook endpoint created"),
        "webhook.endpoint_updated": _("Webhook endpoint changed"),
        "webhook.secret_rotated": _("Webhook signing secret rotated"),
        "webhook.endpoint_deleted": _("Webhook endpoint deleted"),
        "webhook.endpoint_disabled": _("Webhook endpoint disabled"),
        "webhook.delivery_replayed": _("Webhook delivery sent again"),
        "webhook.test_sent": _("Webhook test event sent"),
    }
)
register_group(_("Webhooks"), "webhook.")
register_target("webhooks.WebhookEndpoint", _("webhook endpoint"))
