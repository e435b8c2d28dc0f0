"""Commission on Celery: a paid order is attributed by a real worker after commit; the beat's
sweep attributes orders whose task was lost."""

import pytest
from django.conf import settings

from guides import tasks
from guides.models import Attribution
from retail.tenancy import brand_scope
from tests.helpers.commission import LONG_AGO, external, join, rule
from tests.helpers.waiting import wait_until
from tests.helpers.worker import real_worker

needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (set REDIS_URL)")


@pytest.mark.postgres
@needs_redis
@pytest.mark.django_db(transaction=True)
def test_a_paid_order_is_attributed_by_a_real_worker_after_commit(brand, brand_admin, guide, sku):
    rule(brand, brand_admin, rate_bp=1000)
    member = join(brand, guide, since=LONG_AGO)
    with real_worker():
        order = external(brand, brand_admin, "flagship", member=member, lines=[(sku, 1, 10000)])

        def attributed():
            with brand_scope(brand):
                return Attribution.objects.filter(order=order).first()

        att = wait_until(attributed, 20, "the worker to attribute the order")
    assert (att.guide_id, att.commission_fen) == (guide.pk, 1000)


@pytest.mark.django_db
def test_the_sweep_attributes_orders_whose_task_was_lost(brand, brand_admin, guide, sku, monkeypatch):
    import datetime

    from django.utils import timezone

    rule(brand, brand_admin, rate_bp=1000)
    monkeypatch.setitem(settings.OUTBOX_SUBSCRIBERS, "order.paid", [])  # the task never ran
    order = external(
        brand,
        brand_admin,
        "flagship",
        member=join(brand, guide, since=LONG_AGO),
        lines=[(sku, 1, 10000)],
        at=timezone.now() - datetime.timedelta(minutes=5),
    )
    tasks.every_five_minutes.delay()
    tasks.every_five_minutes.delay()
    with brand_scope(brand):
        assert Attribution.objects.get(order=order).commission_fen == 1000


def test_beat_runs_the_sweep_and_the_period_close(settings):
    schedule = {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"guides.tasks.every_five_minutes", "guides.tasks.hourly"} <= schedule
    from celery import current_app

    assert {"guides.tasks.every_five_minutes", "guides.tasks.hourly", "guides.tasks.attribute_range"} <= set(
        current_app.tasks
    )
