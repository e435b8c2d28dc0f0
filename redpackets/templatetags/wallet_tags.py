"""The wallet entry on the staff home and me tabs: balance and packets to open, in one query."""

from __future__ import annotations

from django import template

from redpackets import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def wallet_badge(context) -> dict:
    """``{% wallet_badge as w %}``: ``w.balance_fen`` and ``w.to_open`` of the current staff member."""
    brand, staff = context.get("current_brand"), context.get("current_staff")
    if brand is None or staff is None:
        return {"balance_fen": 0, "to_open": 0}
    return selectors.wallet_badge(brand=brand, staff=staff)


@register.filter
def payout_provider(name: str) -> str:
    """ "sim" -> 模拟提现: who pays withdrawals out, in words."""
    from redpackets.labels import payout_provider_label

    return payout_provider_label(name)
