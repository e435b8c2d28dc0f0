"""A device that stays offline: the sweep reports it once (outbox device.offline), its store's
managers get an in-app notification and a push (the brand's admins when the store has no manager),
subscribed webhook endpoints a device.offline event; when it connects again, those told hear it is
back (device.online). Only the payload crosses from devices to guides."""

from __future__ import annotations

import datetime

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.utils import timezone, translation
from jsonschema import Draft202012Validator

from devices import tasks
from devices.models import Device
from guides.models import Notification
from guides.push import LogPush
from retail.events import Actor
from retail.models import Staff
from retail.tenancy import brand_scope, rls_bypass
from retail.webhooks import catalogue, recording
from retail.webhooks import services as webhook_services
from retail.webhooks.models import WebhookDelivery, WebhookEvent
from tests.factories import StaffFactory, StoreFactory
from tests.helpers.auth import login_as
from tests.helpers.devices import Device as DeviceSocket
from tests.helpers.devices import make_device
from tests.helpers.partners import make_app

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _recorded_not_sent(monkeypatch):
    monkeypatch.setattr(recording, "kick", lambda brand_id, endpoint_id: None)
    LogPush.outbox.clear()


def _connect_and_leave(device, secret):
    async def run():
        d = DeviceSocket(str(device.uid), secret)
        await d.connect()
        welcome = await d.hello()
        assert welcome["type"] == "welcome", welcome
        await d.comm.disconnect()

    async_to_sync(run)()


def _offline_for(device, seconds: int) -> None:
    with brand_scope(device.brand_id):
        Device.objects.filter(pk=device.pk).update(
            status=Device.Status.OFFLINE,
            last_disconnected_at=timezone.now() - datetime.timedelta(seconds=seconds),
        )


def _notes(brand, **filters) -> list[Notification]:
    with brand_scope(brand):
        return list(Notification.objects.filter(**filters).order_by("id"))


def _events(brand, type_: str) -> list[WebhookEvent]:
    with brand_scope(brand):
        return list(WebhookEvent.objects.filter(type=type_).order_by("created_at"))


def _valid(event: WebhookEvent) -> dict:
    Draft202012Validator(catalogue.get(event.type).schema).validate(event.data)
    return event.data


def test_an_offline_device_alerts_its_store_managers_and_webhooks_once_then_says_it_is_back(
    client, brand, brand_admin, store, store_manager, guide, other_brand
):
    store_manager.user.language = "en"
    store_manager.user.save(update_fields=["language"])
    other_manager = StaffFactory(
        brand=brand, role=Staff.Role.STORE_MANAGER, stores=[StoreFactory(brand=brand)]
    )
    app, _secret = make_app(brand, brand_admin, scopes=["webhooks:manage"])
    endpoint, _whsec = webhook_services.endpoint_create(
        brand=brand,
        actor=Actor.system(),
        app=app,
        url="http://127.0.0.1:9/hook",
        event_types=["device.offline", "device.online"],
    )
    device, secret = make_device(brand, brand_admin, store, name="前台考勤机")
    _connect_and_leave(device, secret)

    tasks.minutely.delay()  # offline, but not for long yet
    assert _notes(brand) == [] and _events(brand, "device.offline") == []

    _offline_for(device, settings.DEVICE_OFFLINE_ALERT_SECONDS + 5)
    tasks.minutely.delay()
    notes = _notes(brand)
    assert [(n.staff_id, n.kind) for n in notes] == [(store_manager.pk, "device_offline")]
    note = notes[0]
    assert note.data == {
        "device_id": device.pk,
        "device": "前台考勤机",
        "store_id": store.pk,
        "store": store.name,
    }
    with translation.override("zh-hans"):
        assert "前台考勤机" in note.message and store.name in note.message
        assert note.get_kind_display() == "设备离线"
    with translation.override("en"):
        assert note.message.startswith("前台考勤机 at ") and "offline" in note.message
    assert [(p["staff"], p["title"]) for p in LogPush.outbox] == [(store_manager.pk, "Device offline")]
    assert "前台考勤机" in LogPush.outbox[0]["body"] and "offline" in LogPush.outbox[0]["body"]

    (event,) = _events(brand, "device.offline")
    data = _valid(event)
    assert data["device_id"] == device.pk and data["uid"] == str(device.uid)
    assert data["store_id"] == store.pk and data["kind"] == "both" and data["name"] == "前台考勤机"
    assert data["offline_since"].endswith("Z") and data["last_seen_at"].endswith("Z")
    with brand_scope(brand):
        assert WebhookDelivery.objects.filter(event=event, endpoint=endpoint).count() == 1

    tasks.minutely.delay()  # told once
    assert len(_notes(brand)) == 1 and len(_events(brand, "device.offline")) == 1
    assert guide.pk not in {n.staff_id for n in _notes(brand)}
    assert other_manager.pk not in {n.staff_id for n in _notes(brand)}

    _connect_and_leave(device, secret)  # back: the manager who was told hears it
    back = _notes(brand, kind="device_online")
    assert [n.staff_id for n in back] == [store_manager.pk]
    with translation.override("zh-hans"):
        assert "前台考勤机" in back[0].message and "恢复在线" in back[0].message
    (online,) = _events(brand, "device.online")
    assert _valid(online)["online_since"].endswith("Z")
    assert LogPush.outbox[-1]["title"] == "Device back online"

    login_as(client, store_manager)  # the notices are on the manager's notifications page
    page = client.get("/m/notifications/")
    assert page.status_code == 200 and page.content.decode().count("前台考勤机") == 2

    with rls_bypass(reason="test: the other brand is untouched"):
        assert not Notification.unscoped.filter(brand=other_brand).exists()
        assert not WebhookEvent.unscoped.filter(brand=other_brand).exists()


def test_a_store_without_a_manager_alerts_the_brand_admins(brand, brand_admin, store, guide):
    second_admin = StaffFactory(brand=brand, role=Staff.Role.BRAND_ADMIN)
    StaffFactory(
        brand=brand, role=Staff.Role.BRAND_ADMIN, status=Staff.Status.LEFT, left_on=timezone.localdate()
    )
    device, secret = make_device(brand, brand_admin, store, name="后门门禁", kind="door")
    _connect_and_leave(device, secret)
    _offline_for(device, settings.DEVICE_OFFLINE_ALERT_SECONDS + 60)
    tasks.sweep.delay(brand.pk)
    notes = _notes(brand)
    assert sorted(n.staff_id for n in notes) == sorted([brand_admin.pk, second_admin.pk])
    assert {n.kind for n in notes} == {"device_offline"}
    with translation.override("zh-hans"):
        assert notes[0].message.startswith("南京西路店的后门门禁")


def test_the_notice_task_runs_once_per_change(brand, brand_admin, store, store_manager):
    """A rerun of the notice task (a retry, a duplicate message) tells nobody twice."""
    from guides import tasks as guide_tasks

    device, _secret = make_device(brand, brand_admin, store, name="前台考勤机")
    for _ in range(2):
        guide_tasks.device_status_notify.delay(brand.pk, device.pk, store.pk, device.name, False)
    assert [n.kind for n in _notes(brand)] == ["device_offline"]
    for _ in range(2):
        guide_tasks.device_status_notify.delay(brand.pk, device.pk, None, "", True)
    assert [n.kind for n in _notes(brand)] == ["device_offline", "device_online"]
    guide_tasks.device_status_notify.delay(brand.pk, 999999, None, "", True)  # never told: nothing
    assert len(_notes(brand)) == 2
