"""Orders, coupons and touches follow a member through a merge, and back on undo."""

from __future__ import annotations

from cloudstore.models import Coupon, Order, Touch
from members.services.merge import MERGE_HOOKS

MOVED = (("orders", Order), ("coupons", Coupon), ("touches", Touch))


def merge(brand, survivor, absorbed) -> dict:
    data = {}
    for name, model in MOVED:
        ids = list(model.objects.for_brand(brand).filter(member=absorbed).values_list("pk", flat=True))
        model.objects.for_brand(brand).filter(pk__in=ids).update(member=survivor)
        data[name] = ids
    return data


def undo(brand, survivor, absorbed, data: dict) -> None:
    for name, model in MOVED:
        model.objects.for_brand(brand).filter(pk__in=data.get(name, []), member=survivor).update(
            member=absorbed
        )


MERGE_HOOKS["cloudstore"] = (merge, undo)
