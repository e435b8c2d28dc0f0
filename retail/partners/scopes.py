"""The scope catalogue of the partner API: ``<area>:<verb>`` names, each with what it allows.

Every ``BrandAPIView`` declares, per HTTP method, the one scope a partner token needs
(``scopes = {"GET": "members:read", ...}``); an app is granted a subset of this catalogue and a
token a subset of its app's scopes. ``PartnerScopes`` is django-oauth-toolkit's scopes backend.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

SCOPES: dict[str, str] = {
    "stores:read": _("Read the brand's stores"),
    "stores:write": _("Create and change stores"),
    "staff:read": _("Read the brand's staff"),
    "staff:write": _("Invite, change and deactivate staff"),
    "audit:read": _("Read the audit log"),
    "members:read": _("Read and look up members, their tags and points"),
    "members:write": _("Create and change members, their identities and tags"),
    "points:write": _("Award and redeem member points"),
    "catalogue:read": _("Read products and SKUs"),
    "catalogue:write": _("Create and change products and SKUs"),
    "inventory:read": _("Read stock and store prices"),
    "inventory:write": _("Set stock and store prices"),
    "orders:read": _("Read orders"),
    "orders:write": _("Push orders, change their status and refund them"),
    "promotions:read": _("Read coupon campaigns and check coupons"),
    "promotions:write": _("Create campaigns, issue and redeem coupons"),
    "redpackets:read": _("Read the red packet pool, top-ups, packets and staff wallets"),
    "redpackets:write": _("Top up the pool and send red packets"),
    "commission:read": _("Read commission rules, attributions, periods and statements"),
    "commission:write": _("Change commission rules and settings, close and approve periods, hold statements"),
    "attendance:read": _("Read attendance punches, day records, shifts and schedules"),
    "attendance:write": _("Set and clear staff schedules"),
    "messages:read": _("Read conversations between guides and members, and their messages"),
    "messages:write": _("Send messages to members as the brand"),
    "devices:read": _("Read the brand's devices, their state and the events they reported"),
    "messages:send": _("Send messages to staff"),
    "webhooks:manage": _("Manage the app's webhook endpoints and deliveries"),
}


def clean_scopes(values) -> list[str]:
    """Known scope names, de-duplicated, in catalogue order; unknown names raise ValueError."""
    wanted = set(values or ())
    unknown = wanted - set(SCOPES)
    if unknown:
        raise ValueError(", ".join(sorted(unknown)))
    return [name for name in SCOPES if name in wanted]


class PartnerScopes:
    """django-oauth-toolkit scopes backend: an app may ask for (and gets by default) its own scopes."""

    def get_all_scopes(self) -> dict[str, str]:
        return {name: str(text) for name, text in SCOPES.items()}

    def _app_scopes(self, application, request) -> list[str]:
        if application is None:
            return list(SCOPES)
        partner = getattr(request, "partner_app", None)
        if partner is None or partner.application_id != application.pk:
            from retail.partners.selectors import app_for_application

            partner = app_for_application(application.pk)
        if partner is None or not partner.is_active:
            return []
        return [s for s in partner.scopes if s in SCOPES]

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        return self._app_scopes(application, request)

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        return self._app_scopes(application, request)
