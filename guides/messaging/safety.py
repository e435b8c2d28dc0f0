"""Safety: the shopper's rate limit and block, the brand's banned words (both sides), a guide's
report and block of a shopper, and the brand's handling of reports.

Length is checked by ``conversations.message_send`` (``BODY_MAX``). The rate limit counts a
shopper's messages per minute in the cache (Redis in production: one INCR). The cache fails open
(retail/cache.py): with Redis down a shopper is not limited, rather than every shopper refused."""

from __future__ import annotations

import contextlib
import time

from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from guides.messaging.conversations import guide_conversation, settings_cached
from guides.messaging.models import Conversation, MessagingSettings, ShopperReport
from retail import roles
from retail.cache import CACHE_ERRORS, count_in_window, warn_degraded
from retail.events import Actor, record
from retail.models import Brand, Staff
from retail.tenancy import brand_scope

REASON_MAX = 300
BANNED_MAX_LINES = 500


# --- checks before a message is stored ---------------------------------------------------------


def banned_list(settings_row: MessagingSettings) -> list[str]:
    """The brand's banned words: one per line, blank lines skipped, compared case-insensitively."""
    words = []
    for line in (settings_row.banned_words or "").splitlines()[:BANNED_MAX_LINES]:
        word = line.strip().casefold()
        if word and word not in words:
            words.append(word)
    return words


def banned_word_in(body: str, words: list[str]) -> str | None:
    """The first banned word in ``body`` (spaces inside the text do not hide one), or None."""
    if not body or not words:
        return None
    text = (body or "").casefold()
    squeezed = "".join(text.split())
    for word in words:
        if word in text or "".join(word.split()) in squeezed:
            return word
    return None


def _refuse_banned(row: MessagingSettings, body: str) -> None:
    word = banned_word_in(body, banned_list(row))
    if word is not None:
        raise ValidationError(
            _("This message contains a word that is not allowed here: %(word)s") % {"word": word},
            code="banned_word",
        )


def _rate_key(brand: Brand, member_id: int, minute: int) -> str:
    return f"chat:rate:{brand.pk}:{member_id}:{minute}"


def _count_this_minute(brand: Brand, member_id: int) -> int:
    """This shopper's messages in the current minute, this one included (1 with the cache down)."""
    try:
        return count_in_window(_rate_key(brand, member_id, int(time.time() // 60)), 120)
    except CACHE_ERRORS as exc:
        warn_degraded("Chat rate limit cache unreachable", exc)
        return 1


def uncount(brand: Brand, member_id: int) -> None:
    """Take back this minute's count of a message that was not new (a resend of a stored one)."""
    key = _rate_key(brand, member_id, int(time.time() // 60))
    with contextlib.suppress(ValueError):  # the minute turned: nothing to take back
        cache.decr(key)


def check_member_message(*, brand: Brand, conversation: Conversation, body: str) -> None:
    """Raise ValidationError (with a code) if the shopper may not send this now: the guide
    blocked them (``blocked``), a banned word (``banned_word``), too many messages this minute
    (``rate_limited``)."""
    if conversation.blocked_at is not None:
        raise ValidationError(_("You can no longer send messages in this conversation."), code="blocked")
    row = settings_cached(brand=brand)
    _refuse_banned(row, body)
    if _count_this_minute(brand, conversation.member_id) > row.shopper_per_minute:
        raise ValidationError(
            _("You are sending messages too quickly. Please wait a minute and try again."),
            code="rate_limited",
        )


def check_staff_message(*, brand: Brand, conversation: Conversation, body: str) -> None:
    """Raise ValidationError if staff may not send this (a banned word)."""
    _refuse_banned(settings_cached(brand=brand), body)


# --- the guide: report, block, unblock -----------------------------------------------------------


def report_shopper(
    *, brand: Brand, staff: Staff, actor: Actor, conversation_id: int, reason: str
) -> ShopperReport:
    """The guide reports the shopper of one of her conversations to the brand's admins."""
    with brand_scope(brand), transaction.atomic():
        conv = guide_conversation(brand=brand, staff=staff, pk=conversation_id)
        reason = " ".join(str(reason or "").replace("\x00", "").split())
        if not reason:
            raise ValidationError({"reason": _("Say what happened.")}, code="required")
        if len(reason) > REASON_MAX:
            raise ValidationError({"reason": _("At most 300 characters.")}, code="max_length")
        report = ShopperReport.objects.create(brand=brand, conversation=conv, staff=staff, reason=reason)
        record(
            brand=brand,
            actor=actor,
            action="messaging.reported",
            target=conv,
            target_repr=conv.member.name,
            data={"report_id": report.pk, "member_id": conv.member_id, "reason": reason},
        )
    return report


def block_shopper(*, brand: Brand, staff: Staff, actor: Actor, conversation_id: int) -> bool:
    """The guide blocks the shopper: their messages are refused until she unblocks them.
    Returns False when they were blocked already (nothing changes)."""
    with brand_scope(brand), transaction.atomic():
        conv = guide_conversation(brand=brand, staff=staff, pk=conversation_id)
        changed = (
            Conversation.objects.for_brand(brand)
            .filter(pk=conv.pk, blocked_at__isnull=True)
            .update(blocked_at=timezone.now(), blocked_by=staff)
        )
        if changed:
            record(
                brand=brand,
                actor=actor,
                action="messaging.blocked",
                target=conv,
                target_repr=conv.member.name,
                data={"member_id": conv.member_id},
            )
    return bool(changed)


def unblock_shopper(*, brand: Brand, staff: Staff, actor: Actor, conversation_id: int) -> bool:
    """The guide lets the shopper write again. Returns False when they were not blocked."""
    with brand_scope(brand), transaction.atomic():
        conv = guide_conversation(brand=brand, staff=staff, pk=conversation_id)
        changed = (
            Conversation.objects.for_brand(brand)
            .filter(pk=conv.pk, blocked_at__isnull=False)
            .update(blocked_at=None, blocked_by=None)
        )
        if changed:
            record(
                brand=brand,
                actor=actor,
                action="messaging.unblocked",
                target=conv,
                target_repr=conv.member.name,
                data={"member_id": conv.member_id},
            )
    return bool(changed)


# --- the brand: reports ------------------------------------------------------------------------


def report_resolve(*, brand: Brand, staff: Staff, actor: Actor, report_id: int) -> ShopperReport:
    """A brand admin marks a report handled (once)."""
    if not roles.can_manage_stores(staff):
        raise PermissionDenied
    with brand_scope(brand), transaction.atomic():
        report = ShopperReport.objects.for_brand(brand).select_for_update().filter(pk=report_id).first()
        if report is None:
            raise Http404("Not found.")
        if report.resolved_at is None:
            report.resolved_at = timezone.now()
            report.save(update_fields=["resolved_at"])
            record(
                brand=brand,
                actor=actor,
                action="messaging.report_resolved",
                target=report.conversation,
                target_repr=report.conversation.member.name,
                data={"report_id": report.pk},
            )
    return report


def conversation_open_for_admin(
    *, brand: Brand, staff: Staff, actor: Actor, conversation_id: object
) -> Conversation:
    """A brand admin opens a conversation to read it: every opening is audited (who, which
    conversation, whose member). Another brand's id or a bad id is "not found"."""
    if not roles.can_manage_stores(staff):
        raise PermissionDenied
    try:
        pk = int(conversation_id)
    except (TypeError, ValueError):
        raise Http404("Not found.") from None
    with brand_scope(brand):
        conv = (
            Conversation.objects.for_brand(brand)
            .select_related("member", "member__guide")
            .filter(pk=pk)
            .first()
        )
        if conv is None:
            raise Http404("Not found.")
        record(
            brand=brand,
            actor=actor,
            action="messaging.conversation_read",
            target=conv,
            target_repr=conv.member.name,
            data={"member_id": conv.member_id, "guide_id": conv.member.guide_id},
        )
    return conv
