"""The outbox (retail/outbox.py): events reach their subscribers and named tasks the queue only
after the transaction commits, never after a rollback; every listed subscriber exists and has the
one signature."""

import inspect

import pytest
from django.conf import settings
from django.db import transaction

from retail import outbox
from retail.tasks import deliver_invitation

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def seen(monkeypatch):
    calls = []

    def subscriber(*, brand_id, name, payload):
        calls.append((brand_id, name, payload))

    monkeypatch.setitem(settings.OUTBOX_SUBSCRIBERS, "order.paid", [subscriber])
    return calls


def test_an_event_reaches_its_subscribers_only_after_commit(seen):
    with transaction.atomic():
        outbox.emit(brand_id=7, name="order.paid", payload={"order_id": 3})
        assert seen == []
    assert seen == [(7, "order.paid", {"order_id": 3})]


def test_a_rolled_back_event_reaches_nobody(seen):
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.emit(brand_id=7, name="order.paid", payload={"order_id": 3})
        raise RuntimeError("the change failed")
    assert seen == []


def test_an_event_of_a_rolled_back_savepoint_reaches_nobody(seen):
    with transaction.atomic():
        outbox.emit(brand_id=7, name="order.paid", payload={"order_id": 1})
        with pytest.raises(RuntimeError), transaction.atomic():
            outbox.emit(brand_id=7, name="order.paid", payload={"order_id": 2})
            raise RuntimeError("the inner change failed")
    assert seen == [(7, "order.paid", {"order_id": 1})]


def test_an_unlisted_event_name_is_refused():
    with pytest.raises(LookupError, match="order.payed"):
        outbox.emit(brand_id=7, name="order.payed", payload={})


def test_every_listed_subscriber_resolves_and_has_the_one_signature():
    assert settings.OUTBOX_SUBSCRIBERS, "the list of events is empty"
    for name, paths in settings.OUTBOX_SUBSCRIBERS.items():
        assert all(isinstance(p, str) for p in paths), f"{name}: subscribers are given as dotted paths"
        for fn in outbox.subscribers(name):
            params = inspect.signature(fn).parameters
            assert list(params) == ["brand_id", "name", "payload"], fn
            assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params.values()), fn


def test_a_named_task_is_queued_only_after_commit(monkeypatch):
    queued = []
    monkeypatch.setattr(deliver_invitation, "delay", lambda *args: queued.append(args))
    with transaction.atomic():
        outbox.enqueue_on_commit("retail.tasks.deliver_invitation", 1, 2, "/invite/x/")
        assert queued == []
    assert queued == [(1, 2, "/invite/x/")]
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.enqueue_on_commit("retail.tasks.deliver_invitation", 1, 2, "/invite/y/")
        raise RuntimeError("the change failed")
    assert queued == [(1, 2, "/invite/x/")]


def test_a_named_task_keeps_its_countdown(monkeypatch):
    queued = []
    monkeypatch.setattr(deliver_invitation, "apply_async", lambda args, **kw: queued.append((args, kw)))
    with transaction.atomic():
        outbox.enqueue_on_commit("retail.tasks.deliver_invitation", 1, 2, "/invite/x/", countdown=5)
    assert queued == [((1, 2, "/invite/x/"), {"countdown": 5})]
