"""Celery tasks of devices: thin, idempotent, brand id first."""

from celery import shared_task

from devices import services
from retail.celery import BrandTask
from retail.models import Brand


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def sweep(self, brand_id: int) -> dict:
    """Devices whose heartbeats stopped go offline; devices offline past the alert delay are
    reported once (device.offline); spent tickets and pairing codes older than a day go."""
    brand = Brand.objects.get(pk=brand_id)
    return {
        "offline": len(services.devices_mark_offline(brand=brand)),
        "alerted": len(services.devices_alert_offline(brand=brand)),
        **services.credentials_purge(brand=brand),
    }


def _active_brands():
    return Brand.objects.filter(status=Brand.Status.ACTIVE).values_list("pk", flat=True)


@shared_task
def minutely() -> None:
    for brand_id in _active_brands():
        sweep.delay(brand_id)
