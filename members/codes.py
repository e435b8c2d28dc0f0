"""Member codes (会员码) and guide join links: signed, so they cannot be forged.

A member code is shown as a QR on the member's page and rotates every minute; a guide's phone
or a POS resolves it to the member within ``CODE_MAX_AGE`` seconds. Under the QR the member's page
also shows the code as digits, for typing: the member id followed by an 8-digit check that only
this site can compute for this brand, this member and the current minute (or the one before).
A guide's join token is stable (printed on counter cards) and names the guide and the brand.
"""

from __future__ import annotations

import re
import secrets
import time

from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

CODE_ROTATE_SECONDS = 60
CODE_MAX_AGE = 90  # one rotation plus grace for a slow scan
_CODE_SALT = "members.member-code"
_JOIN_SALT = "members.guide-join"
_DIGITS_SALT = "members.member-code-digits"
DIGITS_CHECK = 8
_SEPARATORS = re.compile(r"[\s-]+")


class CodeError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def member_code_issue(*, brand_id: int, member_id: int) -> str:
    """A fresh code for the member's QR (valid for CODE_MAX_AGE seconds)."""
    nonce = secrets.token_hex(3)
    return signing.TimestampSigner(salt=_CODE_SALT, sep="~").sign(f"{brand_id}.{member_id}.{nonce}")


def _digits_check(brand_id: int, member_id: int, step: int) -> str:
    mac = salted_hmac(_DIGITS_SALT, f"{brand_id}.{member_id}.{step}").hexdigest()
    return f"{int(mac[:15], 16) % 10**DIGITS_CHECK:0{DIGITS_CHECK}d}"


def member_code_digits(*, brand_id: int, member_id: int, now: float | None = None) -> str:
    """The member code as digits for typing: member id + the check of this minute."""
    step = int(time.time() if now is None else now) // CODE_ROTATE_SECONDS
    return f"{member_id}{_digits_check(brand_id, member_id, step)}"


def group_digits(digits: str) -> str:
    """Digits in groups of four, as people read them out: "1234 5678 90"."""
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def _read_digits(digits: str, brand_id: int) -> int:
    if not DIGITS_CHECK + 1 <= len(digits) <= DIGITS_CHECK + 18:
        raise CodeError("invalid_code", _("This is not a valid member code."))
    member_id, check = int(digits[:-DIGITS_CHECK]), digits[-DIGITS_CHECK:]
    step = int(time.time()) // CODE_ROTATE_SECONDS
    if member_id > 0:
        if any(constant_time_compare(check, _digits_check(brand_id, member_id, s)) for s in (step, step - 1)):
            return member_id
        if any(
            constant_time_compare(check, _digits_check(brand_id, member_id, step - n)) for n in range(2, 31)
        ):
            raise CodeError("expired_code", _("This member code has expired; ask for the current one."))
    raise CodeError("invalid_code", _("This is not a valid member code."))


def member_code_read(code: str, *, brand_id: int) -> int:
    """The member id inside a code issued for ``brand_id`` (the QR's text or the digits under it);
    CodeError if forged, foreign or old."""
    if isinstance(code, str) and len(code) <= 60:
        digits = _SEPARATORS.sub("", code)
        if digits.isascii() and digits.isdigit():
            return _read_digits(digits, brand_id)
    if not isinstance(code, str) or not 10 <= len(code) <= 200:
        raise CodeError("invalid_code", _("This is not a member code."))
    try:
        value = signing.TimestampSigner(salt=_CODE_SALT, sep="~").unsign(code.strip(), max_age=CODE_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise CodeError("expired_code", _("This member code has expired; ask for the current one.")) from exc
    except signing.BadSignature as exc:
        raise CodeError("invalid_code", _("This is not a valid member code.")) from exc
    code_brand, member_id, _nonce = value.split(".")
    if int(code_brand) != brand_id:
        raise CodeError("invalid_code", _("This is not a valid member code."))
    return int(member_id)


def guide_join_token(*, brand_id: int, staff_id: int) -> str:
    return signing.Signer(salt=_JOIN_SALT, sep="~").sign(f"{brand_id}.{staff_id}")


def guide_join_read(token: str, *, brand_id: int) -> int | None:
    """The staff id in a join token of ``brand_id``, or None if it is not one."""
    try:
        value = signing.Signer(salt=_JOIN_SALT, sep="~").unsign(token)
        token_brand, staff_id = value.split(".")
    except (signing.BadSignature, ValueError):
        return None
    return int(staff_id) if int(token_brand) == brand_id else None
