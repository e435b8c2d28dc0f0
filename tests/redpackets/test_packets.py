"""Sending, claiming and expiring red packets: amounts, limits, who may send and claim, replays."""

import datetime
import random

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from redpackets.models import Account, Event, PacketShare, RedPacket
from redpackets.services import limits, packets, reconcile
from retail.events import Actor
from retail.idempotency import IdempotencyConflict
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import StaffFactory, StoreFactory
from tests.helpers.packets import balance, claim, send
from tests.helpers.tenancy import refresh

K = Account.Kind


@pytest.mark.parametrize("seed", range(30))
def test_lucky_split_adds_up_to_the_fen(seed):
    rng = random.Random(seed)
    n = rng.randint(1, 300)
    cap = rng.randint(1, 50_000)
    total = rng.randint(n, n * cap)
    parts = packets.lucky_split(total, n, cap, rng)
    assert len(parts) == n
    assert sum(parts) == total
    assert min(parts) >= 1 and max(parts) <= cap


def test_lucky_split_edges():
    assert packets.lucky_split(5, 5, 1) == [1, 1, 1, 1, 1]
    assert packets.lucky_split(100, 1, 100) == [100]
    for bad in ((4, 5, 10), (100, 2, 49), (1, 0, 10)):
        with pytest.raises(ValueError):
            packets.lucky_split(*bad)


def test_fixed_packet_to_one_person(brand, funded, brand_admin, guide):
    p = send(brand, brand_admin, [guide], amount_each_fen=6_666)
    assert (p.total_fen, p.shares, p.status) == (6_666, 1, "active")
    assert balance(brand, K.POOL) == 1_000_000 - 6_666
    with brand_scope(brand):
        assert p.account.balance_fen == 6_666
        assert Event.objects.filter(name="packet.sent", packet=p).count() == 1
    share = claim(brand, guide, p)
    assert share.amount_fen == 6_666 and not share.replayed
    assert balance(brand, guide) == 6_666
    p = refresh(p)
    assert (p.status, p.claimed_count, p.claimed_fen) == ("finished", 1, 6_666)
    with brand_scope(brand):
        assert p.account.balance_fen == 0


def test_store_packet_goes_to_the_stores_active_staff(brand, funded, store, store_manager, guides):
    StaffFactory(
        brand=brand, role=Staff.Role.GUIDE, stores=[store], status=Staff.Status.LEFT, left_on="2026-01-01"
    )
    p = packets.packet_send(
        brand=brand,
        sender=store_manager,
        actor=Actor.system(),
        kind="fixed",
        audience="store",
        store_id=store.pk,
        amount_each_fen=500,
        greeting="",
        key="s1",
        fingerprint="f",
    )
    # Five guides; the sender is not among the recipients, nor is anyone who left.
    assert p.shares == 5 and p.total_fen == 2_500
    assert p.greeting  # a default greeting
    with brand_scope(brand):
        assert sorted(p.recipients.values_list("staff_id", flat=True)) == sorted(g.pk for g in guides)


def test_lucky_group_packet_is_first_come_first_served(brand, funded, brand_admin, guides):
    p = send(brand, brand_admin, guides, kind="lucky", total_fen=1_000, shares=3)
    got = [claim(brand, g, p) for g in guides[:3]]
    assert sum(s.amount_fen for s in got) == 1_000
    assert all(s.amount_fen >= 1 for s in got)
    with pytest.raises(ValidationError) as exc:
        claim(brand, guides[3], p)
    assert exc.value.code == "packet_empty"
    assert balance(brand, guides[3]) == 0
    assert refresh(p).status == "finished"


def test_claiming_twice_returns_the_first_share(brand, funded, brand_admin, guides):
    p = send(brand, brand_admin, guides, amount_each_fen=100)
    first = claim(brand, guides[0], p, key="a")
    again = claim(brand, guides[0], p, key="b")
    replay = claim(brand, guides[0], p, key="a")
    assert again.pk == first.pk == replay.pk and again.replayed and replay.replayed
    assert balance(brand, guides[0]) == 100
    # The same key for another packet is a different request.
    other = send(brand, brand_admin, guides, amount_each_fen=100)
    with pytest.raises(IdempotencyConflict):
        claim(brand, guides[0], other, key="a")


def test_only_recipients_claim(brand, funded, brand_admin, guides, store_manager):
    p = send(brand, brand_admin, guides[:2], amount_each_fen=100)
    with pytest.raises(PermissionDenied):
        claim(brand, guides[2], p)
    with pytest.raises(PermissionDenied):
        claim(brand, brand_admin, p)


def test_claiming_needs_no_payout_account(brand, funded, brand_admin, guide):
    p = send(brand, brand_admin, [guide], amount_each_fen=100)
    assert claim(brand, guide, p).amount_fen == 100


def test_expiry_returns_unclaimed_money_once(brand, funded, brand_admin, guides):
    p = send(brand, brand_admin, guides, kind="lucky", total_fen=10_000, shares=5, expires_in_hours=1)
    s = claim(brand, guides[0], p)
    later = timezone.now() + datetime.timedelta(hours=2)
    assert packets.packets_expire(brand=brand, now=later) == 1
    assert packets.packets_expire(brand=brand, now=later) == 0
    p = refresh(p)
    assert (p.status, p.refunded_fen) == ("expired", 10_000 - s.amount_fen)
    assert balance(brand, K.POOL) == 1_000_000 - s.amount_fen
    with brand_scope(brand):
        assert p.account.balance_fen == 0
        assert Event.objects.filter(name="packet.expired").count() == 1
    assert reconcile.reconcile(brand=brand).ok


def test_an_expired_packet_cannot_be_claimed_even_before_the_task_runs(brand, funded, brand_admin, guide):
    p = send(brand, brand_admin, [guide], amount_each_fen=100, expires_in_hours=1)
    with brand_scope(brand):
        RedPacket.objects.filter(pk=p.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    with pytest.raises(ValidationError) as exc:
        claim(brand, guide, p)
    assert exc.value.code == "packet_expired"


def test_the_pool_must_hold_the_money(brand, brand_admin, guide):
    with pytest.raises(ValidationError) as exc:
        send(brand, brand_admin, [guide], amount_each_fen=100)
    assert exc.value.error_dict["total_fen"][0].code == "insufficient_funds"
    with brand_scope(brand):
        assert not RedPacket.objects.exists()


def test_limits_per_packet_share_and_day(brand, funded, brand_admin, guides):
    limits.settings_update(
        brand=brand,
        staff=brand_admin,
        actor=Actor.system(),
        data={"packet_max_fen": 5_000, "share_max_fen": 2_000, "daily_send_max_fen": 6_000},
    )
    with pytest.raises(ValidationError) as exc:
        send(brand, brand_admin, guides[:1], amount_each_fen=2_001)
    assert exc.value.error_dict["amount_each_fen"][0].code == "limit"
    with pytest.raises(ValidationError) as exc:
        send(brand, brand_admin, guides, amount_each_fen=1_001)  # 5 x 1,001 > 5,000
    assert exc.value.error_dict["total_fen"][0].code == "limit"
    with pytest.raises(ValidationError) as exc:
        send(brand, brand_admin, guides[:2], kind="lucky", total_fen=4_001)  # a share would pass 2,000
    assert exc.value.error_dict["total_fen"][0].code == "limit"
    send(brand, brand_admin, guides[:2], amount_each_fen=2_000)
    with pytest.raises(ValidationError) as exc:
        send(brand, brand_admin, guides[:2], amount_each_fen=1_001)
    assert exc.value.error_dict["total_fen"][0].code == "daily_limit"
    assert balance(brand, K.POOL) == 1_000_000 - 4_000


def test_who_may_send_to_whom(brand, funded, store, store_manager, guide):
    other_store = StoreFactory(brand=brand, code="BJ01", name="三里屯店")
    stranger = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[other_store])
    with pytest.raises(PermissionDenied):
        send(brand, guide, [stranger], amount_each_fen=100)
    with pytest.raises(ValidationError) as exc:
        send(brand, store_manager, [stranger], amount_each_fen=100)
    assert exc.value.error_dict["staff_ids"][0].code == "not_allowed"
    with pytest.raises(ValidationError):
        packets.packet_send(
            brand=brand,
            sender=store_manager,
            actor=None,
            kind="fixed",
            audience="store",
            store_id=other_store.pk,
            amount_each_fen=100,
            greeting="",
            key="k",
            fingerprint="f",
        )
    with pytest.raises(ValidationError) as exc:
        send(brand, store_manager, [store_manager], amount_each_fen=100)
    assert exc.value.error_dict["staff_ids"][0].code == "no_recipients"
    assert send(brand, store_manager, [guide], amount_each_fen=100).total_fen == 100


def test_another_brands_staff_cannot_be_sent_to(brand, funded, brand_admin, other_admin):
    with pytest.raises(ValidationError) as exc:
        send(brand, brand_admin, [other_admin], amount_each_fen=100)
    assert exc.value.error_dict["staff_ids"][0].code == "unknown_staff"


def test_send_is_idempotent(brand, funded, brand_admin, guides):
    a = send(brand, brand_admin, guides, amount_each_fen=100, key="same", fingerprint="one")
    b = send(brand, brand_admin, guides, amount_each_fen=100, key="same", fingerprint="one")
    assert a.pk == b.pk and b.replayed
    with pytest.raises(IdempotencyConflict):
        send(brand, brand_admin, guides, amount_each_fen=200, key="same", fingerprint="two")
    assert balance(brand, K.POOL) == 1_000_000 - 500


def test_bad_amounts_are_refused(brand, funded, brand_admin, guides):
    for kw in (
        {"amount_each_fen": 0},
        {"amount_each_fen": -5},
        {"amount_each_fen": True},
        {"amount_each_fen": 1.5},
        {"kind": "lucky", "total_fen": 4},  # five shares need five fen
        {"kind": "lucky", "total_fen": 100, "shares": 6},  # more shares than people
        {"amount_each_fen": 100, "shares": 0},
    ):
        with pytest.raises(ValidationError):
            send(brand, brand_admin, guides, **kw)
    with pytest.raises(ValidationError):
        send(brand, brand_admin, guides, amount_each_fen=100, expires_in_hours=0)
    with pytest.raises(ValidationError):
        send(brand, brand_admin, guides, amount_each_fen=100, greeting="长" * 61)
    assert balance(brand, K.POOL) == 1_000_000
    with brand_scope(brand):
        assert not PacketShare.objects.exists()


def test_commission_packets_have_no_sender(brand, funded, guide):
    p = packets.packet_send(
        brand=brand,
        sender=None,
        actor=None,
        kind="fixed",
        audience="person",
        staff_ids=[guide.pk],
        amount_each_fen=1_234,
        greeting="9月佣金",
        key="commission:1",
        fingerprint="c",
        source="commission",
    )
    assert p.sender is None and claim(brand, guide, p).amount_fen == 1_234
    with pytest.raises(PermissionDenied):
        packets.packet_send(
            brand=brand,
            sender=None,
            actor=None,
            kind="fixed",
            audience="person",
            staff_ids=[guide.pk],
            amount_each_fen=1,
            greeting="x",
            key="k2",
            fingerprint="c",
        )


def test_a_long_fingerprint_is_stored_as_its_digest(brand, funded, brand_admin, guide):
    long = "x" * 500
    a = send(brand, brand_admin, [guide], amount_each_fen=100, key="long", fingerprint=long)
    assert send(brand, brand_admin, [guide], amount_each_fen=100, key="long", fingerprint=long).pk == a.pk
    with pytest.raises(IdempotencyConflict):
        send(brand, brand_admin, [guide], amount_each_fen=100, key="long", fingerprint="y" * 500)
