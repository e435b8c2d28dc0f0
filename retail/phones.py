"""Mainland China mobile numbers: normalisation, validation, masking."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def normalize_phone(raw: str) -> str:
    """Strip spaces, dashes and a +86/0086 prefix; raise ValidationError if not a mobile number."""
    digits = re.sub(r"[\s\-()]", "", raw or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    if not _MOBILE.match(digits):
        raise ValidationError(_("Enter a valid mainland China mobile number."), code="invalid_phone")
    return digits


def mask_phone(phone: str) -> str:
    """138****0000: enough for staff to recognise a number without reading it in full."""
    if not phone or len(phone) < 7:
        return phone
    return f"{phone[:3]}****{phone[-4:]}"
