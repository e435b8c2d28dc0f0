"""Races on PostgreSQL with real concurrent transactions: many claimers on one packet, one person
claiming at once from several devices, withdrawals and sends racing for the same money, duplicate
callbacks at once, expiry racing claims, and a replayed key racing itself."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Sum

from redpackets.models import Account, PacketShare, RedPacket, Transaction, Withdrawal
from redpackets.services import packets, reconcile, withdrawals
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import StaffFactory
from tests.helpers.concurrency import race
from tests.helpers.packets import balance, bind, claim, fill_wallet, send, top_up
from tests.helpers.tenancy import refresh

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

K = Account.Kind


def codes(errors) -> list[str]:
    out = []
    for e in errors:
        if isinstance(e, ValidationError):
            out.append(getattr(e, "code", None) or next(iter(e.error_dict.values()))[0].code)
        else:
            out.append(type(e).__name__)
    return sorted(out)


@pytest.fixture
def crowd(brand, store):
    return [
        StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name=f"店员{i}") for i in range(30)
    ]


def test_many_claimers_one_lucky_packet(brand, brand_admin, crowd):
    top_up(brand, brand_admin, 100_000)
    p = send(brand, brand_admin, crowd, kind="lucky", total_fen=5_000, shares=12)
    results, errors = race(len(crowd), lambda i: claim(brand, crowd[i], p))
    assert len(results) == 12
    assert codes(errors) == ["packet_empty"] * 18
    assert sum(s.amount_fen for s in results) == 5_000
    assert len({s.staff_id for s in results}) == 12
    with brand_scope(brand):
        assert PacketShare.objects.filter(packet=p, staff__isnull=False).count() == 12
        assert Account.objects.get(packet=p).balance_fen == 0
        assert Account.objects.filter(kind=K.WALLET).aggregate(s=Sum("balance_fen"))["s"] == 5_000
    p = refresh(p)
    assert (p.status, p.claimed_count, p.claimed_fen) == ("finished", 12, 5_000)
    assert reconcile.reconcile(brand=brand).ok


def test_one_person_claiming_from_many_devices_gets_one_share(brand, brand_admin, crowd):
    top_up(brand, brand_admin, 100_000)
    p = send(brand, brand_admin, crowd[:3], amount_each_fen=700)
    results, errors = race(8, lambda i: claim(brand, crowd[0], p, key=f"device-{i}"))
    assert not errors
    assert len({s.pk for s in results}) == 1
    assert sum(1 for s in results if not s.replayed) == 1
    assert balance(brand, crowd[0]) == 700
    with brand_scope(brand):
        assert Account.objects.filter(kind=K.WALLET, staff=crowd[0]).count() == 1


def test_first_claims_of_two_packets_at_once_make_one_wallet(brand, brand_admin, crowd):
    top_up(brand, brand_admin, 100_000)
    ps = [send(brand, brand_admin, [crowd[0]], amount_each_fen=100 + i) for i in range(6)]
    results, errors = race(6, lambda i: claim(brand, crowd[0], ps[i]))
    assert not errors
    assert balance(brand, crowd[0]) == sum(100 + i for i in range(6))
    with brand_scope(brand):
        assert Account.objects.filter(kind=K.WALLET, staff=crowd[0]).count() == 1


def test_sends_racing_for_the_pool(brand, brand_admin, crowd):
    top_up(brand, brand_admin, 10_000)
    results, errors = race(10, lambda i: send(brand, brand_admin, [crowd[i]], amount_each_fen=3_000))
    assert len(results) == 3
    assert codes(errors) == ["insufficient_funds"] * 7
    assert balance(brand, K.POOL) == 1_000
    assert reconcile.reconcile(brand=brand).ok


def test_the_same_send_key_racing_itself_sends_once(brand, brand_admin, crowd):
    top_up(brand, brand_admin, 100_000)
    results, errors = race(6, lambda i: send(brand, brand_admin, crowd[:5], amount_each_fen=100, key="once"))
    assert not errors
    assert len({p.pk for p in results}) == 1
    with brand_scope(brand):
        assert RedPacket.objects.count() == 1
    assert balance(brand, K.POOL) == 100_000 - 500


def test_withdrawals_racing_for_the_wallet(brand, brand_admin, crowd, payout_sim):
    top_up(brand, brand_admin, 100_000)
    g = crowd[0]
    fill_wallet(brand, brand_admin, g, 10_000)
    bind(brand, g)
    results, errors = race(
        10,
        lambda i: withdrawals.withdrawal_request(
            brand=brand, staff=g, amount_fen=3_000, key=f"w{i}", fingerprint="x"
        ),
    )
    assert len(results) == 3
    assert codes(errors) == ["insufficient_funds"] * 7
    assert balance(brand, g) == 1_000
    with brand_scope(brand):
        assert Withdrawal.objects.filter(status="succeeded").count() == 3
    assert reconcile.reconcile(brand=brand).ok


def test_duplicate_callbacks_at_once_end_a_withdrawal_once(brand, brand_admin, crowd, payout_sim):
    top_up(brand, brand_admin, 100_000)
    g = crowd[0]
    fill_wallet(brand, brand_admin, g, 10_000)
    bound = bind(brand, g)
    payout_sim.behave(bound.account_no, "twice")
    w = withdrawals.withdrawal_request(brand=brand, staff=g, amount_fen=4_000, key="w", fingerprint="x")
    assert refresh(w).status == "pending"
    body, sig = payout_sim.signed_notice(w.reference)
    results, errors = race(
        8, lambda i: withdrawals.withdrawal_notice(brand=brand, provider_name="sim", body=body, signature=sig)
    )
    assert not errors and {r.status for r in results} == {"succeeded"}
    with brand_scope(brand):
        assert Transaction.objects.filter(withdrawal=w).count() == 2  # out of the wallet, then paid
    assert balance(brand, K.PAID_OUT) == 4_000 and balance(brand, K.PAYOUT_PENDING) == 0
    assert reconcile.reconcile(brand=brand).ok


def test_callback_racing_the_poll(brand, brand_admin, crowd, payout_sim):
    top_up(brand, brand_admin, 100_000)
    g = crowd[0]
    fill_wallet(brand, brand_admin, g, 10_000)
    bound = bind(brand, g)
    payout_sim.behave(bound.account_no, "late_fail")
    ws = [
        withdrawals.withdrawal_request(brand=brand, staff=g, amount_fen=1_000, key=f"w{i}", fingerprint="x")
        for i in range(4)
    ]
    for w in ws:
        payout_sim.settle(w.reference, "failed")

    def go(i):
        if i % 2:
            return withdrawals.withdrawals_poll(brand=brand, older_than_seconds=0)
        body, sig = payout_sim.signed_notice(ws[i // 2].reference)
        return withdrawals.withdrawal_notice(brand=brand, provider_name="sim", body=body, signature=sig)

    _results, errors = race(8, go)
    assert not errors
    assert balance(brand, g) == 10_000  # every failed withdrawal refunded exactly once
    with brand_scope(brand):
        assert Withdrawal.objects.filter(status="failed").count() == 4
    assert reconcile.reconcile(brand=brand).ok


def test_expiry_racing_claims(brand, brand_admin, crowd):
    import datetime

    from django.utils import timezone

    top_up(brand, brand_admin, 100_000)
    p = send(brand, brand_admin, crowd, kind="lucky", total_fen=9_000, shares=30, expires_in_hours=1)
    later = timezone.now() + datetime.timedelta(hours=2)

    def go(i):
        if i == 0:
            return packets.packet_expire(brand=brand, packet=p, now=later)
        return claim(brand, crowd[i], p)

    results, errors = race(len(crowd), go)
    assert all(isinstance(e, ValidationError) for e in errors)
    p = refresh(p)
    assert p.status == "expired"
    assert p.claimed_fen + p.refunded_fen == 9_000
    with brand_scope(brand):
        assert Account.objects.get(packet=p).balance_fen == 0
    assert balance(brand, K.POOL) == 100_000 - p.claimed_fen
    assert reconcile.reconcile(brand=brand).ok


def test_claims_cannot_cross_brands(brand, other_brand, brand_admin, other_admin, crowd):
    top_up(brand, brand_admin, 100_000)
    p = send(brand, brand_admin, crowd[:2], amount_each_fen=100)
    # Inside the other brand's scope nobody is among the packet's recipients (RLS hides its rows).
    with pytest.raises(PermissionDenied):
        packets.packet_claim(brand=other_brand, staff=other_admin, packet=p, key="x")
    assert balance(brand, crowd[0]) == 0
    with pytest.raises(PermissionDenied):
        packets.packet_claim(brand=brand, staff=other_admin, packet=p, key="y")
