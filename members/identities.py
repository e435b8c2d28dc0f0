"""Channel identity values: what each kind accepts and how it is normalised and shown."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from members.models import MemberIdentity
from retail.phones import mask_phone, normalize_phone

_TOKEN = re.compile(r"^[A-Za-z0-9_.:@+\-]{1,64}$")

# Identities that prove two member records are one person when both are verified.
PROVING_KINDS = {MemberIdentity.Kind.PHONE, MemberIdentity.Kind.PAYMENT}


def normalize_identity(kind: str, value: str) -> str:
    """The canonical form of ``value`` for ``kind``; ValidationError if it cannot be one."""
    if kind not in MemberIdentity.Kind.values:
        raise ValidationError({"kind": _("Unknown identity kind.")})
    value = (value or "").strip()
    if kind == MemberIdentity.Kind.PHONE:
        try:
            return normalize_phone(value)
        except ValidationError as exc:
            raise ValidationError({"value": exc.messages}) from exc
    if kind == MemberIdentity.Kind.CARD:
        value = value.replace(" ", "").upper()
    if not _TOKEN.match(value):
        raise ValidationError({"value": _("Letters, digits and . _ - : @ + only, at most 64.")})
    return value


def mask_identity(kind: str, value: str) -> str:
    if kind == MemberIdentity.Kind.PHONE:
        return mask_phone(value)
    if len(value) <= 4:
        return "*" * len(value)
    return value[:2] + "*" * (len(value) - 4) + value[-2:]
