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


# --- mass messages, push, outbound notices (broadcasts.py, push.py, outbound.py) ---------------


@shared_task
def broadcasts_minutely() -> None:
    """Beat: each active brand looks for its due mass messages."""
    for brand_id in Brand.objects.filter(status=Brand.Status.ACTIVE).values_list("pk", flat=True):
        broadcasts_due.delay(brand_id)


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def broadcasts_due(self, brand_id: int) -> int:
    """Send the brand's scheduled mass messages whose time has come (and resume dead sends)."""
    from guides.messaging import broadcasts

    brand = Brand.objects.get(pk=brand_id)
    ids = broadcasts.broadcasts_due(brand=brand)
    for pk in ids:
        broadcast_send.delay(brand_id, pk)
    return len(ids)


@shared_task(base=BrandTask, bind=True, single_transaction=False, acks_late=True)
def broadcast_send(self, brand_id: int, broadcast_id: int) -> dict | None:
    """Send one mass message, set-based (a second run finds it claimed and does nothing)."""
    from guides.messaging import broadcasts

    b = broadcasts.broadcast_send(brand=Brand.objects.get(pk=brand_id), broadcast_id=broadcast_id)
    return None if b is None else {"status": b.status, "sent": b.sent}


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def broadcast_deliver(self, brand_id: int, broadcast_id: int, after_member: int, upto_member: int) -> int:
    """Live delivery of one batch of a mass message to shoppers on the chat page."""
    from guides.messaging import broadcasts

    return broadcasts.broadcast_deliver(
        brand=Brand.objects.get(pk=brand_id),
        broadcast_id=broadcast_id,
        after_member=after_member,
        upto_member=upto_member,
    )


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def push_guide(self, brand_id: int, staff_id: int) -> bool:
    """One push to the guide summarising her unread messages (batched by push.schedule)."""
    from guides.messaging import push

    return push.push_guide(brand=Brand.objects.get(pk=brand_id), staff_id=staff_id)


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def notice_member(self, brand_id: int, conversation_id: int, message_id: int) -> str:
    """A notice to the shopper if they have not read the message (outbound.schedule)."""
    from guides.messaging import outbound

    return outbound.notice_send(
        brand=Brand.objects.get(pk=brand_id), conversation_id=conversation_id, message_id=message_id
    )
