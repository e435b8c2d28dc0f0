"""The scope catalogue of the partner API: ``<area>:<verb>`` names, each with what it allows.

Every ``BrandAPIView`` declares, per HTTP method, the one scope a partner token needs
(``scopes = {"GET": "members:read", ...}``); an app is granted a subset of this catalogue and a
token a subset of its app's scopes. ``PartnerScopes`` is django-oauth-toolkit's scopes backend.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

SCOPES: dict[str, str] = {
    "stores:read": _("Read stores"),
    "stores:write": _("Create and change stores"),
    "staff:read": _("Read staff"),
    "staff:write": _("Invite and change staff"),
    "audit:read": _("Read the audit log"),
    "members:read": _("Read members and their points"),
    "members:write": _("Create, change and merge members"),
    "points:write": _("Award and deduct points"),
    "catalogue:read": _("Read products and prices"),
    "catalogue:write": _("Create and change products and prices"),
    "inventory:read": _("Read stock levels"),
    "inventory:write": _("Change stock levels"),
    "orders:read": _("Read orders"),
    "orders:write": _("Push orders, change their status and refund them"),
    "promotions:read": _("Read coupons and campaigns"),
    "promotions:write": _("Create and change coupons and campaigns"),
    "redpackets:read": _("Read red packets and wallets"),
    "redpackets:write": _("Send red packets and top up pools"),
    "commission:read": _("Read commission rules, periods and statements"),
    "commission:write": _("Change commission rules and settle statements"),
    "attendance:read": _("Read attendance punches"),
    "messages:send": _("Send messages to staff"),
    "webhooks:manage": _("Manage webhook endpoints and deliveries"),
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
