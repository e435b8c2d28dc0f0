"""The member panel beside the chat, and the guide's own notes."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext

from cloudstore.models import Order
from guides.messaging import conversations as svc
from guides.messaging import productivity, selectors
from guides.messaging.models import GuideNote
from members.models import MemberTag, Tag, Tier
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import MemberFactory, StaffFactory
from tests.helpers.auth import login_as

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(brand, guide, store):
    with brand_scope(brand):
        tier = Tier.objects.create(brand=brand, code="gold", name="金卡")
    m = MemberFactory(brand=brand, guide=guide)
    with brand_scope(brand):
        m.tier = tier
        m.points_balance = 1280
        m.save()
        tag = Tag.objects.create(brand=brand, name="高价值")
        MemberTag.objects.create(brand=brand, member=m, tag=tag)
        for i in range(7):
            Order.objects.create(
                brand=brand,
                number=f"N{i:04d}",
                channel="store",
                fulfilment="pickup",
                store=store,
                pickup_code=f"{i:06d}",
                member=m,
                subtotal_fen=10000 + i,
                total_fen=10000 + i,
                status="paid",
            )
    return m


@pytest.fixture
def conv(brand, member):
    return svc.conversation_for_member(brand=brand, member=member)


def test_panel_shows_tier_points_tags_last_five_orders_and_her_notes(brand, store, member, guide, conv):
    other = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])
    productivity.note_add(brand=brand, staff=guide, conversation_id=conv.pk, body="喜欢保湿")
    with brand_scope(brand):
        GuideNote.objects.create(brand=brand, staff=other, member=member, body="别人的笔记")
        with CaptureQueriesContext(connection) as ctx:
            panel = selectors.member_panel(brand=brand, staff=guide, member=member, conversation_id=conv.pk)
    assert panel["tier"] == "金卡" and panel["points"] == 1280 and panel["tags"] == ["高价值"]
    assert [o.number for o in panel["orders"]] == ["N0006", "N0005", "N0004", "N0003", "N0002"]
    assert [n.body for n in panel["notes"]] == ["喜欢保湿"]
    reads = [q for q in ctx.captured_queries if "FROM" in q["sql"].upper() and "set_config" not in q["sql"]]
    assert len(reads) <= 4
    html = render_to_string("guides/messaging/_member_panel.html", {"panel": panel})
    assert "喜欢保湿" in html and "别人的笔记" not in html and "N0006" in html and "高价值" in html


def test_only_her_guide_sees_the_panel(brand, store, member):
    other = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])
    with pytest.raises(PermissionDenied), brand_scope(brand):
        selectors.member_panel(brand=brand, staff=other, member=member)


def test_notes_add_and_delete_only_hers(brand, store, member, guide, conv):
    with pytest.raises(ValidationError):
        productivity.note_add(brand=brand, staff=guide, conversation_id=conv.pk, body="")
    with pytest.raises(ValidationError):
        productivity.note_add(brand=brand, staff=guide, conversation_id=conv.pk, body="x" * 501)
    note = productivity.note_add(brand=brand, staff=guide, conversation_id=conv.pk, body="周末来店")
    other = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])
    with pytest.raises(Http404):
        productivity.note_delete(brand=brand, staff=other, note_id=note.pk)
    with pytest.raises(PermissionDenied):
        productivity.note_add(brand=brand, staff=other, conversation_id=conv.pk, body="x")
    productivity.note_delete(brand=brand, staff=guide, note_id=note.pk)
    with brand_scope(brand):
        assert not GuideNote.objects.for_brand(brand).exists()


def test_note_endpoints(client, brand, member, guide, conv):
    login_as(client, guide)
    r = client.post(f"/m/messages/{conv.pk}/notes/", {"body": "生日12月"}, HTTP_ACCEPT="application/json")
    assert r.status_code == 200
    note_id = r.json()["note"]["id"]
    assert (
        client.post(f"/m/messages/{conv.pk}/notes/", {"body": ""}, HTTP_ACCEPT="application/json").status_code
        == 400
    )
    assert client.post(f"/m/messages/{conv.pk}/notes/{note_id}/delete/").status_code == 302
    assert client.post(f"/m/messages/{conv.pk}/notes/{note_id}/delete/").status_code == 404
