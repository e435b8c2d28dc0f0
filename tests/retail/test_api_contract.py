"""The API's contract, decided once for every endpoint: the schema documents the error shape and
statuses, lists and nullable fields as answered; dates are bounded and times are UTC; errors name
nested fields by path, in the request's language; unknown /api/ paths answer the error shape;
the docs work offline; the demo runs without Django's technical pages."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers

from retail.api_fields import unbounded_fields
from tests.factories import InventoryFactory, ProductFactory, SkuFactory
from tests.helpers.auth import login_as

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator(api_version="v1").get_schema(request=None, public=True)


def _json(client, url, body, **headers):
    return client.post(url, body, content_type="application/json", **headers)


# --- the schema -----------------------------------------------------------------------------------


def test_every_operation_documents_its_errors(schema):
    error = {"$ref": "#/components/schemas/Error"}
    assert schema["components"]["schemas"]["Error"]["properties"]["error"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    for path, item in schema["paths"].items():
        for method, op in item.items():
            responses = op["responses"]
            for code in ("403", "429"):
                assert responses[code]["content"]["application/json"]["schema"] == error, (method, path)
            if method in ("post", "put", "patch", "delete") or "{" in path:
                assert "400" in responses or "{" in path, (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            if "requestBody" in op:
                assert {"400", "413"} <= set(responses), (method, path)
            names = {p["name"] for p in op.get("parameters", [])}
            if "Idempotency-Key" in names:
                assert "409" in responses, (method, path)


@pytest.mark.parametrize(
    "path",
    ["/api/v1/commission/periods/", "/api/v1/commission/statements/", "/api/v1/inventory/"],
)
def test_paginated_lists_are_documented_as_pages(schema, path):
    ref = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"count", "next", "previous", "results"} <= set(page["properties"])


def test_a_post_answering_a_list_is_documented_as_a_list(schema):
    body = schema["paths"]["/api/v1/members/{id}/tags/"]["post"]["responses"]["200"]
    assert body["content"]["application/json"]["schema"]["type"] == "array"


@pytest.mark.parametrize(
    "component, field",
    [("Packet", "store_id"), ("Packet", "sender"), ("Entry", "order_number"), ("PacketDetail", "store_id")],
)
def test_nullable_fields_are_declared_nullable(schema, component, field):
    assert schema["components"]["schemas"][component]["properties"][field].get("nullable") is True


def test_every_date_time_and_id_input_is_bounded(monkeypatch):
    import retail.schema

    found = []
    monkeypatch.setattr(retail.schema, "warn", found.append)
    SchemaGenerator(api_version="v1").get_schema(request=None, public=True)
    assert found == []


def test_the_input_check_finds_unbounded_fields():
    from retail import api_fields

    class Body(serializers.Serializer):
        day = serializers.DateField()
        moment = serializers.DateTimeField()
        some_id = serializers.IntegerField(min_value=1)
        ids = serializers.ListField(child=serializers.IntegerField())
        ok_day = api_fields.DateField()
        ok_moment = api_fields.DateTimeField()
        ok_id = api_fields.IdField()
        out = serializers.IntegerField(read_only=True)

    found = {name.rsplit(".", 1)[1] if ".*" not in name else "ids" for name in unbounded_fields([Body])}
    assert found == {"day", "moment", "some_id", "ids"}


def test_the_answer_check_finds_times_in_local_time():
    from retail import api_fields
    from retail.api_fields import local_time_fields

    class Answer(serializers.Serializer):
        local = serializers.DateTimeField(read_only=True)
        utc = api_fields.DateTimeField(read_only=True)

    class Page(serializers.Serializer):
        rows = Answer(many=True)

    def names(found):
        return [n.rsplit("<locals>.", 1)[1] for n in found]

    assert names(local_time_fields([Answer])) == ["Answer.local"]
    assert names(local_time_fields([Page(), Answer(many=True)])) == ["Page.rows.*.local", "Answer.local"]


def test_model_serializers_get_the_api_fields():
    from cloudstore.api.promotions import CampaignSerializer
    from retail import api_fields

    fields = CampaignSerializer().fields
    assert isinstance(fields["starts_at"], api_fields.DateTimeField)


# --- dates and times ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0279-05-01", "1999-12-31", "2101-01-01"])
def test_dates_out_of_range_are_refused(as_admin, brand_admin, value):
    resp = as_admin.get(f"/api/v1/members/?joined_from={value}")
    assert resp.status_code == 400
    assert set(resp.json()["error"]["fields"]) == {"joined_from"}


@pytest.mark.parametrize("value", ["0279-05-01T10:00:00+08:00", "2101-01-01T00:00:00Z"])
def test_datetimes_out_of_range_are_refused(as_admin, value):
    body = {
        "name": "x",
        "kind": "amount_off",
        "amount_off_fen": 100,
        "starts_at": value,
        "ends_at": "2030-01-01T00:00:00Z",
    }
    resp = _json(as_admin, "/api/v1/campaigns/", body)
    assert resp.status_code == 400, resp.content
    assert set(resp.json()["error"]["fields"]) == {"starts_at"}


def test_birthdays_before_2000_are_fine(as_admin, brand):
    from tests.factories import MemberFactory

    member = MemberFactory(brand=brand)
    resp = as_admin.patch(
        f"/api/v1/members/{member.pk}/", {"birthday": "1968-04-02"}, content_type="application/json"
    )
    assert resp.status_code == 200, resp.content
    assert resp.json()["birthday"] == "1968-04-02"


def test_every_time_of_an_order_and_its_refund_is_utc(client, brand, store, store_manager):
    login_as(client, store_manager)
    sku = SkuFactory(brand=brand, product=ProductFactory(brand=brand), code="HA-50", list_price_fen=100)
    InventoryFactory(brand=brand, store=store, sku=sku, on_hand=5)
    body = {
        "channel": "pos",
        "external_id": "P-1",
        "store": store.code,
        "lines": [{"sku": "HA-50", "quantity": 1, "unit_price_fen": 100}],
        "payments": [{"method": "card", "amount_fen": 100}],
        "status": "completed",
        "occurred_at": "2026-05-01T10:00:00+08:00",
    }
    order = _json(client, "/api/v1/orders/", body).json()
    resp = _json(
        client,
        f"/api/v1/orders/{order['id']}/refunds/",
        {"amount_fen": 50, "reason": "x"},
        HTTP_IDEMPOTENCY_KEY="r1",
    )
    assert resp.status_code == 201, resp.content
    data = resp.json()
    times = [v for k, v in data.items() if k.endswith("_at") and v] + [
        r["created_at"] for r in data["refunds"]
    ]
    assert len(times) >= 3 and all(t.endswith("Z") for t in times), times
    assert data["paid_at"] == "2026-05-01T02:00:00Z"


def test_times_recorded_in_free_form_json_are_answered_in_utc():
    from retail.api import AuditLogSerializer

    field = AuditLogSerializer().fields["data"]
    recorded = {"start": "2026-09-22T21:52:03+08:00", "runs": [{"at": "2026-09-22T13:52:03.5+00:00"}]}
    assert field.to_representation(recorded) == {
        "start": "2026-09-22T13:52:03Z",
        "runs": [{"at": "2026-09-22T13:52:03.500000Z"}],
    }
    assert field.to_representation({"day": "2026-09-22", "note": "2026-09-22T?"}) == {
        "day": "2026-09-22",
        "note": "2026-09-22T?",
    }


# --- errors ---------------------------------------------------------------------------------------


def test_nested_errors_are_readable_with_dotted_paths(client, store, store_manager):
    login_as(client, store_manager)
    base = {"channel": "pos", "external_id": "P-1", "store": store.code, "status": "completed"}
    empty = _json(client, "/api/v1/orders/", {**base, "lines": []}, HTTP_ACCEPT_LANGUAGE="en").json()
    assert empty["error"]["code"] == "invalid"
    assert list(empty["error"]["fields"]) == ["lines"]
    assert "ErrorDetail" not in str(empty) and "non_field_errors" not in str(empty)
    bad = _json(
        client,
        "/api/v1/orders/",
        {**base, "lines": [{"sku": "A", "quantity": 1, "unit_price_fen": 1}, {"sku": "", "quantity": 0}]},
        HTTP_ACCEPT_LANGUAGE="en",
    ).json()["error"]["fields"]
    assert set(bad) == {"lines.1.sku", "lines.1.quantity", "lines.1.unit_price_fen"}
    assert all(isinstance(m, str) and "ErrorDetail" not in m for ms in bad.values() for m in ms)


def test_answers_are_in_chinese_by_default(as_admin):
    resp = as_admin.get("/api/v1/members/?joined_from=nope")
    assert resp.json()["error"]["message"] == "无效的输入。"
    missing_key = _json(as_admin, "/api/v1/members/1/points/earn/", {"points": 1})
    assert missing_key.json()["error"]["fields"]["Idempotency-Key"] == ["此请求头为必填项。"]


def test_accept_language_is_honoured_by_the_api(as_admin):
    resp = as_admin.get("/api/v1/members/?joined_from=nope", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert resp.json()["error"]["message"] == "Invalid input."
    resp = as_admin.get("/api/v1/members/?joined_from=nope", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert resp.json()["error"]["message"] == "无效的输入。"


def test_the_language_cookie_counts_when_accept_language_names_none_we_speak(as_admin):
    as_admin.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    resp = as_admin.get("/api/v1/members/?joined_from=nope", HTTP_ACCEPT_LANGUAGE="fr")
    assert resp.json()["error"]["message"] == "Invalid input."


def test_pages_still_ignore_accept_language(client):
    resp = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert resp.headers["Content-Language"] == "zh-hans"


def test_no_brand_is_answered_in_the_requests_language(client, brand_admin):
    client.force_login(brand_admin.user, backend="retail.auth_backends.PhoneOrUsernameBackend")
    zh = client.get("/api/v1/me/").json()["error"]
    en = client.get("/api/v1/me/", HTTP_ACCEPT_LANGUAGE="en").json()["error"]
    assert zh["code"] == en["code"] == "no_brand"
    assert en["message"] == "Choose the brand you act for first."
    assert zh["message"] != en["message"]


@pytest.mark.parametrize("path", ["/api/v1/nothing-here/", "/api/v1/stores/1/nothing/", "/api/v2/"])
def test_unknown_api_paths_answer_the_error_shape(client, path):
    resp = client.get(path)
    assert resp.status_code == 404
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.json()["error"]["code"] == "not_found"


def test_a_method_not_allowed_answers_the_error_shape(as_admin):
    resp = as_admin.delete("/api/v1/me/")
    assert resp.status_code == 405
    assert resp.json()["error"]["code"] == "method_not_allowed"


# --- docs and the demo ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_api_docs_load_their_assets_locally(client, path):
    resp = client.get(path)
    assert resp.status_code == 200
    page = resp.content.decode()
    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page
    assert "/static/drf_spectacular_sidecar/" in page


@pytest.mark.parametrize(
    "asset",
    [
        "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js",
        "css/app.css",
    ],
)
def test_static_files_are_served_without_debug(client, asset):
    assert settings.DEBUG is False
    resp = client.get(f"{settings.STATIC_URL}{asset}")
    assert resp.status_code == 200
    assert b"".join(resp.streaming_content if resp.streaming else [resp.content])


def test_the_development_default_is_not_debug():
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "DJANGO_ENV")}
    env["DJANGO_SETTINGS_MODULE"] = "retail.settings"
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings as s; "
            "print(s.DEBUG, s.WHITENOISE_USE_FINDERS, s.SERVE_MEDIA)",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
    )
    assert out.stdout.split() == ["False", "True", "True"]


def test_the_schema_file_validates():
    out = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn"],
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
    )
    assert out.returncode == 0, out.stderr
    assert "Error" in yaml.safe_load(out.stdout)["components"]["schemas"]
