"""Money in templates: ``{% load money %}`` then ``{{ order.total_fen|yuan }}`` -> ¥1,234.56."""

from __future__ import annotations

from django import template

from retail import money

register = template.Library()


@register.filter
def yuan(fen) -> str:
    """Integer fen as ¥ with two decimals and thousands separators; "—" when missing."""
    return money.yuan(fen)
