"""Mass message pages: the guide's 群发 on her phone and the brand's in the console; roles, the
count before sending, scheduling, cancelling, bad input, other guides' and brands' broadcasts."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from guides.messaging import broadcasts as svc
from guides.messaging.models import Broadcast, Message
from members.models import Tag, Tier
from retail.models import Staff
from retail.tenancy import brand_scope
from tests.factories import MemberFactory, StaffFactory
from tests.helpers.auth import login_as
from tests.helpers.tenancy import refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_guide(client, guide):
    return login_as(client, guide)


def later(hours=2):
    return (timezone.localtime() + datetime.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")


def test_the_guide_sees_the_count_sends_and_sees_the_stats(
    brand, guide, as_guide, django_capture_on_commit_callbacks
):
    for _ in range(3):
        MemberFactory(brand=brand, guide=guide, marketing_consent=True)
    MemberFactory(brand=brand, guide=guide, marketing_consent=False)
    page = as_guide.get("/m/messages/broadcasts/new/")
    assert page.status_code == 200
    assert b'data-testid="preview-count">3<' in page.content
    with django_capture_on_commit_callbacks(execute=True):
        resp = as_guide.post("/m/messages/broadcasts/new/", {"kind": "text", "body": "周末新品到店"})
    assert resp.status_code == 302
    with brand_scope(brand):
        b = Broadcast.objects.get()
    assert (b.guide_only, b.created_by_id) == (True, guide.pk)
    detail = as_guide.get(resp["Location"])
    assert detail.status_code == 200 and b'data-testid="stat-sent">3<' in detail.content
    listing = as_guide.get("/m/messages/broadcasts/")
    assert f'data-testid="broadcast-{b.pk}"'.encode() in listing.content


def test_the_guide_schedules_and_cancels(brand, guide, as_guide):
    MemberFactory(brand=brand, guide=guide, marketing_consent=True)
    resp = as_guide.post("/m/messages/broadcasts/new/", {"kind": "text", "body": "提醒", "send_at": later()})
    assert resp.status_code == 302
    with brand_scope(brand):
        b = Broadcast.objects.get()
    assert b.status == "scheduled"
    assert as_guide.post(f"/m/messages/broadcasts/{b.pk}/cancel/").status_code == 302
    assert refresh(b).status == "cancelled"


@pytest.mark.parametrize(
    "data",
    [
        {"kind": "text", "body": ""},
        {"kind": "text", "body": "x" * 1001},
        {"kind": "video", "body": "x"},
        {"kind": "product"},
        {"kind": "product", "product": "abc"},
        {"kind": "text", "body": "x", "send_at": "not a date"},
        {"kind": "text", "body": "x", "send_at": "2001-01-01T10:00"},
    ],
)
def test_bad_input_is_a_400_and_writes_nothing(brand, guide, as_guide, data):
    from urllib.parse import urlencode

    body = urlencode(data)
    url = "/m/messages/broadcasts/new/"
    assert as_guide.post(url, body, content_type="application/x-www-form-urlencoded").status_code == 400
    assert not Broadcast.objects.for_brand(brand).exists()


def test_control_characters_are_removed_at_the_boundary(brand, guide, as_guide):
    body = "kind=text&body=a%00b%1Bc&send_at=" + later().replace(":", "%3A")
    resp = as_guide.post(
        "/m/messages/broadcasts/new/", body, content_type="application/x-www-form-urlencoded"
    )
    assert resp.status_code == 302
    with brand_scope(brand):
        assert Broadcast.objects.get().body == "abc"


def test_others_broadcasts_are_404(brand, other_brand, store, guide, as_guide, brand_admin, other_admin):
    colleague = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[store])
    theirs = svc.broadcast_create(
        brand=brand,
        staff=colleague,
        actor=None,
        guide_only=True,
        body="x",
        send_at=timezone.now() + datetime.timedelta(hours=1),
    )
    brands = svc.broadcast_create(
        brand=brand,
        staff=brand_admin,
        actor=None,
        guide_only=False,
        body="x",
        send_at=timezone.now() + datetime.timedelta(hours=1),
    )
    foreign = svc.broadcast_create(
        brand=other_brand,
        staff=other_admin,
        actor=None,
        guide_only=False,
        body="x",
        send_at=timezone.now() + datetime.timedelta(hours=1),
    )
    for b in (theirs, brands, foreign):
        assert as_guide.get(f"/m/messages/broadcasts/{b.pk}/").status_code == 404
        assert as_guide.post(f"/m/messages/broadcasts/{b.pk}/cancel/").status_code == 404
    assert refresh(theirs).status == refresh(brands).status == "scheduled"
    admin = login_as(Client(), brand_admin)
    for b in (theirs, foreign):
        assert admin.get(f"/dashboard/messaging/broadcasts/{b.pk}/").status_code == 404
        assert admin.post(f"/dashboard/messaging/broadcasts/{b.pk}/cancel/").status_code == 404


def test_guides_cannot_use_the_console(as_guide):
    assert as_guide.get("/dashboard/messaging/broadcasts/").status_code == 403
    assert (
        as_guide.post("/dashboard/messaging/broadcasts/new/", {"kind": "text", "body": "x"}).status_code
        == 403
    )


def test_the_brand_counts_a_segment_then_schedules_and_cancels(brand, store, guide, as_admin):
    with brand_scope(brand):
        gold = Tier.objects.create(brand=brand, code="gold", name="金卡", min_spend_fen=1)
        Tag.objects.create(brand=brand, name="敏感肌")
    for _ in range(2):
        MemberFactory(brand=brand, guide=guide, tier=gold, marketing_consent=True)
    MemberFactory(brand=brand, guide=guide, marketing_consent=True)
    page = as_admin.get("/dashboard/messaging/broadcasts/new/")
    assert page.status_code == 200 and b'data-testid="preview-count">3<' in page.content
    counted = as_admin.post(
        "/dashboard/messaging/broadcasts/new/",
        {"action": "preview", "kind": "text", "body": "x", "tier": gold.pk},
    )
    assert counted.status_code == 200 and b'data-testid="preview-count">2<' in counted.content
    assert not Broadcast.objects.for_brand(brand).exists()
    resp = as_admin.post(
        "/dashboard/messaging/broadcasts/new/",
        {"action": "send", "kind": "text", "body": "金卡会员专享", "tier": gold.pk, "send_at": later()},
    )
    assert resp.status_code == 302
    with brand_scope(brand):
        b = Broadcast.objects.get()
    assert (b.segment, b.status, b.guide_only) == ({"tier": gold.pk}, "scheduled", False)
    detail = as_admin.get(resp["Location"])
    assert detail.status_code == 200 and "金卡".encode() in detail.content
    assert (
        f'data-testid="broadcast-{b.pk}"'.encode() in as_admin.get("/dashboard/messaging/broadcasts/").content
    )
    assert as_admin.post(f"/dashboard/messaging/broadcasts/{b.pk}/cancel/").status_code == 302
    assert refresh(b).status == "cancelled"
    assert (
        as_admin.post(f"/dashboard/messaging/broadcasts/{b.pk}/cancel/").status_code == 302
    )  # told, not 500
    with brand_scope(brand):
        assert not Message.objects.exists()


@pytest.mark.parametrize(
    "extra",
    [
        {"tier": "99999999"},
        {"store": "abc"},
        {"bought_within_days": "0"},
        {"not_bought_days": "99999"},
        {"tags": ["x"]},
    ],
)
def test_console_bad_segments_are_a_400(brand, as_admin, extra):
    resp = as_admin.post(
        "/dashboard/messaging/broadcasts/new/", {"action": "send", "kind": "text", "body": "x", **extra}
    )
    assert resp.status_code == 400
    assert not Broadcast.objects.for_brand(brand).exists()


def test_a_store_manager_sends_only_to_her_stores(
    brand, store, store_manager, guide, django_capture_on_commit_callbacks
):
    from tests.factories import StoreFactory

    elsewhere = StoreFactory(brand=brand, code="SZ009")
    far_guide = StaffFactory(brand=brand, role=Staff.Role.GUIDE, stores=[elsewhere])
    MemberFactory(brand=brand, guide=guide, marketing_consent=True)
    MemberFactory(brand=brand, guide=far_guide, marketing_consent=True)
    c = login_as(Client(), store_manager)
    assert (
        c.post(
            "/dashboard/messaging/broadcasts/new/",
            {"action": "send", "kind": "text", "body": "x", "store": elsewhere.pk},
        ).status_code
        == 400
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            c.post(
                "/dashboard/messaging/broadcasts/new/", {"action": "send", "kind": "text", "body": "x"}
            ).status_code
            == 302
        )
    with brand_scope(brand):
        b = Broadcast.objects.get()
    assert refresh(b).sent == 1
