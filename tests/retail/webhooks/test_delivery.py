"""Webhook delivery end to end, against a real HTTP receiver on 127.0.0.1: recorded in the
transaction of the change, signed (two signatures during a rotation), retried with back-off and
given up after 3 days, a dead or slow endpoint never delaying a healthy one, 3xx a failure, the
attempt log, replay, auto-disable with a notice, and no double sends between two workers."""

from __future__ import annotations

import datetime
import threading
import types

import pytest
from django.db import connection, transaction
from django.utils import timezone

from retail import outbox
from retail.events import Actor
from retail.models import AuditLog
from retail.notify import ConsoleSender
from retail.tenancy import brand_scope
from retail.webhooks import engine, recording, services, tasks
from retail.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from tests.factories import MemberFactory, SkuFactory
from tests.helpers.commission import cloud_order, committed
from tests.helpers.concurrency import race
from tests.helpers.partners import make_app
from tests.helpers.waiting import wait_until
from tests.helpers.webhook_receiver import Receiver, closed_port_url

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system()


@pytest.fixture
def app(brand, brand_admin):
    return make_app(brand, brand_admin, scopes=["webhooks:manage"])[0]


def subscribe(brand, app, url, types=("order.paid",)):
    return services.endpoint_create(brand=brand, actor=SYSTEM, app=app, url=url, event_types=list(types))


def paid_order(brand, store):
    return cloud_order(brand, store, MemberFactory(brand=brand), SkuFactory(brand=brand))


def deliveries(brand, **filters):
    with brand_scope(brand):
        return list(WebhookDelivery.objects.filter(**filters).select_related("event").order_by("id"))


def attempts(brand, delivery):
    with brand_scope(brand):
        return list(WebhookAttempt.objects.filter(delivery_id=delivery.pk).order_by("id"))


def pings(brand, endpoint, n, *, kick=False):
    """Record ``n`` test events for the endpoint; without ``kick`` nothing is sent yet."""
    for _ in range(n):
        if kick:
            with committed():
                services.send_test_event(endpoint=endpoint, actor=SYSTEM)
        else:
            services.send_test_event(endpoint=endpoint, actor=SYSTEM)  # on-commit kick never runs


def deliver(brand, endpoint):
    with committed():
        return engine.deliver_endpoint(brand_id=brand.pk, endpoint_id=endpoint.pk)


def test_a_paid_order_is_delivered_once_with_a_valid_signature(brand, store, app):
    with Receiver() as receiver:
        endpoint, secret = subscribe(brand, app, receiver.url)
        receiver.secrets.append(secret)
        order = paid_order(brand, store)

        assert len(receiver.received) == 1
        request = receiver.received[0]
        assert request["valid_for"] == [secret] and len(request["v1"]) == 1
        body = request["json"]
        assert body["type"] == "order.paid" and body["livemode"] is True
        assert body["data"]["order_id"] == order.pk and body["data"]["number"] == order.number
        assert body["data"]["total_fen"] == order.total_fen and body["created_at"].endswith("Z")
        headers = request["headers"]
        assert headers["Content-Type"] == "application/json"
        assert headers["User-Agent"] == "SmartGuideRetail-Webhooks/1"
        assert headers["Retail-Event-Id"] == body["id"] and headers["Retail-Event-Type"] == "order.paid"
        assert headers["Host"] == receiver.url.split("/")[2]
        assert request["path"] == "/hooks/retail?src=test"

    [delivery] = deliveries(brand)
    assert delivery.status == "succeeded" and delivery.attempts == 1 and delivery.delivered_at
    assert str(delivery.event_id) == body["id"] and int(headers["Retail-Delivery-Id"]) == delivery.pk
    [attempt] = attempts(brand, delivery)
    assert attempt.response_status == 200 and attempt.response_body == '{"ok":true}'
    assert attempt.request_body == request["body"].decode() and attempt.error == ""
    assert attempt.request_headers["Retail-Signature"] == request["signature"]


def test_only_subscribed_enabled_endpoints_of_active_apps_get_the_event(brand, store, brand_admin, app):
    other_app, _s = make_app(brand, brand_admin, name="ERP", scopes=["webhooks:manage"])
    with Receiver() as wants, Receiver() as other_type, Receiver() as disabled, Receiver() as revoked:
        subscribe(brand, app, wants.url)
        subscribe(brand, app, other_type.url, types=["member.joined"])
        off, _s = subscribe(brand, app, disabled.url)
        services.endpoint_update(endpoint=off, actor=SYSTEM, enabled=False)
        subscribe(brand, other_app, revoked.url)
        from retail.partners import services as partner_services

        partner_services.app_revoke(app=other_app, actor=SYSTEM)
        paid_order(brand, store)
        assert len(wants.received) == 1
        assert other_type.received == disabled.received == revoked.received == []
    assert len(deliveries(brand)) == 1


def test_during_a_rotation_requests_carry_two_signatures(brand, app):
    with Receiver() as receiver:
        endpoint, old = subscribe(brand, app, receiver.url, types=["order.paid"])
        new = services.endpoint_rotate_secret(endpoint=endpoint, actor=SYSTEM, grace_hours=24)
        receiver.secrets[:] = [old, new]
        pings(brand, endpoint, 1, kick=True)
        request = receiver.received[-1]
        assert len(request["v1"]) == 2 and sorted(request["valid_for"]) == sorted([old, new])
        assert request["json"]["type"] == "ping"

        # The grace is over: the new secret alone signs.
        with brand_scope(brand):
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
                previous_secret_expires_at=timezone.now() - datetime.timedelta(seconds=1)
            )
        pings(brand, endpoint, 1, kick=True)
        request = receiver.received[-1]
        assert len(request["v1"]) == 1 and request["valid_for"] == [new]


def test_a_dead_endpoint_costs_one_attempt_per_round_and_backs_off(brand, app):
    endpoint, _s = subscribe(brand, app, closed_port_url(), types=["order.paid"])
    pings(brand, endpoint, 5)
    summary = deliver(brand, endpoint)
    assert (summary.sent, summary.failed, summary.postponed) == (1, 1, 4)

    first, *rest = deliveries(brand)
    [attempt] = attempts(brand, first)
    assert attempt.response_status is None and attempt.error  # connection refused
    assert first.status == "pending" and first.attempts == 1
    assert first.next_attempt_at - first.last_attempt_at == datetime.timedelta(minutes=1)
    # The breaker: the others were not tried, and wait for the first one's next try.
    assert all(d.attempts == 0 and d.next_attempt_at == first.next_attempt_at for d in rest)
    assert deliver(brand, endpoint).sent == 0  # nothing due now

    # A minute later: one more try, then five minutes.
    with brand_scope(brand):
        WebhookDelivery.objects.filter(endpoint=endpoint).update(next_attempt_at=timezone.now())
    assert deliver(brand, endpoint).sent == 1
    first = deliveries(brand)[0]
    assert first.attempts == 2 and first.next_attempt_at - first.last_attempt_at == datetime.timedelta(
        minutes=5
    )
    with brand_scope(brand):
        assert WebhookEndpoint.objects.get(pk=endpoint.pk).failing_since is not None


def test_the_back_off_schedule():
    minutes = [engine.retry_delay(n).total_seconds() / 60 for n in range(1, 10)]
    assert minutes == [1, 5, 30, 120, 300, 600, 720, 720, 720]


@pytest.mark.django_db(transaction=True)
def test_a_slow_endpoint_never_delays_a_healthy_one(brand, app, settings, monkeypatch):
    settings.WEBHOOK_READ_TIMEOUT = 30  # the slow one holds its worker until released
    monkeypatch.setattr(recording, "kick", lambda brand_id, endpoint_id: None)
    with Receiver(hold=True) as slow, Receiver() as healthy:
        slow_endpoint, _s = subscribe(brand, app, slow.url)
        healthy_endpoint, _s = subscribe(brand, app, healthy.url)
        pings(brand, slow_endpoint, 3)
        pings(brand, healthy_endpoint, 3)

        def work():
            try:
                engine.deliver_endpoint(brand_id=brand.pk, endpoint_id=slow_endpoint.pk)
            finally:
                connection.close()

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        wait_until(lambda: slow.received, 20, "the slow endpoint is asked")
        tasks.deliver_endpoint(brand.pk, healthy_endpoint.pk)  # while the slow one is still waiting

        assert len(healthy.received) == 3 and worker.is_alive() and len(slow.received) == 1
        slow.released.set()
        worker.join(30)
    assert [d.status for d in deliveries(brand, endpoint=healthy_endpoint)] == ["succeeded"] * 3
    assert [d.status for d in deliveries(brand, endpoint=slow_endpoint)] == ["succeeded"] * 3


def test_a_slow_endpoint_times_out(brand, app, settings):
    settings.WEBHOOK_READ_TIMEOUT = 0.2
    with Receiver(hold=True) as slow:
        endpoint, _s = subscribe(brand, app, slow.url)
        pings(brand, endpoint, 2)
        summary = deliver(brand, endpoint)
        slow.released.set()
    assert (summary.sent, summary.failed) == (1, 1)
    first, second = deliveries(brand)
    assert first.status == "pending" and first.last_error == "read timed out" and first.attempts == 1
    assert second.attempts == 0  # not tried behind a timed-out request


@pytest.mark.parametrize("code", [301, 302, 307, 308])
def test_a_redirect_is_a_failure_and_is_not_followed(brand, app, code):
    with Receiver() as target, Receiver(status=code, location="") as redirecting:
        redirecting.location = target.url
        endpoint, _s = subscribe(brand, app, redirecting.url)
        pings(brand, endpoint, 1)
        deliver(brand, endpoint)
        assert len(redirecting.received) == 1 and target.received == []
    [delivery] = deliveries(brand)
    assert delivery.status == "pending" and delivery.last_status == code and "redirect" in delivery.last_error


def test_an_error_status_is_retried(brand, app):
    with Receiver(status=500) as failing:
        endpoint, _s = subscribe(brand, app, failing.url)
        pings(brand, endpoint, 1)
        deliver(brand, endpoint)
    [delivery] = deliveries(brand)
    assert delivery.status == "pending" and delivery.last_status == 500 and delivery.attempts == 1


class Clock:
    """The engine's view of the time, moved by hand (no sleeping)."""

    def __init__(self, now):
        self.now = now

    def module(self):
        return types.SimpleNamespace(now=lambda: self.now)


def test_a_delivery_is_retried_on_schedule_and_given_up_after_three_days(brand, app, monkeypatch):
    endpoint, _s = subscribe(brand, app, closed_port_url())
    pings(brand, endpoint, 1)
    [delivery] = deliveries(brand)
    clock = Clock(delivery.created_at)
    monkeypatch.setattr(engine, "timezone", clock.module())

    tries = []
    while True:
        summary = deliver(brand, endpoint)
        [delivery] = deliveries(brand)
        tries.append(clock.now)
        assert summary.sent == 1
        if delivery.status != "pending":
            break
        assert delivery.next_attempt_at > clock.now
        clock.now = delivery.next_attempt_at
    gaps = [(b - a).total_seconds() for a, b in zip(tries, tries[1:], strict=False)]
    assert gaps[:6] == [60, 300, 1800, 7200, 18000, 36000]
    assert all(g == 12 * 3600 for g in gaps[6:-1]) and gaps[-1] <= 12 * 3600
    assert delivery.status == "failed" and delivery.attempts == len(tries)
    assert tries[-1] - delivery.created_at == datetime.timedelta(days=3)
    assert delivery.next_attempt_at is None


def test_an_endpoint_failing_for_days_is_disabled_and_the_admins_are_told(brand, app, brand_admin):
    endpoint, _s = subscribe(brand, app, closed_port_url())
    pings(brand, endpoint, 2)
    with brand_scope(brand):
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            failing_since=timezone.now() - datetime.timedelta(days=3, minutes=1)
        )
    summary = deliver(brand, endpoint)
    assert summary.disabled
    with brand_scope(brand):
        endpoint = WebhookEndpoint.objects.get(pk=endpoint.pk)
        audit = AuditLog.objects.filter(action="webhook.endpoint_disabled").get()
    assert not endpoint.enabled and endpoint.disabled_reason == "failing"
    assert audit.data["reason"] == "failing" and audit.target_id == str(endpoint.pk)
    [notice] = [m for m in ConsoleSender.outbox if endpoint.url in m["text"]]
    assert notice["phone"] == brand_admin.user.phone

    # Disabled: nothing more is sent, and the sweep leaves it alone.
    assert deliver(brand, endpoint).sent == 0
    assert tasks.sweep() == 0


def test_a_success_ends_the_failing_run(brand, app):
    with Receiver() as receiver:
        endpoint, _s = subscribe(brand, app, receiver.url)
        with brand_scope(brand):
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now())
        pings(brand, endpoint, 1)
        deliver(brand, endpoint)
    with brand_scope(brand):
        assert WebhookEndpoint.objects.get(pk=endpoint.pk).failing_since is None


def test_a_replay_is_a_new_delivery_with_its_own_attempt(brand, app):
    with Receiver() as receiver:
        endpoint, _s = subscribe(brand, app, receiver.url)
        pings(brand, endpoint, 1, kick=True)
        [first] = deliveries(brand)
        with committed():
            replay = services.delivery_replay(delivery=first, actor=SYSTEM)
        assert len(receiver.received) == 2
        a, b = receiver.received
        assert a["json"] == b["json"]  # the same event
        assert receiver.delivery_ids() == [first.pk, replay.pk]
    replay = deliveries(brand, pk=replay.pk)[0]
    assert replay.manual and replay.status == "succeeded" and len(attempts(brand, replay)) == 1
    assert len(attempts(brand, first)) == 1


def test_one_connection_is_kept_alive_for_a_batch(brand, app):
    with Receiver() as receiver:
        endpoint, _s = subscribe(brand, app, receiver.url)
        pings(brand, endpoint, 4)
        assert deliver(brand, endpoint).succeeded == 4
        assert len(receiver.received) == 4 and len(receiver.connections) == 1


def test_the_sweep_kicks_endpoints_with_due_deliveries(brand, app):
    with Receiver() as receiver:
        endpoint, _s = subscribe(brand, app, receiver.url)
        pings(brand, endpoint, 2)  # recorded, never kicked (a lost kick)
        assert receiver.received == []
        with committed():
            assert tasks.sweep() == 1
        assert len(receiver.received) == 2


def test_nothing_is_recorded_or_sent_when_the_change_rolls_back(brand, store, app):
    order = paid_order(brand, store)  # before anyone subscribed
    with Receiver() as receiver:
        subscribe(brand, app, receiver.url)
        with committed(), pytest.raises(RuntimeError), transaction.atomic():
            outbox.emit(brand_id=brand.pk, name="order.paid", payload={"order_id": order.pk})
            with brand_scope(brand):
                assert WebhookEvent.objects.count() == 1  # recorded in the transaction
            raise RuntimeError("the change failed")
        assert receiver.received == []
    with brand_scope(brand):
        assert WebhookEvent.objects.count() == 0 and WebhookDelivery.objects.count() == 0


def test_an_event_the_brand_does_not_subscribe_to_writes_nothing(
    brand, store, app, django_assert_max_num_queries
):
    with Receiver() as receiver:
        subscribe(brand, app, receiver.url, types=["member.joined"])
    order = paid_order(brand, store)
    with brand_scope(brand):
        assert WebhookEvent.objects.count() == 0
        with django_assert_max_num_queries(1):
            outbox.emit(brand_id=brand.pk, name="order.status", payload={"order_id": order.pk})
            outbox.emit(brand_id=brand.pk, name="order.paid", payload={"order_id": order.pk})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_on_one_endpoint_never_send_a_delivery_twice(brand, app, settings, monkeypatch):
    settings.WEBHOOK_BATCH_SIZE = 3
    monkeypatch.setattr(recording, "kick", lambda brand_id, endpoint_id: None)
    with Receiver() as receiver:
        endpoint, _s = subscribe(brand, app, receiver.url)
        pings(brand, endpoint, 20)
        results, errors = race(
            2, lambda i: engine.deliver_endpoint(brand_id=brand.pk, endpoint_id=endpoint.pk)
        )
        assert errors == []
        ids = receiver.delivery_ids()
    expected = [d.pk for d in deliveries(brand)]
    assert sorted(ids) == expected  # every one, once
    assert sum(r.succeeded for r in results) == 20
    assert all(d.status == "succeeded" and d.attempts == 1 for d in deliveries(brand))


def test_finished_deliveries_leave_the_log_after_the_retention(brand, app):
    with Receiver() as receiver:
        endpoint, _s = subscribe(brand, app, receiver.url)
        pings(brand, endpoint, 2, kick=True)
    pings(brand, endpoint, 1)  # still pending
    long_ago = timezone.now() - datetime.timedelta(days=31)
    with brand_scope(brand):
        WebhookDelivery.objects.update(created_at=long_ago)
        WebhookEvent.objects.update(created_at=long_ago)
    assert services.log_purge(brand=brand) == 2
    with brand_scope(brand):
        assert list(WebhookDelivery.objects.values_list("status", flat=True)) == ["pending"]
        assert WebhookEvent.objects.count() == 1 and WebhookAttempt.objects.count() == 0
