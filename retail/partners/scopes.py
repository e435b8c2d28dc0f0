"""The scopes a partner app can hold: one per area and verb. Every API operation names the one
it needs (``BrandAPIView.scopes``); an operation a partner may not call names none."""

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
    "attendance:read": _("Read attendance punches"),
    "messages:send": _("Send messages to staff"),
    "webhooks:manage": _("Manage the app's webhook endpoints and deliveries"),
}
