"""Celery tasks of attendance: the daily retention job (thin, idempotent, brand id first).

What the job deletes, for each brand (docs/attendance.md says the same in words for a legal team):
punches, access records and day records (with their corrections) older than the brand's policy
``retention_days``; the face encodings of anyone no longer active staff (left, or not active) or
without an active consent. Each run that deletes something is audited with the counts
(``attendance.retention``). Beat runs it daily; the embedded default through retail/periodic.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from celery import shared_task
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from attendance import services
from attendance.models import AccessRecord, Correction, DayRecord, FaceConsent, FaceEncoding, Punch
from retail.celery import BrandTask
from retail.events import Actor, record
from retail.models import Brand, Staff
from retail.tenancy import brand_scope

RETENTION_ACTION = "attendance.retention"


def retention_purge(*, brand: Brand, now: datetime | None = None) -> dict:
    """Delete what the brand keeps no longer; returns the counts (audited when not all zero)."""
    now = now or timezone.now()
    policy = services.policy_get(brand=brand)
    cutoff = now - timedelta(days=policy.retention_days)
    cutoff_day = timezone.localdate(cutoff)
    system = Actor.system()
    counts = {"punches": 0, "access_records": 0, "day_records": 0, "corrections": 0, "encodings": 0}
    with brand_scope(brand):
        days = DayRecord.objects.for_brand(brand).filter(date__lt=cutoff_day)
        counts["corrections"] = Correction.objects.for_brand(brand).filter(day__in=days).count()
        counts["day_records"] = days.delete()[1].get(DayRecord._meta.label, 0)
        counts["access_records"] = (
            AccessRecord.objects.for_brand(brand).filter(occurred_at__lt=cutoff).delete()[0]
        )
        counts["punches"] = Punch.objects.for_brand(brand).filter(occurred_at__lt=cutoff).delete()[0]
        consented = FaceConsent.objects.for_brand(brand).filter(
            staff=OuterRef("pk"), withdrawn_at__isnull=True
        )
        holders = (
            Staff.objects.for_brand(brand)
            .filter(Exists(FaceEncoding.objects.for_brand(brand).filter(staff=OuterRef("pk"))))
            .filter(~Q(status=Staff.Status.ACTIVE) | ~Exists(consented))
            .order_by("pk")
        )
        leavers = [(s, "left" if s.status != Staff.Status.ACTIVE else "no_consent") for s in holders]
    for staff, reason in leavers:
        counts["encodings"] += services.encodings_delete(
            brand=brand, staff=staff, actor=system, reason=f"retention:{reason}"
        )
    if any(counts.values()):
        with brand_scope(brand):
            record(
                brand=brand,
                actor=system,
                action=RETENTION_ACTION,
                data={
                    **counts,
                    "retention_days": policy.retention_days,
                    "before": cutoff.isoformat(),
                    "people": len(leavers),
                },
            )
    return counts


@shared_task(base=BrandTask, bind=True)
def retention(self, brand_id: int) -> dict:
    """One brand's retention run (in the brand's scope and one transaction)."""
    return retention_purge(brand=Brand.objects.get(pk=brand_id))


@shared_task
def daily() -> None:
    """Every brand's retention run; suspended brands too (their data ages all the same)."""
    for brand_id in Brand.objects.order_by("pk").values_list("pk", flat=True):
        retention.delay(brand_id)
