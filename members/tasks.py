"""Celery tasks of the membership programme: thin, idempotent, brand id first."""

import logging

from celery import shared_task

from members import jobs, services
from retail.celery import BrandTask
from retail.models import Brand

logger = logging.getLogger(__name__)


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def run_member_job(self, brand_id: int, job_id: int) -> None:
    """Run a CSV import or export. Each phase opens its own brand-scoped transaction."""
    jobs.job_run(brand=Brand.objects.get(pk=brand_id), job_id=job_id)


@shared_task
def sweep_jobs() -> int:
    """Every minute: queue again (or fail) imports and exports whose worker died.

    One task walks the active brands, one short transaction each (most have no job running),
    rather than sending a message per brand every minute."""
    touched = 0
    for brand in Brand.objects.filter(status=Brand.Status.ACTIVE):
        try:
            touched += jobs.jobs_sweep(brand=brand)
        except Exception:  # one brand's trouble must not stop the others' jobs
            logger.exception("sweeping the member jobs of brand %s failed", brand.pk)
    return touched


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def expire_points(self, brand_id: int) -> int:
    return services.points_expire_due(brand=Brand.objects.get(pk=brand_id))


@shared_task(base=BrandTask, bind=True, single_transaction=False)
def apply_tag_rules(self, brand_id: int) -> int:
    return services.tag_rules_apply(brand=Brand.objects.get(pk=brand_id))


@shared_task
def nightly_membership() -> None:
    """Fan out the nightly points expiry and tag rules to every active brand."""
    for brand_id in Brand.objects.filter(status=Brand.Status.ACTIVE).values_list("pk", flat=True):
        expire_points.delay(brand_id)
        apply_tag_rules.delay(brand_id)
