"""Member codes (会员码) and guide join links: signed, so they cannot be forged.

A member code is shown as a QR on the member's page and rotates every minute; a guide's phone
or a POS resolves it to the member within ``CODE_MAX_AGE`` seconds. A guide's join token is
stable (printed on counter cards) and names the guide and the brand.
"""

from __future__ import annotations

import secrets

from django.core import signing
from django.utils.translation import gettext as _

CODE_ROTATE_SECONDS = 60
CODE_MAX_AGE = 90  # one rotation plus grace for a slow scan
_CODE_SALT = "members.member-code"
_JOIN_SALT = "members.guide-join"


class CodeError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def member_code_issue(*, brand_id: int, member_id: int) -> str:
    """A fresh code for the member's QR (valid for CODE_MAX_AGE seconds)."""
    nonce = secrets.token_hex(3)
    return signing.TimestampSigner(salt=_CODE_SALT, sep="~").sign(f"{brand_id}.{member_id}.{nonce}")


def member_code_read(code: str, *, brand_id: int) -> int:
    """The member id inside a code issued for ``brand_id``; CodeError if forged, foreign or old."""
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
