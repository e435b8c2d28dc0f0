"""Members REST API: create/look up by any identity, update, tags, points with idempotency keys,
member-code resolve; roles, other brands, bad input."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from members import codes, services
from members.models import Member, PointsEntry
from retail.events import Actor
from retail.tenancy import TenancyError, brand_scope
from tests.factories import MemberFactory, StaffFactory
from tests.helpers.api import api_error, send_json
from tests.helpers.auth import login_as

pytestmark = pytest.mark.django_db
SYS = Actor.system()


def _balance(member):
    with brand_scope(member.brand_id):
        return Member.objects.get(pk=member.pk).points_balance


def test_create_then_find_by_any_identity(as_admin, brand):
    resp = as_admin.post(
        "/api/v1/members/",
        {
            "identities": [
                {"kind": "phone", "value": "+86 137 1234 5678"},
                {"kind": "card", "value": "vip 88"},
            ],
            "name": "李雷",
            "consent": True,
        },
        content_type="application/json",
    )
    assert resp.status_code == 201, resp.content
    mid = resp.json()["id"]
    assert resp.json()["created"] is True
    for kind, value in [("phone", "13712345678"), ("card", "VIP88"), ("phone", "+8613712345678")]:
        r = as_admin.get("/api/v1/members/lookup/", {"kind": kind, "value": value})
        assert r.status_code == 200 and r.json()["id"] == mid
    api_error(as_admin.get("/api/v1/members/lookup/", {"kind": "shop", "value": "nobody"}), 404)
    api_error(as_admin.get("/api/v1/members/lookup/", {"kind": "phone", "value": "12"}), 400)
    api_error(as_admin.get("/api/v1/members/lookup/", {"kind": "ssn", "value": "1"}), 400)


def test_create_with_known_identity_returns_the_existing_member(as_admin, member):
    resp = as_admin.post(
        "/api/v1/members/",
        {"identities": [{"kind": "phone", "value": "13711112222"}, {"kind": "shop", "value": "tb_z"}]},
        content_type="application/json",
    )
    assert resp.status_code == 200 and resp.json()["id"] == member.pk and resp.json()["created"] is False
    assert {i["kind"] for i in resp.json()["identities"]} == {"phone", "shop"}


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"identities": []},
        {"identities": [{"kind": "phone", "value": "123"}]},
        {"identities": [{"kind": "bogus", "value": "x"}]},
        {"identities": [{"kind": "card", "value": "bad value!!"}]},
        {"identities": "13711112222"},
        {"identities": [{"kind": "phone", "value": "13700000001"}], "guide_id": "x"},
    ],
)
def test_create_bad_input_changes_nothing(as_admin, brand, payload):
    assert as_admin.post("/api/v1/members/", payload, content_type="application/json").status_code == 400
    with brand_scope(brand):
        assert Member.objects.count() == 0


def test_other_brand_members_are_invisible(as_admin, other_member):
    api_error(as_admin.get(f"/api/v1/members/{other_member.pk}/"), 404)
    api_error(as_admin.get("/api/v1/members/lookup/", {"kind": "phone", "value": "13711112222"}), 404)
    api_error(
        send_json(as_admin, f"/api/v1/members/{other_member.pk}/points/earn/", {"points": 5}, "k1"), 404
    )
    api_error(
        as_admin.patch(f"/api/v1/members/{other_member.pk}/", {"name": "x"}, content_type="application/json"),
        404,
    )
    assert as_admin.get("/api/v1/members/").json()["count"] == 0
    assert _balance(other_member) == 0


def test_guide_sees_own_members_but_can_identify_anyone_at_checkout(client, brand, guide, store_manager):
    mine = services.member_join(brand=brand, phone="13700000001", guide=guide, consent=False).member
    theirs = MemberFactory(brand=brand, phone="13700000002")
    login_as(client, guide)
    assert [m["id"] for m in client.get("/api/v1/members/").json()["results"]] == [mine.pk]
    api_error(client.get(f"/api/v1/members/{theirs.pk}/"), 404)
    found = client.get("/api/v1/members/lookup/", {"kind": "phone", "value": "13700000002"}).json()
    assert found["id"] == theirs.pk and found["identities"][0]["value"] == "137****0002"  # masked for guides


def test_filters(as_admin, brand, guide, brand_admin):
    vip = services.tag_create(brand=brand, manager=brand_admin, actor=SYS, name="VIP")
    a = services.member_join(brand=brand, phone="13700000001", guide=guide, consent=False).member
    MemberFactory(brand=brand, phone="13700000002", name="王五")
    services.member_tags_change(brand=brand, staff=brand_admin, actor=SYS, member=a, add=[vip.pk])
    assert [m["id"] for m in as_admin.get(f"/api/v1/members/?tag={vip.pk}").json()["results"]] == [a.pk]
    assert [m["id"] for m in as_admin.get(f"/api/v1/members/?guide={guide.pk}").json()["results"]] == [a.pk]
    assert as_admin.get("/api/v1/members/?q=王五").json()["count"] == 1
    assert as_admin.get("/api/v1/members/?q=0002").json()["count"] == 1
    api_error(as_admin.get("/api/v1/members/?joined_from=yesterday"), 400)
    api_error(as_admin.get("/api/v1/members/?tag=abc"), 400)


def test_member_list_query_count_is_constant(as_admin, brand, brand_admin, guide):
    vip = services.tag_create(brand=brand, manager=brand_admin, actor=SYS, name="VIP")

    def make(n, start):
        for i in range(n):
            m = services.member_join(
                brand=brand, phone=f"1370000{start + i:04d}", guide=guide, consent=True
            ).member
            services.member_identity_add(
                brand=brand, member=m, kind="card", value=f"C{start + i}", verified=False, actor=SYS
            )
            services.member_tags_change(brand=brand, staff=brand_admin, actor=SYS, member=m, add=[vip.pk])

    make(3, 0)
    with CaptureQueriesContext(connection) as small:
        as_admin.get("/api/v1/members/?page_size=200")
    make(20, 100)
    with CaptureQueriesContext(connection) as big:
        assert len(as_admin.get("/api/v1/members/?page_size=200").json()["results"]) == 23
    assert len(big) == len(small)


def test_update_member(as_admin, member):
    r = as_admin.patch(
        f"/api/v1/members/{member.pk}/",
        {"name": "张三丰", "gender": "m", "birthday": "1990-05-01"},
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["name"] == "张三丰" and r.json()["birthday"] == "1990-05-01"
    api_error(
        as_admin.patch(f"/api/v1/members/{member.pk}/", {"gender": "x"}, content_type="application/json"), 400
    )
    api_error(
        as_admin.patch(
            f"/api/v1/members/{member.pk}/", {"birthday": "1990-13-01"}, content_type="application/json"
        ),
        400,
    )


def test_identity_add_merges_on_verified_payment_account(as_admin, brand, member):
    online, _ = services.member_create(
        brand=brand, actor=SYS, identities=[("payment", "2088xx")], verified=True
    )
    services.points_earn(brand=brand, member=online, points=40, source="s1")
    r = as_admin.post(
        f"/api/v1/members/{member.pk}/identities/",
        {"kind": "payment", "value": "2088xx", "verified": True},
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["merged"] is True
    assert r.json()["member"]["points_balance"] == 40
    # The absorbed record now answers with the survivor.
    assert (
        as_admin.get("/api/v1/members/lookup/", {"kind": "payment", "value": "2088xx"}).json()["id"]
        == member.pk
    )


def test_tags_api(as_admin, brand, brand_admin, member, other_brand):
    vip = services.tag_create(brand=brand, manager=brand_admin, actor=SYS, name="VIP")
    r = as_admin.post(
        f"/api/v1/members/{member.pk}/tags/", {"add": [vip.pk]}, content_type="application/json"
    )
    assert [t["name"] for t in r.json()] == ["VIP"]
    other_admin = StaffFactory(brand=other_brand, role="brand_admin")
    foreign = services.tag_create(brand=other_brand, manager=other_admin, actor=SYS, name="别家")
    api_error(
        as_admin.post(
            f"/api/v1/members/{member.pk}/tags/", {"add": [foreign.pk]}, content_type="application/json"
        ),
        400,
    )
    assert [t["name"] for t in as_admin.get("/api/v1/tags/").json()] == ["VIP"]


# --- points -----------------------------------------------------------------------------------------


def test_points_need_an_idempotency_key(as_admin, member):
    err = api_error(send_json(as_admin, f"/api/v1/members/{member.pk}/points/earn/", {"points": 10}), 400)
    assert "Idempotency-Key" in err["fields"]
    assert _balance(member) == 0


def test_points_replay_returns_first_result_and_other_body_is_refused(as_admin, member):
    url = f"/api/v1/members/{member.pk}/points/earn/"
    first = send_json(as_admin, url, {"points": 10, "spend_fen": 1000}, "order-1")
    assert first.status_code == 201
    again = send_json(as_admin, url, {"points": 10, "spend_fen": 1000}, "order-1")
    assert (
        again.status_code == 200 and again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    )
    api_error(
        send_json(as_admin, url, {"points": 11, "spend_fen": 1000}, "order-1"), 409, "idempotency_conflict"
    )
    api_error(
        send_json(as_admin, f"/api/v1/members/{member.pk}/points/redeem/", {"points": 10}, "order-1"), 409
    )
    assert _balance(member) == 10


def test_redeem_more_than_balance_is_refused(as_admin, member):
    send_json(as_admin, f"/api/v1/members/{member.pk}/points/earn/", {"points": 10}, "e1")
    err = api_error(
        send_json(as_admin, f"/api/v1/members/{member.pk}/points/redeem/", {"points": 11}, "r1"),
        400,
        "insufficient_points",
    )
    assert "points" in err["fields"]
    assert (
        send_json(as_admin, f"/api/v1/members/{member.pk}/points/redeem/", {"points": 10}, "r2").status_code
        == 201
    )
    assert _balance(member) == 0


@pytest.mark.parametrize(
    "payload",
    [
        {"points": 0},
        {"points": -1},
        {"points": "many"},
        {"points": 1.5},
        {"points": 10**9},
        {},
        {"points": 5, "spend_fen": -1},
    ],
)
def test_points_bad_input(as_admin, member, payload):
    api_error(
        send_json(as_admin, f"/api/v1/members/{member.pk}/points/earn/", payload, str(uuid.uuid4())), 400
    )
    assert _balance(member) == 0


def test_guides_cannot_move_points_through_the_api(client, brand, guide):
    m = services.member_join(brand=brand, phone="13700000001", guide=guide, consent=False).member
    login_as(client, guide)
    api_error(send_json(client, f"/api/v1/members/{m.pk}/points/earn/", {"points": 10}, "g1"), 403)
    assert client.get(f"/api/v1/members/{m.pk}/points/").status_code == 200


def test_points_history(as_admin, member):
    for i in range(3):
        send_json(as_admin, f"/api/v1/members/{member.pk}/points/earn/", {"points": 10 + i}, f"h{i}")
    rows = as_admin.get(f"/api/v1/members/{member.pk}/points/").json()["results"]
    assert [r["amount"] for r in rows] == [12, 11, 10] and rows[0]["balance_after"] == 33


# --- member codes ---------------------------------------------------------------------------------


def test_member_code_resolves_within_its_brand_only(as_admin, brand, other_brand, member, other_member):
    code = codes.member_code_issue(brand_id=brand.pk, member_id=member.pk)
    r = as_admin.post("/api/v1/member-codes/resolve/", {"code": code}, content_type="application/json")
    assert r.status_code == 200 and r.json()["id"] == member.pk
    foreign = codes.member_code_issue(brand_id=other_brand.pk, member_id=other_member.pk)
    api_error(
        as_admin.post("/api/v1/member-codes/resolve/", {"code": foreign}, content_type="application/json"),
        400,
        "invalid_code",
    )


@pytest.mark.parametrize(
    "mangle",
    [
        lambda c: c[:-2] + "xx",
        lambda c: c.replace(".", ".9", 1),
        lambda c: "hello",
        lambda c: "1.1.aa~abc~def",
    ],
)
def test_forged_codes_are_refused(as_admin, brand, member, mangle):
    code = mangle(codes.member_code_issue(brand_id=brand.pk, member_id=member.pk))
    api_error(
        as_admin.post("/api/v1/member-codes/resolve/", {"code": code}, content_type="application/json"),
        400,
        "invalid_code",
    )


def test_expired_code_is_refused(as_admin, brand, member, monkeypatch):
    code = codes.member_code_issue(brand_id=brand.pk, member_id=member.pk)
    monkeypatch.setattr(codes, "CODE_MAX_AGE", -1)
    api_error(
        as_admin.post("/api/v1/member-codes/resolve/", {"code": code}, content_type="application/json"),
        400,
        "expired_code",
    )


def test_code_of_an_erased_member_is_refused(as_admin, brand, member):
    code = codes.member_code_issue(brand_id=brand.pk, member_id=member.pk)
    services.member_erase(brand=brand, member=member, actor=SYS, source="staff")
    api_error(
        as_admin.post("/api/v1/member-codes/resolve/", {"code": code}, content_type="application/json"), 404
    )


def test_points_ledger_rows_cannot_be_created_for_another_brand(brand, other_brand, other_member):
    # The application's wall refuses first (the database's row-level security would refuse too).
    with pytest.raises(TenancyError, match="written inside brand scope"), brand_scope(brand):
        PointsEntry.objects.create(
            brand=other_brand, member=other_member, kind="earn", amount=5, balance_after=5, source="x"
        )
