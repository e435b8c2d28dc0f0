"""Telling guides about their commission: an in-app notification and a push, batched per guide.

``notify_commissions`` gathers every credit not yet told, one notification and one push per guide
("you earned ¥x from <member>", or "... from N orders" when there were several), so a bulk import of
a million orders sends at most one message per guide."""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict

from django.conf import settings
from django.db import connection, transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guides.models import CommissionEntry, Notification
from guides.push import get_sender
from members.labels import member_handles
from retail.models import Brand, Staff, Store
from retail.tenancy import brand_scope

logger = logging.getLogger(__name__)
BATCH = 20_000


def _push(brand: Brand, notes: list[Notification], title=None) -> None:
    """Send each notification as a push, written in its recipient's language (``title``: a lazy
    text, "Commission" when not given)."""
    if not notes:
        return
    sender = get_sender()
    with brand_scope(brand):
        languages = dict(
            Staff.objects.for_brand(brand)
            .filter(pk__in={n.staff_id for n in notes})
            .values_list("pk", "user__language")
        )
    for n in notes:
        with translation.override(languages.get(n.staff_id) or settings.LANGUAGE_CODE):
            try:
                sender.send(
                    brand_id=brand.pk,
                    staff_id=n.staff_id,
                    title=str(title) if title is not None else _("Commission"),
                    body=n.message,
                    link=n.link,
                )
            except Exception:  # a push that fails must not lose the in-app notification
                logger.exception("push to staff %s failed", n.staff_id)


def notify_commissions(*, brand: Brand) -> int:
    """Tell each guide what they earned since they were last told; returns notifications sent."""
    link = reverse("performance")
    sent: list[Notification] = []
    while True:
        with brand_scope(brand):
            qs = CommissionEntry.objects.for_brand(brand).filter(
                kind=CommissionEntry.Kind.EARN, notified_at__isnull=True
            )
            if connection.vendor == "postgresql":
                qs = qs.select_for_update(skip_locked=True)  # two runs never tell the same credit twice
            rows = list(qs.order_by("id").values_list("id", "guide_id", "amount_fen", "member_id")[:BATCH])
            if not rows:
                break
            per_guide: dict[int, dict] = defaultdict(lambda: {"amount": 0, "orders": 0, "member_id": None})
            for _id, guide, amount, member in rows:
                g = per_guide[guide]
                g["amount"] += amount
                g["orders"] += 1
                g["member_id"] = g["member_id"] or member
            names = member_handles(g["member_id"] for g in per_guide.values() if g["member_id"])
            notes = [
                Notification(
                    brand=brand,
                    staff_id=guide,
                    kind=Notification.Kind.COMMISSION,
                    amount_fen=g["amount"],
                    data={
                        "orders": g["orders"],
                        "member_id": g["member_id"],
                        "member": names.get(g["member_id"], ""),
                    },
                    link=link,
                )
                for guide, g in per_guide.items()
                if g["amount"] > 0
            ]
            Notification.objects.bulk_create(notes, batch_size=1000)
            ids = [r[0] for r in rows]
            now = timezone.now()
            for i in range(0, len(ids), 900):
                CommissionEntry.objects.filter(pk__in=ids[i : i + 900]).update(notified_at=now)
            sent.extend(notes)
    # Pushes leave after the notifications are committed; a batch that was told already is not re-sent.
    _push(brand, sent)
    return len(sent)


def clawback(*, brand: Brand, attribution, amount_fen: int, order_number: str) -> None:
    note = Notification.objects.create(
        brand=brand,
        staff_id=attribution.guide_id,
        kind=Notification.Kind.CLAWBACK,
        amount_fen=amount_fen,
        data={"order": order_number},
        link=reverse("performance"),
    )
    transaction.on_commit(lambda: _push(brand, [note]))


def statements_paid(*, brand: Brand, statements: list, period_label: str) -> None:
    notes = [
        Notification(
            brand=brand,
            staff_id=s.guide_id,
            kind=Notification.Kind.STATEMENT,
            amount_fen=s.total_fen,
            data={"period": period_label, "statement": s.pk},
            link=reverse("performance-statement", args=[s.pk]),
        )
        for s in statements
    ]
    Notification.objects.bulk_create(notes)
    transaction.on_commit(lambda: _push(brand, notes))


def notifications_read(*, brand: Brand, staff) -> int:
    """Mark all of a staff member's notifications read."""
    with brand_scope(brand):
        return Notification.objects.filter(staff=staff, read_at__isnull=True).update(read_at=timezone.now())


DEVICE_KINDS = (Notification.Kind.DEVICE_OFFLINE, Notification.Kind.DEVICE_ONLINE)
DEVICE_TITLES = {
    Notification.Kind.DEVICE_OFFLINE: gettext_lazy("Device offline"),
    Notification.Kind.DEVICE_ONLINE: gettext_lazy("Device back online"),
}


def device_alert_recipients(*, brand: Brand, store_id: int) -> list[int]:
    """Who hears about a store's devices: its active store managers, else the brand's admins."""
    active = Staff.objects.for_brand(brand).filter(status=Staff.Status.ACTIVE)
    managers = list(
        active.filter(role=Staff.Role.STORE_MANAGER, store_links__store_id=store_id)
        .order_by("pk")
        .values_list("pk", flat=True)
        .distinct()
    )
    if managers:
        return managers
    return list(active.filter(role=Staff.Role.BRAND_ADMIN).order_by("pk").values_list("pk", flat=True))


def device_status(
    *, brand: Brand, device_id: int, store_id: int | None, device_name: str, online: bool
) -> int:
    """Tell a store's managers that one of its devices stayed offline (``online=False``), or tell
    those who were told that it is back. Once per change: a run again finds them told already
    (each person's latest notice about the device says which). Returns the notifications sent."""
    kind = Notification.Kind.DEVICE_ONLINE if online else Notification.Kind.DEVICE_OFFLINE
    with brand_scope(brand):
        latest: dict[int, str] = {}
        rows = (
            Notification.objects.for_brand(brand)
            .filter(kind__in=DEVICE_KINDS, data__device_id=device_id)
            .order_by("staff_id", "-created_at", "-id")
            .values_list("staff_id", "kind", "data")
        )
        for staff_id, told, data in rows:
            latest.setdefault(staff_id, told)
            store_id = store_id or data.get("store_id")
            device_name = device_name or data.get("device", "")
        if online:
            # Only those told it went offline hear it is back.
            recipients = [s for s, told in latest.items() if told == Notification.Kind.DEVICE_OFFLINE]
        elif store_id:
            recipients = [
                s
                for s in device_alert_recipients(brand=brand, store_id=store_id)
                if latest.get(s) != Notification.Kind.DEVICE_OFFLINE
            ]
        else:
            recipients = []
        if not recipients:
            return 0
        store = Store.objects.for_brand(brand).filter(pk=store_id).values_list("name", flat=True).first()
        data = {"device_id": device_id, "device": device_name, "store_id": store_id, "store": store or ""}
        link = _device_link(device_id)
        notes = [
            Notification(brand=brand, staff_id=staff_id, kind=kind, data=data, link=link)
            for staff_id in recipients
        ]
        Notification.objects.bulk_create(notes)
        transaction.on_commit(lambda: _push(brand, notes, title=DEVICE_TITLES[kind]))
    return len(notes)


def _device_link(device_id: int) -> str:
    """The device's page in the console (by its route name: guides does not import devices)."""
    try:
        return reverse("dash-device", args=[device_id])
    except NoReverseMatch:
        return ""


def access_alert(*, brand: Brand, payload: dict) -> int:
    """Tell the store's managers (else the brand's admins) that a device refused faces or PINs again
    and again: one notification and push each per alert (attendance/kiosk.py raises it once per
    window). Returns the notifications sent."""
    device_id, store_id = payload.get("device_id"), payload.get("store_id")
    if not store_id:
        return 0
    with brand_scope(brand):
        recipients = device_alert_recipients(brand=brand, store_id=store_id)
        if not recipients:
            return 0
        store = Store.objects.for_brand(brand).filter(pk=store_id).values_list("name", flat=True).first()
        data = {
            "device_id": device_id,
            "device": payload.get("name", ""),
            "store_id": store_id,
            "store": store or "",
            "refusals": int(payload.get("refusals") or 0),
            "minutes": int(payload.get("minutes") or 10),
        }
        link = _device_link(device_id) if device_id else ""
        notes = [
            Notification(
                brand=brand, staff_id=staff_id, kind=Notification.Kind.ACCESS_ALERT, data=data, link=link
            )
            for staff_id in recipients
        ]
        Notification.objects.bulk_create(notes)
        title = gettext_lazy("Repeated refusals at a device")
        transaction.on_commit(lambda: _push(brand, notes, title=title))
    return len(notes)


def punch_recorded(*, brand: Brand, payload: dict) -> int:
    """Tell the person that their punch was recorded (phone, kiosk or door): one notification and
    push per punch, with the time in the store's time zone. Returns the notifications sent."""
    import datetime
    import zoneinfo

    punch_id, staff_id, store_id = payload.get("punch_id"), payload.get("staff_id"), payload.get("store_id")
    if not punch_id or not staff_id:
        return 0
    with brand_scope(brand):
        told = Notification.objects.for_brand(brand).filter(
            staff_id=staff_id, kind=Notification.Kind.PUNCH, data__punch_id=punch_id
        )
        if told.exists() or not Staff.objects.for_brand(brand).filter(pk=staff_id).exists():
            return 0
        store = Store.objects.for_brand(brand).filter(pk=store_id).values("name", "timezone").first() or {}
        try:
            tz = zoneinfo.ZoneInfo(store.get("timezone") or "Asia/Shanghai")
            at = datetime.datetime.fromisoformat(payload["occurred_at"]).astimezone(tz)
        except (KeyError, TypeError, ValueError, zoneinfo.ZoneInfoNotFoundError):
            return 0
        data = {
            "punch_id": punch_id,
            "store_id": store_id,
            "store": store.get("name", ""),
            "date": at.date().isoformat(),
            "time": at.strftime("%H:%M"),
            "source": payload.get("source", ""),
            "offline": bool(payload.get("offline")),
        }
        try:
            link = reverse("att-m-records") + f"?month={at:%Y-%m}"
        except NoReverseMatch:
            link = ""
        note = Notification(
            brand=brand, staff_id=staff_id, kind=Notification.Kind.PUNCH, data=data, link=link
        )
        note.save()
        title = gettext_lazy("Punch recorded")
        transaction.on_commit(lambda: _push(brand, [note], title=title))
    return 1


FACE_DUPLICATE_QUIET = datetime.timedelta(hours=1)


def face_duplicate(*, brand: Brand, payload: dict) -> int:
    """Tell the brand's active admins that an enrollment was refused because the face is already
    enrolled for someone else (no buddy punching), naming both people. Told once per pair within an
    hour (a redelivered event or a second try at once). Returns the notifications sent."""
    staff_id, other_id = payload.get("staff_id"), payload.get("other_id")
    if not staff_id:
        return 0
    with brand_scope(brand):
        recent = Notification.objects.for_brand(brand).filter(
            kind=Notification.Kind.FACE_DUPLICATE,
            data__staff_id=staff_id,
            data__other_id=other_id,
            created_at__gte=timezone.now() - FACE_DUPLICATE_QUIET,
        )
        if recent.exists():
            return 0
        recipients = list(
            Staff.objects.for_brand(brand)
            .filter(role=Staff.Role.BRAND_ADMIN, status=Staff.Status.ACTIVE)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if not recipients:
            return 0
        names = dict(
            Staff.objects.for_brand(brand).filter(pk__in=[staff_id, other_id]).values_list("pk", "name")
        )
        data = {
            "staff_id": staff_id,
            "other_id": other_id,
            "staff": names.get(staff_id) or payload.get("staff", ""),
            "other": names.get(other_id) or payload.get("other", ""),
        }
        try:
            link = reverse("dash-att-faces") + "?" + urlencode({"q": data["staff"]})
        except NoReverseMatch:
            link = ""
        notes = [
            Notification(
                brand=brand, staff_id=admin_id, kind=Notification.Kind.FACE_DUPLICATE, data=data, link=link
            )
            for admin_id in recipients
        ]
        Notification.objects.bulk_create(notes)
        title = gettext_lazy("Face enrolled for two people")
        transaction.on_commit(lambda: _push(brand, notes, title=title))
    return len(notes)
