"""Refund clawbacks, settlement statements, approval and payment as red packets."""

import datetime
import itertools

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from guides.models import CommissionEntry, Event, Notification, SettlementPeriod, Statement
from guides.push import LogPush
from guides.services import notify, settlement
from redpackets.models import Account, RedPacket
from redpackets.services import reconcile
from retail.events import Actor
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.helpers.commission import (
    LONG_AGO,
    attribution_of,
    committed,
    credited,
    entries,
    external,
    join,
    refund,
    rule,
)
from tests.helpers.packets import top_up

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


def last_month():
    now = timezone.now()
    return now - 40 * DAY, now - 5 * DAY


def close(brand, start=None, end=None):
    start = start or timezone.now() - 60 * DAY
    end = end or timezone.now() - DAY
    return settlement.period_close(brand=brand, start=start, end=end, label="2026-10")


def approve_and_pay(brand, admin, period, key="k1"):
    with committed():
        return settlement.period_approve(
            brand=brand, staff=admin, actor=Actor.system(), period=period, key=key
        )


def stmt(brand, period, guide):
    with brand_scope(brand):
        return Statement.objects.get(period=period, guide=guide)


def wallet(brand, staff):
    with brand_scope(brand):
        a = Account.objects.filter(kind="wallet", staff=staff).first()
        return a.balance_fen if a else 0


@pytest.fixture
def rate10(brand, brand_admin):
    return rule(brand, brand_admin, rate_bp=1000)


# -- refunds ------------------------------------------------------------------------------------


def test_partial_refund_claws_back_the_refunded_part(brand, brand_admin, guide, sku, sku2, rate10):
    order = external(
        brand,
        brand_admin,
        "flagship",
        member=join(brand, guide, since=LONG_AGO),
        lines=[(sku, 2, 10000), (sku2, 1, 5000)],
    )
    assert credited(brand, guide) == 2500
    with brand_scope(brand):
        line = order.lines.get(sku=sku)
    refund(brand, brand_admin, order, lines=[{"line": line.pk, "quantity": 1}])
    assert credited(brand, guide) == 1500
    refund(brand, brand_admin, order, amount_fen=2500)  # an amount-only refund, spread over what is left
    att = attribution_of(brand, order)
    # 2,500 off the remaining 150.00 is spread 16.67 / 8.33: 10 % of 83.33 and 41.67, each rounded down
    assert credited(brand, guide) == att.commission_fen == 833 + 416
    kinds = [(e.kind, e.amount_fen) for e in entries(brand, order=order)]
    assert kinds == [("earn", 2500), ("clawback", -1000), ("clawback", -251)]
    # a full refund ends at zero
    refund(brand, brand_admin, order, amount_fen=12500)
    assert credited(brand, guide) == 0
    with brand_scope(brand):
        assert Notification.objects.filter(staff=guide, kind="clawback").count() == 3


def test_replayed_refund_notice_claws_back_once(brand, brand_admin, guide, sku, rate10):
    from guides.services import attribution

    order = external(
        brand, brand_admin, "flagship", member=join(brand, guide, since=LONG_AGO), lines=[(sku, 1, 10000)]
    )
    refund(brand, brand_admin, order, amount_fen=4000)
    for _ in range(3):
        attribution.attribution_refund_sync(brand=brand, order_id=order.pk)
    assert credited(brand, guide) == 600


def test_fixed_commission_follows_refunded_units(brand, brand_admin, guide, sku):
    rule(brand, brand_admin, kind="fixed", fixed_fen=300, sku=sku.pk)
    order = external(
        brand, brand_admin, "flagship", member=join(brand, guide, since=LONG_AGO), lines=[(sku, 3, 3333)]
    )
    assert credited(brand, guide) == 900
    with brand_scope(brand):
        line = order.lines.get()
    refund(brand, brand_admin, order, lines=[{"line": line.pk, "quantity": 1}])
    assert credited(brand, guide) == 600  # exactly two units' worth, whatever the price's rounding


# -- statements ---------------------------------------------------------------------------------


def test_period_close_writes_one_statement_per_guide_once(brand, brand_admin, guide, guide2, sku, rate10):
    t = timezone.now() - 10 * DAY
    external(
        brand,
        brand_admin,
        "flagship",
        member=join(brand, guide, since=LONG_AGO),
        lines=[(sku, 1, 10000)],
        at=t,
    )
    external(
        brand,
        brand_admin,
        "pos",
        member=join(brand, guide2, since=LONG_AGO),
        store=guide2.stores.first() if False else None,
        lines=[(sku, 1, 20000)],
        at=t,
    ) if False else None
    m2 = join(brand, guide2, since=LONG_AGO)
    external(brand, brand_admin, "flagship", member=m2, lines=[(sku, 1, 20000)], at=t)
    external(brand, brand_admin, "flagship", member=m2, lines=[(sku, 1, 30000)], at=t)
    later = external(brand, brand_admin, "flagship", member=m2, lines=[(sku, 1, 99900)])  # after the period
    start, end = timezone.now() - 60 * DAY, timezone.now() - DAY
    period = close(brand, start, end)
    assert close(brand, start, end).pk == period.pk
    a, b = stmt(brand, period, guide), stmt(brand, period, guide2)
    assert (a.orders, a.sales_fen, a.earned_fen, a.total_fen, a.status) == (1, 10000, 1000, 1000, "pending")
    assert (b.orders, b.sales_fen, b.total_fen) == (2, 50000, 5000)
    assert period.statements == 2 and period.total_fen == 6000
    with brand_scope(brand):
        assert CommissionEntry.objects.get(order=later).statement_id is None


def test_period_not_ended_cannot_be_closed(brand):
    with pytest.raises(ValidationError):
        settlement.period_close(
            brand=brand, start=timezone.now() - DAY, end=timezone.now() + DAY, label="now"
        )


def test_approval_pays_each_statement_once_into_the_wallet_with_the_statement_linked(
    brand, brand_admin, guide, guide2, sku, rate10
):
    top_up(brand, brand_admin, 100_000)
    t = timezone.now() - 10 * DAY
    external(
        brand,
        brand_admin,
        "flagship",
        member=join(brand, guide, since=LONG_AGO),
        lines=[(sku, 1, 10000)],
        at=t,
    )
    external(
        brand,
        brand_admin,
        "flagship",
        member=join(brand, guide2, since=LONG_AGO),
        lines=[(sku, 1, 30000)],
        at=t,
    )
    period = close(brand)
    p = approve_and_pay(brand, brand_admin, period)
    assert p.replayed is False
    with brand_scope(brand):
        period.refresh_from_db()
    assert period.status == "paid"
    a = stmt(brand, period, guide)
    assert a.status == "paid" and a.packet_id is not None
    with brand_scope(brand):
        packet = RedPacket.objects.get(pk=a.packet_id)
    assert (packet.source, packet.source_ref, packet.total_fen, packet.status) == (
        "commission",
        f"statement:{a.pk}",
        1000,
        "finished",
    )
    assert wallet(brand, guide) == 1000 and wallet(brand, guide2) == 3000
    # approving again, paying again: nothing more
    again = approve_and_pay(brand, brand_admin, period, key="k2")
    assert again.replayed is True
    assert settlement.period_pay(brand=brand, period=period) == 0
    assert wallet(brand, guide) == 1000
    with brand_scope(brand):
        assert RedPacket.objects.filter(source="commission").count() == 2
        assert Event.objects.filter(name="statement.approved").count() == 2
        assert Event.objects.filter(name="statement.paid").count() == 2
        assert Notification.objects.filter(staff=guide, kind="statement").count() == 1
    assert reconcile.reconcile(brand=brand).ok
    # the wallet record names the statement
    from redpackets import selectors as rp

    records = rp.account_records(brand=brand, account=rp.wallet_account(brand=brand, staff=guide))
    assert any(r.packet_id == packet.pk and r.amount_fen == 1000 for r in records)


def test_approval_is_refused_when_the_pool_is_short_and_nothing_is_paid(
    brand, brand_admin, guide, sku, rate10
):
    top_up(brand, brand_admin, 500)
    external(
        brand,
        brand_admin,
        "flagship",
        member=join(brand, guide, since=LONG_AGO),
        lines=[(sku, 1, 10000)],
        at=timezone.now() - 10 * DAY,
    )
    period = close(brand)
    with pytest.raises(ValidationError) as e:
        approve_and_pay(brand, brand_admin, period)
    assert e.value.code == "insufficient_funds"
    with brand_scope(brand):
        period.refresh_from_db()
    assert period.status == "review" and wallet(brand, guide) == 0


def test_only_brand_admins_approve_and_hold(brand, brand_admin, store_manager, guide, sku, rate10):
    external(
        brand,
        brand_admin,
        "flagship",
        member=join(brand, guide, since=LONG_AGO),
        lines=[(sku, 1, 10000)],
        at=timezone.now() - 10 * DAY,
    )
    period = close(brand)
    with pytest.raises(PermissionDenied):
        settlement.period_approve(brand=brand, staff=store_manager, actor=Actor.system(), period=period)
    with pytest.raises(PermissionDenied):
        settlement.statement_hold(
            brand=brand, staff=guide, actor=Actor.system(), statement=stmt(brand, period, guide), reason="x"
        )


def test_a_held_line_is_not_paid_until_released(brand, brand_admin, guide, guide2, sku, rate10):
    top_up(brand, brand_admin, 100_000)
    t = timezone.now() - 10 * DAY
    external(
        brand,
        brand_admin,
        "flagship",
        member=join(brand, guide, since=LONG_AGO),
        lines=[(sku, 1, 10000)],
        at=t,
    )
    external(
        brand,
        brand_admin,
        "flagship",
        member=join(brand, guide2, since=LONG_AGO),
        lines=[(sku, 1, 30000)],
        at=t,
    )
    period = close(brand)
    with pytest.raises(ValidationError):
        settlement.statement_hold(
            brand=brand,
            staff=brand_admin,
            actor=Actor.system(),
            statement=stmt(brand, period, guide),
            reason="  ",
        )
    held = settlement.statement_hold(
        brand=brand,
        staff=brand_admin,
        actor=Actor.system(),
        statement=stmt(brand, period, guide),
        reason="核对退货",
    )
    assert (held.status, held.hold_reason) == ("held", "核对退货")
    approve_and_pay(brand, brand_admin, period)
    assert wallet(brand, guide) == 0 and wallet(brand, guide2) == 3000
    assert stmt(brand, period, guide).status == "held"
    with committed():
        settlement.statement_release(brand=brand, staff=brand_admin, actor=Actor.system(), statement=held)
    assert stmt(brand, period, guide).status == "paid" and wallet(brand, guide) == 1000
    with pytest.raises(ValidationError):
        settlement.statement_release(brand=brand, staff=brand_admin, actor=Actor.system(), statement=held)
    assert wallet(brand, guide) == 1000


def test_refund_after_settlement_is_carried_into_the_next_statement(brand, brand_admin, guide, sku, rate10):
    top_up(brand, brand_admin, 100_000)
    member = join(brand, guide, since=LONG_AGO)
    order = external(
        brand, brand_admin, "flagship", member=member, lines=[(sku, 1, 50000)], at=timezone.now() - 50 * DAY
    )
    p1 = close(brand, start=timezone.now() - 60 * DAY, end=timezone.now() - 30 * DAY)
    assert stmt(brand, p1, guide).total_fen == 5000
    approve_and_pay(brand, brand_admin, p1)
    assert wallet(brand, guide) == 5000
    refund(brand, brand_admin, order, amount_fen=50000)  # after settlement: -5000 owed
    external(
        brand, brand_admin, "flagship", member=member, lines=[(sku, 1, 20000)], at=timezone.now() - 10 * DAY
    )
    with brand_scope(brand):
        p1.refresh_from_db()
    p2 = close(brand, start=p1.end, end=timezone.now())
    s2 = stmt(brand, p2, guide)
    # 2000 earned, 5000 clawed back: nothing to pay, 3000 carried on
    assert (s2.earned_fen, s2.clawback_fen, s2.carried_out_fen, s2.total_fen, s2.status) == (
        2000,
        -5000,
        3000,
        0,
        "nothing",
    )
    approve_and_pay(brand, brand_admin, p2)
    assert wallet(brand, guide) == 5000  # not taken from the wallet; owed against future commission
    external(brand, brand_admin, "flagship", member=member, lines=[(sku, 1, 100000)])
    with brand_scope(brand):
        p2.refresh_from_db()
    p3 = close(brand, start=p2.end, end=timezone.now())
    s3 = stmt(brand, p3, guide)
    assert (s3.earned_fen, s3.carried_in_fen, s3.total_fen) == (10000, -3000, 7000)
    approve_and_pay(brand, brand_admin, p3)
    assert wallet(brand, guide) == 12000  # 5000 + 7000 = all commission net of the refund
    assert reconcile.reconcile(brand=brand).ok


def test_a_guide_who_left_is_held_for_review(brand, brand_admin, guide, sku, rate10):
    external(
        brand,
        brand_admin,
        "flagship",
        member=join(brand, guide, since=LONG_AGO),
        lines=[(sku, 1, 10000)],
        at=timezone.now() - 10 * DAY,
    )
    with brand_scope(brand):
        Staff.objects.filter(pk=guide.pk).update(status="left", left_on=timezone.now().date())
    period = close(brand)
    assert stmt(brand, period, guide).status == "held"


def test_period_bounds_in_the_brands_time_zone(brand):
    from guides.services.rules import settings_get

    s = settings_get(brand=brand)
    at = datetime.datetime(2026, 10, 31, 17, 0, tzinfo=datetime.UTC)  # 01:00 on 1 November in Shanghai
    start, end, label = settlement.period_bounds(s, at)
    assert label == "2026-11"
    assert start == datetime.datetime(2026, 10, 31, 16, 0, tzinfo=datetime.UTC)
    s.period = "weekly"
    assert settlement.period_bounds(s, at)[2] == "2026-W44"
    s.period = "semimonthly"
    assert (
        settlement.period_bounds(s, datetime.datetime(2026, 11, 20, tzinfo=datetime.UTC))[2]
        == "2026-11 (16-30)"
    )


def test_hourly_task_closes_the_last_period_once(brand, brand_admin, guide, sku, rate10):
    from guides import tasks

    start, end, _label = settlement.last_complete_period(brand=brand)
    external(
        brand,
        brand_admin,
        "flagship",
        member=join(brand, guide, since=LONG_AGO),
        lines=[(sku, 1, 10000)],
        at=start + DAY,
    )
    tasks.hourly.delay()
    tasks.hourly.delay()
    with brand_scope(brand):
        assert SettlementPeriod.objects.count() == 1
        assert Statement.objects.get().total_fen == 1000


# -- notifications ------------------------------------------------------------------------------


def test_a_big_import_sends_one_notification_per_guide(
    brand, brand_admin, guide, guide2, sku, rate10, monkeypatch
):
    from django.conf import settings

    from guides.services import attribution

    members = [join(brand, g, since=LONG_AGO) for g in (guide, guide2) for _ in range(3)]
    monkeypatch.setitem(settings.OUTBOX_SUBSCRIBERS, "order.paid", [])
    for m in members:
        for _ in range(4):
            external(brand, brand_admin, "flagship", member=m, lines=[(sku, 1, 10000)])
    LogPush.outbox.clear()
    with committed():
        attribution.attribute_pending(brand=brand, batch=5)
    with brand_scope(brand):
        notes = list(Notification.objects.filter(kind="commission").order_by("staff_id"))
    assert [(n.staff_id, n.amount_fen, n.data["orders"]) for n in notes] == [
        (guide.pk, 12000, 12),
        (guide2.pk, 12000, 12),
    ]
    assert len(LogPush.outbox) == 2
    assert notify.notify_commissions(brand=brand) == 0  # told once


def test_one_order_says_who_bought(brand, brand_admin, guide, sku, rate10):
    from django.utils import translation

    LogPush.outbox.clear()
    external(
        brand,
        brand_admin,
        "flagship",
        member=join(brand, guide, name="李娜", since=LONG_AGO),
        lines=[(sku, 1, 12345)],
    )
    notify.notify_commissions(brand=brand)
    with brand_scope(brand), translation.override("en"):
        note = Notification.objects.get(staff=guide)
        assert note.message == "You earned ¥12.34 from 李娜."
    assert LogPush.outbox[-1]["staff"] == guide.pk


def test_operators_read_statements_of_every_brand_in_django_admin(
    client, django_user_model, brand, brand_admin, guide, sku, rate10
):
    external(
        brand,
        brand_admin,
        "flagship",
        member=join(brand, guide, since=LONG_AGO),
        lines=[(sku, 1, 10000)],
        at=timezone.now() - 10 * DAY,
    )
    close(brand)
    operator = django_user_model.objects.create_superuser(
        "operator", password="x-Strong-1", phone="13000000000"
    )
    client.force_login(operator)
    for url in (
        "/admin/guides/statement/",
        "/admin/guides/settlementperiod/",
        "/admin/guides/reattribution/",
    ):
        assert client.get(url).status_code == 200
    assert guide.name in client.get("/admin/guides/statement/").content.decode()
    with brand_scope(brand):
        pk = Statement.objects.get().pk
    assert client.post(f"/admin/guides/statement/{pk}/delete/").status_code == 403


# -- closing early, changing the length ----------------------------------------------------------


def no_overlaps(brand):
    with brand_scope(brand):
        spans = list(SettlementPeriod.objects.order_by("start").values_list("start", "end"))
    assert all(a_end <= b_start for (_a, a_end), (b_start, _b) in itertools.pairwise(spans)), spans
    return spans


def test_the_running_period_closes_early_up_to_now_once(brand, brand_admin, guide, sku, rate10):
    from retail.models import AuditLog

    external(
        brand, brand_admin, "flagship", member=join(brand, guide, since=LONG_AGO), lines=[(sku, 1, 10000)]
    )
    start, natural_end, _label = settlement.period_running(brand=brand)
    before = timezone.now()
    period = settlement.period_close_early(brand=brand, staff=brand_admin, actor=Actor.system(), start=start)
    assert period.replayed is False
    assert period.start == start and before <= period.end <= timezone.now() < natural_end
    assert (period.statements, stmt(brand, period, guide).earned_fen) == (1, 1000)  # the partial period
    # The next period starts now, and ends at the usual boundary.
    assert settlement.period_running(brand=brand)[:2] == (period.end, natural_end)
    # The same request again (a double click, a retry) closes nothing more.
    again = settlement.period_close_early(brand=brand, staff=brand_admin, actor=Actor.system(), start=start)
    assert (again.pk, again.replayed) == (period.pk, True)
    with brand_scope(brand):
        assert SettlementPeriod.objects.count() == 1 and Statement.objects.count() == 1
        assert AuditLog.objects.filter(action="commission.period_closed_early").count() == 1
    # Only brand admins close, and only the period that is running.
    with pytest.raises(PermissionDenied):
        settlement.period_close_early(brand=brand, staff=guide, actor=Actor.system(), start=period.end)
    with pytest.raises(ValidationError) as exc:
        settlement.period_close_early(
            brand=brand, staff=brand_admin, actor=Actor.system(), start=period.end - DAY
        )
    assert exc.value.error_dict["start"][0].code == "stale_period"


def test_switching_monthly_to_weekly_after_a_closed_month_starts_where_it_ended(brand, brand_admin):
    from guides.services import rules as rule_services

    start, end, label = settlement.last_complete_period(brand=brand)
    month = settlement.period_close(brand=brand, start=start, end=end, label=label)
    rule_services.settings_update(
        brand=brand, staff=brand_admin, actor=Actor.system(), data={"period": "weekly"}
    )
    conf = rule_services.settings_get(brand=brand)
    run_start, run_end, _label = settlement.period_running(brand=brand)
    assert run_start == month.end and run_end == settlement.period_bounds(conf, month.end)[1]
    # The last complete week lies inside the closed month: it is not a period of its own.
    week = settlement.period_bounds(conf, month.end - 8 * DAY)
    with pytest.raises(ValidationError) as exc:
        settlement.period_close(brand=brand, start=week[0], end=week[1], label=week[2])
    assert exc.value.error_list[0].code == "period_overlap"
    # The hourly close carries on from the closed month, week by week.
    later = month.end + 30 * DAY
    closed = [settlement.periods_due(brand=brand, now=later) for _ in range(6)]
    assert closed[0].start == month.end and closed[0].end == run_end
    spans = no_overlaps(brand)
    assert len(spans) == 1 + sum(1 for p in closed if p is not None) >= 5
    assert all(b_start == a_end for (_a, a_end), (b_start, _b) in itertools.pairwise(spans))  # no gaps either
