"""A brand's red packet and withdrawal limits."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from redpackets import events
from redpackets.models import Settings
from retail import roles
from retail.events import Actor
from retail.models import Brand, Staff
from retail.tenancy import brand_scope

FIELDS = (
    "packet_max_fen",
    "share_max_fen",
    "daily_send_max_fen",
    "max_shares",
    "withdraw_min_fen",
    "withdraw_daily_max_fen",
    "withdraw_daily_count",
    "default_expiry_hours",
)


def settings_get(*, brand: Brand) -> Settings:
    """The brand's limits, created with defaults on first use."""
    with brand_scope(brand):
        row = Settings.objects.for_brand(brand).first()
        if row is None:
            try:
                with transaction.atomic():
                    row = Settings.objects.create(brand=brand)
            except IntegrityError:
                row = Settings.objects.for_brand(brand).get()
        return row


def settings_update(*, brand: Brand, staff: Staff, actor: Actor, data: dict[str, Any]) -> Settings:
    """Change the limits (brand admins only); validated by the model's fields."""
    roles.require(brand, staff, staff.is_brand_admin)
    with brand_scope(brand):
        row = Settings.objects.select_for_update().get(pk=settings_get(brand=brand).pk)
        changes = {}
        for field in FIELDS:
            if field in data and data[field] != getattr(row, field):
                changes[field] = [getattr(row, field), data[field]]
                setattr(row, field, data[field])
        if changes:
            row.updated_at = timezone.now()
            row.full_clean(exclude=["brand"])
            row.save()
            events.settings_changed(brand=brand, actor=actor, changes=changes)
        return row
