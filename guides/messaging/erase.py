"""A member's right to be forgotten reaches their conversation (members.services.privacy.ERASE_HOOKS):
in the erasure's transaction every message's text, card and image of that conversation is blanked
(both sides: a guide's reply can quote the shopper), the guides' notes about the member are
deleted and the conversation's preview is cleared. The rows stay, so counts and the brand's
statistics still add up; the image files are deleted after commit."""

from __future__ import annotations

import logging

from django.db import transaction

from guides.messaging.models import Conversation, GuideNote, Message
from members.models import Member
from members.services.privacy import ERASE_HOOKS
from retail.models import Brand
from retail.private_files import private_storage

logger = logging.getLogger(__name__)


def erase(brand: Brand, member: Member) -> None:
    conv_ids = list(Conversation.objects.for_brand(brand).filter(member=member).values_list("pk", flat=True))
    GuideNote.objects.for_brand(brand).filter(member=member).delete()
    if not conv_ids:
        return
    messages = Message.objects.for_brand(brand).filter(conversation_id__in=conv_ids)
    files = [name for name in messages.exclude(image="").values_list("image", flat=True) if name]
    messages.update(body="", data={}, image="", files_expire_at=None)
    Conversation.objects.for_brand(brand).filter(pk__in=conv_ids).update(last_preview="")
    if files:
        transaction.on_commit(lambda: _delete_files(files))


def _delete_files(names: list[str]) -> None:
    storage = private_storage()
    for name in names:
        try:
            storage.delete(name)
        except OSError:  # already gone; the row no longer names it
            logger.warning("chat image %s could not be deleted", name, exc_info=True)


ERASE_HOOKS["messaging"] = erase
