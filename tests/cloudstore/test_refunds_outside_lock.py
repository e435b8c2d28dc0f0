"""No payment provider call runs inside a transaction: a refund is recorded (pending) and
committed first, the provider is called with no transaction open and no row locked, and its
answer is written in a short transaction of its own. A provider that fails leaves the refund to
be sent again; racing requests make one refund and one provider call."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from cloudstore.models import Order, Payment, Refund
from cloudstore.services import checkout, order_payments, refunds
from retail import payments
from retail.events import Actor
from retail.tenancy import brand_scope
from tests.factories import InventoryFactory
from tests.helpers.auth import login_as
from tests.helpers.concurrency import race
from tests.helpers.shop import as_shopper, pay
from tests.helpers.tenancy import refresh

pytestmark = pytest.mark.django_db(transaction=True)


class ProbeProvider(payments.SimulatedProvider):
    """The simulated provider, checking that it is called outside any transaction; it can be told
    to fail, and counts the refunds it was asked for (by refund key)."""

    def __init__(self):
        self.calls: list[str] = []
        self.fail: Exception | None = None
        self.seen_status: list[str] = []
        self.lock = threading.Lock()

    def start(self, **kw):
        assert not connection.in_atomic_block, "provider.start called inside a transaction"
        return super().start(**kw)

    def refund(self, *, reference: str, amount_fen: int, refund_key: str) -> str:
        assert not connection.in_atomic_block, "provider.refund called inside a transaction"
        with self.lock:
            self.calls.append(refund_key)
        if self.fail is not None:
            raise self.fail
        return super().refund(reference=reference, amount_fen=amount_fen, refund_key=refund_key)


@pytest.fixture
def probe():
    original = payments.provider("sim")
    p = ProbeProvider()
    payments.register(p)
    yield p
    payments.register(original)


@pytest.fixture
def paid_order(brand, store, sku, member, probe):
    InventoryFactory(brand=brand, store=store, sku=sku, on_hand=5)
    order = checkout.checkout(
        brand=brand, store=store, member=member, items=[(sku.pk, 2)], fulfilment="pickup", checkout_key="c1"
    )
    pay(brand, order)
    return refresh(order)


def _refund(brand, staff, order, key="r1", amount_fen=10000):
    return refunds.refund_create(
        brand=brand,
        staff=staff,
        actor=Actor(),
        order=order,
        key=key,
        fingerprint=f"{key}:{amount_fen}",
        amount_fen=amount_fen,
        restock=False,
        reason="客户退货",
    )


def _get(brand, refund):
    with brand_scope(brand):
        return Refund.objects.get(pk=refund.pk)


def test_the_provider_is_called_after_the_refund_is_committed(brand, store_manager, paid_order, probe):
    seen = []
    original_refund = probe.refund

    def refund_and_look(**kw):
        # What another connection sees while the provider works: the refund, pending.
        with brand_scope(brand):
            seen.append(list(Refund.objects.filter(order=paid_order).values_list("transfer", "amount_fen")))
        return original_refund(**kw)

    probe.refund = refund_and_look
    refund, replayed = _refund(brand, store_manager, paid_order)
    assert not replayed
    assert seen == [[(Refund.Transfer.PENDING, 10000)]]
    assert probe.calls == [f"{brand.pk}:r1"]
    refund = _get(brand, refund)
    assert refund.transfer == Refund.Transfer.SENT and refund.provider_reference.startswith("SIMREF-")
    assert refresh(paid_order).refunded_fen == 10000


@pytest.mark.postgres
def test_no_row_is_locked_while_the_provider_works(brand, store_manager, paid_order, probe):
    """Another connection can lock the order and its lines while the refund's provider call runs."""
    original_refund = probe.refund
    locked = []

    def lock_elsewhere():
        try:
            with brand_scope(brand):
                Order.objects.select_for_update(nowait=True).get(pk=paid_order.pk)
                locked.append(True)
        finally:
            connection.close()

    def refund_while_locking(**kw):
        t = threading.Thread(target=lock_elsewhere)
        t.start()
        t.join()
        return original_refund(**kw)

    probe.refund = refund_while_locking
    _refund(brand, store_manager, paid_order)
    assert locked == [True]


def test_a_provider_that_fails_leaves_the_refund_to_send_again(brand, store_manager, paid_order, probe):
    probe.fail = TimeoutError("provider timed out")
    refund, replayed = _refund(brand, store_manager, paid_order)
    refund = _get(brand, refund)
    assert not replayed
    assert refund.transfer == Refund.Transfer.FAILED and "timed out" in refund.transfer_error
    assert refund.provider_reference == "" and refund.transfer_claimed_at is None
    # The refund itself stands (amounts, points, events); only the money's way back is owed.
    assert refresh(paid_order).refunded_fen == 10000
    assert payments.provider("sim").record(_payment(brand, paid_order).reference)["refunded_fen"] == 0

    # The same request again sends it again, with the same refund key; nothing is refunded twice.
    probe.fail = None
    again, replayed = _refund(brand, store_manager, paid_order)
    assert replayed and again.pk == refund.pk
    refund = _get(brand, refund)
    assert refund.transfer == Refund.Transfer.SENT and refund.transfer_error == ""
    assert probe.calls == [f"{brand.pk}:r1", f"{brand.pk}:r1"]
    assert refresh(paid_order).refunded_fen == 10000
    with brand_scope(brand):
        assert Refund.objects.filter(order=paid_order).count() == 1

    # A sent refund asked again calls nobody.
    _refund(brand, store_manager, paid_order)
    assert len(probe.calls) == 2


def test_the_sweep_sends_failed_refunds_again(brand, store_manager, paid_order, probe):
    probe.fail = ConnectionError("provider unreachable")
    refund, _ = _refund(brand, store_manager, paid_order)
    assert _get(brand, refund).transfer == Refund.Transfer.FAILED
    assert refunds.refunds_resend(brand=brand, older_than_seconds=0) == 0  # still failing
    probe.fail = None
    assert refunds.refunds_resend(brand=brand, older_than_seconds=0) == 1
    assert _get(brand, refund).transfer == Refund.Transfer.SENT
    assert refunds.refunds_resend(brand=brand, older_than_seconds=0) == 0
    assert len(probe.calls) == 3


def test_a_sender_holding_the_transfer_is_not_doubled(brand, store_manager, paid_order, probe):
    probe.fail = TimeoutError("provider timed out")
    refund, _ = _refund(brand, store_manager, paid_order)
    probe.fail = None
    with brand_scope(brand):  # another sender has just claimed it
        Refund.objects.filter(pk=refund.pk).update(transfer_claimed_at=timezone.now())
    assert refunds.refund_send(brand=brand, refund=refund).transfer == Refund.Transfer.FAILED
    assert len(probe.calls) == 1
    assert refunds.refunds_resend(brand=brand, older_than_seconds=0) == 0  # its lease still runs


def test_a_payment_the_order_cannot_take_is_returned_outside_any_transaction(
    brand, store, sku, member, paid_order, probe
):
    """Paid twice: the second payment goes back to the payer after the notice is committed."""
    order = checkout.checkout(
        brand=brand, store=store, member=member, items=[(sku.pk, 1)], fulfilment="pickup", checkout_key="c2"
    )
    first, _url = order_payments.payment_start(brand=brand, order=order)
    second, _url = order_payments.payment_start(brand=brand, order=order)
    sim = payments.provider("sim")
    for p in (first, second):
        sim.settle(p.reference, "succeeded")
        order_payments.payment_notice(
            brand=brand, provider_name="sim", notice=sim.parse_notice(*sim.signed_notice(p.reference))
        )
    assert probe.calls == [f"return:{second.reference}"]
    second = refresh(second)
    assert second.status == Payment.Status.REFUNDED and not second.return_pending
    assert sim.record(second.reference)["refunded_fen"] == second.amount_fen


def test_a_failed_return_is_sent_again_by_the_sweep(brand, store, sku, member, paid_order, probe):
    order = checkout.checkout(
        brand=brand, store=store, member=member, items=[(sku.pk, 1)], fulfilment="pickup", checkout_key="c2"
    )
    first, _url = order_payments.payment_start(brand=brand, order=order)
    second, _url = order_payments.payment_start(brand=brand, order=order)
    sim = payments.provider("sim")
    sim.settle(first.reference, "succeeded")
    order_payments.payment_notice(
        brand=brand, provider_name="sim", notice=sim.parse_notice(*sim.signed_notice(first.reference))
    )
    probe.fail = TimeoutError("provider timed out")
    sim.settle(second.reference, "succeeded")
    order_payments.payment_notice(
        brand=brand, provider_name="sim", notice=sim.parse_notice(*sim.signed_notice(second.reference))
    )
    assert refresh(second).return_pending
    probe.fail = None
    assert order_payments.payment_returns_resend(brand=brand, older_than_seconds=0) == 1
    assert not refresh(second).return_pending
    assert order_payments.payment_returns_resend(brand=brand, older_than_seconds=0) == 0


def test_payment_start_asks_the_provider_outside_any_transaction(brand, store, sku, member, probe):
    InventoryFactory(brand=brand, store=store, sku=sku, on_hand=5)
    order = checkout.checkout(
        brand=brand, store=store, member=member, items=[(sku.pk, 1)], fulfilment="pickup", checkout_key="c1"
    )
    payment, url = order_payments.payment_start(brand=brand, order=order)  # ProbeProvider.start asserts
    assert url and refresh(payment).status == Payment.Status.PENDING


def test_a_provider_that_cannot_start_leaves_a_failed_payment(brand, store, sku, member, probe):
    InventoryFactory(brand=brand, store=store, sku=sku, on_hand=5)
    order = checkout.checkout(
        brand=brand, store=store, member=member, items=[(sku.pk, 1)], fulfilment="pickup", checkout_key="c1"
    )

    def down(**kw):
        raise ConnectionError("provider unreachable")

    probe.start = down
    with pytest.raises(ValidationError) as refused:
        order_payments.payment_start(brand=brand, order=order)
    assert [e.code for e in refused.value.error_list] == ["provider_unavailable"]
    with brand_scope(brand):
        assert list(Payment.objects.filter(order=order).values_list("status", flat=True)) == ["failed"]
    assert refresh(order).status == Order.Status.CREATED  # the shopper can try again


def _payment(brand, order):
    with brand_scope(brand):
        return Payment.objects.get(order=order, status=Payment.Status.SUCCEEDED)


# --- races on PostgreSQL -------------------------------------------------------------------------


@pytest.mark.postgres
def test_the_same_refund_sent_twice_at_once_is_one_refund_and_one_call(
    brand, store_manager, paid_order, probe
):
    results, errors = race(4, lambda i: _refund(brand, store_manager, paid_order))
    assert errors == []
    assert len({r.pk for r, _replayed in results}) == 1
    assert sorted(replayed for _r, replayed in results) == [False, True, True, True]
    with brand_scope(brand):
        assert Refund.objects.filter(order=paid_order).count() == 1
        assert Refund.objects.get(order=paid_order).transfer == Refund.Transfer.SENT
    assert probe.calls == [f"{brand.pk}:r1"]
    assert refresh(paid_order).refunded_fen == 10000


@pytest.mark.postgres
def test_two_full_refunds_at_once_make_one(brand, store_manager, paid_order, probe):
    total = paid_order.paid_fen
    results, errors = race(
        2, lambda i: _refund(brand, store_manager, paid_order, key=f"r{i}", amount_fen=total)
    )
    assert len(results) == 1 and len(errors) == 1
    assert errors[0].code == "not_refundable"  # the winner's refund closed the order
    assert len(probe.calls) == 1
    order = refresh(paid_order)
    assert order.refunded_fen == total and order.status == Order.Status.REFUNDED
    assert payments.provider("sim").record(_payment_any(brand, order).reference)["refunded_fen"] == total


def _payment_any(brand, order):
    with brand_scope(brand):
        return Payment.objects.filter(order=order).first()


def test_the_order_page_shows_a_refund_still_owed(
    client, brand, brand_admin, store_manager, paid_order, probe
):
    probe.fail = TimeoutError("provider timed out")
    _refund(brand, store_manager, paid_order)
    login_as(client, brand_admin)
    body = client.get(reverse("dash-cs-order", args=[paid_order.pk])).content.decode()
    assert 'data-testid="refund-transfer"' in body and "退款失败，将自动重试" in body  # the default language
    probe.fail = None
    refunds.refunds_resend(brand=brand, older_than_seconds=0)
    body = client.get(reverse("dash-cs-order", args=[paid_order.pk])).content.decode()
    assert 'data-testid="refund-transfer"' not in body


def test_the_shop_asks_the_provider_outside_the_request_and_any_transaction(
    client, brand, store, sku, member, probe
):
    """The shopper's pay button: the order is committed and unlocked before the provider is asked
    (ProbeProvider.start asserts), and a provider that does not answer gives a readable page."""
    InventoryFactory(brand=brand, store=store, sku=sku, on_hand=5)
    order = checkout.checkout(
        brand=brand, store=store, member=member, items=[(sku.pk, 1)], fulfilment="pickup", checkout_key="c1"
    )
    as_shopper(client, brand, member)
    pay_url = reverse("shop-order-pay", args=[brand.slug, order.number])
    response = client.post(pay_url)
    assert response.status_code == 302 and "/pay/sim/" in response["Location"]

    def down(**kw):
        raise ConnectionError("provider unreachable")

    probe.start = down
    response = client.post(pay_url, follow=True)
    assert response.status_code == 200
    assert "支付服务没有响应，请稍后再试。" in response.content.decode()
    with brand_scope(brand):
        assert sorted(Payment.objects.filter(order=order).values_list("status", flat=True)) == [
            "failed",
            "pending",
        ]
