"""The devices REST API (read only, scope devices:read): lists with filters, one device, its events
and every device's events; staff sessions by role, partner tokens by scope; another brand's ids are
404, bad filter values 400 in the one error shape; list query counts do not grow with the rows."""

from __future__ import annotations

import datetime
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices import services
from devices.models import Device
from retail.events import Actor
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import StaffFactory, StoreFactory
from tests.helpers.api import api_error
from tests.helpers.auth import login_as
from tests.helpers.devices import make_device
from tests.helpers.partners import bearer, get_token, make_app

pytestmark = pytest.mark.django_db

LIST = "/api/v1/devices/"
ALL_EVENTS = "/api/v1/device-events/"
HIDDEN = {"secret_hash", "connection", "credential_version", "remote_ip", "offline_alerted_at"}


def _ms(moment: datetime.datetime) -> int:
    return int(moment.timestamp() * 1000)


def _events(device, *rows):
    """Store events ``(event_id, type, occurred_at)`` for ``device`` as it would."""
    return services.events_store(
        brand_id=device.brand_id,
        device_id=device.pk,
        skew_ms=0,
        events_in=[{"id": i, "type": t, "ts": _ms(at), "payload": {"staff": 1}} for i, t, at in rows],
    )


@pytest.fixture
def devices(brand, store, brand_admin):
    """Four devices of the brand: two paired in ``store`` (one online), one not paired and one
    disabled in a second store."""
    second = StoreFactory(brand=brand, code="SH002", name="徐家汇店")
    door, _s = make_device(brand, brand_admin, store, name="前门门禁", kind="door")
    clock, _s = make_device(brand, brand_admin, store, name="前台考勤机", kind="clock_in")
    fresh, _code = make_device(brand, brand_admin, second, name="仓库考勤机", kind="clock_in", pair=False)
    off, _s = make_device(brand, brand_admin, second, name="后门门禁", kind="both")
    services.device_disable(brand=brand, manager=brand_admin, actor=Actor.system(), device=off)
    with brand_scope(brand):
        Device.objects.filter(pk=clock.pk).update(
            status=Device.Status.ONLINE, location="收银台旁", clock_skew_ms=-120
        )
    return {"door": door, "clock": clock, "fresh": fresh, "off": off, "second": second}


def _names(resp) -> list[str]:
    assert resp.status_code == 200, resp.content
    return sorted(d["name"] for d in resp.json()["results"])


def test_brand_admin_lists_every_device_with_its_state(as_admin, devices, store):
    body = as_admin.get(LIST).json()
    assert body["count"] == 4 and {"next", "previous", "results"} <= set(body)
    by_name = {d["name"]: d for d in body["results"]}
    assert {n: d["state"] for n, d in by_name.items()} == {
        "前门门禁": "offline",
        "前台考勤机": "online",
        "仓库考勤机": "unpaired",
        "后门门禁": "disabled",
    }
    clock = by_name["前台考勤机"]
    assert clock["uid"] == str(devices["clock"].uid)
    assert clock["store"] == {"id": store.pk, "code": store.code, "name": store.name}
    assert clock["location"] == "收银台旁" and clock["clock_skew_ms"] == -120
    assert clock["config"]["door_open_seconds"] == 5 and clock["config_version"] == 1
    assert clock["paired"] is True and by_name["仓库考勤机"]["paired"] is False
    for d in body["results"]:
        assert not HIDDEN & set(d)


def test_filters(as_admin, devices, store):
    assert _names(as_admin.get(LIST, {"status": "online"})) == ["前台考勤机"]
    assert _names(as_admin.get(LIST, {"status": "offline"})) == ["前门门禁"]
    assert _names(as_admin.get(LIST, {"status": "unpaired"})) == ["仓库考勤机"]
    assert _names(as_admin.get(LIST, {"status": "disabled"})) == ["后门门禁"]
    assert _names(as_admin.get(LIST, {"store": store.pk})) == ["前台考勤机", "前门门禁"]
    assert _names(as_admin.get(LIST, {"kind": "door"})) == ["前门门禁"]
    assert _names(as_admin.get(LIST, {"q": "收银"})) == ["前台考勤机"]
    assert _names(as_admin.get(LIST, {"q": "门禁", "store": devices["second"].pk})) == ["后门门禁"]


@pytest.mark.parametrize(
    "name, value",
    [
        ("status", "broken"),
        ("kind", "camera"),
        ("store", "abc"),
        ("store", "0"),
        ("store", "9223372036854775808"),
        ("q", "x" * 101),
    ],
)
def test_a_bad_filter_is_a_400_in_the_error_shape(as_admin, devices, name, value):
    err = api_error(as_admin.get(LIST, {name: value}), 400, "invalid")
    assert set(err["fields"]) == {name}


def test_one_device(as_admin, devices):
    clock = devices["clock"]
    resp = as_admin.get(f"{LIST}{clock.pk}/")
    assert resp.status_code == 200, resp.content
    body = resp.json()
    assert body["id"] == clock.pk and body["uid"] == str(clock.uid) and body["kind"] == "clock_in"
    assert body["state"] == "online" and body["enabled"] is True
    assert {"app_version", "firmware_version", "last_seen_at", "last_connected_at"} <= set(body)
    assert not HIDDEN & set(body)
    api_error(as_admin.get(f"{LIST}999999999/"), 404, "not_found")


def test_store_managers_see_their_stores_devices_and_guides_none(client, brand, store, devices, guide):
    manager = StaffFactory(brand=brand, role=Staff.Role.STORE_MANAGER, stores=[store])
    login_as(client, manager)
    assert _names(client.get(LIST)) == ["前台考勤机", "前门门禁"]
    api_error(client.get(f"{LIST}{devices['fresh'].pk}/"), 404)
    api_error(client.get(f"{LIST}{devices['fresh'].pk}/events/"), 404)
    assert client.get(f"{LIST}{devices['door'].pk}/").status_code == 200
    _events(devices["fresh"], ("e1", "punch", timezone.now()))
    _events(devices["door"], ("e2", "door_opened", timezone.now()))
    assert [e["event_id"] for e in client.get(ALL_EVENTS).json()["results"]] == ["e2"]
    assert client.get(ALL_EVENTS, {"store": devices["second"].pk}).json()["count"] == 0
    assert client.get(ALL_EVENTS, {"device": devices["fresh"].pk}).json()["count"] == 0

    login_as(client, guide)
    for url in (LIST, f"{LIST}{devices['door'].pk}/", f"{LIST}{devices['door'].pk}/events/", ALL_EVENTS):
        api_error(client.get(url), 403, "permission_denied")


def test_another_brands_devices_are_not_found(as_admin, devices, other_brand, other_store, other_admin):
    theirs, _s = make_device(other_brand, other_admin, other_store, name="ZZ别家考勤机")
    _events(theirs, ("x1", "punch", timezone.now()))
    api_error(as_admin.get(f"{LIST}{theirs.pk}/"), 404, "not_found")
    api_error(as_admin.get(f"{LIST}{theirs.pk}/events/"), 404, "not_found")
    assert as_admin.get(LIST, {"store": other_store.pk}).json()["count"] == 0
    assert as_admin.get(ALL_EVENTS, {"device": theirs.pk}).json()["count"] == 0
    assert as_admin.get(ALL_EVENTS, {"store": other_store.pk}).json()["count"] == 0
    for url in (LIST, ALL_EVENTS):
        assert "ZZ别家" not in as_admin.get(url).content.decode()


def test_events_of_a_device_are_paged_and_filtered(as_admin, devices):
    door = devices["door"]
    now = timezone.now().replace(microsecond=0)
    rows = [
        (f"ev-{i}", "punch" if i % 2 else "door_opened", now - datetime.timedelta(minutes=i))
        for i in range(7)
    ]
    _events(door, *rows)
    _events(devices["clock"], ("other-1", "punch", now))
    url = f"{LIST}{door.pk}/events/"
    body = as_admin.get(url, {"page_size": 3}).json()
    assert body["count"] == 7 and body["next"]
    assert [e["event_id"] for e in body["results"]] == ["ev-0", "ev-1", "ev-2"]  # latest first
    first = body["results"][0]
    assert first["device"] == door.pk and first["device_uid"] == str(door.uid)
    assert first["type"] == "door_opened" and first["occurred_at"].endswith("Z")
    assert first["offline"] is False and first["payload"] == {"staff": 1}
    assert as_admin.get(url, {"type": "punch"}).json()["count"] == 3
    since = (now - datetime.timedelta(minutes=2)).isoformat()
    until = (now - datetime.timedelta(minutes=0, seconds=30)).isoformat()
    got = as_admin.get(url, {"since": since, "until": until}).json()["results"]
    assert [e["event_id"] for e in got] == ["ev-1", "ev-2"]
    assert as_admin.get(url, {"since": "2026-01-01T08:00:00+08:00"}).json()["count"] == 7
    assert as_admin.get(ALL_EVENTS).json()["count"] == 8
    assert as_admin.get(ALL_EVENTS, {"device": door.pk, "type": "door_opened"}).json()["count"] == 4


@pytest.mark.parametrize(
    "name, value",
    [
        ("type", "explosion"),
        ("since", "yesterday"),
        ("until", "2026-13-01T00:00:00Z"),
        ("since", "1999-12-31T23:00:00Z"),
        ("until", "2101-01-01T00:00:00Z"),
    ],
)
def test_bad_event_filters_are_400(as_admin, devices, name, value):
    for url in (f"{LIST}{devices['door'].pk}/events/", ALL_EVENTS):
        err = api_error(as_admin.get(url, {name: value}), 400, "invalid")
        assert set(err["fields"]) == {name}


@pytest.mark.parametrize("name, value", [("device", "-1"), ("store", "x")])
def test_bad_all_event_filters_are_400(as_admin, name, value):
    err = api_error(as_admin.get(ALL_EVENTS, {name: value}), 400, "invalid")
    assert set(err["fields"]) == {name}


def test_a_partner_reads_devices_with_the_scope_only(
    client, brand, brand_admin, devices, other_brand, other_admin, other_store
):
    app, secret = make_app(brand, brand_admin, scopes=["devices:read"])
    token = get_token(client, app, secret)
    body = client.get(LIST, **bearer(token)).json()
    assert body["count"] == 4  # a partner app reads with brand-admin visibility
    door = devices["door"]
    _events(door, ("p1", "punch", timezone.now()))
    assert client.get(f"{LIST}{door.pk}/", **bearer(token)).json()["uid"] == str(door.uid)
    assert client.get(f"{LIST}{door.pk}/events/", **bearer(token)).json()["count"] == 1
    assert client.get(ALL_EVENTS, {"type": "punch"}, **bearer(token)).json()["count"] == 1
    api_error(client.get(LIST, {"status": "gone"}, **bearer(token)), 400, "invalid")
    theirs, _s = make_device(other_brand, other_admin, other_store, name="别家门禁")
    api_error(client.get(f"{LIST}{theirs.pk}/", **bearer(token)), 404, "not_found")
    api_error(client.get(f"{LIST}{theirs.pk}/events/", **bearer(token)), 404, "not_found")

    other_app, other_secret = make_app(brand, brand_admin, scopes=["stores:read"], name="另一个应用")
    other_token = get_token(client, other_app, other_secret)
    for url in (LIST, f"{LIST}{door.pk}/", f"{LIST}{door.pk}/events/", ALL_EVENTS):
        api_error(client.get(url, **bearer(other_token)), 403, "insufficient_scope")


def test_the_api_is_read_only(as_admin, devices):
    door = devices["door"]
    for url in (LIST, f"{LIST}{door.pk}/", f"{LIST}{door.pk}/events/", ALL_EVENTS):
        for method in ("post", "patch", "put", "delete"):
            resp = getattr(as_admin, method)(url, {"name": "x"}, content_type="application/json")
            api_error(resp, 405, "method_not_allowed")


def test_list_query_counts_do_not_grow_with_rows(as_admin, brand, brand_admin, store, devices):
    door = devices["door"]
    now = timezone.now()
    _events(door, *[(f"a{i}", "punch", now - datetime.timedelta(seconds=i)) for i in range(3)])
    urls = [LIST, f"{LIST}{door.pk}/events/", ALL_EVENTS]
    small = {}
    for url in urls:
        with CaptureQueriesContext(connection) as q:
            assert as_admin.get(url, {"page_size": 200}).status_code == 200
        small[url] = len(q)
    for i in range(12):
        d, _s = make_device(brand, brand_admin, StoreFactory(brand=brand), name=f"考勤机{i}")
        _events(d, (f"b{i}", "punch", now))
    _events(door, *[(f"c{i}", "door_opened", now - datetime.timedelta(seconds=i)) for i in range(20)])
    for url in urls:
        with CaptureQueriesContext(connection) as q:
            assert len(as_admin.get(url, {"page_size": 200}).json()["results"]) > 3
        assert len(q) == small[url], (url, [x["sql"] for x in q.captured_queries])
        assert len(q) <= 12, url


def test_event_times_are_answered_in_utc(as_admin, devices):
    _events(devices["door"], ("t1", "punch", timezone.now()))
    event = as_admin.get(ALL_EVENTS).json()["results"][0]
    for field in ("device_time", "occurred_at", "received_at"):
        assert event[field].endswith("Z"), event
    occurred = datetime.datetime.fromisoformat(event["occurred_at"][:-1] + "+00:00")
    assert abs(occurred.timestamp() - time.time()) < 120
