"""Celery tasks of the cloud store: thin, idempotent, brand id first."""

from celery import shared_task

from cloudstore.services import checkout, order_payments
from retail.celery import BrandTask
from retail.models import Brand


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def expire_orders(self, brand_id: int) -> int:
    """Cancel unpaid orders past their time to pay, releasing stock and coupons."""
    return checkout.orders_expire(brand=Brand.objects.get(pk=brand_id))


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def poll_payments(self, brand_id: int) -> int:
    """Ask the provider about payments whose notice has not arrived."""
    return order_payments.payments_poll(brand=Brand.objects.get(pk=brand_id))


@shared_task
def minutely() -> None:
    for brand_id in Brand.objects.filter(status=Brand.Status.ACTIVE).values_list("pk", flat=True):
        expire_orders.delay(brand_id)
        poll_payments.delay(brand_id)
