"""Idempotency-Key on every creating POST of the API (BrandAPIView's generic record): a retry with
the same key and body answers the first answer again without doing it twice, another body with
the key is a 409, a server error is not kept, answers are kept 24 hours, and the keys of two
callers never meet. Twins racing on PostgreSQL: one runs, the other replays."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.response import Response

from cloudstore.models import Campaign, Coupon, Product
from guides.models import CommissionRule
from members.models import Member
from retail import idempotency
from retail.api import StoreListView
from retail.models import ApiIdempotencyRecord, AuditLog, Staff, Store
from retail.tenancy import brand_scope
from tests.factories import CampaignFactory, MemberFactory, StaffFactory
from tests.helpers.api import api_error, send_json
from tests.helpers.auth import login_as
from tests.helpers.concurrency import race


def _count(brand, model) -> int:
    with brand_scope(brand):
        return model.objects.for_brand(brand).count()


def _records(brand) -> list[ApiIdempotencyRecord]:
    with brand_scope(brand):
        return list(ApiIdempotencyRecord.objects.for_brand(brand).order_by("pk"))


def _campaign_body(name="会员日"):
    return {
        "name": name,
        "kind": "amount_off",
        "amount_off_fen": 1000,
        "threshold_fen": 5000,
        "starts_at": "2026-01-01T00:00:00Z",
        "ends_at": "2030-01-01T00:00:00Z",
    }


# Creating POSTs of four apps: (url, body, another body, the model a POST creates a row of).
CREATING_POSTS = {
    "stores": (
        "/api/v1/stores/",
        lambda brand: {"code": "GZ001", "name": "广州天河店"},
        lambda brand: {"code": "GZ002", "name": "广州天河店"},
        Store,
    ),
    "members": (
        "/api/v1/members/",
        lambda brand: {"identities": [{"kind": "phone", "value": "13712345678"}], "name": "李雷"},
        lambda brand: {"identities": [{"kind": "phone", "value": "13712345679"}], "name": "李雷"},
        Member,
    ),
    "products": (
        "/api/v1/products/",
        lambda brand: {"name": "玻尿酸精华", "description": "补水"},
        lambda brand: {"name": "玻尿酸精华", "description": "保湿"},
        Product,
    ),
    "campaigns": (
        "/api/v1/campaigns/",
        lambda brand: _campaign_body(),
        lambda brand: _campaign_body("店庆"),
        Campaign,
    ),
    "commission-rules": (
        "/api/v1/commission/rules/",
        lambda brand: {"name": "全场 5%", "kind": "percent", "rate_bp": 500},
        lambda brand: {"name": "全场 6%", "kind": "percent", "rate_bp": 600},
        CommissionRule,
    ),
    "coupons-issue": ("/api/v1/coupons/", None, None, Coupon),
}


def _bodies(name, brand):
    url, body, other, model = CREATING_POSTS[name]
    if name == "coupons-issue":  # a campaign that lets a member hold several coupons
        campaign = CampaignFactory(brand=brand, per_member_limit=5)
        one, two = MemberFactory(brand=brand), MemberFactory(brand=brand)
        return (
            url,
            {"campaign_id": campaign.pk, "member_id": one.pk},
            {
                "campaign_id": campaign.pk,
                "member_id": two.pk,
            },
            model,
        )
    return url, body(brand), other(brand), model


@pytest.mark.parametrize("name", list(CREATING_POSTS))
def test_a_retry_with_the_key_answers_the_first_answer_and_writes_nothing(as_admin, brand, brand_admin, name):
    url, body, _other, model = _bodies(name, brand)
    before = _count(brand, model)
    first = send_json(as_admin, url, body, key="create-1")
    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first
    audits = _count(brand, AuditLog)
    again = send_json(as_admin, url, body, key="create-1")
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert _count(brand, model) == before + 1
    assert _count(brand, AuditLog) == audits  # nothing was done a second time
    (record,) = _records(brand)
    assert (record.principal, record.key, record.method, record.status_code) == (
        f"staff:{brand_admin.pk}",
        "create-1",
        "POST",
        201,
    )


@pytest.mark.parametrize("name", ["stores", "products", "coupons-issue"])
def test_the_key_with_another_body_is_a_409_and_writes_nothing(as_admin, brand, name):
    url, body, other, model = _bodies(name, brand)
    assert send_json(as_admin, url, body, key="k-1").status_code == 201
    api_error(send_json(as_admin, url, other, key="k-1"), 409, "idempotency_conflict")
    assert _count(brand, model) == 1
    # The same body on another path is another request too.
    api_error(send_json(as_admin, "/api/v1/campaigns/", body, key="k-1"), 409, "idempotency_conflict")


def test_the_body_is_compared_as_json_not_as_text(as_admin, brand):
    first = send_json(as_admin, "/api/v1/products/", '{"name": "面霜", "description": "滋润"}', key="k")
    again = send_json(as_admin, "/api/v1/products/", '{"description":"滋润","name":"面霜"}', key="k")
    assert first.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert _count(brand, Product) == 1


def test_without_a_key_nothing_is_kept(as_admin, brand):
    assert send_json(as_admin, "/api/v1/products/", {"name": "面霜"}).status_code == 201
    assert send_json(as_admin, "/api/v1/products/", {"name": "面霜"}).status_code == 201
    assert _count(brand, Product) == 2 and _records(brand) == []


def test_a_client_error_is_kept_and_answered_again(as_admin, brand):
    bad = {"name": "x" * 500}
    first = api_error(send_json(as_admin, "/api/v1/products/", bad, key="bad"), 400, "invalid")
    again = send_json(as_admin, "/api/v1/products/", bad, key="bad")
    assert again.status_code == 400 and again["Idempotent-Replayed"] == "true"
    assert again.json()["error"] == first


def test_a_server_error_is_not_kept_so_a_retry_runs(as_admin, brand, monkeypatch):
    body = {"code": "GZ001", "name": "广州天河店"}
    real = StoreListView.post
    monkeypatch.setattr(StoreListView, "post", lambda self, request: Response({"x": 1}, status=503))
    assert send_json(as_admin, "/api/v1/stores/", body, key="k").status_code == 503
    assert _records(brand) == []

    def crash(self, request):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(StoreListView, "post", crash)
    with pytest.raises(RuntimeError):
        send_json(as_admin, "/api/v1/stores/", body, key="k")
    assert _records(brand) == []
    monkeypatch.setattr(StoreListView, "post", real)
    retry = send_json(as_admin, "/api/v1/stores/", body, key="k")
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry
    assert _count(brand, Store) == 1


def test_answers_are_kept_24_hours_then_purged(as_admin, brand, other_brand, other_admin):
    assert send_json(as_admin, "/api/v1/products/", {"name": "面霜"}, key="day").status_code == 201
    assert send_json(as_admin, "/api/v1/products/", {"name": "精华"}, key="fresh").status_code == 201
    with brand_scope(brand):
        ApiIdempotencyRecord.objects.for_brand(brand).filter(key="day").update(
            created_at=timezone.now() - datetime.timedelta(hours=idempotency.RECORD_HOURS, minutes=1)
        )
    # Older than 24 hours: the key is free again (another body is no conflict, the request runs).
    again = send_json(as_admin, "/api/v1/products/", {"name": "眼霜"}, key="day")
    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert _count(brand, Product) == 3

    with brand_scope(brand):
        ApiIdempotencyRecord.objects.for_brand(brand).filter(key="fresh").update(
            created_at=timezone.now() - datetime.timedelta(hours=25)
        )
    theirs = login_as(Client(), other_admin)
    assert send_json(theirs, "/api/v1/products/", {"name": "面霜"}, key="old").status_code == 201
    with brand_scope(other_brand):
        ApiIdempotencyRecord.objects.for_brand(other_brand).update(
            created_at=timezone.now() - datetime.timedelta(days=2)
        )
    from retail.tasks import purge_idempotency

    purge_idempotency.delay()
    assert [r.key for r in _records(brand)] == ["day"]
    assert _records(other_brand) == []


def test_keys_of_two_callers_never_meet(as_admin, brand, other_brand, other_admin):
    colleague = login_as(Client(), StaffFactory(brand=brand, role=Staff.Role.BRAND_ADMIN))
    theirs = login_as(Client(), other_admin)
    body = {"name": "面霜"}
    for caller in (as_admin, colleague, theirs):
        resp = send_json(caller, "/api/v1/products/", body, key="same-key")
        assert resp.status_code == 201 and "Idempotent-Replayed" not in resp
    assert _count(brand, Product) == 2 and _count(other_brand, Product) == 1
    assert len({r.principal for r in _records(brand)}) == 2


def test_a_key_too_long_or_not_printable_is_refused(as_admin, brand):
    for key in ("k" * 101, "tab\there"):
        err = api_error(send_json(as_admin, "/api/v1/products/", {"name": "面霜"}, key=key), 400, "invalid")
        assert list(err["fields"]) == ["Idempotency-Key"]
    assert _count(brand, Product) == 0


def test_views_that_read_the_key_themselves_keep_their_own_answers(client, brand, store_manager):
    member = MemberFactory(brand=brand)
    login_as(client, store_manager)
    url = f"/api/v1/members/{member.pk}/points/earn/"
    first = send_json(client, url, {"points": 10}, key="earn-1")
    again = send_json(client, url, {"points": 10}, key="earn-1")
    assert first.status_code == 201 and again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert _records(brand) == []


def test_every_post_documents_the_key_and_its_409():
    schema = SchemaGenerator(api_version="v1").get_schema(request=None, public=True)
    posts = [
        (path, item["post"])
        for path, item in schema["paths"].items()
        # The credential exchanges are not brand API calls and create nothing a retry could
        # duplicate: the token endpoint, and a device's pairing (a code pairs once) and ticket.
        if "post" in item
        and not path.startswith(("/api/v1/oauth/", "/api/v1/devices/pair/", "/api/v1/devices/ticket/"))
    ]
    assert len(posts) > 30
    for path, op in posts:
        params = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "header"}
        assert "Idempotency-Key" in params, path
        assert "409" in op["responses"], path


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twins_racing_run_once_and_the_other_replays(brand, brand_admin):
    session = login_as(Client(), brand_admin).cookies

    def post(i):
        client = Client()
        client.cookies = session
        resp = send_json(client, "/api/v1/products/", {"name": "面霜"}, key="twin")
        return resp.status_code, resp.get("Idempotent-Replayed"), resp.json()

    results, errors = race(6, post)
    assert errors == []
    assert {status for status, _, _ in results} == {201}
    assert sorted(str(replayed) for _, replayed, _ in results) == ["None"] + ["true"] * 5
    assert len({body["id"] for _, _, body in results}) == 1
    assert _count(brand, Product) == 1
