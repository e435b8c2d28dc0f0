"""Celery tasks of commission: thin, idempotent, brand id first."""

from celery import shared_task
from django.core.exceptions import ValidationError

from guides.models import Reattribution, SettlementPeriod
from guides.services import attribution, notify, settlement
from retail.celery import BrandTask
from retail.models import Brand
from retail.tenancy import brand_scope


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def attribute_order(self, brand_id: int, order_id: int) -> int:
    """Attribute one paid order (a second run finds it attributed and does nothing)."""
    return attribution.attribute_orders(brand=Brand.objects.get(pk=brand_id), order_ids=[order_id])


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def clawback_order(self, brand_id: int, order_id: int) -> int:
    """Claw back the commission of an order's refunded part (once per refunded total)."""
    return attribution.attribution_refund_sync(brand=Brand.objects.get(pk=brand_id), order_id=order_id)


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def attribute_range(self, brand_id: int, after_id: int, up_to_id: int, notify: bool = False) -> int:
    """Attribute the unattributed paid orders with ids in (after_id, up_to_id], in set-based batches
    (a historic import: one event per batch, guides told afterwards if ``notify``)."""
    return attribution.attribute_pending(
        brand=Brand.objects.get(pk=brand_id), after_id=after_id, up_to_id=up_to_id, notify=notify, bulk=True
    )


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def notify_commissions(self, brand_id: int) -> int:
    """One notification and push per guide for everything credited since they were last told."""
    return notify.notify_commissions(brand=Brand.objects.get(pk=brand_id))


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def run_reattribution(self, brand_id: int, run_id: int) -> int:
    brand = Brand.objects.get(pk=brand_id)
    with brand_scope(brand):
        run = Reattribution.objects.get(pk=run_id)
    return attribution.reattribute(brand=brand, run=run).changed


@shared_task(
    base=BrandTask, bind=True, single_transaction=False, autoretry_for=(ValidationError, ConnectionError)
)
def pay_period(self, brand_id: int, period_id: int) -> int:
    """Pay an approved period's statements; retried with back-off while the pool is short."""
    brand = Brand.objects.get(pk=brand_id)
    with brand_scope(brand):
        period = SettlementPeriod.objects.get(pk=period_id)
    return settlement.period_pay(brand=brand, period=period)


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def sweep(self, brand_id: int) -> int:
    """Attribute paid orders whose task was lost, and pay approved periods left unpaid."""
    import datetime

    from django.utils import timezone

    brand = Brand.objects.get(pk=brand_id)
    now = timezone.now()
    # Orders paid in the last week whose task was lost (older ones: an explicit bulk run).
    n = attribution.attribute_pending(
        brand=brand,
        paid_before=now - datetime.timedelta(minutes=2),
        paid_after=now - datetime.timedelta(days=7),
    )
    with brand_scope(brand):
        unpaid = list(
            SettlementPeriod.objects.filter(status=SettlementPeriod.Status.APPROVED).values_list(
                "pk", flat=True
            )
        )
    for period_id in unpaid:
        pay_period.delay(brand_id, period_id)
    return n


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def close_period(self, brand_id: int) -> int | None:
    """Write the statements of the period that just ended (once)."""
    period = settlement.periods_due(brand=Brand.objects.get(pk=brand_id))
    return period.pk if period else None


def _active_brands():
    return Brand.objects.filter(status=Brand.Status.ACTIVE).values_list("pk", flat=True)


@shared_task
def every_five_minutes() -> None:
    for brand_id in _active_brands():
        sweep.delay(brand_id)


@shared_task
def hourly() -> None:
    for brand_id in _active_brands():
        close_period.delay(brand_id)


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def device_status_notify(
    self, brand_id: int, device_id: int, store_id: int | None, device_name: str, online: bool
) -> int:
    """Tell a store's managers that a device stayed offline, or that it is back (once per change)."""
    return notify.device_status(
        brand=Brand.objects.get(pk=brand_id),
        device_id=device_id,
        store_id=store_id,
        device_name=device_name,
        online=online,
    )


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def access_alert_notify(self, brand_id: int, payload: dict) -> int:
    """Tell a store's managers that a device refused people again and again."""
    return notify.access_alert(brand=Brand.objects.get(pk=brand_id), payload=payload)


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def punch_notify(self, brand_id: int, payload: dict) -> int:
    """Tell a person that their punch was recorded."""
    return notify.punch_recorded(brand=Brand.objects.get(pk=brand_id), payload=payload)


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def face_duplicate_notify(self, brand_id: int, payload: dict) -> int:
    """Tell the brand's admins that a face was refused as already enrolled for someone else."""
    return notify.face_duplicate(brand=Brand.objects.get(pk=brand_id), payload=payload)


# Messaging's tasks live in guides/messaging/tasks.py; imported here so the worker registers them.
from guides.messaging import tasks as _messaging_tasks  # noqa: E402, F401
