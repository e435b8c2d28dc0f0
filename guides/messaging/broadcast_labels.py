"""How mass messages' audit actions and targets read in words (imported by guides/apps.py)."""

from django.utils.translation import gettext_lazy as _

from guides.messaging.models import Broadcast
from retail.labels import register_actions, register_group, register_target


def _describe(ids: list[str]) -> dict[str, str]:
    rows = Broadcast.objects.filter(pk__in=[int(i) for i in ids if i.isdigit()]).values_list(
        "pk", "body", "data"
    )
    return {str(pk): (body or (data or {}).get("name") or f"#{pk}")[:40] for pk, body, data in rows}


register_actions(
    {
        "broadcast.created": _("Mass message created"),
        "broadcast.cancelled": _("Mass message cancelled"),
    }
)
register_group(_("Mass messages"), "broadcast.")
register_target("guides.Broadcast", _("mass message"), _describe)
