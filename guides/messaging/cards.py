"""Product, coupon and order cards: what the card shows, with the guide's share attribution."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from guides.messaging.models import Conversation
from retail.models import Brand, Staff


def build(
    *, brand: Brand, staff: Staff, conversation: Conversation, kind: str, target_id: int | None
) -> dict:
    raise ValidationError(_("Cards are not available."))
