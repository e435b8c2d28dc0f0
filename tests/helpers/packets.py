"""Red packets in tests: funding the pool, sending and claiming, wallets and payout accounts."""

from __future__ import annotations

import itertools
import random

from redpackets.models import Account
from redpackets.services import accounts, funding, packets
from retail import payments
from retail.events import Actor
from retail.tenancy import brand_scope

_phones = itertools.count(random.randint(0, 10**6) * 1000)


def new_account_no() -> str:
    """A provider account number no other test uses (the simulator's records outlive a test)."""
    return f"139{next(_phones) % 10**8:08d}"


def top_up(brand, admin, amount_fen: int, key: str | None = None):
    """Fund the pool through the simulated payment provider, notice and all."""
    topup = funding.topup_start(
        brand=brand,
        staff=admin,
        actor=Actor.system(),
        amount_fen=amount_fen,
        key=key or f"t-{random.random()}",
        fingerprint=str(amount_fen),
    )
    sim = payments.provider("sim")
    sim.settle(topup.reference, "succeeded")
    body, sig = sim.signed_notice(topup.reference)
    return funding.topup_notice(brand=brand, provider_name="sim", notice=sim.parse_notice(body, sig))


def send(
    brand,
    sender,
    recipients,
    *,
    kind="fixed",
    amount_each_fen=None,
    total_fen=None,
    shares=None,
    key=None,
    **kw,
):
    audience = kw.pop("audience", "person" if len(recipients) == 1 else "group")
    return packets.packet_send(
        brand=brand,
        sender=sender,
        actor=Actor.system(),
        kind=kind,
        audience=audience,
        greeting=kw.pop("greeting", "辛苦了"),
        key=key or f"k-{random.random()}",
        fingerprint=kw.pop("fingerprint", "fp"),
        staff_ids=[s.pk for s in recipients],
        amount_each_fen=amount_each_fen,
        total_fen=total_fen,
        shares=shares,
        **kw,
    )


def claim(brand, staff, packet, key=None):
    return packets.packet_claim(brand=brand, staff=staff, packet=packet, key=key or f"c-{random.random()}")


def balance(brand, staff_or_kind) -> int:
    with brand_scope(brand):
        if isinstance(staff_or_kind, str):
            acc = Account.objects.filter(kind=staff_or_kind).first()
        else:
            acc = Account.objects.filter(kind=Account.Kind.WALLET, staff=staff_or_kind).first()
        return acc.balance_fen if acc else 0


def bind(brand, staff, account_no=None):
    return accounts.payout_account_bind(
        brand=brand,
        staff=staff,
        actor=Actor.system(),
        account_no=account_no or new_account_no(),
        real_name=staff.name,
    )


def fill_wallet(brand, admin, staff, fen: int):
    """Put ``fen`` in the staff member's wallet by a packet they claim."""
    p = send(brand, admin, [staff], amount_each_fen=fen)
    claim(brand, staff, p)
    return p
