"""Names and other text that people see carry no control or bidi characters, however they come in.

Every entity with a visible name is created through the API and through its HTML form with an
ESC sequence, a \\x01 and a RIGHT-TO-LEFT OVERRIDE in the name; afterwards no text column of any
brand-owned row holds one (and the cleaned name was stored).
"""

from __future__ import annotations

import re

import pytest
from django.db import models

from retail.models import User
from retail.tenancy import brand_owned_models, rls_bypass
from retail.text import clean_data, clean_text, has_unwanted
from tests.helpers.auth import login_as
from tests.helpers.packets import top_up
from tests.retail.test_bad_input import _Forms

pytestmark = pytest.mark.django_db

DIRTY = "林\x1b[31m雅\x01\u202eabc\u2066\u200f"
CLEAN = "林[31m雅abc"


def test_clean_text():
    assert clean_text(DIRTY) == CLEAN
    assert clean_text("a\tb\nc\r\n") == "a\tb\nc\r\n"
    assert clean_text("a\tb\nc", multiline=False) == "a b c"
    assert clean_text("\x00\x7f\x85\u061c\u200e\u202a\u202b\u202c\u202d\u2067\u2068\u2069") == ""
    assert clean_text("表情😀 and café") == "表情😀 and café"
    assert clean_data({"name\x01": [DIRTY, {"x": DIRTY}], "password": "p\x01w", "n": 5}) == {
        "name": [CLEAN, {"x": CLEAN}],
        "password": "p\x01w",
        "n": 5,
    }


def _dirty_rows() -> list[str]:
    """Every text value of every brand-owned row (and user) that holds a control or bidi char."""
    found = []
    with rls_bypass(reason="test scan"):
        for model in [*brand_owned_models(), User]:
            manager = getattr(model, "unscoped", model._default_manager)
            fields = [
                f.name
                for f in model._meta.concrete_fields
                if isinstance(f, (models.CharField, models.TextField))
            ]
            for row in manager.values("pk", *fields):
                for name in fields:
                    if isinstance(row[name], str) and has_unwanted(row[name]):
                        found.append(f"{model.__name__}#{row['pk']}.{name}={row[name]!r}")
    return found


def _stored(text: str) -> bool:
    with rls_bypass(reason="test scan"):
        for model in [*brand_owned_models(), User]:
            manager = getattr(model, "unscoped", model._default_manager)
            for f in model._meta.concrete_fields:
                is_text = isinstance(f, (models.CharField, models.TextField))
                if is_text and manager.filter(**{f"{f.name}__contains": text}).exists():
                    return True
    return False


@pytest.fixture
def admin_client(client, brand_admin):
    return login_as(client, brand_admin)


API_CASES = {
    "store": ("post", "/api/v1/stores/", lambda w: {"code": "D01", "name": DIRTY, "address": DIRTY}),
    "staff": (
        "post",
        "/api/v1/staff/",
        lambda w: {"name": DIRTY, "phone": "13800001111", "role": "guide", "store_ids": [w["store"].pk]},
    ),
    "staff rename": ("patch", "/api/v1/staff/{guide}/", lambda w: {"name": DIRTY}),
    "member": (
        "post",
        "/api/v1/members/",
        lambda w: {"identities": [{"kind": "phone", "value": "13900001111"}], "name": DIRTY},
    ),
    "member rename": ("patch", "/api/v1/members/{member}/", lambda w: {"name": DIRTY}),
    "product": ("post", "/api/v1/products/", lambda w: {"name": DIRTY, "description": DIRTY}),
    "commission rule": ("post", "/api/v1/commission/rules/", lambda w: {"name": DIRTY, "rate_bp": 100}),
    "red packet greeting": (
        "post",
        "/api/v1/redpackets/packets/",
        lambda w: {
            "kind": "fixed",
            "audience": "store",
            "store_id": w["store"].pk,
            "amount_each_fen": 100,
            "greeting": DIRTY,
        },
    ),
}


@pytest.fixture
def world(brand, store, brand_admin, guide):
    from tests.factories import MemberFactory

    top_up(brand, brand_admin, 100_000)
    member = MemberFactory(brand=brand, name="会员", phone="13700001234")
    return {"store": store, "guide": guide, "member": member}


@pytest.mark.parametrize("case", sorted(API_CASES))
def test_api_stores_names_without_control_characters(admin_client, world, case):
    method, url, body = API_CASES[case]
    url = url.format(guide=world["guide"].pk, member=world["member"].pk)
    resp = getattr(admin_client, method)(
        url, body(world), content_type="application/json", headers={"Idempotency-Key": f"k-{case}"}
    )
    assert resp.status_code == (201 if method == "post" else 200), resp.content[:300]
    assert _dirty_rows() == []
    assert _stored(CLEAN)


FORM_PAGES = {
    "store": "/dashboard/stores/new/",
    "staff": "/dashboard/staff/new/",
    "staff rename": "/dashboard/staff/{guide}/",
    "member points note": "/dashboard/members/{member}/",
    "tag": "/dashboard/membership/tags/new/",
    "tier": "/dashboard/membership/tiers/new/",
    "product": "/dashboard/catalogue/new/",
    "category": "/dashboard/catalogue/categories/",
    "campaign": "/dashboard/campaigns/new/",
    "red packet greeting": "/dashboard/redpackets/send/",
    "commission rule": "/dashboard/commission/rules/new/",
}
# Free-text fields that a form shows to other people; the rest get plausible values.
NAME_FIELDS = {"name", "greeting", "description", "address", "note", "nickname", "display_name", "label"}
AMOUNT_FORMS = {"campaign", "commission rule", "red packet greeting"}
OVERRIDES = {
    "store": {"code": "D02", "phone": "02112345678"},
    "staff": {"phone": "13800002222"},
    "tier": {"code": "DT", "min_spend_fen": "123", "min_spend": "1.23"},
    "campaign": {"max_discount": "", "threshold": ""},
    "commission rule": {"fixed": "", "cap": "", "sku_code": "", "effective_to": ""},
    "red packet greeting": {"total": ""},
    "member points note": {"points": "10"},
}


@pytest.mark.parametrize("case", sorted(FORM_PAGES))
def test_html_forms_store_names_without_control_characters(admin_client, world, case):
    url = FORM_PAGES[case].format(guide=world["guide"].pk, member=world["member"].pk)
    page = admin_client.get(url)
    assert page.status_code == 200
    parser = _Forms()
    parser.feed(page.content.decode())
    form = next(f for f in parser.forms if f["post"] and NAME_FIELDS & set(f["fields"]))
    data = {name: value for name, (kind, value) in form["fields"].items() if kind != "file"}
    for name, (kind, _value) in form["fields"].items():
        if name in NAME_FIELDS:
            data[name] = DIRTY
        elif kind == "text" and case in AMOUNT_FORMS:  # its text inputs are amounts
            data[name] = "1"
    data.update({k: v for k, v in OVERRIDES.get(case, {}).items() if k in data})
    resp = admin_client.post(form["action"] or url, data)
    assert resp.status_code == 302, (data, re.findall(r"err[^>]*>([^<]{2,})<", resp.content.decode()))
    assert _dirty_rows() == []
    assert _stored(CLEAN), (
        f"the form did not save: {resp.content.decode()[:2000] if resp.status_code == 200 else ''}"
    )


def test_password_fields_reach_the_code_unchanged(client, brand_admin):
    """Passwords are compared byte for byte: the form cleaning leaves them alone."""
    user = brand_admin.user
    user.set_password("pa\x01ss-Word-9")
    user.save()
    resp = client.post("/login/", {"username": user.username, "password": "pa\x01ss-Word-9"})
    assert resp.status_code == 302
    assert "_auth_user_id" in client.session


def test_query_values_are_cleaned(admin_client, world):
    resp = admin_client.get("/api/v1/members/", {"q": "会员\u202e\x1b"})
    assert resp.status_code == 200
    assert resp.wsgi_request.GET["q"] == "会员"


def test_member_csv_import_stores_clean_names_and_tags(
    brand, brand_admin, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from members import jobs
    from retail.events import Actor

    body = f"phone,name,tags\n13600001234,{DIRTY},VIP{DIRTY}\n".encode()
    upload = SimpleUploadedFile("members.csv", body, content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.import_start(
            brand=brand, manager=brand_admin, actor=Actor(user=brand_admin.user), upload=upload
        )
    assert job.pk
    assert _dirty_rows() == []
    assert _stored(CLEAN) and _stored(f"VIP{CLEAN}")
