"""Attribution: who is credited for a paid order in each channel, and the commission on it."""

import datetime

import pytest
from django.utils import timezone

from guides.models import Attribution, AttributionRule, CommissionEntry, Event
from guides.services import attribution, rules
from members import services as member_services
from retail.events import Actor
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import StaffFactory
from tests.helpers.commission import (
    LONG_AGO,
    attribution_of,
    cloud_order,
    committed,
    credited,
    entries,
    external,
    join,
    on_the_books,
    rule,
    share_touch,
)

pytestmark = pytest.mark.django_db


def DAY_AGO(n):  # noqa: N802
    return timezone.now() - datetime.timedelta(days=n)


def new_rules(brand, admin, at=None, **data):
    return rules.attribution_rule_create(
        brand=brand, staff=admin, actor=Actor.system(), data=data, effective_from=at
    )


def test_online_purchase_credits_the_guide_who_recruited_the_member_in_store(
    brand, brand_admin, guide, store, sku
):
    rule(brand, brand_admin, rate_bp=500)  # 5 %
    member = join(brand, guide)
    order = external(brand, brand_admin, "flagship", member=member, lines=[(sku, 2, 29900)])
    att = attribution_of(brand, order)
    assert att.guide_id == guide.pk and att.source == "exclusive"
    assert att.store_id == store.pk  # dual credit: the guide's store counts the online sale
    assert att.commission_fen == 2990  # 5 % of 598.00
    [earn] = entries(brand, order=order)
    assert (earn.kind, earn.amount_fen, earn.guide_id, earn.member_id) == ("earn", 2990, guide.pk, member.pk)
    with brand_scope(brand):
        assert Event.objects.filter(name="order.attributed", data__order=order.pk).count() == 1


def test_without_dual_credit_an_online_order_counts_for_no_store(brand, brand_admin, guide, sku):
    new_rules(brand, brand_admin, dual_credit_store=False)
    order = external(brand, brand_admin, "flagship", member=join(brand, guide), lines=[(sku, 1, 10000)])
    att = attribution_of(brand, order)
    assert att.guide_id == guide.pk and att.store_id is None


def test_hand_over_moves_future_credit_but_not_past(brand, brand_admin, guide, guide2, sku):
    rule(brand, brand_admin, rate_bp=1000)
    member = join(brand, guide)
    before = external(brand, brand_admin, "flagship", member=member, lines=[(sku, 1, 10000)])
    member_services.members_handover(
        brand=brand, manager=brand_admin, actor=Actor.system(), from_guide=guide, to_guide=guide2
    )
    after = external(brand, brand_admin, "flagship", member=member, lines=[(sku, 1, 20000)])
    assert attribution_of(brand, before).guide_id == guide.pk
    assert attribution_of(brand, after).guide_id == guide2.pk
    assert credited(brand, guide) == 1000 and credited(brand, guide2) == 2000


def test_last_touch_wins_in_the_cloud_store_by_default(brand, brand_admin, guide, guide2, store, sku):
    member = join(brand, guide)
    touch = share_touch(brand, guide2, store, member=member)
    order = cloud_order(brand, store, member, sku, touch_ids=[touch.pk])
    att = attribution_of(brand, order)
    assert (att.guide_id, att.source) == (guide2.pk, "touch")


def test_precedence_is_the_brands_choice(brand, brand_admin, guide, guide2, store, sku):
    new_rules(brand, brand_admin, cloud_store="exclusive>touch")
    member = join(brand, guide)
    touch = share_touch(brand, guide2, store, member=member)
    order = cloud_order(brand, store, member, sku, touch_ids=[touch.pk])
    assert attribution_of(brand, order).guide_id == guide.pk


def test_a_touch_older_than_the_window_does_not_count(brand, brand_admin, guide, guide2, store, sku):
    new_rules(brand, brand_admin, touch_window_days=3, cloud_store="touch")
    member = join(brand, guide)
    touch = share_touch(brand, guide2, store, member=member)
    with brand_scope(brand):
        type(touch).objects.filter(pk=touch.pk).update(created_at=timezone.now() - datetime.timedelta(days=5))
    order = cloud_order(brand, store, member, sku, touch_ids=[touch.pk])
    att = attribution_of(brand, order)
    assert att.guide_id is None and att.excluded == "no_guide"


def test_pos_credits_the_guide_at_the_till_then_the_exclusive_guide(
    brand, brand_admin, guide, guide2, store, sku
):
    member = join(brand, guide)
    served = external(
        brand, brand_admin, "pos", member=member, store=store, served_by=guide2, lines=[(sku, 1, 100)]
    )
    unserved = external(brand, brand_admin, "pos", member=member, store=store, lines=[(sku, 1, 100)])
    assert (attribution_of(brand, served).guide_id, attribution_of(brand, served).source) == (
        guide2.pk,
        "served",
    )
    assert (attribution_of(brand, unserved).guide_id, attribution_of(brand, unserved).source) == (
        guide.pk,
        "exclusive",
    )


def test_exclusions_staff_purchase_threshold_and_channel_off(brand, brand_admin, guide, guide2, store, sku):
    rule(brand, brand_admin, rate_bp=1000)
    new_rules(brand, brand_admin, min_order_fen=5000, pos="none")
    # guide2 buys with their own phone: a staff purchase
    staff_member = join(brand, guide, phone=guide2.user.phone)
    staff_buy = external(brand, brand_admin, "flagship", member=staff_member, lines=[(sku, 1, 10000)])
    small = external(brand, brand_admin, "flagship", member=join(brand, guide), lines=[(sku, 1, 4999)])
    pos = external(brand, brand_admin, "pos", member=join(brand, guide), store=store, lines=[(sku, 1, 9999)])
    assert attribution_of(brand, staff_buy).excluded == "staff_purchase"
    assert attribution_of(brand, small).excluded == "below_threshold"
    assert attribution_of(brand, pos).excluded == "channel_off"
    assert credited(brand, guide) == 0 and credited(brand, guide2) == 0


def test_most_specific_rule_wins_and_rounding_is_down_per_line(
    brand, brand_admin, guide, store, category, sku, sku2
):
    rule(brand, brand_admin, name="all", rate_bp=300)
    rule(brand, brand_admin, name="skincare", rate_bp=800, category=category.pk)
    rule(brand, brand_admin, name="ha flagship", rate_bp=1250, sku=sku.pk, channel="flagship")
    rule(brand, brand_admin, name="cream fixed", kind="fixed", fixed_fen=700, sku=sku2.pk, cap_fen=1500)
    member = join(brand, guide)
    order = external(brand, brand_admin, "flagship", member=member, lines=[(sku, 3, 3333), (sku2, 3, 19900)])
    att = attribution_of(brand, order)
    # line 1: 12.5 % of 99.99 = 12.49875 -> 1249 fen; line 2: 3 x 7.00 = 21.00, capped at 15.00
    assert [c for _l, _r, c in att.lines] == [1249, 1500]
    pos = external(brand, brand_admin, "pos", member=member, store=store, lines=[(sku, 1, 3333)])
    # in the POS the SKU's flagship rule does not apply: the category's 8 % does (266.64 -> 266)
    assert attribution_of(brand, pos).commission_fen == 266


def test_rules_in_force_at_payment_apply(brand, brand_admin, guide, sku):
    now = timezone.now()
    old = rule(brand, brand_admin, name="old", rate_bp=100, effective_from=now - datetime.timedelta(days=60))
    rules.commission_rule_end(
        brand=brand, staff=brand_admin, actor=Actor.system(), rule=old, at=now - datetime.timedelta(days=10)
    )
    rule(brand, brand_admin, name="new", rate_bp=200, effective_from=now - datetime.timedelta(days=10))
    member = join(brand, guide, since=LONG_AGO)
    early = external(
        brand,
        brand_admin,
        "flagship",
        member=member,
        lines=[(sku, 1, 10000)],
        at=now - datetime.timedelta(days=20),
    )
    late = external(
        brand,
        brand_admin,
        "flagship",
        member=member,
        lines=[(sku, 1, 10000)],
        at=now - datetime.timedelta(days=1),
    )
    assert attribution_of(brand, early).commission_fen == 100
    assert attribution_of(brand, late).commission_fen == 200


def test_rerunning_attribution_never_credits_twice(brand, brand_admin, guide, sku):
    rule(brand, brand_admin, rate_bp=1000)
    member = join(brand, guide)
    orders = [
        external(brand, brand_admin, "flagship", member=member, lines=[(sku, 1, 10000)]) for _ in range(3)
    ]
    assert attribution.attribute_orders(brand=brand, order_ids=[o.pk for o in orders]) == 0
    assert attribution.attribute_pending(brand=brand) == 0
    from guides import tasks

    tasks.attribute_order.delay(brand.pk, orders[0].pk)
    assert credited(brand, guide) == 3000
    with brand_scope(brand):
        assert Attribution.objects.count() == 3
        assert CommissionEntry.objects.count() == 3


def test_bulk_attribution_of_historic_orders_is_set_based(
    brand, brand_admin, guide, guide2, sku, django_assert_max_num_queries, monkeypatch
):
    from django.conf import settings

    rule(brand, brand_admin, rate_bp=1000)
    members = [join(brand, g) for g in (guide, guide2) for _ in range(5)]
    # historic orders imported with nothing listening: no attribution yet
    monkeypatch.setitem(settings.OUTBOX_SUBSCRIBERS, "order.paid", [])
    for m in members:
        external(brand, brand_admin, "flagship", member=m, lines=[(sku, 1, 10000)])
    with brand_scope(brand):
        assert not Attribution.objects.exists()
    with django_assert_max_num_queries(55):  # a constant per batch, whatever its size
        n = attribution.attribute_pending(brand=brand, batch=1000, notify=False)
    assert n == 10
    assert credited(brand, guide) == 5000 and credited(brand, guide2) == 5000
    assert attribution.attribute_pending(brand=brand) == 0


def test_a_new_rule_version_does_not_change_attributed_orders_until_a_period_is_reattributed(
    brand, brand_admin, guide, guide2, store, sku
):
    rule(brand, brand_admin, rate_bp=1000)
    member = join(brand, guide)
    touch = share_touch(brand, guide2, store, member=member)
    order = cloud_order(brand, store, member, sku, touch_ids=[touch.pk])
    assert attribution_of(brand, order).guide_id == guide2.pk
    paid = attribution_of(brand, order).paid_at
    # The brand decides exclusive guides come first, back-dated to before the order:
    v = new_rules(brand, brand_admin, at=paid - datetime.timedelta(days=1), cloud_store="exclusive>touch")
    assert v.overridden_later is False
    assert attribution_of(brand, order).guide_id == guide2.pk  # nothing silent
    with committed():
        run = attribution.reattribution_request(
            brand=brand,
            staff=brand_admin,
            actor=Actor.system(),
            start=paid - datetime.timedelta(days=1),
            end=paid + datetime.timedelta(seconds=1),
            reason="exclusive guides first",
        )
    with brand_scope(brand):
        run.refresh_from_db()
    assert (run.status, run.orders, run.changed) == ("done", 1, 1)
    att = attribution_of(brand, order)
    assert (att.guide_id, att.revision) == (guide.pk, 2)
    assert credited(brand, guide2) == 0 and credited(brand, guide) == att.commission_fen > 0
    kinds = [(e.guide_id, e.kind) for e in entries(brand, order=order)]
    assert kinds == [(guide2.pk, "earn"), (guide2.pk, "reversal"), (guide.pk, "earn")]
    # running the same request again changes nothing
    attribution.reattribute(brand=brand, run=run)
    assert len(entries(brand, order=order)) == 3


def test_versions_are_kept(brand, brand_admin):
    new_rules(brand, brand_admin, touch_window_days=7)
    new_rules(brand, brand_admin, min_order_fen=100)
    with brand_scope(brand):
        rows = list(
            AttributionRule.objects.order_by("version").values_list(
                "version", "touch_window_days", "min_order_fen"
            )
        )
    assert rows == [(1, 30, 0), (2, 7, 0), (3, 7, 100)]


def test_a_rule_not_in_force_yet_can_be_withdrawn(brand, brand_admin):
    soon = rule(brand, brand_admin, rate_bp=100, effective_from=timezone.now() + datetime.timedelta(days=3))
    rules.commission_rule_end(brand=brand, staff=brand_admin, actor=Actor.system(), rule=soon)
    with brand_scope(brand):
        from guides.models import CommissionRule
        from retail.models import AuditLog

        assert not CommissionRule.objects.exists()
        assert AuditLog.objects.filter(action="commission.rule_withdrawn").count() == 1


def test_id_ranges_split_the_backlog_for_workers_and_bulk_runs_record_one_event_per_batch(
    brand, brand_admin, guide, sku, monkeypatch
):
    from django.conf import settings

    from guides import tasks

    rule(brand, brand_admin, rate_bp=1000)
    monkeypatch.setitem(settings.OUTBOX_SUBSCRIBERS, "order.paid", [])
    member = join(brand, guide)
    ids = [
        external(brand, brand_admin, "flagship", member=member, lines=[(sku, 1, 1000)]).pk for _ in range(7)
    ]
    ranges = attribution.id_ranges(brand=brand, size=3)
    assert len(ranges) == 3
    covered = [i for lo, hi in ranges for i in ids if lo < i <= hi]
    assert sorted(covered) == ids  # every order in exactly one range
    for lo, hi in ranges:
        tasks.attribute_range.delay(brand.pk, lo, hi)
    assert credited(brand, guide) == 700
    with brand_scope(brand):
        batches = list(Event.objects.filter(name="orders.attributed").values_list("data", flat=True))
        assert not Event.objects.filter(name="order.attributed").exists()
    assert sum(b["orders"] for b in batches) == 7 and sum(b["commission_fen"] for b in batches) == 700
    assert attribution.id_ranges(brand=brand) == []


# --- who the guides were when the order happened ---------------------------------------------------------


@pytest.fixture(params=["single", "bulk"])
def path(request, monkeypatch):
    """The orders are recorded with nothing listening, then attributed one by one by the task that
    runs after a payment commits (single), or as a historic import (bulk: in batches, by COPY on
    PostgreSQL)."""
    from django.conf import settings

    monkeypatch.setitem(settings.OUTBOX_SUBSCRIBERS, "order.paid", [])
    return request.param


def attributed(brand, path, *orders, fix=None):
    """Attribute the orders and return their attributions; ``fix`` first rewrites the orders' snapshot
    (as a raw import that wrote today's guides would), so the attribution's own as-of rule is tested."""
    from guides import tasks

    if fix:
        with brand_scope(brand):
            type(orders[0]).objects.filter(pk__in=[o.pk for o in orders]).update(**fix)
    if path == "bulk":
        assert attribution.attribute_pending(brand=brand, notify=False, bulk=True) == len(orders)
    else:
        for o in orders:
            with committed():
                tasks.attribute_order.delay(brand.pk, o.pk)
    return [attribution_of(brand, o) for o in orders]


def test_a_backdated_order_is_not_credited_to_a_guide_hired_and_bound_today(
    brand, brand_admin, guide2, store, sku, path
):
    rule(brand, brand_admin, rate_bp=1000)
    newcomer = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name="新人")
    member = join(brand, newcomer)  # the member and the guide both arrived today
    order = external(brand, brand_admin, "flagship", member=member, lines=[(sku, 1, 10000)], at=DAY_AGO(8))
    assert order.exclusive_guide_id is None
    [att] = attributed(brand, path, order, fix={"exclusive_guide_id": newcomer.pk})
    assert (att.guide_id, att.source, att.excluded) == (None, "none", "no_guide")
    assert credited(brand, newcomer) == 0


def test_a_backdated_order_falls_to_the_share_link_opened_before_it(
    brand, brand_admin, guide2, store, sku, path
):
    rule(brand, brand_admin, rate_bp=1000)
    newcomer = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name="新人")
    member = join(brand, newcomer)
    touch = share_touch(brand, guide2, store, member=member)
    with brand_scope(brand):
        type(touch).objects.filter(pk=touch.pk).update(created_at=DAY_AGO(9))
    order = external(brand, brand_admin, "flagship", member=member, lines=[(sku, 1, 10000)], at=DAY_AGO(8))
    assert (order.exclusive_guide_id, order.touch_id, order.share_guide_id) == (None, touch.pk, guide2.pk)
    [att] = attributed(brand, path, order, fix={"exclusive_guide_id": newcomer.pk})
    assert (att.guide_id, att.source) == (guide2.pk, "touch")
    assert credited(brand, guide2) == 1000 and credited(brand, newcomer) == 0


def test_an_order_is_credited_to_the_guide_bound_at_its_time_even_after_a_hand_over(
    brand, brand_admin, guide, guide2, sku, path
):
    rule(brand, brand_admin, rate_bp=1000)
    member = join(brand, guide, since=LONG_AGO)
    member_services.members_handover(
        brand=brand, manager=brand_admin, actor=Actor.system(), from_guide=guide, to_guide=guide2
    )
    before = external(brand, brand_admin, "flagship", member=member, lines=[(sku, 1, 10000)], at=DAY_AGO(3))
    after = external(brand, brand_admin, "flagship", member=member, lines=[(sku, 1, 20000)])
    assert (before.exclusive_guide_id, after.exclusive_guide_id) == (guide.pk, guide2.pk)
    atts = attributed(brand, path, before, after, fix={"exclusive_guide_id": guide2.pk})
    assert [(a.guide_id, a.source) for a in atts] == [(guide.pk, "exclusive"), (guide2.pk, "exclusive")]
    assert credited(brand, guide) == 1000 and credited(brand, guide2) == 2000


def test_a_share_link_opened_after_the_order_does_not_count(
    brand, brand_admin, guide, guide2, store, sku, path
):
    new_rules(brand, brand_admin, at=DAY_AGO(30), flagship="touch>exclusive")
    guide3 = on_the_books(StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name="钱多"))
    member = join(brand, guide, since=LONG_AGO)
    earlier = share_touch(brand, guide2, store, member=member)
    with brand_scope(brand):
        type(earlier).objects.filter(pk=earlier.pk).update(created_at=DAY_AGO(5))
    share_touch(brand, guide3, store, member=member)  # today, after both orders below
    touched = external(brand, brand_admin, "flagship", member=member, lines=[(sku, 1, 100)], at=DAY_AGO(2))
    untouched = external(brand, brand_admin, "flagship", member=member, lines=[(sku, 1, 100)], at=DAY_AGO(6))
    assert (touched.touch_id, untouched.touch_id) == (earlier.pk, None)
    atts = attributed(brand, path, touched, untouched)
    assert [(a.guide_id, a.source) for a in atts] == [(guide2.pk, "touch"), (guide.pk, "exclusive")]
    assert credited(brand, guide3) == 0


def test_attribution_ignores_a_snapshot_touch_later_than_the_order(
    brand, brand_admin, guide, guide2, store, sku, path
):
    new_rules(brand, brand_admin, at=DAY_AGO(30), flagship="touch>exclusive")
    member = join(brand, guide, since=LONG_AGO)
    later = share_touch(brand, guide2, store, member=member)
    order = external(brand, brand_admin, "flagship", member=member, lines=[(sku, 1, 100)], at=DAY_AGO(2))
    assert order.touch_id is None
    [att] = attributed(brand, path, order, fix={"touch_id": later.pk, "share_guide_id": guide2.pk})
    assert (att.guide_id, att.source) == (guide.pk, "exclusive")


def test_nobody_hired_after_the_order_is_credited_for_it(brand, brand_admin, guide, store, sku, path):
    member = join(brand, guide, since=LONG_AGO)
    newcomer = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name="新人")
    pos = external(
        brand,
        brand_admin,
        "pos",
        member=member,
        store=store,
        served_by=newcomer,
        lines=[(sku, 1, 100)],
        at=DAY_AGO(8),
    )
    today = external(
        brand, brand_admin, "pos", member=member, store=store, served_by=newcomer, lines=[(sku, 1, 100)]
    )
    old_hand = external(
        brand,
        brand_admin,
        "pos",
        member=member,
        store=store,
        served_by=guide,
        lines=[(sku, 1, 100)],
        at=DAY_AGO(8),
    )
    atts = attributed(brand, path, pos, today, old_hand)
    assert [(a.guide_id, a.source) for a in atts] == [
        (guide.pk, "exclusive"),  # the guide at the till was hired after it: the next source
        (newcomer.pk, "served"),
        (guide.pk, "served"),
    ]
