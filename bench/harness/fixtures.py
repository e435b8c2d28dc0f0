"""What the Django-side steps make the way the app's tests do (login sessions, pool top-ups
through the simulated provider), and the codes of a refusal. Imported in step processes only."""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ValidationError

BACKEND = "retail.auth_backends.PhoneOrUsernameBackend"


def login_session(staff) -> str:
    """A logged-in session with the staff member's brand picked, as the login view leaves it."""
    from retail.middleware import SESSION_BRAND_KEY

    session = SessionStore()
    session["_auth_user_id"] = str(staff.user.pk)
    session["_auth_user_backend"] = BACKEND
    session["_auth_user_hash"] = staff.user.get_session_auth_hash()
    session[SESSION_BRAND_KEY] = staff.brand_id
    session.create()
    return session.session_key


def top_up(brand, admin, amount_fen: int, key: str) -> None:
    """As tests/redpackets/conftest.py top_up(): start, the payer pays, the signed notice arrives."""
    from redpackets.services import funding
    from retail import payments
    from retail.events import Actor

    topup = funding.topup_start(
        brand=brand, staff=admin, actor=Actor.system(), amount_fen=amount_fen, key=key, fingerprint="bench"
    )
    sim = payments.provider("sim")
    sim.settle(topup.reference, "succeeded")
    body, sig = sim.signed_notice(topup.reference)
    funding.topup_notice(brand=brand, provider_name="sim", notice=sim.parse_notice(body, sig))


def error_codes(exc: ValidationError, blank: str = "") -> list[str]:
    """The distinct codes of a ValidationError's messages, sorted (``blank``: a message without one)."""
    errors = (
        [e for errs in exc.error_dict.values() for e in errs]
        if hasattr(exc, "error_dict")
        else exc.error_list
    )
    return sorted({e.code or blank for e in errors})
