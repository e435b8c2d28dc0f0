"""Canned replies (快捷回复): the brand's in the console, each guide's own on her phone."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from guides.messaging import productivity, selectors
from guides.messaging.models import CannedReply
from retail.events import Actor
from retail.models import AuditLog, Staff
from retail.tenancy import brand_scope
from tests.factories import StaffFactory
from tests.helpers.auth import login_as

pytestmark = pytest.mark.django_db


def add(brand, staff, title, mine):
    return productivity.canned_create(
        brand=brand, staff=staff, actor=Actor.system(), title=title, body=f"{title}的内容", mine=mine
    )


def test_selector_gives_the_brands_then_hers_and_never_another_guides(brand, store, brand_admin, guide):
    b = add(brand, brand_admin, "营业时间", mine=False)
    mine = add(brand, guide, "我的问候", mine=True)
    other = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])
    add(brand, other, "别人的", mine=True)
    with brand_scope(brand):
        rows = selectors.canned_replies(brand=brand, staff=guide)
    assert [(r.pk, r.mine) for r in rows] == [(b.pk, False), (mine.pk, True)]


def test_a_guide_cannot_write_the_brands_list_nor_touch_anothers(brand, store, guide, brand_admin):
    with pytest.raises(PermissionDenied):
        add(brand, guide, "x", mine=False)
    theirs = add(brand, brand_admin, "品牌", mine=False)
    with pytest.raises(Http404):
        productivity.canned_delete(brand=brand, staff=guide, actor=None, pk=theirs.pk, mine=True)
    with pytest.raises(Http404):
        productivity.canned_delete(brand=brand, staff=guide, actor=None, pk="abc", mine=True)


def test_bad_input_is_refused(brand, guide):
    for title, body in [("", "x"), ("x" * 41, "x"), ("t", ""), ("t", "y" * 1001), ("t", ["list"])]:
        with pytest.raises(ValidationError):
            productivity.canned_create(
                brand=brand, staff=guide, actor=None, title=title, body=body, mine=True
            )
    with brand_scope(brand):
        assert not CannedReply.objects.for_brand(brand).exists()


def test_brand_changes_are_audited_with_before_and_after(brand, brand_admin):
    row = add(brand, brand_admin, "退换货", mine=False)
    productivity.canned_update(
        brand=brand,
        staff=brand_admin,
        actor=Actor.system(),
        pk=row.pk,
        title="退换",
        body="7天无理由",
        mine=False,
    )
    with brand_scope(brand):
        entry = AuditLog.unscoped.get(brand=brand, action="messaging.canned_updated")
    assert entry.data["before"]["title"] == "退换货" and entry.data["after"]["body"] == "7天无理由"


def test_console_crud(client, brand, brand_admin, guide):
    login_as(client, brand_admin)
    r = client.post("/dashboard/messaging/canned/", {"title": "欢迎", "body": "欢迎光临"})
    assert r.status_code == 302
    with brand_scope(brand):
        row = CannedReply.objects.for_brand(brand).get()
    assert row.staff_id is None
    r = client.post("/dashboard/messaging/canned/", {"title": "", "body": "x"})
    assert r.status_code == 400
    assert (
        client.post(f"/dashboard/messaging/canned/{row.pk}/", {"title": "欢迎2", "body": "您好"}).status_code
        == 302
    )
    page = client.get("/dashboard/messaging/canned/")
    assert "欢迎2" in page.content.decode()
    assert client.post(f"/dashboard/messaging/canned/{row.pk}/delete/").status_code == 302
    assert client.post("/dashboard/messaging/canned/999999/delete/").status_code == 404
    login_as(client, guide)
    assert client.get("/dashboard/messaging/canned/").status_code == 403


def test_guide_settings_page(client, brand, guide):
    login_as(client, guide)
    page = client.get("/m/messages/settings/")
    assert page.status_code == 200 and 'data-testid="busy-on"' in page.content.decode()
    assert client.post("/m/messages/settings/canned/", {"title": "早安", "body": "早上好"}).status_code == 302
    assert client.post("/m/messages/settings/canned/", {"title": "", "body": ""}).status_code == 400
    assert client.post("/m/messages/settings/busy/", {"busy": "1"}).status_code == 302
    page = client.get("/m/messages/settings/")
    assert 'data-testid="busy-off"' in page.content.decode() and "早安" in page.content.decode()
    assert client.post("/m/messages/settings/busy/", {"busy": "maybe"}).status_code == 302
    r = client.post("/m/messages/settings/auto-reply/", {"auto_reply_text": "忙碌中"})
    assert r.status_code == 302
    assert client.post("/m/messages/settings/auto-reply/", {"auto_reply_text": "x" * 301}).status_code == 400
    own = productivity.guide_settings_get(brand=brand, staff=guide)
    assert own.auto_reply_text == "忙碌中" and own.busy_since is not None
    with brand_scope(brand):
        row = CannedReply.objects.for_brand(brand).get(staff=guide)
    assert client.post(f"/m/messages/settings/canned/{row.pk}/delete/").status_code == 302
    with brand_scope(brand):
        assert not CannedReply.objects.for_brand(brand).exists()
