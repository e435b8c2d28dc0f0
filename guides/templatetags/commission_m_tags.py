"""The "my performance" entry on the staff home and me tabs: unread commission notifications."""

from __future__ import annotations

from contextlib import nullcontext

from django import template

from guides.models import Notification
from retail.tenancy import brand_scope, current_brand_id

register = template.Library()


@register.simple_tag(takes_context=True)
def commission_unread(context) -> int:
    """``{% commission_unread as n %}``: how many notifications the current staff member has not read."""
    brand, staff = context.get("current_brand"), context.get("current_staff")
    if brand is None or staff is None:
        return 0
    # Inside the request's own brand scope already: no second round trip to re-check the setting.
    with nullcontext() if current_brand_id() == brand.pk else brand_scope(brand):
        return Notification.objects.filter(staff=staff, read_at__isnull=True).count()
