"""The attendance REST API: punches, day records, shifts and schedules read (attendance:read),
schedules set and cleared (attendance:write, idempotent); staff sessions by role, partner tokens by
scope; another brand's rows never answered and its ids refused; bad input 400 in the one error
shape; list query counts do not grow with the rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from attendance import records
from attendance.models import DayRecord, Schedule
from retail.events import Actor
from retail.models import AuditLog, Staff
from retail.tenancy import brand_scope
from tests.factories import StaffFactory, StoreFactory
from tests.helpers.api import api_error, send_json
from tests.helpers.auth import login_as
from tests.helpers.partners import bearer, get_token, make_app

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 3, 2)  # a Monday, long over when the tests run
PUNCHES = "/api/v1/attendance/punches/"
DAYS = "/api/v1/attendance/day-records/"
SHIFTS = "/api/v1/attendance/shifts/"
SCHEDULES = "/api/v1/attendance/schedules/"


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=SH).astimezone(UTC)


def _shift(brand, manager, store, name="早班", start="09:00", end="18:00"):
    return records.shift_create(
        brand=brand, manager=manager, actor=Actor.system(), store=store,
        data={"name": name, "start": start, "end": end},
    )  # fmt: skip


def _punch(brand, staff, store, when, source="kiosk_pin"):
    return records.punch_record(
        brand=brand, staff=staff, store=store, occurred_at=when, source=source, reason="忘带手机"
    )


@pytest.fixture
def world(brand, store, brand_admin, guide, other_brand, other_store, other_admin):
    """Two stores of the brand with a shift each, a person in each, a day of punches; and another
    brand with the same."""
    second = StoreFactory(brand=brand, code="SH002", name="徐家汇店")
    other_guide = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[second], name="赵敏")
    early = _shift(brand, brand_admin, store)
    late = _shift(brand, brand_admin, second, name="晚班", start="13:00", end="22:00")
    records.schedule_set(
        brand=brand, manager=brand_admin, actor=Actor.system(), store=store, staff=guide,
        days=[DAY], shift=early,
    )  # fmt: skip
    records.schedule_set(
        brand=brand, manager=brand_admin, actor=Actor.system(), store=second, staff=other_guide,
        days=[DAY], shift=late,
    )  # fmt: skip
    _punch(brand, guide, store, at(DAY, 9, 20))
    _punch(brand, guide, store, at(DAY, 18, 5))
    _punch(brand, other_guide, second, at(DAY, 12, 58))
    theirs = StaffFactory(brand=other_brand, role=Staff.Role.GUIDE, stores=[other_store], name="外人")
    their_shift = _shift(other_brand, other_admin, other_store)
    _punch(other_brand, theirs, other_store, at(DAY, 9, 0))
    return {
        "second": second,
        "other_guide": other_guide,
        "early": early,
        "late": late,
        "theirs": theirs,
        "their_shift": their_shift,
    }


def _results(resp) -> list[dict]:
    assert resp.status_code == 200, resp.content
    return resp.json()["results"]


def test_brand_admin_reads_punches_day_records_shifts_and_schedules(as_admin, world, guide, store):
    punches = _results(as_admin.get(PUNCHES))
    assert [(p["staff"]["name"], p["occurred_at"]) for p in punches] == [
        ("王芳", "2026-03-02T10:05:00Z"),
        ("赵敏", "2026-03-02T04:58:00Z"),
        ("王芳", "2026-03-02T01:20:00Z"),
    ]
    first = punches[0]
    assert first["store"] == {"id": store.pk, "code": "SH001", "name": "南京西路店"}
    assert first["source"] == "kiosk_pin" and first["reason"] == "忘带手机" and first["device"] is None
    assert not {"latitude", "longitude", "face_distance", "accuracy_m"} & set(first)

    days = _results(as_admin.get(DAYS))
    mine = next(d for d in days if d["staff"]["id"] == guide.pk)
    assert mine["date"] == "2026-03-02" and mine["status"] == "late" and mine["late_minutes"] == 20
    assert mine["shift"]["name"] == "早班" and mine["shift"]["start"] == "09:00:00"
    assert mine["first_in"] == "2026-03-02T01:20:00Z" and mine["last_out"] == "2026-03-02T10:05:00Z"
    other = next(d for d in days if d["staff"]["id"] == world["other_guide"].pk)
    assert other["status"] == "missing"

    shifts = _results(as_admin.get(SHIFTS))
    assert [(s["name"], s["store"]["code"], s["overnight"]) for s in shifts] == [
        ("早班", "SH001", False),
        ("晚班", "SH002", False),
    ]
    schedules = _results(as_admin.get(SCHEDULES))
    assert [(s["staff"]["name"], s["date"], s["shift"]["name"]) for s in schedules] == [
        ("王芳", "2026-03-02", "早班"),
        ("赵敏", "2026-03-02", "晚班"),
    ]


def test_filters(as_admin, world, guide, store):
    second = world["second"]
    assert len(_results(as_admin.get(PUNCHES, {"store": second.pk}))) == 1
    assert len(_results(as_admin.get(PUNCHES, {"staff": guide.pk}))) == 2
    assert len(_results(as_admin.get(PUNCHES, {"since": "2026-03-02T12:00:00+08:00"}))) == 2
    assert len(_results(as_admin.get(PUNCHES, {"until": "2026-03-02T12:00:00+08:00"}))) == 1
    assert len(_results(as_admin.get(PUNCHES, {"source": "phone_face"}))) == 0
    assert len(_results(as_admin.get(DAYS, {"status": "late"}))) == 1
    assert len(_results(as_admin.get(DAYS, {"date_from": "2026-03-03"}))) == 0
    assert len(_results(as_admin.get(DAYS, {"date_to": "2026-03-02", "store": store.pk}))) == 1
    assert len(_results(as_admin.get(SHIFTS, {"store": second.pk}))) == 1
    assert len(_results(as_admin.get(SHIFTS, {"active": "false"}))) == 0
    assert len(_results(as_admin.get(SCHEDULES, {"shift": world["late"].pk}))) == 1
    # Another brand's ids narrow to nothing: the brand's rows only.
    assert _results(as_admin.get(PUNCHES, {"staff": world["theirs"].pk})) == []
    assert _results(as_admin.get(SHIFTS, {"store": world["their_shift"].store_id})) == []


@pytest.mark.parametrize(
    ("url", "name", "value"),
    [
        (PUNCHES, "store", "abc"),
        (PUNCHES, "staff", "0"),
        (PUNCHES, "since", "yesterday"),
        (PUNCHES, "source", "telepathy"),
        (PUNCHES, "offline", "maybe"),
        (DAYS, "date_from", "2026-13-01"),
        (DAYS, "date_to", "1999-12-31"),
        (DAYS, "status", "asleep"),
        (SHIFTS, "active", "perhaps"),
        (SCHEDULES, "staff", str(2**63)),
    ],
)
def test_a_bad_filter_is_a_400_in_the_error_shape(as_admin, url, name, value):
    error = api_error(as_admin.get(url, {name: value}), 400, "invalid")
    assert name in error["fields"]


def test_another_brands_rows_are_never_answered(client, other_admin, world):
    login_as(client, other_admin)
    punches = _results(client.get(PUNCHES))
    assert [p["staff"]["name"] for p in punches] == ["外人"]
    assert [s["name"] for s in _results(client.get(SHIFTS))] == ["早班"]
    assert _results(client.get(SCHEDULES)) == []


def test_store_managers_see_their_stores_and_guides_nothing(client, brand, store, world, guide):
    manager = StaffFactory(brand=brand, role=Staff.Role.STORE_MANAGER, stores=[world["second"]])
    login_as(client, manager)
    assert [p["staff"]["name"] for p in _results(client.get(PUNCHES))] == ["赵敏"]
    assert [d["staff"]["name"] for d in _results(client.get(DAYS))] == ["赵敏"]
    assert [s["name"] for s in _results(client.get(SHIFTS))] == ["晚班"]
    assert _results(client.get(PUNCHES, {"store": store.pk})) == []
    # Writing in another store's schedule is refused.
    body = {"store": store.pk, "staff": guide.pk, "shift": world["early"].pk, "dates": ["2026-03-03"]}
    api_error(send_json(client, SCHEDULES, body), 403)
    login_as(client, guide)
    for url in (PUNCHES, DAYS, SHIFTS, SCHEDULES):
        api_error(client.get(url), 403)
    api_error(send_json(client, SCHEDULES, body), 403)


def test_setting_a_schedule_is_idempotent_and_recomputes_the_day(as_admin, brand, world, guide, store):
    body = {
        "store": store.pk,
        "staff": guide.pk,
        "shift": world["early"].pk,
        "dates": ["2026-03-04", "2026-03-03"],
    }
    resp = send_json(as_admin, SCHEDULES, body)
    assert resp.status_code == 200, resp.content
    rows = resp.json()["schedules"]
    assert [(r["date"], r["shift"]["name"], r["staff"]["id"]) for r in rows] == [
        ("2026-03-03", "早班", guide.pk),
        ("2026-03-04", "早班", guide.pk),
    ]
    # The same request again changes nothing (the same rows, no new ones).
    again = send_json(as_admin, SCHEDULES, body).json()["schedules"]
    assert [r["id"] for r in again] == [r["id"] for r in rows]
    with brand_scope(brand):
        assert Schedule.objects.for_brand(brand).filter(staff=guide).count() == 3
        # Days long past with a shift and no punch are absent.
        assert DayRecord.objects.for_brand(brand).get(staff=guide, date=date(2026, 3, 3)).status == "absent"

    # With an Idempotency-Key a retry is answered the first answer, another body with it is a 409.
    late = {**body, "shift": world["early"].pk, "dates": ["2026-03-05"]}
    first = send_json(as_admin, SCHEDULES, late, key="plan-0305")
    replay = send_json(as_admin, SCHEDULES, late, key="plan-0305")
    assert first.status_code == replay.status_code == 200
    assert replay.json() == first.json() and replay["Idempotent-Replayed"] == "true"
    api_error(send_json(as_admin, SCHEDULES, {**late, "dates": ["2026-03-06"]}, key="plan-0305"), 409)
    with brand_scope(brand):
        assert not Schedule.objects.for_brand(brand).filter(staff=guide, date=date(2026, 3, 6)).exists()
        assert AuditLog.objects.for_brand(brand).filter(action="attendance.schedule").count() == 5


def test_setting_replaces_the_shift_of_a_scheduled_date(as_admin, brand, brand_admin, world, guide, store):
    night = _shift(brand, brand_admin, store, name="夜班", start="22:00", end="06:00")
    body = {"store": store.pk, "staff": guide.pk, "shift": night.pk, "dates": [DAY.isoformat()]}
    rows = send_json(as_admin, SCHEDULES, body).json()["schedules"]
    assert rows[0]["shift"]["name"] == "夜班"
    with brand_scope(brand):
        assert Schedule.objects.for_brand(brand).get(staff=guide, date=DAY).shift_id == night.pk
    shifts = {s["name"]: s for s in _results(as_admin.get(SHIFTS))}
    assert shifts["夜班"]["overnight"] is True


def test_clearing_a_schedule(as_admin, brand, world, guide, store):
    url = f"{SCHEDULES}?store={store.pk}&staff={guide.pk}&date_from=2026-03-01&date_to=2026-03-07"
    resp = as_admin.delete(url)
    assert resp.status_code == 200 and resp.json() == {"removed": 1}
    assert as_admin.delete(url).json() == {"removed": 0}  # again: nothing more
    with brand_scope(brand):
        assert not Schedule.objects.for_brand(brand).filter(staff=guide).exists()
        # The day keeps its punches, now without a shift.
        assert DayRecord.objects.for_brand(brand).get(staff=guide, date=DAY).status == "unscheduled"
    (day,) = _results(as_admin.get(DAYS, {"staff": guide.pk}))
    assert day["status"] == "unscheduled" and day["shift"] is None
    # The range: at most 62 days, not backwards, dates required.
    bad = f"{SCHEDULES}?store={store.pk}&staff={guide.pk}&date_from=2026-03-01&date_to=2026-05-02"
    assert "date_to" in api_error(as_admin.delete(bad), 400, "invalid")["fields"]
    back = f"{SCHEDULES}?store={store.pk}&staff={guide.pk}&date_from=2026-03-02&date_to=2026-03-01"
    assert "date_to" in api_error(as_admin.delete(back), 400, "invalid")["fields"]
    assert "date_from" in api_error(as_admin.delete(f"{SCHEDULES}?store={store.pk}"), 400)["fields"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"dates": []}, "dates"),
        ({"dates": ["2026-02-30"]}, "dates.0"),
        ({"dates": [f"2026-01-{d:02d}" for d in range(1, 32)] * 3}, "dates"),
        ({"store": "SH001"}, "store"),
        ({"staff": None}, "staff"),
        ({"shift": 0}, "shift"),
    ],
)
def test_bad_schedule_input_is_a_400(as_admin, world, guide, store, change, field):
    body = {"store": store.pk, "staff": guide.pk, "shift": world["early"].pk, "dates": ["2026-03-03"]}
    error = api_error(send_json(as_admin, SCHEDULES, {**body, **change}), 400)
    assert field in error["fields"], error


def test_another_brands_ids_and_mismatched_rows_are_refused(as_admin, brand, world, guide, store):
    body = {"store": store.pk, "staff": guide.pk, "shift": world["early"].pk, "dates": ["2026-03-03"]}
    for change, field in (
        ({"staff": world["theirs"].pk}, "staff"),
        ({"store": world["their_shift"].store_id}, "store"),
        ({"shift": world["their_shift"].pk}, "shift"),
        ({"shift": world["late"].pk}, "shift"),  # the other store's shift
        ({"staff": world["other_guide"].pk}, "staff"),  # does not work in this store
    ):
        error = api_error(send_json(as_admin, SCHEDULES, {**body, **change}), 400)
        assert field in error["fields"], (change, error)
    who = world["theirs"].pk
    theirs = f"{SCHEDULES}?store={store.pk}&staff={who}&date_from=2026-03-01&date_to=2026-03-02"
    assert "staff" in api_error(as_admin.delete(theirs), 400)["fields"]
    with brand_scope(brand):
        assert Schedule.objects.for_brand(brand).count() == 2


def test_a_partner_reads_with_attendance_read_and_writes_with_attendance_write(
    client, brand, brand_admin, world, guide, store
):
    app, secret = make_app(brand, brand_admin, scopes=["attendance:read"])
    token = get_token(client, app, secret)
    assert len(client.get(PUNCHES, **bearer(token)).json()["results"]) == 3  # brand-admin visibility
    for url in (DAYS, SHIFTS, SCHEDULES):
        assert client.get(url, **bearer(token)).status_code == 200
    body = {"store": store.pk, "staff": guide.pk, "shift": world["early"].pk, "dates": ["2026-03-03"]}
    denied = client.post(SCHEDULES, body, content_type="application/json", **bearer(token))
    api_error(denied, 403, "insufficient_scope")
    api_error(client.delete(f"{SCHEDULES}?store=1", **bearer(token)), 403, "insufficient_scope")

    writer, writer_secret = make_app(
        brand, brand_admin, scopes=["attendance:read", "attendance:write"], name="排班系统"
    )
    wtoken = get_token(client, writer, writer_secret)
    headers = {**bearer(wtoken), "HTTP_IDEMPOTENCY_KEY": "roster-1"}
    first = client.post(SCHEDULES, body, content_type="application/json", **headers)
    again = client.post(SCHEDULES, body, content_type="application/json", **headers)
    assert first.status_code == again.status_code == 200, first.content
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    url = f"{SCHEDULES}?store={store.pk}&staff={guide.pk}&date_from=2026-03-03&date_to=2026-03-03"
    assert client.delete(url, **bearer(wtoken)).json() == {"removed": 1}

    other_app, other_secret = make_app(brand, brand_admin, scopes=["stores:read"], name="另一个应用")
    other = get_token(client, other_app, other_secret)
    for url in (PUNCHES, DAYS, SHIFTS, SCHEDULES):
        api_error(client.get(url, **bearer(other)), 403, "insufficient_scope")


def test_list_query_counts_do_not_grow_with_rows(as_admin, brand, brand_admin, world, guide, store):
    def counts():
        out = {}
        for url in (PUNCHES, DAYS, SHIFTS, SCHEDULES):
            with CaptureQueriesContext(connection) as ctx:
                assert as_admin.get(url).status_code == 200
            out[url] = len(ctx.captured_queries)
        return out

    before = counts()
    extra = [StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store]) for _ in range(4)]
    shift = _shift(brand, brand_admin, store, name="中班", start="11:00", end="20:00")
    for person in extra:
        records.schedule_set(
            brand=brand, manager=brand_admin, actor=Actor.system(), store=store, staff=person,
            days=[DAY], shift=shift,
        )  # fmt: skip
        _punch(brand, person, store, at(DAY, 11, 0))
    assert counts() == before


def test_a_recorded_punch_is_a_punch_recorded_webhook(brand, brand_admin, store, guide, monkeypatch):
    from jsonschema import Draft202012Validator

    from retail.webhooks import catalogue, recording
    from retail.webhooks import services as webhook_services
    from retail.webhooks.models import WebhookDelivery, WebhookEvent

    monkeypatch.setattr(recording, "kick", lambda brand_id, endpoint_id: None)
    app, _secret = make_app(brand, brand_admin, scopes=["webhooks:manage"])
    endpoint, _whsec = webhook_services.endpoint_create(
        brand=brand,
        actor=Actor.system(),
        app=app,
        url="http://127.0.0.1:9/hook",
        event_types=["punch.recorded"],
    )
    punch = _punch(brand, guide, store, at(DAY, 9, 1), source="phone_pin")
    with brand_scope(brand):
        (event,) = WebhookEvent.objects.filter(type="punch.recorded")
        assert WebhookDelivery.objects.filter(event=event, endpoint=endpoint).count() == 1
    Draft202012Validator(catalogue.get("punch.recorded").schema).validate(event.data)
    assert event.data == {
        "punch_id": punch.pk,
        "staff_id": guide.pk,
        "employee_no": guide.employee_no,
        "store_id": store.pk,
        "device_id": None,
        "source": "phone_pin",
        "occurred_at": "2026-03-02T01:01:00Z",
        "received_at": event.data["received_at"],
        "offline": False,
        "face_checked": False,
    }
    assert not {"latitude", "longitude", "face_distance"} & set(event.data)
