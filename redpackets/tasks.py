"""Celery tasks of red packets: thin, idempotent, brand id first."""

from celery import shared_task

from redpackets.models import Withdrawal
from redpackets.services import funding, packets, reconcile, withdrawals
from retail.celery import BrandTask
from retail.models import Brand, Staff
from retail.tenancy import brand_scope


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def expire_packets(self, brand_id: int) -> int:
    """Return the unclaimed money of expired packets to the pool (each packet once)."""
    return packets.packets_expire(brand=Brand.objects.get(pk=brand_id))


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def withdrawal_submit(self, brand_id: int, withdrawal_id: int) -> str:
    """Hand a new withdrawal to the payout provider."""
    brand = Brand.objects.get(pk=brand_id)
    with brand_scope(brand):
        w = Withdrawal.objects.for_brand(brand).filter(pk=withdrawal_id).first()
    return withdrawals.withdrawal_submit(brand=brand, withdrawal=w).status if w else "missing"


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def poll_withdrawals(self, brand_id: int) -> int:
    """Resolve pending withdrawals by asking the provider."""
    return withdrawals.withdrawals_poll(brand=Brand.objects.get(pk=brand_id))


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def poll_topups(self, brand_id: int) -> int:
    """Ask the payment provider about top-ups whose notice has not come."""
    return funding.topups_poll(brand=Brand.objects.get(pk=brand_id))


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def auto_withdraw(self, brand_id: int, staff_id: int, share_id: int) -> int | None:
    """Withdraw a claimed packet straight on, for people who switched automatic withdrawal on."""
    brand = Brand.objects.get(pk=brand_id)
    with brand_scope(brand):
        staff = Staff.objects.for_brand(brand).filter(pk=staff_id).first()
    if staff is None:
        return None
    w = withdrawals.auto_withdraw(brand=brand, staff=staff, trigger=f"claim:{share_id}")
    return w.pk if w else None


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def reconcile_brand(self, brand_id: int) -> bool:
    """Check the brand's ledger and withdrawals; mismatches are reported."""
    return reconcile.reconcile(brand=Brand.objects.get(pk=brand_id)).ok


def _active_brands():
    return Brand.objects.filter(status=Brand.Status.ACTIVE).values_list("pk", flat=True)


@shared_task
def minutely() -> None:
    for brand_id in _active_brands():
        expire_packets.delay(brand_id)
        poll_withdrawals.delay(brand_id)
        poll_topups.delay(brand_id)


@shared_task
def nightly() -> None:
    for brand_id in _active_brands():
        reconcile_brand.delay(brand_id)
