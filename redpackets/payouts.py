"""Payout providers (an Alipay-style transfer-to-account service) behind one interface.

The simulated provider is the embedded default and what tests, the demo and the benchmarks
use. It keeps its records in the cache (as a remote provider keeps them in its database), is
idempotent per transfer reference like real providers, and misbehaves on request: a transfer
can succeed at once, succeed late, fail, time out (with or without the provider having acted)
or be reported by two callbacks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
import secrets
import time
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.cache import caches

from retail import payments
from retail.payments import SimulatedRecords

SUCCEEDED, FAILED, PENDING = "succeeded", "failed", "pending"


@dataclass(frozen=True)
class Verification:
    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class PayoutResult:
    """The provider's record of one transfer: ``status`` is succeeded, failed or pending."""

    brand_id: int
    reference: str
    status: str
    amount_fen: int
    provider_reference: str = ""
    reason: str = ""


class PayoutTimeout(Exception):
    """The provider did not answer in time: the transfer may or may not have happened."""


class SignatureError(Exception):
    pass


class PayoutProvider(Protocol):
    name: str

    def verify(self, *, account_no: str, real_name: str) -> Verification:
        """Real-name check: does ``account_no`` exist and belong to ``real_name``?"""

    def transfer(
        self, *, brand_id: int, reference: str, account_no: str, real_name: str, amount_fen: int
    ) -> PayoutResult:
        """Pay out; idempotent per ``reference``. May raise PayoutTimeout."""

    def query(self, *, reference: str) -> PayoutResult | None:
        """The provider's record of a transfer, or None if it never received it."""

    def parse_notice(self, body: bytes, signature: str) -> PayoutResult:
        """A verified callback, or SignatureError."""


def new_reference() -> str:
    return f"WD{secrets.token_hex(10).upper()}"


ACCOUNT_RE = re.compile(r"^(1\d{10}|[A-Za-z0-9._%+-]{1,40}@[A-Za-z0-9.-]{1,40}\.[A-Za-z]{2,10})$")

# What the simulator may be told to do with a transfer.
BEHAVIOURS = ("succeed", "fail", "late", "late_fail", "timeout", "timeout_lost", "twice")


class SimulatedPayoutProvider(SimulatedRecords):
    """A stand-in payout provider with the awkward behaviours of real ones."""

    name = "sim"
    PREFIX = "simpayout"
    TTL = 30 * 24 * 3600

    def _result(self, reference: str, rec: dict) -> PayoutResult:
        return PayoutResult(
            brand_id=rec["brand_id"],
            reference=reference,
            status=rec["status"],
            amount_fen=rec["amount_fen"],
            provider_reference=rec.get("provider_reference", ""),
            reason=rec.get("reason", ""),
        )

    # --- the simulator's own controls -------------------------------------------------------------

    def register_account(self, account_no: str, holder: str | None) -> None:
        """Say who holds ``account_no`` (None: no such account). Unregistered valid numbers are
        taken to belong to whoever is named."""
        caches["sim"].set(f"simpayout-acct:{account_no}", {"holder": holder}, self.TTL)

    def behave(self, account_no: str, behaviour: str | None) -> None:
        """Make every new transfer to ``account_no`` behave so (None: succeed)."""
        if behaviour is not None and behaviour not in BEHAVIOURS:
            raise ValueError(behaviour)
        caches["sim"].set(f"simpayout-behave:{account_no}", behaviour, self.TTL)

    def chaos(self, weights: dict[str, float] | None, seed: int = 0) -> None:
        """Pick each new transfer's behaviour at random with these weights (None: off). The pick
        is a function of the reference, so a retried transfer behaves the same."""
        caches["sim"].set(
            "simpayout-chaos", {"weights": weights, "seed": seed} if weights else None, self.TTL
        )

    def settle(self, reference: str, status: str = SUCCEEDED) -> dict | None:
        """Finish a late transfer now."""
        rec = self.record(reference)
        if rec is not None and rec["status"] == PENDING:
            rec["status"] = status
            if status == FAILED:
                rec["reason"] = "rejected by the receiving account"
            self._save(reference, rec)
        return rec

    def signed_notice(self, reference: str) -> tuple[bytes, str] | None:
        """The callback the provider sends for a finished transfer."""
        rec = self.record(reference)
        if rec is None or rec["status"] == PENDING:
            return None
        res = self._result(reference, rec)
        body = json.dumps(
            {
                "brand_id": res.brand_id,
                "reference": reference,
                "status": res.status,
                "amount_fen": res.amount_fen,
                "provider_reference": res.provider_reference,
                "reason": res.reason,
            },
            sort_keys=True,
        ).encode()
        return body, self.sign(body)

    def _behaviour(self, reference: str, account_no: str) -> str:
        chosen = caches["sim"].get(f"simpayout-behave:{account_no}")
        if chosen:
            return chosen
        chaos = caches["sim"].get("simpayout-chaos")
        if chaos:
            names = list(chaos["weights"])
            rng = random.Random(f"{chaos['seed']}:{reference}")  # noqa: S311 - a simulation, not security
            return rng.choices(names, weights=[chaos["weights"][n] for n in names])[0]
        return "succeed"

    # --- the interface ----------------------------------------------------------------------------

    def verify(self, *, account_no: str, real_name: str) -> Verification:
        if not ACCOUNT_RE.match(account_no or ""):
            return Verification(False, "no_such_account")
        known = caches["sim"].get(f"simpayout-acct:{account_no}")
        if known is not None:
            if known["holder"] is None:
                return Verification(False, "no_such_account")
            if known["holder"] != real_name:
                return Verification(False, "name_mismatch")
        return Verification(True)

    def transfer(
        self, *, brand_id: int, reference: str, account_no: str, real_name: str, amount_fen: int
    ) -> PayoutResult:
        rec = self.record(reference)
        if rec is not None:
            if rec["amount_fen"] != amount_fen:
                raise ValueError("reference reused with another amount")
            return self._result(reference, rec)
        behaviour = self._behaviour(reference, account_no)
        attempts_key = f"simpayout-attempts:{reference}"
        first_attempt = caches["sim"].get(attempts_key) is None
        caches["sim"].set(attempts_key, 1, self.TTL)
        if behaviour == "timeout_lost" and first_attempt:
            raise PayoutTimeout("provider did not answer (and did not act)")
        verification = self.verify(account_no=account_no, real_name=real_name)
        rec = {
            "brand_id": brand_id,
            "amount_fen": amount_fen,
            "account_no": account_no,
            "status": SUCCEEDED,
            "provider_reference": f"SIMTR{hashlib.sha256(reference.encode()).hexdigest()[:14].upper()}",
            "reason": "",
            "created": time.time(),
        }
        if not verification.ok or behaviour == "fail":
            rec["status"], rec["reason"] = FAILED, verification.reason or "account frozen"
        elif behaviour in ("late", "late_fail"):
            rec["status"] = PENDING
            rec["late"] = FAILED if behaviour == "late_fail" else SUCCEEDED
        self._save(reference, rec)
        if behaviour == "timeout":
            raise PayoutTimeout("provider did not answer (but did act)")
        if behaviour == "twice":
            # The answer comes by callback (twice), not in the response.
            return PayoutResult(brand_id, reference, PENDING, amount_fen)
        return self._result(reference, rec)

    def query(self, *, reference: str) -> PayoutResult | None:
        rec = self.record(reference)
        if rec is None:
            return None
        if rec["status"] == PENDING and rec.get("late"):
            # A late transfer has finished by the time anyone asks.
            rec = self.settle(reference, rec["late"])
        return self._result(reference, rec)

    def parse_notice(self, body: bytes, signature: str) -> PayoutResult:
        if not hmac.compare_digest(self.sign(body), signature or ""):
            raise SignatureError("bad signature")
        try:
            d = json.loads(body)
            res = PayoutResult(
                int(d["brand_id"]),
                str(d["reference"]),
                str(d["status"]),
                int(d["amount_fen"]),
                str(d.get("provider_reference", "")),
                str(d.get("reason", "")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise SignatureError("malformed notice") from exc
        if res.status not in (SUCCEEDED, FAILED):
            raise SignatureError("unknown status")
        return res


_PROVIDERS: dict[str, PayoutProvider] = {"sim": SimulatedPayoutProvider()}


def provider(name: str | None = None) -> PayoutProvider:
    if payments.simulated_only():  # a partner app in test mode
        return _PROVIDERS["sim"]
    name = name or getattr(settings, "PAYOUT_PROVIDER", "sim")
    if name == "sim" and not settings.SIMULATED_PROVIDERS_ENABLED:
        raise LookupError("the simulated payout provider is off")
    try:
        return _PROVIDERS[name]
    except KeyError:
        raise LookupError(f"unknown payout provider {name!r}") from None


def recorded(name: str) -> PayoutProvider:
    """The provider a withdrawal was recorded with, to go on with it (transfer, query). A row
    recorded with the simulator can only be finished by it (where the simulator is off, such rows
    come from partner apps in test mode); notices still go through ``provider``."""
    if name == "sim":
        return _PROVIDERS["sim"]
    return provider(name)


def register(p: PayoutProvider) -> None:
    _PROVIDERS[p.name] = p
