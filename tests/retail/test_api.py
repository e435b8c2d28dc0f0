"""REST API: stores and staff, roles, error shape, pagination, filters, bad input."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from retail.models import AuditLog, Staff, Store
from retail.tenancy import brand_scope
from tests.factories import StaffFactory, StoreFactory
from tests.helpers.api import api_error
from tests.helpers.auth import login_as

pytestmark = pytest.mark.django_db


def _count(brand, model):
    with brand_scope(brand):
        return model.objects.count()


def test_anonymous_gets_401_in_the_error_shape(client):
    api_error(client.get("/api/v1/stores/"), 403, "not_authenticated")


def test_logged_in_without_brand_gets_no_brand(client, guide):
    client.force_login(guide.user, backend="retail.auth_backends.PhoneOrUsernameBackend")
    api_error(client.get("/api/v1/stores/"), 403, "no_brand")


def test_unknown_api_url_is_json_404(as_admin):
    api_error(as_admin.get("/api/v1/nope/"), 404, "not_found")


def test_store_list_and_filters(as_admin, brand, store, other_store):
    StoreFactory(brand=brand, code="BJ001", name="北京三里屯店", status=Store.Status.CLOSED)
    data = as_admin.get("/api/v1/stores/").json()
    assert data["count"] == 2 and {s["code"] for s in data["results"]} == {"SH001", "BJ001"}
    assert as_admin.get("/api/v1/stores/?q=三里屯").json()["count"] == 1
    assert as_admin.get("/api/v1/stores/?status=closed").json()["count"] == 1
    api_error(as_admin.get("/api/v1/stores/?status=bogus"), 400, "invalid")


def test_store_create_validates_and_audits(as_admin, brand, brand_admin):
    payload = {
        "code": "GZ001",
        "name": "广州天河店",
        "address": "广州市天河路208号",
        "latitude": "23.132000",
        "longitude": "113.327000",
        "timezone": "Asia/Shanghai",
        "opens_at": "09:30",
        "closes_at": "21:30",
    }
    resp = as_admin.post("/api/v1/stores/", payload, content_type="application/json")
    assert resp.status_code == 201, resp.content
    assert resp.json()["code"] == "GZ001"
    with brand_scope(brand):
        store = Store.objects.get(code="GZ001")
        assert AuditLog.objects.filter(
            action="store.created", target_id=str(store.pk), actor=brand_admin.user
        ).exists()
    # Duplicate code in the same brand: a field error, nothing created.
    err = api_error(
        as_admin.post("/api/v1/stores/", payload, content_type="application/json"), 400, "invalid"
    )
    assert "code" in err["fields"]
    assert _count(brand, Store) == 1


def test_store_code_may_repeat_across_brands(as_admin, brand, other_store):
    resp = as_admin.post(
        "/api/v1/stores/",
        {"code": other_store.code, "name": "同码门店"},
        content_type="application/json",
    )
    assert resp.status_code == 201


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"name": "无编码"}, "code"),
        ({"code": "bad code!", "name": "x"}, "code"),
        ({"code": "A1", "name": "x", "latitude": "91", "longitude": "10"}, "latitude"),
        ({"code": "A1", "name": "x", "latitude": "31.2"}, None),
        ({"code": "A1", "name": "x", "timezone": "Mars/Olympus"}, "timezone"),
        ({"code": "A1", "name": "x", "geofence_radius_m": "far"}, "geofence_radius_m"),
        ({"code": ["A1"], "name": {"x": 1}}, "code"),
    ],
)
def test_store_create_bad_input(as_admin, brand, payload, field):
    err = api_error(
        as_admin.post("/api/v1/stores/", payload, content_type="application/json"), 400, "invalid"
    )
    if field:
        assert field in err["fields"]
    assert _count(brand, Store) == 0


def test_malformed_json_and_wrong_content(as_admin, brand):
    api_error(
        as_admin.post("/api/v1/stores/", "{not json", content_type="application/json"),
        400,
        "parse_error",
    )
    api_error(as_admin.post("/api/v1/stores/", "[1, 2]", content_type="application/json"), 400, "invalid")
    assert _count(brand, Store) == 0


def test_oversized_body_is_refused(as_admin, brand):
    big = json.dumps({"code": "A1", "name": "x" * (11 * 1024 * 1024)})
    api_error(
        as_admin.post("/api/v1/stores/", big, content_type="application/json"),
        413,
        "payload_too_large",
    )
    medium = json.dumps({"code": "A1", "name": "x" * (2 * 1024 * 1024)})
    api_error(
        as_admin.post("/api/v1/stores/", medium, content_type="application/json"),
        413,
        "payload_too_large",
    )
    assert _count(brand, Store) == 0


def test_store_update_other_brand_is_404_and_unchanged(as_admin, other_brand, other_store):
    api_error(
        as_admin.patch(f"/api/v1/stores/{other_store.pk}/", {"name": "x"}, content_type="application/json"),
        404,
        "not_found",
    )
    with brand_scope(other_brand):
        assert Store.objects.get(pk=other_store.pk).name == "西湖店"


def test_guide_cannot_change_stores_and_sees_only_own(client, brand, guide, store):
    StoreFactory(brand=brand, code="ZZ9")
    login_as(client, guide)
    data = client.get("/api/v1/stores/").json()
    assert [s["code"] for s in data["results"]] == ["SH001"]
    api_error(
        client.post("/api/v1/stores/", {"code": "N1", "name": "n"}, content_type="application/json"),
        403,
    )
    api_error(
        client.patch(f"/api/v1/stores/{store.pk}/", {"name": "n"}, content_type="application/json"),
        403,
    )


def test_csrf_is_enforced_for_session_writes(brand_admin):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    login_as(c, brand_admin)
    resp = c.post("/api/v1/stores/", {"code": "C1", "name": "c"}, content_type="application/json")
    api_error(resp, 403, "permission_denied")


# --- staff --------------------------------------------------------------------------------


def test_staff_list_by_role(client, brand, brand_admin, store_manager, guide, store):
    other_store = StoreFactory(brand=brand, code="X2")
    far_guide = StaffFactory(brand=brand, stores=[other_store])
    login_as(client, brand_admin)
    ids = {s["id"] for s in client.get("/api/v1/staff/").json()["results"]}
    assert ids == {brand_admin.pk, store_manager.pk, guide.pk, far_guide.pk}
    login_as(client, store_manager)
    ids = {s["id"] for s in client.get("/api/v1/staff/").json()["results"]}
    assert ids == {store_manager.pk, guide.pk}
    login_as(client, guide)
    results = client.get("/api/v1/staff/").json()["results"]
    assert [s["id"] for s in results] == [guide.pk]
    api_error(client.get(f"/api/v1/staff/{store_manager.pk}/"), 404)


def test_staff_phone_masked_for_guides_in_full_for_managers(client, brand_admin, guide):
    login_as(client, brand_admin)
    assert client.get(f"/api/v1/staff/{guide.pk}/").json()["phone"] == guide.user.phone


def test_staff_filters_and_pagination(as_admin, brand, store):
    StaffFactory.create_batch(7, brand=brand, stores=[store], role=Staff.Role.GUIDE)
    StaffFactory(brand=brand, role=Staff.Role.STAFF, name="保洁阿姨", stores=[store])
    r = as_admin.get("/api/v1/staff/?role=guide&page_size=5").json()
    assert r["count"] == 7 and len(r["results"]) == 5 and r["next"]
    assert as_admin.get("/api/v1/staff/?q=保洁").json()["count"] == 1
    assert as_admin.get(f"/api/v1/staff/?store_id={store.pk}").json()["count"] == 8
    api_error(as_admin.get("/api/v1/staff/?role=king"), 400, "invalid")
    api_error(as_admin.get("/api/v1/staff/?store_id=abc"), 400, "invalid")
    api_error(as_admin.get("/api/v1/staff/?page=999"), 404)


def test_staff_list_query_count_is_constant(as_admin, brand, store):
    stores = [store, StoreFactory(brand=brand), StoreFactory(brand=brand)]
    StaffFactory.create_batch(5, brand=brand, stores=stores)
    with CaptureQueriesContext(connection) as small:
        assert as_admin.get("/api/v1/staff/?page_size=200").status_code == 200
    StaffFactory.create_batch(40, brand=brand, stores=stores)
    with CaptureQueriesContext(connection) as big:
        assert len(as_admin.get("/api/v1/staff/?page_size=200").json()["results"]) == 46
    assert len(big) == len(small), [q["sql"] for q in big.captured_queries]
    assert len(big) <= 12


def test_invite_staff_via_api(as_admin, brand, store):
    resp = as_admin.post(
        "/api/v1/staff/",
        {"name": "新导购", "phone": "+86 136 0000 1111", "role": "guide", "store_ids": [store.pk]},
        content_type="application/json",
    )
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["status"] == "invited" and body["phone"] == "13600001111"
    assert "/invite/yueyan/" in body["invite_link"]
    assert [s["code"] for s in body["stores"]] == ["SH001"]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"name": "a", "phone": "12345", "role": "guide"}, "phone"),
        ({"name": "a", "phone": "13600001111", "role": "emperor"}, "role"),
        ({"name": "", "phone": "13600001111", "role": "guide"}, "name"),
        ({"name": "a", "phone": "13600001111", "role": "guide", "store_ids": []}, "stores"),
        ({"name": "a", "phone": "13600001111", "role": "guide", "store_ids": ["x"]}, "store_ids.0"),
    ],
)
def test_invite_bad_input_changes_nothing(as_admin, brand, store, payload, field):
    err = api_error(as_admin.post("/api/v1/staff/", payload, content_type="application/json"), 400, "invalid")
    assert field in err["fields"], err
    assert _count(brand, Staff) == 1  # only the admin


def test_invite_with_another_brands_store_is_refused(as_admin, brand, other_store):
    err = api_error(
        as_admin.post(
            "/api/v1/staff/",
            {"name": "a", "phone": "13600001111", "role": "guide", "store_ids": [other_store.pk]},
            content_type="application/json",
        ),
        400,
    )
    assert "stores" in err["fields"]
    assert _count(brand, Staff) == 1


def test_invite_same_person_twice_is_refused(as_admin, brand, store):
    payload = {"name": "a", "phone": "13600001111", "role": "guide", "store_ids": [store.pk]}
    assert as_admin.post("/api/v1/staff/", payload, content_type="application/json").status_code == 201
    err = api_error(as_admin.post("/api/v1/staff/", payload, content_type="application/json"), 400)
    assert "phone" in err["fields"]
    assert _count(brand, Staff) == 2


def test_store_manager_invites_only_guides_into_own_store(client, brand, store_manager, store):
    login_as(client, store_manager)
    far = StoreFactory(brand=brand, code="FAR")
    ok = {"name": "a", "phone": "13600001111", "role": "guide", "store_ids": [store.pk]}
    assert client.post("/api/v1/staff/", ok, content_type="application/json").status_code == 201
    admin = {**ok, "phone": "13600002222", "role": "brand_admin"}
    api_error(client.post("/api/v1/staff/", admin, content_type="application/json"), 400)
    elsewhere = {**ok, "phone": "13600003333", "store_ids": [far.pk]}
    api_error(client.post("/api/v1/staff/", elsewhere, content_type="application/json"), 400)


def test_guide_cannot_invite(client, guide, store):
    login_as(client, guide)
    payload = {"name": "a", "phone": "13600001111", "role": "guide", "store_ids": [store.pk]}
    api_error(client.post("/api/v1/staff/", payload, content_type="application/json"), 403)


def test_update_and_deactivate_staff(as_admin, brand, guide, store):
    s2 = StoreFactory(brand=brand, code="S2")
    resp = as_admin.patch(
        f"/api/v1/staff/{guide.pk}/",
        {"role": "store_manager", "store_ids": [store.pk, s2.pk]},
        content_type="application/json",
    )
    assert resp.status_code == 200 and resp.json()["role"] == "store_manager"
    assert {s["code"] for s in resp.json()["stores"]} == {"SH001", "S2"}
    resp = as_admin.post(f"/api/v1/staff/{guide.pk}/deactivate/", {}, content_type="application/json")
    assert resp.json()["status"] == "left" and resp.json()["left_on"]
    with brand_scope(brand):
        actions = set(AuditLog.objects.filter(target_id=str(guide.pk)).values_list("action", flat=True))
    assert {"staff.updated", "staff.deactivated"} <= actions
    assert as_admin.post(f"/api/v1/staff/{guide.pk}/reactivate/").json()["status"] == "active"


def test_admin_cannot_deactivate_self(as_admin, brand_admin):
    api_error(as_admin.post(f"/api/v1/staff/{brand_admin.pk}/deactivate/"), 403)


def test_staff_actions_on_another_brand_are_404(as_admin, other_admin, other_brand):
    for method, url in [
        ("get", f"/api/v1/staff/{other_admin.pk}/"),
        ("patch", f"/api/v1/staff/{other_admin.pk}/"),
        ("post", f"/api/v1/staff/{other_admin.pk}/deactivate/"),
        ("post", f"/api/v1/staff/{other_admin.pk}/reactivate/"),
        ("post", f"/api/v1/staff/{other_admin.pk}/reinvite/"),
    ]:
        api_error(getattr(as_admin, method)(url, {"name": "x"}, content_type="application/json"), 404)
    with brand_scope(other_brand):
        assert Staff.objects.get(pk=other_admin.pk).status == Staff.Status.ACTIVE


def test_openapi_schema_and_docs(as_admin):
    resp = as_admin.get("/api/v1/schema/?format=json")
    assert resp.status_code == 200
    paths = resp.json()["paths"]
    assert "/api/v1/stores/" in paths and "/api/v1/staff/{id}/deactivate/" in paths
    assert as_admin.get("/api/v1/docs/").status_code == 200


def test_openapi_schema_is_valid_without_warnings(tmp_path):
    from django.core.management import call_command

    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/v1/staff/{id}/reinvite/" in out.read_text()


def test_audit_log_api_is_for_brand_admins_of_that_brand(
    client, brand, other_brand, brand_admin, guide, other_admin
):
    from retail import services
    from retail.events import Actor

    services.store_create(
        brand=brand,
        manager=brand_admin,
        actor=Actor(user=brand_admin.user),
        data={"code": "A1", "name": "a"},
    )
    services.store_create(
        brand=other_brand,
        manager=other_admin,
        actor=Actor.system(),
        data={"code": "B1", "name": "b"},
    )
    login_as(client, brand_admin)
    rows = client.get("/api/v1/audit-log/?action=store.").json()["results"]
    assert [(r["action"], r["target_repr"]) for r in rows] == [("store.created", "a (A1)")]
    login_as(client, guide)
    api_error(client.get("/api/v1/audit-log/"), 403)
