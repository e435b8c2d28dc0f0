"""Celery tasks of the cloud store: thin, idempotent, brand id first."""

from celery import shared_task

from cloudstore.models import Payment, Refund
from cloudstore.services import checkout, order_payments, refunds
from retail.celery import BrandTask
from retail.models import Brand
from retail.tenancy import brand_scope


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def expire_orders(self, brand_id: int) -> int:
    """Cancel unpaid orders past their time to pay, releasing stock and coupons."""
    return checkout.orders_expire(brand=Brand.objects.get(pk=brand_id))


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def poll_payments(self, brand_id: int) -> int:
    """Ask the provider about payments whose notice has not arrived."""
    return order_payments.payments_poll(brand=Brand.objects.get(pk=brand_id))


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def refund_send(self, brand_id: int, refund_id: int) -> str:
    """Return a refund's money through the payment provider (after the refund's commit)."""
    brand = Brand.objects.get(pk=brand_id)
    with brand_scope(brand):
        refund = Refund.objects.filter(pk=refund_id).first()
    return refunds.refund_send(brand=brand, refund=refund).transfer if refund else "missing"


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def payment_return(self, brand_id: int, payment_id: int) -> bool:
    """Give back a payment its order could not take; True once the provider took it."""
    brand = Brand.objects.get(pk=brand_id)
    with brand_scope(brand):
        payment = Payment.objects.filter(pk=payment_id).first()
    return (
        payment is not None and not order_payments.payment_return(brand=brand, payment=payment).return_pending
    )


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def resend_returns(self, brand_id: int) -> int:
    """Send again refunds and payment returns the provider has not taken yet."""
    brand = Brand.objects.get(pk=brand_id)
    return refunds.refunds_resend(brand=brand) + order_payments.payment_returns_resend(brand=brand)


@shared_task
def minutely() -> None:
    for brand_id in Brand.objects.filter(status=Brand.Status.ACTIVE).values_list("pk", flat=True):
        expire_orders.delay(brand_id)
        poll_payments.delay(brand_id)
        resend_returns.delay(brand_id)
