"""Attribution rule versions, commission rules and settlement settings (writes; brand admins only)."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from cloudstore.models import Category, Sku
from guides.models import AttributionRule, CommissionRule, CommissionSettings
from retail import roles
from retail.events import Actor, record
from retail.models import Brand, Staff
from retail.tenancy import brand_scope

# The first version a brand gets: in force since before any order.
DEFAULT_START = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)
RULE_FIELDS = [
    "cloud_store",
    "flagship",
    "pos",
    "touch_window_days",
    "dual_credit_store",
    "exclude_staff_purchases",
    "min_order_fen",
    "note",
]


def _error(field: str | None, message: str, code: str = "invalid") -> ValidationError:
    if field is None:
        return ValidationError(message, code=code)
    return ValidationError({field: ValidationError(message, code=code)})


def attribution_rules_all(*, brand: Brand) -> list[AttributionRule]:
    """Every version, oldest first by (effective_from, version); version 1 is created on first use."""
    with brand_scope(brand):
        rows = list(AttributionRule.objects.for_brand(brand).order_by("effective_from", "version"))
        if rows:
            return rows
        try:
            with transaction.atomic():
                AttributionRule.objects.create(brand=brand, version=1, effective_from=DEFAULT_START)
        except IntegrityError:
            pass
        return list(AttributionRule.objects.for_brand(brand).order_by("effective_from", "version"))


def attribution_rule_current(*, brand: Brand, at: datetime.datetime | None = None) -> AttributionRule:
    at = at or timezone.now()
    rows = [r for r in attribution_rules_all(brand=brand) if r.effective_from <= at]
    return rows[-1] if rows else attribution_rules_all(brand=brand)[0]


def attribution_rule_create(
    *,
    brand: Brand,
    staff: Staff,
    actor: Actor,
    data: dict[str, Any],
    effective_from: datetime.datetime | None,
) -> AttributionRule:
    """A new version of the attribution rules. Orders already attributed keep their result; a period
    is attributed again only when someone asks for it (``reattribution_request``)."""
    roles.require(brand, staff, staff.is_brand_admin)
    now = timezone.now()
    effective_from = effective_from or now
    with brand_scope(brand):
        base = attribution_rule_current(brand=brand)
        with transaction.atomic():
            AttributionRule.objects.select_for_update().filter(pk=base.pk).exists()  # versions queue here
            version = (AttributionRule.objects.aggregate(v=Max("version"))["v"] or 0) + 1
            row = AttributionRule(
                brand=brand, version=version, effective_from=effective_from, created_by=staff
            )
            for f in RULE_FIELDS:
                setattr(row, f, data.get(f, getattr(base, f)))
            row.full_clean(exclude=["brand", "created_by"])
            row.save()
            record(
                brand=brand,
                actor=actor,
                action="commission.attribution_rules",
                target=row,
                data={
                    "version": version,
                    "effective_from": effective_from.isoformat(),
                    **{f: getattr(row, f) for f in RULE_FIELDS},
                },
            )
            past = AttributionRule.objects.filter(effective_from__gt=effective_from).exists()
        row.overridden_later = past
        return row


def _span(effective_from, effective_to):
    if effective_to is not None and effective_from is not None and effective_to <= effective_from:
        raise _error("effective_to", _("The end must come after the start."))


def commission_rule_create(
    *, brand: Brand, staff: Staff, actor: Actor, data: dict[str, Any]
) -> CommissionRule:
    """A commission rule. Its terms never change afterwards (attributed orders point at them);
    to change a rate, end the rule and create another."""
    roles.require(brand, staff, staff.is_brand_admin)
    with brand_scope(brand):
        row = CommissionRule(brand=brand, created_by=staff)
        row.name = (data.get("name") or "").strip()
        row.kind = data.get("kind") or CommissionRule.Kind.PERCENT
        row.rate_bp = data.get("rate_bp") or 0
        row.fixed_fen = data.get("fixed_fen") or 0
        row.cap_fen = data.get("cap_fen")
        row.channel = data.get("channel") or ""
        row.effective_from = data.get("effective_from") or timezone.now()
        row.effective_to = data.get("effective_to")
        sku_id, category_id = data.get("sku"), data.get("category")
        if sku_id and category_id:
            raise _error("sku", _("Choose a SKU or a category, not both."))
        if sku_id:
            row.sku = Sku.objects.for_brand(brand).filter(pk=sku_id).first()
            if row.sku is None:
                raise _error("sku", _("No such SKU."), "not_found")
        if category_id:
            row.category = Category.objects.for_brand(brand).filter(pk=category_id).first()
            if row.category is None:
                raise _error("category", _("No such category."), "not_found")
        if not row.name:
            raise _error("name", _("Give the rule a name."), "required")
        if row.kind == CommissionRule.Kind.PERCENT and not row.rate_bp:
            raise _error("rate_bp", _("Give a rate above zero."), "required")
        if row.kind == CommissionRule.Kind.FIXED and not row.fixed_fen:
            raise _error("fixed_fen", _("Give an amount above zero."), "required")
        if row.kind == CommissionRule.Kind.PERCENT:
            row.fixed_fen = 0
        else:
            row.rate_bp = 0
        _span(row.effective_from, row.effective_to)
        row.full_clean(exclude=["brand", "created_by", "sku", "category"])
        with transaction.atomic():
            row.save()
            record(
                brand=brand, actor=actor, action="commission.rule_created", target=row, data=_rule_data(row)
            )
        return row


def commission_rule_end(
    *, brand: Brand, staff: Staff, actor: Actor, rule: CommissionRule, at: datetime.datetime | None = None
) -> CommissionRule:
    """End a rule at ``at`` (now by default); its terms stay for the orders it already credited.
    A rule that has not started yet is withdrawn (deleted, and audited)."""
    roles.require(brand, staff, staff.is_brand_admin)
    at = at or timezone.now()
    with brand_scope(brand), transaction.atomic():
        row = CommissionRule.objects.select_for_update().get(pk=rule.pk)
        if row.effective_to is not None and row.effective_to <= at:
            raise _error(None, _("This rule has already ended."), "already_ended")
        if at <= row.effective_from:
            if row.effective_from <= timezone.now():
                raise _error("effective_to", _("The end must come after the start."))
            # Not in force yet: no order was paid under it, so withdrawing it leaves nothing behind.
            record(
                brand=brand, actor=actor, action="commission.rule_withdrawn", target=row, data=_rule_data(row)
            )
            row.delete()
            row.effective_to = row.effective_from
            return row
        row.effective_to = at
        row.save(update_fields=["effective_to"])
        record(brand=brand, actor=actor, action="commission.rule_ended", target=row, data=_rule_data(row))
        return row


def _rule_data(row: CommissionRule) -> dict:
    return {
        "name": row.name,
        "kind": row.kind,
        "rate_bp": row.rate_bp,
        "fixed_fen": row.fixed_fen,
        "cap_fen": row.cap_fen,
        "channel": row.channel,
        "sku": row.sku_id,
        "category": row.category_id,
        "effective_from": row.effective_from.isoformat(),
        "effective_to": row.effective_to.isoformat() if row.effective_to else None,
    }


def settings_get(*, brand: Brand) -> CommissionSettings:
    with brand_scope(brand):
        row = CommissionSettings.objects.for_brand(brand).first()
        if row is None:
            try:
                with transaction.atomic():
                    row = CommissionSettings.objects.create(brand=brand)
            except IntegrityError:
                row = CommissionSettings.objects.for_brand(brand).get()
        return row


def settings_update(*, brand: Brand, staff: Staff, actor: Actor, data: dict[str, Any]) -> CommissionSettings:
    roles.require(brand, staff, staff.is_brand_admin)
    with brand_scope(brand), transaction.atomic():
        row = CommissionSettings.objects.select_for_update().get(pk=settings_get(brand=brand).pk)
        changes = {}
        for f in ("period", "timezone", "greeting"):
            if f in data and data[f] != getattr(row, f):
                changes[f] = data[f]
                setattr(row, f, data[f])
        row.full_clean(exclude=["brand"])
        if changes:
            row.save()
            record(brand=brand, actor=actor, action="commission.settings", target=row, data=changes)
        return row
