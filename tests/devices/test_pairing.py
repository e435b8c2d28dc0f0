"""Registering, pairing and rotating devices; the device's own HTTPS calls (pair, ticket)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from devices import services
from devices.models import Device, PairingCode
from retail.events import Actor
from retail.models import AuditLog
from retail.tenancy import brand_scope
from tests.factories import StaffFactory, StoreFactory
from tests.helpers.devices import make_device

PAIR = "/api/v1/devices/pair/"
TICKET = "/api/v1/devices/ticket/"


@pytest.fixture
def api():
    return APIClient()


def _actions(brand) -> list[str]:
    with brand_scope(brand):
        return list(AuditLog.objects.for_brand(brand).order_by("id").values_list("action", flat=True))


def _reload(device) -> Device:
    with brand_scope(device.brand_id):
        return Device.objects.for_brand(device.brand_id).get(pk=device.pk)


@pytest.mark.django_db
def test_pairing_over_https_gives_the_secret_once(api, brand, brand_admin, store):
    device, code = make_device(brand, brand_admin, store, pair=False)
    assert _reload(device).status == Device.Status.UNPAIRED
    r = api.post(PAIR, {"code": f" {code[:4].lower()}-{code[4:]} ", "app_version": "2.1"}, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["device"] == str(device.uid) and len(body["secret"]) >= 40
    assert body["store"] == {"id": store.pk, "name": store.name}
    assert body["websocket"] == "/ws/device/" and body["protocol"] == 1
    assert "no-store" in r["Cache-Control"]
    row = _reload(device)
    assert row.status == Device.Status.OFFLINE and row.paired_at and row.app_version == "2.1"
    assert body["secret"] not in row.secret_hash and len(row.secret_hash) == 64  # kept as a digest only
    assert _actions(brand) == ["device.created", "device.pairing_code", "device.paired"]
    # The code is spent.
    again = api.post(PAIR, {"code": code}, format="json")
    assert again.status_code == 400 and again.json()["error"]["code"] == "invalid_code"


@pytest.mark.django_db
def test_an_expired_code_is_refused(api, brand, brand_admin, store):
    device, code = make_device(brand, brand_admin, store, pair=False)
    with brand_scope(brand):
        PairingCode.objects.for_brand(brand).update(expires_at=timezone.now() - timedelta(seconds=1))
    r = api.post(PAIR, {"code": code}, format="json")
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_code"
    assert _reload(device).status == Device.Status.UNPAIRED


@pytest.mark.django_db
def test_codes_are_valid_ten_minutes(brand, brand_admin, store):
    before = timezone.now()
    make_device(brand, brand_admin, store, pair=False)
    with brand_scope(brand):
        pairing = PairingCode.objects.for_brand(brand).get()
    assert timedelta(minutes=9, seconds=59) < pairing.expires_at - before <= timedelta(minutes=10, seconds=5)


@pytest.mark.django_db
def test_a_new_code_cancels_the_previous_one(api, brand, brand_admin, store):
    device, first = make_device(brand, brand_admin, store, pair=False)
    second = services.pairing_code_issue(
        brand=brand, manager=brand_admin, actor=Actor.system(), device=device
    )
    assert api.post(PAIR, {"code": first}, format="json").status_code == 400
    assert api.post(PAIR, {"code": second}, format="json").status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"code": ""},
        {"code": "ABCDEFGI"},  # I is not in the alphabet
        {"code": "ABCD-EFG"},
        {"code": "A" * 10_000},
        {"code": 12345678},
        {"code": None},
        {"code": ["ABCDEFGH"]},
        {"code": "ABCD\x00EFGH"},
        {},
        {"code": "HJKMNPQR"},  # well formed, issued to nobody
    ],
)
def test_bad_codes_get_a_clear_400(api, body, brand, brand_admin, store):
    make_device(brand, brand_admin, store, pair=False)
    r = api.post(PAIR, body, format="json")
    assert r.status_code == 400, r.content
    assert r.json()["error"]["code"] in ("invalid", "invalid_code")
    with brand_scope(brand):
        assert not Device.objects.for_brand(brand).exclude(secret_hash="").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("payload", [b"{not json", b"[]", b'"x"', b"\xff\xfe"])
def test_malformed_bodies_get_a_400(api, payload):
    r = api.generic("POST", PAIR, payload, content_type="application/json")
    assert r.status_code == 400
    assert "error" in r.json()
    r = api.generic("POST", TICKET, payload, content_type="application/json")
    assert r.status_code == 400


@pytest.mark.django_db
def test_disabling_cancels_open_codes(api, brand, brand_admin, store):
    device, code = make_device(brand, brand_admin, store, pair=False)
    services.device_disable(brand=brand, manager=brand_admin, actor=Actor.system(), device=device)
    assert api.post(PAIR, {"code": code}, format="json").status_code == 400
    with pytest.raises(ValidationError):
        services.pairing_code_issue(brand=brand, manager=brand_admin, actor=Actor.system(), device=device)


@pytest.mark.django_db
def test_tickets_need_the_current_secret(api, brand, brand_admin, store):
    device, secret = make_device(brand, brand_admin, store)
    ok = api.post(TICKET, {"device": str(device.uid), "secret": secret}, format="json")
    assert ok.status_code == 201 and ok.json()["expires_in"] == 60 and "no-store" in ok["Cache-Control"]
    for body in (
        {"device": str(device.uid), "secret": secret + "x"},
        {"device": "5b0c7a2e-1111-4222-8333-444455556666", "secret": secret},
        {"device": "not-a-uuid", "secret": secret},
        {"device": str(device.uid), "secret": ""},
    ):
        r = api.post(TICKET, body, format="json")
        assert r.status_code in (400, 401), body
    bad = api.post(TICKET, {"device": str(device.uid), "secret": "wrong"}, format="json")
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_credentials"
    services.device_rotate(brand=brand, manager=brand_admin, actor=Actor.system(), device=device)
    assert api.post(TICKET, {"device": str(device.uid), "secret": secret}, format="json").status_code == 401


@pytest.mark.django_db
def test_rotation_needs_a_new_pairing_and_is_audited(api, brand, brand_admin, store):
    device, secret = make_device(brand, brand_admin, store)
    code = services.device_rotate(brand=brand, manager=brand_admin, actor=Actor.system(), device=device)
    row = _reload(device)
    assert row.status == Device.Status.UNPAIRED and row.secret_hash == ""
    r = api.post(PAIR, {"code": code}, format="json")
    assert r.status_code == 201 and r.json()["secret"] != secret
    assert _reload(device).credential_version == 3  # paired, rotated, paired again
    assert _actions(brand) == [
        "device.created",
        "device.pairing_code",
        "device.paired",
        "device.rotated",
        "device.paired",
    ]


@pytest.mark.django_db
def test_device_calls_are_throttled_per_address(api, settings):
    for _ in range(30):
        api.post(PAIR, {"code": "HJKMNPQR"}, format="json")
    r = api.post(PAIR, {"code": "HJKMNPQR"}, format="json")
    assert r.status_code == 429 and r.json()["error"]["code"] == "throttled"


@pytest.mark.django_db
def test_store_managers_manage_devices_of_their_own_stores_only(brand, store, brand_admin):
    other = StoreFactory(brand=brand)
    manager = StaffFactory(brand=brand, role="store_manager", stores=[store])
    device, _ = services.device_create(
        brand=brand, manager=manager, actor=Actor.system(), store=store, data={"name": "门禁"}
    )
    with pytest.raises(PermissionDenied):
        services.device_create(
            brand=brand, manager=manager, actor=Actor.system(), store=other, data={"name": "x"}
        )
    theirs, _ = services.device_create(
        brand=brand, manager=brand_admin, actor=Actor.system(), store=other, data={"name": "x"}
    )
    for action in (services.device_disable, services.device_rotate, services.pairing_code_issue):
        with pytest.raises(PermissionDenied):
            action(brand=brand, manager=manager, actor=Actor.system(), device=theirs)
    guide = StaffFactory(brand=brand, role="guide", stores=[store])
    with pytest.raises(PermissionDenied):
        services.device_disable(brand=brand, manager=guide, actor=Actor.system(), device=device)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        {"name": ""},
        {"name": "x" * 65},
        {"name": "ok", "kind": "teleporter"},
        {"name": "ok", "config": {"volume": 101}},
        {"name": "ok", "config": {"door_open_seconds": 0}},
        {"name": "ok", "config": {"door_open_seconds": True}},
        {"name": "ok", "config": {"language": "fr"}},
        {"name": "ok", "config": {"colour": "red"}},
        {"name": "ok", "config": {"door_windows": [{"days": [8], "start": "09:00", "end": "18:00"}]}},
        {"name": "ok", "config": {"door_windows": [{"days": [1], "start": "18:00", "end": "09:00"}]}},
        {"name": "ok", "config": {"door_windows": "always"}},
    ],
)
def test_bad_device_data_is_refused_and_nothing_is_written(brand, brand_admin, store, data):
    with pytest.raises(ValidationError):
        services.device_create(brand=brand, manager=brand_admin, actor=Actor.system(), store=store, data=data)
    with brand_scope(brand):
        assert not Device.objects.for_brand(brand).exists()
        assert not PairingCode.objects.for_brand(brand).exists()


@pytest.mark.django_db
def test_names_are_unique_per_store(brand, brand_admin, store):
    make_device(brand, brand_admin, store, name="前台", pair=False)
    with pytest.raises(ValidationError) as err:
        make_device(brand, brand_admin, store, name="前台", pair=False)
    assert "name" in err.value.message_dict


@pytest.mark.django_db
def test_door_windows_are_normalised(brand, brand_admin, store):
    device, _ = services.device_create(
        brand=brand,
        manager=brand_admin,
        actor=Actor.system(),
        store=store,
        data={
            "name": "门",
            "kind": "door",
            "config": {"door_windows": [{"days": [5, 1, 1], "start": "08:00", "end": "21:30"}]},
        },
    )
    assert device.config["door_windows"] == [{"days": [1, 5], "start": "08:00", "end": "21:30"}]


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_one_code_pairs_one_device_under_concurrency(brand, brand_admin, store, is_postgres):
    if not is_postgres:
        pytest.skip("real concurrent transactions need PostgreSQL")
    device, code = make_device(brand, brand_admin, store, pair=False)
    results: list[str] = []
    barrier = threading.Barrier(4)

    def attempt():
        try:
            barrier.wait()
            services.device_pair(code=code)
            results.append("paired")
        except ValidationError:
            results.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["paired", "refused", "refused", "refused"]
    assert _reload(device).credential_version == 1


@pytest.mark.django_db
def test_console_commands_are_audited_and_only_known_ones_go(brand, brand_admin, store):
    device, _ = make_device(brand, brand_admin, store)
    with brand_scope(brand):
        Device.objects.for_brand(brand).filter(pk=device.pk).update(connection="specific.test!live")
    command = services.device_command(
        brand=brand, manager=brand_admin, actor=Actor.system(), device=device, name="sync"
    )
    assert command.payload["staff_version"]
    assert _actions(brand)[-1] == "device.command"
    with pytest.raises(ValidationError):
        services.device_command(
            brand=brand, manager=brand_admin, actor=Actor.system(), device=device, name="open_door"
        )
