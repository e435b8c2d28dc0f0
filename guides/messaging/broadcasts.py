"""Mass messages (群发): create (now or scheduled), cancel, and the set-based send.

The send (``broadcast_send``, run by the Celery task ``guides.messaging.tasks.broadcast_send``):

1. claims the broadcast once: ``scheduled → sending`` in one conditional UPDATE (a second worker,
   a double-queued task or the beat's due sweep finds nothing to claim); a claim holds a lease
   that every batch renews, so a send whose worker died is picked up again where it stopped;
2. walks the audience in member-id order, ``BATCH`` members per transaction, from the stored
   ``cursor``; per batch:
   * members without marketing consent are skipped (muted);
   * the monthly cap across ALL senders, in ONE statement: ``INSERT INTO guides_massquota ...
     ON CONFLICT (brand, member, month) DO UPDATE SET count = count + 1 WHERE count < cap
     RETURNING member_id``. A concurrent send of another broadcast waits on the same quota rows
     and re-checks ``count < cap`` against the committed count, so no member goes over the cap
     (PostgreSQL; SQLite ≥ 3.35 runs the same statement);
   * the members' missing conversations are inserted in bulk, then the messages (sender brand or
     guide, ``broadcast_id`` set, ``client_id`` "b<id>" so a message is never stored twice), then
     one UPDATE of the conversations' preview and ``member_unread``;
   * the statistics and the cursor are written in the same transaction;
3. marks it sent. Shoppers on the chat page get their message live from a follow-up task per
   batch (after commit, off the send path). Mass messages never trigger outbound notices or
   pushes to the guide."""

from __future__ import annotations

import datetime
import json
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from guides.messaging import broadcast_selectors as sel
from guides.messaging.conversations import preview, settings_get
from guides.messaging.models import BODY_MAX, Broadcast, Conversation, MassQuota, Message
from retail import roles
from retail.bulk import insert_rows
from retail.events import Actor, record
from retail.models import Brand, Staff, Store
from retail.outbox import enqueue_on_commit
from retail.tenancy import brand_scope

logger = logging.getLogger(__name__)

BATCH = 5000
LEASE = datetime.timedelta(minutes=10)
MAX_AHEAD = datetime.timedelta(days=90)
DAYS_MAX = 3650
TAGS_MAX = 20
SEGMENT_KEYS = {"tags", "tier", "store", "guide", "bought_within_days", "not_bought_days"}


# --- creating ----------------------------------------------------------------------------------


def _int(value, field: str, *, low: int = 1, high: int = 2**31 - 1) -> int:
    if isinstance(value, bool):
        raise ValidationError({field: _("Enter a whole number.")})
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: _("Enter a whole number.")}) from None
    if not low <= n <= high:
        raise ValidationError(
            {field: _("Enter a number from %(low)d to %(high)d.") % {"low": low, "high": high}}
        )
    return n


def segment_clean(*, brand: Brand, staff: Staff, segment: dict, guide_only: bool) -> dict:
    """A segment with known keys, bounded numbers and ids of this brand's rows (and, for a store
    manager, only her stores); a guide's segment is only her own members."""
    from members.models import Tag, Tier

    if guide_only:
        return {}
    if not isinstance(segment, dict) or set(segment) - SEGMENT_KEYS:
        raise ValidationError(_("Unknown segment."))
    out: dict = {}
    with brand_scope(brand):
        tags = segment.get("tags") or []
        if not isinstance(tags, list | tuple) or len(tags) > TAGS_MAX:
            raise ValidationError({"tags": _("Choose at most %(n)d tags.") % {"n": TAGS_MAX}})
        tags = sorted({_int(t, "tags") for t in tags})
        if tags:
            if Tag.objects.for_brand(brand).filter(pk__in=tags).count() != len(tags):
                raise ValidationError({"tags": _("Unknown tag.")})
            out["tags"] = tags
        if segment.get("tier") not in (None, ""):
            tier = _int(segment["tier"], "tier")
            if not Tier.objects.for_brand(brand).filter(pk=tier).exists():
                raise ValidationError({"tier": _("Unknown tier.")})
            out["tier"] = tier
        if segment.get("store") not in (None, ""):
            store = _int(segment["store"], "store")
            if not Store.objects.for_brand(brand).filter(pk=store).exists():
                raise ValidationError({"store": _("Unknown store.")})
            if not roles.sees_all_stores(staff) and store not in roles.store_ids(staff):
                raise ValidationError({"store": _("You can only send to your own stores.")})
            out["store"] = store
        if segment.get("guide") not in (None, ""):
            guide = _int(segment["guide"], "guide")
            if not Staff.objects.for_brand(brand).filter(pk=guide).exists():
                raise ValidationError({"guide": _("Unknown guide.")})
            out["guide"] = guide
        for key in ("bought_within_days", "not_bought_days"):
            if segment.get(key) not in (None, ""):
                out[key] = _int(segment[key], key, high=DAYS_MAX)
    return out


def _product_card(*, brand: Brand, staff: Staff, product_id, guide_only: bool) -> dict:
    """A product card: the product's name and price, and the link a shopper opens (a guide's
    share link, which carries her attribution; the brand's: the product page of its first store)."""
    from django.urls import reverse

    from cloudstore.models import Product, ShareLink, Sku
    from cloudstore.services.promotions import share_link_get

    pid = _int(product_id, "product")
    with brand_scope(brand):
        product = Product.objects.for_brand(brand).filter(pk=pid, status=Product.Status.ACTIVE).first()
        if product is None:
            raise ValidationError({"product": _("Unknown product.")})
        price = (
            Sku.objects.for_brand(brand).filter(product=product).order_by("list_price_fen")
            .values_list("list_price_fen", flat=True).first()
        )  # fmt: skip
        store_ids = sorted(roles.store_ids(staff))
        store = (
            Store.objects.for_brand(brand).filter(pk__in=store_ids).first()
            if store_ids
            else Store.objects.for_brand(brand).filter(status=Store.Status.OPEN).order_by("code").first()
        )
        if store is None:
            raise ValidationError({"product": _("The brand has no store to sell this product.")})
        if guide_only:
            link = share_link_get(
                brand=brand, guide=staff, kind=ShareLink.Kind.PRODUCT, store=store, product=product
            )
            url = reverse("share-open", args=[brand.slug, link.code])
        else:
            url = reverse("shop-product", args=[brand.slug, store.code, product.pk])
    return {"product": product.pk, "name": product.name, "price_fen": price, "url": url}


def broadcast_create(
    *,
    brand: Brand,
    staff: Staff,
    actor: Actor | None,
    guide_only: bool,
    body: str = "",
    kind: str = Message.Kind.TEXT,
    product_id=None,
    segment: dict | None = None,
    send_at: datetime.datetime | None = None,
) -> Broadcast:
    """A mass message, sent now (``send_at`` empty) or at ``send_at``. A guide's (``guide_only``)
    reaches her own members; otherwise brand admins send to any segment and store managers to
    segments of their stores. Audited."""
    if staff.brand_id != brand.pk or staff.status != Staff.Status.ACTIVE:
        raise PermissionDenied
    if not guide_only and not roles.can_manage_staff(staff):
        raise PermissionDenied(_("Only brand admins and store managers send to segments."))
    body = (body or "").strip()
    if "\x00" in body:
        raise ValidationError({"body": _("Remove the invalid characters.")})
    if len(body) > BODY_MAX:
        raise ValidationError({"body": _("A message can have at most %(n)d characters.") % {"n": BODY_MAX}})
    data: dict = {}
    if kind == Message.Kind.TEXT:
        if not body:
            raise ValidationError({"body": _("Write a message.")})
    elif kind == Message.Kind.PRODUCT:
        data = _product_card(brand=brand, staff=staff, product_id=product_id, guide_only=guide_only)
    else:
        raise ValidationError({"kind": _("Send a text or a product card.")})
    clean = segment_clean(brand=brand, staff=staff, segment=segment or {}, guide_only=guide_only)
    if not guide_only and not roles.sees_all_stores(staff):
        clean["_stores"] = sorted(roles.store_ids(staff))
    now = timezone.now()
    if send_at is None:
        send_at = now
    elif send_at < now - datetime.timedelta(minutes=1):
        raise ValidationError({"send_at": _("Choose a time in the future.")})
    elif send_at > now + MAX_AHEAD:
        raise ValidationError({"send_at": _("Schedule at most 90 days ahead.")})
    with brand_scope(brand), transaction.atomic():
        b = Broadcast.objects.create(
            brand=brand,
            created_by=staff,
            guide_only=guide_only,
            kind=kind,
            body=body,
            data=data,
            segment=clean,
            send_at=send_at,
            created_at=now,
        )
        record(
            brand=brand,
            actor=actor,
            action="broadcast.created",
            target=b,
            data={"guide_only": guide_only, "segment": clean, "send_at": send_at.isoformat(), "kind": kind},
        )
        if send_at <= now:
            enqueue_on_commit("guides.messaging.tasks.broadcast_send", brand.pk, b.pk)
    return b


def broadcast_cancel(*, brand: Brand, staff: Staff, actor: Actor | None, broadcast: Broadcast) -> Broadcast:
    """Cancel a scheduled broadcast (one that is sending or sent cannot be). Audited."""
    if broadcast.brand_id != brand.pk:
        raise PermissionDenied
    mine = broadcast.created_by_id == staff.pk
    if not (mine or (not broadcast.guide_only and roles.sees_all_stores(staff))):
        raise PermissionDenied
    with brand_scope(brand), transaction.atomic():
        n = Broadcast.objects.filter(pk=broadcast.pk, status=Broadcast.Status.SCHEDULED).update(
            status=Broadcast.Status.CANCELLED, finished_at=timezone.now()
        )
        if not n:
            raise ValidationError(_("Only a scheduled mass message can be cancelled."))
        broadcast.refresh_from_db()
        record(brand=brand, actor=actor, action="broadcast.cancelled", target=broadcast)
    return broadcast


# --- sending -----------------------------------------------------------------------------------


def broadcast_claim(*, brand: Brand, broadcast_id: int) -> Broadcast | None:
    """Take a due broadcast for sending (once), or one whose sender's lease ran out."""
    now = timezone.now()
    with brand_scope(brand):
        n = (
            Broadcast.objects.filter(pk=broadcast_id, status=Broadcast.Status.SCHEDULED, send_at__lte=now)
            .update(status=Broadcast.Status.SENDING, started_at=now, lease_until=now + LEASE)
        )  # fmt: skip
        if not n:
            n = Broadcast.objects.filter(
                pk=broadcast_id, status=Broadcast.Status.SENDING, lease_until__lt=now
            ).update(lease_until=now + LEASE)
        return Broadcast.objects.get(pk=broadcast_id) if n else None


def broadcasts_due(*, brand: Brand) -> list[int]:
    """Ids of scheduled broadcasts whose time has come, and of sends whose worker died."""
    now = timezone.now()
    with brand_scope(brand):
        due = Broadcast.objects.for_brand(brand).filter(status=Broadcast.Status.SCHEDULED, send_at__lte=now)
        stale = Broadcast.objects.for_brand(brand).filter(
            status=Broadcast.Status.SENDING, lease_until__lt=now
        )
        return sorted(set(due.values_list("pk", flat=True)) | set(stale.values_list("pk", flat=True)))


def _quota_take(*, brand: Brand, member_ids: list[int], month: datetime.date, cap: int) -> set[int]:
    """Count one mass message for each member still under ``cap`` this month, in one statement;
    returns those counted (the others are at the cap)."""
    if not member_ids or cap <= 0:
        return set()
    table = MassQuota._meta.db_table
    if connection.vendor == "postgresql":
        source, ids = "unnest(%s::bigint[]) AS m(value)", member_ids
    else:
        source, ids = "json_each(%s)", json.dumps(member_ids)
    # Names from the model's metadata; values as parameters.
    sql = (
        f"INSERT INTO {table} (brand_id, member_id, month, count) "  # noqa: S608
        f"SELECT %s, value, %s, 1 FROM {source} WHERE true "
        f"ON CONFLICT (brand_id, member_id, month) DO UPDATE SET count = {table}.count + 1 "
        f"WHERE {table}.count < %s RETURNING member_id"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [brand.pk, month, ids, cap])
        return {r[0] for r in cur.fetchall()}


def _conversations(*, brand: Brand, member_ids: set[int], now) -> dict[int, int]:
    """member id → conversation id, creating the missing conversations in bulk."""
    found = dict(
        Conversation.objects.for_brand(brand).filter(member_id__in=member_ids).values_list("member_id", "pk")
    )
    missing = member_ids - set(found)
    if missing:
        insert_rows(
            Conversation,
            [
                {"brand_id": brand.pk, "member_id": m, "status": "open", "created_at": now, **_CONV_DEFAULTS}
                for m in sorted(missing)
            ],
        )
        found.update(
            Conversation.objects.for_brand(brand).filter(member_id__in=missing).values_list("member_id", "pk")
        )
    return found


_CONV_DEFAULTS = {
    "last_preview": "",
    "last_sender": "",
    "guide_unread": 0,
    "member_unread": 0,
    "guide_read_upto": 0,
    "member_read_upto": 0,
    "member_delivered_upto": 0,
    "auto_reply_key": "",
}


def _send_batch(*, brand: Brand, b: Broadcast, cap: int, month: datetime.date) -> bool:
    """One batch in one transaction; False when the audience is exhausted."""
    now = timezone.now()
    with brand_scope(brand), transaction.atomic():
        rows = list(
            sel.broadcast_audience(brand=brand, broadcast=b)
            .filter(pk__gt=b.cursor)
            .order_by("pk")
            .values_list("pk", "marketing_consent")[:BATCH]
        )
        if not rows:
            return False
        consenting = [pk for pk, ok in rows if ok]
        allowed = _quota_take(brand=brand, member_ids=consenting, month=month, cap=cap)
        if allowed:
            convs = _conversations(brand=brand, member_ids=allowed, now=now)
            sender = Message.Sender.GUIDE if b.guide_only else Message.Sender.BRAND
            insert_rows(
                Message,
                [
                    {
                        "brand_id": brand.pk,
                        "conversation_id": convs[m],
                        "sender": sender,
                        # A guide's message is hers; the brand's speaks for the brand (who wrote it
                        # is on the broadcast), which also spares two foreign-key checks a row.
                        "staff_id": b.created_by_id if b.guide_only else None,
                        "kind": b.kind,
                        "body": b.body,
                        "data": b.data,
                        "image": "",
                        "client_id": f"b{b.pk}",
                        "broadcast_id": b.pk,
                        "created_at": now,
                    }
                    for m in sorted(allowed)
                ],
            )
            Conversation.objects.filter(pk__in=convs.values()).update(
                last_message_at=now,
                last_preview=preview(b.kind, b.body or b.data.get("name", "")),
                last_sender=sender,
                member_unread=F("member_unread") + 1,
            )
        b.cursor = rows[-1][0]
        Broadcast.objects.filter(pk=b.pk).update(
            cursor=b.cursor,
            lease_until=now + LEASE,
            matched=F("matched") + len(rows),
            sent=F("sent") + len(allowed),
            skipped_muted=F("skipped_muted") + (len(rows) - len(consenting)),
            skipped_cap=F("skipped_cap") + (len(consenting) - len(allowed)),
        )
        if allowed and settings.MESSAGING_BROADCAST_LIVE:
            first = rows[0][0]
            enqueue_on_commit("guides.messaging.tasks.broadcast_deliver", brand.pk, b.pk, first - 1, b.cursor)
    return len(rows) == BATCH


def broadcast_send(*, brand: Brand, broadcast_id: int) -> Broadcast | None:
    """Send a due broadcast (see the module docstring); None if there was nothing to claim."""
    b = broadcast_claim(brand=brand, broadcast_id=broadcast_id)
    if b is None:
        return None
    if b.guide_only:
        with brand_scope(brand):
            active = (
                Staff.objects.for_brand(brand).filter(pk=b.created_by_id, status=Staff.Status.ACTIVE).exists()
            )
        if not active:  # she left before it went out: her members are someone else's now
            with brand_scope(brand):
                Broadcast.objects.filter(pk=b.pk).update(
                    status=Broadcast.Status.CANCELLED, finished_at=timezone.now(), lease_until=None
                )
                return Broadcast.objects.get(pk=b.pk)
    cap = settings_get(brand=brand).mass_cap
    month = sel.quota_month(b.started_at)
    more = True
    while more:
        for attempt in range(3):
            try:
                more = _send_batch(brand=brand, b=b, cap=cap, month=month)
                break
            except OperationalError:  # a deadlock with a concurrent send: the batch rolled back
                if attempt == 2:
                    raise
                logger.warning("broadcast %s batch retried", b.pk, exc_info=True)
                with brand_scope(brand):
                    b.cursor = Broadcast.objects.get(pk=b.pk).cursor
    with brand_scope(brand):
        Broadcast.objects.filter(pk=b.pk, status=Broadcast.Status.SENDING).update(
            status=Broadcast.Status.SENT, finished_at=timezone.now(), lease_until=None
        )
        return Broadcast.objects.get(pk=b.pk)


def broadcast_deliver(*, brand: Brand, broadcast_id: int, after_member: int, upto_member: int) -> int:
    """Deliver a batch's messages to the sockets of its members who are on the chat page."""
    from guides.messaging import realtime, wire

    with brand_scope(brand):
        msgs = list(
            Message.objects.for_brand(brand)
            .filter(
                broadcast_id=broadcast_id,
                conversation__member_id__gt=after_member,
                conversation__member_id__lte=upto_member,
            )
            .select_related("conversation", "staff")
        )
    for m in msgs:
        realtime.send_now(
            [realtime.chat_member_group(brand.pk, m.conversation.member_id)],
            {"type": "chat.message", "message": wire.message(m, staff_name=m.staff.name if m.staff else "")},
        )
    return len(msgs)
