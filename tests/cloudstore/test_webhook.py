"""The payment provider's webhook over HTTP: signed notices applied once; garbage refused."""

import pytest

from cloudstore.models import Order, Payment
from cloudstore.services import checkout, order_payments
from tests.helpers.tenancy import refresh

pytestmark = pytest.mark.django_db


def _notify(client, brand, body, sig, provider="sim"):
    return client.post(
        f"/pay/notify/{brand.slug}/{provider}/", body, content_type="application/json", HTTP_X_SIGNATURE=sig
    )


def test_signed_notice_is_applied_once(client, brand, store, stock, member, sku, sim):
    order = checkout.checkout(
        brand=brand, store=store, member=member, items=[(sku.pk, 1)], fulfilment="pickup", checkout_key="k"
    )
    payment, _ = order_payments.payment_start(brand=brand, order=order)
    sim.settle(payment.reference, "succeeded")
    body, sig = sim.signed_notice(payment.reference)
    assert _notify(client, brand, body, sig).status_code == 200
    assert _notify(client, brand, body, sig).status_code == 200  # a repeat changes nothing
    assert refresh(order).status == Order.Status.PAID
    assert refresh(payment).notifications == 2 and refresh(payment).status == Payment.Status.SUCCEEDED


def test_garbage_notices_are_refused(client, brand, other_brand, store, stock, member, sku, sim):
    order = checkout.checkout(
        brand=brand, store=store, member=member, items=[(sku.pk, 1)], fulfilment="pickup", checkout_key="k"
    )
    payment, _ = order_payments.payment_start(brand=brand, order=order)
    sim.settle(payment.reference, "succeeded")
    body, sig = sim.signed_notice(payment.reference)
    assert _notify(client, brand, body, "0" * 64).status_code == 400  # forged signature
    assert _notify(client, brand, b"{not json", sim.sign(b"{not json")).status_code == 400
    assert _notify(client, brand, body, sig, provider="nope").status_code == 400
    assert _notify(client, other_brand, body, sig).status_code == 400  # another brand's notice
    assert _notify(client, brand, b"x" * 20000, "s").status_code == 413
    assert client.get(f"/pay/notify/{brand.slug}/sim/").status_code == 405
    assert refresh(order).status == Order.Status.CREATED
    assert refresh(payment).status == Payment.Status.PENDING
