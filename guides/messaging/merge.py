"""Conversations follow a member merge, and its undo (members.services.merge.MERGE_HOOKS).

Merge: every message of the absorbed member's conversation moves to the survivor's (created if
missing), so nothing is lost and the survivor's guide sees both histories; the absorbed
conversation stays (status ``merged``, empty). Their own ids are kept, so the order within the
survivor's conversation is the order they were written in. The guide's notes about the absorbed
member move too. Undo moves exactly those messages and notes back.

A message whose ``client_id`` the survivor's conversation already has from the same sender (a mass
message sent to both) is renamed ``merged:<id>`` while it is there; undo gives its id back."""

from __future__ import annotations

from django.db.models import Count, Q

from guides.messaging.conversations import preview
from guides.messaging.models import Conversation, GuideNote, Message
from members.services.merge import MERGE_HOOKS

COUNTERS = ("guide_unread", "member_unread", "guide_read_upto", "member_read_upto", "member_delivered_upto")


def _recount(conv: Conversation, *, counts: bool = True) -> None:
    """The conversation's preview from its last message; with ``counts``, its unread counts from
    its read marks."""
    msgs = Message.objects.filter(conversation=conv)
    last = msgs.order_by("-id").first()
    changes = {
        "last_message_at": last.created_at if last else None,
        "last_preview": preview(last.kind, last.body) if last else "",
        "last_sender": last.sender if last else "",
    }
    if counts:
        unread = msgs.aggregate(
            guide=Count("id", filter=Q(sender=Message.Sender.MEMBER, id__gt=conv.guide_read_upto)),
            member=Count("id", filter=~Q(sender=Message.Sender.MEMBER) & Q(id__gt=conv.member_read_upto)),
        )
        changes.update(guide_unread=unread["guide"], member_unread=unread["member"])
    Conversation.objects.filter(pk=conv.pk).update(**changes)


def merge(brand, survivor, absorbed) -> dict:
    theirs = Conversation.objects.for_brand(brand).select_for_update().filter(member=absorbed).first()
    notes = list(GuideNote.objects.for_brand(brand).filter(member=absorbed).values_list("pk", flat=True))
    GuideNote.objects.for_brand(brand).filter(pk__in=notes).update(member=survivor)
    if theirs is None:
        return {"messages": [], "renamed": {}, "notes": notes}
    mine = Conversation.objects.for_brand(brand).filter(member=survivor).first()
    if mine is None:
        mine = Conversation.objects.create(brand=brand, member=survivor)
    mine = Conversation.objects.select_for_update().get(pk=mine.pk)
    ids = list(Message.objects.filter(conversation=theirs).order_by("id").values_list("pk", flat=True))
    taken = set(
        Message.objects.filter(conversation=mine).exclude(client_id="").values_list("sender", "client_id")
    )
    renamed = {}
    for pk, sender, client_id in (
        Message.objects.filter(pk__in=ids).exclude(client_id="").values_list("pk", "sender", "client_id")
    ):
        if (sender, client_id) in taken:
            renamed[str(pk)] = client_id
            Message.objects.filter(pk=pk).update(client_id=f"merged:{pk}")
    Message.objects.filter(pk__in=ids).update(conversation=mine)
    data = {
        "messages": ids,
        "renamed": renamed,
        "notes": notes,
        "conversation": theirs.pk,
        "survivor_conversation": mine.pk,
        "counters": {f: getattr(theirs, f) for f in COUNTERS},
    }
    # Unread stays unread: the counts add up (the read marks are the survivor's own).
    Conversation.objects.filter(pk=mine.pk).update(
        guide_unread=mine.guide_unread + theirs.guide_unread,
        member_unread=mine.member_unread + theirs.member_unread,
    )
    _recount(mine, counts=False)
    theirs.status = Conversation.Status.MERGED
    theirs.guide_unread = theirs.member_unread = 0
    theirs.save(update_fields=["status", "guide_unread", "member_unread"])
    _recount(theirs, counts=False)
    return data


def undo(brand, survivor, absorbed, data: dict) -> None:
    GuideNote.objects.for_brand(brand).filter(pk__in=data.get("notes", []), member=survivor).update(
        member=absorbed
    )
    if not data.get("conversation"):
        return
    theirs = Conversation.objects.for_brand(brand).select_for_update().filter(pk=data["conversation"]).first()
    mine = (
        Conversation.objects.for_brand(brand)
        .select_for_update()
        .filter(pk=data.get("survivor_conversation"))
        .first()
    )
    if theirs is None or mine is None:
        return
    Message.objects.filter(pk__in=data.get("messages", []), conversation=mine).update(conversation=theirs)
    for pk, client_id in (data.get("renamed") or {}).items():
        Message.objects.filter(pk=int(pk), conversation=theirs, client_id=f"merged:{pk}").update(
            client_id=client_id
        )
    for field, value in (data.get("counters") or {}).items():
        setattr(theirs, field, value)
    theirs.status = Conversation.Status.OPEN
    theirs.save(update_fields=[*COUNTERS, "status"])
    _recount(theirs, counts=False)
    mine.refresh_from_db()
    _recount(mine)


MERGE_HOOKS["messaging"] = (merge, undo)
