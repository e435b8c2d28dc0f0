"""Celery tasks of webhooks (queue ``webhooks``, see CELERY_TASK_ROUTES): one delivery task per
endpoint, the beat sweep that kicks endpoints with due deliveries, and the disabled notice."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache

from retail.celery import BrandTask
from retail.models import Brand
from retail.tenancy import brand_scope
from retail.webhooks import engine, recording, selectors, services


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def deliver_endpoint(self, brand_id: int, endpoint_id: int) -> int:
    """Deliver what is due to one endpoint (engine.deliver_endpoint); returns how many succeeded."""
    # From now on a new kick queues a new task: deliveries recorded while this one runs are not lost.
    cache.delete(recording.kick_key(endpoint_id))
    return engine.deliver_endpoint(brand_id=brand_id, endpoint_id=endpoint_id).succeeded


@shared_task
def sweep() -> int:
    """Every 30 s (beat): kick every enabled endpoint with a delivery due (retries, lost kicks)."""
    kicked = 0
    for brand_id in Brand.objects.filter(status=Brand.Status.ACTIVE).values_list("pk", flat=True):
        with brand_scope(brand_id):
            due = selectors.due_endpoint_ids(brand_id)
        for endpoint_id in due:
            recording.kick(brand_id, endpoint_id)
            kicked += 1
    return kicked


@shared_task(base=BrandTask, bind=True)
def notify_disabled(self, brand_id: int, endpoint_id: int) -> int:
    return services.notify_disabled(brand_id=brand_id, endpoint_id=endpoint_id)


@shared_task
def purge() -> None:
    """Hourly (beat): every brand's finished deliveries past WEBHOOK_LOG_RETENTION_DAYS leave the log."""
    for brand_id in Brand.objects.values_list("pk", flat=True):
        services.log_purge(brand=brand_id)
