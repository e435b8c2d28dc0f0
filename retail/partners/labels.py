"""How partner app audit events read in words (imported by PartnersConfig.ready)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from retail.labels import register_actions, register_group, register_target

register_actions(
    {
        "partner_app.created": _("Partner app created"),
        "partner_app.updated": _("Partner app changed"),
        "partner_app.secret_rotated": _("Partner app secret rotated"),
        "partner_app.revoked": _("Partner app revoked"),
    }
)
register_group(_("Partner apps"), "partner_app.")
register_target("partners.PartnerApp", _("partner app"))
