"""Payment providers behind one interface, for every app that takes money (checkout, pool
top-ups). The simulated provider is the embedded default: it keeps its own records (in the cache,
as a remote provider would in its database), signs its notices, and can pay, fail, pay late
(notice held back until we ask) or notify twice.

A provider's notice reaches the purpose's handler either through the public webhook
``/pay/notify/<provider>/`` or, for a held notice, through ``poll_pending`` asking ``query``.
Purposes other than cloud-store orders register by reference prefix (``NOTICE_HANDLERS``,
``SIM_PAGES``)."""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.cache import caches
from django.urls import reverse
from django.utils import timezone

from retail.tenancy import brand_scope


@dataclass(frozen=True)
class Notice:
    """What a provider says about one payment: ``status`` is succeeded or failed."""

    brand_id: int
    reference: str
    status: str
    amount_fen: int


class SignatureError(Exception):
    pass


class PaymentProvider(Protocol):
    name: str

    def start(self, *, brand_slug: str, brand_id: int, reference: str, amount_fen: int) -> str:
        """Register a payment; return the URL the shopper is sent to."""

    def query(self, *, reference: str) -> Notice | None:
        """The provider's current record of a payment (None: nothing final yet)."""

    def refund(self, *, reference: str, amount_fen: int, refund_key: str) -> str:
        """Return money to the payer; returns the provider's refund reference."""

    def parse_notice(self, body: bytes, signature: str) -> Notice:
        """A verified notice from a webhook body, or SignatureError."""


# Other payment purposes (e.g. red packet pool top-ups) register by reference prefix:
# NOTICE_HANDLERS[prefix] = fn(brand, provider_name, notice) -> object with reference, status;
# SIM_PAGES[prefix] = fn(brand, reference) -> {"amount_fen", "title", "reference", "back_url"} or None.
NOTICE_HANDLERS: dict = {}
SIM_PAGES: dict = {}


def handler_for(reference: str):
    """The registered handler of a reference's purpose, or None for cloud-store payments."""
    return next((fn for prefix, fn in NOTICE_HANDLERS.items() if reference.startswith(prefix)), None)


def new_reference(prefix: str = "PAY") -> str:
    return f"{prefix}{secrets.token_hex(10).upper()}"


class SimulatedRecords:
    """What every simulated provider has: its own records (in the ``sim`` cache, as a remote
    provider keeps them in its database) and a secret it signs its notices with."""

    PREFIX = "simpay"
    TTL = 7 * 24 * 3600

    def _key(self, reference: str) -> str:
        return f"{self.PREFIX}:{reference}"

    def _secret(self) -> bytes:
        return hashlib.sha256(f"{self.PREFIX}:{settings.SECRET_KEY}".encode()).digest()

    def sign(self, body: bytes) -> str:
        return hmac.new(self._secret(), body, hashlib.sha256).hexdigest()

    def record(self, reference: str) -> dict | None:
        return caches["sim"].get(self._key(reference))

    def _save(self, reference: str, rec: dict) -> None:
        caches["sim"].set(self._key(reference), rec, self.TTL)


class SimulatedProvider(SimulatedRecords):
    """A stand-in provider with the awkward behaviours of real ones, for tests and the demo."""

    name = "sim"
    CASHIER_SALT = "cloudstore.payments.sim-cashier"  # kept from its first home: links stay valid

    # --- the interface --------------------------------------------------------------------------

    def start(self, *, brand_slug: str, brand_id: int, reference: str, amount_fen: int) -> str:
        self._save(
            reference,
            {"brand_id": brand_id, "amount_fen": amount_fen, "status": "pending", "refunded_fen": 0},
        )
        token = self.cashier_token(brand_id=brand_id, reference=reference)
        return f"{reverse('pay-sim', args=[brand_slug, reference])}?{urlencode({'t': token})}"

    def query(self, *, reference: str) -> Notice | None:
        rec = self.record(reference)
        if rec is None or rec["status"] not in ("succeeded", "failed"):
            return None
        return Notice(rec["brand_id"], reference, rec["status"], rec["amount_fen"])

    def refund(self, *, reference: str, amount_fen: int, refund_key: str) -> str:
        # Like a real provider, a refund key it has seen is answered again, never paid twice
        # (a retry after a timeout whose first call went through).
        rec = self.record(reference)
        if rec is not None:
            done = rec.setdefault("refund_keys", [])
            if refund_key not in done:
                done.append(refund_key)
                rec["refunded_fen"] = rec.get("refunded_fen", 0) + amount_fen
                self._save(reference, rec)
        return f"SIMREF-{hashlib.sha256(refund_key.encode()).hexdigest()[:16].upper()}"

    def parse_notice(self, body: bytes, signature: str) -> Notice:
        if not hmac.compare_digest(self.sign(body), signature or ""):
            raise SignatureError("bad signature")
        try:
            data = json.loads(body)
            notice = Notice(
                int(data["brand_id"]), str(data["reference"]), str(data["status"]), int(data["amount_fen"])
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise SignatureError("malformed notice") from exc
        if notice.status not in ("succeeded", "failed"):
            raise SignatureError("unknown status")
        return notice

    # --- the simulator's own controls (what the payer does on the provider's page) ---------------

    def cashier_token(self, *, brand_id: int, reference: str) -> str:
        """The signed, timestamped part of a cashier link (a real cashier's session token)."""
        value = f"{brand_id}:{reference}"
        return signing.TimestampSigner(salt=self.CASHIER_SALT).sign(value)[len(value) + 1 :]

    def cashier_check(self, *, brand_id: int, reference: str, token: str) -> str:
        """ "valid", "expired" or "bad" (forged, for another payment, or missing)."""
        signer = signing.TimestampSigner(salt=self.CASHIER_SALT)
        try:
            signer.unsign(f"{brand_id}:{reference}:{token}", max_age=settings.SIM_CASHIER_LINK_SECONDS)
        except signing.SignatureExpired:
            return "expired"
        except signing.BadSignature:
            return "bad"
        return "valid"

    def settle(self, reference: str, status: str) -> dict | None:
        rec = self.record(reference)
        if rec is None:
            return None
        if rec["status"] == "pending":
            rec["status"] = status
            self._save(reference, rec)
        return rec

    def signed_notice(self, reference: str) -> tuple[bytes, str] | None:
        rec = self.record(reference)
        if rec is None or rec["status"] == "pending":
            return None
        body = json.dumps(
            {
                "brand_id": rec["brand_id"],
                "reference": reference,
                "status": rec["status"],
                "amount_fen": rec["amount_fen"],
            },
            sort_keys=True,
        ).encode()
        return body, self.sign(body)


_PROVIDERS: dict[str, PaymentProvider] = {"sim": SimulatedProvider()}

# A partner app in test mode works against the simulated providers only: inside
# ``simulated_providers()`` every payment and payout provider lookup answers the simulator,
# whatever provider is configured or was recorded (tasks queued in the block run so too).
_simulated: contextvars.ContextVar[bool] = contextvars.ContextVar("simulated_providers", default=False)


@contextmanager
def simulated_providers() -> Iterator[None]:
    """Run the block against the simulated payment and payout providers only."""
    token = _simulated.set(True)
    try:
        yield
    finally:
        _simulated.reset(token)


def simulated_only() -> bool:
    """Whether the running code may reach the simulated providers only (a test-mode partner call)."""
    return _simulated.get()


def provider(name: str | None = None) -> PaymentProvider:
    if _simulated.get():
        return _PROVIDERS["sim"]
    name = name or getattr(settings, "PAYMENT_PROVIDER", "sim")
    if name == "sim" and not settings.SIMULATED_PROVIDERS_ENABLED:
        raise LookupError("the simulated payment provider is off")
    try:
        return _PROVIDERS[name]
    except KeyError:
        raise LookupError(f"unknown payment provider {name!r}") from None


def recorded(name: str) -> PaymentProvider:
    """The provider a payment, refund or top-up was recorded with, to go on with it (query, refund).
    A row recorded with the simulator can only be finished by it: where the simulator is off, such
    rows come from partner apps in test mode (notices, which come from outside, still go through
    ``provider``, which refuses the simulator there)."""
    if name == "sim":
        return _PROVIDERS["sim"]
    return provider(name)


def register(p: PaymentProvider) -> None:
    _PROVIDERS[p.name] = p


def poll_pending(
    *, brand, model, settle: Callable[..., object], older_than_seconds: int = 60, limit: int = 500
) -> int:
    """Ask the provider about ``model`` rows (with ``status``, ``provider``, ``reference`` and
    ``created_at``) still pending after ``older_than_seconds``: their notice may never come. Each
    one the provider has finished goes to ``settle(brand=, provider_name=, notice=)``. Returns how
    many were settled."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    with brand_scope(brand):
        waiting = list(
            model.objects.filter(status=model.Status.PENDING, created_at__lte=cutoff).values_list(
                "provider", "reference"
            )[:limit]
        )
    settled = 0
    for provider_name, reference in waiting:
        notice = recorded(provider_name).query(reference=reference)
        if notice is not None and notice.brand_id == brand.pk:
            settle(brand=brand, provider_name=provider_name, notice=notice)
            settled += 1
    return settled
