"""One-time codes that verify a shopper's phone, sent through the pluggable SMS sender.

Kept in the cache (Redis in production): 6 digits, valid 5 minutes, at most 5 wrong tries,
one new code a minute per phone, 10 an hour per address.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext as _

from retail.notify import get_sender

TTL = 300
MAX_TRIES = 5
RESEND_AFTER = 60
PER_ADDRESS_HOURLY = 10


class OtpError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _key(brand_id: int, phone: str) -> str:
    return f"otp:{brand_id}:{phone}"


def _digest(code: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), code.encode(), hashlib.sha256).hexdigest()


def otp_send(*, brand_id: int, brand_name: str, phone: str, ip: str | None) -> None:
    if not cache.add(f"otp-cooldown:{brand_id}:{phone}", 1, RESEND_AFTER):
        raise OtpError("too_soon", _("A code was just sent. Wait a minute before asking again."))
    ip_key = f"otp-ip:{ip or '-'}"
    cache.add(ip_key, 0, 3600)
    if cache.incr(ip_key) > PER_ADDRESS_HOURLY:
        raise OtpError("too_many", _("Too many codes were requested. Try again later."))
    code = f"{secrets.randbelow(10**6):06d}"
    cache.set(_key(brand_id, phone), {"digest": _digest(code), "tries": 0}, TTL)
    text = _("[%(brand)s] Your verification code is %(code)s, valid for 5 minutes.") % {
        "brand": brand_name,
        "code": code,
    }
    get_sender().send(phone=phone, text=text)


def otp_check(*, brand_id: int, phone: str, code: str) -> None:
    """Consume a correct code; OtpError otherwise."""
    key = _key(brand_id, phone)
    entry = cache.get(key)
    if entry is None:
        raise OtpError("no_code", _("The code has expired. Ask for a new one."))
    if entry["tries"] >= MAX_TRIES:
        cache.delete(key)
        raise OtpError("too_many_tries", _("Too many wrong codes. Ask for a new one."))
    if not hmac.compare_digest(entry["digest"], _digest((code or "").strip())):
        entry["tries"] += 1
        cache.set(key, entry, TTL)
        raise OtpError("wrong_code", _("Wrong code."))
    cache.delete(key)
