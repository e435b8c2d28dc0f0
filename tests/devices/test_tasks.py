"""The devices sweep (beat every minute, and in the embedded default through retail/periodic.py):
devices whose heartbeats stopped go offline, devices offline past the alert delay are reported
once, spent tickets and pairing codes older than a day are deleted; brands are kept apart."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from devices import services, tasks
from devices.models import Device, DeviceTicket, PairingCode
from retail.celery import app
from retail.events import Actor
from retail.models import Brand
from retail.periodic import Scheduler
from retail.tenancy import brand_scope, rls_bypass
from tests.factories import BrandFactory, StaffFactory, StoreFactory
from tests.helpers.devices import make_device

pytestmark = pytest.mark.django_db

AGO = datetime.timedelta


def _set(device, **fields):
    with brand_scope(device.brand_id):
        Device.objects.filter(pk=device.pk).update(**fields)
        return Device.objects.get(pk=device.pk)


def test_the_sweep_marks_silent_devices_offline_and_alerts_long_offline_ones_once(
    brand, brand_admin, store, django_capture_on_commit_callbacks
):
    now = timezone.now()
    silent, _s = make_device(brand, brand_admin, store, name="沉默的")
    alive, _s = make_device(brand, brand_admin, store, name="在线的")
    gone, _s = make_device(brand, brand_admin, store, name="离线很久")
    recent, _s = make_device(brand, brand_admin, store, name="刚离线")
    disabled, _s = make_device(brand, brand_admin, store, name="停用的")
    _set(silent, status="online", connection="x", last_seen_at=now - AGO(seconds=200))
    _set(alive, status="online", connection="y", last_seen_at=now - AGO(seconds=5))
    _set(
        gone, status="offline", last_disconnected_at=now - AGO(minutes=10), last_seen_at=now - AGO(minutes=10)
    )
    _set(recent, status="offline", last_disconnected_at=now - AGO(seconds=30))
    services.device_disable(brand=brand, manager=brand_admin, actor=Actor.system(), device=disabled)
    _set(disabled, last_disconnected_at=now - AGO(hours=1))

    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.sweep.delay(brand.pk).get()
    assert result["offline"] == 1 and result["alerted"] == 1
    with brand_scope(brand):
        states = {d.name: d for d in Device.objects.all()}
    assert states["沉默的"].status == "offline" and states["沉默的"].connection == ""
    assert states["沉默的"].last_disconnected_at >= now and states["沉默的"].offline_alerted_at is None
    assert states["在线的"].status == "online"
    assert states["离线很久"].offline_alerted_at is not None
    assert states["刚离线"].offline_alerted_at is None
    assert states["停用的"].offline_alerted_at is None

    with django_capture_on_commit_callbacks(execute=True):
        again = tasks.sweep.delay(brand.pk).get()
    assert again["offline"] == 0 and again["alerted"] == 0  # each device is reported once


def test_spent_tickets_and_pairing_codes_go_after_a_day(brand, brand_admin, store):
    device, secret = make_device(brand, brand_admin, store)
    for _ in range(3):
        services.ticket_issue(device_uid=str(device.uid), secret=secret)
    fresh_code = services.pairing_code_issue(
        brand=brand, manager=brand_admin, actor=Actor.system(), device=device
    )
    assert fresh_code
    now = timezone.now()
    with brand_scope(brand):
        tickets = list(DeviceTicket.objects.order_by("pk").values_list("pk", flat=True))
        DeviceTicket.objects.filter(pk__in=tickets[:2]).update(expires_at=now - AGO(days=2))
        codes = list(PairingCode.objects.order_by("created_at", "pk"))
        assert len(codes) == 2 and codes[0].used_at is not None and codes[1].used_at is None
        PairingCode.objects.filter(pk=codes[0].pk).update(used_at=now - AGO(days=1, minutes=1))

    result = tasks.sweep.delay(brand.pk).get()
    assert result["tickets"] == 2 and result["pairing_codes"] == 1
    with brand_scope(brand):
        assert list(DeviceTicket.objects.values_list("pk", flat=True)) == tickets[2:]
        assert list(PairingCode.objects.values_list("pk", flat=True)) == [codes[1].pk]
        PairingCode.objects.filter(pk=codes[1].pk).update(expires_at=now - AGO(days=3))
    assert tasks.sweep.delay(brand.pk).get()["pairing_codes"] == 1  # expired, never used
    assert tasks.sweep.delay(brand.pk).get() == {"offline": 0, "alerted": 0, "tickets": 0, "pairing_codes": 0}


def test_minutely_sweeps_every_active_brand_and_no_other(brand, brand_admin, store, other_brand):
    suspended = BrandFactory(name="停业品牌", slug="closed", status=Brand.Status.SUSPENDED)
    old = timezone.now() - AGO(minutes=10)
    ours, _s = make_device(brand, brand_admin, store, name="本品牌")
    other_admin = StaffFactory(brand=other_brand, role="brand_admin")
    theirs, _s = make_device(other_brand, other_admin, StoreFactory(brand=other_brand), name="别的品牌")
    closed_admin = StaffFactory(brand=suspended, role="brand_admin")
    closed, _s = make_device(suspended, closed_admin, StoreFactory(brand=suspended), name="停业的")
    for d in (ours, theirs, closed):
        _set(d, status="online", connection="c", last_seen_at=old)

    tasks.minutely.delay()
    with rls_bypass(reason="test: read every brand's devices"):
        status = dict(Device.unscoped.values_list("name", "status"))
    assert status == {"本品牌": "offline", "别的品牌": "offline", "停业的": "online"}


def test_the_embedded_default_runs_the_sweep_every_minute(brand, brand_admin, store):
    entry = django_settings.CELERY_BEAT_SCHEDULE["devices-minutely"]
    assert entry == {"task": "devices.tasks.minutely", "schedule": 60.0}
    device, _s = make_device(brand, brand_admin, store)
    _set(device, status="online", connection="c", last_seen_at=timezone.now() - AGO(minutes=5))
    clock = {"now": timezone.now()}
    scheduler = Scheduler({"devices-minutely": entry}, app=app, clock=lambda: clock["now"])
    assert scheduler.tick() <= 60
    assert _set(device).status == "offline"
    _set(device, status="online", connection="c", last_seen_at=timezone.now() - AGO(minutes=5))
    clock["now"] += AGO(seconds=30)
    scheduler.tick()
    assert _set(device).status == "online"  # not due yet
    clock["now"] += AGO(seconds=31)
    scheduler.tick()
    assert _set(device).status == "offline"
