"""Celery: a task queued on commit travels through the real Redis broker to a worker, which
runs it inside the task's brand scope (row-level security included)."""

import pytest
from django.conf import settings

from retail import services
from retail.events import Actor
from retail.models import Staff
from retail.notify import ConsoleSender
from tests.helpers.waiting import wait_until
from tests.helpers.worker import real_worker

needs_redis = pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (set REDIS_URL)")


@pytest.mark.postgres
@needs_redis
@pytest.mark.django_db(transaction=True)
def test_invitation_is_delivered_by_a_real_worker(brand, brand_admin, store):
    with real_worker():
        staff, link = services.staff_invite(
            brand=brand,
            manager=brand_admin,
            actor=Actor.system(),
            name="新人",
            phone="13612340000",
            role=Staff.Role.GUIDE,
            store_ids=[store.pk],
        )
        wait_until(lambda: ConsoleSender.outbox, 20, "the worker to deliver the invitation")
    assert ConsoleSender.outbox[-1]["phone"] == "13612340000"
    assert link in ConsoleSender.outbox[-1]["text"] and brand.name in ConsoleSender.outbox[-1]["text"]


def test_task_for_a_staff_member_of_another_brand_does_nothing(brand, other_brand, db):
    from retail.tasks import deliver_invitation
    from tests.factories import StaffFactory

    stranger = StaffFactory(brand=other_brand, status=Staff.Status.INVITED)
    deliver_invitation.delay(brand.pk, stranger.pk, "/invite/x/y/")
    assert ConsoleSender.outbox == []
