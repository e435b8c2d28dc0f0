"""The daily retention job (beat, and the embedded default through retail/periodic.py): punches,
access records and day records older than the brand's retention are deleted, the face encodings of
people who left or have no active consent too; the counts are audited; brands are kept apart;
a second run deletes nothing."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from attendance import crypto, records, services, tasks
from attendance.models import AccessRecord, Correction, DayRecord, FaceConsent, FaceEncoding, Punch
from retail.celery import app
from retail.events import Actor
from retail.models import AuditLog, Staff
from retail.periodic import Scheduler
from retail.tenancy import brand_scope, rls_bypass
from tests.factories import StaffFactory
from tests.helpers.devices import make_device

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")


def _at(day: date, hh: int) -> datetime:
    return datetime.combine(day, time(hh), tzinfo=SH).astimezone(UTC)


def _encode(brand, staff, consent=True):
    """A stored encoding of ``staff`` (random numbers: the job never reads them), with consent."""
    with brand_scope(brand):
        if consent:
            text = services.consent_text_publish(
                brand=brand,
                manager=Staff.objects.for_brand(brand).filter(role=Staff.Role.BRAND_ADMIN).first(),
                actor=Actor.system(),
                title="人脸考勤同意书",
                body="我同意。",
            )
            FaceConsent.objects.create(brand=brand, staff=staff, text=text)
        vector = np.random.default_rng(staff.pk).normal(0, 0.1, 128)
        ciphertext, key_id = crypto.encrypt(vector)
        FaceEncoding.objects.create(
            brand=brand, staff=staff, ciphertext=ciphertext, key_id=key_id, source="phone"
        )


def _count(model, brand, **filters) -> int:
    with brand_scope(brand):
        return model.objects.for_brand(brand).filter(**filters).count()


@pytest.fixture
def aged(brand, store, brand_admin, guide):
    """The brand keeps 30 days: a guide's punches, day records (one corrected) and access records
    40 days ago and 5 days ago."""
    services.policy_update(
        brand=brand, manager=brand_admin, actor=Actor.system(), data={"retention_days": 30}
    )
    today = timezone.localdate()
    old, recent = today - timedelta(days=40), today - timedelta(days=5)
    device, _secret = make_device(brand, brand_admin, store, name="前台考勤机", kind="both")
    for day in (old, recent):
        for hh in (9, 18):
            p = records.punch_record(
                brand=brand,
                staff=guide,
                store=store,
                occurred_at=_at(day, hh),
                source="kiosk_face",
                device=device,
            )
            with brand_scope(brand):
                AccessRecord.objects.create(
                    brand=brand,
                    device=device,
                    staff=guide,
                    result="punched",
                    punch=p,
                    occurred_at=p.occurred_at,
                )
    with brand_scope(brand):
        AccessRecord.objects.create(brand=brand, device=device, result="unknown", occurred_at=_at(old, 8))
        day = DayRecord.objects.for_brand(brand).get(staff=guide, date=old)
    records.correction_add(
        brand=brand, manager=brand_admin, actor=Actor.system(), day=day, reason="补打卡", status="on_time"
    )
    return {"old": old, "recent": recent, "device": device}


def test_retention_deletes_what_is_older_than_the_policy_and_audits_the_counts(brand, aged, guide):
    assert _count(Punch, brand) == 4 and _count(DayRecord, brand) == 2 and _count(AccessRecord, brand) == 5
    counts = tasks.retention_purge(brand=brand)
    assert counts == {"punches": 2, "access_records": 3, "day_records": 1, "corrections": 1, "encodings": 0}
    assert _count(Punch, brand) == 2 and _count(Punch, brand, occurred_at__lt=_at(aged["recent"], 0)) == 0
    assert _count(DayRecord, brand) == 1 and _count(DayRecord, brand, date=aged["recent"]) == 1
    assert _count(AccessRecord, brand) == 2 and _count(Correction, brand) == 0
    with brand_scope(brand):
        (entry,) = AuditLog.objects.for_brand(brand).filter(action="attendance.retention")
    assert entry.data["punches"] == 2 and entry.data["retention_days"] == 30 and entry.actor_id is None
    # Again: nothing more to delete, nothing more audited.
    assert not any(tasks.retention_purge(brand=brand).values())
    assert _count(AuditLog, brand, action="attendance.retention") == 1


def test_encodings_of_people_who_left_or_without_consent_are_deleted(brand, store, brand_admin, guide):
    stays = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name="留下的")
    left = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store], name="离职的")
    _encode(brand, stays)
    _encode(brand, left)
    _encode(brand, guide, consent=False)
    with brand_scope(brand):
        Staff.objects.filter(pk=left.pk).update(status=Staff.Status.LEFT, left_on=timezone.localdate())
    counts = tasks.retention_purge(brand=brand)
    assert counts["encodings"] == 2
    assert _count(FaceEncoding, brand, staff=stays) == 1
    assert _count(FaceEncoding, brand) == 1
    with brand_scope(brand):
        reasons = sorted(
            AuditLog.objects.for_brand(brand)
            .filter(action="face.deleted")
            .values_list("data__reason", flat=True)
        )
    assert reasons == ["retention:left", "retention:no_consent"]


def test_each_brand_keeps_its_own_retention(brand, aged, other_brand, other_store, other_admin):
    theirs = StaffFactory(brand=other_brand, role=Staff.Role.GUIDE, stores=[other_store])
    records.punch_record(
        brand=other_brand,
        staff=theirs,
        store=other_store,
        occurred_at=_at(aged["old"], 9),
        source="phone_pin",
    )  # the other brand keeps 400 days (the default)
    tasks.daily.delay()  # every brand, eagerly in tests
    assert _count(Punch, brand) == 2
    assert _count(Punch, other_brand) == 1
    with rls_bypass(reason="test: audit of every brand"):
        brands = set(
            AuditLog.unscoped.filter(action="attendance.retention").values_list("brand_id", flat=True)
        )
    assert brands == {brand.pk}


def test_the_job_runs_daily_in_beat_and_in_the_embedded_default(brand, aged):
    entry = django_settings.CELERY_BEAT_SCHEDULE["attendance-daily"]
    assert entry["task"] == "attendance.tasks.daily"
    clock = {"now": datetime(2026, 12, 6, 12, 0, tzinfo=UTC)}
    scheduler = Scheduler({"attendance-daily": entry}, app=app, clock=lambda: clock["now"])
    scheduler.tick()  # a crontab job waits for its time
    assert _count(Punch, brand) == 4
    clock["now"] += timedelta(days=1)
    scheduler.tick()
    assert _count(Punch, brand) == 2


def test_the_job_runs_from_the_command_line(brand, aged, other_brand):
    out = io.StringIO()
    call_command("attendance_retention", "--brand", brand.slug, stdout=out)
    assert out.getvalue().strip() == (
        f"{brand.slug}: punches 2, access_records 3, day_records 1, corrections 1, encodings 0"
    )
    out = io.StringIO()
    call_command("attendance_retention", stdout=out)
    assert sorted(out.getvalue().split("\n")[:2]) == sorted(
        f"{b.slug}: punches 0, access_records 0, day_records 0, corrections 0, encodings 0"
        for b in (brand, other_brand)
    )
    with pytest.raises(CommandError):
        call_command("attendance_retention", "--brand", "nobody")
