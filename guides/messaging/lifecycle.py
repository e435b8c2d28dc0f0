"""Conversations follow the member: joining (welcome), a new guide (hand-over notice), a merge and
its undo (MERGE_HOOKS), staff leaving."""

from __future__ import annotations

from retail.models import Brand


def member_joined(*, brand: Brand, member_id: int, guide_id: int | None) -> None:
    from guides.messaging import welcome

    welcome.member_joined(brand=brand, member_id=member_id, guide_id=guide_id)


def guide_changed(*, brand: Brand, payload: dict) -> None:
    from guides.messaging import handover

    handover.guide_changed(brand=brand, payload=payload)


def staff_left(*, brand: Brand, staff_id: int) -> None:
    from guides.messaging import handover

    handover.staff_left(brand=brand, staff_id=staff_id)
