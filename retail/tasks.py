"""Celery tasks of the tenancy core: thin, idempotent, brand id first."""

from celery import shared_task
from django.conf import settings
from django.utils.translation import gettext as _

from retail import idempotency, private_files
from retail.celery import BrandTask
from retail.models import Brand, Staff
from retail.notify import get_sender


@shared_task(base=BrandTask, bind=True)
def deliver_invitation(self, brand_id: int, staff_id: int, link: str) -> None:
    """Send an invitation link to the invited person's phone."""
    staff = Staff.objects.select_related("user", "brand").filter(pk=staff_id).first()
    if staff is None or staff.status != Staff.Status.INVITED:
        return
    base = getattr(settings, "SITE_URL", "").rstrip("/")
    text = _("%(brand)s invites you to join its store team: %(link)s") % {
        "brand": staff.brand.name,
        "link": base + link,
    }
    get_sender().send(phone=staff.user.phone or "", text=text)


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def expire_private_files_brand(self, brand_id: int) -> int:
    """Delete the brand's files with personal data whose time is up."""
    return private_files.delete_expired(brand=brand_id)


@shared_task
def expire_private_files() -> None:
    """Fan the expiry of private files out to every brand (suspended ones too: it is their data)."""
    for brand_id in Brand.objects.values_list("pk", flat=True):
        expire_private_files_brand.delay(brand_id)


@shared_task(base=BrandTask, bind=True)
def purge_idempotency_brand(self, brand_id: int) -> int:
    """Delete the brand's kept API answers older than 24 hours (their keys are free again)."""
    return idempotency.purge_records(brand_id)


@shared_task
def purge_idempotency() -> None:
    """Fan the purge of kept API answers (Idempotency-Key records) out to every brand."""
    for brand_id in Brand.objects.values_list("pk", flat=True):
        purge_idempotency_brand.delay(brand_id)
