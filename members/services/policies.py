"""The texts members agree to: the privacy policy and the member agreement, versioned."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Max
from django.utils.translation import gettext as _

from members import events
from members.models import MemberPolicy, MembershipProgram
from members.services.access import require_admin
from members.services.program import program_get
from retail.events import Actor
from retail.models import Brand, Staff
from retail.tenancy import brand_scope


def policy_versions(brand: Brand) -> dict[str, int | None]:
    """The version numbers in force of the texts members agree to, by kind."""
    current = dict(
        MemberPolicy.objects.filter(brand=brand)
        .values_list("kind")
        .annotate(v=Max("version"))
        .values_list("kind", "v")
    )
    return {kind: current.get(kind) for kind in MemberPolicy.Kind.values}


POLICY_MAX_CHARS = 50_000


def member_policy_publish(
    *, brand: Brand, manager: Staff, actor: Actor, kind: str, body: str
) -> tuple[MemberPolicy, bool]:
    """Put a new version of the privacy policy or the member agreement in force (brand admins).
    The same text as the version in force changes nothing. Returns (version in force, created)."""
    require_admin(brand, manager)
    if kind not in MemberPolicy.Kind.values:
        raise ValidationError({"kind": _("Unknown kind of text.")})
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise ValidationError({"body": _("Write the text.")})
    if len(body) > POLICY_MAX_CHARS:
        raise ValidationError({"body": _("At most %(n)s characters.") % {"n": POLICY_MAX_CHARS}})
    with brand_scope(brand):
        # One editor at a time per brand: the program row is the lock.
        MembershipProgram.objects.select_for_update().filter(pk=program_get(brand=brand).pk).first()
        current = MemberPolicy.objects.filter(kind=kind).order_by("-version").first()
        if current is not None and current.body == body:
            return current, False
        policy = MemberPolicy.objects.create(
            brand=brand,
            kind=kind,
            version=current.version + 1 if current else 1,
            body=body,
            created_by=actor.user,
        )
        events.policy_published(brand=brand, actor=actor, policy=policy)
    return policy, True
