"""Celery tasks of partner apps: the hourly purge of the call log."""

from __future__ import annotations

from celery import shared_task

from retail.celery import BrandTask
from retail.models import Brand
from retail.partners import services


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def purge_calls_brand(self, brand_id: int) -> int:
    """Delete the brand's partner calls older than PARTNER_CALL_RETENTION_DAYS."""
    return services.calls_purge(brand=brand_id)


@shared_task
def purge_calls() -> None:
    """Fan the call log purge out to every brand."""
    for brand_id in Brand.objects.values_list("pk", flat=True):
        purge_calls_brand.delay(brand_id)
