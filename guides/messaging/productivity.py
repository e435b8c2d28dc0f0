"""The guide's tools and the brand's messaging settings: busy and her auto-reply text, canned
replies (快捷回复, the brand's and each guide's own), her notes about a member, and the brand's
settings (audited with what changed)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from guides.messaging import autoreply
from guides.messaging.conversations import guide_conversation, settings_changed, settings_get
from guides.messaging.models import BODY_MAX, CannedReply, GuideChatSettings, GuideNote, MessagingSettings
from retail import roles
from retail.events import Actor, record
from retail.models import Brand, Staff
from retail.tenancy import brand_scope

CANNED_MAX = 50  # per owner (the brand, or one guide)
NOTE_MAX = 500
SETTINGS_FIELDS = (
    "welcome_template",
    "auto_reply_text",
    "mass_cap",
    "banned_words",
    "shopper_per_minute",
    "notice_every_minutes",
    "outbound_channel",
)


def _clean(text: Any, *, field: str, limit: int, required: bool = True) -> str:
    if text is not None and not isinstance(text, str):
        raise ValidationError({field: _("Enter text.")}, code="invalid")
    text = (text or "").replace("\x00", "").strip()
    if required and not text:
        raise ValidationError({field: _("This field is required.")}, code="required")
    if len(text) > limit:
        raise ValidationError({field: _("At most %(n)d characters.") % {"n": limit}}, code="max_length")
    return text


def _require_admin(staff: Staff) -> None:
    if not roles.can_manage_stores(staff):
        raise PermissionDenied


# --- the guide's own chat settings -------------------------------------------------------------


def guide_settings_get(*, brand: Brand, staff: Staff) -> GuideChatSettings:
    with brand_scope(brand):
        row = GuideChatSettings.objects.for_brand(brand).filter(staff=staff).first()
        if row is not None:
            return row
        try:
            with transaction.atomic():
                return GuideChatSettings.objects.create(brand=brand, staff=staff)
        except IntegrityError:
            return GuideChatSettings.objects.for_brand(brand).get(staff=staff)


def busy_set(*, brand: Brand, staff: Staff, busy: bool) -> GuideChatSettings:
    """Mark herself busy (a new quiet period starts: shoppers get her auto-reply once) or not."""
    row = guide_settings_get(brand=brand, staff=staff)
    with brand_scope(brand):
        if busy and row.busy_since is None:
            row.busy_since = timezone.now()
        elif not busy:
            row.busy_since = None
        GuideChatSettings.objects.for_brand(brand).filter(pk=row.pk).update(busy_since=row.busy_since)
        autoreply.guide_changed(brand=brand, staff_id=staff.pk)
    return row


def guide_auto_reply_set(*, brand: Brand, staff: Staff, text: Any) -> GuideChatSettings:
    """Her own auto-reply text ('' = the brand's)."""
    text = _clean(text, field="auto_reply_text", limit=300, required=False)
    row = guide_settings_get(brand=brand, staff=staff)
    with brand_scope(brand):
        row.auto_reply_text = text
        GuideChatSettings.objects.for_brand(brand).filter(pk=row.pk).update(auto_reply_text=text)
        autoreply.guide_changed(brand=brand, staff_id=staff.pk)
    return row


# --- canned replies ----------------------------------------------------------------------------


def _canned_of(brand: Brand, owner: Staff | None):
    qs = CannedReply.objects.for_brand(brand)
    return qs.filter(staff__isnull=True) if owner is None else qs.filter(staff=owner)


def canned_create(
    *, brand: Brand, staff: Staff, actor: Actor | None, title: Any, body: Any, mine: bool
) -> CannedReply:
    """A canned reply: the guide's own (``mine``), or the brand's (brand admins; audited)."""
    if not mine:
        _require_admin(staff)
    title = _clean(title, field="title", limit=40)
    body = _clean(body, field="body", limit=BODY_MAX)
    owner = staff if mine else None
    with brand_scope(brand), transaction.atomic():
        existing = _canned_of(brand, owner)
        if existing.count() >= CANNED_MAX:
            raise ValidationError(_("At most %(n)d canned replies.") % {"n": CANNED_MAX}, code="too_many")
        last = existing.order_by("-position").values_list("position", flat=True).first()
        row = CannedReply.objects.create(
            brand=brand, staff=owner, title=title, body=body, position=(last or 0) + 1
        )
        if owner is None:
            record(
                brand=brand,
                actor=actor,
                action="messaging.canned_created",
                target=row,
                target_repr=title,
                data={"title": title},
            )
    return row


def _canned_get(brand: Brand, staff: Staff, pk: Any, mine: bool) -> CannedReply:
    if not mine:
        _require_admin(staff)
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404("Not found.") from None
    row = _canned_of(brand, staff if mine else None).select_for_update().filter(pk=pk).first()
    if row is None:
        raise Http404("Not found.")
    return row


def canned_update(
    *, brand: Brand, staff: Staff, actor: Actor | None, pk: Any, title: Any, body: Any, mine: bool
) -> CannedReply:
    title = _clean(title, field="title", limit=40)
    body = _clean(body, field="body", limit=BODY_MAX)
    with brand_scope(brand), transaction.atomic():
        row = _canned_get(brand, staff, pk, mine)
        before = {"title": row.title, "body": row.body}
        row.title, row.body = title, body
        row.save(update_fields=["title", "body"])
        if not mine:
            record(
                brand=brand,
                actor=actor,
                action="messaging.canned_updated",
                target=row,
                target_repr=title,
                data={"before": before, "after": {"title": title, "body": body}},
            )
    return row


def canned_delete(*, brand: Brand, staff: Staff, actor: Actor | None, pk: Any, mine: bool) -> None:
    with brand_scope(brand), transaction.atomic():
        row = _canned_get(brand, staff, pk, mine)
        if not mine:
            record(
                brand=brand,
                actor=actor,
                action="messaging.canned_deleted",
                target=row,
                target_repr=row.title,
                data={"title": row.title},
            )
        row.delete()


# --- notes -------------------------------------------------------------------------------------


def note_add(*, brand: Brand, staff: Staff, conversation_id: int, body: Any) -> GuideNote:
    """Her note about the member of one of her conversations (seen only by her)."""
    with brand_scope(brand):
        conv = guide_conversation(brand=brand, staff=staff, pk=conversation_id)
        body = _clean(body, field="body", limit=NOTE_MAX)
        return GuideNote.objects.create(brand=brand, staff=staff, member_id=conv.member_id, body=body)


def note_delete(*, brand: Brand, staff: Staff, note_id: Any) -> None:
    """Delete one of her own notes (anyone else's is "not found")."""
    try:
        note_id = int(note_id)
    except (TypeError, ValueError):
        raise Http404("Not found.") from None
    with brand_scope(brand):
        n, _rows = GuideNote.objects.for_brand(brand).filter(pk=note_id, staff=staff).delete()
    if not n:
        raise Http404("Not found.")


# --- the brand's settings ----------------------------------------------------------------------


def settings_update(*, brand: Brand, staff: Staff, actor: Actor, data: dict[str, Any]) -> MessagingSettings:
    """Change the brand's messaging settings (brand admins); audited with before and after."""
    _require_admin(staff)
    with brand_scope(brand), transaction.atomic():
        row = settings_get(brand=brand)
        row = MessagingSettings.objects.for_brand(brand).select_for_update().get(pk=row.pk)
        before, after = {}, {}
        for field in SETTINGS_FIELDS:
            if field not in data:
                continue
            old, new = getattr(row, field), data[field]
            if old != new:
                before[field], after[field] = old, new
                setattr(row, field, new)
        if not after:
            return row
        row.full_clean(exclude=["brand"])
        row.updated_at = timezone.now()
        row.save()
        settings_changed(brand=brand)
        record(
            brand=brand,
            actor=actor,
            action="messaging.settings_updated",
            target=row,
            target_repr=brand.name,
            data={"before": before, "after": after},
        )
    return row
