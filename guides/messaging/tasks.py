"""Celery tasks of messaging: thin, brand id first; each calls a service."""

from __future__ import annotations

from celery import shared_task

from retail.celery import BrandTask
from retail.models import Brand


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def member_joined(self, brand_id: int, member_id: int, guide_id: int | None) -> None:
    """Open the new member's conversation with the welcome message from their guide."""
    from guides.messaging import lifecycle

    lifecycle.member_joined(brand=Brand.objects.get(pk=brand_id), member_id=member_id, guide_id=guide_id)


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def guide_changed(self, brand_id: int, payload: dict) -> None:
    """Tell members who their new guide is (hand-over, a manager's choice, the member's request)."""
    from guides.messaging import lifecycle

    lifecycle.guide_changed(brand=Brand.objects.get(pk=brand_id), payload=payload)


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def staff_left(self, brand_id: int, staff_id: int) -> None:
    """Close the chat sockets of someone who left."""
    from guides.messaging import lifecycle

    lifecycle.staff_left(brand=Brand.objects.get(pk=brand_id), staff_id=staff_id)
