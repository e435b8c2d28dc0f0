"""A member's conversation follows their exclusive guide: the hand-over notice, and a guide who left.

The conversation has no guide column (its guide is always ``member.guide``), so a hand-over has
already moved every conversation with its whole history when ``member.guide_changed`` arrives:
the old guide lost access in that transaction, the new one sees everything. What is left is to
tell the members who their new guide is, set-based (a hand-over can move thousands of members):
one query for the open bindings, one insert for the missing conversations, one for the notices,
one update for the conversations' previews and unread counts.

Idempotent on a task retry: each notice's ``client_id`` is ``guide:<guide id>:<binding id>`` (the
binding that made the guide theirs), unique per conversation and sender."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from guides.messaging import realtime, wire
from guides.messaging.conversations import preview
from guides.messaging.models import Conversation, Message
from members.models import GuideBinding, Member
from retail.models import Brand, Staff
from retail.tenancy import brand_scope

logger = logging.getLogger(__name__)

# Reasons that need no notice: on joining, the welcome message names the guide.
SILENT_REASONS = {"join"}
# Live delivery of a big hand-over's notices is sent in chunks of this many groups.
CHUNK = 500


def notice_text(guide_name: str) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return _("Your exclusive guide is now %(name)s.") % {"name": guide_name}


def guide_changed(*, brand: Brand, payload: dict) -> int:
    """Post a notice "your exclusive guide is now X" into each member's conversation (created if
    missing). Members whose guide changed again since (a later event tells them) or who are no
    longer active are skipped. Returns how many notices were stored now."""
    if payload.get("reason") in SILENT_REASONS:
        return 0
    guide_id = payload.get("guide_id")
    member_ids = [int(m) for m in payload.get("member_ids") or []]
    if not guide_id or not member_ids:
        return 0
    with brand_scope(brand):
        guide = Staff.objects.for_brand(brand).filter(pk=guide_id).first()
        if guide is None:
            return 0
        current = set(
            Member.objects.for_brand(brand)
            .filter(pk__in=member_ids, guide_id=guide.pk, status=Member.Status.ACTIVE)
            .values_list("pk", flat=True)
        )
        if not current:
            return 0
        markers = dict(
            GuideBinding.objects.filter(member_id__in=current, guide_id=guide.pk, ended_at__isnull=True)
            .order_by("member_id", "started_at", "pk")
            .values_list("member_id", "pk")
        )
        body = notice_text(guide.name)
        now = timezone.now()
        with transaction.atomic():
            have = dict(Conversation.objects.filter(member_id__in=current).values_list("member_id", "pk"))
            missing = [m for m in current if m not in have]
            if missing:
                Conversation.objects.bulk_create(
                    [Conversation(brand=brand, member_id=m, created_at=now) for m in missing],
                    ignore_conflicts=True,  # a concurrent first message or join made one
                    batch_size=2000,
                )
                have = dict(Conversation.objects.filter(member_id__in=current).values_list("member_id", "pk"))
            client_ids = {
                m: f"guide:{guide.pk}:{markers.get(m) or payload.get('previous_guide_id') or 0}"[:40]
                for m in current
            }
            already = set(
                Message.objects.filter(
                    conversation_id__in=have.values(),
                    sender=Message.Sender.SYSTEM,
                    client_id__in=set(client_ids.values()),
                ).values_list("conversation_id", "client_id")
            )
            rows = [
                Message(
                    brand=brand,
                    conversation_id=have[m],
                    sender=Message.Sender.SYSTEM,
                    kind=Message.Kind.NOTICE,
                    body=body,
                    data={"guide": guide.pk, "guide_name": guide.name},
                    client_id=client_ids[m],
                    created_at=now,
                )
                for m in sorted(current)
                if (have[m], client_ids[m]) not in already
            ]
            if not rows:
                return 0
            Message.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
            # The rows this run stored (a concurrent retry's have another created_at).
            stored = list(
                Message.objects.filter(
                    conversation_id__in=[r.conversation_id for r in rows],
                    sender=Message.Sender.SYSTEM,
                    created_at=now,
                    client_id__in=[r.client_id for r in rows],
                ).order_by("id")
            )
            Conversation.objects.filter(pk__in=[m.conversation_id for m in stored]).update(
                last_message_at=now,
                last_preview=preview(Message.Kind.NOTICE, body),
                last_sender=Message.Sender.SYSTEM,
                member_unread=F("member_unread") + 1,
            )
            members_of = {conv: member for member, conv in have.items()}
            deliveries = [
                (members_of[m.conversation_id], {"type": "chat.message", "message": wire.message(m)})
                for m in stored
            ]
            transaction.on_commit(lambda: _deliver(brand.pk, guide.pk, deliveries))
    return len(stored)


def _deliver(brand_id: int, guide_id: int, deliveries: list[tuple[int, dict]]) -> None:
    """Each notice to its member's sockets and the new guide's, in one event loop run per chunk."""
    layer = get_channel_layer()
    if layer is None or not deliveries:
        return
    staff_group = realtime.chat_staff_group(brand_id, guide_id)

    async def send(chunk):
        for member_id, event in chunk:
            await layer.group_send(realtime.chat_member_group(brand_id, member_id), event)
            await layer.group_send(staff_group, event)

    for i in range(0, len(deliveries), CHUNK):
        try:
            async_to_sync(send)(deliveries[i : i + CHUNK])
        except Exception:  # stored: the pages catch up when they load or reconnect
            logger.warning("chat hand-over notices not delivered live", exc_info=True)
            return


def staff_left(*, brand: Brand, staff_id: int) -> None:
    """Close the chat sockets of someone who left (their access ended with their status)."""
    realtime.send_now([realtime.chat_staff_group(brand.pk, staff_id)], {"type": "chat.close", "code": 4403})
