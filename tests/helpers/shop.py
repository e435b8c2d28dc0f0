"""Cloud-store orders in tests: paying through the simulated provider."""

from __future__ import annotations

from cloudstore.services import order_payments
from retail import payments


def pay(brand, order, outcome="succeeded"):
    """Pay an order through the simulated provider and deliver its notice."""
    payment, _url = order_payments.payment_start(brand=brand, order=order)
    sim = payments.provider("sim")
    sim.settle(payment.reference, outcome)
    body, sig = sim.signed_notice(payment.reference)
    return order_payments.payment_notice(brand=brand, provider_name="sim", notice=sim.parse_notice(body, sig))


def as_shopper(client, brand, member):
    """Log ``client`` in as ``member`` on the brand's shopper pages (the member session)."""
    from members import shopper

    session = client.session
    session[shopper.SESSION_KEY] = {str(brand.pk): member.pk}
    session.save()
    return client
