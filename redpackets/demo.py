"""Demo red packets for `seed_demo`: a funded pool, a packet claimed and one waiting to be
opened, a bound payout account and a first withdrawal. Idempotent: a brand whose pool exists is
left alone."""

from __future__ import annotations

from redpackets.models import Account
from redpackets.services import accounts, funding, packets, withdrawals
from retail import payments
from retail.events import Actor
from retail.models import Brand, Staff, StaffStore
from retail.tenancy import brand_scope


def seed_redpackets(brand: Brand, stores: list | None = None) -> None:
    with brand_scope(brand):
        # for_brand: seed_demo runs with the RLS bypass on, where unfiltered managers see every brand.
        if Account.objects.for_brand(brand).filter(kind=Account.Kind.POOL).exists():
            return
        staff = list(Staff.objects.for_brand(brand).filter(status=Staff.Status.ACTIVE).order_by("pk"))
        links = list(StaffStore.objects.for_brand(brand).values_list("staff_id", "store_id"))
    admin = next(s for s in staff if s.role == Staff.Role.BRAND_ADMIN)
    manager = next((s for s in staff if s.role == Staff.Role.STORE_MANAGER), None)
    guides = [s for s in staff if s.role == Staff.Role.GUIDE]
    if not guides:
        return
    system = Actor.system()
    topup = funding.topup_start(
        brand=brand, staff=admin, actor=system, amount_fen=2_000_000, key="demo:topup", fingerprint="demo"
    )
    sim = payments.provider("sim")
    sim.settle(topup.reference, "succeeded")
    body, sig = sim.signed_notice(topup.reference)
    funding.topup_notice(brand=brand, provider_name="sim", notice=sim.parse_notice(body, sig))

    first = guides[0]
    sender = (
        manager
        if manager and {st for s, st in links if s == manager.pk} & {st for s, st in links if s == first.pk}
        else admin
    )
    star = packets.packet_send(
        brand=brand,
        sender=sender,
        actor=system,
        kind="fixed",
        audience="person",
        staff_ids=[first.pk],
        amount_each_fen=8_800,
        greeting="本月销售之星，辛苦了！",
        key="demo:star",
        fingerprint="demo",
    )
    packets.packet_claim(brand=brand, staff=first, packet=star, key="demo:star-claim")
    packets.packet_send(
        brand=brand,
        sender=admin,
        actor=system,
        kind="lucky",
        audience="group",
        staff_ids=[s.pk for s in staff if s.pk != admin.pk],
        total_fen=66_600,
        greeting="开工大吉，拼手气！",
        key="demo:lucky",
        fingerprint="demo",
    )
    accounts.payout_account_bind(
        brand=brand,
        staff=first,
        actor=system,
        account_no=f"{first.user.phone or '13800000003'}"[-11:],
        real_name=first.name,
    )
    withdrawals.withdrawal_request(
        brand=brand, staff=first, amount_fen=2_000, key="demo:withdraw", fingerprint="demo"
    )
