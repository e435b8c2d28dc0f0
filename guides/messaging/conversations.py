"""The core writes of messaging: a member's conversation, sending a message, reading.

Every message of every sender (member, guide, brand, auto-reply, system, mass message) is stored
by ``message_send``; the follow-ups run after commit: live delivery to both sides' sockets, the
guide's batched push, the shopper's outbound notice, the auto-reply."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from guides.messaging import realtime, wire
from guides.messaging.models import BODY_MAX, Conversation, Message, MessagingSettings
from members.models import Member
from retail import private_files
from retail import sql as sql_meta
from retail.cache import NearCache
from retail.models import Brand, Staff
from retail.tenancy import within_brand

PREVIEW_LEN = 60


SETTINGS_CACHE_SECONDS = 60
# And for a few seconds in the process itself: another process sees an admin's change within that.
_near_settings = NearCache(seconds=3)


def _settings_key(brand_id: int) -> str:
    return f"chat:settings:{brand_id}"


def settings_cached(*, brand: Brand) -> MessagingSettings:
    """``settings_get`` for the send path: kept in the cache for a minute (and 3 s in the process)
    and dropped when an admin saves them (``settings_changed``), so a message costs no query and
    no cache round trip for them."""
    key = _settings_key(brand.pk)
    found = _near_settings.get(key)
    if found is not None:
        return found
    found = cache.get(key)
    if not (isinstance(found, MessagingSettings) and found.brand_id == brand.pk):
        found = settings_get(brand=brand)
        cache.set(key, found, SETTINGS_CACHE_SECONDS)
    _near_settings.set(key, found)
    return found


def settings_changed(*, brand: Brand) -> None:
    """Drop the cached settings now and again after commit (a reader in between may have cached
    the old row)."""
    key = _settings_key(brand.pk)

    def drop():
        cache.delete(key)
        _near_settings.delete(key)

    drop()
    transaction.on_commit(drop)


def settings_get(*, brand: Brand) -> MessagingSettings:
    """The brand's messaging settings (created with the defaults on first use)."""
    with within_brand(brand):
        found = MessagingSettings.objects.filter(brand=brand).first()
        if found is not None:
            return found
        try:
            with transaction.atomic():
                return MessagingSettings.objects.create(brand=brand)
        except IntegrityError:  # a concurrent first use won
            return MessagingSettings.objects.get(brand=brand)


def conversation_for_member(*, brand: Brand, member: Member) -> Conversation:
    """The member's conversation (one per member; created on first need)."""
    if member.brand_id != brand.pk:
        raise PermissionDenied
    with within_brand(brand):
        conv = Conversation.objects.filter(member=member).first()
        if conv is not None:
            conv.member = member  # the send path reads the member's guide from it
            return conv
        try:
            with transaction.atomic():
                return Conversation.objects.create(brand=brand, member=member)
        except IntegrityError:  # a concurrent first message or join won
            return Conversation.objects.get(member=member)


def guide_conversation(*, brand: Brand, staff: Staff, pk: int) -> Conversation:
    """A conversation the guide may open: its member is active and she is their exclusive guide
    now (a hand-over or leaving takes it away in the same transaction). Else PermissionDenied."""
    with within_brand(brand):
        conv = (
            Conversation.objects.for_brand(brand)
            .select_related("member")
            .filter(pk=pk, status=Conversation.Status.OPEN)
            .first()
        )
    if conv is None:
        raise PermissionDenied(_("This conversation is not yours."))
    check_guide_access(conv, staff)
    return conv


def check_guide_access(conv: Conversation, staff: Staff) -> None:
    """PermissionDenied unless the conversation (read with its member) is open, its member active
    and ``staff`` (active) their exclusive guide now."""
    if (
        conv.status != Conversation.Status.OPEN
        or conv.member.guide_id != staff.pk
        or not conv.member.is_active
        or staff.status != Staff.Status.ACTIVE
    ):
        raise PermissionDenied(_("This conversation is not yours."))


def preview(kind: str, body: str) -> str:
    labels = {
        Message.Kind.IMAGE: _("[Image]"),
        Message.Kind.PRODUCT: _("[Product]"),
        Message.Kind.COUPON: _("[Coupon]"),
        Message.Kind.ORDER: _("[Order]"),
    }
    text = " ".join((body or "").split())
    if kind in labels:
        text = f"{labels[kind]} {text}".strip()
    return text[:PREVIEW_LEN]


@dataclass
class Sent:
    message: Message
    created: bool  # False: the same client_id was stored before (a resend)


def message_send(
    *,
    brand: Brand,
    conversation: Conversation,
    sender: str,
    staff: Staff | None = None,
    kind: str = Message.Kind.TEXT,
    body: str = "",
    data: dict | None = None,
    image=None,
    client_id: str = "",
    broadcast_id: int | None = None,
    publish: bool = True,
) -> Sent:
    """Store one message and update the conversation's preview and unread count, in one
    transaction. A ``client_id`` seen before in this conversation from this sender returns the
    stored message (``created`` False) and changes nothing.

    Checks of who may send (the guide's access, the shopper's limits and banned words) are made
    by the callers (``send_as_guide``, ``send_as_member`` ...) before this is called."""
    if sender not in Message.Sender.values or kind not in Message.Kind.values:
        raise ValidationError(_("Unknown message."))
    body = (body or "").strip()
    if len(body) > BODY_MAX:
        raise ValidationError({"body": _("A message can have at most %(n)d characters.") % {"n": BODY_MAX}})
    if kind == Message.Kind.TEXT and not body:
        raise ValidationError({"body": _("Write a message.")})
    client_id = (client_id or "")[:40]
    now = timezone.now()
    fields = {
        "brand": brand,
        "conversation": conversation,
        "sender": sender,
        "staff": staff,
        "kind": kind,
        "body": body,
        "data": data or {},
        "image": image or "",
        "files_expire_at": private_files.expiry(now) if image else None,
        "client_id": client_id,
        "broadcast_id": broadcast_id,
        "created_at": now,
    }
    # Part of the caller's transaction when there is one (no savepoint of its own).
    with within_brand(brand), transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql" and not image:
            msg = _store_in_one_statement(fields, preview(kind, body))
            if msg is None:  # a resend: stored before under this client_id
                found = Message.objects.filter(
                    conversation=conversation, sender=sender, client_id=client_id
                ).first()
                return Sent(found, False)
            if publish:
                publish_message(brand=brand, conversation=conversation, message=msg, staff=staff)
            return Sent(msg, True)
        if client_id:
            # A resend hits the unique index: only then is the savepoint rolled back.
            try:
                with transaction.atomic():
                    msg = Message.objects.create(**fields)
            except IntegrityError:
                found = Message.objects.filter(
                    conversation=conversation, sender=sender, client_id=client_id
                ).first()
                if found is None:
                    raise
                return Sent(found, False)
        else:
            msg = Message.objects.create(**fields)
        to_guide = sender == Message.Sender.MEMBER
        changes = {
            "last_message_at": now,
            "last_preview": preview(kind, body),
            "last_sender": sender,
        }
        if to_guide:
            changes["guide_unread"] = F("guide_unread") + 1
            # The member has seen everything up to what they write.
            changes["member_read_upto"] = msg.pk
            changes["member_unread"] = 0
        else:
            changes["member_unread"] = F("member_unread") + 1
        if sender == Message.Sender.GUIDE:
            # The guide wrote: the quiet period is over, and she is taken as there for a while.
            changes["auto_reply_key"] = wrote_key(now)
            changes["guide_read_upto"] = msg.pk
            changes["guide_unread"] = 0
        Conversation.objects.filter(pk=conversation.pk).update(**changes)
        if publish:
            publish_message(brand=brand, conversation=conversation, message=msg, staff=staff)
    return Sent(msg, True)


def wrote_key(at) -> str:
    """The conversation's auto-reply key after the guide writes: no quiet period, and the time
    she wrote (``autoreply`` sends nothing for a while after it)."""
    return f"wrote:{int(at.timestamp())}"


# What storing a message does to its conversation, by sender (the ORM path below does the same).
_TOUCH = {
    Message.Sender.MEMBER: "guide_unread = c.guide_unread + 1, member_read_upto = m.id, member_unread = 0",
    Message.Sender.GUIDE: (
        "member_unread = c.member_unread + 1, auto_reply_key = %s, guide_read_upto = m.id, guide_unread = 0"
    ),
}
_TOUCH_OTHERS = "member_unread = c.member_unread + 1"


def _store_in_one_statement(fields: dict, last_preview: str) -> Message | None:
    """PostgreSQL: insert the message and update its conversation in one statement (no savepoint:
    a resend meets ``ON CONFLICT DO NOTHING`` on the client-id index). None for a resend. The
    chat's hot path: one round trip and no model save for what the ORM does in four."""
    m, c = sql_meta.table(Message), sql_meta.table(Conversation)
    sender = fields["sender"]
    sql = (
        f"WITH m AS (INSERT INTO {m} (brand_id, conversation_id, sender, staff_id, kind, body, data, image,"  # noqa: S608 - tables from model meta, SET from _TOUCH
        " files_expire_at, client_id, broadcast_id, created_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, '', NULL, %s, %s, %s)"
        " ON CONFLICT (brand_id, conversation_id, sender, client_id) WHERE client_id <> '' DO NOTHING"
        " RETURNING id),"
        f" t AS (UPDATE {c} AS c SET last_message_at = %s, last_preview = %s, last_sender = %s,"
        f" {_TOUCH.get(sender, _TOUCH_OTHERS)} FROM m WHERE c.brand_id = %s AND c.id = %s)"
        " SELECT id FROM m"
    )
    brand, conv, staff, now = fields["brand"], fields["conversation"], fields["staff"], fields["created_at"]
    params = [
        brand.pk, conv.pk, sender, staff.pk if staff else None, fields["kind"], fields["body"],
        json.dumps(fields["data"]), fields["client_id"], fields["broadcast_id"], now,
        now, last_preview, sender, *([wrote_key(now)] if sender == Message.Sender.GUIDE else []),
        brand.pk, conv.pk,
    ]  # fmt: skip
    with connection.cursor() as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
    if row is None:
        return None
    msg = Message(id=row[0], **fields)
    msg._state.adding, msg._state.db = False, connection.alias
    return msg


def guide_id_of(conversation: Conversation) -> int | None:
    """The conversation's guide now: its member's exclusive guide (no query when the member was
    loaded with it, as the send path does)."""
    if "member" in conversation._state.fields_cache:
        return conversation.member.guide_id
    return Member.objects.filter(pk=conversation.member_id).values_list("guide_id", flat=True).first()


def publish_message(
    *, brand: Brand, conversation: Conversation, message: Message, staff: Staff | None
) -> None:
    """Deliver to the member's sockets and their guide's, after commit."""
    guide_id = guide_id_of(conversation)
    groups = [realtime.chat_member_group(brand.pk, conversation.member_id)]
    if guide_id:
        groups.append(realtime.chat_staff_group(brand.pk, guide_id))
    event = {"type": "chat.message", "message": wire.message(message, staff_name=staff.name if staff else "")}
    realtime.send_on_commit(groups, event)


def mark_delivered(*, brand_id: int, conversation_id: int, upto: int) -> None:
    """The shopper's page received messages up to ``upto``: one UPDATE (a no-op when another tab
    got there first), and the guide's ticks turn to "delivered" after commit."""
    with within_brand(brand_id), transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":  # the UPDATE hands back the guide: one round trip
            c, m = sql_meta.table(Conversation), sql_meta.table(Member)
            with connection.cursor() as cur:
                cur.execute(
                    f"UPDATE {c} AS c SET member_delivered_upto = %s FROM {m} AS m"  # noqa: S608 - tables from model meta
                    " WHERE c.brand_id = %s AND c.id = %s AND c.member_delivered_upto < %s"
                    " AND m.id = c.member_id RETURNING m.guide_id",
                    [upto, brand_id, conversation_id, upto],
                )
                row = cur.fetchone()
            guide_id = row[0] if row else None
        else:
            n = Conversation.objects.filter(pk=conversation_id, member_delivered_upto__lt=upto).update(
                member_delivered_upto=upto
            )
            mine = Conversation.objects.filter(pk=conversation_id)
            guide_id = mine.values_list("member__guide_id", flat=True).first() if n else None
        if guide_id:
            realtime.send_on_commit(
                [realtime.chat_staff_group(brand_id, guide_id)],
                {"type": "chat.read", "conversation": conversation_id, "side": "delivered", "upto": upto},
            )


def conversation_read(*, brand: Brand, conversation: Conversation, side: str, upto: int | None = None) -> int:
    """The ``side`` ("guide" or "member") has read the conversation up to ``upto`` (default: its
    last message). Returns the new mark; the other side is told (its ticks turn to read)."""
    if side not in ("guide", "member"):
        raise ValidationError(_("Unknown side."))
    with within_brand(brand), transaction.atomic(savepoint=False):
        last = (
            Message.objects.filter(conversation=conversation)
            .order_by("-id")
            .values_list("id", flat=True)
            .first()
            or 0
        )
        mark = last if upto is None else max(0, min(int(upto), last))
        field = f"{side}_read_upto"
        unread_field = f"{side}_unread"
        if side == "guide":
            unread = Message.objects.filter(
                conversation=conversation, id__gt=mark, sender=Message.Sender.MEMBER
            ).count()
        else:
            unread = (
                Message.objects.filter(conversation=conversation, id__gt=mark)
                .exclude(sender=Message.Sender.MEMBER)
                .count()
            )
        updates = {field: mark, unread_field: unread}
        if side == "member":
            updates["member_delivered_upto"] = mark
        n = (
            Conversation.objects.filter(pk=conversation.pk, **{f"{field}__lt": mark}).update(**updates)
            if mark
            else 0
        )
        if n:
            guide_id = (
                Member.objects.filter(pk=conversation.member_id).values_list("guide_id", flat=True).first()
            )
            groups = [realtime.chat_member_group(brand.pk, conversation.member_id)]
            if guide_id:
                groups.append(realtime.chat_staff_group(brand.pk, guide_id))
            realtime.send_on_commit(
                groups,
                {"type": "chat.read", "conversation": conversation.pk, "side": side, "upto": mark},
            )
    return mark
