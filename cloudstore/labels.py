"""How the cloud store's codes read in words: audit events and their targets, payment providers
and payment methods."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cloudstore.models import Coupon, Order, Refund, Sku
from members.labels import member_names, register_points_source
from retail.labels import register_actions, register_group, register_target

# Payment methods ISVs report with a paid order, and what they are called.
METHODS = {
    "alipay": gettext_lazy("Alipay"),
    "wechat": gettext_lazy("WeChat Pay"),
    "wechatpay": gettext_lazy("WeChat Pay"),
    "wxpay": gettext_lazy("WeChat Pay"),
    "unionpay": gettext_lazy("UnionPay"),
    "card": gettext_lazy("Bank card"),
    "bank_card": gettext_lazy("Bank card"),
    "cash": gettext_lazy("Cash"),
    "points": gettext_lazy("Points"),
    "coupon": gettext_lazy("Coupon"),
    "gift_card": gettext_lazy("Gift card"),
    "sim": gettext_lazy("Simulated payment"),
}
PROVIDERS = {"sim": gettext_lazy("Simulated payment"), **dict(Order.Channel.choices)}


def _is_code(value: str) -> bool:
    return value.isascii() and value == value.lower() and " " not in value


def payment_provider_label(name: str) -> str:
    """Who took the money: the simulated cashier, or the channel that reported the payment."""
    if name in PROVIDERS:
        return str(PROVIDERS[name])
    return str(_("Other payment provider")) if _is_code(name or "") else name


def payment_method_label(method: str) -> str:
    """How the shopper paid; a method nobody named reads as a generic phrase, not its code."""
    if not method:
        return ""
    key = method.strip().lower()
    if key in METHODS:
        return str(METHODS[key])
    return str(_("Other payment method")) if _is_code(method) else method


def order_label(number: str) -> str:
    return _("Order %(number)s") % {"number": number}


def _ids(ids: list[str]) -> list[int]:
    return [int(i) for i in ids if i.isdigit()]


def _describe_orders(ids: list[str]) -> dict[str, str]:
    rows = Order.objects.filter(pk__in=_ids(ids)).values_list("pk", "number")
    return {str(pk): order_label(number) for pk, number in rows}


def _describe_skus(ids: list[str]) -> dict[str, str]:
    rows = Sku.objects.filter(pk__in=_ids(ids)).select_related("product")
    return {str(s.pk): " ".join(x for x in (s.product.name, s.spec, f"({s.code})") if x) for s in rows}


def _describe_coupons(ids: list[str]) -> dict[str, str]:
    rows = list(Coupon.objects.filter(pk__in=_ids(ids)).select_related("campaign"))
    names = member_names(c.member_id for c in rows if c.member_id)
    out = {}
    for c in rows:
        who = names.get(c.member_id)
        out[str(c.pk)] = f"{c.campaign.name} → {who}" if who else c.campaign.name
    return out


register_actions(
    {
        "category.saved": gettext_lazy("Category saved"),
        "product.saved": gettext_lazy("Product saved"),
        "sku.saved": gettext_lazy("SKU saved"),
        "product.image_added": gettext_lazy("Product photo added"),
        "product.image_deleted": gettext_lazy("Product photo deleted"),
        "inventory.price_set": gettext_lazy("Store price set"),
        "inventory.assortment_add": gettext_lazy("Goods put on sale in a store"),
        "inventory.assortment_import": gettext_lazy("Store assortment imported"),
        "stock.adjust": gettext_lazy("Stock adjusted"),
        "stock.receive": gettext_lazy("Goods received"),
        "stock.count": gettext_lazy("Stock counted"),
        "stock.bulk_update": gettext_lazy("Stock updated in bulk"),
        "order.refunded": gettext_lazy("Order refunded"),
        "campaign.saved": gettext_lazy("Campaign saved"),
        "campaign.issued": gettext_lazy("Coupons issued to members"),
        "coupon.issued": gettext_lazy("Coupon issued"),
        "coupon.redeemed": gettext_lazy("Coupon redeemed"),
        "coupon.voided": gettext_lazy("Coupon voided"),
    }
)
register_group(gettext_lazy("Catalogue"), "product.", "category.", "sku.")
register_group(gettext_lazy("Stock"), "stock.", "inventory.")
register_group(gettext_lazy("Orders"), "order.")
register_group(gettext_lazy("Campaigns and coupons"), "campaign.", "coupon.")
register_target("cloudstore.Order", gettext_lazy("order"), _describe_orders)
register_target("cloudstore.Sku", gettext_lazy("SKU"), _describe_skus)
register_target("cloudstore.Coupon", gettext_lazy("coupon"), _describe_coupons)
register_target("cloudstore.Product", gettext_lazy("product"))
register_target("cloudstore.Category", gettext_lazy("category"))
register_target("cloudstore.Campaign", gettext_lazy("campaign"))


def _keyed(keys: list[str]) -> dict[int, str]:
    out = {}
    for key in keys:
        _prefix, _sep, rest = key.partition(":")
        if rest.isdigit():
            out[int(rest)] = key
    return out


def _order_points(keys: list[str]) -> dict[str, str]:
    """order:<order id> -> "Order F2612…"."""
    wanted = _keyed(keys)
    rows = Order.objects.filter(pk__in=wanted).values_list("pk", "number")
    return {wanted[pk]: order_label(number) for pk, number in rows}


def _refund_points(keys: list[str]) -> dict[str, str]:
    """refund:<refund id> -> "Refund of order F2612…"."""
    wanted = _keyed(keys)
    rows = Refund.objects.filter(pk__in=wanted).values_list("pk", "order__number")
    return {wanted[pk]: _("Refund of order %(number)s") % {"number": number} for pk, number in rows}


register_points_source("order", _order_points)
register_points_source("refund", _refund_points)
