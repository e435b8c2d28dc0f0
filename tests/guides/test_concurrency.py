"""Races on PostgreSQL with real concurrent transactions: one order attributed by several workers
at once, a refund's clawback delivered twice at once, two approvals and two payment runs racing."""

import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from guides.models import Attribution, CommissionEntry, SettlementPeriod, Statement
from guides.services import attribution, settlement
from redpackets.models import RedPacket
from redpackets.services import reconcile
from retail.events import Actor
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import StaffFactory
from tests.helpers.commission import LONG_AGO, external, join, on_the_books, refund, rule
from tests.helpers.concurrency import race
from tests.helpers.packets import top_up

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
DAY = datetime.timedelta(days=1)


def test_workers_attributing_the_same_orders_at_once_credit_once(brand, brand_admin, guide, sku, monkeypatch):
    rule(brand, brand_admin, rate_bp=1000)
    monkeypatch.setitem(settings.OUTBOX_SUBSCRIBERS, "order.paid", [])
    member = join(brand, guide, since=LONG_AGO)
    ids = [
        external(brand, brand_admin, "flagship", member=member, lines=[(sku, 1, 10000)]).pk for _ in range(20)
    ]

    def work(i):
        if i % 2:
            return attribution.attribute_orders(brand=brand, order_ids=ids, notify=False)
        return attribution.attribute_pending(brand=brand, batch=7, notify=False)

    results, errors = race(6, work)
    assert errors == []
    assert sum(results) == 20  # each order attributed by exactly one of them
    with brand_scope(brand):
        assert Attribution.objects.count() == 20
        assert CommissionEntry.objects.filter(kind="earn").count() == 20
        assert sum(CommissionEntry.objects.values_list("amount_fen", flat=True)) == 20_000


def test_a_clawback_delivered_twice_at_once_is_taken_once(brand, brand_admin, guide, sku, monkeypatch):
    rule(brand, brand_admin, rate_bp=1000)
    order = external(
        brand, brand_admin, "flagship", member=join(brand, guide, since=LONG_AGO), lines=[(sku, 1, 10000)]
    )
    monkeypatch.setitem(settings.OUTBOX_SUBSCRIBERS, "order.refunded", [])
    refund(brand, brand_admin, order, amount_fen=3000)
    results, errors = race(5, lambda i: attribution.attribution_refund_sync(brand=brand, order_id=order.pk))
    assert errors == [] and sorted(results) == [-300, 0, 0, 0, 0]
    with brand_scope(brand):
        assert sum(CommissionEntry.objects.filter(guide=guide).values_list("amount_fen", flat=True)) == 700


def test_two_approvals_and_payment_runs_racing_pay_each_statement_once(brand, brand_admin, store, sku):
    rule(brand, brand_admin, rate_bp=1000)
    guides = [
        on_the_books(StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])) for _ in range(12)
    ]
    at = timezone.now() - 5 * DAY
    for i, g in enumerate(guides):
        external(
            brand,
            brand_admin,
            "flagship",
            member=join(brand, g, since=LONG_AGO),
            lines=[(sku, 1, 1000 * (i + 1))],
            at=at,
        )
    top_up(brand, brand_admin, 1_000_000)
    period = settlement.period_close(brand=brand, start=at - DAY, end=timezone.now() - DAY, label="p")

    def approve(i):
        return settlement.period_approve(
            brand=brand, staff=brand_admin, actor=Actor.system(), period=period, key=f"k{i}"
        ).replayed

    results, errors = race(3, approve)
    assert errors == [] and sorted(results) == [False, True, True]
    # the approval's own task paid already; more runs racing find nothing left to pay
    results, errors = race(4, lambda i: settlement.period_pay(brand=brand, period=period, batch=3))
    assert errors == []
    with brand_scope(brand):
        assert SettlementPeriod.objects.get().status == "paid"
        assert Statement.objects.filter(status="paid").count() == 12
        packets = list(RedPacket.objects.filter(source="commission").values_list("total_fen", flat=True))
    assert len(packets) == 12 and sum(packets) == sum(100 * (i + 1) for i in range(12))
    assert reconcile.reconcile(brand=brand).ok


def test_payment_runs_racing_without_a_task(brand, brand_admin, store, sku, monkeypatch):
    from guides import tasks

    monkeypatch.setattr(tasks.pay_period, "delay", lambda *a, **k: None)  # only the racing runs pay
    rule(brand, brand_admin, rate_bp=1000)
    guides = [
        on_the_books(StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])) for _ in range(10)
    ]
    at = timezone.now() - 5 * DAY
    for g in guides:
        external(
            brand,
            brand_admin,
            "flagship",
            member=join(brand, g, since=LONG_AGO),
            lines=[(sku, 1, 5000)],
            at=at,
        )
    top_up(brand, brand_admin, 1_000_000)
    period = settlement.period_close(brand=brand, start=at - DAY, end=timezone.now() - DAY, label="p")
    settlement.period_approve(brand=brand, staff=brand_admin, actor=Actor.system(), period=period, key="k")
    results, errors = race(4, lambda i: settlement.period_pay(brand=brand, period=period, batch=2))
    assert errors == [] and sum(results) == 10
    with brand_scope(brand):
        assert RedPacket.objects.filter(source="commission").count() == 10
    assert reconcile.reconcile(brand=brand).ok
