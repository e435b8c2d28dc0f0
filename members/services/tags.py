"""Tags on members, by hand and by rule."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from members import events
from members.models import Member, MemberTag, Tag, TagRule
from members.services.access import require_admin, require_staff
from retail.events import Actor
from retail.models import Brand, Staff
from retail.tenancy import brand_scope


def tag_create(*, brand: Brand, manager: Staff, actor: Actor, name: str, group: str = Tag.Group.OTHER) -> Tag:
    require_admin(brand, manager)
    name = (name or "").strip()
    if not name or len(name) > 32:
        raise ValidationError({"name": _("A tag name of 1 to 32 characters.")})
    if group not in Tag.Group.values:
        raise ValidationError({"group": _("Unknown group.")})
    with brand_scope(brand):
        if Tag.objects.for_brand(brand).filter(name=name).exists():
            raise ValidationError({"name": _("This tag already exists.")})
        tag = Tag.objects.create(brand=brand, name=name, group=group)
        events.tag_created(brand=brand, actor=actor, tag=tag)
    return tag


def member_tags_change(
    *,
    brand: Brand,
    staff: Staff,
    actor: Actor,
    member: Member,
    add: Iterable[int] = (),
    remove: Iterable[int] = (),
    source: str = MemberTag.Source.STAFF,
) -> list[Tag]:
    """Add and remove tags on a member; returns the member's tags."""
    require_staff(brand, staff)
    add, remove = set(add), set(remove)
    with brand_scope(brand):
        known = set(Tag.objects.for_brand(brand).filter(pk__in=add | remove).values_list("pk", flat=True))
        if known != add | remove:
            raise ValidationError({"tags": _("Unknown tag.")})
        MemberTag.objects.filter(member=member, tag_id__in=remove).delete()
        have = set(MemberTag.objects.filter(member=member).values_list("tag_id", flat=True))
        MemberTag.objects.bulk_create(
            [MemberTag(brand=brand, member=member, tag_id=t, source=source) for t in add - have],
            ignore_conflicts=True,
        )
        if add - have or remove:
            events.member_tags_changed(
                brand=brand, actor=actor, member=member, added=add - have, removed=remove
            )
        return list(Tag.objects.for_brand(brand).filter(member_tags__member=member).order_by("group", "name"))


def tag_rule_save(
    *, brand: Brand, manager: Staff, actor: Actor, tag: Tag, field: str, op: str, value: int
) -> TagRule:
    require_admin(brand, manager)
    with brand_scope(brand):
        rule, _created = TagRule.objects.update_or_create(
            brand=brand, tag=tag, defaults={"field": field, "op": op, "value": value}
        )
        rule.full_clean(exclude=["brand", "tag"], validate_constraints=False)
        tag_rules_apply(brand=brand)
    return rule


def tag_rules_apply(*, brand: Brand, now: datetime.datetime | None = None) -> int:
    """Apply every tag rule set-based: tag matching members, untag rule-tagged ones that no
    longer match. Returns the number of rows changed."""
    now = now or timezone.now()
    changed = 0
    with brand_scope(brand):
        for rule in TagRule.objects.for_brand(brand).select_related("tag"):
            matching = Member.objects.for_brand(brand).filter(status=Member.Status.ACTIVE)
            if rule.field == TagRule.Field.DAYS_SINCE_PURCHASE:
                cutoff = now - datetime.timedelta(days=rule.value)
                cond = (
                    Q(last_purchase_at__lte=cutoff)
                    if rule.op == TagRule.Op.GTE
                    else Q(last_purchase_at__gte=cutoff)
                )
            else:
                cond = Q(**{f"{rule.field}__{rule.op}": rule.value})
            matching = matching.filter(cond)
            stale = MemberTag.objects.filter(tag=rule.tag, source=MemberTag.Source.RULE).exclude(
                member__in=matching.values("pk")
            )
            changed += stale.delete()[0]
            new = matching.exclude(member_tags__tag=rule.tag).values_list("pk", flat=True)
            rows = [
                MemberTag(brand=brand, member_id=pk, tag=rule.tag, source=MemberTag.Source.RULE) for pk in new
            ]
            MemberTag.objects.bulk_create(rows, batch_size=5000, ignore_conflicts=True)
            changed += len(rows)
    return changed
