"""How a member's contact details are shown to staff and to the member: masked or in full."""

from __future__ import annotations

from members.identities import mask_identity
from members.models import Member, MemberIdentity

HISTORY_SIZE = 20  # points history rows on a member's card and record


def member_identities(member: Member, *, full: bool) -> list[dict]:
    """The member's channel identities for display; masked unless ``full``."""
    return [
        {
            "kind": i.kind,
            "label": MemberIdentity.Kind(i.kind).label if i.kind in MemberIdentity.Kind.values else i.kind,
            "value": i.value if full else mask_identity(i.kind, i.value),
            "verified": i.verified,
        }
        for i in member.identities.all()
    ]


def member_phone(member: Member, *, full: bool) -> str:
    for i in member.identities.all():
        if i.kind == MemberIdentity.Kind.PHONE:
            return i.value if full else mask_identity(i.kind, i.value)
    return ""
