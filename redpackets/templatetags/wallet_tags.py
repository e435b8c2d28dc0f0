"""Wallet words in templates (the wallet's card on the staff tabs is redpackets.navigation's)."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def payout_provider(name: str) -> str:
    """ "sim" -> 模拟提现: who pays withdrawals out, in words."""
    from redpackets.labels import payout_provider_label

    return payout_provider_label(name)
